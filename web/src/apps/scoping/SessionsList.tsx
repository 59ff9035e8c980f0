// Scoping sessions: the caller's own and those shared with them, newest first; search by
// title; open a new one.
import { useState } from "react";
import { query } from "../../api";
import { formatTime } from "../../format";
import { Link, navigate } from "../../router";
import { useSession } from "../../session";
import { ActionButton, Empty, Show, useLoad, usePageTitle } from "../../ui";
import { BASE } from "./types";
import type { ScopingSession, SessionPage, SessionSummary } from "./types";

export const PAGE = "/apps/scoping/sessions";

export function SessionsList() {
  usePageTitle("Scoping sessions");
  const { api } = useSession();
  const [search, setSearch] = useState("");
  const [archived, setArchived] = useState(false);
  const [title, setTitle] = useState("");
  const [more, setMore] = useState<SessionSummary[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const page = useLoad(async () => {
    const first = await api.get<SessionPage>(`${BASE}${query({ q: search, archived: String(archived), limit: 50 })}`);
    setMore([]);
    setCursor(first.next_cursor);
    return first;
  }, `${search}|${archived}`);

  const create = async () => {
    const made = await api.post<ScopingSession>(BASE, { title });
    navigate(`${PAGE}?session=${made.id}`);
  };
  const loadMore = async () => {
    if (!cursor) return;
    const next = await api.get<SessionPage>(`${BASE}${query({ q: search, archived: String(archived), limit: 50, cursor })}`);
    setMore((old) => [...old, ...next.items]);
    setCursor(next.next_cursor);
  };

  return (
    <section>
      <div className="page-head">
        <h1>Scoping sessions</h1>
      </div>
      <p className="muted">Work through five stages of questions with the agents; each stage is analysed, and the session ends in a project charter.</p>
      <form
        className="card"
        aria-label="New session"
        onSubmit={(event) => {
          event.preventDefault();
        }}
      >
        <label>
          Title of a new session{" "}
          <input value={title} onChange={(event) => setTitle(event.target.value)} maxLength={200} />
        </label>{" "}
        <ActionButton onAction={create} disabled={!title.trim()}>
          Start session
        </ActionButton>
      </form>
      <div className="filters">
        <label>
          Search titles <input type="search" value={search} onChange={(event) => setSearch(event.target.value)} />
        </label>{" "}
        <label>
          <input type="checkbox" checked={archived} onChange={(event) => setArchived(event.target.checked)} /> Archived
        </label>
      </div>
      <Show loaded={page} label="Loading sessions…">
        {(first) => {
          const items = [...first.items, ...more];
          return items.length === 0 ? (
            <Empty>No sessions yet.</Empty>
          ) : (
            <>
              <ul className="scoping-sessions" aria-label="Sessions">
                {items.map((item) => (
                  <li key={item.id} className="card">
                    <Link to={`${PAGE}?session=${item.id}`}>{item.title}</Link>
                    <span className="muted"> · {item.owner_name} · {formatTime(item.created_at)}</span>
                  </li>
                ))}
              </ul>
              {cursor ? <ActionButton onAction={loadMore}>Load more</ActionButton> : null}
            </>
          );
        }}
      </Show>
    </section>
  );
}
