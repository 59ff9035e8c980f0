// Dead letters: runs whose failed step used every attempt its retry policy allows, each with that
// step, its attempt count and its last attempt's result (a map's failed items one by one), and
// for operators a retry, or a dismissal (with a reason) that takes the run off the list.
import { useEffect, useState } from "react";
import { RunLink } from "../components/RunLink";
import { When } from "../components/When";
import { shortId } from "../format";
import type { components } from "../openapi";
import { can } from "../roles";
import { useMe, useSession } from "../session";
import type { CancelRun } from "../types";
import { ActionButton, Empty, Show, useLoad, usePageTitle } from "../ui";

type DeadLetter = components["schemas"]["DeadLetter"];
type DeadLetterList = components["schemas"]["DeadLetterList"];
interface FailedItem {
  index: number;
  item: unknown;
  attempts: number;
  error: { code: string; message: string };
}

function failedItems(letter: DeadLetter): FailedItem[] {
  const details = (letter.error?.details ?? {}) as { failed_items?: FailedItem[] };
  return Array.isArray(details.failed_items) ? details.failed_items : [];
}

function DismissForm({ letter, onDone }: { letter: DeadLetter; onDone: () => Promise<void> }) {
  const { api } = useSession();
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState("");
  if (!open) {
    return (
      <button type="button" onClick={() => setOpen(true)}>
        Dismiss…
      </button>
    );
  }
  const id = `dismiss-${letter.run_id}`;
  return (
    <form className="inline-form" onSubmit={(e) => e.preventDefault()} aria-label={`Dismiss run ${shortId(letter.run_id)}`}>
      <label htmlFor={id}>Why not retry it?</label>
      <input id={id} value={reason} onChange={(e) => setReason(e.target.value)} />
      <ActionButton
        className="danger"
        onAction={async () => {
          await api.post(`/api/v1/runs/${encodeURIComponent(letter.run_id)}/dismiss`, { reason: reason.trim() } satisfies CancelRun);
          await onDone();
        }}
      >
        Dismiss
      </ActionButton>
      <button type="button" className="link" onClick={() => setOpen(false)}>
        Keep it
      </button>
    </form>
  );
}

function Letter({ letter, onChanged }: { letter: DeadLetter; onChanged: () => Promise<void> }) {
  const { api } = useSession();
  const me = useMe();
  const last = letter.last_attempt;
  const items = failedItems(letter);
  return (
    <li className="card dead" data-testid="dead-letter">
      <div className="dead-head">
        <RunLink id={letter.run_id} />{" "}
        <strong>{letter.workflow_id}</strong> <span className="muted">v{letter.workflow_version}</span>
        <span className="muted">
          {" "}
          · died <When iso={letter.finished_at} />
        </span>
      </div>
      <p>
        Step <span className="mono">{letter.failed_step ?? "—"}</span> failed after {letter.attempts} {letter.attempts === 1 ? "attempt" : "attempts"}.
      </p>
      {last ? (
        <p className="inline-error">
          Last attempt (#{last.attempt}, <When iso={last.finished_at} />): <strong>{last.error ? String(last.error.code) : last.status}</strong>
          {last.error ? `: ${String(last.error.message)}` : ""}
        </p>
      ) : letter.error ? (
        <p className="inline-error">
          <strong>{String(letter.error.code)}</strong>: {String(letter.error.message)}
        </p>
      ) : (
        <p className="muted">No error recorded.</p>
      )}
      {items.length > 0 ? (
        <ul className="items" aria-label="Failed items">
          {items.map((item) => (
            <li key={item.index}>
              item {item.index} <span className="mono">{JSON.stringify(item.item)}</span>, {item.attempts} {item.attempts === 1 ? "attempt" : "attempts"}:{" "}
              <span className="inline-error">
                {item.error.code}: {item.error.message}
              </span>
            </li>
          ))}
        </ul>
      ) : null}
      <div className="actions">
        {can(me, "runs.retry") ? (
          <ActionButton
            className="primary"
            onAction={async () => {
              await api.post(`/api/v1/runs/${encodeURIComponent(letter.run_id)}/retry`);
              await onChanged();
            }}
          >
            Retry
          </ActionButton>
        ) : null}
        {can(me, "runs.dismiss") ? <DismissForm letter={letter} onDone={onChanged} /> : null}
      </div>
    </li>
  );
}

export function DeadLettersPage() {
  usePageTitle("Dead letters");
  const { api } = useSession();
  const letters = useLoad(() => api.get<DeadLetterList>("/api/v1/dead-letters?limit=100"), "dead");
  const reload = letters.reload;
  useEffect(() => {
    const interval = setInterval(() => void reload(), 5000);
    return () => clearInterval(interval);
  }, [reload]);
  return (
    <section>
      <div className="page-head">
        <h1>Dead letters</h1>
        <button type="button" onClick={() => void letters.reload()}>
          Refresh
        </button>
      </div>
      <p className="muted">
        Runs whose failed step used every attempt its retry policy allows. Retrying runs them again from the failed step, keeping finished steps; dismissing takes a run off this list without running it (it becomes cancelled).
      </p>
      <Show loaded={letters} label="Loading dead runs…">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No dead runs. Everything that failed was retried successfully, dismissed, or nothing failed.</Empty>
          ) : (
            <ul className="dead-list">
              {page.items.map((letter) => (
                <Letter key={letter.run_id} letter={letter} onChanged={reload} />
              ))}
            </ul>
          )
        }
      </Show>
    </section>
  );
}
