// The tenant's leads: filters (status, owner, source, minimum score, search), a table a page at a
// time with "Load more", and each lead's row opening its score reasons, notes and status moves.
import { Fragment, useState } from "react";
import { query } from "../../api";
import { formatTime } from "../../format";
import { useSession } from "../../session";
import { Can, Empty, Show, useLoad, usePageTitle } from "../../ui";
import { LeadDetail } from "./LeadDetail";
import { LeadImportForm, NewLeadForm } from "./LeadForms";
import { BASE, LEAD_STATUSES } from "./types";
import type { Lead, Page } from "./types";

interface Filters {
  status: string;
  owner: string;
  source: string;
  min_score: string;
  q: string;
}

const NO_FILTERS: Filters = { status: "", owner: "", source: "", min_score: "", q: "" };

export function leadsPath(filters: Filters, cursor: string | null = null): string {
  return `${BASE}/leads${query({ ...filters, q: filters.q.trim(), owner: filters.owner.trim(), source: filters.source.trim(), cursor })}`;
}

export function ScoreBadge({ score }: { score: number | null }) {
  if (score === null) return <span className="badge score-none">unscored</span>;
  const band = score >= 70 ? "high" : score >= 40 ? "mid" : "low";
  return (
    <span className={`badge score-${band}`} aria-label={`score ${score} of 100 (${band})`}>
      {score}
    </span>
  );
}

export function LeadsPage() {
  usePageTitle("Leads");
  const { api } = useSession();
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [open, setOpen] = useState<string | null>(null);
  const [more, setMore] = useState<unknown>(null);
  const path = leadsPath(filters);
  const leads = useLoad(() => api.get<Page<Lead>>(path), path);
  const set = (name: keyof Filters, value: string) => setFilters((old) => ({ ...old, [name]: value }));
  const filtered = Object.values(filters).some((value) => value.trim() !== "");

  const loadMore = async (cursor: string) => {
    setMore(null);
    try {
      const next = await api.get<Page<Lead>>(leadsPath(filters, cursor));
      leads.setData((old) => (old ? { items: [...old.items, ...next.items], next_cursor: next.next_cursor } : next));
    } catch (caught) {
      setMore(caught);
    }
  };
  const replace = (changed: Lead) =>
    leads.setData((old) => old && { ...old, items: old.items.map((item) => (item.id === changed.id ? changed : item)) });

  return (
    <section>
      <div className="page-head">
        <h1>Leads</h1>
      </div>
      <Can action="runs.start">
        <div className="sales-forms">
          <NewLeadForm onCreated={() => void leads.reload()} />
          <LeadImportForm onImported={() => void leads.reload()} />
        </div>
      </Can>
      <form className="filters" role="search" aria-label="Filter leads" onSubmit={(event) => event.preventDefault()}>
        <div className="field">
          <label htmlFor="lead-status">Status</label>
          <select id="lead-status" value={filters.status} onChange={(event) => set("status", event.target.value)}>
            <option value="">any</option>
            {LEAD_STATUSES.map((value) => (
              <option key={value} value={value}>
                {value}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="lead-owner">Owner</label>
          <input id="lead-owner" value={filters.owner} onChange={(event) => set("owner", event.target.value)} maxLength={200} />
        </div>
        <div className="field">
          <label htmlFor="lead-source">Source</label>
          <input id="lead-source" value={filters.source} onChange={(event) => set("source", event.target.value)} maxLength={100} />
        </div>
        <div className="field">
          <label htmlFor="lead-min-score">Minimum score</label>
          <input
            id="lead-min-score"
            type="number"
            min={0}
            max={100}
            value={filters.min_score}
            onChange={(event) => set("min_score", event.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="lead-search">Search</label>
          <input id="lead-search" type="search" value={filters.q} onChange={(event) => set("q", event.target.value)} placeholder="company, contact, notes" />
        </div>
        {filtered ? (
          <button type="button" className="link" onClick={() => setFilters(NO_FILTERS)}>
            Clear filters
          </button>
        ) : null}
      </form>
      <Show loaded={leads} label="Loading leads…">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>{filtered ? "No leads match these filters." : "No leads yet: create one or import a CSV."}</Empty>
          ) : (
            <>
              <div className="table-scroll">
                <table className="sales-table" aria-label="Leads">
                  <thead>
                    <tr>
                      <th scope="col">Company</th>
                      <th scope="col">Contact</th>
                      <th scope="col">Source</th>
                      <th scope="col">Status</th>
                      <th scope="col">Owner</th>
                      <th scope="col" className="num">Score</th>
                      <th scope="col">Created</th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.items.map((lead) => (
                      <Fragment key={lead.id}>
                        <tr>
                          <th scope="row">
                            <button
                              type="button"
                              className="link"
                              aria-expanded={open === lead.id}
                              aria-controls={open === lead.id ? `lead-${lead.id}` : undefined}
                              onClick={() => setOpen(open === lead.id ? null : lead.id)}
                            >
                              {lead.company.name}
                            </button>
                          </th>
                          <td>
                            {lead.contact.name} <span className="muted small">{lead.contact.email}</span>
                          </td>
                          <td>{lead.source}</td>
                          <td>
                            <span className={`badge lead-${lead.status}`}>{lead.status}</span>
                          </td>
                          <td>{lead.owner ?? "—"}</td>
                          <td className="num">
                            <ScoreBadge score={lead.score} />
                          </td>
                          <td>{formatTime(lead.created_at)}</td>
                        </tr>
                        {open === lead.id ? (
                          <tr className="sales-detail-row">
                            <td colSpan={7} id={`lead-${lead.id}`}>
                              <LeadDetail lead={lead} onChanged={replace} />
                            </td>
                          </tr>
                        ) : null}
                      </Fragment>
                    ))}
                  </tbody>
                </table>
              </div>
              <nav className="pager" aria-label="More leads">
                {page.next_cursor ? (
                  <button type="button" onClick={() => void loadMore(page.next_cursor as string)}>
                    Load more
                  </button>
                ) : (
                  <span className="muted small">All {page.items.length} leads shown.</span>
                )}
              </nav>
              {more ? <ErrorLine error={more} /> : null}
            </>
          )
        }
      </Show>
    </section>
  );
}

function ErrorLine({ error }: { error: unknown }) {
  return (
    <p className="inline-error" role="alert">
      More leads could not be loaded: {error instanceof Error ? error.message : String(error)}
    </p>
  );
}
