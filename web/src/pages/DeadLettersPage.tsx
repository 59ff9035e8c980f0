// Dead letters: runs that exhausted their retries, with the error, and a retry for operators.
import { useEffect } from "react";
import { RunLink } from "../components/RunLink";
import { When } from "../components/When";
import { can } from "../roles";
import { useMe, useSession } from "../session";
import type { RunPage } from "../types";
import { ActionButton, Empty, Show, useLoad, usePageTitle } from "../ui";

export function DeadLettersPage() {
  usePageTitle("Dead letters");
  const { api } = useSession();
  const me = useMe();
  const runs = useLoad(() => api.get<RunPage>("/api/v1/runs?status=dead&limit=100"), "dead");
  const reload = runs.reload;
  useEffect(() => {
    const interval = setInterval(() => void reload(), 5000);
    return () => clearInterval(interval);
  }, [reload]);
  return (
    <section>
      <div className="page-head">
        <h1>Dead letters</h1>
        <button type="button" onClick={() => void runs.reload()}>
          Refresh
        </button>
      </div>
      <p className="muted">Runs whose steps failed every attempt their retry policy allows. Retrying runs them again from the failed step; finished steps are kept.</p>
      <Show loaded={runs} label="Loading dead runs…">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No dead runs. Everything that failed was retried successfully, or nothing failed.</Empty>
          ) : (
            <ul className="dead-list">
              {page.items.map((run) => (
                <li key={run.id} className="card dead">
                  <div className="dead-head">
                    <RunLink id={run.id} label={run.label} />{" "}
                    <strong>{run.workflow_id}</strong> <span className="muted">v{run.workflow_version}</span>
                    <span className="muted">
                      {" "}
                      · died <When iso={run.finished_at} />
                    </span>
                  </div>
                  {run.error ? (
                    <p className="inline-error">
                      <strong>{run.error.code}</strong>: {run.error.message}
                    </p>
                  ) : (
                    <p className="muted">No error recorded.</p>
                  )}
                  {can(me, "runs.retry") ? (
                    <ActionButton
                      className="primary"
                      onAction={async () => {
                        await api.post(`/api/v1/runs/${run.id}/retry`);
                        await runs.reload();
                      }}
                    >
                      Retry
                    </ActionButton>
                  ) : null}
                </li>
              ))}
            </ul>
          )
        }
      </Show>
    </section>
  );
}
