// The demo app's outbox: every email its `email.send` tool sent, once per idempotency key.
import { formatTime, shortId } from "../../format";
import { Link } from "../../router";
import { useSession } from "../../session";
import type { OutboxEmail } from "../../types";
import { Empty, Show, useLoad, usePageTitle } from "../../ui";

export function OutboxPage() {
  usePageTitle("Outbox");
  const { api } = useSession();
  const outbox = useLoad(() => api.get<{ items: OutboxEmail[] }>("/api/v1/demo/outbox"), "outbox");
  return (
    <section>
      <div className="page-head">
        <h1>Outbox</h1>
        <button type="button" onClick={() => void outbox.reload()}>
          Refresh
        </button>
      </div>
      <p className="muted">Emails the demo's runs sent. A step that runs again under the same idempotency key sends nothing new, so each email appears once.</p>
      <Show loaded={outbox} label="Loading the outbox…">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>The outbox is empty. Run the outreach workflow and approve its review to send an email.</Empty>
          ) : (
            <ul className="outbox">
              {[...page.items].reverse().map((email) => (
                <li key={email.key} className="card">
                  <div className="dead-head">
                    <strong>{email.subject}</strong> <span className="muted">to {email.to}</span>
                    <span className="muted"> · sent {formatTime(email.sent_at)}</span>
                    {email.run_id ? (
                      <>
                        {" · run "}
                        <Link to={`/runs/${email.run_id}`} className="mono">
                          {shortId(email.run_id)}
                        </Link>
                      </>
                    ) : null}
                  </div>
                  <pre className="email-body">{email.body}</pre>
                </li>
              ))}
            </ul>
          )
        }
      </Show>
    </section>
  );
}
