// Editing a deal's title, amount, close date and contact. Only the fields changed are sent; an
// empty amount or close date clears it. A deal with lines has their sum as its amount.
import { useState } from "react";
import type { FormEvent } from "react";
import { query } from "../../api";
import { useSession } from "../../session";
import { ErrorBox, useLoad } from "../../ui";
import { BASE } from "./types";
import type { Contact, Deal, DealPatch, Page } from "./types";

export function DealEditForm({ deal, onSaved }: { deal: Deal; onSaved: (changed: Deal) => void }) {
  const { api } = useSession();
  const contacts = useLoad(
    () => api.get<Page<Contact>>(`${BASE}/contacts${query({ company_id: deal.company_id, limit: 200 })}`),
    deal.company_id,
  );
  const [title, setTitle] = useState(deal.title);
  const [amount, setAmount] = useState(deal.amount ?? "");
  const [closeDate, setCloseDate] = useState(deal.close_date ?? "");
  const [contact, setContact] = useState(deal.contact_id ?? "");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const hasLines = deal.lines.length > 0;

  const patch = (): DealPatch => {
    const body: DealPatch = {};
    if (title.trim() !== deal.title) body.title = title.trim();
    if (!hasLines && amount.trim() !== (deal.amount ?? "")) body.amount = amount.trim() || null;
    if (closeDate !== (deal.close_date ?? "")) body.close_date = closeDate || null;
    if (contact !== (deal.contact_id ?? "")) body.contact_id = contact || null;
    return body;
  };
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      const changed = await api.request<Deal>("PATCH", `${BASE}/deals/${encodeURIComponent(deal.id)}`, patch());
      setAmount(changed.amount ?? "");
      setSaved(true);
      onSaved(changed);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  const choices = contacts.data?.items ?? [];
  return (
    <form className="card inline-form" aria-label="Edit the deal" onSubmit={submit}>
      <label>
        Title <input value={title} onChange={(event) => setTitle(event.target.value)} maxLength={200} required />
      </label>
      <label>
        Amount in {deal.currency}{" "}
        <input
          value={hasLines ? (deal.amount ?? "") : amount}
          onChange={(event) => setAmount(event.target.value)}
          inputMode="decimal"
          pattern="\d+(\.\d+)?"
          size={12}
          readOnly={hasLines}
          aria-describedby={hasLines ? "deal-amount-note" : undefined}
        />
      </label>
      {hasLines ? (
        <span id="deal-amount-note" className="muted small">
          the sum of the lines
        </span>
      ) : null}
      <label>
        Close date <input type="date" value={closeDate} onChange={(event) => setCloseDate(event.target.value)} />
      </label>
      <label>
        Contact{" "}
        <select value={contact} onChange={(event) => setContact(event.target.value)}>
          <option value="">none</option>
          {choices.map((item) => (
            <option key={item.id} value={item.id}>
              {item.name} ({item.email})
            </option>
          ))}
        </select>
      </label>
      <button type="submit" disabled={busy || Object.keys(patch()).length === 0} aria-busy={busy}>
        Save
      </button>
      {saved ? <span role="status">Saved.</span> : null}
      {error ? <ErrorBox error={error} title="The deal was not saved" /> : null}
    </form>
  );
}
