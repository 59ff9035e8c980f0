// The tenant's invitations: invite an email with a role (the token and join link are shown
// once), revoke a pending one.
import { useState } from "react";
import type { FormEvent } from "react";
import { formatTime } from "../../format";
import { ROLES } from "../../roles";
import { useSession } from "../../session";
import type { Invitation, InvitationCreate, InvitationCreated, Role } from "../../types";
import { ActionButton, Empty, Show, StatusBadge, messageOf } from "../../ui";
import { LoadMore } from "./LoadMore";
import { ShownOnce } from "./ShownOnce";
import { usePages } from "./usePages";

export function Invitations() {
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
      const invitation = await api.post<InvitationCreated>("/api/v1/invitations", { email: email.trim(), role } satisfies InvitationCreate);
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
