// What happened in a run, in Chromium against a real `batonflow demo serve`, at 1280x800 and on a
// 390 px phone: an edited review shows the text the run sent and the original, marked; the send
// step shows its resolved arguments beside its templates; the timeline says how the wait ended;
// the Events tabs list the run's and the step's events; a map given a bad item fails (not dead)
// and opens on that step with the item named; a cancel shows its reason; a dead run shows its
// failed step, attempts and last result on Dead letters and is dismissed there. Fails on any
// console error or on a page wider than the screen.
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
const problems: string[] = [];

test.describe.configure({ mode: "serial" });

test.beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer();
  const { email, password } = account("admin");
  const response = await fetch(`${server.url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  token = ((await response.json()) as { access_token: string }).access_token;
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

async function call<T>(method: string, route: string, body?: unknown): Promise<T> {
  const response = await fetch(`${server.url}${route}`, {
    method,
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(response.status, `${method} ${route}: ${await response.clone().text()}`).toBeLessThan(300);
  return (await response.json()) as T;
}

interface Run {
  id: string;
  status: string;
}

async function runUntil(workflow: string, inputs: Record<string, unknown>, statuses: string[]): Promise<Run> {
  const run = await call<Run>("POST", "/api/v1/runs", { workflow_id: workflow, inputs });
  let status = run.status;
  await expect
    .poll(async () => {
      status = (await call<Run>("GET", `/api/v1/runs/${run.id}`)).status;
      return statuses.includes(status);
    }, { timeout: 30_000 })
    .toBe(true);
  return { id: run.id, status };
}

async function open(browser: Browser, width: number, height: number): Promise<Page> {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()} (${message.location().url})`);
  });
  const { email, password } = account("admin");
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

/** Follow an in-app link to `route` (as the dashboard's own links do), without reloading the
 * page and so without signing in again. */
async function go(page: Page, route: string): Promise<void> {
  await page.evaluate((to) => {
    window.history.pushState(null, "", to);
    window.dispatchEvent(new PopStateEvent("popstate"));
  }, route);
}

const node = (page: Page, id: string) => page.locator(`g.graph-node[data-step="${id}"]`);

