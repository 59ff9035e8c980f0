import { cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { formatTime } from "../../format";
import { serve, viewer } from "./fakeApi.testing";
import { contractDraft, template } from "./moneyData.testing";
import { AT, rollout, S } from "./testData.testing";

function rows(table: HTMLElement): string[][] {
  return within(table)
    .getAllByRole("row")
    .map((row) => Array.from(row.children).map((cell) => cell.textContent ?? ""));
}

afterEach(() => {
  cleanup();
  window.history.pushState(null, "", "/");
});

const { versions: _versions, ...summary } = contractDraft;

describe("the contracts page", () => {
  it("lists contracts filtered by status, and the templates", async () => {
    serve("/apps/sales/contracts", {
      [`GET ${S}/contracts`]: [200, { items: [summary], next_cursor: null }],
      [`GET ${S}/contracts?status=signed`]: [200, { items: [], next_cursor: null }],
      [`GET ${S}/contract-templates`]: [200, [template]],
      [`GET ${S}/deals`]: [200, { items: [rollout], next_cursor: null }],
    });
    const table = await screen.findByRole("table", { name: "Contracts" });
    expect(rows(table)).toEqual([
      ["Title", "Status", "Version", "Deal", "Updated"],
      ["Globex rollout", "in review", "2", "deal", formatTime(AT)],
    ]);
    expect(within(table).getByRole("link", { name: "Globex rollout" }).getAttribute("href")).toBe("/apps/sales/contracts?contract=c1");
    const templates = await screen.findByRole("list", { name: "Templates" });
    expect(templates.textContent).toBe(`Standard${template.body}`);
    fireEvent.change(screen.getByLabelText("Status"), { target: { value: "signed" } });
    expect(await screen.findByText("No contract has this status.")).toBeTruthy();
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("makes a contract from a deal and a template, with the agreed terms, and opens it", async () => {
    const sent = serve("/apps/sales/contracts", {
      [`GET ${S}/contracts`]: [200, { items: [], next_cursor: null }],
      [`GET ${S}/contract-templates`]: [200, [template]],
      [`GET ${S}/deals`]: [200, { items: [rollout], next_cursor: null }],
      [`POST ${S}/contracts`]: [201, contractDraft],
      [`GET ${S}/contracts/c1`]: [200, contractDraft],
    });
    const form = await screen.findByRole("form", { name: "New contract" });
    await within(form).findByRole("option", { name: "Standard" });
    fireEvent.change(within(form).getByLabelText("Deal"), { target: { value: "d1" } });
    fireEvent.change(within(form).getByLabelText("Template"), { target: { value: "tp1" } });
    const terms = within(form).getByLabelText("Agreed terms (JSON, read by the template as terms)");
    fireEvent.change(terms, { target: { value: "{seats: 24}" } });
    fireEvent.click(within(form).getByRole("button", { name: "Make the contract" }));
    expect((await within(form).findByRole("alert")).textContent).toBe('No contract was madethe terms are not JSON: write an object, like {"seats": 24}');
    fireEvent.change(terms, { target: { value: '{"seats": 24}' } });
    fireEvent.click(within(form).getByRole("button", { name: "Make the contract" }));
    expect(await screen.findByRole("heading", { level: 1, name: "Globex rollout" })).toBeTruthy();
    expect(sent).toEqual([
      { method: "POST", path: `${S}/contracts`, body: { deal_id: "d1", template_id: "tp1", title: null, terms: { seats: 24 } }, type: "application/json" },
    ]);
  });

  it("adds a template, listing the API's problems when it is refused", async () => {
    const broken = { error: { code: "invalid_input", message: "the contract template cannot be rendered: unexpected '}'", details: {} } };
    const sent = serve("/apps/sales/contracts", {
      [`GET ${S}/contracts`]: [200, { items: [], next_cursor: null }],
      [`GET ${S}/contract-templates`]: [[200, []], [200, []], [200, [template]]],
      [`GET ${S}/deals`]: [200, { items: [rollout], next_cursor: null }],
      [`POST ${S}/contract-templates`]: [[422, broken], [201, template]],
    });
    const form = await screen.findByRole("form", { name: "New template" });
    expect(await screen.findByText("No templates yet: a contract is made from one.")).toBeTruthy();
    fireEvent.change(within(form).getByLabelText("Name"), { target: { value: " Standard " } });
    fireEvent.change(within(form).getByLabelText("Text (Jinja2)"), { target: { value: "{{ company }" } });
    fireEvent.click(within(form).getByRole("button", { name: "Add template" }));
    expect((await within(form).findByRole("alert")).textContent).toBe("The template was not addedthe contract template cannot be rendered: unexpected '}'");
    fireEvent.change(within(form).getByLabelText("Text (Jinja2)"), { target: { value: template.body } });
    fireEvent.click(within(form).getByRole("button", { name: "Add template" }));
    expect((await screen.findByRole("list", { name: "Templates" })).textContent).toBe(`Standard${template.body}`);
    expect((within(form).getByLabelText("Name") as HTMLInputElement).value).toBe("");
    expect(sent.map((each) => each.body)).toEqual([
      { name: "Standard", body: "{{ company }" },
      { name: "Standard", body: template.body },
    ]);
  });

  it("shows a contract's versions and moves it only to the statuses its lifecycle allows", async () => {
    const approved = { ...contractDraft, status: "approved" };
    const sent = serve("/apps/sales/contracts?contract=c1", {
      [`GET ${S}/contracts/c1`]: [[200, contractDraft], [200, approved]],
      [`POST ${S}/contracts/c1/status`]: [200, approved],
    });
    const versions = await screen.findByRole("list", { name: "Versions" });
    expect(within(versions).getAllByRole("heading").map((heading) => heading.textContent)).toEqual([
      `Version 2 (current) · ada@acme.example · ${formatTime("2026-12-02T09:00:00Z")}`,
      `Version 1 · ada@acme.example · ${formatTime(AT)}`,
    ]);
    expect(Array.from(versions.querySelectorAll("pre")).map((pre) => pre.textContent)).toEqual([
      "Between Globex and us: 24 seats.",
      "Between Globex and us: 20 seats.",
    ]);
    const actions = screen.getByRole("group", { name: "Contract actions" });
    expect(within(actions).getAllByRole("button").map((button) => button.textContent)).toEqual(["Download PDF", "Approve", "Back to draft"]);
    fireEvent.click(within(actions).getByRole("button", { name: "Approve" }));
    await waitFor(() =>
      expect(within(actions).getAllByRole("button").map((button) => button.textContent)).toEqual(["Download PDF", "Mark as sent", "Back to draft"]),
    );
    expect(sent).toEqual([{ method: "POST", path: `${S}/contracts/c1/status`, body: { status: "approved", reason: "" }, type: "application/json" }]);
  });

  it("shows the API's refusal of a move, and offers a viewer only the PDF", async () => {
    const refused = { error: { code: "invalid_input", message: "a contract in signed can move to nothing, not to signed", details: {} } };
    serve("/apps/sales/contracts?contract=c1", {
      [`GET ${S}/contracts/c1`]: [200, { ...contractDraft, status: "sent" }],
      [`POST ${S}/contracts/c1/status`]: [422, refused],
    });
    fireEvent.click(await screen.findByRole("button", { name: "Mark as signed" }));
    expect((await screen.findByRole("alert")).textContent).toBe(refused.error.message);
    cleanup();
    serve("/apps/sales/contracts?contract=c1", { [`GET ${S}/contracts/c1`]: [200, contractDraft] }, viewer);
    const actions = await screen.findByRole("group", { name: "Contract actions" });
    expect(within(actions).getAllByRole("button").map((button) => button.textContent)).toEqual(["Download PDF"]);
  });
});
