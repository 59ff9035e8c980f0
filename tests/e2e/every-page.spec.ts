// Every dashboard page, in Chromium against a real `batonflow demo serve` with seeded data, at
// 1280x800 and on a 390 px phone: the pages of web/src/App.tsx (runs, a run, workflows, a
// workflow, reviews, dead letters, prompts, usage, knowledge, schedules, hooks, admin, a missing
// page) and every page the enabled apps add. A page fails on any console error or on being wider
// than the screen. On the phone every navigation entry can be reached without scrolling the bar
// sideways (and the phone prefers the dark theme, which the dashboard follows); reviewers land on
// Reviews with the pending count in the navigation; the theme switch and the keyboard shortcuts
// work.
import { mkdirSync } from "node:fs";
import path from "node:path";
import { expect, test } from "@playwright/test";
import type { Browser, Page } from "@playwright/test";
import { ROOT, accountOf, startServer } from "./server";
import { fits } from "./fits";
import type { Account, Server } from "./server";

const SHOTS = path.join(ROOT, "artifacts", "screenshots");

let server: Server;
let token = "";
let runId = "";
let deadId = "";
const problems: string[] = [];

test.describe.configure({ mode: "serial" });

function account(role: string): Account {
  return accountOf(server, role);
}

async function call(method: string, route: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${server.url}${route}`, {
    method,
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${await response.text()}`);
  return response.json();
}

test.beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer();
  const admin = account("admin");
  const login = await fetch(`${server.url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email: admin.email, password: admin.password }),
  });
  token = ((await login.json()) as { access_token: string }).access_token;
  // Seeded data on every page: a run waiting at its review, a dead run, a prompt in two versions,
  // a schedule and a hook, on top of what the demo seeds (a pricing pack, the sales product sheet).
  const run = (await call("POST", "/api/v1/runs", {
    workflow_id: "outreach",
    inputs: { name: "Ada Lovelace", email: "ada@example.com", company: "Analytical Engines", employees: 450, budget: 90000 },
  })) as { id: string };
  runId = run.id;
  await expect.poll(async () => ((await call("GET", `/api/v1/runs/${runId}`)) as { status: string }).status).toBe("waiting");
  for (const template of ["Summarise {{ company }} in one line.", "Summarise {{ company }} in one friendly line for a salesperson."]) {
    await call("POST", "/api/v1/prompts", { key: "lead.summary", template, variables: ["company"] });
  }
  // A run whose only step fails every attempt: a dead letter, and a run page with errors.
  await call("POST", "/api/v1/workflows", {
    spec: {
      id: "always-fails",
      version: "1",
      description: "A step that fails every attempt.",
      steps: [{ id: "charge", kind: "agent", capability: "demo.fail", args: { message: "the card was declined by the issuing bank after three attempts" }, retry: { max_attempts: 2, backoff: { initial: 0.1 } } }],
    },
  });
  deadId = ((await call("POST", "/api/v1/runs", { workflow_id: "always-fails", inputs: {} })) as { id: string }).id;
  await expect.poll(async () => ((await call("GET", `/api/v1/runs/${deadId}`)) as { status: string }).status).toBe("dead");
  await call("POST", "/api/v1/schedules", { name: "weekly-report", workflow_id: "market-report", kind: "cron", cron: "0 9 * * 1" });
  await call("POST", "/api/v1/hooks", { name: "crm-lead", workflow_id: "outreach" });
});

test.afterAll(async () => {
  await server?.stop();
});

test.afterEach(() => {
  expect(problems).toEqual([]);
  problems.splice(0);
});

async function open(browser: Browser, role: string, width: number, height: number, colorScheme: "light" | "dark" = "light"): Promise<Page> {
  const context = await browser.newContext({ viewport: { width, height }, colorScheme });
  const page = await context.newPage();
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()} (${message.location().url})`);
  });
  const { email, password } = account(role);
  // The pages before signing in: joining by invitation, then signing in.
  await page.goto(`${server.url}/join`);
  await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
  await fits(page, { soft: true });
  await page.goto(`${server.url}/`);
  await fits(page, { soft: true });
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("whoami")).toBeVisible();
  return page;
}


/** Move within the dashboard as its links do (a reload per page would test the sign-in again). */
async function visit(page: Page, to: string, heading: RegExp | string): Promise<void> {
  await page.evaluate((target) => {
    window.history.pushState(null, "", target);
    window.dispatchEvent(new PopStateEvent("popstate"));
  }, to);
  await expect(page.getByRole("heading", { level: 1, name: heading })).toBeVisible();
  await fits(page, { soft: true });
  await page.screenshot({ path: path.join(SHOTS, `page${to.replace(/[^a-z0-9]+/gi, "-")}-${page.viewportSize()?.width}.png`), fullPage: true });
}

