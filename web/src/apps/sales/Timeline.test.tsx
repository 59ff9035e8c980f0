import { cleanup, fireEvent, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { formatTime } from "../../format";
import { serve, viewer } from "./fakeApi.testing";
import { contractDraft } from "./moneyData.testing";
import { AT, S } from "./testData.testing";
import type { TimelineData } from "./Timeline";
import type { Lead } from "./types";

afterEach(() => {
  cleanup();
  window.history.pushState(null, "", "/");
});

const LATER = "2026-12-01T10:05:00Z";
const timeline: TimelineData = {
  entity: "contract",
  entity_id: "c1",
  events: [
    {
      at: AT,
      kind: "run.started",
      actor_kind: "user",
      actor: "ada@acme.example",
      summary: "Started the sales-deal run.",
      links: { run_id: "r1" },
    },
    {
      at: AT,
      kind: "contract.version",
      actor_kind: "agent",
      actor: "agent:sales-finance",
      summary: "Version 1: first draft.",
      links: { run_id: "r1", contract_id: "c1" },
    },
    {
      at: LATER,
      kind: "review.approved",
      actor_kind: "user",
      actor: "ada@acme.example",
      summary: "ada@acme.example approved step contract_review.",
      links: { run_id: "r1", review_id: "v1", audit_id: "a1" },
    },
    {
      at: LATER,
      kind: "email.sent",
      actor_kind: "agent",
      actor: "sales@acme.example",
      summary: "Email 'Contract: Rollout (version 1)' to hank@globex.example sent.",
      links: { run_id: "r1", email_id: "e1" },
    },
    {
      at: LATER,
      kind: "contract.status",
      actor_kind: "system",
      actor: "batonflow",
      summary: "Contract 'Contract: Rollout' is now sent.",
      links: { contract_id: "c1" },
    },
  ],
};

describe("a record's timeline", () => {
  it("opens on the contract's view, oldest first, with who did what and links to what it concerns", async () => {
    serve(
      "/apps/sales/contracts?contract=c1",
      {
        [`GET ${S}/contracts/c1`]: [200, contractDraft],
        [`GET ${S}/contracts/c1/timeline`]: [200, timeline],
      },
      viewer,
    );
    const section = await screen.findByRole("region", { name: "Timeline of the contract" });
    expect(within(section).queryByRole("list")).toBeNull(); // nothing is loaded until asked
    fireEvent.click(within(section).getByRole("button", { name: "Show the timeline" }));
    const list = await within(section).findByRole("list", { name: "Timeline of the contract" });
    expect(within(list).getAllByRole("listitem").map((item) => item.textContent)).toEqual([
      `${formatTime(AT)} ada@acme.example (person) Started the sales-deal run. run`,
      `${formatTime(AT)} agent:sales-finance (agent) Version 1: first draft. run contract`,
      `${formatTime(LATER)} ada@acme.example (person) ada@acme.example approved step contract_review. run`,
      `${formatTime(LATER)} sales@acme.example (agent) Email 'Contract: Rollout (version 1)' to hank@globex.example sent. run email`,
      `${formatTime(LATER)} batonflow (platform) Contract 'Contract: Rollout' is now sent. contract`,
    ]);
    const email = within(list).getAllByRole("listitem")[3];
    expect(email).toBeDefined();
    expect(within(email as HTMLElement).getAllByRole("link").map((link) => link.getAttribute("href"))).toEqual([
      "/runs/r1",
      "/apps/sales/emails?email=e1",
    ]);
    fireEvent.click(within(section).getByRole("button", { name: "Hide the timeline" }));
    expect(within(section).queryByRole("list")).toBeNull();
  });

  it("says when nothing happened yet, and shows why a timeline could not be read", async () => {
    serve("/apps/sales/contracts?contract=c1", {
      [`GET ${S}/contracts/c1`]: [200, contractDraft],
      [`GET ${S}/contracts/c1/timeline`]: [200, { ...timeline, events: [] }],
    });
    fireEvent.click(await screen.findByRole("button", { name: "Show the timeline" }));
    expect(await screen.findByText("Nothing has happened to it yet.")).toBeTruthy();
    cleanup();
    serve("/apps/sales/contracts?contract=c1", {
      [`GET ${S}/contracts/c1`]: [200, contractDraft],
      [`GET ${S}/contracts/c1/timeline`]: [404, { error: { code: "not_found", message: "no contract 'c1'", details: {} } }],
    });
    fireEvent.click(await screen.findByRole("button", { name: "Show the timeline" }));
    expect((await screen.findByRole("alert")).textContent).toContain("no contract 'c1'");
  });

  it("opens on the lead's panel, with the score the agent gave and the review a person decided", async () => {
    const lead: Lead = {
      id: "l1",
      company_id: "c1",
      contact_id: "p1",
      source: "web",
      status: "contacted",
      owner: null,
      notes: "",
      budget: null,
      currency: null,
      score: 70,
      score_reasons: [],
      company: { id: "c1", name: "Globex", domain: null, industry: null, employees: null, country: null },
      contact: { id: "p1", name: "Jane", email: "jane@globex.com", title: null, phone: null },
      created_at: AT,
      updated_at: AT,
    };
    const events: TimelineData["events"] = [
      { at: AT, kind: "lead.scored", actor_kind: "agent", actor: "agent:sales-sdr", summary: "Scored 70: software is a target industry (+25).", links: { run_id: "r1" } },
      { at: LATER, kind: "review.edited", actor_kind: "user", actor: "Ada", summary: "Ada edited and approved step approve: warmer.", links: { run_id: "r1", review_id: "v1" } },
    ];
    serve("/apps/sales/leads", {
      [`GET ${S}/leads`]: [200, { items: [lead], next_cursor: null }],
      [`GET ${S}/leads/l1/timeline`]: [200, { entity: "lead", entity_id: "l1", events }],
    });
    fireEvent.click(await screen.findByRole("button", { name: "Globex" }));
    const section = await screen.findByRole("region", { name: "Timeline of the lead" });
    fireEvent.click(within(section).getByRole("button", { name: "Show the timeline" }));
    const list = await within(section).findByRole("list", { name: "Timeline of the lead" });
    expect(within(list).getAllByRole("listitem").map((item) => item.textContent)).toEqual([
      `${formatTime(AT)} agent:sales-sdr (agent) Scored 70: software is a target industry (+25). run`,
      `${formatTime(LATER)} Ada (person) Ada edited and approved step approve: warmer. run`,
    ]);
  });
});
