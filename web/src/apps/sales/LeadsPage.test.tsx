import { cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { formatTime } from "../../format";
import { serve, viewer } from "./fakeApi.testing";
import type { Lead, LeadImport } from "./types";

const S = "/api/v1/sales";
const PAGE = "/apps/sales/leads";
const CREATED = "2026-12-01T10:00:00Z";

function lead(id: string, company: string, extra: Partial<Lead> = {}): Lead {
  return {
    id,
    company_id: `c-${id}`,
    contact_id: `p-${id}`,
    source: "event",
    status: "new",
    owner: "sam",
    notes: "",
    budget: null,
    currency: null,
    score: null,
    score_reasons: null,
    company: { id: `c-${id}`, name: company, domain: null, industry: null, employees: null, country: null },
    contact: { id: `p-${id}`, name: `Jane ${company}`, email: `jane@${company.toLowerCase()}.com`, title: null, phone: null },
    created_at: CREATED,
    updated_at: CREATED,
    ...extra,
  };
}

const globex = lead("l1", "Globex", {
  status: "qualified",
  score: 82,
  notes: "Met at the fair; wants a demo in January.",
  budget: "50000",
  currency: "EUR",
  score_reasons: [
    { rule: "budget", points: 40, why: "a budget of 50000 EUR is over 10000" },
    { model: "claude", points: -5, why: "the contact is not a decision maker" },
  ],
});
const initech = lead("l2", "Initech", { source: "web", owner: null, score: 35 });

function rows(table: HTMLElement): string[][] {
  return within(table)
    .getAllByRole("row")
    .map((row) => Array.from(row.children).map((cell) => cell.textContent ?? ""));
}

afterEach(() => {
  cleanup();
  window.history.pushState(null, "", "/");
});

describe("the leads page", () => {
  it("is in the navigation and lists leads with their score badges, then loads more", async () => {
    serve(PAGE, {
      [`GET ${S}/leads`]: [200, { items: [globex, initech], next_cursor: "k2" }],
      [`GET ${S}/leads?cursor=k2`]: [200, { items: [lead("l3", "Umbrella")], next_cursor: null }],
    });
    const nav = await screen.findByRole("navigation", { name: "Pages" });
    expect((await within(nav).findByRole("link", { name: "Leads" })).getAttribute("href")).toBe(PAGE);
    expect(within(nav).getByRole("link", { name: "Pipeline board" }).getAttribute("href")).toBe("/apps/sales/board");
    const table = await screen.findByRole("table", { name: "Leads" });
    const when = formatTime(CREATED);
    expect(rows(table)).toEqual([
      ["Company", "Contact", "Source", "Status", "Owner", "Score", "Created"],
      ["Globex", "Jane Globex jane@globex.com", "event", "qualified", "sam", "82", when],
      ["Initech", "Jane Initech jane@initech.com", "web", "new", "—", "35", when],
    ]);
    expect(within(table).getByLabelText("score 82 of 100 (high)").className).toBe("badge score-high");
    expect(within(table).getByLabelText("score 35 of 100 (low)").className).toBe("badge score-low");

    fireEvent.click(screen.getByRole("button", { name: "Load more" }));
    await waitFor(() => expect(rows(screen.getByRole("table", { name: "Leads" }))).toHaveLength(4));
    expect(rows(screen.getByRole("table", { name: "Leads" }))[3]).toEqual(["Umbrella", "Jane Umbrella jane@umbrella.com", "event", "new", "sam", "unscored", when]);
    expect(screen.getByText("All 3 leads shown.")).toBeTruthy();
  });

  it("filters by status, owner, source, minimum score and search", async () => {
    serve(PAGE, {
      [`GET ${S}/leads`]: [200, { items: [globex, initech], next_cursor: null }],
      [`GET ${S}/leads?status=qualified&owner=sam&source=event&min_score=50&q=fair`]: [200, { items: [globex], next_cursor: null }],
    });
    await screen.findByRole("table", { name: "Leads" });
    const filters = screen.getByRole("search", { name: "Filter leads" });
    fireEvent.change(within(filters).getByLabelText("Status"), { target: { value: "qualified" } });
    fireEvent.change(within(filters).getByLabelText("Owner"), { target: { value: "sam " } });
    fireEvent.change(within(filters).getByLabelText("Source"), { target: { value: "event" } });
    fireEvent.change(within(filters).getByLabelText("Minimum score"), { target: { value: "50" } });
    fireEvent.change(within(filters).getByLabelText("Search"), { target: { value: "fair" } });
    await waitFor(() => expect(rows(screen.getByRole("table", { name: "Leads" })).map((row) => row[0])).toEqual(["Company", "Globex"]));

    fireEvent.click(within(filters).getByRole("button", { name: "Clear filters" }));
    await waitFor(() => expect(rows(screen.getByRole("table", { name: "Leads" })).map((row) => row[0])).toEqual(["Company", "Globex", "Initech"]));
  });

  it("opens a lead's score reasons and notes, and moves it only to a legal status", async () => {
    const contacted = { ...globex, status: "contacted" as const };
    const sent = serve(PAGE, {
      [`GET ${S}/leads`]: [200, { items: [globex, initech], next_cursor: null }],
      [`PATCH ${S}/leads/l1`]: [200, contacted],
    });
    const open = await screen.findByRole("button", { name: "Globex" });
    expect(open.getAttribute("aria-expanded")).toBe("false");
    fireEvent.click(open);
    expect(open.getAttribute("aria-expanded")).toBe("true");
    const reasons = screen.getByRole("region", { name: "Score reasons for Globex" });
    expect(within(reasons).getByRole("heading").textContent).toBe("Score 82 of 100");
    expect(rows(within(reasons).getByRole("table", { name: "Score reasons" }))).toEqual([
      ["From", "Points", "Why"],
      ["rule budget", "+40", "a budget of 50000 EUR is over 10000"],
      ["model claude", "-5", "the contact is not a decision maker"],
    ]);
    const notes = screen.getByRole("region", { name: "Notes on Globex" });
    expect(Array.from(notes.children).map((child) => child.textContent)).toEqual(["Notes", "Met at the fair; wants a demo in January.", "Budget 50000 EUR"]);

    const form = screen.getByRole("form", { name: "Status of Globex" });
    const select = within(form).getByLabelText("Move to");
    expect(within(select).getAllByRole("option").map((option) => option.textContent)).toEqual(["contacted", "disqualified"]);
    fireEvent.click(within(form).getByRole("button", { name: "Change status" }));
    await waitFor(() => expect(rows(screen.getByRole("table", { name: "Leads" }))[1]?.[3]).toBe("contacted"));
    expect(within(within(screen.getByRole("form", { name: "Status of Globex" })).getByLabelText("Move to")).getAllByRole("option").map((o) => o.textContent)).toEqual([
      "converted",
      "disqualified",
    ]);
    expect(sent).toEqual([{ method: "PATCH", path: `${S}/leads/l1`, body: { status: "contacted" }, type: "application/json" }]);

    fireEvent.click(screen.getByRole("button", { name: "Initech" }));
    expect(within(screen.getByRole("region", { name: "Score reasons for Initech" })).getByText("No reasons recorded: the lead has not been scored.")).toBeTruthy();
  });

  it("imports a CSV, keeping the good rows and showing each bad row", async () => {
    const report: LeadImport = {
      rows: 4,
      leads_created: 2,
      duplicates: 0,
      companies_created: 2,
      contacts_created: 2,
      errors: [
        { row: 3, column: "email", message: "'alice-at-umbrella' is not an email address (like jane@example.com)" },
        { row: 5, column: "budget", message: "a budget needs a currency" },
      ],
    };
    const sent = serve(PAGE, {
      [`GET ${S}/leads`]: [
        [200, { items: [], next_cursor: null }],
        [200, { items: [globex, initech], next_cursor: null }],
      ],
      [`POST ${S}/leads/import`]: [201, report],
    });
    expect(await screen.findByText("No leads yet: create one or import a CSV.")).toBeTruthy();
    const file = new File(["company,contact_name,email\nGlobex,Jane,jane@globex.com\n"], "leads.csv", { type: "text/csv" });
    fireEvent.change(screen.getByLabelText("Leads CSV"), { target: { files: [file] } });
    fireEvent.click(screen.getByRole("button", { name: "Import" }));

    const problems = await screen.findByRole("table", { name: "Import problems" });
    expect(rows(problems)).toEqual([
      ["Row", "Column", "Message"],
      ["3", "email", "'alice-at-umbrella' is not an email address (like jane@example.com)"],
      ["5", "budget", "a budget needs a currency"],
    ]);
    expect(screen.getByText(/^leads\.csv: /).textContent).toBe(
      "leads.csv: 4 rows, 2 leads created, 0 duplicates skipped, 2 new companies, 2 new contacts; 2 problems, their rows were not imported.",
    );
    expect(await screen.findByRole("table", { name: "Leads" })).toBeTruthy();
    expect(sent).toEqual([{ method: "POST", path: `${S}/leads/import`, body: file, type: "text/csv" }]);
  });

  it("says why a file is refused whole", async () => {
    const refused = { error: { code: "input_invalid", message: "unknown column 'mail': the columns are company, contact_name, email, ...", details: {} } };
    serve(PAGE, { [`GET ${S}/leads`]: [200, { items: [], next_cursor: null }], [`POST ${S}/leads/import`]: [422, refused] });
    fireEvent.change(await screen.findByLabelText("Leads CSV"), { target: { files: [new File(["mail\n"], "bad.csv")] } });
    fireEvent.click(screen.getByRole("button", { name: "Import" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toBe("The file was not importedunknown column 'mail': the columns are company, contact_name, email, ...");
  });

  it("creates a lead with its company and contact inline", async () => {
    const sent = serve(PAGE, {
      [`GET ${S}/leads`]: [
        [200, { items: [], next_cursor: null }],
        [200, { items: [globex], next_cursor: null }],
      ],
      [`POST ${S}/leads`]: [201, globex],
    });
    const form = await screen.findByRole("form", { name: "New lead" });
    fireEvent.change(within(form).getByLabelText("Company"), { target: { value: " Globex " } });
    fireEvent.change(within(form).getByLabelText("Contact name"), { target: { value: "Jane Doe" } });
    fireEvent.change(within(form).getByLabelText("Email"), { target: { value: "jane@globex.com" } });
    fireEvent.change(within(form).getByLabelText("Title"), { target: { value: "CTO" } });
    fireEvent.change(within(form).getByLabelText("Lead source"), { target: { value: "event" } });
    fireEvent.change(within(form).getByLabelText("Budget"), { target: { value: "50000" } });
    fireEvent.change(within(form).getByLabelText("Currency"), { target: { value: "eur" } });
    fireEvent.click(within(form).getByRole("button", { name: "Create lead" }));
    expect((await within(form).findByRole("status")).textContent).toBe("Lead created for Globex.");
    expect(sent).toEqual([
      {
        method: "POST",
        path: `${S}/leads`,
        body: {
          company: { name: "Globex" },
          contact: { name: "Jane Doe", email: "jane@globex.com", title: "CTO" },
          source: "event",
          owner: null,
          notes: "",
          budget: "50000",
          currency: "EUR",
        },
        type: "application/json",
      },
    ]);
    expect(await screen.findByRole("table", { name: "Leads" })).toBeTruthy();
  });

  it("lets a viewer read and open leads but not create, import or change status", async () => {
    serve(PAGE, { [`GET ${S}/leads`]: [200, { items: [globex], next_cursor: null }] }, viewer);
    fireEvent.click(await screen.findByRole("button", { name: "Globex" }));
    expect(screen.getByRole("region", { name: "Score reasons for Globex" })).toBeTruthy();
    expect(screen.queryByRole("form", { name: "New lead" })).toBeNull();
    expect(screen.queryByLabelText("Leads CSV")).toBeNull();
    expect(screen.queryByRole("form", { name: "Status of Globex" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Qualify and reach out" })).toBeNull();
  });

  it("starts a lead's outreach pipeline and links to its run, or says why it did not", async () => {
    const sent = serve(PAGE, {
      [`GET ${S}/leads`]: [200, { items: [globex], next_cursor: null }],
      [`POST ${S}/pipeline/run`]: [
        [503, { error: { code: "unavailable", message: "the workflow store is busy; try again" } }],
        [202, { run_id: "run 9", workflow_id: "sales-outreach", status: "queued" }],
      ],
    });
    fireEvent.click(await screen.findByRole("button", { name: "Globex" }));
    const group = screen.getByRole("group", { name: "Pipeline of Globex" });
    fireEvent.click(within(group).getByRole("button", { name: "Qualify and reach out" }));
    expect((await within(group).findByRole("alert")).textContent).toBe(
      "The pipeline was not startedthe workflow store is busy; try again",
    );
    fireEvent.click(within(group).getByRole("button", { name: "Qualify and reach out" }));
    const started = await within(group).findByRole("status");
    expect(started.textContent).toBe("Started sales-outreach: open the run to follow it and approve the email.");
    expect(within(started).getByRole("link", { name: "open the run" }).getAttribute("href")).toBe("/runs/run%209");
    expect(within(group).queryByRole("alert")).toBeNull();
    const body = { lead_id: "l1" };
    expect(sent).toEqual([
      { method: "POST", path: `${S}/pipeline/run`, body, type: "application/json" },
      { method: "POST", path: `${S}/pipeline/run`, body, type: "application/json" },
    ]);
  });
});
