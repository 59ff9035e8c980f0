import { cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { formatTime } from "../../format";
import { serve, viewer } from "./fakeApi.testing";
import type { Routes } from "./fakeApi.testing";
import { AT, dealWithLines, globex, legacy, onboarding, rollout, S, sales, seats, support } from "./testData.testing";
import type { Deal } from "./types";

const PAGE = "/apps/sales/deals?deal=d1";

const jane = { id: "ct1", company_id: "co1", name: "Jane Doe", email: "jane@globex.com", title: "CTO", phone: null, created_at: AT, updated_at: AT };
const joe = { ...jane, id: "ct2", name: "Joe Roe", email: "joe@globex.com" };

function routes(extra: Routes = {}): Routes {
  return {
    [`GET ${S}/deals/d1`]: [200, dealWithLines],
    [`GET ${S}/companies/co1`]: [200, globex],
    [`GET ${S}/pipelines/pl1`]: [200, sales],
    [`GET ${S}/products`]: [200, [onboarding, legacy, seats]],
    [`GET ${S}/contacts?company_id=co1&limit=200`]: [200, { items: [jane, joe], next_cursor: null }],
    ...extra,
  };
}

function rows(table: HTMLElement): string[][] {
  return within(table)
    .getAllByRole("row")
    .map((row) => Array.from(row.children).map((cell) => cell.textContent ?? ""));
}

afterEach(() => {
  cleanup();
  window.history.pushState(null, "", "/");
});

describe("the deals page", () => {
  it("lists deals, searches titles and opens one", async () => {
    serve("/apps/sales/deals", {
      [`GET ${S}/deals`]: [200, { items: [rollout, support], next_cursor: null }],
      [`GET ${S}/deals?q=support`]: [200, { items: [support], next_cursor: null }],
      [`GET ${S}/companies/co1`]: [200, globex],
    });
    const table = await screen.findByRole("table", { name: "Deals" });
    await waitFor(() => expect(rows(table)[1]?.[1]).toBe("Globex"));
    expect(rows(table)).toEqual([
      ["Title", "Company", "Amount", "Close date", "Owner"],
      ["Globex rollout", "Globex", "12,000.00 EUR", "2027-01-31", "sam"],
      ["Globex support", "Globex", "800 USD", "—", "—"],
    ]);
    fireEvent.change(screen.getByLabelText("Search titles"), { target: { value: "support" } });
    await waitFor(() => expect(rows(screen.getByRole("table", { name: "Deals" })).map((row) => row[0])).toEqual(["Title", "Globex support"]));
    expect(screen.getByRole("link", { name: "Globex support" }).getAttribute("href")).toBe("/apps/sales/deals?deal=d2");
  });

  it("shows a deal's lines, totals and stage history", async () => {
    serve(PAGE, routes());
    expect(await screen.findByRole("heading", { level: 1, name: "Globex rollout" })).toBeTruthy();
    const facts = screen.getByLabelText("Deal");
    await waitFor(() => expect(within(facts).getAllByRole("definition")[0]?.textContent).toBe("Globex"));
    expect(within(facts).getAllByRole("definition").map((value) => value.textContent)).toEqual(["Globex", "Proposal (30 %)", "2,200.00 EUR", "2027-01-31", "sam"]);
    await waitFor(() => expect(rows(screen.getByRole("table", { name: "Lines" }))[1]?.[0]).toBe("SEAT Seat licence"));
    expect(rows(screen.getByRole("table", { name: "Lines" }))).toEqual([
      ["Product", "Quantity", "Unit price", "Discount", "Net", "Actions"],
      ["SEAT Seat licence", "24", "100.00 EUR", "12.5%", "2,100.00 EUR", "Remove line 1"],
      ["Subtotal", "2,400.00 EUR", ""],
      ["Discount", "300.00 EUR", ""],
      ["Net", "2,100.00 EUR", ""],
    ]);
    expect(rows(screen.getByRole("table", { name: "Stage history" }))).toEqual([
      ["From", "To", "By", "Why", "When"],
      ["—", "Qualification", "ada@acme.example", "—", formatTime(AT)],
      ["Qualification", "Proposal", "agent sales.sdr (run)", "asked for a quote", formatTime("2026-12-02T09:30:00Z")],
    ]);
    expect(screen.getByRole("link", { name: "run" }).getAttribute("href")).toBe("/runs/run-7");
  });

  it("adds a line from the catalog, keeping the existing lines' prices", async () => {
    const after: Deal = {
      ...dealWithLines,
      amount: "7100.00",
      lines: [
        ...dealWithLines.lines,
        { id: "ln2", position: 1, product_id: "pr2", description: "Onboarding", quantity: "2", unit_price: "2500.00", discount: "0", net: "5000.00" },
      ],
      totals: { subtotal: "7400.00", discount: "300.00", net: "7100.00" },
    };
    const sent = serve(PAGE, routes({ [`PATCH ${S}/deals/d1`]: [200, after] }));
    const form = await screen.findByRole("form", { name: "Add a line" });
    const product = within(form).getByLabelText("Product");
    await waitFor(() => expect(within(product).getAllByRole("option")).toHaveLength(3));
    expect(within(product).getAllByRole("option").map((option) => option.textContent)).toEqual([
      "choose…",
      "ONB · Onboarding · 2,500.00 EUR",
      "SEAT · Seat licence · 100.00 EUR",
    ]);
    fireEvent.change(product, { target: { value: "pr2" } });
    fireEvent.change(within(form).getByLabelText("Quantity"), { target: { value: "2" } });
    fireEvent.click(within(form).getByRole("button", { name: "Add line" }));
    await waitFor(() => expect(rows(screen.getByRole("table", { name: "Lines" }))).toHaveLength(6));
    expect(rows(screen.getByRole("table", { name: "Lines" })).slice(2)).toEqual([
      ["ONB Onboarding", "2", "2,500.00 EUR", "0%", "5,000.00 EUR", "Remove line 2"],
      ["Subtotal", "7,400.00 EUR", ""],
      ["Discount", "300.00 EUR", ""],
      ["Net", "7,100.00 EUR", ""],
    ]);
    expect(sent).toEqual([
      {
        method: "PATCH",
        path: `${S}/deals/d1`,
        body: {
          lines: [
            { product_id: "pr1", quantity: "24", unit_price: "100.00", discount: "0.125", description: "Seat licence" },
            { product_id: "pr2", quantity: "2", discount: "0", unit_price: null },
          ],
        },
        type: "application/json",
      },
    ]);
  });

  it("sends a line's discount as a fraction and says when a percentage is not one", async () => {
    const sent = serve(PAGE, routes({ [`PATCH ${S}/deals/d1`]: [200, dealWithLines] }));
    const form = await screen.findByRole("form", { name: "Add a line" });
    await waitFor(() => expect(within(within(form).getByLabelText("Product")).getAllByRole("option")).toHaveLength(3));
    fireEvent.change(within(form).getByLabelText("Product"), { target: { value: "pr1" } });
    fireEvent.change(within(form).getByLabelText("Discount %"), { target: { value: "ten" } });
    fireEvent.click(within(form).getByRole("button", { name: "Add line" }));
    expect((await within(form).findByRole("alert")).textContent).toBe("The line was not addedthe discount 'ten' is not a percentage (like 15 or 7.5)");
    fireEvent.change(within(form).getByLabelText("Discount %"), { target: { value: "7.5" } });
    fireEvent.click(within(form).getByRole("button", { name: "Add line" }));
    await waitFor(() => expect(sent).toHaveLength(1));
    expect((sent[0]?.body as { lines: unknown[] }).lines[1]).toEqual({ product_id: "pr1", quantity: "1", discount: "0.075", unit_price: null });
  });

  it("edits the title, close date and contact, sending only what changed", async () => {
    const edited: Deal = { ...dealWithLines, title: "Globex rollout, phase 1", close_date: "2027-02-15", contact_id: "ct2" };
    const sent = serve(PAGE, routes({ [`PATCH ${S}/deals/d1`]: [200, edited] }));
    const form = await screen.findByRole("form", { name: "Edit the deal" });
    const contact = within(form).getByLabelText("Contact");
    await waitFor(() => expect(within(contact).getAllByRole("option").map((option) => option.textContent)).toEqual(["none", "Jane Doe (jane@globex.com)", "Joe Roe (joe@globex.com)"]));
    expect((contact as HTMLSelectElement).value).toBe("ct1");
    expect((within(form).getByLabelText("Amount in EUR") as HTMLInputElement).readOnly).toBe(true);
    fireEvent.change(within(form).getByLabelText("Title"), { target: { value: "Globex rollout, phase 1" } });
    fireEvent.change(within(form).getByLabelText("Close date"), { target: { value: "2027-02-15" } });
    fireEvent.change(contact, { target: { value: "ct2" } });
    fireEvent.click(within(form).getByRole("button", { name: "Save" }));
    expect((await within(form).findByRole("status")).textContent).toBe("Saved.");
    expect(screen.getByRole("heading", { level: 1 }).textContent).toBe("Globex rollout, phase 1");
    expect(sent).toEqual([
      { method: "PATCH", path: `${S}/deals/d1`, body: { title: "Globex rollout, phase 1", close_date: "2027-02-15", contact_id: "ct2" }, type: "application/json" },
    ]);
  });

  it("sets the amount of a deal without lines and shows a refusal", async () => {
    const bare: Deal = { ...dealWithLines, lines: [], amount: null, totals: { subtotal: null, discount: "0", net: null } };
    const refused = { error: { code: "input_invalid", message: "'12,000' is not a plain decimal (like 1234.5)", details: {} } };
    const sent = serve(PAGE, routes({ [`GET ${S}/deals/d1`]: [200, bare], [`PATCH ${S}/deals/d1`]: [422, refused] }));
    const form = await screen.findByRole("form", { name: "Edit the deal" });
    expect(screen.getByText("No lines: the deal's amount is set by hand.")).toBeTruthy();
    fireEvent.change(within(form).getByLabelText("Amount in EUR"), { target: { value: "12,000" } });
    fireEvent.submit(form);
    expect((await within(form).findByRole("alert")).textContent).toBe("The deal was not saved'12,000' is not a plain decimal (like 1234.5)");
    expect(sent).toEqual([{ method: "PATCH", path: `${S}/deals/d1`, body: { amount: "12,000" }, type: "application/json" }]);
  });

  it("removes a line, sending the others back as they were", async () => {
    const two: Deal = {
      ...dealWithLines,
      lines: [
        ...dealWithLines.lines,
        { id: "ln2", position: 1, product_id: "pr2", description: "Onboarding", quantity: "1", unit_price: "2400.00", discount: "0", net: "2400.00" },
      ],
    };
    const sent = serve(PAGE, routes({ [`GET ${S}/deals/d1`]: [200, two], [`PATCH ${S}/deals/d1`]: [200, dealWithLines] }));
    fireEvent.click(await screen.findByRole("button", { name: "Remove line 2" }));
    await waitFor(() => expect(screen.queryByRole("button", { name: "Remove line 2" })).toBeNull());
    expect(sent).toEqual([
      {
        method: "PATCH",
        path: `${S}/deals/d1`,
        body: { lines: [{ product_id: "pr1", quantity: "24", unit_price: "100.00", discount: "0.125", description: "Seat licence" }] },
        type: "application/json",
      },
    ]);
  });

  it("lets a viewer read a deal but not edit it", async () => {
    serve(PAGE, routes(), viewer);
    await screen.findByRole("table", { name: "Stage history" });
    expect(screen.queryByRole("form", { name: "Edit the deal" })).toBeNull();
    expect(screen.queryByRole("form", { name: "Add a line" })).toBeNull();
    expect(screen.queryByRole("button", { name: /Remove/ })).toBeNull();
  });
});
