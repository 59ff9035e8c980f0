// A keyset-paged list of the admin page: the pages shown so far, as one page, and the next one
// appended on demand.
import { useRef, useState } from "react";
import { query } from "../../api";
import { useSession } from "../../session";
import type { Page } from "../../types";
import { useLoad } from "../../ui";
import type { Loaded } from "../../ui";

const PAGE_SIZE = 50;

export interface Pages<T> {
  loaded: Loaded<Page<T>>;
  loadMore: () => Promise<void>;
  busy: boolean;
  error: unknown;
}

/** The pages of `path` shown so far, as one page. `reload` fetches as many pages again as are
 * shown, so a change made on a later page stays in view. */
export function usePages<T>(path: string): Pages<T> {
  const { api } = useSession();
  const shown = useRef(1);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // `path` may carry its own query (filters); the cursor and page size join it.
  const fetchPage = (cursor?: string) => {
    const paging = query({ cursor, limit: PAGE_SIZE });
    return api.get<Page<T>>(path.includes("?") ? `${path}&${paging.slice(1)}` : `${path}${paging}`);
  };
  const loaded = useLoad(async () => {
    let page = await fetchPage();
    const items = [...page.items];
    for (let count = 1; count < shown.current && page.next_cursor; count++) {
      page = await fetchPage(page.next_cursor);
      items.push(...page.items);
    }
    return { items, next_cursor: page.next_cursor };
  }, path);
  const loadMore = async () => {
    const cursor = loaded.data?.next_cursor;
    if (!cursor || busy) return;
    setBusy(true);
    setError(null);
    try {
      const page = await fetchPage(cursor);
      shown.current += 1;
      loaded.setData((old) => ({ items: [...(old?.items ?? []), ...page.items], next_cursor: page.next_cursor }));
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return { loaded, loadMore, busy, error };
}
