// A deal's negotiation: each round's customer offer and our response (terms, discount, net,
// the policy's verdict with its reasons, who approved it), a form to record the customer's
// counter-offer that shows the verdict and the response code computed, and "Approve" on a
// round beyond policy for a person with the role its verdict names.
import { useState } from "react";
import type { FormEvent } from "react";
import { useSession } from "../../session";
import { ActionButton, Can, ErrorBox, Show, useLoad } from "../../ui";
import { money } from "./money";
import { Badge } from "./shared";
import { BASE } from "./types";
import type { CounterOffer, NegotiationRound, Offer } from "./types";

const PARTY = { customer: "Customer", us: "Us" } as const;

/** An offer's terms, line by line: "SEAT 25% · ONB 10%". */
function termsOf(offer: Offer): string {
  const lines = Array.isArray(offer.terms.lines) ? (offer.terms.lines as { sku: string; discount: string }[]) : [];
  return lines.map((line) => `${line.sku} ${line.discount}%`).join(" · ") || "—";
}

export function Negotiation({ dealId }: { dealId: string }) {
  const { api, me } = useSession();
  const path = `${BASE}/deals/${encodeURIComponent(dealId)}/offers`;
  const offers = useLoad(() => api.get<Offer[]>(path), dealId);
  const [latest, setLatest] = useState<NegotiationRound | null>(null);
  const roles: string[] = me?.roles ?? [];
  const mayApprove = (offer: Offer) => offer.role_needed !== null && (roles.includes(offer.role_needed) || roles.includes("admin"));
  return (
    <div className="card">
      <h2>Negotiation</h2>
      <Show loaded={offers} label="Loading the negotiation…">
        {(items) => {
          const last = items.reduce((most, offer) => Math.max(most, offer.round), 0);
          return items.length === 0 ? (
            <p className="muted">No counter-offer yet.</p>
          ) : (
            <div className="table-scroll">
              <table className="sales-table" aria-label="Offers">
                <thead>
                  <tr>
                    <th scope="col">Round</th>
                    <th scope="col">Party</th>
                    <th scope="col">Terms</th>
                    <th scope="col" className="num">Discount</th>
                    <th scope="col" className="num">Net</th>
                    <th scope="col">Verdict</th>
                    <th scope="col">Approved by</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((offer) => (
                    <tr key={offer.id}>
                      <th scope="row">{offer.round}</th>
                      <td>
                        {PARTY[offer.party]} <Badge status={offer.action} />
                        {offer.reply ? <div className="small">{offer.reply}</div> : null}
                      </td>
                      <td>{termsOf(offer)}</td>
                      <td className="num">{offer.discount}%</td>
                      <td className="num">{money(offer.net_amount, offer.currency)}</td>
                      <td>
                        <Badge status={offer.verdict} />
                        {offer.role_needed && !offer.approved_by ? ` needs ${withArticle(offer.role_needed)}` : ""}
                        {offer.verdict_reasons.length > 0 ? (
                          <ul className="small">
                            {offer.verdict_reasons.map((reason) => (
                              <li key={reason}>{reason}</li>
                            ))}
                          </ul>
                        ) : null}
                      </td>
                      <td>
                        {offer.approved_by ??
                          (offer.party === "customer" && offer.verdict === "needs_approval" && offer.round === last && mayApprove(offer) ? (
                            <Approve
                              round={offer.round}
                              onApprove={async () => {
                                setLatest(await api.post<NegotiationRound>(`${path}/${encodeURIComponent(offer.id)}/approve`));
                                await offers.reload();
                              }}
                            />
                          ) : (
                            "—"
                          ))}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          );
        }}
      </Show>
      {latest ? <RoundOutcome round={latest} /> : null}
      <Can action="runs.start">
        <CounterForm
          onRecord={async (body) => {
            setLatest(await api.post<NegotiationRound>(path, body));
            await offers.reload();
          }}
        />
      </Can>
    </div>
  );
}

function Approve({ round, onApprove }: { round: number; onApprove: () => Promise<void> }) {
  return (
    <ActionButton onAction={onApprove}>
      Approve <span className="sr-only">round {round}</span>
    </ActionButton>
  );
}

/** "a reviewer", "an admin". */
function withArticle(role: string): string {
  return `${/^[aeiou]/i.test(role) ? "an" : "a"} ${role}`;
}

/** The round just recorded or approved: the verdict on the customer's terms and our answer. */
function RoundOutcome({ round }: { round: NegotiationRound }) {
  const { customer, response } = round;
  return (
    <div className="state" role="status" aria-label="Latest round">
      <p>
        Round {customer.round}: the customer's {customer.discount}% ({money(customer.net_amount, customer.currency)}):{" "}
        <Badge status={customer.verdict} />
        {customer.role_needed ? ` (needs ${withArticle(customer.role_needed)})` : ""}.
      </p>
      {customer.verdict_reasons.length > 0 ? (
        <ul>
          {customer.verdict_reasons.map((reason) => (
            <li key={reason}>{reason}</li>
          ))}
        </ul>
      ) : null}
      <p>
        We {response.action} at {response.discount}% ({money(response.net_amount, response.currency)}).
      </p>
    </div>
  );
}

function CounterForm({ onRecord }: { onRecord: (body: CounterOffer) => Promise<void> }) {
  const [basis, setBasis] = useState<"discount" | "total">("discount");
  const [value, setValue] = useState("");
  const [message, setMessage] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onRecord({ [basis]: value.trim(), message: message.trim() });
      setValue("");
      setMessage("");
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="sales-form" aria-label="Customer counter-offer" onSubmit={submit}>
      <h3>Record a customer counter-offer</h3>
      <fieldset className="inline-form">
        <legend>The customer asks for</legend>
        <label>
          <input type="radio" name="basis" checked={basis === "discount"} onChange={() => setBasis("discount")} /> a discount
        </label>
        <label>
          <input type="radio" name="basis" checked={basis === "total"} onChange={() => setBasis("total")} /> a total
        </label>
        <label>
          {basis === "discount" ? "Discount %" : "Target total"}{" "}
          <input value={value} onChange={(event) => setValue(event.target.value)} inputMode="decimal" size={10} required />
        </label>
      </fieldset>
      <div className="sales-notes-field">
        <label htmlFor="counter-message">The customer's words (optional)</label>
        <textarea id="counter-message" value={message} onChange={(event) => setMessage(event.target.value)} rows={2} maxLength={4000} />
      </div>
      <button type="submit" disabled={busy} aria-busy={busy}>
        Record counter-offer
      </button>
      {error ? <ErrorBox error={error} title="The counter-offer was not recorded" /> : null}
    </form>
  );
}

