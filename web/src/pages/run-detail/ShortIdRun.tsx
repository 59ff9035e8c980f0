// `/runs/<short id>`: the run whose id starts or ends with what was typed (as the CLI accepts),
// found through the runs list API. One match opens it; several are listed to choose from; none
// is "not found".
import { useEffect } from "react";
import { query } from "../../api";
import { RunLink } from "../../components/RunLink";
import { When } from "../../components/When";
import { Link, navigate } from "../../router";
import { useSession } from "../../session";
import type { RunPage } from "../../types";
import { Loading, Show, StatusBadge, useLoad, usePageTitle } from "../../ui";

/** As the API's `id` filter: 6 or more of an id's first or last characters. */
const SHORT_ID = /^[0-9a-fA-F-]{6,36}$/;
const CANDIDATES = 10;

export function isFullId(text: string): boolean {
  return text.length >= 36;
}

export function ShortIdRun({ text }: { text: string }) {
  usePageTitle(`Run ${text}`);
  const { api } = useSession();
  const valid = SHORT_ID.test(text);
  const found = useLoad(
    () => (valid ? api.get<RunPage>(`/api/v1/runs${query({ id: text, limit: CANDIDATES })}`) : Promise.resolve({ items: [], next_cursor: null } as RunPage)),
    text,
  );
  const only = found.data?.items.length === 1 ? found.data.items[0] : undefined;
  useEffect(() => {
    if (only) navigate(`/runs/${only.id}`, true);
  }, [only]);

  return (
    <section>
      <h1>
        Run <span className="mono">{text}</span>
      </h1>
      <Show loaded={found} label="Looking for the run…">
        {(page) =>
          !valid ? (
            <p role="alert">
              A short run id is 6 or more of an id's first or last characters (hex digits and "-"), such as the end the runs list and the CLI show. <Link to={`/runs${query({ q: text })}`}>Search the runs for “{text}”</Link>
            </p>
          ) : page.items.length === 0 ? (
            <div role="alert">
              <h2>Not found</h2>
              <p>
                No run's id starts or ends with <code>{text}</code>. <Link to={`/runs${query({ q: text })}`}>Search the runs</Link>
              </p>
            </div>
          ) : only ? (
            <Loading label="Opening the run…" />
          ) : (
            <div>
              <p role="alert">
                <code>{text}</code> matches {page.next_cursor ? `more than ${page.items.length}` : page.items.length} runs; choose one, or give more characters of its id.
              </p>
              <ul className="candidates" aria-label="Runs whose id matches">
                {page.items.map((run) => (
                  <li key={run.id}>
                    <RunLink id={run.id} label={run.label} /> <StatusBadge status={run.status} /> <span className="muted">{run.workflow_id} · </span>
                    <When iso={run.created_at} />
                  </li>
                ))}
              </ul>
            </div>
          )
        }
      </Show>
    </section>
  );
}
