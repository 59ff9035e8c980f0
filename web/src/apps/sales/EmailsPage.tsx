// The email log: every email the app sent, newest first, filtered by status, lead, deal or
// invoice, with "Load more"; the chosen one (?email=<id>) opens its thread.
import { useState } from "react";
import { query } from "../../api";
import { formatTime } from "../../format";
import { Link, useLocation } from "../../router";
import { useSession } from "../../session";
import { Empty, Show, useLoad, usePageTitle } from "../../ui";
import { EmailThread } from "./EmailThread";
import { Badge, Pager } from "./shared";
import { BASE, EMAIL_STATUSES } from "./types";
import type { Email, Page } from "./types";

export const emailPath = (id: string) => `/apps/sales/emails?email=${encodeURIComponent(id)}`;

export function EmailsPage() {
  const { search } = useLocation();
  const chosen = search.get("email");
  usePageTitle(chosen ? "Email" : "Emails");
  return chosen ? <EmailThread key={chosen} emailId={chosen} /> : <EmailLog />;
}

const FILTERS = [
  { name: "lead_id", label: "Lead id" },
  { name: "deal_id", label: "Deal id" },
  { name: "invoice_id", label: "Invoice id" },
] as const;

function EmailLog() {
  const { api } = useSession();
  const { search } = useLocation();
  const [filters, setFilters] = useState<Record<string, string>>({
    status: "",
    lead_id: search.get("lead") ?? "",
    deal_id: search.get("deal") ?? "",
    invoice_id: search.get("invoice") ?? "",
  });
  const params = Object.fromEntries(Object.entries(filters).map(([name, value]) => [name, value.trim()]));
  const path = `${BASE}/emails${query(params)}`;
  const emails = useLoad(() => api.get<Page<Email>>(path), path);
  const set = (name: string, value: string) => setFilters({ ...filters, [name]: value });
  const loadMore = async (cursor: string) => {
    const next = await api.get<Page<Email>>(`${BASE}/emails${query({ ...params, cursor })}`);
    emails.setData((old) => (old ? { items: [...old.items, ...next.items], next_cursor: next.next_cursor } : next));
  };
  const filtered = Object.values(params).some(Boolean);
  return (
    <section>
      <div className="page-head">
        <h1>Emails</h1>
      </div>
      <form className="filters" role="search" aria-label="Filter emails" onSubmit={(event) => event.preventDefault()}>
        <div className="field">
          <label htmlFor="email-status">Status</label>
          <select id="email-status" value={filters.status} onChange={(event) => set("status", event.target.value)}>
            <option value="">any</option>
            {EMAIL_STATUSES.map((status) => (
              <option key={status} value={status}>
                {status}
              </option>
            ))}
          </select>
        </div>
        {FILTERS.map(({ name, label }) => (
          <div className="field" key={name}>
            <label htmlFor={`email-${name}`}>{label}</label>
            <input id={`email-${name}`} value={filters[name]} onChange={(event) => set(name, event.target.value)} size={12} />
          </div>
        ))}
      </form>
      <Show loaded={emails} label="Loading the email log…">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>{filtered ? "No email matches these filters." : "No email has been sent yet."}</Empty>
          ) : (
            <>
              <div className="table-scroll">
                <table className="sales-table" aria-label="Emails">
                  <thead>
                    <tr>
                      <th scope="col">Subject</th>
                      <th scope="col">Status</th>
                      <th scope="col">To</th>
                      <th scope="col">Sent</th>
                      <th scope="col">Delivered</th>
                      <th scope="col">Replied</th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.items.map((email) => (
                      <tr key={email.id}>
                        <th scope="row">
                          <Link to={emailPath(email.id)}>{email.subject}</Link>
                        </th>
                        <td>
                          <Badge status={email.status} />
                        </td>
                        <td>{email.to_addrs.join(", ")}</td>
                        <td>{email.sent_at ? formatTime(email.sent_at) : "—"}</td>
                        <td>{email.delivered_at ? `to the catcher ${formatTime(email.delivered_at)}` : "no"}</td>
                        <td>{email.replied_at ? formatTime(email.replied_at) : "no"}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <Pager label="More emails" cursor={page.next_cursor} onMore={loadMore} />
            </>
          )
        }
      </Show>
    </section>
  );
}
