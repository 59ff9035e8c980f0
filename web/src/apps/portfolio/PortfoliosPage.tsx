// The tenant's portfolios and a form to create one; the chosen one (?portfolio=<id>) shows its
// ledger import, its holdings at the ledger's head and its overview.
import { useState } from "react";
import type { FormEvent } from "react";
import { Link, navigate, useLocation } from "../../router";
import { useSession } from "../../session";
import { Can, Empty, ErrorBox, Show, useLoad, usePageTitle } from "../../ui";
import { formatDecimal, formatMoney } from "./figures";
import { Hash } from "./Hash";
import { ImportForm } from "./ImportForm";
import { Overview } from "./Overview";
import { BASE } from "./types";
import type { NewPortfolio, Portfolio, Positions } from "./types";

export const PAGE = "/apps/portfolio/portfolios";

interface Account {
  id: string;
  name: string;
}

export function PortfoliosPage() {
  usePageTitle("Portfolios");
  const { api } = useSession();
  const { search } = useLocation();
  const chosen = search.get("portfolio");
  const list = useLoad(() => api.get<Portfolio[]>(`${BASE}/portfolios`), "portfolios");
  return (
    <section>
      <div className="page-head">
        <h1>Portfolios</h1>
      </div>
      <Can action="runs.start">
        <CreateForm
          onCreated={async (made) => {
            await list.reload();
            navigate(`${PAGE}?portfolio=${encodeURIComponent(made.id)}`);
          }}
        />
      </Can>
      <Show loaded={list} label="Loading portfolios…">
        {(items) =>
          items.length === 0 ? (
            <Empty>No portfolios yet.</Empty>
          ) : (
            <ul className="portfolio-list" aria-label="Portfolios">
              {items.map((item) => (
                <li key={item.id}>
                  <Link to={`${PAGE}?portfolio=${encodeURIComponent(item.id)}`} aria-current={item.id === chosen ? "page" : undefined}>
                    {item.name}
                  </Link>
                  <span className="muted">
                    {" "}
                    · {item.base_currency}
                    {item.benchmark ? ` · against ${item.benchmark}` : ""}
                  </span>
                </li>
              ))}
            </ul>
          )
        }
      </Show>
      {chosen ? <PortfolioDetail key={chosen} portfolioId={chosen} /> : null}
    </section>
  );
}

function CreateForm({ onCreated }: { onCreated: (made: Portfolio) => Promise<void> }) {
  const { api } = useSession();
  const [name, setName] = useState("");
  const [currency, setCurrency] = useState("USD");
  const [benchmark, setBenchmark] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body: NewPortfolio = { name: name.trim(), base_currency: currency.trim().toUpperCase(), benchmark: benchmark.trim() || null };
      const made = await api.post<Portfolio>(`${BASE}/portfolios`, body);
      setName("");
      setBenchmark("");
      await onCreated(made);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card inline-form" aria-label="New portfolio" onSubmit={submit}>
      <label>
        Name <input value={name} onChange={(event) => setName(event.target.value)} maxLength={200} required />
      </label>
      <label>
        Base currency{" "}
        <input value={currency} onChange={(event) => setCurrency(event.target.value)} pattern="[A-Za-z]{3}" maxLength={3} size={4} required />
      </label>
      <label>
        Benchmark <input value={benchmark} onChange={(event) => setBenchmark(event.target.value)} maxLength={32} size={8} placeholder="SPY" />
      </label>
      <button type="submit" disabled={busy || !name.trim()} aria-busy={busy}>
        Create portfolio
      </button>
      {error ? <ErrorBox error={error} title="The portfolio was not created" /> : null}
    </form>
  );
}

function PortfolioDetail({ portfolioId }: { portfolioId: string }) {
  const { api } = useSession();
  const path = `${BASE}/portfolios/${encodeURIComponent(portfolioId)}`;
  const portfolio = useLoad(() => api.get<Portfolio>(path), portfolioId);
  const holdings = useLoad(async () => {
    const [positions, accounts] = await Promise.all([api.get<Positions>(`${path}/positions`), api.get<Account[]>(`${path}/accounts`)]);
    return { positions, accounts: new Map(accounts.map((account) => [account.id, account.name])) };
  }, portfolioId);
  return (
    <Show loaded={portfolio} label="Loading the portfolio…">
      {(found) => (
        <section aria-labelledby="portfolio-title">
          <h2 id="portfolio-title">{found.name}</h2>
          <p className="muted">
            Base currency {found.base_currency} · {found.benchmark ? `benchmark ${found.benchmark}` : "no benchmark"}
          </p>
          <Can action="runs.start">
            <ImportForm portfolioId={portfolioId} onImported={() => void holdings.reload()} />
          </Can>
          <div className="card">
            <h2>Holdings</h2>
            <Show loaded={holdings} label="Loading holdings…">
              {({ positions, accounts }) => (
                <>
                  <p className="muted small">
                    At ledger commit <Hash value={positions.ledger_commit_hash || null} />
                  </p>
                  {positions.positions.length === 0 ? (
                    <Empty>No positions: import a ledger CSV.</Empty>
                  ) : (
                    <div className="table-scroll">
                      <table className="portfolio-table" aria-label="Holdings">
                        <thead>
                          <tr>
                            <th scope="col">Account</th>
                            <th scope="col">Symbol</th>
                            <th scope="col" className="num">Quantity</th>
                            <th scope="col" className="num">Cost</th>
                          </tr>
                        </thead>
                        <tbody>
                          {positions.positions.map((held) => (
                            <tr key={`${held.account_id}:${held.symbol}`}>
                              <td>{accounts.get(held.account_id) ?? held.account_id}</td>
                              <th scope="row">{held.symbol}</th>
                              <td className="num">{formatDecimal(held.quantity)}</td>
                              <td className="num">{formatMoney(held.cost, held.currency)}</td>
                            </tr>
                          ))}
                        </tbody>
                      </table>
                    </div>
                  )}
                  {Object.keys(positions.cash).length > 0 ? (
                    <p>
                      Cash:{" "}
                      {Object.entries(positions.cash)
                        .map(([currency, amount]) => formatMoney(amount, currency))
                        .join(", ")}
                    </p>
                  ) : null}
                </>
              )}
            </Show>
          </div>
          <Overview portfolioId={portfolioId} />
        </section>
      )}
    </Show>
  );
}
