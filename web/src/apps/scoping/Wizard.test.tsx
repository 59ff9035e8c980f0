import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { Api } from "../../api";
import type { TokenStore } from "../../api";
import { App } from "../../App";
import { SessionProvider } from "../../session";
import { operator } from "../fakeApi.testing";
import { scoping } from "./app.testing";
import type { Question, ScopingSession, Stage, WorkflowStep } from "./types";

const asked: Question = {
  id: "q1",
  seq: 1,
  text: "How many invoices a month?",
  kind: "choice",
  choices: ["hundreds", "thousands"],
  recommended: "thousands",
  rationale: "sizes the work",
  answer: null,
  skipped: false,
  answered: false,
  answered_by: null,
  answered_at: null,
  revisions: 0,
  asked_at: "2026-12-01T10:00:00Z",
  sources: [],
};

function stage(number: number, status: Stage["status"], questions: Question[] = []): Stage {
  return {
    number,
    key: `s${number}`,
    title: `Stage title ${number}`,
    focus: "the problem",
    checklist: ["problem statement"],
    status,
    done: false,
    agent_done: false,
    budget: 5,
    questions,
    pending_question_id: questions.find((q) => !q.answered)?.id ?? null,
    analysis: null,
    analysis_versions: 0,
    execution: null,
  };
}

const workflow: WorkflowStep[] = [
  {
    step: "stage-1",
    stage: 1,
    title: "Stage title 1",
    status: "answering",
    runs: [
      {
        run_id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", // pragma: allowlist secret (a run id)
        workflow: "scoping-question",
        kind: "question",
        stages: [1],
        status: "succeeded",
        run_status: "succeeded",
        error: null,
        created_at: "2026-12-01T10:00:01Z",
        settled_at: "2026-12-01T10:00:03Z",
      },
    ],
  },
  ...[2, 3, 4, 5].map((n) => ({ step: `stage-${n}`, stage: n, title: `Stage title ${n}`, status: "locked", runs: [] })),
  { step: "charter", stage: null, title: "Charter", status: "locked", runs: [] },
];

const session: ScopingSession & { workflow: WorkflowStep[] } = {
  id: "s1",
  title: "Invoice automation",
  owner_id: "u1",
  owner_name: "ada@acme.example",
  archived: false,
  created_at: "2026-12-01T10:00:00Z",
  updated_at: "2026-12-01T10:00:00Z",
  access: "owner",
  progress: 0,
  stages: [stage(1, "answering", [asked]), stage(2, "locked"), stage(3, "locked"), stage(4, "locked"), stage(5, "locked")],
  running: null,
  charter_version: null,
  shares: [],
  workflow,
};

const store: TokenStore = { get: () => ({ access_token: "a" }), set: () => {} };

function open(path: string, events?: string, shown: ScopingSession = session) {
  window.history.pushState(null, "", path);
  const sent: { url: string; body: unknown }[] = [];
  let streamed = false;
  const fetcher = async (input: string, init?: RequestInit) => {
    let body: unknown = { items: [], next_cursor: null };
    if (init?.method === "POST") sent.push({ url: input, body: JSON.parse(String(init.body)) });
    if (input === "/api/v1/me") body = operator;
    else if (input === "/api/v1/apps") body = { items: [scoping] };
    else if (input === "/api/v1/scoping/sessions/s1") body = shown;
    else if (input.endsWith("/events")) {
      if (events === undefined || streamed) return new Response("", { status: 404 });
      streamed = true; // one stream; the reconnection after it ends is refused
      return new Response(events, { status: 200, headers: { "Content-Type": "text/event-stream" } });
    }
    return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
  };
  render(
    <SessionProvider api={new Api(store, fetcher)}>
      <App />
    </SessionProvider>,
  );
  return sent;
}

