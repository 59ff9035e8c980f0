// Under a paged list: "Load more", or why the next page did not load.
import { messageOf } from "../../ui";
import type { Pages } from "./usePages";

/** Under a list: the button that appends its next page, while there is one. */
export function LoadMore<T>({ pages, what }: { pages: Pages<T>; what: string }) {
  if (!pages.loaded.data?.next_cursor && !pages.error) return null;
  return (
    <nav className="pager" aria-label={`More ${what}`}>
      {pages.error ? (
        <span className="inline-error" role="alert">
          {messageOf(pages.error)}
        </span>
      ) : null}
      {pages.loaded.data?.next_cursor ? (
        <button type="button" aria-label={`Load more ${what}`} aria-busy={pages.busy} onClick={() => void pages.loadMore()}>
          Load more
        </button>
      ) : null}
    </nav>
  );
}
