// Retrieval end to end, in Chromium against a real `batonflow demo serve`: an admin creates a
// knowledge base on the Knowledge page, uploads a Markdown file and a PDF, watches both become
// ready, and searches them by keyword, by meaning and both; the passages carry their document,
// heading and highlighted words. Another tenant's admin sees no knowledge base of it.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect, test } from "@playwright/test";
import type { Page } from "@playwright/test";
import { ROOT, startServer } from "./server";
import type { Server } from "./server";

const PASSWORD = "correct horse battery staple"; // pragma: allowlist secret (a test account)
const PRICING = `# Pricing

## Starter plan

The starter plan costs 49 euros a month for up to five users.

## Enterprise plan

The enterprise plan is priced per seat, with a yearly contract and single sign-on.
`;
const SUPPORT = "Support hours. Our support desk answers within four business hours on weekdays.";

let server: Server;
let files: string;
const problems: string[] = [];

test.describe.configure({ mode: "serial" });

test.beforeAll(async () => {
  files = mkdtempSync(path.join(tmpdir(), "batonflow-kb-files-"));
  writeFileSync(path.join(files, "pricing.md"), PRICING);
  // A real PDF, written by the same library the scoping app's charters use.
  const made = spawnSync(
    path.join(ROOT, ".venv", "bin", "python"),
    [
      "-c",
      [
        "import sys",
        "from fpdf import FPDF",
        "pdf = FPDF()",
        "pdf.add_page()",
        "pdf.set_font('helvetica', size=12)",
        "pdf.multi_cell(0, 8, sys.argv[2])",
        "pdf.output(sys.argv[1])",
      ].join("\n"),
      path.join(files, "support.pdf"),
      SUPPORT,
    ],
    { encoding: "utf8" },
  );
  expect(made.status, made.stderr).toBe(0);
  server = await startServer();
});

test.afterAll(async () => {
  await server?.stop();
  rmSync(files, { recursive: true, force: true });
});

function watch(page: Page): void {
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
}

async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.goto(`${server.url}/`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Runs", level: 1 })).toBeVisible();
}

async function search(page: Page, query: string, mode: string): Promise<void> {
  await page.getByRole("searchbox", { name: "Query" }).fill(query);
  await page.getByLabel("Mode").selectOption(mode);
  await page.getByRole("button", { name: "Search", exact: true }).click();
}

test("an admin fills a knowledge base with a Markdown file and a PDF, then searches it", async ({ browser }) => {
  test.setTimeout(300_000); // the first upload loads the local embedding model
  const admin = server.accounts.find((account) => account.role === "admin");
  if (!admin) throw new Error(`no admin in the demo credentials: ${JSON.stringify(server.accounts)}`);
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  watch(page);
  await signIn(page, admin.email, admin.password);

  await page.getByRole("link", { name: "Knowledge" }).click();
  await expect(page.getByRole("heading", { name: "Knowledge", level: 1 })).toBeVisible();
  const bases = page.getByRole("list", { name: "Knowledge bases" });
  // The demo seeds the sales app's product sheet; the admin adds a base of their own.
  await expect(bases.getByRole("button", { name: "products" })).toBeVisible();
  await page.getByLabel("New knowledge base").fill("handbook");
  await page.getByRole("button", { name: "Create" }).click();
  await expect(bases.getByRole("button", { name: "handbook" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "handbook · documents" })).toBeVisible();

  await page.getByLabel("Upload documents").setInputFiles([path.join(files, "pricing.md"), path.join(files, "support.pdf")]);
  // Each upload is indexed by a kb-ingest run; the table follows them until both are ready.
  const rows = page.getByRole("row");
  await expect(rows.filter({ hasText: /pricing/i })).toContainText("ready", { timeout: 120_000 });
  await expect(rows.filter({ hasText: /support/i })).toContainText("ready", { timeout: 120_000 });
  await expect(bases).toContainText("2 documents");

  await search(page, "starter plan price", "keyword");
  const passages = page.getByRole("list", { name: "Passages" }).getByRole("listitem");
  await expect(passages.first()).toContainText("Pricing › Starter plan");
  await expect(passages.first()).toContainText("49 euros a month");
  await expect(passages.first().locator("mark").first()).toHaveText(/starter/i);

  await search(page, "how quickly will somebody help me", "vector");
  await expect(passages.first()).toContainText("four business hours");

  await search(page, "enterprise single sign-on", "hybrid");
  await expect(passages.first()).toContainText("Enterprise plan");
  await expect(passages.first()).toContainText(/score \d\.\d{4}/);
  expect(problems).toEqual([]);
});

test("another tenant's admin sees none of the first tenant's knowledge bases", async ({ browser }) => {
  const registered = await fetch(`${server.url}/api/v1/auth/register`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ tenant: "globex", email: "admin@globex.example", password: PASSWORD, name: "Gil" }),
  });
  expect(registered.status).toBe(201);
  const page = await (await browser.newContext()).newPage();
  watch(page);
  await signIn(page, "admin@globex.example", PASSWORD);
  await page.getByRole("link", { name: "Knowledge" }).click();
  await expect(page.getByText("No knowledge bases yet.")).toBeVisible();
  await expect(page.getByRole("list", { name: "Knowledge bases" }).getByRole("listitem")).toHaveCount(0);
  expect(problems).toEqual([]);
});
