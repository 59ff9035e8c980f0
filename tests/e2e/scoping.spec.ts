// The scoping app end to end, in Chromium against a real `batonflow serve` whose agents are
// answered by the tests' scripted model on loopback (tests/apps/scoping/serve_model.py):
// register, sign in, create a session, answer the five stages while the progress bar moves, go
// back to stage 2 and change an answer, see each stage's runs, write the charter and download its
// PDF; another user of the tenant and a user of another tenant see nothing of it.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { expect, test } from "@playwright/test";
import type { Page } from "@playwright/test";
import { ROOT, startServer } from "./server";
import type { Server } from "./server";

const PASSWORD = "correct horse battery staple"; // pragma: allowlist secret (a test account)
let server: Server;
let model: ChildProcess;

test.describe.configure({ mode: "serial" });

test.beforeAll(async () => {
  model = spawn(path.join(ROOT, ".venv", "bin", "python"), ["-m", "tests.apps.scoping.serve_model"], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolve) => {
    model.stdout?.once("data", (chunk: Buffer) => resolve(chunk.toString().trim()));
  });
  server = await startServer({
    BATONFLOW_OPENAI_BASE_URL: `${url}/v1`,
    BATONFLOW_OPENAI_API_KEY: "sk-test-not-a-secret", // pragma: allowlist secret
    BATONFLOW_SCOPING_MODEL: "openai:gpt-4.1-mini",
  });
});

test.afterAll(async () => {
  await server?.stop();
  model?.kill("SIGTERM");
});

async function register(tenant: string, email: string): Promise<string> {
  const response = await fetch(`${server.url}/api/v1/auth/register`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ tenant, email, password: PASSWORD, name: tenant }),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { access_token: string }).access_token;
}

/** A colleague in the admin's tenant: invited by the admin, then registered. */
async function colleague(adminToken: string, email: string): Promise<void> {
  const invited = await fetch(`${server.url}/api/v1/invitations`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${adminToken}` },
    body: JSON.stringify({ email, role: "operator" }),
  });
  expect(invited.status).toBe(201);
  const { token } = (await invited.json()) as { token: string };
  const registered = await fetch(`${server.url}/api/v1/auth/register`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ invitation: token, email, password: PASSWORD, name: "Sam" }),
  });
  expect(registered.status).toBe(201);
}

async function signIn(page: Page, email: string): Promise<void> {
  await page.goto(`${server.url}/`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Runs", level: 1 })).toBeVisible();
}

function stagePanel(page: Page, number: number) {
  return page.getByLabel(`Stage ${number}`, { exact: true });
}

async function answerStage(page: Page, number: number): Promise<void> {
  const panel = stagePanel(page, number);
  await page.getByRole("list", { name: "Stages" }).getByRole("button", { name: new RegExp(`^${number}\\. `) }).click();
  await panel.getByRole("button", { name: "Start this stage" }).click();
  // The first question: a choice, with the recommended answer already chosen.
  const question = panel.getByRole("form", { name: "Question" });
  await expect(question.getByText(`Stage ${number}, question 1: which option fits?`)).toBeVisible();
  await expect(question.getByRole("radio", { name: /^medium/ })).toBeChecked();
  await question.getByRole("button", { name: "Answer" }).click();
  // The second: free text.
  await expect(question.getByText(`Stage ${number}, question 2: describe it`)).toBeVisible();
  await question.getByLabel("Your answer").fill(`What stage ${number} needs`);
  await question.getByRole("button", { name: "Answer" }).click();
  await expect(question.getByText(`Stage ${number}, question 3: which option fits?`)).toBeVisible();
  await panel.getByRole("button", { name: "Done with this stage" }).click();
  await expect(panel.getByRole("heading", { name: "Analysis (version 1)" })).toBeVisible();
  await expect(panel.getByText(`Stage ${number} summary`)).toBeVisible();
}

test("a person scopes a project through five stages to a charter PDF; another user sees nothing", async ({ browser }) => {
  const admin = await register("scope", "pat@scope.example");
  await colleague(admin, "sam@scope.example");
  await register("elsewhere", "eve@elsewhere.example");
  const page = await browser.newPage();
  await signIn(page, "pat@scope.example");

  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Scoping sessions" }).click();
  await expect(page.getByRole("heading", { name: "Scoping sessions", level: 1 })).toBeVisible();
  await page.getByLabel("Title of a new session").fill("Invoice automation");
  await page.getByRole("button", { name: "Start session" }).click();
  await expect(page.getByRole("heading", { name: "Invoice automation", level: 1 })).toBeVisible();
  const progress = page.getByRole("progressbar", { name: "Progress" });
  await expect(progress).toHaveAttribute("value", "0");
  const sessionUrl = page.url();

  for (let number = 1; number <= 5; number++) {
    await answerStage(page, number);
    await expect(progress).toHaveAttribute("value", String(number * 20));
  }
  // The session as its workflow: stage 1's step lists the runs that executed it (three
  // questions, one analysis), each a link to the run's page.
  const stepOne = page.getByRole("table", { name: "Workflow steps" }).getByRole("row").nth(1);
  await expect(stepOne).toContainText("1. Problem and context");
  await expect(stepOne.getByRole("link")).toHaveCount(4);
  await expect(stepOne.getByRole("link").first()).toHaveAttribute("href", /^\/runs\/[0-9a-f-]{36}$/);

  // Back to stage 2: change an answer; the later stages are analysed again.
  await page.getByRole("list", { name: "Stages" }).getByRole("button", { name: /^2\. / }).click();
  const two = stagePanel(page, 2);
  await two.getByRole("button", { name: "Go back and change answers" }).click();
  await expect(page.getByRole("list", { name: "Stages" }).getByRole("listitem").nth(2)).toContainText("stale");
  await two.getByRole("button", { name: "Change answer" }).nth(1).click();
  await two.getByLabel(/^New answer to/).fill("Revenue per customer");
  await two.getByRole("button", { name: "Save answer" }).click();
  await expect(two.getByText("Revenue per customer")).toBeVisible();
  await two.getByRole("button", { name: "Done with this stage" }).click();
  await expect(two.getByRole("heading", { name: "Analysis (version 2)" })).toBeVisible();
  await page.getByRole("list", { name: "Stages" }).getByRole("button", { name: /^4\. / }).click();
  await expect(stagePanel(page, 4).getByRole("heading", { name: "Analysis (version 2)" })).toBeVisible();
  await expect(progress).toHaveAttribute("value", "100");

  // The charter, and its PDF.
  await page.getByRole("button", { name: "Write the charter" }).click();
  await page.getByRole("link", { name: "Open the charter" }).click();
  await expect(page.getByRole("heading", { name: "Charter", level: 1 })).toBeVisible();
  await expect(page.getByLabel("Charter text")).toContainText("# Project charter: Invoice automation (version 1)");
  await expect(page.getByLabel("Charter text")).toContainText("A: Revenue per customer");
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Download PDF" }).click(),
  ]);
  const file = await download.path();
  expect(readFileSync(file).subarray(0, 5).toString()).toBe("%PDF-");

  // Another user of the same tenant, and one of another tenant: an empty list each, and the
  // session's address shows nothing.
  for (const email of ["sam@scope.example", "eve@elsewhere.example"]) {
    const other = await browser.newPage();
    await signIn(other, email);
    await other.goto(`${server.url}/apps/scoping/sessions`);
    await expect(other.getByText("No sessions yet.")).toBeVisible();
    await other.goto(sessionUrl);
    await expect(other.getByRole("alert")).toContainText("Not found");
    await expect(other.getByRole("alert")).toContainText("no scoping session");
  }
});
