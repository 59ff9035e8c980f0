// The sales app end to end, in Chromium against a real `batonflow demo serve` on the local model
// (no keys), with the app's SMTP catcher on a port of its own. As the demo admin: import leads
// from a CSV on the Leads page (the bad row is listed with what to fix), start the outreach
// pipeline for an imported lead, follow its run until the draft waits for a person, approve it
// on the Reviews page, and see on the Emails page that the email was sent and reached the
// catcher. Then the deal path on the demo deal: a customer counter-offer beyond policy, approved
// by the admin; a contract made, sent for review and approved; the invoice made from the deal
// at the agreed discount, issued, its PDF downloaded and its totals read from the PDF's text.
// Last, every sales page on a 390 px wide phone scrolls no wider than the screen.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect, test } from "@playwright/test";
import type { Page } from "@playwright/test";
import { ROOT, startServer } from "./server";
import type { Account, Server } from "./server";

const LEADS_CSV = [
  "company,domain,industry,employees,country,contact_name,email,title,source,owner,budget,currency,notes",
  'Hooli Cloud,hooli.example,software,600,US,Gavin Belson,gavin@hooli.example,Chief Technology Officer,event,sam,90000,EUR,"Runs agent workflows by hand; needs retries, reviews and an audit trail before March."',
  "Pied Piper,piedpiper.example,software,30,US,Richard Hendricks,richard@piedpiper.example,CEO,web,ana,,,Curious about self-hosting.",
  "Raviga Capital,raviga.example,fintech,80,US,Laurie Bream,not-an-email,Managing Partner,referral,sam,,,",
  "",
].join("\n");

// The demo deal: 25 Team seats at 480 EUR and one Onboarding package at 9,500 EUR (21,500 EUR).
// 22 % off is beyond the policy (Onboarding is never discounted, above 20 % an admin approves);
// once approved the invoice bills 9,360.00 + 7,410.00 = 16,770.00, with 19 % tax 3,186.30.
const DEAL = "Northwind order triage";

let server: Server;
let files: string;
const problems: string[] = [];

test.describe.configure({ mode: "serial" });

test.beforeAll(async () => {
  files = mkdtempSync(path.join(tmpdir(), "batonflow-sales-files-"));
  writeFileSync(path.join(files, "leads.csv"), LEADS_CSV);
  server = await startServer();
});

test.afterAll(async () => {
  await server?.stop();
  rmSync(files, { recursive: true, force: true });
});

function watch(page: Page): void {
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    // A refused request is logged by Chromium as a failed resource; the page's handling of it is
    // what is tested.
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
      problems.push(`console: ${message.text()}`);
    }
  });
}

function adminOf(accounts: Account[]): Account {
  const admin = accounts.find((account) => account.role === "admin");
  if (!admin) throw new Error(`no admin in the demo credentials: ${JSON.stringify(accounts)}`);
  return admin;
}

