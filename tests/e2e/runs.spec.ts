// Telling runs apart, in Chromium against a real `batonflow serve`, on a desktop (1280×800) and a
// phone (390 px): two runs started while the runs list is open appear by themselves (the tenant's
// event stream), named by their inputs and their ids' random ends; search finds one; a short id
// in the address opens it, several matches are listed, an unknown one is not found; times say how
// long ago with the exact time and its zone on hover. Any console error or a page wider than the
// screen fails the test.
import { mkdirSync } from "node:fs";
import path from "node:path";
import { expect, test } from "@playwright/test";
import type { Browser, Page } from "@playwright/test";
import { ROOT, startServer } from "./server";
import type { Server } from "./server";

let server: Server;
let token = "";
const problems: string[] = [];

test.describe.configure({ mode: "serial" });

test.beforeAll(async () => {
  server = await startServer();
});

test.afterAll(async () => {
  await server?.stop();
});

function admin() {
  const found = server.accounts.find((account) => account.role === "admin");
  if (!found) throw new Error(`no admin in the demo credentials: ${JSON.stringify(server.accounts)}`);
  return found;
}

async function api(path: string, body: unknown): Promise<{ id: string }> {
  if (!token) {
    const { email, password } = admin();
    const login = await fetch(`${server.url}/api/v1/auth/login`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email, password }),
    });
    expect(login.status).toBe(200);
    token = ((await login.json()) as { access_token: string }).access_token;
  }
  const response = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  expect(response.status, await response.clone().text()).toBe(201);
  return (await response.json()) as { id: string };
}

