// A lead opened in its row: the reasons behind its score (each rule's or the model's points and
// why), its notes, a status change offering only the statuses it may move to, and "Qualify and
// reach out", which starts the lead's outreach pipeline and links to its run.
import { useState } from "react";
import { Link } from "../../router";
import type { FormEvent } from "react";
import { useSession } from "../../session";
import { Can, ErrorBox } from "../../ui";
import { BASE, NEXT_STATUSES } from "./types";
import { Timeline } from "./Timeline";
import type { PipelineStarted } from "./types";
import type { Lead } from "./types";

function points(value: number): string {
  return value > 0 ? `+${value}` : String(value);
}

export function LeadDetail({ lead, onChanged }: { lead: Lead; onChanged: (changed: Lead) => void }) {
  const reasons = lead.score_reasons ?? [];
  return (
    <div className="sales-lead-detail">
      <section aria-label={`Score reasons for ${lead.company.name}`}>
        <h3>Score {lead.score === null ? "not given yet" : `${lead.score} of 100`}</h3>
        {reasons.length === 0 ? (
          <p className="muted">No reasons recorded: the lead has not been scored.</p>
        ) : (
          <table className="sales-table" aria-label="Score reasons">
            <thead>
              <tr>
                <th scope="col">From</th>
                <th scope="col" className="num">Points</th>
                <th scope="col">Why</th>
              </tr>
            </thead>
            <tbody>
              {reasons.map((reason, index) => (
                <tr key={index}>
                  <td>{reason.rule !== undefined ? `rule ${reason.rule}` : `model ${reason.model ?? ""}`.trim()}</td>
                  <td className="num">{points(reason.points)}</td>
                  <td>{reason.why}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section aria-label={`Notes on ${lead.company.name}`}>
        <h3>Notes</h3>
        {lead.notes ? <p className="sales-notes">{lead.notes}</p> : <p className="muted">No notes.</p>}
        <p className="muted small">
          {lead.contact.title ? `${lead.contact.title} · ` : ""}
          {lead.budget !== null ? `Budget ${lead.budget} ${lead.currency ?? ""}` : "No budget given"}
        </p>
      </section>
      <Timeline entity="lead" id={lead.id} />
      <Can action="runs.start">
        <StatusForm lead={lead} onChanged={onChanged} />
        <PipelineStart lead={lead} />
      </Can>
    </div>
  );
}

function StatusForm({ lead, onChanged }: { lead: Lead; onChanged: (changed: Lead) => void }) {
  const { api } = useSession();
  const next = NEXT_STATUSES[lead.status] ?? [];
  const [status, setStatus] = useState<string>(next[0] ?? "");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  if (next.length === 0) return <p className="muted">A {lead.status} lead keeps its status.</p>;
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const changed = await api.request<Lead>("PATCH", `${BASE}/leads/${encodeURIComponent(lead.id)}`, { status });
      setStatus(NEXT_STATUSES[changed.status]?.[0] ?? "");
      onChanged(changed);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="inline-form" aria-label={`Status of ${lead.company.name}`} onSubmit={submit}>
      <label>
        Move to{" "}
        <select value={status} onChange={(event) => setStatus(event.target.value)}>
          {next.map((value) => (
            <option key={value} value={value}>
              {value}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" disabled={busy} aria-busy={busy}>
        Change status
      </button>
      {error ? <ErrorBox error={error} title="The status was not changed" /> : null}
    </form>
  );
}

/** Starts `sales-outreach` for the lead (POST /pipeline/run) and links to the run it started. */
function PipelineStart({ lead }: { lead: Lead }) {
  const { api } = useSession();
  const [started, setStarted] = useState<PipelineStarted | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const start = async () => {
    setBusy(true);
    setError(null);
    try {
      setStarted(await api.post<PipelineStarted>(`${BASE}/pipeline/run`, { lead_id: lead.id }));
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="sales-actions" role="group" aria-label={`Pipeline of ${lead.company.name}`}>
      <button type="button" onClick={() => void start()} disabled={busy} aria-busy={busy}>
        Qualify and reach out
      </button>
      {started ? (
        <p role="status">
          Started {started.workflow_id}: <Link to={`/runs/${encodeURIComponent(started.run_id)}`}>open the run</Link> to follow it
          and approve the email.
        </p>
      ) : null}
      {error ? <ErrorBox error={error} title="The pipeline was not started" /> : null}
    </div>
  );
}