async function signIn(page: Page, admin: Account): Promise<void> {
  await page.goto(`${server.url}/`);
  await page.getByLabel("Email").fill(admin.email);
  await page.getByLabel("Password").fill(admin.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Runs", level: 1 })).toBeVisible();
}

async function salesPage(page: Page, link: string, heading: string): Promise<void> {
  await page.getByRole("link", { name: link, exact: true }).click();
  await expect(page.getByRole("heading", { name: heading, level: 1 })).toBeVisible();
}

/** The text of a PDF, read with pypdf from the server's virtualenv. */
function pdfText(file: string): string {
  const python = path.join(ROOT, ".venv", "bin", "python");
  const script = "import sys, pypdf; print('\\n'.join(p.extract_text() for p in pypdf.PdfReader(sys.argv[1]).pages))";
  return execFileSync(python, ["-c", script, file], { encoding: "utf8" });
}

test("an admin imports leads, runs the outreach pipeline and approves the email it sends", async ({ browser }) => {
  // Two calls to the local model on a shared CPU: each may take a few minutes.
  test.setTimeout(900_000);
  const admin = adminOf(server.accounts);
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  watch(page);
  await signIn(page, admin);

  // The good rows are imported; the bad one is listed with its row, column and what to fix.
  await salesPage(page, "Leads", "Leads");
  const importForm = page.getByRole("form", { name: "Import leads from a CSV" });
  await importForm.getByLabel("Leads CSV").setInputFiles(path.join(files, "leads.csv"));
  await importForm.getByRole("button", { name: "Import" }).click();
  await expect(importForm.getByRole("status")).toHaveText(
    "leads.csv: 3 rows, 2 leads created, 0 duplicates skipped, 2 new companies, 2 new contacts; 1 problems, their rows were not imported.",
  );
  const report = importForm.getByRole("table", { name: "Import problems" });
  await expect(report.getByRole("row")).toHaveCount(2);
  await expect(report.getByRole("row").nth(1).getByRole("cell").nth(0)).toHaveText("4");
  await expect(report.getByRole("row").nth(1).getByRole("cell").nth(1)).toHaveText("email");
  const leads = page.getByRole("table", { name: "Leads" });
  await expect(leads.getByRole("button", { name: "Hooli Cloud" })).toBeVisible();
  await expect(leads.getByRole("button", { name: "Pied Piper" })).toBeVisible();
  await expect(leads.getByRole("button", { name: "Raviga Capital" })).toHaveCount(0);

  // "Qualify and reach out" on the lead starts sales-outreach and links to its run.
  await leads.getByRole("button", { name: "Hooli Cloud" }).click();
  const pipeline = page.getByRole("group", { name: "Pipeline of Hooli Cloud" });
  await pipeline.getByRole("button", { name: "Qualify and reach out" }).click();
  await expect(pipeline.getByRole("status")).toContainText("Started sales-outreach");
  await pipeline.getByRole("link", { name: "open the run" }).click();
  const runUrl = page.url();
  expect(runUrl).toMatch(/\/runs\/[0-9a-f-]{36}$/);
  const runId = runUrl.split("/").pop() as string;

  // The local model scores the lead and drafts the email; the run then waits for a person.
  await expect(page.getByTestId("run-status")).toHaveText("waiting", { timeout: 840_000 });

  // The draft is approved in the review queue.
  await page.getByRole("link", { name: "Reviews", exact: true }).click();
  await expect(page.getByRole("heading", { name: "Reviews", level: 1 })).toBeVisible();
  const review = page.locator(`article.review:has(a[href="/runs/${runId}"])`);
  await expect(review.getByRole("heading")).toHaveText("Email to gavin@hooli.example");
  await expect(review).toContainText("gavin@hooli.example");
  await review.getByRole("button", { name: "Approve", exact: true }).click();
  await expect(review).toHaveCount(0);

  // The run sends the email and marks the lead contacted.
  await page.goto(runUrl);
  await expect(page.getByTestId("run-status")).toHaveText("succeeded", { timeout: 60_000 });
  await salesPage(page, "Leads", "Leads");
  await expect(leads.getByRole("row", { name: /Hooli Cloud/ }).getByRole("cell").nth(2)).toHaveText("contacted");

  // The Emails page: the email was sent and the local catcher received it.
  await salesPage(page, "Emails", "Emails");
  const sent = page.getByRole("table", { name: "Emails" }).getByRole("row").filter({ hasText: "gavin@hooli.example" });
  await expect(sent).toHaveCount(1);
  await expect(sent.getByRole("cell").nth(0)).toHaveText("sent");
  await expect(sent.getByRole("cell").nth(3)).toContainText("to the catcher");
  expect(problems).toEqual([]);
});

test("an admin approves a counter-offer beyond policy, then the contract, and invoices the agreed terms", async ({ browser }) => {
  test.setTimeout(180_000);
  const admin = adminOf(server.accounts);
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  watch(page);
  await signIn(page, admin);

  // The customer asks for 22 % off: beyond policy, for an admin to approve.
  await salesPage(page, "Deals", "Deals");
  await page.getByRole("link", { name: DEAL }).click();
  await expect(page.getByRole("heading", { name: DEAL, level: 1 })).toBeVisible();
  const counter = page.getByRole("form", { name: "Customer counter-offer" });
  await counter.getByLabel("Discount %").fill("22");
  await counter.getByLabel("The customer's words (optional)").fill("We can sign this month at 22 % off.");
  await counter.getByRole("button", { name: "Record counter-offer" }).click();
  const latest = page.getByRole("status", { name: "Latest round" });
  await expect(latest).toContainText("Round 1: the customer's 22% (16,770 EUR): needs approval (needs an admin).");
  await expect(latest).toContainText("a discount of 22 % is above 20 %, which an admin approves");
  await expect(latest).toContainText("We counter at 5.58% (20,300 EUR).");
  const offers = page.getByRole("table", { name: "Offers" });
  await expect(offers.getByRole("row")).toHaveCount(3);

  // The admin approves the customer's terms; the history names them.
  await offers.getByRole("button", { name: "Approve round 1" }).click();
  await expect(latest).toContainText("We accept at 22% (16,770 EUR).");
  const customerRow = offers.getByRole("row").filter({ hasText: "Customer" }).first();
  await expect(customerRow.getByRole("cell").last()).toHaveText(admin.email);

  // A contract for the deal, sent for review and approved.
  await salesPage(page, "Contracts", "Contracts");
  const newContract = page.getByRole("form", { name: "New contract" });
  await newContract.locator("label", { hasText: "Deal" }).locator("select").selectOption({ label: DEAL });
  await newContract.locator("label", { hasText: "Template" }).locator("select").selectOption({ label: "Master subscription agreement" });
  await newContract.getByRole("button", { name: "Make the contract" }).click();
  await expect(page.getByRole("heading", { name: DEAL, level: 1 })).toBeVisible();
  const contractFacts = page.getByLabel("Contract", { exact: true });
  await expect(contractFacts).toContainText("Statusdraft");
  const contractActions = page.getByRole("group", { name: "Contract actions" });
  await contractActions.getByRole("button", { name: "Send for review" }).click();
  await expect(contractFacts).toContainText("Statusin review");
  await contractActions.getByRole("button", { name: "Approve" }).click();
  await expect(contractFacts).toContainText("Statusapproved");

  // The invoice from the deal bills the agreed 22 %, with 19 % tax; issued, it has its number.
  await salesPage(page, "Invoices", "Invoices");
  const invoiceForm = page.getByRole("form", { name: "Invoice a deal" });
  const dealSelect = invoiceForm.locator("label", { hasText: "Deal" }).locator("select");
  const dealOption = dealSelect.locator("option", { hasText: DEAL });
  await dealSelect.selectOption((await dealOption.getAttribute("value")) as string);
  await invoiceForm.getByLabel("Tax %").fill("19");
  await invoiceForm.getByRole("button", { name: "Make a draft invoice" }).click();
  await expect(page.getByRole("heading", { name: "Invoice (draft)", level: 1 })).toBeVisible();
  const lines = page.getByRole("table", { name: "Invoice lines" });
  await expect(lines.getByRole("row", { name: /Team plan seat/ }).getByRole("cell")).toHaveText(["25", "480 EUR", "22%", "9,360.00 EUR"]);
  await expect(lines.getByRole("row", { name: /Onboarding package/ }).getByRole("cell")).toHaveText(["1", "9,500 EUR", "22%", "7,410.00 EUR"]);
  await expect(lines.getByRole("row", { name: /^Total/ }).getByRole("cell")).toHaveText("19,956.30 EUR");
  await page.getByRole("group", { name: "Invoice actions" }).getByRole("button", { name: "Issue" }).click();
  const heading = page.getByRole("heading", { name: /^Invoice [A-Z]+-\d{4}-\d{4}$/, level: 1 });
  await expect(heading).toBeVisible();
  const number = ((await heading.textContent()) as string).replace("Invoice ", "");

  // Its PDF, downloaded, carries the number and the totals the page shows.
  const downloading = page.waitForEvent("download");
  await page.getByRole("group", { name: "Invoice actions" }).getByRole("button", { name: "Download PDF" }).click();
  const download = await downloading;
  const file = path.join(files, download.suggestedFilename());
  await download.saveAs(file);
  const text = pdfText(file);
  const pdfLines = text.split("\n").map((line) => line.trim());
  expect(pdfLines[0]).toBe(`Invoice ${number}`);
  expect(pdfLines.slice(pdfLines.indexOf("# Description Quantity Unit price Discount Net"))).toEqual([
    "# Description Quantity Unit price Discount Net",
    "1 Team plan seat 25 480 22 % 9360.00",
    "2 Onboarding package 1 9500 22 % 7410.00",
    "Subtotal 16770.00 EUR",
    "Tax 19 % 3186.30 EUR",
    "Total 19956.30 EUR",
    "",
  ]);
  expect(problems).toEqual([]);
});

test("every sales page fits a 390 px wide phone", async ({ browser }) => {
  const admin = adminOf(server.accounts);
  const page = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
  watch(page);
  await signIn(page, admin);
  // Moving within the dashboard (a full reload per page would only test the sign-in again).
  const wide: string[] = [];
  const measure = async () => {
    await expect(page.getByText(/^Loading/)).toHaveCount(0);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    if (width > 390) wide.push(`${new URL(page.url()).pathname}${new URL(page.url()).search}: ${width}px`);
    // On failure, name the elements that reach past the screen (the navigation scrolls by itself).
    if (width > 390) {
      wide.push(
        await page.evaluate(() =>
          Array.from(document.querySelectorAll("main *"))
            .filter((e) => e.getBoundingClientRect().right > 392)
            .slice(0, 4)
            .map((e) => `${e.tagName.toLowerCase()}.${e.className} ${Math.round(e.getBoundingClientRect().right)}px`)
            .join(", "),
        ),
      );
    }
  };
  for (const [link, heading] of [
    ["Leads", "Leads"],
    ["Pipeline board", "Pipeline board"],
    ["Deals", "Deals"],
    ["Products", "Products"],
    ["Emails", "Emails"],
    ["Invoices", "Invoices"],
    ["Contracts", "Contracts"],
    ["Settings", "Settings"],
  ] as const) {
    await salesPage(page, link, heading);
    await measure();
  }
  // A lead opened in its row, a deal, an invoice, a contract and an email.
  await salesPage(page, "Leads", "Leads");
  await page.getByRole("table", { name: "Leads" }).getByRole("rowheader").first().getByRole("button").click();
  await expect(page.getByRole("button", { name: "Qualify and reach out" })).toBeVisible();
  await measure();
  await salesPage(page, "Deals", "Deals");
  await page.getByRole("link", { name: DEAL }).click();
  await expect(page.getByRole("heading", { name: DEAL, level: 1 })).toBeVisible();
  await measure();
  await salesPage(page, "Invoices", "Invoices");
  await page.getByRole("table", { name: "Invoices" }).getByRole("link", { name: /^INV-\d{4}-\d{4}$/ }).first().click();
  await expect(page.getByRole("heading", { name: /^Invoice INV-/, level: 1 })).toBeVisible();
  await measure();
  await salesPage(page, "Contracts", "Contracts");
  await page.getByRole("table", { name: "Contracts" }).getByRole("link", { name: DEAL }).first().click();
  await expect(page.getByRole("heading", { name: DEAL, level: 1 })).toBeVisible();
  await measure();
  await salesPage(page, "Emails", "Emails");
  await page.getByRole("table", { name: "Emails" }).getByRole("link").first().click();
  await expect(page.getByRole("heading", { level: 1 })).not.toHaveText("Emails");
  await measure();
  expect(wide).toEqual([]);
  expect(problems).toEqual([]);
});
