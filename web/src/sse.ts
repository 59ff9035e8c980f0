// Server-Sent Events over fetch(): EventSource cannot send an Authorization header, so the
// dashboard reads the stream itself. `SseParser` is the wire format (the WHATWG event-stream
// rules); `followRun` keeps a run's stream open and `followTenant` the tenant's (every run's
// events, from now on), each resuming with Last-Event-ID after a drop.
import { ApiError, errorFrom } from "./api";
import type { Api } from "./api";
import type { RunEvent } from "./types";

export interface SseFrame {
  id: string | null;
  event: string;
  data: string;
}

export class SseParser {
  private buffer = "";
  private data: string[] = [];
  private event = "";
  private sawId = false;
  private started = false;
  /** The last `id:` seen, kept across frames as the spec says (what Last-Event-ID sends). */
  lastEventId: string | null = null;
  /** The reconnection delay the server asked for with `retry:`, in ms. */
  retryMs: number | null = null;

  feed(chunk: string): SseFrame[] {
    if (!this.started) {
      this.started = chunk.length > 0;
      if (chunk.startsWith("\ufeff")) chunk = chunk.slice(1);
    }
    this.buffer += chunk;
    const frames: SseFrame[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (!match) break;
      // A lone \r at the end of a chunk may be the first half of \r\n: wait for more.
      if (match[0] === "\r" && match.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const frame = this.line(line);
      if (frame) frames.push(frame);
    }
    return frames;
  }

  private line(line: string): SseFrame | null {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "data":
        this.data.push(value);
        break;
      case "event":
        this.event = value;
        break;
      case "id":
        if (!value.includes("\0")) {
          this.lastEventId = value;
          this.sawId = true;
        }
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break;
    }
    return null;
  }

  private dispatch(): SseFrame | null {
    const hasData = this.data.length > 0;
    const frame: SseFrame = {
      id: this.sawId ? this.lastEventId : null,
      event: this.event || "message",
      data: this.data.join("\n"),
    };
    this.data = [];
    this.event = "";
    this.sawId = false;
    // A frame without data (only an id, say) dispatches nothing but keeps the id it set.
    return hasData ? frame : null;
  }
}

export const TERMINAL_EVENTS = new Set(["run.succeeded", "run.failed", "run.dead", "run.cancelled"]);

export type StreamState = "connecting" | "live" | "reconnecting" | "closed" | "unavailable";

export interface FollowOptions {
  onEvent: (event: RunEvent) => void;
  onState?: (state: StreamState, error?: Error) => void;
  signal: AbortSignal;
  /** Resume after this event id (the `id:` of the last frame seen). */
  lastEventId?: string | null;
  /** First delay before reconnecting, in ms (doubles up to 10 s). */
  retryMs?: number;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Follow a run's events until it ends, the signal aborts, or the stream is refused. */
export function followRun(api: Api, runId: string, options: FollowOptions): Promise<void> {
  return follow(api, `/api/v1/runs/${encodeURIComponent(runId)}/events`, options, true);
}

/** Follow every event of the signed-in user's tenant from now on, until the signal aborts or
 * the stream is refused. */
export function followTenant(api: Api, options: FollowOptions): Promise<void> {
  return follow(api, "/api/v1/events", options, false);
}

async function follow(api: Api, path: string, options: FollowOptions, untilRunEnds: boolean): Promise<void> {
  const { signal, onEvent } = options;
  const report = options.onState ?? (() => {});
  let lastEventId = options.lastEventId ?? null;
  let delay = options.retryMs ?? 1000;
  let first = true;
  while (!signal.aborted) {
    report(first ? "connecting" : "reconnecting");
    first = false;
    let ended = false;
    try {
      const headers: Record<string, string> = { Accept: "text/event-stream" };
      if (lastEventId) headers["Last-Event-ID"] = lastEventId;
      const response = await api.authorized(path, {
        headers,
        signal,
        cache: "no-store",
      });
      if (!response.ok || !response.body) {
        const error = response.ok ? new ApiError(0, "no_body", "no stream") : await errorFrom(response);
        if (response.status >= 400 && response.status < 500) {
          report("unavailable", error);
          return;
        }
        throw error;
      }
      report("live");
      const parser = new SseParser();
      parser.lastEventId = lastEventId;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const frame of parser.feed(value)) {
          if (parser.retryMs !== null) delay = parser.retryMs;
          if (parser.lastEventId !== null) lastEventId = parser.lastEventId;
          let event: RunEvent;
          try {
            event = JSON.parse(frame.data) as RunEvent;
          } catch {
            continue;
          }
          if (!event.type) event.type = frame.event;
          onEvent(event);
          if (untilRunEnds && TERMINAL_EVENTS.has(event.type)) ended = true;
        }
      }
      if (parser.lastEventId !== null) lastEventId = parser.lastEventId;
      delay = parser.retryMs ?? options.retryMs ?? 1000;
    } catch (error) {
      if (signal.aborted) break;
      report("reconnecting", error instanceof Error ? error : new Error(String(error)));
    }
    if (ended) break;
    await sleep(delay, signal);
    delay = Math.min(delay * 2, 10_000);
  }
  report("closed");
}
