import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Api } from "../api";
import type { TokenStore } from "../api";
import { SessionProvider } from "../session";
import type { KbDocument, KnowledgeBase, Me, SearchResult } from "../types";
import { KnowledgePage, highlighted } from "./KnowledgePage";

const operator: Me = {
  kind: "user",
  api_key: null,
  user: { id: "u", email: "o@acme.example", name: "Otto", role: "operator" },
  tenant: { id: "t", slug: "acme", name: "Acme" },
  roles: ["operator", "viewer"],
  scopes: ["runs:read", "kb:read", "kb:write"],
};
const viewer: Me = { ...operator, roles: ["viewer"], scopes: ["runs:read", "kb:read"] };

const handbook: KnowledgeBase = {
  id: "kb1",
  name: "handbook",
  description: "",
  embedding_model: "local:minilm-l6-v2",
  dimensions: 384,
  chunking: {},
  documents: 2,
  chunks: 5,
  created_by: "otto",
  created_at: "2026-01-01T00:00:00Z",
  private_to: null,
};
const doc = (id: string, source: string, status: KbDocument["status"], extra: Partial<KbDocument> = {}): KbDocument => ({
  id,
  kb_id: "kb1",
  source,
  title: source,
  format: "markdown",
  content_hash: "sha256:x",
  size: 10,
  metadata: {},
  status,
  error: null,
  chunk_count: status === "ready" ? 3 : 0,
  progress_done: 0,
  progress_total: 0,
  run_id: `01a238ff-0c1d-7e2f-8a3b-0000000000${id}`,
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
  ...extra,
});
const found: SearchResult = {
  query: "support hours",
  mode: "hybrid",
  items: [
    {
      citation: "abc-1",
      chunk_id: 7,
      knowledge_base: "handbook",
      document_id: "d1",
      title: "onboarding.html",
      source: "onboarding.html",
      heading_path: ["Getting started", "Support"],
      position: 1,
      text: "Our support desk answers within four business hours.",
      score: 0.0327869,
      highlight: "Our <mark>support</mark> desk answers within four business <mark>hours</mark>.",
      metadata: {},
      keyword_rank: 1,
      vector_rank: 1,
    },
  ],
};

const store: TokenStore = { get: () => ({ access_token: "a" }), set: () => {} };

function serve(me: Me, kbs: KnowledgeBase[] = [handbook]) {
  const sent: { method: string; path: string; body: unknown; type: string | null }[] = [];
  const fetcher = async (input: string, init?: RequestInit) => {
    const method = init?.method ?? "GET";
    const type = new Headers(init?.headers).get("Content-Type");
    if (method !== "GET") sent.push({ method, path: input, body: init?.body, type });
    let body: unknown = {};
    if (input === "/api/v1/me") body = me;
    else if (input === "/api/v1/knowledge-bases") body = { items: kbs };
    else if (input.endsWith("/documents"))
      body = { items: [doc("d1", "onboarding.html", "ready"), doc("d2", "big.pdf", "ingesting", { progress_done: 64, progress_total: 150 })] };
    else if (input.endsWith("/search")) body = found;
    return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
  };
  render(
    <SessionProvider api={new Api(store, fetcher)}>
      <KnowledgePage />
    </SessionProvider>,
  );
  return sent;
}

beforeEach(() => window.history.replaceState(null, "", "/knowledge"));
afterEach(cleanup);

describe("KnowledgePage", () => {
  it("lists documents with their ingestion status and searches with highlights and scores", async () => {
    const sent = serve(operator);
    const rows = await screen.findAllByRole("row");
    expect(rows.map((row) => row.textContent)).toEqual([
      "DocumentStatusChunksIngestion run",
      "onboarding.htmlready3" + "0000000000d1",
      "big.pdfingesting 43%0" + "0000000000d2",
    ]);
    expect(screen.getByRole("link", { name: "0000000000d2" }).getAttribute("href")).toBe("/runs/01a238ff-0c1d-7e2f-8a3b-0000000000d2");
    fireEvent.change(screen.getByLabelText("Query"), { target: { value: "support hours" } });
    fireEvent.click(screen.getByRole("button", { name: "Search" }));
    const passages = await screen.findByRole("list", { name: "Passages" });
    const [passage] = within(passages).getAllByRole("listitem");
    expect(passage?.textContent).toBe(
      "onboarding.html › Getting started › Support [abc-1] score 0.0328Our support desk answers within four business hours.",
    );
    expect(Array.from(passage?.querySelectorAll("mark") ?? []).map((mark) => mark.textContent)).toEqual(["support", "hours"]);
    expect(sent).toEqual([
      { method: "POST", path: "/api/v1/knowledge-bases/kb1/search", body: JSON.stringify({ query: "support hours", mode: "hybrid", k: 10 }), type: "application/json" },
    ]);
  });

  it("marks a knowledge base private to one user (an app's, shown to an admin)", async () => {
    serve(operator, [handbook, { ...handbook, id: "kb2", name: "scoping-session-s1", private_to: "u-ada" }]);
    const list = await screen.findByRole("list", { name: "Knowledge bases" });
    expect(within(list).getAllByRole("listitem").map((item) => item.textContent)).toEqual([
      "handbook 2 documents · 5 chunks",
      "scoping-session-s1 2 documents · 5 chunks · private to one user",
    ]);
  });

  it("uploads a file as the request body, named by its source", async () => {
    const sent = serve(operator);
    const input = await screen.findByLabelText("Upload documents");
    const file = new File(["# Refunds\nWithin 30 days."], "refunds.md", { type: "text/markdown" });
    fireEvent.change(input, { target: { files: [file] } });
    await vi.waitFor(() =>
      expect(sent).toEqual([{ method: "POST", path: "/api/v1/knowledge-bases/kb1/documents?source=refunds.md", body: file, type: "text/markdown" }]),
    );
  });

  it("lets a viewer search but not upload or create", async () => {
    serve(viewer);
    expect(await screen.findByText("onboarding.html")).toBeTruthy();
    expect(screen.queryByLabelText("Upload documents")).toBeNull();
    expect(screen.queryByRole("button", { name: "Create" })).toBeNull();
    expect(screen.getByRole("button", { name: "Search" })).toBeTruthy();
  });

  it("renders highlights as text, never as markup", () => {
    render(<p data-testid="h">{highlighted("&lt;b&gt;x&lt;/b&gt; &amp; <mark>refund</mark>&#x27;s")}</p>);
    const shown = screen.getByTestId("h");
    expect(shown.textContent).toBe("<b>x</b> & refund's");
    expect(shown.querySelectorAll("b").length).toBe(0);
    expect(shown.querySelectorAll("mark").length).toBe(1);
  });
});
