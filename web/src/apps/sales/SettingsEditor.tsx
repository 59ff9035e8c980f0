// A settings document edited as a form or as JSON: everyone who can read sees it, only an admin
// can save it, and the API's 422 problems are listed by field.
import { useState } from "react";
import type { FormEvent, ReactNode } from "react";
import { can } from "../../roles";
import { useSession } from "../../session";
import { Problems } from "./shared";

export interface FormProps<F> {
  form: F;
  setForm: (form: F) => void;
}

export function SettingsEditor<T, F>({
  title,
  about,
  value,
  toForm,
  fromForm,
  Form,
  save,
}: {
  title: string;
  about: ReactNode;
  value: T;
  toForm: (value: T) => F;
  fromForm: (form: F) => unknown;
  Form: (props: FormProps<F>) => ReactNode;
  save: (body: unknown) => Promise<T>;
}) {
  const { me } = useSession();
  const admin = can(me, "admin");
  const [form, setForm] = useState<F>(() => toForm(value));
  const [mode, setMode] = useState<"form" | "json">("form");
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const parsed = (): unknown => {
    try {
      return JSON.parse(text) as unknown;
    } catch (caught) {
      throw new Error(`the JSON does not parse: ${caught instanceof Error ? caught.message : String(caught)}`);
    }
  };
  const switchTo = (next: "form" | "json") => {
    setError(null);
    if (next === "json") {
      setText(JSON.stringify(fromForm(form), null, 2));
    } else {
      try {
        setForm(toForm(parsed() as T));
      } catch (caught) {
        setError(caught);
        return;
      }
    }
    setMode(next);
  };
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      const stored = await save(mode === "json" ? parsed() : fromForm(form));
      setForm(toForm(stored));
      setText(JSON.stringify(fromForm(toForm(stored)), null, 2));
      setSaved(true);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card sales-form" aria-label={title} onSubmit={submit}>
      <h2>{title}</h2>
      <p className="muted">{about}</p>
      <div className="inline-form" role="radiogroup" aria-label={`Edit the ${title.toLowerCase()} as`}>
        <label>
          <input type="radio" name={`${title}-mode`} checked={mode === "form"} onChange={() => switchTo("form")} /> form
        </label>
        <label>
          <input type="radio" name={`${title}-mode`} checked={mode === "json"} onChange={() => switchTo("json")} /> JSON
        </label>
      </div>
      <fieldset disabled={!admin || busy} className="sales-plain">
        <legend className="sr-only">{title}</legend>
        {mode === "form" ? (
          <Form form={form} setForm={setForm} />
        ) : (
          <div className="sales-notes-field">
            <label htmlFor={`${title}-json`}>{title} as JSON</label>
            <textarea id={`${title}-json`} className="sales-json" value={text} onChange={(event) => setText(event.target.value)} spellCheck={false} />
          </div>
        )}
      </fieldset>
      {admin ? (
        <button type="submit" disabled={busy} aria-busy={busy}>
          Save {title.toLowerCase()}
        </button>
      ) : (
        <p className="muted">Only an admin can change these.</p>
      )}
      {saved ? <p role="status">Saved as a new version.</p> : null}
      {error ? <Problems error={error} title={`The ${title.toLowerCase()} was not saved`} /> : null}
    </form>
  );
}

export interface Column {
  key: string;
  label: string;
  numeric?: boolean;
}

/** Rows of text fields (bands, rules, points by name), each removable, with one to add. */
export function RowsEditor({
  label,
  plural,
  columns,
  rows,
  onChange,
}: {
  label: string;
  plural: string;
  columns: Column[];
  rows: Record<string, string>[];
  onChange: (rows: Record<string, string>[]) => void;
}) {
  const blank = Object.fromEntries(columns.map((column) => [column.key, ""]));
  const set = (at: number, key: string, value: string) => onChange(rows.map((row, index) => (index === at ? { ...row, [key]: value } : row)));
  return (
    <div className="table-scroll">
      <table className="sales-table" aria-label={plural}>
        <thead>
          <tr>
            {columns.map((column) => (
              <th scope="col" key={column.key}>
                {column.label}
              </th>
            ))}
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row, index) => (
            <tr key={index}>
              {columns.map((column) => (
                <td key={column.key}>
                  <input
                    aria-label={`${column.label} of ${label.toLowerCase()} ${index + 1}`}
                    value={row[column.key] ?? ""}
                    onChange={(event) => set(index, column.key, event.target.value)}
                    inputMode={column.numeric ? "decimal" : undefined}
                    size={10}
                  />
                </td>
              ))}
              <td>
                <button type="button" onClick={() => onChange(rows.filter((_, at) => at !== index))}>
                  Remove <span className="sr-only">{label.toLowerCase()} {index + 1}</span>
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <button type="button" onClick={() => onChange([...rows, blank])}>
        Add {label.toLowerCase()}
      </button>
    </div>
  );
}

/** A labelled text field of a settings form. */
export function Field({ label, value, onChange, hint }: { label: string; value: string; onChange: (value: string) => void; hint?: string }) {
  return (
    <label>
      {label} <input value={value} onChange={(event) => onChange(event.target.value)} inputMode="decimal" size={8} placeholder={hint} />
    </label>
  );
}
