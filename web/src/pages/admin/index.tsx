// Admin: the tenant's users and their roles, API keys (the key is shown once, at creation)
// and invitations (the token and link are shown once). Each list is a keyset page, oldest
// first; "Load more" appends the next page. Holders of `audit:read` also see the audit log.
import { useMe } from "../../session";
import { usePageTitle } from "../../ui";
import { ApiKeys } from "./ApiKeys";
import { AuditLog } from "./AuditLog";
import { Invitations } from "./Invitations";
import { Users } from "./Users";

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
      {me.scopes.includes("audit:read") ? <AuditLog /> : null}
    </section>
  );
}
