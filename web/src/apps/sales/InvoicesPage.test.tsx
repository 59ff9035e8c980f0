import { cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { formatTime } from "../../format";
import { serve, viewer } from "./fakeApi.testing";
import { draftInvoice, issuedInvoice } from "./moneyData.testing";
import { AT, globex, rollout, S } from "./testData.testing";

function rows(table: HTMLElement): string[][] {
  return within(table)
    .getAllByRole("row")
    .map((row) => Array.from(row.children).map((cell) => cell.textContent ?? ""));
}

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
  window.history.pushState(null, "", "/");
});

const DETAIL = "/apps/sales/invoices?invoice=i1";
const reminder = { level: 1, due_on: "2027-01-07", state: "sent", email_id: "e9", created_at: AT };

describe("the invoices page", () => {
  it("lists invoices with their company, totals and due dates, filtered by status", async () => {
    serve("/apps/sales/invoices", {
      [`GET ${S}/invoices`]: [200, { items: [issuedInvoice, draftInvoice], next_cursor: "c1" }],
      [`GET ${S}/invoices?cursor=c1`]: [200, { items: [{ ...issuedInvoice, id: "i0", number: "INV-2025-0009", status: "paid", balance: "0.00" }], next_cursor: null }],
      [`GET ${S}/invoices?status=overdue`]: [200, { items: [], next_cursor: null }],
      [`GET ${S}/companies/co1`]: [200, globex],
      [`GET ${S}/deals`]: [200, { items: [rollout], next_cursor: null }],
    });
    await waitFor(() => expect(screen.getAllByText("Globex")).toHaveLength(2));
    fireEvent.click(screen.getByRole("button", { name: "Load more" }));
    await waitFor(() => expect(rows(screen.getByRole("table", { name: "Invoices" }))).toHaveLength(4));
    expect(rows(screen.getByRole("table", { name: "Invoices" }))).toEqual([
      ["Number", "Company", "Status", "Total", "Balance", "Due"],
      ["INV-2026-0001", "Globex", "sent", "2,499.00 EUR", "2,499.00 EUR", "2026-12-31"],
      ["draft", "Globex", "draft", "2,499.00 EUR", "2,499.00 EUR", "—"],
      ["INV-2025-0009", "Globex", "paid", "2,499.00 EUR", "0.00 EUR", "2026-12-31"],
    ]);
    fireEvent.change(screen.getByLabelText("Status"), { target: { value: "overdue" } });
    expect(await screen.findByText("No invoice matches these filters.")).toBeTruthy();
  });

  it("makes a draft from a deal and opens it", async () => {
    const sent = serve("/apps/sales/invoices", {
      [`GET ${S}/invoices`]: [200, { items: [], next_cursor: null }],
      [`GET ${S}/deals`]: [200, { items: [rollout], next_cursor: null }],
      [`POST ${S}/invoices/from-deal`]: [201, draftInvoice],
      [`GET ${S}/invoices/i1`]: [200, draftInvoice],
      [`GET ${S}/invoices/i1/reminders`]: [200, []],
      [`GET ${S}/companies/co1`]: [200, globex],
    });
    const form = await screen.findByRole("form", { name: "Invoice a deal" });
    await within(form).findByRole("option", { name: "Globex rollout · 12,000.00 EUR" });
    fireEvent.change(within(form).getByLabelText("Deal"), { target: { value: "d1" } });
    fireEvent.change(within(form).getByLabelText("Tax %"), { target: { value: "19" } });
    fireEvent.change(within(form).getByLabelText("Due after (days)"), { target: { value: "14" } });
    fireEvent.click(within(form).getByRole("button", { name: "Make a draft invoice" }));
    expect(await screen.findByRole("heading", { level: 1, name: "Invoice (draft)" })).toBeTruthy();
    expect(window.location.search).toBe("?invoice=i1");
    expect(sent).toEqual([
      { method: "POST", path: `${S}/invoices/from-deal`, body: { deal_id: "d1", tax_rate: "0.19", terms_days: 14, notes: "" }, type: "application/json" },
    ]);
  });

  it("shows a draft's lines and totals, and issues it", async () => {
    const sent = serve(DETAIL, {
      [`GET ${S}/invoices/i1`]: [[200, draftInvoice], [200, issuedInvoice]],
      [`GET ${S}/invoices/i1/reminders`]: [200, []],
      [`GET ${S}/companies/co1`]: [200, globex],
      [`POST ${S}/invoices/i1/issue`]: [200, issuedInvoice],
    });
    const table = await screen.findByRole("table", { name: "Invoice lines" });
    expect(rows(table)).toEqual([
      ["Description", "Quantity", "Unit price", "Discount", "Net"],
      ["Seat licence", "24", "100.00 EUR", "12.5%", "2,100.00 EUR"],
      ["Subtotal", "2,100.00 EUR"],
      ["Tax 19%", "399.00 EUR"],
      ["Total", "2,499.00 EUR"],
      ["Paid", "0.00 EUR"],
      ["Balance", "2,499.00 EUR"],
    ]);
    expect(document.querySelector('dl[aria-label="Invoice"]')?.textContent).toBe("CompanyGlobexStatusdraftIssued—Due30 days after issueDealopen the deal");
    expect(screen.queryByRole("form", { name: "Record a payment" })).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Issue" }));
    expect(await screen.findByRole("heading", { level: 1, name: "Invoice INV-2026-0001" })).toBeTruthy();
    expect(sent).toEqual([{ method: "POST", path: `${S}/invoices/i1/issue`, body: {}, type: "application/json" }]);
    expect(screen.queryByRole("button", { name: "Issue" })).toBeNull();
  });

  it("records a payment, showing the API's refusal, and lists payments and reminders", async () => {
    const over = { error: { code: "invalid_input", message: "the payment 3000.00 is more than the balance 2499.00", details: {} } };
    const paid = { ...issuedInvoice, status: "paid", paid: "2499.00", balance: "0.00", payments: [{ id: "p1", amount: "2499.00", paid_on: "2026-12-20", reference: "wire 42", actor: "ada@acme.example", created_at: AT }] };
    const sent = serve(DETAIL, {
      [`GET ${S}/invoices/i1`]: [[200, issuedInvoice], [200, paid]],
      [`GET ${S}/invoices/i1/reminders`]: [200, [reminder]],
      [`GET ${S}/companies/co1`]: [200, globex],
      [`POST ${S}/invoices/i1/payments`]: [[422, over], [201, paid]],
    });
    const form = await screen.findByRole("form", { name: "Record a payment" });
    expect(within(screen.getByRole("group", { name: "Invoice actions" })).getAllByRole("button").map((button) => button.textContent)).toEqual(["Download PDF", "Void"]);
    expect(rows(screen.getByRole("table", { name: "Reminders" }))).toEqual([
      ["Level", "Due on", "State", "When"],
      ["1", "2027-01-07", "sent", formatTime(AT)],
    ]);
    expect(within(screen.getByRole("table", { name: "Reminders" })).getByRole("link", { name: "sent" }).getAttribute("href")).toBe("/apps/sales/emails?email=e9");
    fireEvent.change(within(form).getByLabelText("Amount in EUR"), { target: { value: "3000.00" } });
    fireEvent.click(within(form).getByRole("button", { name: "Record payment" }));
    expect((await within(form).findByRole("alert")).textContent).toBe("The payment was not recordedthe payment 3000.00 is more than the balance 2499.00");
    fireEvent.change(within(form).getByLabelText("Amount in EUR"), { target: { value: "2499.00" } });
    fireEvent.change(within(form).getByLabelText("Paid on"), { target: { value: "2026-12-20" } });
    fireEvent.change(within(form).getByLabelText("Reference"), { target: { value: "wire 42" } });
    fireEvent.click(within(form).getByRole("button", { name: "Record payment" }));
    const payments = await screen.findByRole("list", { name: "Payments" });
    expect(payments.textContent).toBe("2,499.00 EUR on 2026-12-20 (wire 42) · recorded by ada@acme.example");
    expect(within(screen.getByRole("group", { name: "Invoice actions" })).getAllByRole("button").map((button) => button.textContent)).toEqual(["Download PDF"]);
    expect(screen.queryByRole("form", { name: "Record a payment" })).toBeNull();
    expect(sent.map((each) => each.body)).toEqual([
      { amount: "3000.00", paid_on: null, reference: "" },
      { amount: "2499.00", paid_on: "2026-12-20", reference: "wire 42" },
    ]);
  });

  it("voids an invoice only once confirmed", async () => {
    const sent = serve(DETAIL, {
      [`GET ${S}/invoices/i1`]: [[200, issuedInvoice], [200, { ...issuedInvoice, status: "void" }]],
      [`GET ${S}/invoices/i1/reminders`]: [200, []],
      [`GET ${S}/companies/co1`]: [200, globex],
      [`POST ${S}/invoices/i1/void`]: [200, { ...issuedInvoice, status: "void" }],
    });
    fireEvent.click(await screen.findByRole("button", { name: "Void" }));
    const asking = screen.getByRole("group", { name: "Void this invoice? It cannot be undone." });
    fireEvent.click(within(asking).getByRole("button", { name: "Cancel" }));
    expect(sent).toEqual([]);
    fireEvent.click(screen.getByRole("button", { name: "Void" }));
    fireEvent.click(screen.getByRole("button", { name: "Yes, void" }));
    await waitFor(() => expect(document.querySelector('dl[aria-label="Invoice"] .badge')?.textContent).toBe("void"));
    expect(sent).toEqual([{ method: "POST", path: `${S}/invoices/i1/void`, body: {}, type: "application/json" }]);
    expect(screen.queryByRole("button", { name: "Void" })).toBeNull();
  });

  it("downloads the PDF with the session and lets a viewer only read", async () => {
    const saved: string[] = [];
    URL.createObjectURL = vi.fn(() => "blob:pdf");
    URL.revokeObjectURL = vi.fn();
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      saved.push(`${this.download} ${this.href}`);
    });
    serve(DETAIL, {
      [`GET ${S}/invoices/i1`]: [200, issuedInvoice],
      [`GET ${S}/invoices/i1/reminders`]: [200, []],
      [`GET ${S}/companies/co1`]: [200, globex],
      [`GET ${S}/invoices/i1/pdf`]: [200, "%PDF-1.4"],
    }, viewer);
    fireEvent.click(await screen.findByRole("button", { name: "Download PDF" }));
    await waitFor(() => expect(saved).toEqual(["invoice-INV-2026-0001.pdf blob:pdf"]));
    expect(within(screen.getByRole("group", { name: "Invoice actions" })).getAllByRole("button").map((button) => button.textContent)).toEqual(["Download PDF"]);
    expect(screen.queryByRole("form", { name: "Record a payment" })).toBeNull();
  });
});
