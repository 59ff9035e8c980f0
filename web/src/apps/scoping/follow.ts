// A session's progress over Server-Sent Events (read with fetch, as a run's are): `session`
// frames carry the whole session whenever it changes, `delta` frames the model's text as the
// running stage writes it. Reconnects after a drop until the signal aborts.
import type { Api } from "../../api";
import { SseParser } from "../../sse";
import { BASE } from "./types";
import type { ScopingSession } from "./types";

export interface SessionFollow {
  onSession: (session: ScopingSession) => void;
  onDelta: (text: string, runId: string, retry: number) => void;
  signal: AbortSignal;
}

export async function followSession(api: Api, id: string, follow: SessionFollow): Promise<void> {
  const { signal } = follow;
  while (!signal.aborted) {
    try {
      const response = await api.authorized(`${BASE}/${encodeURIComponent(id)}/events`, {
        headers: { Accept: "text/event-stream" },
        signal,
        cache: "no-store",
      });
      if (!response.ok || !response.body) {
        if (response.status >= 400 && response.status < 500) return;
        throw new Error(`the stream answered ${response.status}`);
      }
      const parser = new SseParser();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const frame of parser.feed(value)) {
          const data = JSON.parse(frame.data) as Record<string, unknown>;
          if (frame.event === "session") follow.onSession(data as unknown as ScopingSession);
          else if (frame.event === "delta") {
            follow.onDelta(String(data.text ?? ""), String(data.run_id ?? ""), Number(data.retry ?? 0));
          }
        }
      }
    } catch {
      if (signal.aborted) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}
