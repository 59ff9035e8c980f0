// A form generated from an object JSON Schema: one labelled control per property, typed,
// with defaults, enums as selects and required fields marked.
import { useId, useMemo, useState } from "react";
import type { FormEvent, ReactNode } from "react";
import { coerce, fieldsOf, initialValues } from "../schema";
import type { Field, FormValue, FormValues } from "../schema";
import type { JsonSchema } from "../types";

interface Props {
  schema: JsonSchema | null | undefined;
  initial?: Record<string, unknown>;
  submitLabel: string;
  onSubmit: (value: Record<string, unknown>) => Promise<void> | void;
  children?: ReactNode;
  busy?: boolean;
}

function label(name: string): string {
  const words = name.replace(/[_-]+/g, " ").replace(/([a-z])([A-Z])/g, "$1 $2");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A hint after the label where the control alone does not say what to type. */
function typeHint(field: Field): string {
  if (field.kind === "integer") return "whole number";
  if (field.kind === "number") return "number";
  if (field.kind === "json") return field.schema.type === "array" ? "JSON list" : "JSON object";
  return "";
}

/** One box per item, with add and remove: a list without typing JSON. */
function ListEditor({ field, id, items, onChange, describedBy }: {
  field: Field;
  id: string;
  items: string[];
  onChange: (items: string[]) => void;
  describedBy: string | undefined;
}) {
  const shown = items.length === 0 ? [""] : items;
  const numeric = field.schema.items?.type === "integer" || field.schema.items?.type === "number";
  const name = label(field.name);
  return (
    <div className="list-editor" role="group" aria-labelledby={`${id}-label`} aria-describedby={describedBy}>
      <ol>
        {shown.map((item, index) => (
          <li key={index}>
            <input
              id={index === 0 ? id : `${id}-${index}`}
              aria-label={`${name}, item ${index + 1}`}
              inputMode={numeric ? "decimal" : undefined}
              value={item}
              onChange={(e) => onChange(shown.map((old, at) => (at === index ? e.target.value : old)))}
            />
            {shown.length > 1 ? (
              <button type="button" className="link" aria-label={`Remove item ${index + 1} of ${name}`} onClick={() => onChange(shown.filter((_, at) => at !== index))}>
                Remove
              </button>
            ) : null}
          </li>
        ))}
      </ol>
      <button type="button" onClick={() => onChange([...shown, ""])}>
        Add an item
      </button>
    </div>
  );
}

function Control({ field, id, value, onChange, invalid, describedBy }: {
  field: Field;
  id: string;
  value: FormValue;
  onChange: (value: FormValue) => void;
  invalid: boolean;
  describedBy: string | undefined;
}) {
  const common = {
    id,
    name: field.name,
    required: field.required,
    "aria-invalid": invalid || undefined,
    "aria-describedby": describedBy,
  };
  switch (field.kind) {
    case "boolean":
      return <input {...common} type="checkbox" required={false} checked={value === true} onChange={(e) => onChange(e.target.checked)} />;
    case "enum":
      return (
        <select {...common} value={String(value)} onChange={(e) => onChange(e.target.value)}>
          {field.required && value !== "" ? null : <option value="">—</option>}
          {field.options.map((option) => (
            <option key={JSON.stringify(option)} value={JSON.stringify(option)}>
              {typeof option === "string" ? option : JSON.stringify(option)}
            </option>
          ))}
        </select>
      );
    case "integer":
    case "number":
      return (
        <input
          {...common}
          type="number"
          inputMode={field.kind === "integer" ? "numeric" : "decimal"}
          step={field.kind === "integer" ? 1 : "any"}
          min={field.schema.minimum}
          max={field.schema.maximum}
          value={String(value)}
          onChange={(e) => onChange(e.target.value)}
        />
      );
    case "list":
      return <ListEditor field={field} id={id} items={Array.isArray(value) ? value : []} onChange={onChange} describedBy={describedBy} />;
    case "json":
      return <textarea {...common} rows={4} className="mono" value={String(value)} onChange={(e) => onChange(e.target.value)} />;
    case "text":
      return <textarea {...common} rows={6} value={String(value)} onChange={(e) => onChange(e.target.value)} />;
    default:
      return (
        <input
          {...common}
          type={/email/i.test(field.name) ? "email" : "text"}
          autoComplete="off"
          value={String(value)}
          onChange={(e) => onChange(e.target.value)}
        />
      );
  }
}

export function SchemaForm({ schema, initial, submitLabel, onSubmit, children, busy }: Props) {
  const fields = useMemo(() => fieldsOf(schema), [schema]);
  const [values, setValues] = useState<FormValues>(() => initialValues(fields, initial));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const prefix = useId();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const result = coerce(fields, values);
    setErrors(result.errors);
    if (Object.keys(result.errors).length > 0) {
      const first = fields.find((field) => result.errors[field.name]);
      if (first) document.getElementById(`${prefix}-${first.name}`)?.focus();
      return;
    }
    await onSubmit(result.value);
  };

  return (
    <form className="schema-form" onSubmit={submit} noValidate>
      {fields.length === 0 ? <p className="muted">This takes no inputs.</p> : null}
      {fields.map((field) => {
        const id = `${prefix}-${field.name}`;
        const error = errors[field.name];
        const help = field.description ? `${id}-help` : undefined;
        const problem = error ? `${id}-error` : undefined;
        const describedBy = [help, problem].filter(Boolean).join(" ") || undefined;
        return (
          <div className={`field field-${field.kind}`} key={field.name}>
            <label htmlFor={id} id={`${id}-label`}>
              {label(field.name)}
              {field.required ? <span className="required" aria-hidden="true"> *</span> : <span className="muted"> (optional)</span>}
              {typeHint(field) ? <span className="type">{typeHint(field)}</span> : null}
            </label>
            <Control
              field={field}
              id={id}
              value={values[field.name] ?? ""}
              invalid={!!error}
              describedBy={describedBy}
              onChange={(value) => setValues((old) => ({ ...old, [field.name]: value }))}
            />
            {field.description ? <small id={help}>{field.description}</small> : null}
            {error ? (
              <small className="field-error" id={problem}>
                {label(field.name)} {error}
              </small>
            ) : null}
          </div>
        );
      })}
      {children}
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy}>
          {submitLabel}
        </button>
      </div>
    </form>
  );
}
