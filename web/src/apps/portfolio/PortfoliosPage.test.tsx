import { cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { formatTime } from "../../format";
import { serve, viewer } from "./fakeApi.testing";
import type { Routes } from "./fakeApi.testing";
import type { Execution, ImportReport, Portfolio, Positions } from "./types";

const P = "/api/v1/portfolio";
const HEAD = "c0ffee1234567890abcdef1234567890abcdef1234567890abcdef1234567890"; // pragma: allowlist secret
const PACK = "9ac4b2e1f00d5eed9ac4b2e1f00d5eed9ac4b2e1f00d5eed9ac4b2e1f00d5eed"; // pragma: allowlist secret
const RESULT_HASH = "77aa01bb02cc03dd04ee05ff0677aa01bb02cc03dd04ee05ff0677aa01bb02cc"; // pragma: allowlist secret

const growth: Portfolio = {
  id: "p1",
  name: "Growth",
  base_currency: "USD",
  benchmark: "SPY",
  created_by: "ada@acme.example",
  created_at: "2026-12-01T10:00:00Z",
  updated_at: "2026-12-01T10:00:00Z",
};

const held: Positions = {
  portfolio_id: "p1",
  ledger_commit_hash: HEAD,
  base_currency: "USD",
  positions: [{ account_id: "a1", symbol: "AAPL", quantity: "30", cost: "5400.00", currency: "USD" }],
  cash: { USD: "4600.00" },
};

const PAGE = "/apps/portfolio/portfolios?portfolio=p1";

function routes(extra: Routes = {}): Routes {
  return {
    [`GET ${P}/portfolios`]: [200, [growth]],
    [`GET ${P}/portfolios/p1`]: [200, growth],
    [`GET ${P}/portfolios/p1/positions`]: [200, held],
    [`GET ${P}/portfolios/p1/accounts`]: [200, [{ id: "a1", portfolio_id: "p1", name: "Broker", custodian: null, created_at: "2026-12-01T10:00:00Z" }]],
    ...extra,
  };
}

const metrics = {
  base_currency: "USD",
  start: "2026-01-02",
  end: "2026-01-06",
  periods: 2,
  periods_per_year: 252,
  risk_free_rate: 0.0,
  value_start: "10000.00",
  value_end: "10450.00",
  net_flows: "0.00",
  twr: 0.045,
  twr_annualized: 12.34567,
  mwr_annualized: 12.3,
  volatility: 0.1234,
  sharpe: 1.87654,
  sortino: null,
  max_drawdown: { depth: -0.03333333333, peak: "2026-01-05", trough: "2026-01-06" },
  benchmark: { key: "SPY", periods: 2, beta: 0.912, correlation: 0.8765 },
  concentration: { largest_weight: "0.574163", herfindahl: "0.523010", top5_share: "0.956938" },
  positions: [{ symbol: "AAPL", quantity: "30", price: "200.00", currency: "USD", market_value: "6000.00", weight: "0.574163" }],
  cash: { USD: "4450.00" },
  by_currency: { USD: "10450.00" },
};

const done: Execution = {
  run_id: "run-1",
  pattern_id: "portfolio_overview",
  status: "succeeded",
  pricing_pack_id: PACK,
  ledger_commit_hash: HEAD,
  pattern_version: 1,
  result_id: "r1",
  result_hash: RESULT_HASH,
  result: {
    portfolio_id: "p1",
    base_currency: "USD",
    benchmark: "SPY",
    positions: metrics.positions,
    by_currency: metrics.by_currency,
    series: { dates: ["2026-01-02", "2026-01-05", "2026-01-06"], values: ["10000.00", "10800.00", "10450.00"] },
    metrics,
  },
  sources: ["fred", "stooq"],
  attribution: ["Prices: Stooq (stooq.com)", "Macro series: FRED, Federal Reserve Bank of St. Louis"],
  error: null,
};

const running: Execution = { ...done, status: "running", pattern_version: null, result_id: null, result_hash: null, result: null };

function pairs(list: HTMLElement): string[] {
  const terms = within(list).getAllByRole("term");
  const definitions = within(list).getAllByRole("definition");
  return terms.map((term, index) => `${term.textContent}: ${definitions[index]?.textContent}`);
}

afterEach(() => {
  cleanup();
  window.history.pushState(null, "", "/");
});

describe("the portfolios page", () => {
  it("is in the navigation, lists the portfolios and creates one", async () => {
    const sent = serve("/apps/portfolio/portfolios", routes({ [`POST ${P}/portfolios`]: [201, { ...growth, id: "p2", name: "Income" }] }));
    const nav = await screen.findByRole("navigation", { name: "Pages" });
    expect((await within(nav).findByRole("link", { name: "Portfolios" })).getAttribute("href")).toBe("/apps/portfolio/portfolios");
    expect(within(nav).getByRole("link", { name: "Pricing packs" }).getAttribute("href")).toBe("/apps/portfolio/packs");
    const list = await screen.findByRole("list", { name: "Portfolios" });
    expect(within(list).getAllByRole("listitem").map((item) => item.textContent)).toEqual(["Growth · USD · against SPY"]);

    const form = screen.getByRole("form", { name: "New portfolio" });
    fireEvent.change(within(form).getByLabelText("Name"), { target: { value: "Income" } });
    fireEvent.change(within(form).getByLabelText("Base currency"), { target: { value: "eur" } });
    fireEvent.click(within(form).getByRole("button", { name: "Create portfolio" }));
    await waitFor(() => expect(window.location.search).toBe("?portfolio=p2"));
    expect(sent).toEqual([
      { method: "POST", path: `${P}/portfolios`, body: { name: "Income", base_currency: "EUR", benchmark: null }, type: "application/json" },
    ]);
  });

  it("shows a chosen portfolio's holdings by account", async () => {
    serve(PAGE, routes());
    const table = await screen.findByRole("table", { name: "Holdings" });
    expect(within(table).getAllByRole("row").map((row) => row.textContent)).toEqual(["AccountSymbolQuantityCost", "BrokerAAPL305,400.00 USD"]);
    expect(screen.getByText("Cash: 4,600.00 USD")).toBeTruthy();
  });

  it("shows the per-row report of a refused import, and nothing else", async () => {
    const report: ImportReport = {
      rows: 3,
      errors: [
        { row: 2, column: "date", message: "not a date (YYYY-MM-DD): 2026-13-01" },
        { row: 4, column: "quantity", message: "a buy needs a positive quantity" },
      ],
      accounts_created: [],
      dry_run: false,
      commit: null,
    };
    const refused = { error: { code: "input_invalid", message: "2 problem(s) in 2 row(s); nothing was imported", details: report } };
    const sent = serve(PAGE, routes({ [`POST ${P}/portfolios/p1/import?source=ledger.csv`]: [422, refused] }));
    const file = new File(["date,kind,account\n2026-13-01,buy,Broker\n"], "ledger.csv", { type: "text/csv" });
    fireEvent.change(await screen.findByLabelText("Ledger CSV"), { target: { files: [file] } });
    fireEvent.click(screen.getByRole("button", { name: "Import" }));

    const problems = await screen.findByRole("table", { name: "Import problems" });
    expect(within(problems).getAllByRole("row").map((row) => Array.from(row.children).map((cell) => cell.textContent))).toEqual([
      ["Row", "Column", "Message"],
      ["2", "date", "not a date (YYYY-MM-DD): 2026-13-01"],
      ["4", "quantity", "a buy needs a positive quantity"],
    ]);
    const alert = problems.closest("[role=alert]") as HTMLElement;
    expect(within(alert).getByText("ledger.csv was not imported")).toBeTruthy();
    expect(within(alert).getByText("2 problem(s) in 2 row(s); nothing was imported")).toBeTruthy();
    expect(sent).toEqual([{ method: "POST", path: `${P}/portfolios/p1/import?source=ledger.csv`, body: file, type: "text/csv" }]);
  });

  it("shows the commit of an import and the holdings after it", async () => {
    const imported: ImportReport = { rows: 2, errors: [], accounts_created: ["Broker"], dry_run: false, commit: { seq: 1, hash: HEAD, count: 2 } };
    serve(
      PAGE,
      routes({
        [`POST ${P}/portfolios/p1/import?source=ledger.csv`]: [201, imported],
        [`GET ${P}/portfolios/p1/positions`]: [
          [200, { ...held, ledger_commit_hash: "", positions: [], cash: {} }],
          [200, held],
        ],
      }),
    );
    expect(await screen.findByText("No positions: import a ledger CSV.")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Ledger CSV"), { target: { files: [new File(["x"], "ledger.csv")] } });
    fireEvent.click(screen.getByRole("button", { name: "Import" }));
    const status = await screen.findByText(/^Imported 2 rows/);
    expect(status.textContent).toBe("Imported 2 rows from ledger.csv as commit c0ffee123456; new accounts: Broker.");
    expect(within(status).getByTitle(HEAD).textContent).toBe(HEAD.slice(0, 12));
    expect(await screen.findByRole("table", { name: "Holdings" })).toBeTruthy();
  });

  it("runs the overview, follows the running execution and shows metrics, positions, chart, pins and attribution", async () => {
    const sent = serve(
      PAGE,
      routes({
        [`POST ${P}/execute`]: [202, running],
        [`GET ${P}/executions/run-1`]: [
          [200, running],
          [200, done],
        ],
      }),
    );
    fireEvent.click(await screen.findByRole("button", { name: "Run overview" }));
    expect(await screen.findByText(/Computing the overview/)).toBeTruthy();
    const metricsList = await screen.findByLabelText("Metrics");
    expect(sent).toEqual([
      { method: "POST", path: `${P}/execute`, body: { pattern_id: "portfolio_overview", portfolio_id: "p1" }, type: "application/json" },
    ]);
    expect(pairs(metricsList)).toEqual([
      "Period: 2026-01-02 to 2026-01-06 (2 periods, 252 a year)",
      "Value at the start: 10,000.00 USD",
      "Value at the end: 10,450.00 USD",
      "Net deposits less withdrawals: 0.00 USD",
      "Time-weighted return, cumulative: 4.50%",
      "Time-weighted return, annualised: 1234.57%",
      "Money-weighted return (IRR), annualised: 1230.00%",
      "Volatility, annualised: 12.34%",
      "Sharpe ratio: 1.88 (risk-free rate 0.00% a year)",
      "Sortino ratio: not defined (risk-free rate 0.00% a year)",
      "Maximum drawdown: -3.33% (peak 2026-01-05, trough 2026-01-06)",
      "Beta against SPY: 0.91 (over 2 common periods)",
      "Correlation with SPY: 0.88 (over 2 common periods)",
      "Largest position's weight: 57.42%",
      "Five largest positions' weight: 95.69%",
      "Herfindahl index: 0.5230 (sum of squared weights: 1 is a single position)",
    ]);
    expect(pairs(screen.getByLabelText("Computed from"))).toEqual([
      "Pricing pack: 9ac4b2e1f00d",
      "Ledger commit: c0ffee123456",
      "Result hash: 77aa01bb02cc",
      "Benchmark: SPY",
    ]);
    expect(screen.queryByLabelText("Splits the ledger lacks")).toBeNull();
    expect(screen.getByTitle(PACK).textContent).toBe(PACK.slice(0, 12));
    expect(screen.getByTitle(RESULT_HASH).textContent).toBe("77aa01bb02cc");
    const positions = screen.getByRole("table", { name: "Priced positions" });
    expect(within(positions).getAllByRole("row").map((row) => row.textContent)).toEqual([
      "SymbolQuantityPriceMarket value (USD)Weight",
      "AAPL30200.00 USD6,000.0057.42%",
    ]);
    expect(pairs(screen.getByLabelText("Value by currency"))).toEqual(["USD: 10,450.00 USD"]);
    const chart = screen.getByRole("img", { name: "Portfolio value over time" });
    expect(chart.querySelector("desc")?.textContent).toBe(
      "3 points from 2026-01-02 to 2026-01-06: 10,000.00 USD at the start, 10,450.00 USD at the end; " +
        "lowest 10,000.00 USD on 2026-01-02, highest 10,800.00 USD on 2026-01-05.",
    );
    expect(within(screen.getByRole("list", { name: "Attribution" })).getAllByRole("listitem").map((item) => item.textContent)).toEqual([
      "Prices: Stooq (stooq.com)",
      "Macro series: FRED, Federal Reserve Bank of St. Louis",
    ]);
    expect(within(screen.getByRole("group", { name: "Export" })).getAllByRole("button").map((button) => button.textContent)).toEqual([
      "Export CSV",
      "Export JSON",
      "Export PDF",
    ]);
  });

  it("lists the pack's splits the ledger does not book", async () => {
    const split = { symbol: "ACME", date: "2010-02-15", ratio: "2", held: "1000", source: "fmp" };
    const unbooked: Execution = { ...done, result: { ...done.result, unbooked_splits: [split] } };
    serve(PAGE, routes({ [`POST ${P}/execute`]: [200, unbooked] }));
    fireEvent.click(await screen.findByRole("button", { name: "Run overview" }));
    const notice = await screen.findByLabelText("Splits the ledger lacks");
    expect(within(notice).getAllByRole("listitem").map((item) => item.textContent)).toEqual([
      "ACME: 2 new shares per share on 2010-02-15 (1,000 held before it; from fmp)",
    ]);
  });

  it("says when the pricing pack will be ready while it is warming, not that the run failed", async () => {
    const warming = {
      error: {
        code: "not_ready",
        message: "a new pricing pack is warming; ask again when it is ready, or pin a pack (pack_id) to compute on it now",
        details: { build_id: "b2", retry_after: 41.5, estimated_ready: "2026-12-03T15:20:00+00:00" },
      },
    };
    serve(PAGE, routes({ [`POST ${P}/execute`]: [503, warming] }));
    fireEvent.click(await screen.findByRole("button", { name: "Run overview" }));
    const notice = (await screen.findByText("The pricing pack is warming.")).closest("[role=status]") as HTMLElement;
    expect(Array.from(notice.children).map((child) => child.textContent)).toEqual([
      "The pricing pack is warming.",
      "a new pricing pack is warming; ask again when it is ready, or pin a pack (pack_id) to compute on it now",
      `Estimated ready at ${formatTime("2026-12-03T15:20:00+00:00")}; try again in about 42 s.`,
    ]);
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("shows why an export is refused next to its button", async () => {
    const refused = {
      error: {
        code: "forbidden",
        message: "export refused: fred does not allow export (licence: display only)",
        details: { reasons: ["fred does not allow export (licence: display only)"] },
      },
    };
    const sent = serve(
      PAGE,
      routes({ [`POST ${P}/execute`]: [200, done], [`GET ${P}/results/r1/export?format=pdf`]: [403, refused] }),
    );
    fireEvent.click(await screen.findByRole("button", { name: "Run overview" }));
    const exports = await screen.findByRole("group", { name: "Export" });
    fireEvent.click(within(exports).getByRole("button", { name: "Export PDF" }));
    const alert = await within(exports).findByRole("alert");
    expect(alert.textContent).toBe("export refused: fred does not allow export (licence: display only)");
    expect(alert.previousElementSibling?.textContent).toBe("Export PDF");
    expect(sent.map((request) => `${request.method} ${request.path}`)).toEqual([`POST ${P}/execute`]);
  });

  it("says why a run failed", async () => {
    const failed: Execution = { ...running, status: "failed", error: { code: "step_failed", message: "AAPL has no close on or before 2026-01-02", details: {} } };
    serve(PAGE, routes({ [`POST ${P}/execute`]: [200, failed] }));
    fireEvent.click(await screen.findByRole("button", { name: "Run overview" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toBe("The overview could not be computedAAPL has no close on or before 2026-01-02Open the run");
    expect(within(alert).getByRole("link", { name: "Open the run" }).getAttribute("href")).toBe("/runs/run-1");
    expect(screen.queryByLabelText("Metrics")).toBeNull();
  });

  it("lets a viewer read but not create, import or run", async () => {
    serve(PAGE, routes(), viewer);
    expect(await screen.findByRole("table", { name: "Holdings" })).toBeTruthy();
    expect(screen.queryByRole("form", { name: "New portfolio" })).toBeNull();
    expect(screen.queryByLabelText("Ledger CSV")).toBeNull();
    expect(screen.queryByRole("button", { name: "Run overview" })).toBeNull();
  });
});
