// A session as its workflow: the five stages and the charter in order, each step with its
// status and the runs on the engine that executed it (question and analysis runs; the
// charter's). The runs are private to the session's owner: for the owner and the tenant's
// admins each is a link to the run's own page; the people it is shared with see them unlinked.
import { Link } from "../../router";
import { formatTime, shortId } from "../../format";
import { StatusBadge } from "../../ui";
import type { ScopingSession, WorkflowStep } from "./types";

export function workflowOf(session: ScopingSession): WorkflowStep[] {
  // Read through a hand-written shape until the generated types carry `workflow`.
  return (session as ScopingSession & { workflow?: WorkflowStep[] }).workflow ?? [];
}

export function SessionWorkflow({ steps, linked }: { steps: WorkflowStep[]; linked: boolean }) {
  if (steps.length === 0) return null;
  return (
    <div className="card">
      <h2>Workflow</h2>
      <p className="muted">
        Each stage is a step of the session's workflow; every question and analysis runs on the
        engine as a run of its own.
      </p>
      <table aria-label="Workflow steps">
        <thead>
          <tr>
            <th scope="col">Step</th>
            <th scope="col">Status</th>
            <th scope="col">Runs</th>
          </tr>
        </thead>
        <tbody>
          {steps.map((step) => (
            <tr key={step.step}>
              <td>{step.stage ? `${step.stage}. ${step.title}` : step.title}</td>
              <td>
                <StatusBadge status={step.status} />
              </td>
              <td>
                {step.runs.length === 0 ? (
                  <span className="muted">none yet</span>
                ) : (
                  <ol className="scoping-runs">
                    {step.runs.map((run) => (
                      <li key={run.run_id}>
                        {linked ? (
                          <Link to={`/runs/${run.run_id}`} title={formatTime(run.created_at)}>
                            {run.kind} {shortId(run.run_id)}
                          </Link>
                        ) : (
                          <span title={formatTime(run.created_at)}>
                            {run.kind} {shortId(run.run_id)}
                          </span>
                        )}{" "}
                        <StatusBadge status={run.run_status} />
                      </li>
                    ))}
                  </ol>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
