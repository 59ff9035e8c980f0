// Importing a ledger CSV into a portfolio as one commit. The API checks every row first: when
// any is bad it answers 422 with the report of every bad cell (row, column, message) and writes
// nothing, and the report is shown as a table to fix the file by.
import { useState } from "react";
import type { FormEvent } from "react";
import { ApiError, errorFrom } from "../../api";
import { useSession } from "../../session";
import { ErrorBox } from "../../ui";
import { Hash } from "./Hash";
import { BASE } from "./types";
import type { ImportReport } from "./types";

type Outcome =
  | { kind: "imported"; file: string; report: ImportReport }
  | { kind: "refused"; file: string; message: string; report: ImportReport }
  | { kind: "error"; error: unknown };

function reportOf(error: unknown): ImportReport | null {
  if (!(error instanceof ApiError) || error.status !== 422) return null;
  const details = error.details as Partial<ImportReport>;
  return Array.isArray(details.errors) ? (details as ImportReport) : null;
}

export function ImportForm({ portfolioId, onImported }: { portfolioId: string; onImported: () => void }) {
  const { api } = useSession();
  const [file, setFile] = useState<File | null>(null);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | null>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!file) return;
    setBusy(true);
    setOutcome(null);
    try {
      const response = await api.authorized(`${BASE}/portfolios/${encodeURIComponent(portfolioId)}/import?source=${encodeURIComponent(file.name)}`, {
        method: "POST",
        headers: { "Content-Type": "text/csv" },
        body: file,
      });
      if (!response.ok) throw await errorFrom(response);
      setOutcome({ kind: "imported", file: file.name, report: (await response.json()) as ImportReport });
      onImported();
    } catch (caught) {
      const report = reportOf(caught);
      setOutcome(report ? { kind: "refused", file: file.name, message: (caught as ApiError).message, report } : { kind: "error", error: caught });
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card" aria-labelledby="import-title" onSubmit={submit}>
      <h2 id="import-title">Import a ledger CSV</h2>
      <p className="muted small">
        Columns: date, kind, account, then any of symbol, quantity, price, amount, fee, currency, ratio, note. Every row is checked; if
        any is bad, nothing is imported.
      </p>
      <div className="inline-form">
        <label>
          Ledger CSV <input type="file" accept=".csv,text/csv" onChange={(event) => setFile(event.target.files?.[0] ?? null)} />
        </label>
        <button type="submit" disabled={!file || busy} aria-busy={busy}>
          Import
        </button>
      </div>
      {outcome?.kind === "imported" ? (
        <p role="status">
          Imported {outcome.report.rows} rows from {outcome.file}
          {outcome.report.commit ? (
            <>
              {" "}
              as commit <Hash value={outcome.report.commit.hash} />
            </>
          ) : null}
          {outcome.report.accounts_created.length > 0 ? `; new accounts: ${outcome.report.accounts_created.join(", ")}` : ""}.
        </p>
      ) : null}
      {outcome?.kind === "refused" ? (
        <div className="state state-error" role="alert">
          <strong>{outcome.file} was not imported</strong>
          <p>{outcome.message}</p>
          <div className="table-scroll">
            <table aria-label="Import problems">
              <thead>
                <tr>
                  <th scope="col" className="num">Row</th>
                  <th scope="col">Column</th>
                  <th scope="col">Message</th>
                </tr>
              </thead>
              <tbody>
                {outcome.report.errors.map((problem) => (
                  <tr key={`${problem.row}:${problem.column}:${problem.message}`}>
                    <td className="num">{problem.row}</td>
                    <td>{problem.column}</td>
                    <td className="small">{problem.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      ) : null}
      {outcome?.kind === "error" ? <ErrorBox error={outcome.error} title="The import failed" /> : null}
    </form>
  );
}
