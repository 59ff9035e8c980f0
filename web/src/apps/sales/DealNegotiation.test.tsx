import { cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { formatTime } from "../../format";
import { operator, serve, viewer } from "./fakeApi.testing";
import type { Routes } from "./fakeApi.testing";
import { answered, asked, contractDraft, draftInvoice, issuedInvoice, welcome } from "./moneyData.testing";
import { AT, dealWithLines, globex, S, sales, seats } from "./testData.testing";
import type { Offer } from "./types";

const PAGE = "/apps/sales/deals?deal=d1";
const reviewer = { ...operator, roles: ["operator", "reviewer"] } as typeof operator;

function routes(extra: Routes = {}): Routes {
  return {
    [`GET ${S}/deals/d1`]: [200, dealWithLines],
    [`GET ${S}/companies/co1`]: [200, globex],
    [`GET ${S}/pipelines/pl1`]: [200, sales],
    [`GET ${S}/products`]: [200, [seats]],
    [`GET ${S}/contacts?company_id=co1&limit=200`]: [200, { items: [], next_cursor: null }],
    [`GET ${S}/invoices?deal_id=d1`]: [200, { items: [issuedInvoice, draftInvoice], next_cursor: null }],
    [`GET ${S}/contracts?deal_id=d1`]: [200, { items: [contractDraft], next_cursor: null }],
    [`GET ${S}/emails?deal_id=d1`]: [200, { items: [welcome], next_cursor: "more" }],
    ...extra,
  };
}

function rows(table: HTMLElement): string[][] {
  return within(table)
    .getAllByRole("row")
    .map((row) => Array.from(row.children).map((cell) => cell.textContent ?? ""));
}

const lined = (offer: Offer, discount: string, net: string): Offer => ({ ...offer, terms: { ...offer.terms, lines: [{ position: 0, sku: "SEAT", discount, net }] } });
const customer = lined(asked, "25", "1800.00");
const ours = lined(answered, "15", "2040.00");

afterEach(() => {
  cleanup();
  window.history.pushState(null, "", "/");
});

describe("the deal's negotiation", () => {
  it("shows the offers by round with verdicts and reasons, and the deal's invoices, contracts and emails", async () => {
    serve(PAGE, routes({ [`GET ${S}/deals/d1/offers`]: [200, [customer, ours]] }));
    const table = await screen.findByRole("table", { name: "Offers" });
    expect(rows(table)).toEqual([
      ["Round", "Party", "Terms", "Discount", "Net", "Verdict", "Approved by"],
      [
        "1",
        "Customer counter",
        "SEAT 25%",
        "25%",
        "1,800.00 EUR",
        "needs approval needs a reviewer25% is above the band's 15% maximum25% is above the reviewer threshold of 10%",
        "—",
      ],
      ["1", "Us counterWe can offer 15%.", "SEAT 15%", "15%", "2,040.00 EUR", "within", "—"],
    ]);
    const links = (name: string) => (screen.getByRole("region", { name }).textContent ?? "");
    await screen.findByRole("region", { name: "Invoices of the deal" });
    expect(links("Invoices of the deal")).toBe("InvoicesINV-2026-0001 sent 2,499.00 EURdraft draft 2,499.00 EUR");
    expect(links("Contracts of the deal")).toBe("ContractsGlobex rollout in review v2");
    expect(links("Emails of the deal")).toBe(`EmailsYour quote sent ${formatTime(AT)}all of them`);
    expect(within(screen.getByRole("region", { name: "Emails of the deal" })).getByRole("link", { name: "all of them" }).getAttribute("href")).toBe(
      "/apps/sales/emails?deal=d1",
    );
    expect(screen.queryByRole("button", { name: "Approve round 1" })).toBeNull();
  });

  it("records a customer's target total and shows the verdict and our response", async () => {
    const sent = serve(
      PAGE,
      routes({
        [`GET ${S}/deals/d1/offers`]: [[200, []], [200, [customer, ours]]],
        [`POST ${S}/deals/d1/offers`]: [201, { customer, response: ours }],
      }),
    );
    expect(await screen.findByText("No counter-offer yet.")).toBeTruthy();
    const form = screen.getByRole("form", { name: "Customer counter-offer" });
    fireEvent.click(within(form).getByLabelText("a total"));
    fireEvent.change(within(form).getByLabelText("Target total"), { target: { value: "1800.00" } });
    fireEvent.change(within(form).getByLabelText("The customer's words (optional)"), { target: { value: "Our budget is 1800." } });
    fireEvent.click(within(form).getByRole("button", { name: "Record counter-offer" }));
    const outcome = await screen.findByRole("status", { name: "Latest round" });
    expect(outcome.textContent).toBe(
      "Round 1: the customer's 25% (1,800.00 EUR): needs approval (needs a reviewer).25% is above the band's 15% maximum25% is above the reviewer threshold of 10%We counter at 15% (2,040.00 EUR).",
    );
    await screen.findByRole("table", { name: "Offers" });
    expect(sent).toEqual([
      { method: "POST", path: `${S}/deals/d1/offers`, body: { total: "1800.00", message: "Our budget is 1800." }, type: "application/json" },
    ]);
    expect((within(form).getByLabelText("Target total") as HTMLInputElement).value).toBe("");
  });

  it("says why a counter-offer was refused", async () => {
    const refused = { error: { code: "invalid_input", message: "the deal has no lines to negotiate", details: {} } };
    serve(PAGE, routes({ [`GET ${S}/deals/d1/offers`]: [200, []], [`POST ${S}/deals/d1/offers`]: [422, refused] }));
    const form = await screen.findByRole("form", { name: "Customer counter-offer" });
    fireEvent.change(within(form).getByLabelText("Discount %"), { target: { value: "10" } });
    fireEvent.submit(form);
    expect((await within(form).findByRole("alert")).textContent).toBe("The counter-offer was not recordedthe deal has no lines to negotiate");
  });

  it("lets a reviewer approve the round beyond policy, and shows a 403 naming the role", async () => {
    const approved = { ...customer, approved_by: "ada@acme.example", approved_at: AT };
    const accepted = { ...ours, id: "o3", action: "accept" as const, discount: "25", net_amount: "1800.00", reply: "", terms: customer.terms };
    const needsAdmin = { error: { code: "forbidden", message: "ada@acme.example may not approve round 1: it needs the reviewer role (or admin)", details: { role: "reviewer" } } };
    const sent = serve(
      PAGE,
      routes({
        [`GET ${S}/deals/d1/offers`]: [[200, [customer, ours]], [200, [approved, ours, accepted]]],
        [`POST ${S}/deals/d1/offers/o1/approve`]: [[403, needsAdmin], [200, { customer: approved, response: accepted }]],
      }),
      reviewer,
    );
    fireEvent.click(await screen.findByRole("button", { name: "Approve round 1" }));
    expect((await screen.findByText(needsAdmin.error.message)).getAttribute("role")).toBe("alert");
    fireEvent.click(screen.getByRole("button", { name: "Approve round 1" }));
    await waitFor(() => expect(rows(screen.getByRole("table", { name: "Offers" }))).toHaveLength(4));
    expect(rows(screen.getByRole("table", { name: "Offers" }))[1]?.[6]).toBe("ada@acme.example");
    expect(screen.getByRole("status", { name: "Latest round" }).textContent).toContain("We accept at 25% (1,800.00 EUR).");
    expect(sent.map((each) => each.path)).toEqual([`${S}/deals/d1/offers/o1/approve`, `${S}/deals/d1/offers/o1/approve`]);
  });

  it("lets a read-only reviewer approve a round but not record one, and a plain viewer only read", async () => {
    serve(PAGE, routes({ [`GET ${S}/deals/d1/offers`]: [200, [customer, ours]] }), { ...viewer, roles: ["viewer", "reviewer"] } as typeof viewer);
    expect(rows(await screen.findByRole("table", { name: "Offers" }))).toHaveLength(3);
    expect(screen.queryByRole("form", { name: "Customer counter-offer" })).toBeNull();
    expect(screen.getByRole("button", { name: "Approve round 1" })).toBeTruthy();
    cleanup();
    serve(PAGE, routes({ [`GET ${S}/deals/d1/offers`]: [200, [customer, ours]] }), viewer);
    expect(rows(await screen.findByRole("table", { name: "Offers" }))).toHaveLength(3);
    expect(screen.queryByRole("button", { name: "Approve round 1" })).toBeNull();
    expect(screen.queryByRole("form", { name: "Customer counter-offer" })).toBeNull();
  });
});
