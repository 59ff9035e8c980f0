// The Workflows page end to end, in Chromium against a real `batonflow demo serve`: an admin
// opens the list, views the market report's graph and YAML, has a broken edit validated (every
// problem with its place), saves a new version, diffs it against the first and starts a run of
// it from its inputs form. A reviewer reads the same pages without the actions that change
// anything. Both at 1280x800 and on a 390 px phone, failing on any console error or on a page
// wider than the screen.
import { mkdirSync } from "node:fs";
import path from "node:path";
import { expect, test } from "@playwright/test";
import type { Browser, Page } from "@playwright/test";
import { ROOT, accountOf, startServer } from "./server";
import { fits } from "./fits";
import type { Account, Server } from "./server";

const SHOTS = path.join(ROOT, "artifacts", "screenshots");

let server: Server;
const problems: string[] = [];

test.describe.configure({ mode: "serial" });

test.beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer();
});

test.afterAll(async () => {
  await server?.stop();
});

test.afterEach(() => {
  expect(problems).toEqual([]);
  problems.splice(0);
});

function account(role: string): Account {
  return accountOf(server, role);
}

async function open(browser: Browser, role: string, width: number, height: number): Promise<Page> {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()} (${message.location().url})`);
  });
  const { email, password } = account(role);
  await page.goto(`${server.url}/`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("whoami")).toBeVisible();
  return page;
}


async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}-${page.viewportSize()?.width}.png`), fullPage: true });
}

async function openWorkflows(page: Page): Promise<void> {
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Workflows", exact: true }).click();
  await expect(page.getByRole("heading", { name: "Workflows", level: 1 })).toBeVisible();
}

for (const [label, width, height] of [
  ["at 1280x800", 1280, 800],
  ["on a 390 px phone", 390, 844],
] as const) {
  test(`an admin edits, diffs and starts a workflow ${label}`, async ({ browser }) => {
    const page = await open(browser, "admin", width, height);
    await openWorkflows(page);
    const row = page.locator('tr[data-workflow="market-report"]');
    await expect(row).toContainText("Price symbols in parallel, fetch a headline, and summarise both.");
    await expect(row).toContainText(width === 1280 ? "v1" : "v2"); // the first test stored v2
    await fits(page);
    await shot(page, "workflows");

    await row.getByRole("link", { name: "market-report" }).click();
    await expect(page.getByRole("heading", { name: "Workflow market-report", level: 1 })).toBeVisible();
    const graph = page.getByRole("group", { name: "Workflow graph" });
    for (const step of ["quotes", "news", "report"]) await expect(graph.locator(`[data-step="${step}"]`)).toHaveAttribute("data-state", "defined");
    await graph.locator('[data-step="report"]').click();
    await expect(page.getByTestId("step-definition")).toContainText("report.summarize");
    const yaml = page.getByLabel("Workflow YAML", { exact: true });
    await expect(yaml).toContainText("id: market-report");
    await fits(page);

    // A broken edit: every problem at once, each with its place; nothing is stored.
    await page.getByRole("button", { name: "New version…" }).click();
    const editor = page.getByRole("region", { name: "New version of market-report" });
    const source = editor.getByLabel("Workflow YAML", { exact: true });
    const original = await source.inputValue();
    const next = width === 1280 ? "2" : "3";
    await source.fill(original.replace("needs: [quotes, news]", "needs: [quote, news]").replace("capability: news.headline", "capability: news.headlines"));
    await editor.getByRole("button", { name: "Validate" }).click();
    const issues = editor.getByRole("list", { name: "Problems" }).getByRole("listitem");
    await shot(page, "workflow-problems");
    await expect(issues).toHaveText([
      "steps[2].needs: unknown step 'quote' (did you mean 'quotes'?)",
      "steps[2].args.quotes: step 'quotes' is not upstream; add it to needs to read its result",
      "steps[1].capability: unknown capability 'news.headlines' (did you mean 'news.headline'?)",
    ]);
    await fits(page);

    // The fixed edit: a new version with a shorter simulated latency.
    const changed = original.replace(/^version: .+$/m, `version: ${next}`).replace("default: 200", "default: 20");
    await source.fill(changed);
    await editor.getByRole("button", { name: "Validate" }).click();
    await expect(editor.getByRole("status")).toHaveText(`Valid: market-report version ${next}.`);
    await editor.getByRole("button", { name: "Save as new version" }).click();
    await expect(page).toHaveURL(`${server.url}/workflows/market-report?version=${next}`);
    await expect(editor).toHaveCount(0);
    await expect(yaml).toContainText("default: 20,");
    const versions = page.getByRole("table", { name: "Versions of market-report, oldest first" });
    await expect(versions.getByRole("link", { name: `v${next}` })).toBeVisible();

    // The diff of the previous version against the new one.
    await page.getByLabel("To", { exact: true }).selectOption(next);
    await page.getByLabel("From", { exact: true }).selectOption("1");
    const diff = page.getByLabel("Differences");
    await expect(diff.locator(".diff-del, .diff-add")).toHaveText([
      /^- version: 1\s*$/,
      new RegExp(`^\\+ version: ${next}\\s*$`),
      /^- {3}delay_ms: \{type: integer, default: 200, /,
      /^\+ {3}delay_ms: \{type: integer, default: 20, /,
    ]);
    await expect(page.getByTestId("diff-counts")).toHaveText("2 lines added, 2 removed");
    await expect(diff.locator(".diff-hunk")).toHaveText([/^⋯ \d+ unchanged lines\s*$/]); // the steps, after the inputs
    await fits(page);
    await shot(page, "workflow-detail");

    // Start a run of the new version from its inputs form; the run opens and succeeds.
    const start = page.getByRole("region", { name: `Start a run of v${next}` });
    await expect(start.getByLabel(/^Delay ms/)).toHaveValue("20");
    await start.getByLabel(/^Topic/).fill("energy");
    await start.getByRole("button", { name: "Start run" }).click();
    await expect(page).toHaveURL(/\/runs\/[0-9a-f-]{36}$/);
    await expect(page.getByTestId("run-status")).toContainText("succeeded");
    await expect(page.getByLabel("Run outputs")).toContainText("Energy: markets steady");
    await fits(page);
    await page.context().close();
  });
}

test("a reviewer reads workflows but may neither store a version nor start a run", async ({ browser }) => {
  for (const width of [1280, 390]) {
    const page = await open(browser, "reviewer", width, 844);
    await openWorkflows(page);
    await expect(page.getByRole("button", { name: "New workflow" })).toHaveCount(0);
    await page.locator('tr[data-workflow="outreach"]').getByRole("link", { name: "outreach" }).click();
    await expect(page.getByRole("group", { name: "Workflow graph" }).locator('[data-step="approve"]')).toBeVisible();
    await expect(page.getByLabel("Workflow YAML", { exact: true })).toContainText("id: outreach");
    await expect(page.getByRole("button", { name: "New version…" })).toHaveCount(0);
    await expect(page.getByRole("button", { name: "Start run" })).toHaveCount(0);
    await fits(page);
    await page.context().close();
  }
});
