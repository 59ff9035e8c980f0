// Creating a lead (its company and contact given inline: found by name and email, else made)
// and importing leads from a CSV. An import keeps its good rows and reports each bad cell (row,
// column, what to fix) in a table; a file that cannot be read at all is refused whole.
import { useState } from "react";
import type { FormEvent } from "react";
import { errorFrom } from "../../api";
import { useSession } from "../../session";
import { ErrorBox } from "../../ui";
import { BASE } from "./types";
import type { LeadImport, NewLead } from "./types";

const EMPTY = { company: "", name: "", email: "", title: "", source: "web", owner: "", budget: "", currency: "", notes: "" };

export function NewLeadForm({ onCreated }: { onCreated: () => void }) {
  const { api } = useSession();
  const [form, setForm] = useState(EMPTY);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [made, setMade] = useState<string | null>(null);
  const field = (name: keyof typeof EMPTY, label: string, extra: Record<string, unknown> = {}) => (
    <label>
      {label} <input value={form[name]} onChange={(event) => setForm({ ...form, [name]: event.target.value })} {...extra} />
    </label>
  );
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setMade(null);
    try {
      const body: NewLead = {
        company: { name: form.company.trim() },
        contact: { name: form.name.trim(), email: form.email.trim(), title: form.title.trim() || null },
        source: form.source.trim() || "web",
        owner: form.owner.trim() || null,
        notes: form.notes.trim(),
        budget: form.budget.trim() || null,
        currency: form.currency.trim().toUpperCase() || null,
      };
      await api.post(`${BASE}/leads`, body);
      setMade(`Lead created for ${body.company.name}.`);
      setForm(EMPTY);
      onCreated();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card sales-form" aria-label="New lead" onSubmit={submit}>
      <h2>New lead</h2>
      <div className="inline-form">
        {field("company", "Company", { required: true, maxLength: 200 })}
        {field("name", "Contact name", { required: true, maxLength: 200 })}
        {field("email", "Email", { required: true, type: "email", maxLength: 320 })}
        {field("title", "Title", { maxLength: 200 })}
        {field("source", "Lead source", { maxLength: 100 })}
        {field("owner", "Lead owner", { maxLength: 200 })}
        {field("budget", "Budget", { inputMode: "decimal", pattern: "\\d+(\\.\\d+)?", size: 10 })}
        {field("currency", "Currency", { pattern: "[A-Za-z]{3}", maxLength: 3, size: 4 })}
      </div>
      <label className="sales-notes-field">
        Notes <textarea value={form.notes} onChange={(event) => setForm({ ...form, notes: event.target.value })} rows={2} maxLength={10000} />
      </label>
      <button type="submit" disabled={busy} aria-busy={busy}>
        Create lead
      </button>
      {made ? <p role="status">{made}</p> : null}
      {error ? <ErrorBox error={error} title="The lead was not created" /> : null}
    </form>
  );
}

type Outcome = { file: string; report: LeadImport } | { error: unknown };

export function LeadImportForm({ onImported }: { onImported: () => void }) {
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
      const response = await api.authorized(`${BASE}/leads/import`, { method: "POST", headers: { "Content-Type": "text/csv" }, body: file });
      if (!response.ok) throw await errorFrom(response);
      setOutcome({ file: file.name, report: (await response.json()) as LeadImport });
      onImported();
    } catch (caught) {
      setOutcome({ error: caught });
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card sales-form" aria-labelledby="lead-import-title" onSubmit={submit}>
      <h2 id="lead-import-title">Import leads from a CSV</h2>
      <p className="muted small">
        Columns: company, contact_name and email, then any of domain, industry, employees, country, title, source, owner, budget,
        currency, notes. Good rows are imported; each bad row is listed with what to fix.
      </p>
      <div className="inline-form">
        <label>
          Leads CSV <input type="file" accept=".csv,text/csv" onChange={(event) => setFile(event.target.files?.[0] ?? null)} />
        </label>
        <button type="submit" disabled={!file || busy} aria-busy={busy}>
          Import
        </button>
      </div>
      {outcome && "report" in outcome ? <ImportReport file={outcome.file} report={outcome.report} /> : null}
      {outcome && "error" in outcome ? <ErrorBox error={outcome.error} title="The file was not imported" /> : null}
    </form>
  );
}

function ImportReport({ file, report }: { file: string; report: LeadImport }) {
  return (
    <>
      <p role="status">
        {file}: {report.rows} rows, {report.leads_created} leads created, {report.duplicates} duplicates skipped,{" "}
        {report.companies_created} new companies, {report.contacts_created} new contacts
        {report.errors.length > 0 ? `; ${report.errors.length} problems, their rows were not imported.` : "."}
      </p>
      {report.errors.length > 0 ? (
        <div className="state state-error" role="alert">
          <strong>Fix these rows and import the file again (the imported rows are not duplicated)</strong>
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
                {report.errors.map((problem) => (
                  <tr key={`${problem.row}:${problem.column}:${problem.message}`}>
                    <td className="num">{problem.row}</td>
                    <td>{problem.column || "(row)"}</td>
                    <td className="small">{problem.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      ) : null}
    </>
  );
}
