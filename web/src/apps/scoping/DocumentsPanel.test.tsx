import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { Api } from "../../api";
import type { TokenStore } from "../../api";
import { App } from "../../App";
import { SessionProvider } from "../../session";
import { operator } from "../fakeApi.testing";
import { scoping } from "./app.testing";
import type { ScopingSession, SessionDocument, Stage } from "./types";

function stage(number: number): Stage {
  return {
    number,
    key: `s${number}`,
    title: `Stage title ${number}`,
    focus: "the problem",
    checklist: ["problem statement"],
    status: number === 1 ? "waiting" : "locked",
    done: false,
    agent_done: false,
    budget: 5,
    questions: [],
    pending_question_id: null,
    analysis: null,
    analysis_versions: 0,
    execution: null,
  };
}

function session(access: ScopingSession["access"]): ScopingSession {
  return {
    id: "s1",
    title: "Invoice automation",
    owner_id: "u1",
    owner_name: "ada@acme.example",
    archived: false,
    created_at: "2026-12-01T10:00:00Z",
    updated_at: "2026-12-01T10:00:00Z",
    access,
    progress: 0,
    stages: [1, 2, 3, 4, 5].map(stage),
    running: null,
    charter_version: null,
    shares: [],
    workflow: [],
  };
}

function doc(id: string, source: string, status: SessionDocument["status"], chunks: number): SessionDocument {
  return {
    id,
    source,
    title: source,
    format: "markdown",
    size: 120,
    status,
    error: null,
    chunk_count: chunks,
    progress_done: 0,
    progress_total: 0,
    run_id: `run-${id}`,
    created_at: "2026-12-01T10:00:00Z",
    updated_at: "2026-12-01T10:00:00Z",
  };
}

const store: TokenStore = { get: () => ({ access_token: "a" }), set: () => {} };
const DOCS = "/api/v1/scoping/sessions/s1/documents";

function open(access: ScopingSession["access"]) {
  window.history.pushState(null, "", "/apps/scoping/sessions?session=s1");
  let documents: SessionDocument[] = [doc("d1", "brief.md", "ready", 3)];
  const sent: { method: string; url: string; type: string | null }[] = [];
  const fetcher = async (input: string, init?: RequestInit) => {
    const method = init?.method ?? "GET";
    let body: unknown = { items: [], next_cursor: null };
    if (input === "/api/v1/me") body = operator;
    else if (input === "/api/v1/apps") body = { items: [scoping] };
    else if (input === "/api/v1/scoping/sessions/s1") body = session(access);
    else if (input.endsWith("/events")) return new Response("", { status: 404 });
    else if (input.startsWith(DOCS) && method === "POST") {
      sent.push({ method, url: input, type: new Headers(init?.headers).get("Content-Type") });
      const added = doc("d2", "notes.md", "pending", 0);
      documents = [added, ...documents];
      body = added;
    } else if (input.startsWith(`${DOCS}/`) && method === "DELETE") {
      sent.push({ method, url: input, type: null });
      documents = documents.filter((d) => !input.endsWith(`/${d.id}`));
      return new Response(null, { status: 204 });
    } else if (input === DOCS) body = { knowledge_base: "kb1", items: documents };
    return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
  };
  render(
    <SessionProvider api={new Api(store, fetcher)}>
      <App />
    </SessionProvider>,
  );
  return sent;
}

function rows(table: HTMLElement): string[][] {
  return within(table)
    .getAllByRole("row")
    .slice(1)
    .map((row) => within(row).getAllByRole("cell").map((cell) => cell.textContent ?? ""));
}

describe("a session's documents", () => {
  afterEach(() => {
    cleanup();
    window.history.pushState(null, "", "/");
  });

  it("lists them with their state, attaches a file and removes one", async () => {
    const sent = open("owner");
    const table = await screen.findByRole("table", { name: "Documents" });
    expect(rows(table)).toEqual([["brief.md", "ready", "3", "Remove brief.md"]]);

    const input = screen.getByLabelText("Attach documents") as HTMLInputElement;
    const file = new File(["# Notes\n\nSuppliers send PDFs."], "notes.md", { type: "text/markdown" });
    fireEvent.change(input, { target: { files: [file] } });
    await waitFor(() =>
      expect(rows(screen.getByRole("table", { name: "Documents" }))).toEqual([
        ["notes.md", "pending", "0", "Remove notes.md"],
        ["brief.md", "ready", "3", "Remove brief.md"],
      ]),
    );

    fireEvent.click(screen.getByRole("button", { name: "Remove brief.md" }));
    await waitFor(() =>
      expect(rows(screen.getByRole("table", { name: "Documents" }))).toEqual([
        ["notes.md", "pending", "0", "Remove notes.md"],
      ]),
    );
    expect(sent).toEqual([
      { method: "POST", url: `${DOCS}?source=notes.md`, type: "text/markdown" },
      { method: "DELETE", url: `${DOCS}/d1`, type: null },
    ]);
  });

  it("shows a read-only viewer the list alone", async () => {
    open("read");
    const table = await screen.findByRole("table", { name: "Documents" });
    expect(rows(table)).toEqual([["brief.md", "ready", "3"]]);
    expect(screen.queryByLabelText("Attach documents")).toBeNull();
    expect(screen.queryByRole("button", { name: /^Remove/ })).toBeNull();
  });
});