describe("the scoping wizard", () => {
  afterEach(() => {
    cleanup();
    window.history.pushState(null, "", "/");
  });

  it("shows the progress, the stages and the pending question with its recommended choice", async () => {
    const sent = open("/apps/scoping/sessions?session=s1");

    expect(await screen.findByRole("heading", { level: 1, name: "Invoice automation" }, { timeout: 5000 })).toBeTruthy();
    expect(screen.getByRole("progressbar", { name: "Progress" }).getAttribute("value")).toBe("0");
    const stages = screen.getByRole("list", { name: "Stages" });
    expect(within(stages).getAllByRole("listitem").map((item) => item.textContent)).toEqual([
      "1. Stage title 1 answering",
      "2. Stage title 2 locked",
      "3. Stage title 3 locked",
      "4. Stage title 4 locked",
      "5. Stage title 5 locked",
    ]);
    const form = screen.getByRole("form", { name: "Question" });
    expect(within(form).getByText("How many invoices a month?")).toBeTruthy();
    expect((within(form).getByRole("radio", { name: /^thousands/ }) as HTMLInputElement).checked).toBe(true);

    fireEvent.click(within(form).getByRole("button", { name: "Answer" }));
    await waitFor(() =>
      expect(sent).toEqual([
        { url: "/api/v1/scoping/sessions/s1/stages/1/answer", body: { question_id: "q1", answer: "thousands" } },
      ]),
    );
  }, 30_000);

  it("shows the session as its workflow: each stage a step, with the runs that executed it", async () => {
    open("/apps/scoping/sessions?session=s1");

    const table = await screen.findByRole("table", { name: "Workflow steps" });
    const rows = within(table).getAllByRole("row").slice(1);
    expect(rows.map((row) => row.textContent)).toEqual([
      "1. Stage title 1answeringquestion 0c1d2e3f4a5b succeeded",
      "2. Stage title 2lockednone yet",
      "3. Stage title 3lockednone yet",
      "4. Stage title 4lockednone yet",
      "5. Stage title 5lockednone yet",
      "Charterlockednone yet",
    ]);
    expect(within(rows[0] as HTMLElement).getByRole("link", { name: "question 0c1d2e3f4a5b" }).getAttribute("href")).toBe(
      "/runs/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
    );
  });

  it("names the runs without linking them for someone the session is shared with", async () => {
    // The runs are private to the session's owner: their pages would answer 404.
    open("/apps/scoping/sessions?session=s1", undefined, { ...session, access: "edit" });

    const table = await screen.findByRole("table", { name: "Workflow steps" });
    const first = within(table).getAllByRole("row")[1] as HTMLElement;
    expect(first.textContent).toBe("1. Stage title 1answeringquestion 0c1d2e3f4a5b succeeded");
    expect(within(first).queryByRole("link")).toBeNull();
  });

  it("streams the analysis while the model writes it", async () => {
    const analysing: ScopingSession = {
      ...session,
      stages: [stage(1, "analysing", [{ ...asked, answer: "thousands", answered: true }]), ...session.stages.slice(1)],
      running: { run_id: "r1", kind: "analysis", stages: [1], status: "running", error: null, created_at: "2026-12-01T10:01:00Z" },
    };
    const frame = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    open(
      "/apps/scoping/sessions?session=s1",
      frame("session", analysing) +
        frame("delta", { run_id: "r1", retry: 0, text: '{"summary": "Thousands of ' }) +
        frame("delta", { run_id: "r1", retry: 0, text: 'invoices a month"' }),
    );

    const panel = await screen.findByLabelText("Stage 1", {}, { timeout: 5000 });
    expect(await within(panel).findByRole("status")).toHaveProperty("textContent", "The agent is analysing the stage…");
    const live = await within(panel).findByLabelText("Model output");
    await waitFor(() => expect(live.textContent).toBe('{"summary": "Thousands of invoices a month"'));
  }, 30_000);

  it("lists the scoping page in the navigation", async () => {
    open("/apps/scoping/sessions");
    const nav = await screen.findByRole("navigation", { name: "Pages" });
    expect((await within(nav).findByRole("link", { name: "Scoping sessions" })).getAttribute("href")).toBe(
      "/apps/scoping/sessions",
    );
    expect(await screen.findByRole("heading", { level: 1, name: "Scoping sessions" })).toBeTruthy();
  });
});
