// The tenant's deals, newest first, searchable by title with "Load more"; the chosen one
// (?deal=<id>) opens with its lines, totals, stage history and an editing form.
import { useState } from "react";
import { query } from "../../api";
import { Link, useLocation } from "../../router";
import { useSession } from "../../session";
import { Empty, Show, useLoad, usePageTitle } from "../../ui";
import { DealDetail } from "./DealDetail";
import { dealPath, useCompanyNames } from "./lookups";
import { money } from "./money";
import { BASE } from "./types";
import type { DealSummary, Page } from "./types";

export function DealsPage() {
  const { search } = useLocation();
  const chosen = search.get("deal");
  usePageTitle(chosen ? "Deal" : "Deals");
  return chosen ? <DealDetail key={chosen} dealId={chosen} /> : <DealList />;
}

function DealList() {
  const { api } = useSession();
  const [q, setQ] = useState("");
  const [more, setMore] = useState<unknown>(null);
  const path = `${BASE}/deals${query({ q: q.trim() })}`;
  const deals = useLoad(() => api.get<Page<DealSummary>>(path), path);
  const names = useCompanyNames(deals.data?.items.map((deal) => deal.company_id) ?? []);
  const loadMore = async (cursor: string) => {
    setMore(null);
    try {
      const next = await api.get<Page<DealSummary>>(`${BASE}/deals${query({ q: q.trim(), cursor })}`);
      deals.setData((old) => (old ? { items: [...old.items, ...next.items], next_cursor: next.next_cursor } : next));
    } catch (caught) {
      setMore(caught);
    }
  };
  return (
    <section>
      <div className="page-head">
        <h1>Deals</h1>
      </div>
      <form className="filters" role="search" aria-label="Filter deals" onSubmit={(event) => event.preventDefault()}>
        <div className="field">
          <label htmlFor="deal-search">Search titles</label>
          <input id="deal-search" type="search" value={q} onChange={(event) => setQ(event.target.value)} />
        </div>
      </form>
      <Show loaded={deals} label="Loading deals…">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>{q.trim() ? "No deal has that in its title." : "No deals yet."}</Empty>
          ) : (
            <>
              <div className="table-scroll">
                <table className="sales-table" aria-label="Deals">
                  <thead>
                    <tr>
                      <th scope="col">Title</th>
                      <th scope="col">Company</th>
                      <th scope="col" className="num">Amount</th>
                      <th scope="col">Close date</th>
                      <th scope="col">Owner</th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.items.map((deal) => (
                      <tr key={deal.id}>
                        <th scope="row">
                          <Link to={dealPath(deal.id)}>{deal.title}</Link>
                        </th>
                        <td>{names.get(deal.company_id) ?? "…"}</td>
                        <td className="num">{money(deal.amount, deal.currency)}</td>
                        <td>{deal.close_date ?? "—"}</td>
                        <td>{deal.owner ?? "—"}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <nav className="pager" aria-label="More deals">
                {page.next_cursor ? (
                  <button type="button" onClick={() => void loadMore(page.next_cursor as string)}>
                    Load more
                  </button>
                ) : null}
              </nav>
              {more ? (
                <p className="inline-error" role="alert">
                  More deals could not be loaded: {more instanceof Error ? more.message : String(more)}
                </p>
              ) : null}
            </>
          )
        }
      </Show>
    </section>
  );
}
