// The product catalog: every product by SKU with its price and whether it is offered, a form to
// add one and a button to retire one (deals that have it keep it; new lines cannot use it).
import { useState } from "react";
import type { FormEvent } from "react";
import { useSession } from "../../session";
import { ActionButton, Can, Empty, ErrorBox, Show, useLoad, usePageTitle } from "../../ui";
import { money } from "./money";
import { BASE } from "./types";
import type { NewProduct, Product } from "./types";

export function ProductsPage() {
  usePageTitle("Products");
  const { api } = useSession();
  const [shown, setShown] = useState("");
  const path = `${BASE}/products${shown ? `?active=${shown}` : ""}`;
  const products = useLoad(() => api.get<Product[]>(path), path);
  return (
    <section>
      <div className="page-head">
        <h1>Products</h1>
      </div>
      <Can action="runs.start">
        <ProductForm onCreated={() => void products.reload()} />
      </Can>
      <form className="filters" role="search" aria-label="Filter products" onSubmit={(event) => event.preventDefault()}>
        <div className="field">
          <label htmlFor="product-shown">Show</label>
          <select id="product-shown" value={shown} onChange={(event) => setShown(event.target.value)}>
            <option value="">all products</option>
            <option value="true">offered</option>
            <option value="false">retired</option>
          </select>
        </div>
      </form>
      <Show loaded={products} label="Loading the catalog…">
        {(items) =>
          items.length === 0 ? (
            <Empty>{shown ? "No products here." : "The catalog is empty: add a product."}</Empty>
          ) : (
            <div className="table-scroll">
              <table className="sales-table" aria-label="Catalog">
                <thead>
                  <tr>
                    <th scope="col">SKU</th>
                    <th scope="col">Name</th>
                    <th scope="col" className="num">Unit price</th>
                    <th scope="col">Active</th>
                    <th scope="col">
                      <span className="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((product) => (
                    <tr key={product.id}>
                      <th scope="row">{product.sku}</th>
                      <td>
                        {product.name}
                        {product.description ? <span className="muted small"> · {product.description}</span> : null}
                      </td>
                      <td className="num">{money(product.unit_price, product.currency)}</td>
                      <td>{product.active ? "offered" : "retired"}</td>
                      <td>
                        {product.active ? (
                          <Can action="runs.start">
                            <ActionButton
                              onAction={async () => {
                                await api.post(`${BASE}/products/${encodeURIComponent(product.id)}/retire`);
                                await products.reload();
                              }}
                            >
                              Retire <span className="sr-only">{product.sku}</span>
                            </ActionButton>
                          </Can>
                        ) : null}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </Show>
    </section>
  );
}

const EMPTY = { sku: "", name: "", description: "", unit_price: "", currency: "EUR" };

function ProductForm({ onCreated }: { onCreated: () => void }) {
  const { api } = useSession();
  const [form, setForm] = useState(EMPTY);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const set = (name: keyof typeof EMPTY, value: string) => setForm({ ...form, [name]: value });
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body: NewProduct = {
        sku: form.sku.trim(),
        name: form.name.trim(),
        description: form.description.trim(),
        unit_price: form.unit_price.trim(),
        currency: form.currency.trim().toUpperCase(),
      };
      await api.post(`${BASE}/products`, body);
      setForm(EMPTY);
      onCreated();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card inline-form" aria-label="New product" onSubmit={submit}>
      <label>
        SKU <input value={form.sku} onChange={(event) => set("sku", event.target.value)} maxLength={64} size={10} required />
      </label>
      <label>
        Name <input value={form.name} onChange={(event) => set("name", event.target.value)} maxLength={200} required />
      </label>
      <label>
        Description <input value={form.description} onChange={(event) => set("description", event.target.value)} maxLength={10000} />
      </label>
      <label>
        Unit price{" "}
        <input
          value={form.unit_price}
          onChange={(event) => set("unit_price", event.target.value)}
          inputMode="decimal"
          pattern="\d+(\.\d+)?"
          size={10}
          required
        />
      </label>
      <label>
        Currency{" "}
        <input value={form.currency} onChange={(event) => set("currency", event.target.value)} pattern="[A-Za-z]{3}" maxLength={3} size={4} required />
      </label>
      <button type="submit" disabled={busy} aria-busy={busy}>
        Add product
      </button>
      {error ? <ErrorBox error={error} title="The product was not added" /> : null}
    </form>
  );
}