for (const [label, width, height] of [
  ["at 1280x800", 1280, 800],
  ["on a 390 px phone", 390, 844],
] as const) {
  test(`an edited review, resolved arguments, events and the timeline ${label}`, async ({ browser }) => {
    const waiting = await runUntil("outreach", { name: "Ada", email: "ada@example.com", company: "Analytical Engines" }, ["waiting"]);
    const { items } = await call<{ items: { id: string; subject: { to: string; subject: string; body: string } }[] }>("GET", `/api/v1/reviews?run_id=${waiting.id}`);
    const review = items[0];
    if (!review) throw new Error("the outreach run has no review");
    const edited = { ...review.subject, body: `Hi Ada, a shorter note (${width}).` };
    await call("POST", `/api/v1/reviews/${review.id}/decision`, { decision: "edit", data: edited, comment: "too long" });
    await expect.poll(async () => (await call<Run>("GET", `/api/v1/runs/${waiting.id}`)).status).toBe("succeeded");

    const page = await open(browser, width, height);
    await go(page, `/runs/${waiting.id}`);
    await expect(page.getByTestId("run-status")).toContainText("succeeded");
    await node(page, "approve").click();
    const decision = page.getByTestId("review-decision");
    await expect(decision).toContainText(`edited and approved by ${account("admin").email}: “too long”`);
    await expect(decision.getByLabel("Used downstream")).toContainText(edited.body);
    await expect(decision.getByLabel("Original, replaced by the edit")).toContainText(review.subject.body.split("\n").reduce((a, b) => (b.length > a.length ? b : a)));
    await expect(decision.getByLabel("Original, replaced by the edit")).not.toContainText(edited.body);
    await fits(page);

    await node(page, "send").click();
    const panel = page.getByTestId("step-panel");
    await expect(panel.getByLabel("Step inputs")).toContainText("{{ state.approve.subject.body }}");
    await expect(panel.getByLabel("Resolved inputs")).toContainText(edited.body);
    await expect(page.getByRole("list", { name: "Attempts, in order" })).toContainText(`approve attempt 1 · waited, then edited and approved by ${account("admin").email}`);
    await fits(page);
    await shot(page, "run-detail-resolved");

    await page.getByRole("tab", { name: /^Events \(\d+\)$/ }).last().click();
    const events = page.getByTestId("run-events");
    await expect(events.locator("li.event").first()).toContainText("run.queued");
    await expect(events.locator("li.event").last()).toContainText("run.succeeded");
    await expect(events).toContainText("review.decided");
    await panel.getByRole("tab", { name: /^Events/ }).click();
    await expect(panel.getByTestId("step-events").locator("li.event strong")).toHaveText(["step.started", "step.completed"]);
    await fits(page);
    await shot(page, "run-detail-events");
  });

  test(`a map given a bad item, a cancel's reason and a dismissed dead letter ${label}`, async ({ browser }) => {
    const refused = await runUntil("market-report", { symbols: ["ACME", ""], delay_ms: 0 }, ["failed", "dead"]);
    expect(refused.status).toBe("failed");
    const page = await open(browser, width, height);
    await go(page, `/runs/${refused.id}`);
    const panel = page.getByTestId("step-panel");
    await expect(panel.getByRole("heading", { level: 2 })).toContainText("Step quotes");
    await expect(node(page, "quotes")).toHaveAttribute("data-state", "failed");
    await expect(panel).toContainText("invalid_args");
    await expect(panel.getByLabel("Resolved inputs")).toContainText('"ACME"');
    await expect(page.getByRole("alert")).toContainText('1 of 2 map items failed; item 1 (""): invalid_args');
    await fits(page);
    await shot(page, "run-detail-map-failed");

    const cancelled = await runUntil("outreach", { name: "Bo", email: "bo@example.com", company: "Bo & Co" }, ["waiting"]);
    await call("POST", `/api/v1/runs/${cancelled.id}/cancel`, { reason: "duplicate lead" });
    await go(page, `/runs/${cancelled.id}`);
    await expect(page.getByTestId("run-cancelled")).toHaveText(`Cancelled by ${account("admin").email}: duplicate lead`);
    await node(page, "send").click();
    await expect(page.getByTestId("step-cancelled")).toHaveText(`${account("admin").email}: duplicate lead`);
    await fits(page);

    const workflow = `always-fails-${width}`;
    await call("POST", "/api/v1/workflows", {
      spec: {
        id: workflow,
        version: "1",
        description: "A step that fails every attempt.",
        steps: [{ id: "charge", kind: "agent", capability: "demo.fail", args: { message: "the card was declined" }, retry: { max_attempts: 2, backoff: { initial: 0.1 } } }],
      },
    });
    const dead = await runUntil(workflow, {}, ["dead"]);
    await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Dead letters", exact: true }).click();
    const letter = page.getByTestId("dead-letter").filter({ hasText: workflow });
    await expect(letter).toContainText("Step charge failed after 2 attempts.");
    await expect(letter).toContainText("Last attempt (#2,");
    await expect(letter).toContainText("step_failed: the card was declined");
    await fits(page);
    await shot(page, "dead-letters-detail");
    await letter.getByRole("button", { name: "Dismiss…" }).click();
    await letter.getByLabel("Why not retry it?").fill("card expired");
    await letter.getByRole("button", { name: "Dismiss", exact: true }).click();
    await expect(page.getByTestId("dead-letter").filter({ hasText: workflow })).toHaveCount(0);
    expect((await call<Run>("GET", `/api/v1/runs/${dead.id}`)).status).toBe("cancelled");
  });
}
