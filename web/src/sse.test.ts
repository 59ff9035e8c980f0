import { describe, expect, it } from "vitest";
import { Api } from "./api";
import type { TokenStore, Tokens } from "./api";
import { SseParser, followRun, followTenant } from "./sse";
import type { RunEvent } from "./types";

describe("SseParser", () => {
  it("parses frames split anywhere across chunks", () => {
    const text = 'id: 3\nevent: step.started\ndata: {"type":"step.started","seq":3}\n\n';
    for (let cut = 1; cut < text.length; cut++) {
      const parser = new SseParser();
      const frames = [...parser.feed(text.slice(0, cut)), ...parser.feed(text.slice(cut))];
      expect(frames).toEqual([{ id: "3", event: "step.started", data: '{"type":"step.started","seq":3}' }]);
    }
  });

  it("handles CRLF and CR line ends, comments, multi-line data and a BOM", () => {
    const parser = new SseParser();
    const frames = parser.feed("\ufeff: keepalive\r\n\r\ndata: one\r\ndata:two\r\rdata: x\n\n");
    expect(frames).toEqual([
      { id: null, event: "message", data: "one\ntwo" },
      { id: null, event: "message", data: "x" },
    ]);
  });

  it("keeps the last id for frames without one (live llm.delta frames)", () => {
    const parser = new SseParser();
    const frames = parser.feed('id: 7\nevent: step.started\ndata: {}\n\nevent: llm.delta\ndata: {"t":1}\n\n');
    expect(frames.map((frame) => frame.id)).toEqual(["7", null]);
    expect(parser.lastEventId).toBe("7");
  });

  it("reads retry, ignores unknown fields and frames without data", () => {
    const parser = new SseParser();
    expect(parser.feed("retry: 2500\nfoo: bar\nid: 9\n\n")).toEqual([]);
    expect(parser.retryMs).toBe(2500);
    expect(parser.lastEventId).toBe("9");
    expect(parser.feed("retry: soon\n\n")).toEqual([]);
    expect(parser.retryMs).toBe(2500);
  });
});

function memoryStore(tokens: Tokens | null): TokenStore {
  let current = tokens;
  return { get: () => current, set: (next) => (current = next) };
}

function streamOf(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes.slice(0, 10));
      controller.enqueue(bytes.slice(10));
      controller.close();
    },
  });
}

describe("followRun", () => {
  it("sends the bearer token, resumes with Last-Event-ID, and stops at the run's end", async () => {
    const seen: { auth: string | null; last: string | null }[] = [];
    const bodies = [
      'id: 1\nevent: run.started\ndata: {"type":"run.started","seq":1,"data":{}}\n\n' +
        'event: llm.delta\ndata: {"type":"llm.delta","step_key":"draft","data":{"call_id":"c","index":0,"text":"Hi"}}\n\n',
      'id: 2\nevent: run.succeeded\ndata: {"type":"run.succeeded","seq":2,"data":{"outputs":{}}}\n\n',
    ];
    const fetcher = async (_input: string, init?: RequestInit) => {
      const headers = new Headers(init?.headers);
      seen.push({ auth: headers.get("Authorization"), last: headers.get("Last-Event-ID") });
      const body = bodies.shift();
      return new Response(streamOf(body ?? ""), { status: 200, headers: { "Content-Type": "text/event-stream" } });
    };
    const api = new Api(memoryStore({ access_token: "A" }), fetcher);
    const events: RunEvent[] = [];
    const states: string[] = [];
    await followRun(api, "run-1", {
      signal: new AbortController().signal,
      onEvent: (event) => events.push(event),
      onState: (state) => states.push(state),
      retryMs: 1,
    });
    expect(events.map((event) => event.type)).toEqual(["run.started", "llm.delta", "run.succeeded"]);
    expect(seen).toEqual([
      { auth: "Bearer A", last: null },
      { auth: "Bearer A", last: "1" },
    ]);
    expect(states).toEqual(["connecting", "live", "reconnecting", "live", "closed"]);
  });

  it("reports a refused stream as unavailable (the page falls back to polling)", async () => {
    const fetcher = async () =>
      new Response(JSON.stringify({ error: { code: "not_found", message: "no run 'x'", details: {} } }), { status: 404 });
    const api = new Api(memoryStore({ access_token: "A" }), fetcher);
    const states: string[] = [];
    await followRun(api, "x", { signal: new AbortController().signal, onEvent: () => {}, onState: (state, error) => states.push(`${state}:${error?.message ?? ""}`) });
    expect(states).toEqual(["connecting:", "unavailable:no run 'x'"]);
  });
});

describe("followTenant", () => {
  it("reads the tenant's stream past a run's end, resuming after the last id, until aborted", async () => {
    const seen: { url: string; last: string | null }[] = [];
    const controller = new AbortController();
    const bodies = [
      'id: 7\nevent: run.succeeded\ndata: {"type":"run.succeeded","run_id":"r1","data":{}}\n\n',
      'id: 9\nevent: run.queued\ndata: {"type":"run.queued","run_id":"r2","data":{}}\n\n',
    ];
    const fetcher = async (input: string, init?: RequestInit) => {
      seen.push({ url: input, last: new Headers(init?.headers).get("Last-Event-ID") });
      const body = bodies.shift();
      if (body === undefined) controller.abort();
      return new Response(streamOf(body ?? ""), { status: 200 });
    };
    const api = new Api(memoryStore({ access_token: "A" }), fetcher);
    const events: string[] = [];
    await followTenant(api, { signal: controller.signal, onEvent: (event) => events.push(`${event.type} ${event.run_id}`), retryMs: 1 });
    expect(events).toEqual(["run.succeeded r1", "run.queued r2"]);
    expect(seen).toEqual([
      { url: "/api/v1/events", last: null },
      { url: "/api/v1/events", last: "7" },
      { url: "/api/v1/events", last: "9" },
    ]);
  });
});
