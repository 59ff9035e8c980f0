import { cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { formatTime } from "../../format";
import { admin, serve, viewer } from "./fakeApi.testing";
import { policy, scoring } from "./moneyData.testing";
import { AT, S } from "./testData.testing";

const PAGE = "/apps/sales/settings";

function values(table: HTMLElement): string[][] {
  return within(table)
    .getAllByRole("row")
    .slice(1)
    .map((row) => within(row).queryAllByRole("textbox").map((input) => (input as HTMLInputElement).value));
}

afterEach(() => {
  cleanup();
  window.history.pushState(null, "", "/");
});

describe("the sales settings page", () => {
  it("edits the discount policy as a form and saves it", async () => {
    const next = { ...policy, version: 2, policy: { ...policy.policy, max_rounds: 4, products: [] } };
    const sent = serve(PAGE, { [`GET ${S}/policy`]: [200, policy], [`GET ${S}/scoring`]: [200, scoring], [`PUT ${S}/policy`]: [200, next] }, admin);
    const form = await screen.findByRole("form", { name: "Discount policy" });
    expect(within(form).getByText(/^Version 1/).textContent).toBe(
      `Version 1, set by ada@acme.example ${formatTime(AT)}. Percentages are in percent (15 is 15 %), amounts in the deal's currency.`,
    );
    expect(values(within(form).getByRole("table", { name: "Bands" }))).toEqual([
      ["10000", "15"],
      ["", "25"],
    ]);
    expect(values(within(form).getByRole("table", { name: "Product rules" }))).toEqual([["SEAT", "20", "70"]]);
    fireEvent.click(within(form).getByRole("button", { name: "Remove product rule 1" }));
    fireEvent.change(within(form).getByLabelText("Max rounds"), { target: { value: "4" } });
    fireEvent.click(within(form).getByRole("button", { name: "Save discount policy" }));
    expect((await within(form).findByRole("status")).textContent).toBe("Saved as a new version.");
    expect(within(form).getByText(/^Version 2/)).toBeTruthy();
    expect(sent).toEqual([
      {
        method: "PUT",
        path: `${S}/policy`,
        body: {
          bands: [
            { below: "10000", max_discount: "15" },
            { below: null, max_discount: "25" },
          ],
          products: [],
          reviewer_above: "10",
          admin_above: "20",
          max_rounds: 4,
        },
        type: "application/json",
      },
    ]);
  });

  it("edits the policy as JSON and lists the API's problems by field", async () => {
    const invalid = {
      error: {
        code: "request_invalid",
        message: "the request does not fit this endpoint: ...",
        details: { issues: ["body.bands.0.max_discount: Value error, a band's max_discount is a percentage from 0 to 100, not 150", "body.max_rounds: Input should be greater than or equal to 1"] },
      },
    };
    const sent = serve(PAGE, { [`GET ${S}/policy`]: [200, policy], [`GET ${S}/scoring`]: [200, scoring], [`PUT ${S}/policy`]: [422, invalid] }, admin);
    const form = await screen.findByRole("form", { name: "Discount policy" });
    fireEvent.click(within(form).getByLabelText("JSON"));
    const json = within(form).getByLabelText("Discount policy as JSON") as HTMLTextAreaElement;
    expect(JSON.parse(json.value)).toEqual(policy.policy);
    fireEvent.change(json, { target: { value: "{ not json" } });
    fireEvent.click(within(form).getByRole("button", { name: "Save discount policy" }));
    expect((await within(form).findByRole("alert")).textContent).toMatch(/^The discount policy was not savedthe JSON does not parse: /);
    const body = { ...policy.policy, bands: [{ below: null, max_discount: "150" }], max_rounds: 0 };
    fireEvent.change(json, { target: { value: JSON.stringify(body) } });
    fireEvent.click(within(form).getByRole("button", { name: "Save discount policy" }));
    const problems = await within(form).findByRole("list", { name: "Problems" });
    expect(Array.from(problems.children).map((item) => item.textContent)).toEqual(invalid.error.details.issues);
    expect(sent).toEqual([{ method: "PUT", path: `${S}/policy`, body, type: "application/json" }]);
    fireEvent.click(within(form).getByLabelText("form"));
    expect(values(within(form).getByRole("table", { name: "Bands" }))).toEqual([["", "150"]]);
  });

  it("edits the scoring rules and starts a tenant without a policy from one band", async () => {
    const saved = { version: 1, rules: { ...scoring.rules, industries: { software: 25, retail: 10 }, threshold: 60 }, created_by: "ada@acme.example", created_at: AT };
    const none = { error: { code: "not_found", message: "the tenant has no discount policy yet", details: {} } };
    const sent = serve(PAGE, { [`GET ${S}/policy`]: [404, none], [`GET ${S}/scoring`]: [200, scoring], [`PUT ${S}/scoring`]: [200, saved] }, admin);
    const policyForm = await screen.findByRole("form", { name: "Discount policy" });
    expect(values(within(policyForm).getByRole("table", { name: "Bands" }))).toEqual([["", "10"]]);
    const form = await screen.findByRole("form", { name: "Scoring rules" });
    expect(within(form).getByText("The defaults: never changed.")).toBeTruthy();
    fireEvent.click(within(form).getByRole("button", { name: "Add industry" }));
    fireEvent.change(within(form).getByLabelText("Industry of industry 2"), { target: { value: "retail" } });
    fireEvent.change(within(form).getByLabelText("Points of industry 2"), { target: { value: "10" } });
    fireEvent.change(within(form).getByLabelText("Qualifying score"), { target: { value: "60" } });
    fireEvent.click(within(form).getByRole("button", { name: "Save scoring rules" }));
    await waitFor(() => expect(within(form).queryByText(/^Version 1, set by ada@acme.example/)).toBeTruthy());
    expect(sent.map((each) => [each.method, each.path, each.body])).toEqual([["PUT", `${S}/scoring`, saved.rules]]);
  });

  it("shows the settings to a viewer without letting them change anything", async () => {
    serve(PAGE, { [`GET ${S}/policy`]: [200, policy], [`GET ${S}/scoring`]: [200, scoring] }, viewer);
    const form = await screen.findByRole("form", { name: "Scoring rules" });
    expect(values(within(form).getByRole("table", { name: "Industries" }))).toEqual([["software", "25"]]);
    expect(within(form).getByText("Only an admin can change these.")).toBeTruthy();
    expect(within(form).getByLabelText("Qualifying score").matches(":disabled")).toBe(true);
    expect(screen.queryByRole("button", { name: /^Save/ })).toBeNull();
  });
});
