// Admin: the tenant's users and their roles, API keys (the key is shown once, at creation)
// and invitations (the token and link are shown once). Each list is a keyset page, oldest
// first; "Load more" appends the next page.
import { useRef, useState } from "react";
import type { FormEvent, ReactNode } from "react";
import { query } from "../api";
import { formatTime } from "../format";
import { useMe, useSession } from "../session";
import type { ApiKey, Invitation, Page, Role, UserDetail } from "../types";
import { ActionButton, Empty, Show, StatusBadge, messageOf, useLoad, usePageTitle } from "../ui";
import type { Loaded } from "../ui";

const ROLES: Role[] = ["admin", "operator", "reviewer", "viewer"];
const PAGE_SIZE = 50;

interface Pages<T> {
  loaded: Loaded<Page<T>>;
  loadMore: () => Promise<void>;
  busy: boolean;
  error: unknown;
}

/** The pages of `path` shown so far, as one page. `reload` fetches as many pages again as are
 * shown, so a change made on a later page stays in view. */
function usePages<T>(path: string): Pages<T> {
  const { api } = useSession();
  const shown = useRef(1);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const fetchPage = (cursor?: string) => api.get<Page<T>>(`${path}${query({ cursor, limit: PAGE_SIZE })}`);
  const loaded = useLoad(async () => {
    let page = await fetchPage();
    const items = [...page.items];
    for (let count = 1; count < shown.current && page.next_cursor; count++) {
      page = await fetchPage(page.next_cursor);
      items.push(...page.items);
    }
    return { items, next_cursor: page.next_cursor };
  }, path);
  const loadMore = async () => {
    const cursor = loaded.data?.next_cursor;
    if (!cursor || busy) return;
    setBusy(true);
    setError(null);
    try {
      const page = await fetchPage(cursor);
      shown.current += 1;
      loaded.setData((old) => ({ items: [...(old?.items ?? []), ...page.items], next_cursor: page.next_cursor }));
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return { loaded, loadMore, busy, error };
}

/** Under a list: the button that appends its next page, while there is one. */
function LoadMore<T>({ pages, what }: { pages: Pages<T>; what: string }) {
  if (!pages.loaded.data?.next_cursor && !pages.error) return null;
  return (
    <nav className="pager" aria-label={`More ${what}`}>
      {pages.error ? (
        <span className="inline-error" role="alert">
          {messageOf(pages.error)}
        </span>
      ) : null}
      {pages.loaded.data?.next_cursor ? (
        <button type="button" aria-label={`Load more ${what}`} aria-busy={pages.busy} onClick={() => void pages.loadMore()}>
          Load more
        </button>
      ) : null}
    </nav>
  );
}

function ShownOnce({ title, value, children }: { title: string; value: string; children?: ReactNode }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="shown-once" role="status">
      <strong>{title}</strong>
      <p className="muted small">It is shown this once; Batonflow keeps only a hash. Copy it now.</p>
      <code className="secret" data-testid="secret">
        {value}
      </code>
      {children}
      <button
        type="button"
        onClick={() => {
          void navigator.clipboard?.writeText(value).then(() => setCopied(true), () => setCopied(false));
        }}
      >
        {copied ? "Copied" : "Copy"}
      </button>
    </div>
  );
}

function Users() {
  const { api } = useSession();
  const me = useMe();
  const pages = usePages<UserDetail>("/api/v1/users");
  const users = pages.loaded;
  const [error, setError] = useState<unknown>(null);
  const change = async (user: UserDetail, body: { role?: Role; active?: boolean }) => {
    setError(null);
    try {
      await api.request("PATCH", `/api/v1/users/${user.id}`, body);
    } catch (caught) {
      setError(caught);
    }
    await users.reload();
  };
  return (
    <section className="card" aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      {error ? (
        <p className="inline-error" role="alert">
          {messageOf(error)}
        </p>
      ) : null}
      <Show loaded={users} label="Loading users…">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No users.</Empty>
          ) : (
            <>
              <div className="table-scroll">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Email</th>
                      <th scope="col">Role</th>
                      <th scope="col">Last sign-in</th>
                      <th scope="col">Active</th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.items.map((user) => (
                      <tr key={user.id}>
                        <td>{user.name}</td>
                        <td>{user.email}</td>
                        <td>
                          <label className="sr-only" htmlFor={`role-${user.id}`}>
                            Role of {user.email}
                          </label>
                          <select id={`role-${user.id}`} value={user.role} onChange={(e) => void change(user, { role: e.target.value as Role })}>
                            {ROLES.map((role) => (
                              <option key={role} value={role}>
                                {role}
                              </option>
                            ))}
                          </select>
                        </td>
                        <td>{formatTime(user.last_login_at)}</td>
                        <td>
                          {user.id === me.user?.id ? (
                            <span className="muted">you</span>
                          ) : (
                            <button type="button" onClick={() => void change(user, { active: !user.active })}>
                              {user.active ? "Deactivate" : "Reactivate"}
                            </button>
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <LoadMore pages={pages} what="users" />
            </>
          )
        }
      </Show>
    </section>
  );
}

function ApiKeys() {
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
      const key = await api.post<ApiKey & { key: string }>("/api/v1/api-keys", {
        name: name.trim(),
        scopes,
        expires_in_days: days ? Number(days) : null,
      });
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
                        <td>{formatTime(key.last_used_at)}</td>
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

function Invitations() {
  const { api } = useSession();
  const pages = usePages<Invitation>("/api/v1/invitations");
  const invitations = pages.loaded;
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("operator");
  const [created, setCreated] = useState<{ email: string; token: string } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    try {
      const invitation = await api.post<Invitation & { token: string }>("/api/v1/invitations", { email: email.trim(), role });
      setCreated({ email: invitation.email, token: invitation.token });
      setEmail("");
      await invitations.reload();
    } catch (caught) {
      setError(caught);
    }
  };
  const link = created
    ? `${window.location.origin}/join#${new URLSearchParams({ invitation: created.token, email: created.email }).toString()}`
    : "";
  return (
    <section className="card" aria-labelledby="invitations-title">
      <h2 id="invitations-title">Invitations</h2>
      {created ? (
        <ShownOnce title={`Invitation for ${created.email}`} value={created.token}>
          <p className="small">
            Or send this link: <code className="secret">{link}</code>
          </p>
        </ShownOnce>
      ) : null}
      <form onSubmit={submit} className="filters" aria-label="New invitation">
        <div className="field">
          <label htmlFor="invite-email">Email</label>
          <input id="invite-email" type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="invite-role">Role</label>
          <select id="invite-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {ROLES.map((value) => (
              <option key={value} value={value}>
                {value}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" className="primary" disabled={!email.trim()}>
          Invite
        </button>
      </form>
      {error ? (
        <p className="inline-error" role="alert">
          {messageOf(error)}
        </p>
      ) : null}
      <Show loaded={invitations} label="Loading invitations…">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No invitations yet.</Empty>
          ) : (
            <>
              <div className="table-scroll">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Email</th>
                      <th scope="col">Role</th>
                      <th scope="col">Status</th>
                      <th scope="col">Expires</th>
                      <th scope="col">
                        <span className="sr-only">Actions</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.items.map((invitation) => (
                      <tr key={invitation.id}>
                        <td>{invitation.email}</td>
                        <td>{invitation.role}</td>
                        <td>
                          <StatusBadge status={invitation.status} />
                        </td>
                        <td>{formatTime(invitation.expires_at)}</td>
                        <td>
                          {invitation.status === "pending" ? (
                            <ActionButton
                              className="danger"
                              onAction={async () => {
                                await api.request("DELETE", `/api/v1/invitations/${invitation.id}`);
                                await invitations.reload();
                              }}
                            >
                              Revoke
                            </ActionButton>
                          ) : null}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <LoadMore pages={pages} what="invitations" />
            </>
          )
        }
      </Show>
    </section>
  );
}

export function AdminPage() {
  usePageTitle("Admin");
  const me = useMe();
  if (!me.scopes.includes("admin")) {
    return (
      <section>
        <h1>Admin</h1>
        <p>Only admins manage users, keys and invitations.</p>
      </section>
    );
  }
  return (
    <section>
      <h1>Admin</h1>
      <p className="muted">
        Tenant <strong>{me.tenant.name || me.tenant.slug}</strong> (<span className="mono">{me.tenant.slug}</span>).
      </p>
      <Users />
      <ApiKeys />
      <Invitations />
    </section>
  );
}