/** A signed-in page at this size, in Berlin's zone, failing the test on any console error. */
async function signedIn(browser: Browser, width: number, height: number): Promise<Page> {
  const context = await browser.newContext({ viewport: { width, height }, timezoneId: "Europe/Berlin" });
  const page = await context.newPage();
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()} (${message.location().url})`);
  });
  const { email, password } = admin();
  await page.goto(`${server.url}/`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Runs", level: 1 })).toBeVisible();
  return page;
}

async function fitsTheScreen(page: Page, where: string): Promise<void> {
  const widths = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  expect(widths[0], `${where} is wider than the screen`).toBeLessThanOrEqual(widths[1]!);
}

async function shot(page: Page, name: string): Promise<void> {
  const dir = path.join(ROOT, "artifacts", "screenshots");
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}

function commonPrefix(a: string, b: string): string {
  let n = 0;
  while (n < a.length && a[n] === b[n]) n++;
  return a.slice(0, n);
}

/** An exact time as the dashboard writes it, with Berlin's zone (winter or summer). */
const BERLIN_TIME = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d GMT\+[12]$/;
const ROBOTICS = { symbols: ["ACME"], topic: "robotics", delay_ms: 0 };
const SOLAR = { symbols: ["GLOBEX"], topic: "solar power", delay_ms: 0 };
const runs: { id: string; label: string }[] = [];

test("two runs with different inputs are told apart, searched and opened by short id at 1280×800", async ({ browser }) => {
  const page = await signedIn(browser, 1280, 800);
  await expect(page.getByRole("status").filter({ hasText: "Live" })).toBeVisible();

  // Started elsewhere (the API) while the list is open: they appear without a reload.
  for (const [inputs, label] of [
    [ROBOTICS, "ACME · robotics"],
    [SOLAR, "GLOBEX · solar power"],
  ] as const) {
    const run = await api("/api/v1/runs", { workflow_id: "market-report", inputs });
    runs.push({ id: run.id, label });
  }
  const table = page.getByRole("table", { name: "Runs, newest first" });
  for (const run of runs) {
    const link = table.getByRole("link", { name: `Run ${run.label} (${run.id.slice(-12)})` });
    await expect(link).toBeVisible();
    await expect(link).toHaveAttribute("href", `/runs/${run.id}`);
    const row = table.locator(`tr[data-run="${run.id}"]`);
    await expect(row.getByRole("cell").nth(1)).toHaveText(run === runs[0] ? "symbols: [\"ACME\"]topic: roboticsdelay_ms: 0" : "symbols: [\"GLOBEX\"]topic: solar powerdelay_ms: 0");
    await expect(row.getByText("succeeded")).toBeVisible();
    const started = row.locator("time");
    await expect(started).toHaveText(/^(just now|\d+ s ago)$/);
    await expect(started).toHaveAttribute("title", BERLIN_TIME);
  }
  expect(runs[0]!.id.slice(-12)).not.toBe(runs[1]!.id.slice(-12));
  await fitsTheScreen(page, "the runs list");
  await shot(page, "runs-told-apart");

  // Search on the server: by input text, then by the end of an id.
  await page.getByRole("searchbox", { name: "Search" }).fill("solar");
  await expect(page).toHaveURL(/\/runs\?q=solar$/);
  await expect(table.locator("tbody tr")).toHaveCount(1);
  await expect(table.getByRole("link", { name: `Run ${runs[1]!.label} (${runs[1]!.id.slice(-12)})` })).toBeVisible();
  await page.getByRole("searchbox", { name: "Search" }).fill(runs[0]!.id.slice(-8));
  await expect(table.locator("tbody tr")).toHaveCount(1);
  await expect(table.locator(`tr[data-run="${runs[0]!.id}"]`)).toBeVisible();
  await page.getByRole("button", { name: "Clear filters" }).click();
  await expect(page).toHaveURL(/\/runs$/);

  // A short id in the address, as the CLI accepts it.
  await page.goto(`${server.url}/runs/${runs[0]!.id.slice(-12)}`);
  await expect(page).toHaveURL(`${server.url}/runs/${runs[0]!.id}`);
  await expect(page.getByRole("heading", { level: 1 })).toContainText(`ACME · robotics ${runs[0]!.id.slice(-12)}`);
  const started = page.locator("dl.summary time");
  await expect(started).toHaveText(/^(just now|\d+ (s|min) ago)$/);
  await expect(started).toHaveAttribute("title", BERLIN_TIME);
  await fitsTheScreen(page, "the run page");

  const prefix = commonPrefix(runs[0]!.id, runs[1]!.id);
  expect(prefix.length).toBeGreaterThanOrEqual(6); // ids made minutes apart share their time
  await page.goto(`${server.url}/runs/${prefix}`);
  await expect(page.getByRole("alert")).toContainText(`${prefix} matches`);
  const candidates = page.getByRole("list", { name: "Runs whose id matches" });
  for (const run of runs) {
    await expect(candidates.getByRole("link", { name: `Run ${run.label} (${run.id.slice(-12)})` })).toBeVisible();
  }
  await fitsTheScreen(page, "the list of matching runs");
  await shot(page, "runs-short-id-matches");
  await candidates.getByRole("link", { name: `Run ${runs[1]!.label} (${runs[1]!.id.slice(-12)})` }).click();
  await expect(page).toHaveURL(`${server.url}/runs/${runs[1]!.id}`);

  await page.goto(`${server.url}/runs/ffffffffffff`);
  await expect(page.getByRole("heading", { name: "Not found" })).toBeVisible();
  expect(problems, "console errors").toEqual([]);
  await page.context().close();
});

test("the same runs read on a 390 px phone", async ({ browser }) => {
  const page = await signedIn(browser, 390, 844);
  for (const run of runs) {
    await expect(page.getByRole("link", { name: `Run ${run.label} (${run.id.slice(-12)})` })).toBeVisible();
  }
  await expect(page.locator(`tr[data-run="${runs[1]!.id}"] td.run-inputs`)).toHaveText("symbols: [\"GLOBEX\"]topic: solar powerdelay_ms: 0");
  await fitsTheScreen(page, "the runs list");
  await shot(page, "runs-told-apart-390");
  await page.getByRole("searchbox", { name: "Search" }).fill("robotics");
  await expect(page.locator("table.runs tbody tr")).toHaveCount(1);
  await fitsTheScreen(page, "the searched runs list");
  await page.getByRole("link", { name: `Run ${runs[0]!.label} (${runs[0]!.id.slice(-12)})` }).click();
  await expect(page).toHaveURL(`${server.url}/runs/${runs[0]!.id}`);
  await expect(page.getByRole("heading", { level: 1 })).toContainText(runs[0]!.id.slice(-12));
  await page.goto(`${server.url}/runs/${commonPrefix(runs[0]!.id, runs[1]!.id)}`);
  await expect(page.getByRole("list", { name: "Runs whose id matches" })).toBeVisible();
  await fitsTheScreen(page, "the list of matching runs");
  expect(problems, "console errors").toEqual([]);
  await page.context().close();
});
