// One deal: its facts, its lines with quantity, unit price, discount and net, the totals the
// server computed, adding a line from the catalog, its negotiation, its invoices, contracts and
// emails, its stage history and an editing form.
import { useState } from "react";
import type { FormEvent } from "react";
import { formatTime } from "../../format";
import { Link } from "../../router";
import { useSession } from "../../session";
import { ActionButton, Can, ErrorBox, Show, useLoad } from "../../ui";
import { DealEditForm } from "./DealEditForm";
import { DealLinks } from "./DealLinks";
import { fractionOf, money, percentOf } from "./money";
import { Negotiation } from "./Negotiation";
import { Timeline } from "./Timeline";
import { BASE } from "./types";
import type { Company, Deal, LineIn, Pipeline, Product } from "./types";

interface Context {
  company: Company;
  stages: Map<string, string>;
  products: Product[];
}

/** A deal's lines as the API takes them back: each keeps the price it was written with. */
export function linesIn(deal: Deal): LineIn[] {
  return deal.lines.map((line) => ({
    product_id: line.product_id,
    quantity: line.quantity,
    unit_price: line.unit_price,
    discount: line.discount,
    description: line.description,
  }));
}

export function DealDetail({ dealId }: { dealId: string }) {
  const { api } = useSession();
  const path = `${BASE}/deals/${encodeURIComponent(dealId)}`;
  const deal = useLoad(() => api.get<Deal>(path), dealId);
  const pipelineId = deal.data?.pipeline_id ?? "";
  const companyId = deal.data?.company_id ?? "";
  const context = useLoad<Context | null>(async () => {
    if (!pipelineId) return null;
    const [company, pipeline, products] = await Promise.all([
      api.get<Company>(`${BASE}/companies/${encodeURIComponent(companyId)}`),
      api.get<Pipeline>(`${BASE}/pipelines/${encodeURIComponent(pipelineId)}`),
      api.get<Product[]>(`${BASE}/products`),
    ]);
    return { company, products, stages: new Map(pipeline.stages.map((stage) => [stage.id, stage.name])) };
  }, `${pipelineId}:${companyId}`);
  const save = async (lines: LineIn[]) => deal.setData(await api.request<Deal>("PATCH", path, { lines }));
  return (
    <section>
      <p>
        <Link to="/apps/sales/deals">All deals</Link>
      </p>
      <Show loaded={deal} label="Loading the deal…">
        {(found) => {
          const known = context.data ?? null;
          const product = (id: string) => known?.products.find((item) => item.id === id);
          const stage = (id: string | null) => (id === null ? "—" : (known?.stages.get(id) ?? id));
          return (
            <>
              <div className="page-head">
                <h1>{found.title}</h1>
              </div>
              {context.error ? <ErrorBox error={context.error} title="Names could not be loaded" /> : null}
              <dl className="facts" aria-label="Deal">
                <dt>Company</dt>
                <dd>{known?.company.name ?? "…"}</dd>
                <dt>Stage</dt>
                <dd>
                  {found.stage.name} ({found.probability ?? found.stage.probability} %)
                </dd>
                <dt>Amount</dt>
                <dd>{money(found.amount, found.currency)}</dd>
                <dt>Close date</dt>
                <dd>{found.close_date ?? "—"}</dd>
                <dt>Owner</dt>
                <dd>{found.owner ?? "—"}</dd>
              </dl>
              <Can action="runs.start">
                <DealEditForm deal={found} onSaved={(changed) => deal.setData(changed)} />
              </Can>
              <div className="card">
                <h2>Lines</h2>
                <div className="table-scroll">
                  <table className="sales-table" aria-label="Lines">
                    <thead>
                      <tr>
                        <th scope="col">Product</th>
                        <th scope="col" className="num">Quantity</th>
                        <th scope="col" className="num">Unit price</th>
                        <th scope="col" className="num">Discount</th>
                        <th scope="col" className="num">Net</th>
                        <th scope="col">
                          <span className="sr-only">Actions</span>
                        </th>
                      </tr>
                    </thead>
                    <tbody>
                      {found.lines.length === 0 ? (
                        <tr>
                          <td colSpan={6} className="muted">
                            No lines: the deal's amount is set by hand.
                          </td>
                        </tr>
                      ) : null}
                      {found.lines.map((line, index) => (
                        <tr key={line.id}>
                          <th scope="row">
                            {product(line.product_id)?.sku ?? "…"} {line.description}
                          </th>
                          <td className="num">{line.quantity}</td>
                          <td className="num">{money(line.unit_price, found.currency)}</td>
                          <td className="num">{percentOf(line.discount)}</td>
                          <td className="num">{money(line.net, found.currency)}</td>
                          <td>
                            <Can action="runs.start">
                              <ActionButton onAction={() => save(linesIn(found).filter((_, at) => at !== index))}>
                                Remove <span className="sr-only">line {index + 1}</span>
                              </ActionButton>
                            </Can>
                          </td>
                        </tr>
                      ))}
                    </tbody>
                    <tfoot>
                      <tr>
                        <th scope="row" colSpan={4}>
                          Subtotal
                        </th>
                        <td className="num">{money(found.totals.subtotal, found.currency)}</td>
                        <td />
                      </tr>
                      <tr>
                        <th scope="row" colSpan={4}>
                          Discount
                        </th>
                        <td className="num">{money(found.totals.discount, found.currency)}</td>
                        <td />
                      </tr>
                      <tr>
                        <th scope="row" colSpan={4}>
                          Net
                        </th>
                        <td className="num">{money(found.totals.net, found.currency)}</td>
                        <td />
                      </tr>
                    </tfoot>
                  </table>
                </div>
                <Can action="runs.start">
                  <AddLine deal={found} products={known?.products ?? []} onAdd={(line) => save([...linesIn(found), line])} />
                </Can>
              </div>
              <Negotiation dealId={found.id} />
              <DealLinks dealId={found.id} />
              <Timeline entity="deal" id={found.id} />
              <div className="card">
                <h2>Stage history</h2>
                <div className="table-scroll">
                  <table className="sales-table" aria-label="Stage history">
                    <thead>
                      <tr>
                        <th scope="col">From</th>
                        <th scope="col">To</th>
                        <th scope="col">By</th>
                        <th scope="col">Why</th>
                        <th scope="col">When</th>
                      </tr>
                    </thead>
                    <tbody>
                      {found.history.map((move) => (
                        <tr key={move.id}>
                          <td>{stage(move.from_stage_id)}</td>
                          <td>{stage(move.to_stage_id)}</td>
                          <td>
                            {move.actor_kind === "agent" ? `agent ${move.actor}` : move.actor}
                            {move.run_id ? (
                              <>
                                {" "}
                                (<Link to={`/runs/${encodeURIComponent(move.run_id)}`}>run</Link>)
                              </>
                            ) : null}
                          </td>
                          <td>{move.reason || "—"}</td>
                          <td>{formatTime(move.at)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              </div>
            </>
          );
        }}
      </Show>
    </section>
  );
}

function AddLine({ deal, products, onAdd }: { deal: Deal; products: Product[]; onAdd: (line: LineIn) => Promise<void> }) {
  const offered = products.filter((product) => product.active);
  const [productId, setProductId] = useState("");
  const [quantity, setQuantity] = useState("1");
  const [discount, setDiscount] = useState("0");
  const [price, setPrice] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const chosen = offered.find((product) => product.id === productId);
  const foreign = chosen !== undefined && chosen.currency !== deal.currency;
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const fraction = fractionOf(discount);
    if (fraction === null) {
      setError(new Error(`the discount '${discount}' is not a percentage (like 15 or 7.5)`));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await onAdd({ product_id: productId, quantity: quantity.trim(), discount: fraction, unit_price: price.trim() || null });
      setProductId("");
      setQuantity("1");
      setDiscount("0");
      setPrice("");
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="inline-form" aria-label="Add a line" onSubmit={submit}>
      <label>
        Product{" "}
        <select value={productId} onChange={(event) => setProductId(event.target.value)} required>
          <option value="">choose…</option>
          {offered.map((product) => (
            <option key={product.id} value={product.id}>
              {product.sku} · {product.name} · {money(product.unit_price, product.currency)}
            </option>
          ))}
        </select>
      </label>
      <label>
        Quantity <input value={quantity} onChange={(event) => setQuantity(event.target.value)} inputMode="decimal" size={6} required />
      </label>
      <label>
        Discount % <input value={discount} onChange={(event) => setDiscount(event.target.value)} inputMode="decimal" size={5} />
      </label>
      <label>
        Unit price in {deal.currency}{" "}
        <input
          value={price}
          onChange={(event) => setPrice(event.target.value)}
          inputMode="decimal"
          size={10}
          required={foreign}
          placeholder={foreign ? "required" : "catalog's"}
        />
      </label>
      <button type="submit" disabled={busy || !productId} aria-busy={busy}>
        Add line
      </button>
      {error ? <ErrorBox error={error} title="The line was not added" /> : null}
    </form>
  );
}
