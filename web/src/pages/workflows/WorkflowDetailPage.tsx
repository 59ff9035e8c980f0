// One workflow: its description, the graph of the version shown (drawn from the spec, before any
// run), a chosen step's definition, "Start run" from the inputs form, the YAML, every version
// with a diff between two, and a new version from the YAML editor. `?version=` picks the
// version shown; without it, the newest.
import { useState } from "react";
import { GraphView } from "../../components/GraphView";
import { formatTime } from "../../format";
import { can } from "../../roles";
import { Link, navigate, useLocation } from "../../router";
import { useMe, useSession } from "../../session";
import type { WorkflowDetail, WorkflowVersionList } from "../../types";
import { ErrorBox, Json, Loading, Show, useLoad, usePageTitle } from "../../ui";
import { specStep, stepInputs } from "../run-detail/stepDefinition";
import { Editor } from "./Editor";
import { StartRun } from "./StartRun";
import { VersionDiff } from "./VersionDiff";

export function workflowPath(workflowId: string, version?: string): string {
  const path = `/workflows/${encodeURIComponent(workflowId)}`;
  return version ? `${path}?version=${encodeURIComponent(version)}` : path;
}

/** A step as defined: its kind, what it needs, its description and what it is given. */
function StepFacts({ workflow, step }: { workflow: WorkflowDetail; step: string }) {
  const definition = specStep(workflow, step);
  const box = workflow.steps.find((item) => item.id === step);
  const description = typeof definition?.description === "string" ? definition.description : "";
  return (
    <>
      <p className="muted small">
        {box?.kind} step · {box && box.needs.length ? `after ${box.needs.join(", ")}` : "starts first"}
      </p>
      {description ? <p>{description}</p> : null}
      <Json value={stepInputs(definition)} label={`Definition of step ${step}`} />
    </>
  );
}

export function WorkflowDetailPage({ workflowId }: { workflowId: string }) {
  usePageTitle(`Workflow ${workflowId}`);
  const { api } = useSession();
  const me = useMe();
  const { search } = useLocation();
  const wanted = search.get("version") ?? "";
  const base = `/api/v1/workflows/${encodeURIComponent(workflowId)}`;
  const versions = useLoad(() => api.get<WorkflowVersionList>(`${base}/versions`), workflowId);
  const detail = useLoad(
    () => api.get<WorkflowDetail>(wanted ? `${base}/versions/${encodeURIComponent(wanted)}` : base),
    `${workflowId}@${wanted}`,
  );
  const [selected, setSelected] = useState<string | null>(null);
  const [editing, setEditing] = useState(false);
  const writer = can(me, "workflows.write");

  if (!detail.data) {
    return (
      <section>
        <h1>
          Workflow <span className="mono">{workflowId}</span>
        </h1>
        {detail.error ? <ErrorBox error={detail.error} onRetry={() => void detail.reload()} /> : <Loading label="Loading the workflow…" />}
        <p>
          <Link to="/workflows">Back to the workflows</Link>
        </p>
      </section>
    );
  }
  const workflow = detail.data;
  const chosen = selected && workflow.steps.some((step) => step.id === selected) ? selected : (workflow.steps[0]?.id ?? null);
  return (
    <section className="workflow-detail">
      <p className="crumbs">
        <Link to="/workflows">Workflows</Link>
      </p>
      <div className="page-head">
        <h1>
          Workflow <span className="mono">{workflow.workflow_id}</span>
        </h1>
        {writer ? (
          <button type="button" aria-expanded={editing} onClick={() => setEditing((open) => !open)}>
            {editing ? "Close the editor" : "New version…"}
          </button>
        ) : null}
      </div>
      {workflow.description ? <p className="lede">{workflow.description}</p> : null}
      <Show loaded={versions} label="Loading the versions…">
        {(list) => (
          <div className="field inline">
            <label htmlFor="workflow-version">Version</label>
            <select id="workflow-version" value={workflow.version} onChange={(e) => navigate(workflowPath(workflowId, e.target.value), true)}>
              {list.items.map((item) => (
                <option key={item.id} value={item.version}>
                  v{item.version} · {formatTime(item.created_at)}
                </option>
              ))}
            </select>
          </div>
        )}
      </Show>
      <p className="muted small">
        Stored {formatTime(workflow.created_at)} · {workflow.steps.length} {workflow.steps.length === 1 ? "step" : "steps"} · <span className="mono">{workflow.content_hash.slice(0, 19)}</span>
      </p>
      {editing ? (
        <Editor
          key={workflow.id}
          title={`New version of ${workflow.workflow_id}`}
          initial={workflow.source}
          name={`${workflow.workflow_id}.yaml`}
          known={(versions.data?.items ?? []).map((item) => item.id)}
          onClose={() => setEditing(false)}
          onSaved={(saved) => {
            setEditing(false);
            void versions.reload();
            navigate(workflowPath(saved.workflow_id, saved.version));
          }}
        />
      ) : null}
      <h2>Graph</h2>
      <GraphView steps={workflow.steps} selected={chosen} onSelect={setSelected} />
      <div className="columns">
        {chosen ? (
          <section className="card" aria-labelledby="step-title" data-testid="step-definition">
            <h2 id="step-title">
              Step <span className="mono">{chosen}</span>
            </h2>
            <StepFacts workflow={workflow} step={chosen} />
          </section>
        ) : null}
        {can(me, "runs.start") ? <StartRun workflow={workflow} /> : null}
      </div>
      <section aria-labelledby="yaml-title">
        <h2 id="yaml-title">YAML of v{workflow.version}</h2>
        <pre className="json source" tabIndex={0} aria-label="Workflow YAML">
          {workflow.source}
        </pre>
      </section>
      <section aria-labelledby="versions-title">
        <h2 id="versions-title">Versions</h2>
        <Show loaded={versions} label="Loading the versions…">
          {(list) => (
            <>
              <div className="table-scroll">
                <table className="versions">
                  <caption className="sr-only">Versions of {workflowId}, oldest first</caption>
                  <thead>
                    <tr>
                      <th scope="col">Version</th>
                      <th scope="col">Stored</th>
                      <th scope="col">Steps</th>
                      <th scope="col">Hash</th>
                    </tr>
                  </thead>
                  <tbody>
                    {list.items.map((item) => (
                      <tr key={item.id} aria-current={item.id === workflow.id ? "true" : undefined}>
                        <td data-label="Version">
                          <Link to={workflowPath(workflowId, item.version)}>v{item.version}</Link>
                          {item.id === workflow.id ? <span className="muted"> (shown)</span> : null}
                        </td>
                        <td data-label="Stored">{formatTime(item.created_at)}</td>
                        <td data-label="Steps">{item.steps.length}</td>
                        <td data-label="Hash" className="mono">
                          {item.content_hash.slice(7, 19)}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <h3>Compare versions</h3>
              <VersionDiff key={list.items.length} workflowId={workflowId} versions={list.items} />
            </>
          )}
        </Show>
      </section>
    </section>
  );
}
