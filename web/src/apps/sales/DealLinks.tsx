// A deal's invoices, contracts and emails as short linked lists (the first page of each).
import { formatTime } from "../../format";
import { Link } from "../../router";
import { useSession } from "../../session";
import { Show, useLoad } from "../../ui";
import { money } from "./money";
import { Badge } from "./shared";
import { BASE } from "./types";
import type { Contract, Email, Invoice, Page } from "./types";

interface Linked {
  invoices: Page<Invoice>;
  contracts: Page<Contract>;
  emails: Page<Email>;
}

export function DealLinks({ dealId }: { dealId: string }) {
  const { api } = useSession();
  const by = `deal_id=${encodeURIComponent(dealId)}`;
  const linked = useLoad<Linked>(async () => {
    const [invoices, contracts, emails] = await Promise.all([
      api.get<Page<Invoice>>(`${BASE}/invoices?${by}`),
      api.get<Page<Contract>>(`${BASE}/contracts?${by}`),
      api.get<Page<Email>>(`${BASE}/emails?${by}`),
    ]);
    return { invoices, contracts, emails };
  }, dealId);
  const more = (page: Page<unknown>, to: string) =>
    page.next_cursor ? (
      <li>
        <Link to={to}>all of them</Link>
      </li>
    ) : null;
  const id = encodeURIComponent(dealId);
  return (
    <Show loaded={linked} label="Loading the deal's invoices, contracts and emails…">
      {({ invoices, contracts, emails }) => (
        <div className="sales-links">
          <section className="card" aria-label="Invoices of the deal">
            <h2>Invoices</h2>
            {invoices.items.length === 0 ? <p className="muted">None yet.</p> : null}
            <ul>
              {invoices.items.map((invoice) => (
                <li key={invoice.id}>
                  <Link to={`/apps/sales/invoices?invoice=${encodeURIComponent(invoice.id)}`}>{invoice.number ?? "draft"}</Link>{" "}
                  <Badge status={invoice.status} /> {money(invoice.total, invoice.currency)}
                </li>
              ))}
              {more(invoices, `/apps/sales/invoices?deal=${id}`)}
            </ul>
          </section>
          <section className="card" aria-label="Contracts of the deal">
            <h2>Contracts</h2>
            {contracts.items.length === 0 ? <p className="muted">None yet.</p> : null}
            <ul>
              {contracts.items.map((contract) => (
                <li key={contract.id}>
                  <Link to={`/apps/sales/contracts?contract=${encodeURIComponent(contract.id)}`}>{contract.title}</Link>{" "}
                  <Badge status={contract.status} /> v{contract.version}
                </li>
              ))}
            </ul>
          </section>
          <section className="card" aria-label="Emails of the deal">
            <h2>Emails</h2>
            {emails.items.length === 0 ? <p className="muted">None yet.</p> : null}
            <ul>
              {emails.items.map((email) => (
                <li key={email.id}>
                  <Link to={`/apps/sales/emails?email=${encodeURIComponent(email.id)}`}>{email.subject}</Link>{" "}
                  <Badge status={email.status} /> {formatTime(email.created_at)}
                </li>
              ))}
              {more(emails, `/apps/sales/emails?deal=${id}`)}
            </ul>
          </section>
        </div>
      )}
    </Show>
  );
}
