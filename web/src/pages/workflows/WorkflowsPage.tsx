// Workflows: each stored workflow with its description, newest version and when that was
// stored; "New workflow" opens the YAML editor on a starter that validates as it stands.
import { useState } from "react";
import { formatTime } from "../../format";
import { can } from "../../roles";
import { Link, navigate } from "../../router";
import { useMe, useSession } from "../../session";
import type { WorkflowVersionList } from "../../types";
import { Empty, Show, useLoad, usePageTitle } from "../../ui";
import { Editor, STARTER } from "./Editor";
import { workflowPath } from "./WorkflowDetailPage";

export function WorkflowsPage() {
  usePageTitle("Workflows");
  const { api } = useSession();
  const me = useMe();
  const writer = can(me, "workflows.write");
  const [creating, setCreating] = useState(false);
  const workflows = useLoad(() => api.get<WorkflowVersionList>("/api/v1/workflows?latest=true"), "workflows");
  return (
    <section>
      <div className="page-head">
        <h1>Workflows</h1>
        {writer ? (
          <button type="button" className="primary" aria-expanded={creating} onClick={() => setCreating((open) => !open)}>
            {creating ? "Close the editor" : "New workflow"}
          </button>
        ) : null}
      </div>
      {creating ? (
        <Editor
          title="New workflow"
          initial={STARTER}
          name="new-workflow.yaml"
          known={(workflows.data?.items ?? []).map((item) => item.id)}
          onClose={() => setCreating(false)}
          onSaved={(saved) => navigate(workflowPath(saved.workflow_id, saved.version))}
        />
      ) : null}
      <Show loaded={workflows} label="Loading workflows…">
        {(list) =>
          list.items.length === 0 ? (
            <Empty>
              No workflows are stored yet. Store one with <code>batonflow workflows add my-workflow.yaml</code>
              {writer ? <>, or write one here with “New workflow”.</> : "."}
            </Empty>
          ) : (
            <div className="table-scroll">
              <table className="workflows">
                <caption className="sr-only">Workflows, by id</caption>
                <thead>
                  <tr>
                    <th scope="col">Workflow</th>
                    <th scope="col">Description</th>
                    <th scope="col">Latest version</th>
                    <th scope="col">Updated</th>
                  </tr>
                </thead>
                <tbody>
                  {list.items.map((item) => (
                    <tr key={item.workflow_id} data-workflow={item.workflow_id}>
                      <td data-label="Workflow">
                        <Link to={workflowPath(item.workflow_id)} className="mono">
                          {item.workflow_id}
                        </Link>
                      </td>
                      <td data-label="Description">{item.description || <span className="muted">—</span>}</td>
                      <td data-label="Latest version">v{item.version}</td>
                      <td data-label="Updated">{formatTime(item.created_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </Show>
    </section>
  );
}
