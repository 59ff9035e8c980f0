// The tenant's API keys: create one with scopes and an expiry (the key is shown once), revoke.
import { useState } from "react";
import type { FormEvent } from "react";
import { When } from "../../components/When";
import { formatTime } from "../../format";
import { useMe, useSession } from "../../session";
import type { ApiKey, ApiKeyCreate, ApiKeyCreated } from "../../types";
import { ActionButton, Empty, Show, StatusBadge, messageOf } from "../../ui";
import { LoadMore } from "./LoadMore";
import { ShownOnce } from "./ShownOnce";
import { usePages } from "./usePages";

export function ApiKeys() {
  const { api } = useSession();
  const me = useMe();
  const pages = usePages<ApiKey>("/api/v1/api-keys");
  const keys = pages.loaded;
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<string[]>(me.scopes.filter((scope) => scope.endsWith(":read")));
  const [days, setDays] = useState("90");
  const [created, setCreated] = useState<{ name: string; key: string } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    try {
      const key = await api.post<ApiKeyCreated>("/api/v1/api-keys", {
        name: name.trim(),
        scopes,
        expires_in_days: days ? Number(days) : null,
      } satisfies ApiKeyCreate);
      setCreated({ name: key.name, key: key.key });
      setName("");
      await keys.reload();
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <section className="card" aria-labelledby="keys-title">
      <h2 id="keys-title">API keys</h2>
      {created ? <ShownOnce title={`The key “${created.name}”`} value={created.key} /> : null}
      <form onSubmit={submit} className="stack" aria-label="New API key">
        <div className="field">
          <label htmlFor="key-name">Name</label>
          <input id="key-name" required value={name} onChange={(e) => setName(e.target.value)} placeholder="ci-pipeline" />
        </div>
        <fieldset>
          <legend>Scopes</legend>
          <div className="checks">
            {me.scopes.map((scope) => (
              <label key={scope} className="check">
                <input
                  type="checkbox"
                  checked={scopes.includes(scope)}
                  onChange={(e) => setScopes((old) => (e.target.checked ? [...old, scope] : old.filter((s) => s !== scope)))}
                />{" "}
                {scope}
              </label>
            ))}
          </div>
        </fieldset>
        <div className="field">
          <label htmlFor="key-days">Expires after (days, empty for never)</label>
          <input id="key-days" type="number" min={1} value={days} onChange={(e) => setDays(e.target.value)} />
        </div>
        {error ? (
          <p className="inline-error" role="alert">
            {messageOf(error)}
          </p>
        ) : null}
        <button type="submit" className="primary" disabled={!name.trim() || scopes.length === 0}>
          Create key
        </button>
      </form>
      <Show loaded={keys} label="Loading keys…">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No API keys yet.</Empty>
          ) : (
            <>
              <div className="table-scroll">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Key starts</th>
                      <th scope="col">Scopes</th>
                      <th scope="col">Expires</th>
                      <th scope="col">Last used</th>
                      <th scope="col">State</th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.items.map((key) => (
                      <tr key={key.id}>
                        <td>{key.name}</td>
                        <td className="mono">{key.prefix}…</td>
                        <td className="small">{key.scopes.join(", ")}</td>
                        <td>{key.expires_at ? formatTime(key.expires_at) : "never"}</td>
                        <td>
                          <When iso={key.last_used_at} empty="never" />
                        </td>
                        <td>
                          {key.revoked_at ? (
                            <StatusBadge status="revoked" />
                          ) : (
                            <ActionButton
                              className="danger"
                              onAction={async () => {
                                await api.request("DELETE", `/api/v1/api-keys/${key.id}`);
                                await keys.reload();
                              }}
                            >
                              Revoke
                            </ActionButton>
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <LoadMore pages={pages} what="API keys" />
            </>
          )
        }
      </Show>
    </section>
  );
}
