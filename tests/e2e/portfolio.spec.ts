// The portfolio app end to end, in Chromium against a real `batonflow demo serve` whose offline
// data provider answers after four seconds (BATONFLOW_PORTFOLIO_OFFLINE_DELAY), so a pack build
// warms long enough to be seen: the demo admin creates a portfolio, sees a ledger CSV with a bad
// row refused with its row report, imports the sample ledger and sees the holdings; builds a
// pricing pack and, while it warms, the overview says when the pack should be ready; once the
// pack is fresh the overview shows its metrics, value chart and attribution; and once the
// tenant's offline source forbids export, the PDF export is refused with the source's reason.
// The first pack is built as of today (the offline data ends in March 2010, so the valuation
// ends at the last close); a second, as of a chosen earlier date, ends the overview there.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect, test } from "@playwright/test";
import type { Page } from "@playwright/test";
import { ROOT, startServer } from "./server";
import type { Account, Server } from "./server";

const LEDGER = path.join(ROOT, "src", "batonflow", "apps", "portfolio", "samples", "ledger.csv");
const BAD_LEDGER = [
  "date,kind,account,symbol,quantity,price,amount,fee,currency,ratio,note",
  "2004-01-02,deposit,Brokerage,,,,100000,,USD,,initial funding",
  "2004-01-15,buy,Brokerage,AAPL,lots,22.40,,9.95,USD,,",
  "",
].join("\n");

let server: Server;
let files: string;
const problems: string[] = [];

test.describe.configure({ mode: "serial" });

test.beforeAll(async () => {
  files = mkdtempSync(path.join(tmpdir(), "batonflow-portfolio-files-"));
  writeFileSync(path.join(files, "bad-ledger.csv"), BAD_LEDGER);
  server = await startServer({ BATONFLOW_PORTFOLIO_OFFLINE_DELAY: "4" });
});

test.afterAll(async () => {
  await server?.stop();
  rmSync(files, { recursive: true, force: true });
});

function watch(page: Page): void {
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    // A refused request (the 503 while the pack warms, the 422 import report, the 403 export)
    // is logged by Chromium as a failed resource; the page's handling of it is what is tested.
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
      problems.push(`console: ${message.text()}`);
    }
  });
}

