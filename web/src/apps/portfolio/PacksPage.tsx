// Pricing packs: the health of the tenant's packs (the state the patterns' freshness gate sees),
// starting a build (as of today, or of a date chosen to look back), and the builds, newest
// first. While a build warms the health card says when it should be ready and asks again by
// itself: when the API says to, or sooner, since the estimate is a guess (before the first build
// finished it is a fixed minute) and the health read is cheap.
import { useCallback, useEffect, useState } from "react";
import { formatTime } from "../../format";
import { useSession } from "../../session";
import { ActionButton, Can, Empty, Show, useLoad, usePageTitle } from "../../ui";
import { Hash } from "./Hash";
import { BASE } from "./types";
import type { PackBuild, PackHealth, PackPage } from "./types";

const HINTS: Record<PackHealth["state"], string> = {
  warming: "A new pack is being built; the patterns wait for it.",
  fresh: "The patterns compute on this pack.",
  failed: "The last build failed; the patterns cannot compute until a build succeeds.",
  none: "No pricing pack yet: build one to compute the patterns.",
};

/** The longest wait, in seconds, between two reads of the health while a build warms. */
const POLL_CAP = 5;

function errorText(error: Record<string, unknown> | null): string {
  if (!error) return "no reason given";
  return typeof error.message === "string" ? error.message : JSON.stringify(error);
}

function Sources({ sources }: { sources: string[] }) {
  return sources.length === 0 ? <span className="muted">none</span> : <>{sources.join(", ")}</>;
}

function HealthCard({ health, onRefresh }: { health: PackHealth; onRefresh: () => Promise<void> }) {
  const wait = health.state === "warming" ? health.retry_after_seconds : null;
  useEffect(() => {
    if (wait === null) return;
    const timer = setTimeout(() => void onRefresh(), Math.min(POLL_CAP, Math.max(1, wait)) * 1000);
    return () => clearTimeout(timer);
  }, [wait, onRefresh]);
  return (
    <section className="card" aria-labelledby="health-title">
      <div className="page-head">
        <h2 id="health-title">
          Pack health <span className={`badge status-pack-${health.state}`}>{health.state}</span>
        </h2>
        <ActionButton onAction={onRefresh}>Refresh</ActionButton>
      </div>
      <p>{HINTS[health.state]}</p>
      <dl className="facts" aria-label="Pack health">
        {health.state === "warming" ? (
          <>
            <dt>Estimated ready</dt>
            <dd>{health.estimated_ready ? formatTime(health.estimated_ready) : "no estimate yet"}</dd>
            <dt>Building</dt>
            <dd>
              <Hash value={health.building} />
            </dd>
          </>
        ) : null}
        {health.last_error ? (
          <>
            <dt>Last build failed</dt>
            <dd className="inline-error">{errorText(health.last_error)}</dd>
          </>
        ) : null}
        {health.pack_id ? (
          <>
            <dt>Current pack</dt>
            <dd>
              <Hash value={health.pack_id} />
            </dd>
            <dt>As of</dt>
            <dd>{health.as_of ?? "—"}</dd>
            <dt>Sources</dt>
            <dd>
              <Sources sources={health.sources} />
            </dd>
            <dt>Ready at</dt>
            <dd>{formatTime(health.ready_at)}</dd>
          </>
        ) : null}
        {health.superseded ? (
          <>
            <dt>Replaced</dt>
            <dd>
              <Hash value={health.superseded} />
            </dd>
          </>
        ) : null}
      </dl>
    </section>
  );
}

export function PacksPage() {
  usePageTitle("Pricing packs");
  const { api } = useSession();
  const health = useLoad(() => api.get<PackHealth>(`${BASE}/health/pack`), "health");
  const [more, setMore] = useState<PackBuild[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const builds = useLoad(async () => {
    const first = await api.get<PackPage>(`${BASE}/packs?limit=50`);
    setMore([]);
    setCursor(first.next_cursor);
    return first;
  }, "packs");
  const { reload: reloadHealth } = health;
  const { reload: reloadBuilds } = builds;
  const refresh = useCallback(async () => {
    await Promise.all([reloadHealth(), reloadBuilds()]);
  }, [reloadHealth, reloadBuilds]);
  const [asOf, setAsOf] = useState("");
  const build = async () => {
    await api.post<PackBuild>(`${BASE}/packs`, asOf ? { as_of: asOf } : {});
    await refresh();
  };
  const loadMore = async () => {
    if (!cursor) return;
    const next = await api.get<PackPage>(`${BASE}/packs?limit=50&cursor=${encodeURIComponent(cursor)}`);
    setMore((old) => [...old, ...next.items]);
    setCursor(next.next_cursor);
  };

  return (
    <section>
      <div className="page-head">
        <h1>Pricing packs</h1>
        <Can action="runs.start">
          <div className="inline-form" role="group" aria-label="New build">
            <label>
              As of <input type="date" value={asOf} onChange={(event) => setAsOf(event.target.value)} aria-describedby="as-of-hint" />
            </label>
            <span id="as-of-hint" className="muted small">
              empty: today
            </span>
            <ActionButton className="primary" onAction={build}>
              Build pack
            </ActionButton>
          </div>
        </Can>
      </div>
      <Show loaded={health} label="Loading the packs' health…">
        {(found) => <HealthCard health={found} onRefresh={refresh} />}
      </Show>
      <h2>Builds</h2>
      <Show loaded={builds} label="Loading the builds…">
        {(first) => {
          const items = [...first.items, ...more];
          return items.length === 0 ? (
            <Empty>No builds yet.</Empty>
          ) : (
            <>
              <div className="table-scroll">
                <table aria-label="Pack builds">
                  <thead>
                    <tr>
                      <th scope="col">State</th>
                      <th scope="col">As of</th>
                      <th scope="col">Pack</th>
                      <th scope="col">Sources</th>
                      <th scope="col">Started</th>
                      <th scope="col">Ready</th>
                      <th scope="col">Superseded</th>
                    </tr>
                  </thead>
                  <tbody>
                    {items.map((item) => (
                      <tr key={item.build_id}>
                        <td>
                          <span className={`badge status-pack-${item.state}`}>{item.state}</span>
                          {item.state === "failed" ? <div className="small inline-error">{errorText(item.error)}</div> : null}
                        </td>
                        <td>{item.as_of}</td>
                        <td>
                          <Hash value={item.pack_id ?? item.same_as} />
                        </td>
                        <td className="small">
                          <Sources sources={item.sources} />
                        </td>
                        <td>{formatTime(item.started_at)}</td>
                        <td>{item.state === "warming" && item.estimated_ready ? `expected ${formatTime(item.estimated_ready)}` : formatTime(item.ready_at)}</td>
                        <td>{formatTime(item.superseded_at)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              {cursor ? <ActionButton onAction={loadMore}>Load more</ActionButton> : null}
            </>
          );
        }}
      </Show>
    </section>
  );
}
