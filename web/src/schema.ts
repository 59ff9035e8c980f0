// Forms from JSON Schema: the fields of an object schema (a run's inputs, an input step's
// data) and the conversion of what a person typed into the JSON the API takes.
import type { JsonSchema } from "./types";

export type FieldKind = "string" | "integer" | "number" | "boolean" | "enum" | "list" | "json" | "text";

/** A list whose items are plain text or numbers gets one box per item; other lists stay JSON. */
function isPlainList(schema: JsonSchema): boolean {
  const item = schema.items ? typeOf(schema.items) : "string";
  return ["string", "integer", "number"].includes(item) && !schema.items?.enum;
}

export interface Field {
  name: string;
  kind: FieldKind;
  required: boolean;
  description: string;
  default: unknown;
  options: unknown[];
  schema: JsonSchema;
}

function typeOf(schema: JsonSchema): string {
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  return type ?? "string";
}

export function fieldsOf(schema: JsonSchema | null | undefined): Field[] {
  const properties = schema?.properties ?? {};
  const required = new Set(schema?.required ?? []);
  return Object.entries(properties).map(([name, property]) => {
    const type = typeOf(property);
    let kind: FieldKind;
    if (property.enum && property.enum.length > 0) kind = "enum";
    else if (type === "integer" || type === "number" || type === "boolean") kind = type;
    else if (type === "array" && isPlainList(property)) kind = "list";
    else if (type === "object" || type === "array") kind = "json";
    else if (/body|text|notes|description|message/i.test(name)) kind = "text";
    else kind = "string";
    return {
      name,
      kind,
      required: required.has(name),
      description: property.description ?? "",
      default: property.default,
      options: property.enum ?? [],
      schema: property,
    };
  });
}

export type FormValue = string | boolean | string[];
export type FormValues = Record<string, FormValue>;

/** What the form shows before anyone types: defaults, or what `given` holds (an edit). */
export function initialValues(fields: Field[], given?: Record<string, unknown>): FormValues {
  const values: FormValues = {};
  for (const field of fields) {
    const value = given && field.name in given ? given[field.name] : field.default;
    if (field.kind === "boolean") values[field.name] = value === true;
    else if (field.kind === "list") values[field.name] = Array.isArray(value) ? value.map(String) : [];
    else if (value === undefined || value === null) values[field.name] = "";
    else if (field.kind === "json") values[field.name] = JSON.stringify(value, null, 2);
    else if (field.kind === "enum") values[field.name] = JSON.stringify(value);
    else values[field.name] = String(value);
  }
  return values;
}

export interface Coerced {
  value: Record<string, unknown>;
  errors: Record<string, string>;
}

/** The typed value of the form; an empty optional field is left out (its default applies). */
export function coerce(fields: Field[], values: FormValues): Coerced {
  const value: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const field of fields) {
    const raw = values[field.name];
    if (field.kind === "boolean") {
      value[field.name] = raw === true;
      continue;
    }
    if (field.kind === "list") {
      const items = (Array.isArray(raw) ? raw : []).map((item) => item.trim()).filter((item) => item !== "");
      if (items.length === 0) {
        if (field.required) errors[field.name] = "needs at least one item";
        continue;
      }
      const itemType = field.schema.items ? typeOf(field.schema.items) : "string";
      if (itemType === "string") value[field.name] = items;
      else {
        const numbers = items.map(Number);
        const bad = items.find((_, index) => !Number.isFinite(numbers[index]) || (itemType === "integer" && !Number.isInteger(numbers[index])));
        if (bad !== undefined) errors[field.name] = `has “${bad}”, which is not ${itemType === "integer" ? "a whole number" : "a number"}`;
        else value[field.name] = numbers;
      }
      continue;
    }
    const text = typeof raw === "string" ? raw : "";
    if (text.trim() === "") {
      if (field.required) errors[field.name] = "required";
      continue;
    }
    switch (field.kind) {
      case "integer":
      case "number": {
        const number = Number(text.trim());
        if (!Number.isFinite(number)) errors[field.name] = "must be a number";
        else if (field.kind === "integer" && !Number.isInteger(number)) {
          errors[field.name] = "must be a whole number";
        } else if (field.schema.minimum !== undefined && number < field.schema.minimum) {
          errors[field.name] = `must be at least ${field.schema.minimum}`;
        } else if (field.schema.maximum !== undefined && number > field.schema.maximum) {
          errors[field.name] = `must be at most ${field.schema.maximum}`;
        } else value[field.name] = number;
        break;
      }
      case "enum": {
        let chosen: unknown = text;
        try {
          chosen = JSON.parse(text);
        } catch {
          // a plain string option
        }
        if (!field.options.some((option) => JSON.stringify(option) === JSON.stringify(chosen))) {
          errors[field.name] = "choose one of the options";
        } else value[field.name] = chosen;
        break;
      }
      case "json": {
        try {
          const parsed: unknown = JSON.parse(text);
          const want = typeOf(field.schema);
          const isArray = Array.isArray(parsed);
          if (want === "array" && !isArray) errors[field.name] = "must be a JSON list";
          else if (want === "object" && (isArray || typeof parsed !== "object" || parsed === null)) {
            errors[field.name] = "must be a JSON object";
          } else value[field.name] = parsed;
        } catch {
          errors[field.name] = "is not valid JSON";
        }
        break;
      }
      default:
        value[field.name] = text;
    }
  }
  return { value, errors };
}
