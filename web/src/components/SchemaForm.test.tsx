import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { coerce, fieldsOf, initialValues } from "../schema";
import type { JsonSchema } from "../types";
import { SchemaForm } from "./SchemaForm";

afterEach(cleanup);

const outreach: JsonSchema = {
  type: "object",
  properties: {
    name: { type: "string", description: "Contact name" },
    email: { type: "string" },
    employees: { type: "integer", default: 120 },
    budget: { type: "number", default: 40000 },
    tier: { type: "string", enum: ["A", "B", "C"], default: "B" },
    urgent: { type: "boolean" },
    tags: { type: "array", items: { type: "string" } },
  },
  required: ["email", "name"],
  additionalProperties: false,
};

describe("schema fields", () => {
  it("reads kinds, defaults and required fields", () => {
    const fields = fieldsOf(outreach);
    expect(fields.map((f) => [f.name, f.kind, f.required])).toEqual([
      ["name", "string", true],
      ["email", "string", true],
      ["employees", "integer", false],
      ["budget", "number", false],
      ["tier", "enum", false],
      ["urgent", "boolean", false],
      ["tags", "list", false],
    ]);
    expect(initialValues(fields)).toEqual({ name: "", email: "", employees: "120", budget: "40000", tier: '"B"', urgent: false, tags: [] });
  });

  it("types what was typed and names what is wrong", () => {
    const fields = fieldsOf(outreach);
    const values = { ...initialValues(fields), name: "Ada", employees: "12.5", tags: ["vip", "  "] };
    expect(coerce(fields, values).errors).toEqual({ email: "required", employees: "must be a whole number" });
    const good = coerce(fields, { ...values, email: "ada@example.com", employees: "450", urgent: true });
    expect(good).toEqual({
      value: { name: "Ada", email: "ada@example.com", employees: 450, budget: 40000, tier: "B", urgent: true, tags: ["vip"] },
      errors: {},
    });
  });
});

describe("list fields", () => {
  const schema: JsonSchema = {
    type: "object",
    properties: {
      symbols: { type: "array", items: { type: "string" } },
      sizes: { type: "array", items: { type: "integer" } },
      rows: { type: "array", items: { type: "object" } },
    },
    required: ["symbols"],
  };

  it("gives plain lists one box per item and keeps lists of objects as JSON", () => {
    const fields = fieldsOf(schema);
    expect(fields.map((f) => [f.name, f.kind])).toEqual([
      ["symbols", "list"],
      ["sizes", "list"],
      ["rows", "json"],
    ]);
    expect(initialValues(fields, { symbols: ["ACME", "INIT"], sizes: [1, 2] })).toEqual({ symbols: ["ACME", "INIT"], sizes: ["1", "2"], rows: "" });
    expect(coerce(fields, { symbols: [" "], sizes: ["1", "2.5"], rows: "" }).errors).toEqual({
      symbols: "needs at least one item",
      sizes: "has “2.5”, which is not a whole number",
    });
    expect(coerce(fields, { symbols: ["ACME", "", " INIT "], sizes: ["3"], rows: "" })).toEqual({ value: { symbols: ["ACME", "INIT"], sizes: [3] }, errors: {} });
  });

  it("adds and removes items, then submits the list", async () => {
    const onSubmit = vi.fn();
    render(<SchemaForm schema={schema} submitLabel="Start run" onSubmit={onSubmit} />);
    const group = screen.getByRole("group", { name: /^Symbols/ });
    fireEvent.change(screen.getByLabelText("Symbols, item 1"), { target: { value: "ACME" } });
    fireEvent.click(within(group).getByRole("button", { name: "Add an item" }));
    fireEvent.change(screen.getByLabelText("Symbols, item 2"), { target: { value: "GLOBEX" } });
    fireEvent.click(within(group).getByRole("button", { name: "Add an item" }));
    fireEvent.change(screen.getByLabelText("Symbols, item 3"), { target: { value: "INIT" } });
    fireEvent.click(within(group).getByRole("button", { name: "Remove item 2 of Symbols" }));
    expect(within(group).getAllByRole("textbox").map((box) => (box as HTMLInputElement).value)).toEqual(["ACME", "INIT"]);
    expect(screen.getByText("JSON list")).toBeTruthy(); // only the list of objects is typed as JSON
    fireEvent.click(screen.getByRole("button", { name: "Start run" }));
    await vi.waitFor(() => expect(onSubmit).toHaveBeenCalledWith({ symbols: ["ACME", "INIT"] }));
  });
});

describe("SchemaForm", () => {
  it("renders labelled typed controls and submits typed values", async () => {
    const onSubmit = vi.fn();
    render(<SchemaForm schema={outreach} submitLabel="Start run" onSubmit={onSubmit} />);
    expect((screen.getByLabelText(/^Employees/) as HTMLInputElement).type).toBe("number");
    expect((screen.getByLabelText(/^Employees/) as HTMLInputElement).value).toBe("120");
    expect(screen.getByLabelText(/^Tier/).tagName).toBe("SELECT");
    expect((screen.getByLabelText(/^Email/) as HTMLInputElement).type).toBe("email");
    expect(screen.getByText("Contact name")).toBeTruthy();
    // Labels name the field, mark it required or optional, and hint a type only where it helps.
    expect(screen.getByText("Email", { selector: "label" }).textContent).toBe("Email *");
    expect(screen.getByText("Employees", { selector: "label" }).textContent).toBe("Employees (optional)whole number");

    fireEvent.click(screen.getByRole("button", { name: "Start run" }));
    expect(onSubmit).not.toHaveBeenCalled();
    expect(screen.getByText("Name required")).toBeTruthy();
    expect(screen.getByLabelText(/^Name/).getAttribute("aria-invalid")).toBe("true");

    fireEvent.change(screen.getByLabelText(/^Name/), { target: { value: "Ada" } });
    fireEvent.change(screen.getByLabelText(/^Email/), { target: { value: "ada@example.com" } });
    fireEvent.change(screen.getByLabelText(/^Tier/), { target: { value: '"A"' } });
    fireEvent.click(screen.getByLabelText(/^Urgent/));
    fireEvent.click(screen.getByRole("button", { name: "Start run" }));
    await vi.waitFor(() => expect(onSubmit).toHaveBeenCalledTimes(1));
    expect(onSubmit).toHaveBeenCalledWith({ name: "Ada", email: "ada@example.com", employees: 120, budget: 40000, tier: "A", urgent: true });
  });

  it("says when there is nothing to fill in", () => {
    render(<SchemaForm schema={{ type: "object", properties: {} }} submitLabel="Submit" onSubmit={() => {}} />);
    expect(screen.getByText("This takes no inputs.")).toBeTruthy();
  });
});
