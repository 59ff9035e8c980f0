// The invoices: newest first, filtered by status or deal, with "Load more"; a draft made from a
// deal; the chosen one (?invoice=<id>) opens with its lines, totals, payments and reminders.
import { useState } from "react";
import type { FormEvent } from "react";
import { query } from "../../api";
import { Link, navigate, useLocation } from "../../router";
import { useSession } from "../../session";
import { Can, Empty, ErrorBox, Show, useLoad, usePageTitle } from "../../ui";
import { InvoiceDetail } from "./InvoiceDetail";
import { useCompanyNames } from "./lookups";
import { fractionOf, money } from "./money";
import { Badge, Pager } from "./shared";
import { BASE, INVOICE_STATUSES } from "./types";
import type { DealSummary, Invoice, Page } from "./types";

export const invoicePath = (id: string) => `/apps/sales/invoices?invoice=${encodeURIComponent(id)}`;

export function InvoicesPage() {
  const { search } = useLocation();
  const chosen = search.get("invoice");
  usePageTitle(chosen ? "Invoice" : "Invoices");
  return chosen ? <InvoiceDetail key={chosen} invoiceId={chosen} /> : <InvoiceList />;
}

function InvoiceList() {
  const { api } = useSession();
  const { search } = useLocation();
  const [status, setStatus] = useState("");
  const [dealId, setDealId] = useState(search.get("deal") ?? "");
  const params = { status, deal_id: dealId.trim() };
  const path = `${BASE}/invoices${query(params)}`;
  const invoices = useLoad(() => api.get<Page<Invoice>>(path), path);
  const names = useCompanyNames(invoices.data?.items.map((invoice) => invoice.company_id) ?? []);
  const loadMore = async (cursor: string) => {
    const next = await api.get<Page<Invoice>>(`${BASE}/invoices${query({ ...params, cursor })}`);
    invoices.setData((old) => (old ? { items: [...old.items, ...next.items], next_cursor: next.next_cursor } : next));
  };
  return (
    <section>
      <div className="page-head">
        <h1>Invoices</h1>
      </div>
      <Can action="runs.start">
        <FromDeal />
      </Can>
      <form className="filters" role="search" aria-label="Filter invoices" onSubmit={(event) => event.preventDefault()}>
        <div className="field">
          <label htmlFor="invoice-status">Status</label>
          <select id="invoice-status" value={status} onChange={(event) => setStatus(event.target.value)}>
            <option value="">any</option>
            {INVOICE_STATUSES.map((each) => (
              <option key={each} value={each}>
                {each}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="invoice-deal">Deal id</label>
          <input id="invoice-deal" value={dealId} onChange={(event) => setDealId(event.target.value)} size={12} />
        </div>
      </form>
      <Show loaded={invoices} label="Loading invoices…">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>{status || dealId.trim() ? "No invoice matches these filters." : "No invoices yet: make a draft from a deal."}</Empty>
          ) : (
            <>
              <div className="table-scroll">
                <table className="sales-table" aria-label="Invoices">
                  <thead>
                    <tr>
                      <th scope="col">Number</th>
                      <th scope="col">Company</th>
                      <th scope="col">Status</th>
                      <th scope="col" className="num">Total</th>
                      <th scope="col" className="num">Balance</th>
                      <th scope="col">Due</th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.items.map((invoice) => (
                      <tr key={invoice.id}>
                        <th scope="row">
                          <Link to={invoicePath(invoice.id)}>{invoice.number ?? "draft"}</Link>
                        </th>
                        <td>{names.get(invoice.company_id) ?? "…"}</td>
                        <td>
                          <Badge status={invoice.status} />
                        </td>
                        <td className="num">{money(invoice.total, invoice.currency)}</td>
                        <td className="num">{money(invoice.balance, invoice.currency)}</td>
                        <td>{invoice.due_date ?? "—"}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <Pager label="More invoices" cursor={page.next_cursor} onMore={loadMore} />
            </>
          )
        }
      </Show>
    </section>
  );
}

/** A draft invoice for one of the deals: its company, currency and lines, with a tax rate. */
function FromDeal() {
  const { api } = useSession();
  const deals = useLoad(() => api.get<Page<DealSummary>>(`${BASE}/deals`), "deals");
  const [dealId, setDealId] = useState("");
  const [tax, setTax] = useState("0");
  const [days, setDays] = useState("30");
  const [notes, setNotes] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const rate = fractionOf(tax);
    if (rate === null) {
      setError(new Error(`the tax rate '${tax}' is not a percentage (like 19 or 7.5)`));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const made = await api.post<Invoice>(`${BASE}/invoices/from-deal`, {
        deal_id: dealId,
        tax_rate: rate,
        terms_days: Number(days),
        notes: notes.trim(),
      });
      navigate(invoicePath(made.id));
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card inline-form" aria-label="Invoice a deal" onSubmit={submit}>
      <label>
        Deal{" "}
        <select value={dealId} onChange={(event) => setDealId(event.target.value)} required>
          <option value="">choose…</option>
          {(deals.data?.items ?? []).map((deal) => (
            <option key={deal.id} value={deal.id}>
              {deal.title} · {money(deal.amount, deal.currency)}
            </option>
          ))}
        </select>
      </label>
      <label>
        Tax % <input value={tax} onChange={(event) => setTax(event.target.value)} inputMode="decimal" size={5} required />
      </label>
      <label>
        Due after (days) <input type="number" min={0} max={365} value={days} onChange={(event) => setDays(event.target.value)} required />
      </label>
      <label>
        Notes <input value={notes} onChange={(event) => setNotes(event.target.value)} maxLength={5000} />
      </label>
      <button type="submit" disabled={busy || !dealId} aria-busy={busy}>
        Make a draft invoice
      </button>
      {error ? <ErrorBox error={error} title="No invoice was made" /> : null}
    </form>
  );
}