// The phone also prefers a dark theme, so every page is seen in both themes.
for (const [label, width, height, scheme] of [
  ["at 1280x800", 1280, 800, "light"],
  ["on a 390 px phone in the dark", 390, 844, "dark"],
] as const) {
  test(`every page fits and logs no error ${label}`, async ({ browser }) => {
    const page = await open(browser, "admin", width, height, scheme);
    await expect(page.locator("html")).toHaveAttribute("data-theme", scheme);
    const nav = page.getByRole("navigation", { name: "Pages" });
    // Every entry of the navigation is on screen, none hidden past the edge of a scrolling bar.
    const entries = nav.getByRole("link");
    for (const name of ["Runs", "Workflows", "Reviews", "Dead letters", "Prompts", "Knowledge", "Schedules", "Hooks", "Usage", "Admin"]) {
      await expect(nav.getByRole("link", { name: new RegExp(`^${name}`) })).toBeInViewport({ ratio: 1 });
    }
    await expect(nav.getByRole("link", { name: /^Reviews/ })).toHaveAccessibleName("Reviews, 1 waiting");
    const pages: [string, RegExp | string][] = [
      ["/runs", "Runs"],
      [`/runs/${runId}`, new RegExp(runId.slice(-12))],
      [`/runs/${deadId}`, new RegExp(deadId.slice(-12))],
      ["/workflows", "Workflows"],
      ["/workflows/outreach", "Workflow outreach"],
      ["/reviews", "Reviews"],
      ["/dead-letters", "Dead letters"],
      ["/prompts", "Prompts"],
      ["/usage", "Usage"],
      ["/knowledge", "Knowledge"],
      ["/schedules", "Schedules"],
      ["/hooks", "Hooks"],
      ["/admin", "Admin"],
      ["/no-such-page", "Not found"],
    ];
    // The apps' pages, as the server lists them; each is also in the navigation.
    const apps = (await call("GET", "/api/v1/apps")) as { items: { pages: { path: string; title: string }[] }[] };
    const appPages = apps.items.flatMap((app) => app.pages);
    expect(appPages.length).toBeGreaterThan(5);
    for (const appPage of appPages) {
      await expect(nav.getByRole("link", { name: appPage.title, exact: true })).toBeInViewport({ ratio: 1 });
      pages.push([appPage.path, /./]);
    }
    expect(await entries.count()).toBe(10 + appPages.length);
    for (const [to, heading] of pages) await visit(page, to, heading);
    // A run with its drafted email open in the step panel, and its attempts.
    await visit(page, `/runs/${runId}`, new RegExp(runId.slice(-12)));
    await page.locator('g.graph-node[data-step="draft"]').click();
    await expect(page.getByTestId("step-panel")).toContainText("ada@example.com");
    await fits(page, { soft: true });
    // A workflow's YAML and the shortcuts list.
    await visit(page, "/workflows/outreach", "Workflow outreach");
    await page.keyboard.press("?");
    await expect(page.getByRole("dialog", { name: "Keyboard shortcuts" })).toBeVisible();
    await fits(page, { soft: true });
    await page.keyboard.press("Escape");
    await expect(page.getByRole("dialog")).toHaveCount(0);
    // The prompt page with a version open, and its diff.
    await visit(page, "/prompts", "Prompts");
    await page.getByRole("list", { name: "Prompt keys" }).getByRole("button").first().click();
    await expect(page.locator(".diff-add")).toContainText("friendly");
    await fits(page, { soft: true });
    await page.context().close();
  });
}

test("a reviewer lands on Reviews, sees the waiting count, and approves with the keyboard in the dark theme", async ({ browser }) => {
  const page = await open(browser, "reviewer", 1280, 800);
  await expect(page.getByRole("heading", { name: "Reviews", level: 1 })).toBeVisible();
  await expect(page).toHaveURL(/\/reviews$/);
  const nav = page.getByRole("navigation", { name: "Pages" });
  await expect(nav.getByRole("link", { name: "Reviews, 1 waiting" })).toHaveAttribute("aria-current", "page");
  await expect(nav.getByTestId("pending-count")).toHaveText("1");

  // Dark theme, remembered across a reload.
  const theme = page.getByRole("button", { name: "Dark theme" });
  await expect(theme).toHaveAttribute("aria-pressed", "false");
  await theme.click();
  await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");
  await page.reload();
  await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");
  await expect(page.getByRole("button", { name: "Dark theme" })).toHaveAttribute("aria-pressed", "true");
  expect(await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor)).toBe("rgb(18, 22, 31)");

  // The review reads as what it is, with the email's fields required when edited.
  const review = page.locator("article.review").first();
  await expect(review.getByRole("heading", { level: 2 })).toHaveText("Email to ada@example.com");
  await review.getByRole("button", { name: "Edit and approve…" }).click();
  await expect(review.getByLabel(/^To/)).toHaveAttribute("required", "");
  await expect(review.locator("label", { hasText: "(optional)" })).toHaveCount(0);
  await review.getByRole("button", { name: "Stop editing" }).click();
  await page.screenshot({ path: path.join(SHOTS, "reviews-dark-1280.png"), fullPage: true });

  // Keys: g r opens Runs, g v comes back; j focuses the review, a approves it.
  await page.locator("body").click({ position: { x: 5, y: 400 } });
  await page.keyboard.press("g");
  await page.keyboard.press("r");
  await expect(page.getByRole("heading", { name: "Runs", level: 1 })).toBeVisible();
  await page.keyboard.press("g");
  await page.keyboard.press("v");
  await expect(page.getByRole("heading", { name: "Reviews", level: 1 })).toBeVisible();
  await expect(review).toBeVisible();
  await page.keyboard.press("j");
  await expect(page.locator("article.review").first()).toBeFocused();
  await page.keyboard.press("a");
  await expect(page.getByText("Nothing is waiting for a person.")).toBeVisible();
  await expect(nav.getByTestId("pending-count")).toHaveCount(0, { timeout: 15_000 });
  await expect.poll(async () => ((await call("GET", `/api/v1/runs/${runId}`)) as { status: string }).status).toBe("succeeded");
  await page.context().close();
});
