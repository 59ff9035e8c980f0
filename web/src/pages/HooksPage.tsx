// Webhook hooks: a secret URL per workflow that starts a run with a signed JSON body. The
// secret is shown once, when a hook is made or its secret rotated, with a signing example.
import { useState } from "react";
import { When } from "../components/When";
import { useSession } from "../session";
import type { Hook, HookList, HookSecret } from "../types";
import { ActionButton, Can, Empty, Show, useLoad, usePageTitle } from "../ui";

/** A shell example that signs and sends one delivery to the hook. */
export function curlExample(origin: string, secret: HookSecret): string {
  return [
    `BODY='{"example": "input"}'`,
    `SIG="sha256=$(printf '%s' "$BODY" | openssl dgst -sha256 -hmac '${secret.secret}' -hex | sed 's/^.* //')"`,
    `curl -X POST '${origin}${secret.path}' -H 'Content-Type: application/json' \\`,
    `  -H "${secret.signature_header}: $SIG" -H "${secret.delivery_header}: $(uuidgen)" -d "$BODY"`,
  ].join("\n");
}

export function HooksPage() {
  usePageTitle("Hooks");
  const { api } = useSession();
  const hooks = useLoad(() => api.get<HookList>("/api/v1/hooks"), "hooks");
  const [shown, setShown] = useState<HookSecret | null>(null);
  const [name, setName] = useState("");
  const [workflow, setWorkflow] = useState("");
  const path = (hook: Hook) => `/api/v1/hooks/${encodeURIComponent(hook.id)}`;
  return (
    <section>
      <div className="page-head">
        <h1>Hooks</h1>
      </div>
      <p className="muted">
        Secret URLs that start a workflow when another system posts a signed JSON body. A delivery id sent twice starts one run.
      </p>
      {shown ? (
        <div className="card" role="status" aria-label="New secret">
          <h2>Secret for {shown.name}</h2>
          <p>Copy it now: it is not shown again.</p>
          <pre className="mono">{shown.secret}</pre>
          <pre className="mono" aria-label="Example delivery">
            {curlExample(window.location.origin, shown)}
          </pre>
          <button type="button" onClick={() => setShown(null)}>
            Done
          </button>
        </div>
      ) : null}
      <Show loaded={hooks} label="Loading hooks…">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No hooks yet.</Empty>
          ) : (
            <div className="table-scroll">
              <table>
                <thead>
                  <tr>
                    <th>Hook</th>
                    <th>Workflow</th>
                    <th>URL</th>
                    <th>Secret from</th>
                    <th />
                  </tr>
                </thead>
                <tbody>
                  {page.items.map((hook) => (
                    <tr key={hook.id}>
                      <td>{hook.name}</td>
                      <td>
                        {hook.workflow_id}
                        {hook.version ? <span className="muted"> v{hook.version}</span> : null}
                      </td>
                      <td className="mono">POST {hook.path}</td>
                      <td>
                        <When iso={hook.rotated_at} />
                      </td>
                      <td>
                        <Can action="triggers.write">
                          <ActionButton
                            onAction={async () => {
                              setShown(await api.post<HookSecret>(`${path(hook)}/rotate`));
                              await hooks.reload();
                            }}
                          >
                            Rotate secret
                          </ActionButton>{" "}
                          <ActionButton
                            className="danger"
                            onAction={async () => {
                              await api.request("DELETE", path(hook));
                              await hooks.reload();
                            }}
                          >
                            Delete
                          </ActionButton>
                        </Can>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </Show>
      <Can action="triggers.write">
        <form className="card" aria-label="New hook" onSubmit={(event) => event.preventDefault()}>
          <label>
            Name <input value={name} onChange={(event) => setName(event.target.value)} placeholder="crm" />
          </label>{" "}
          <label>
            Workflow <input value={workflow} onChange={(event) => setWorkflow(event.target.value)} placeholder="outreach" />
          </label>{" "}
          <ActionButton
            className="primary"
            disabled={!name || !workflow}
            onAction={async () => {
              setShown(await api.post<HookSecret>("/api/v1/hooks", { name, workflow_id: workflow }));
              setName("");
              await hooks.reload();
            }}
          >
            Create hook
          </ActionButton>
        </form>
      </Can>
    </section>
  );
}
