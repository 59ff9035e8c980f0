// Joining a tenant with an invitation: the invite link carries its token after `#`, so it
// never reaches a server log.
import { useState } from "react";
import type { FormEvent } from "react";
import { errorFrom } from "../api";
import { Link } from "../router";
import { useSession } from "../session";
import type { JoinTenant, SessionTokens } from "../types";
import { messageOf, usePageTitle } from "../ui";

export function JoinPage() {
  usePageTitle("Join");
  const { api } = useSession();
  const fromLink = new URLSearchParams(window.location.hash.slice(1));
  const [invitation, setInvitation] = useState(fromLink.get("invitation") ?? "");
  const [email, setEmail] = useState(fromLink.get("email") ?? "");
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const response = await fetch("/api/v1/auth/register", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ invitation: invitation.trim(), email: email.trim(), name: name.trim(), password } satisfies JoinTenant),
      });
      if (!response.ok) throw await errorFrom(response);
      const session = (await response.json()) as SessionTokens;
      api.begin(session);
      window.location.assign("/runs");
    } catch (caught) {
      setError(caught);
      setBusy(false);
    }
  };

  return (
    <main className="center" id="main">
      <form className="card login" onSubmit={submit} aria-labelledby="join-title">
        <h1 id="join-title">Join your team</h1>
        <div className="field">
          <label htmlFor="invitation">Invitation token</label>
          <input id="invitation" required value={invitation} onChange={(e) => setInvitation(e.target.value)} autoComplete="off" />
        </div>
        <div className="field">
          <label htmlFor="join-email">Email (the invited address)</label>
          <input id="join-email" type="email" required value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="username" />
        </div>
        <div className="field">
          <label htmlFor="join-name">Your name</label>
          <input id="join-name" required value={name} onChange={(e) => setName(e.target.value)} autoComplete="name" />
        </div>
        <div className="field">
          <label htmlFor="join-password">Password (at least 12 characters)</label>
          <input id="join-password" type="password" required minLength={12} value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" />
        </div>
        {error ? (
          <p className="inline-error" role="alert">
            {messageOf(error)}
          </p>
        ) : null}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Joining…" : "Join"}
        </button>
        <p className="muted small">
          Have an account? <Link to="/login">Sign in</Link>.
        </p>
      </form>
    </main>
  );
}
