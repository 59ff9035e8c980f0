// A form generated from an object JSON Schema: one labelled control per property, typed,
// with defaults, enums as selects and required fields marked.
import { useId, useMemo, useState } from "react";
import type { FormEvent, ReactNode } from "react";
import { coerce, fieldsOf, initialValues } from "../schema";
import type { Field, FormValues } from "../schema";
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

function Control({ field, id, value, onChange, invalid, describedBy }: {
  field: Field;
  id: string;
  value: string | boolean;
  onChange: (value: string | boolean) => void;
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
            <label htmlFor={id}>
              {label(field.name)}
              {field.required ? <span className="required" aria-hidden="true"> *</span> : <span className="muted"> (optional)</span>}
              <span className="type">{field.kind === "enum" ? "choice" : field.schema.type === undefined ? "" : String(field.schema.type)}</span>
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
