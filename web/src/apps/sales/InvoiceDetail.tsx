// One invoice: its lines and totals as the server computed them, its payments and payment
// reminders, and the actions its status allows: issue a draft, void a draft or an issued
// invoice nothing was paid on (after confirming), record a payment, download the PDF.
import { useState } from "react";
import type { FormEvent } from "react";
import { formatTime } from "../../format";
import { Link } from "../../router";
import { useSession } from "../../session";
import { ActionButton, Can, Show, useLoad } from "../../ui";
import { dealPath } from "./lookups";
import { money, percentOf } from "./money";
import { Badge, ConfirmButton, DownloadButton, isZero, Problems } from "./shared";
import { Timeline } from "./Timeline";
import { BASE } from "./types";
import type { Company, Invoice, Reminder } from "./types";

interface Loaded {
  invoice: Invoice;
  company: string;
  reminders: Reminder[];
}

export function InvoiceDetail({ invoiceId }: { invoiceId: string }) {
  const { api } = useSession();
  const path = `${BASE}/invoices/${encodeURIComponent(invoiceId)}`;
  const loaded = useLoad<Loaded>(async () => {
    const [invoice, reminders] = await Promise.all([api.get<Invoice>(path), api.get<Reminder[]>(`${path}/reminders`)]);
    const company = await api.get<Company>(`${BASE}/companies/${encodeURIComponent(invoice.company_id)}`).then(
      (found) => found.name,
      () => invoice.company_id,
    );
    return { invoice, company, reminders };
  }, invoiceId);
  const act = async (action: string) => {
    await api.post<Invoice>(`${path}/${action}`);
    await loaded.reload();
  };
  return (
    <section>
      <p>
        <Link to="/apps/sales/invoices">All invoices</Link>
      </p>
      <Show loaded={loaded} label="Loading the invoice…">
        {({ invoice, company, reminders }) => {
          const unpaid = invoice.status === "sent" || invoice.status === "overdue";
          const total = (label: string, amount: string) => (
            <tr>
              <th scope="row" colSpan={4}>
                {label}
              </th>
              <td className="num">{money(amount, invoice.currency)}</td>
            </tr>
          );
          return (
            <>
              <div className="page-head">
                <h1>Invoice {invoice.number ?? "(draft)"}</h1>
              </div>
              <dl className="facts" aria-label="Invoice">
                <dt>Company</dt>
                <dd>{company}</dd>
                <dt>Status</dt>
                <dd>
                  <Badge status={invoice.status} />
                </dd>
                <dt>Issued</dt>
                <dd>{invoice.issue_date ?? "—"}</dd>
                <dt>Due</dt>
                <dd>{invoice.due_date ?? `${invoice.terms_days} days after issue`}</dd>
                {invoice.deal_id ? (
                  <>
                    <dt>Deal</dt>
                    <dd>
                      <Link to={dealPath(invoice.deal_id)}>open the deal</Link>
                    </dd>
                  </>
                ) : null}
              </dl>
              {invoice.notes ? <p className="sales-notes">{invoice.notes}</p> : null}
              <div className="sales-actions" role="group" aria-label="Invoice actions">
                <DownloadButton path={`${path}/pdf`} fallback={`invoice-${invoice.number ?? invoice.id}.pdf`}>
                  Download PDF
                </DownloadButton>
                <Can action="runs.start">
                  {invoice.status === "draft" ? <ActionButton onAction={() => act("issue")}>Issue</ActionButton> : null}
                  {invoice.status === "draft" || (unpaid && isZero(invoice.paid)) ? (
                    <ConfirmButton label="Void" question="Void this invoice? It cannot be undone." onAction={() => act("void")} />
                  ) : null}
                </Can>
              </div>
              <div className="card">
                <h2>Lines</h2>
                <div className="table-scroll">
                  <table className="sales-table" aria-label="Invoice lines">
                    <thead>
                      <tr>
                        <th scope="col">Description</th>
                        <th scope="col" className="num">Quantity</th>
                        <th scope="col" className="num">Unit price</th>
                        <th scope="col" className="num">Discount</th>
                        <th scope="col" className="num">Net</th>
                      </tr>
                    </thead>
                    <tbody>
                      {(invoice.lines ?? []).map((line) => (
                        <tr key={line.position}>
                          <th scope="row">{line.description}</th>
                          <td className="num">{line.quantity}</td>
                          <td className="num">{money(line.unit_price, invoice.currency)}</td>
                          <td className="num">{percentOf(line.discount)}</td>
                          <td className="num">{money(line.net, invoice.currency)}</td>
                        </tr>
                      ))}
                    </tbody>
                    <tfoot>
                      {total("Subtotal", invoice.subtotal)}
                      {total(`Tax ${percentOf(invoice.tax_rate)}`, invoice.tax)}
                      {total("Total", invoice.total)}
                      {total("Paid", invoice.paid)}
                      {total("Balance", invoice.balance)}
                    </tfoot>
                  </table>
                </div>
              </div>
              <div className="card">
                <h2>Payments</h2>
                {(invoice.payments ?? []).length === 0 ? (
                  <p className="muted">No payment recorded.</p>
                ) : (
                  <ul aria-label="Payments">
                    {(invoice.payments ?? []).map((payment) => (
                      <li key={payment.id}>
                        {money(payment.amount, invoice.currency)} on {payment.paid_on}
                        {payment.reference ? ` (${payment.reference})` : ""} · recorded by {payment.actor}
                      </li>
                    ))}
                  </ul>
                )}
                {unpaid ? (
                  <Can action="runs.start">
                    <PaymentForm invoice={invoice} path={path} onRecorded={() => void loaded.reload()} />
                  </Can>
                ) : null}
              </div>
              <div className="card">
                <h2>Reminders</h2>
                {reminders.length === 0 ? (
                  <p className="muted">No payment reminder yet.</p>
                ) : (
                  <div className="table-scroll">
                    <table className="sales-table" aria-label="Reminders">
                      <thead>
                        <tr>
                          <th scope="col">Level</th>
                          <th scope="col">Due on</th>
                          <th scope="col">State</th>
                          <th scope="col">When</th>
                        </tr>
                      </thead>
                      <tbody>
                        {reminders.map((reminder) => (
                          <tr key={reminder.level}>
                            <th scope="row">{reminder.level}</th>
                            <td>{reminder.due_on}</td>
                            <td>
                              {reminder.email_id ? (
                                <Link to={`/apps/sales/emails?email=${encodeURIComponent(reminder.email_id)}`}>{reminder.state}</Link>
                              ) : (
                                reminder.state
                              )}
                            </td>
                            <td>{formatTime(reminder.created_at)}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                )}
              </div>
              <Timeline entity="invoice" id={invoice.id} />
            </>
          );
        }}
      </Show>
    </section>
  );
}

function PaymentForm({ invoice, path, onRecorded }: { invoice: Invoice; path: string; onRecorded: () => void }) {
  const { api } = useSession();
  const [amount, setAmount] = useState(invoice.balance);
  const [paidOn, setPaidOn] = useState("");
  const [reference, setReference] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.post<Invoice>(`${path}/payments`, { amount: amount.trim(), paid_on: paidOn || null, reference: reference.trim() });
      onRecorded();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="inline-form" aria-label="Record a payment" onSubmit={submit}>
      <label>
        Amount in {invoice.currency} <input value={amount} onChange={(event) => setAmount(event.target.value)} inputMode="decimal" size={10} required />
      </label>
      <label>
        Paid on <input type="date" value={paidOn} onChange={(event) => setPaidOn(event.target.value)} />
      </label>
      <label>
        Reference <input value={reference} onChange={(event) => setReference(event.target.value)} maxLength={200} />
      </label>
      <button type="submit" disabled={busy} aria-busy={busy}>
        Record payment
      </button>
      {error ? <Problems error={error} title="The payment was not recorded" /> : null}
    </form>
  );
}
