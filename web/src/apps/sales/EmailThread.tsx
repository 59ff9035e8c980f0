// One email and its thread: the emails and the inbound replies in the order they happened,
// each raw message collapsible, and "Resend" for an unconfirmed or failed email once a person
// knows it did not arrive.
import { formatTime } from "../../format";
import { Link } from "../../router";
import { useSession } from "../../session";
import { Can, Show, useLoad } from "../../ui";
import { dealPath } from "./lookups";
import { Badge, ConfirmButton } from "./shared";
import { BASE } from "./types";
import type { Email, EmailDetail, Reply } from "./types";

type Entry = { at: string; email: Email; reply?: undefined } | { at: string; reply: Reply; email?: undefined };

export function EmailThread({ emailId }: { emailId: string }) {
  const { api } = useSession();
  const path = `${BASE}/emails/${encodeURIComponent(emailId)}`;
  const email = useLoad(() => api.get<EmailDetail>(path), emailId);
  return (
    <section>
      <p>
        <Link to="/apps/sales/emails">All emails</Link>
      </p>
      <Show loaded={email} label="Loading the email…">
        {(found) => {
          const entries: Entry[] = [
            ...found.thread.emails.map((each) => ({ at: each.created_at, email: each })),
            ...found.thread.replies.map((reply) => ({ at: reply.received_at, reply })),
          ].sort((a, b) => a.at.localeCompare(b.at));
          return (
            <>
              <div className="page-head">
                <h1>{found.subject}</h1>
              </div>
              <dl className="facts" aria-label="Email">
                <dt>Status</dt>
                <dd>
                  <Badge status={found.status} /> after {found.attempts} {found.attempts === 1 ? "attempt" : "attempts"}
                  {found.smtp_code ? ` (SMTP ${found.smtp_code} ${found.smtp_message ?? ""})` : ""}
                </dd>
                <dt>From</dt>
                <dd>{found.from_addr}</dd>
                <dt>To</dt>
                <dd>{found.to_addrs.join(", ")}</dd>
                <dt>Delivered</dt>
                <dd>{found.delivered_at ? `to the catcher ${formatTime(found.delivered_at)}` : "no"}</dd>
                <dt>Replied</dt>
                <dd>{found.thread.replied ? "yes" : "no"}</dd>
                {found.deal_id ? (
                  <>
                    <dt>Deal</dt>
                    <dd>
                      <Link to={dealPath(found.deal_id)}>open the deal</Link>
                    </dd>
                  </>
                ) : null}
                {found.invoice_id ? (
                  <>
                    <dt>Invoice</dt>
                    <dd>
                      <Link to={`/apps/sales/invoices?invoice=${encodeURIComponent(found.invoice_id)}`}>open the invoice</Link>
                    </dd>
                  </>
                ) : null}
              </dl>
              {found.status === "unconfirmed" || found.status === "failed" ? (
                <Can action="runs.start">
                  <div className="sales-actions">
                    <ConfirmButton
                      label="Resend"
                      question="Send this email again, with the same Message-ID? Only do so if it did not arrive."
                      onAction={async () => {
                        await api.post<Email>(`${path}/resend`);
                        await email.reload();
                      }}
                    />
                  </div>
                </Can>
              ) : null}
              <h2>Thread</h2>
              <ol className="sales-thread" aria-label="Thread">
                {entries.map((entry) =>
                  entry.email ? (
                    <li key={entry.email.id} className="card" aria-current={entry.email.id === found.id ? "true" : undefined}>
                      <h3>
                        Sent to {entry.email.to_addrs.join(", ")} · {formatTime(entry.at)} <Badge status={entry.email.status} />
                      </h3>
                      <p>
                        <strong>{entry.email.subject}</strong>
                      </p>
                      <pre>{entry.email.body}</pre>
                      {entry.email.id === found.id ? (
                        <details>
                          <summary>Raw message</summary>
                          <pre>{found.raw}</pre>
                        </details>
                      ) : null}
                    </li>
                  ) : (
                    <li key={entry.reply.id} className="card">
                      <h3>
                        Reply from {entry.reply.from_addr} · {formatTime(entry.at)}
                      </h3>
                      <p>
                        <strong>{entry.reply.subject}</strong>
                      </p>
                      <pre>{entry.reply.body}</pre>
                    </li>
                  ),
                )}
              </ol>
            </>
          );
        }}
      </Show>
    </section>
  );
}
