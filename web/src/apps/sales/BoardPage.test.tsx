import { cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { serve, viewer } from "./fakeApi.testing";
import { board, globex, renewals, S, sales } from "./testData.testing";

const PAGE = "/apps/sales/board";

function routes() {
  return {
    [`GET ${S}/pipelines`]: [200, [renewals, sales]] as [number, unknown],
    [`GET ${S}/pipelines/pl1/board`]: [200, board] as [number, unknown],
    [`GET ${S}/companies/co1`]: [200, globex] as [number, unknown],
  };
}

function column(name: string): HTMLElement {
  return screen.getByRole("region", { name });
}

afterEach(() => {
  cleanup();
  window.history.pushState(null, "", "/");
});

describe("the pipeline board", () => {
  it("shows the default pipeline's stages with counts, sums per currency and deal cards", async () => {
    serve(PAGE, routes());
    const pipeline = await screen.findByLabelText("Pipeline");
    expect(within(pipeline).getAllByRole("option").map((option) => option.textContent)).toEqual(["Sales (default)", "Renewals"]);
    expect((pipeline as HTMLSelectElement).value).toBe("pl1");
    await screen.findByRole("region", { name: "Board of Sales" });
    expect(within(column("Qualification")).getByLabelText("Qualification totals").textContent).toBe("2 deals · 12,000.00 EUR · 800 USD");
    expect(within(column("Proposal")).getByLabelText("Proposal totals").textContent).toBe("0 deals · nothing");
    const cards = within(column("Qualification")).getAllByRole("article");
    await waitFor(() => expect(within(cards[0] as HTMLElement).getByText("Globex")).toBeTruthy());
    const facts = cards.map((card) => {
      const terms = within(card).getAllByRole("term").map((term) => term.textContent);
      const values = within(card).getAllByRole("definition").map((value) => value.textContent);
      return [within(card).getByRole("heading").textContent, ...terms.map((term, index) => `${term}: ${values[index]}`)];
    });
    expect(facts).toEqual([
      ["Globex rollout", "Company: Globex", "Amount: 12,000.00 EUR", "Close date: 2027-01-31", "Owner: sam"],
      ["Globex support", "Company: Globex", "Amount: 800 USD", "Close date: —", "Owner: —"],
    ]);
    expect(within(cards[0] as HTMLElement).getByRole("link", { name: "Globex rollout" }).getAttribute("href")).toBe("/apps/sales/deals?deal=d1");
  });

  it("moves a deal with a reason and shows the board after it", async () => {
    const moved = {
      ...board,
      stages: [
        { ...board.stages[0]!, count: 1, amounts: { USD: "800" }, deals: [board.stages[0]!.deals[1]!] },
        { ...board.stages[1]!, count: 1, amounts: { EUR: "12000.00" }, deals: [{ ...board.stages[0]!.deals[0]!, stage_id: "s2" }] },
        board.stages[2]!,
        board.stages[3]!,
      ],
    };
    const sent = serve(PAGE, { ...routes(), [`GET ${S}/pipelines/pl1/board`]: [[200, board], [200, moved]], [`POST ${S}/deals/d1/move`]: [200, {}] });
    const form = await screen.findByRole("form", { name: "Move Globex rollout" });
    expect(within(within(form).getByLabelText("Move to")).getAllByRole("option").map((option) => option.textContent)).toEqual(["Proposal", "Contract", "Won"]);
    fireEvent.change(within(form).getByLabelText("Reason"), { target: { value: " asked for a quote " } });
    fireEvent.click(within(form).getByRole("button", { name: "Move" }));
    await waitFor(() => expect(within(column("Proposal")).getByLabelText("Proposal totals").textContent).toBe("1 deal · 12,000.00 EUR"));
    expect(within(column("Proposal")).getByRole("article", { name: "Globex rollout" })).toBeTruthy();
    expect(sent).toEqual([{ method: "POST", path: `${S}/deals/d1/move`, body: { stage_id: "s2", reason: "asked for a quote" }, type: "application/json" }]);
  });

  it("says which fields a stage needs when a deal lacks them, and leaves the deal where it was", async () => {
    const refused = {
      error: {
        code: "input_invalid",
        message: "a deal in 'Contract' needs contact_id, lines; set them first",
        details: { stage_id: "s3", missing: ["contact_id", "lines"] },
      },
    };
    serve(PAGE, { ...routes(), [`POST ${S}/deals/d1/move`]: [422, refused] });
    const form = await screen.findByRole("form", { name: "Move Globex rollout" });
    fireEvent.change(within(form).getByLabelText("Move to"), { target: { value: "s3" } });
    fireEvent.click(within(form).getByRole("button", { name: "Move" }));
    const alert = await within(form).findByRole("alert");
    expect(Array.from(alert.children).map((child) => child.textContent)).toEqual([
      "Not moved: Contract needs contact, line items",
      "Open the deal to set them, then move it again.",
    ]);
    expect(within(alert).getByRole("link", { name: "Open the deal" }).getAttribute("href")).toBe("/apps/sales/deals?deal=d1");
    expect(within(column("Qualification")).getByRole("article", { name: "Globex rollout" })).toBeTruthy();
  });

  it("shows another pipeline's board when it is chosen", async () => {
    const renewalsBoard = { pipeline: { ...board.pipeline, id: "pl2", name: "Renewals", is_default: false }, stages: [{ stage: renewals.stages[0]!, count: 0, amounts: {}, deals: [] }] };
    serve(PAGE, { ...routes(), [`GET ${S}/pipelines/pl2/board`]: [200, renewalsBoard] });
    await screen.findByRole("region", { name: "Board of Sales" });
    fireEvent.change(screen.getByLabelText("Pipeline"), { target: { value: "pl2" } });
    const shown = await screen.findByRole("region", { name: "Board of Renewals" });
    expect(within(shown).getAllByRole("heading").map((heading) => heading.textContent)).toEqual(["Due"]);
    expect(within(shown).getByText("No deals.")).toBeTruthy();
  });

  it("lets a viewer read the board but not move deals", async () => {
    serve(PAGE, routes(), viewer);
    await screen.findByRole("region", { name: "Board of Sales" });
    expect(within(column("Qualification")).getAllByRole("article")).toHaveLength(2);
    expect(screen.queryByRole("form", { name: "Move Globex rollout" })).toBeNull();
  });
});