async function signIn(page: Page, admin: Account): Promise<void> {
  await page.goto(`${server.url}/`);
  await page.getByLabel("Email").fill(admin.email);
  await page.getByLabel("Password").fill(admin.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Runs", level: 1 })).toBeVisible();
}

async function accessToken(page: Page, admin: Account): Promise<string> {
  const response = await page.request.post(`${server.url}/api/v1/auth/login`, {
    data: { email: admin.email, password: admin.password },
  });
  expect(response.status()).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

async function openPortfolio(page: Page, name: string): Promise<void> {
  await page.getByRole("link", { name: "Portfolios" }).click();
  await page.getByRole("list", { name: "Portfolios" }).getByRole("link", { name }).click();
  await expect(page.getByRole("heading", { name, level: 2 })).toBeVisible();
}

test("an admin imports a ledger, waits out a warming pack, reads the overview and is refused a restricted export", async ({ browser }) => {
  test.setTimeout(180_000);
  const admin = server.accounts.find((account) => account.role === "admin");
  if (!admin) throw new Error(`no admin in the demo credentials: ${JSON.stringify(server.accounts)}`);
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  watch(page);
  await signIn(page, admin);

  // A portfolio in USD.
  await page.getByRole("link", { name: "Portfolios" }).click();
  await expect(page.getByRole("heading", { name: "Portfolios", level: 1 })).toBeVisible();
  const create = page.getByRole("form", { name: "New portfolio" });
  await create.getByLabel("Name").fill("Family savings");
  await expect(create.getByLabel("Base currency")).toHaveValue("USD");
  await create.getByRole("button", { name: "Create portfolio" }).click();
  await expect(page.getByRole("list", { name: "Portfolios" }).getByRole("link", { name: "Family savings" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Family savings", level: 2 })).toBeVisible();
  await expect(page.getByText("No positions: import a ledger CSV.")).toBeVisible();

  // A file with a bad cell is refused whole, with the row report.
  const importForm = page.getByRole("form", { name: "Import a ledger CSV" });
  await importForm.getByLabel("Ledger CSV").setInputFiles(path.join(files, "bad-ledger.csv"));
  await importForm.getByRole("button", { name: "Import" }).click();
  const refusal = importForm.getByRole("alert");
  await expect(refusal).toContainText("bad-ledger.csv was not imported");
  const problemsTable = refusal.getByRole("table", { name: "Import problems" });
  await expect(problemsTable.getByRole("row")).toHaveCount(2);
  await expect(problemsTable.getByRole("row").nth(1).getByRole("cell").nth(0)).toHaveText("3");
  await expect(problemsTable.getByRole("row").nth(1).getByRole("cell").nth(1)).toHaveText("quantity");
  await expect(page.getByText("No positions: import a ledger CSV.")).toBeVisible();

  // The sample ledger is imported as one commit; the holdings follow.
  await importForm.getByLabel("Ledger CSV").setInputFiles(LEDGER);
  await importForm.getByRole("button", { name: "Import" }).click();
  await expect(importForm.getByRole("status")).toContainText("Imported 16 rows from ledger.csv");
  const holdings = page.getByRole("table", { name: "Holdings" });
  await expect(holdings.getByRole("row")).toHaveCount(6);
  const symbols = await holdings.getByRole("rowheader").allTextContents();
  expect(symbols.sort()).toEqual(["AAPL", "AMZN", "GOOG", "IBM", "MSFT"]);
  await expect(holdings.getByRole("row", { name: /AAPL/ }).getByRole("cell")).toHaveText(["Brokerage", "500", "10,209.90 USD"]);
  await expect(page.getByText("Cash: 59,534.45 USD")).toBeVisible();

  // A pack build; while it warms the overview is not computed and says when to come back.
  await page.getByRole("link", { name: "Pricing packs" }).click();
  await expect(page.getByRole("heading", { name: "Pricing packs", level: 1 })).toBeVisible();
  await page.getByRole("button", { name: "Build pack" }).click();
  const health = page.getByRole("heading", { name: /Pack health/ });
  await expect(health).toContainText("warming");
  await expect(page.getByLabel("Pack health", { exact: true })).toContainText("Estimated ready");

  await openPortfolio(page, "Family savings");
  await page.getByRole("button", { name: "Run overview" }).click();
  const warming = page.getByRole("status").filter({ hasText: "The pricing pack is warming." });
  await expect(warming).toBeVisible();
  await expect(warming).toContainText(/Estimated ready at .+; try again in about \d+ s\./);

  // The packs page turns fresh by itself, soon after the build ends (not only when the first
  // build's fixed one-minute estimate runs out).
  await page.getByRole("link", { name: "Pricing packs" }).click();
  await expect(health).toContainText("fresh", { timeout: 25_000 });
  const builds = page.getByRole("table", { name: "Pack builds" });
  await expect(builds.getByRole("row").nth(1)).toContainText("fresh");
  await expect(builds.getByRole("row").nth(1)).toContainText("offline");

  // The overview on the fresh pack.
  await openPortfolio(page, "Family savings");
  await page.getByRole("button", { name: "Run overview" }).click();
  const overview = page.getByRole("region", { name: "Overview" });
  await expect(overview).toBeVisible({ timeout: 60_000 });
  const metrics = overview.getByLabel("Metrics", { exact: true });
  await expect(metrics).toContainText("Period2004-02-01 to 2010-03-01");
  await expect(metrics).toContainText("Value at the end");
  await expect(metrics).toContainText("Time-weighted return, cumulative");
  const priced = overview.getByRole("table", { name: "Priced positions" });
  await expect(priced.getByRole("row")).toHaveCount(6);
  await expect(overview.getByRole("img", { name: "Portfolio value over time" })).toBeVisible();
  await expect(overview.locator("svg[role=img]")).toHaveCount(1);
  await expect(overview.getByRole("list", { name: "Attribution" })).toHaveText(
    "Sample data: vega-datasets, the Vega project's example data sets (BSD-3-Clause); for demonstration, not for investment decisions",
  );

  // The tenant's offline source forbids export: the PDF is refused, naming the source.
  const token = await accessToken(page, admin);
  const restricted = await page.request.put(`${server.url}/api/v1/portfolio/rights/offline`, {
    headers: { Authorization: `Bearer ${token}` },
    data: {
      attribution: "Vega datasets, licensed for internal use only",
      export_allowed: false,
      redistribution_allowed: false,
      watermark_required: false,
    },
  });
  expect(restricted.status()).toBe(200);
  await overview.getByRole("button", { name: "Export PDF" }).click();
  await expect(overview.getByRole("group", { name: "Export" }).getByRole("alert")).toHaveText(
    `export refused: offline: export is not allowed (the tenant's data rights for offline, set by ${admin.email} ` +
      "(the default: the vega-datasets BSD-3-Clause licence permits redistribution with its notice))",
  );

  // A pack as of an earlier date looks back: the overview then ends there.
  await page.getByRole("link", { name: "Pricing packs" }).click();
  await page.getByLabel("As of").fill("2007-12-31");
  await page.getByRole("button", { name: "Build pack" }).click();
  await expect(health).toContainText("warming");
  await expect(health).toContainText("fresh", { timeout: 25_000 });
  await expect(page.getByLabel("Pack health", { exact: true })).toContainText("As of2007-12-31");
  await expect(builds.getByRole("row").nth(1).getByRole("cell").nth(1)).toHaveText("2007-12-31");
  await openPortfolio(page, "Family savings");
  await page.getByRole("button", { name: "Run overview" }).click();
  await expect(overview.getByLabel("Metrics", { exact: true })).toContainText("Period2004-02-01 to 2007-12-01", { timeout: 60_000 });
  expect(problems).toEqual([]);
});
