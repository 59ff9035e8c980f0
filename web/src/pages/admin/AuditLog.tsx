// The tenant's audit log (for holders of `audit:read`, the admin role): who did what, to which
// record, from where, newest first, filtered by actor, action and time; "Load more" appends
// older entries, and the export downloads every matching entry as CSV or JSON Lines.
import { useState } from "react";
import type { FormEvent } from "react";
import { dayBoundary, formatTime } from "../../format";
import { errorFrom, query } from "../../api";
import { useSession } from "../../session";
import type { AuditAction, AuditEntry } from "../../types";
import { Empty, Show, messageOf, useLoad } from "../../ui";
import { LoadMore } from "./LoadMore";
import { usePages } from "./usePages";

interface Filters {
  actor: string;
  action: string;
  from: string; // a day, yyyy-mm-dd
  to: string;
}

const NONE: Filters = { actor: "", action: "", from: "", to: "" };

/** The API's query for the filters: days become the start of `from` and the end of `to`. */
export function auditQuery(filters: Filters): Record<string, string | null> {
  return {
    actor: filters.actor.trim() || null,
    action: filters.action || null,
    since: filters.from ? dayBoundary(filters.from) : null,
    until: filters.to ? dayBoundary(filters.to, true) : null,
  };
}

function target(entry: AuditEntry): string {
  return entry.target_kind ? `${entry.target_kind} ${entry.target_id ?? ""}`.trim() : "";
}

export function AuditLog() {
  const { api } = useSession();
  const [draft, setDraft] = useState<Filters>(NONE);
  const [filters, setFilters] = useState<Filters>(NONE);
  const [exportError, setExportError] = useState<unknown>(null);
  const [exporting, setExporting] = useState(false);
  const actions = useLoad(() => api.get<AuditAction[]>("/api/v1/audit/actions"), "audit-actions");
  const pages = usePages<AuditEntry>(`/api/v1/audit${query(auditQuery(filters))}`);
  const apply = (event: FormEvent) => {
    event.preventDefault();
    // The same filters again: fetch the newest entries anew.
    if (query(auditQuery(draft)) === query(auditQuery(filters))) void pages.loaded.reload();
    else setFilters(draft);
  };
  const download = async (format: "csv" | "jsonl") => {
    setExportError(null);
    setExporting(true);
    try {
      const response = await api.authorized(`/api/v1/audit/export${query({ ...auditQuery(filters), format })}`);
      if (!response.ok) throw await errorFrom(response);
      const disposition = response.headers.get("Content-Disposition") ?? "";
      const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? `batonflow-audit.${format}`;
      const url = URL.createObjectURL(await response.blob());
      const link = document.createElement("a");
      link.href = url;
      link.download = name;
      document.body.append(link);
      link.click();
      link.remove();
      URL.revokeObjectURL(url);
    } catch (caught) {
      setExportError(caught);
    } finally {
      setExporting(false);
    }
  };
  return (
    <section className="card" aria-labelledby="audit-title">
      <h2 id="audit-title">Audit log</h2>
      <form onSubmit={apply} className="filters" aria-label="Audit filters">
        <div className="field">
          <label htmlFor="audit-actor">Actor (email, key or id)</label>
          <input id="audit-actor" value={draft.actor} onChange={(e) => setDraft({ ...draft, actor: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="audit-action">Action</label>
          <select id="audit-action" value={draft.action} onChange={(e) => setDraft({ ...draft, action: e.target.value })}>
            <option value="">any</option>
            {(actions.data ?? []).map((action) => (
              <option key={action.action} value={action.action} title={action.description}>
                {action.action}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="audit-from">From (day)</label>
          <input id="audit-from" type="date" value={draft.from} onChange={(e) => setDraft({ ...draft, from: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="audit-to">To (day)</label>
          <input id="audit-to" type="date" value={draft.to} onChange={(e) => setDraft({ ...draft, to: e.target.value })} />
        </div>
        <button type="submit">Apply</button>
      </form>
      <div className="filters" role="group" aria-label="Export the audit log">
        <button type="button" disabled={exporting} onClick={() => void download("csv")}>
          Export CSV
        </button>
        <button type="button" disabled={exporting} onClick={() => void download("jsonl")}>
          Export JSON Lines
        </button>
        {exportError ? (
          <span className="inline-error" role="alert">
            {messageOf(exportError)}
          </span>
        ) : null}
      </div>
      <Show loaded={pages.loaded} label="Loading the audit log…">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No audit entries match.</Empty>
          ) : (
            <>
              <div className="table-scroll">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">When</th>
                      <th scope="col">Who</th>
                      <th scope="col">Action</th>
                      <th scope="col">Record</th>
                      <th scope="col">From</th>
                      <th scope="col">Details</th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.items.map((entry) => (
                      <tr key={entry.id}>
                        <td>{formatTime(entry.created_at)}</td>
                        <td>
                          {entry.actor} <span className="muted small">({entry.actor_kind.replace("_", " ")})</span>
                        </td>
                        <td className="mono">{entry.action}</td>
                        <td className="mono small">{target(entry)}</td>
                        <td className="mono small">{entry.client_address ?? ""}</td>
                        <td className="mono small">{Object.keys(entry.details).length ? JSON.stringify(entry.details) : ""}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <LoadMore pages={pages} what="audit entries" />
            </>
          )
        }
      </Show>
    </section>
  );
}
