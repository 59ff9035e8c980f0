// A run as its event stream tells it: step colours, the run's status and the streaming model
// text follow the events at once; every other event reads the run again (at most every 300 ms).
// Without a stream, the run is read every two seconds until it finishes.
import { useCallback, useEffect, useRef, useState } from "react";
import { FINISHED_RUN, applyEvent, initialLive } from "../../runstate";
import type { LiveState } from "../../runstate";
import { useSession } from "../../session";
import { followRun } from "../../sse";
import type { StreamState } from "../../sse";
import type { RunDetail, RunStatus } from "../../types";

export interface LiveRun {
  live: LiveState;
  streamState: StreamState | "polling";
  status: RunStatus | undefined;
  finished: boolean;
  /** Open the stream again (after a retry, which continues a finished run). */
  followAgain: () => void;
}

export function useLiveRun(runId: string, run: RunDetail | undefined, refresh: () => Promise<void>): LiveRun {
  const { api } = useSession();
  const [live, setLive] = useState<LiveState>(() => initialLive(undefined));
  const [streamState, setStreamState] = useState<StreamState | "polling">("connecting");
  const [follow, setFollow] = useState(0);
  const loaded = run !== undefined;

  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const refreshSoon = useCallback(() => {
    if (timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      void refresh();
    }, 300);
  }, [refresh]);
  useEffect(() => () => {
    if (timer.current) clearTimeout(timer.current);
  }, []);

  useEffect(() => {
    if (run) setLive((old) => ({ ...initialLive(run), streams: old.streams }));
  }, [run]);

  useEffect(() => {
    if (!loaded) return;
    const controller = new AbortController();
    void followRun(api, runId, {
      signal: controller.signal,
      onState: setStreamState,
      onEvent: (event) => {
        setLive((old) => applyEvent(old, event));
        if (event.type !== "llm.delta") refreshSoon();
      },
    });
    return () => controller.abort();
  }, [api, runId, loaded, follow, refreshSoon]);

  const status = live.runStatus ?? run?.status;
  const finished = status ? FINISHED_RUN.has(status) : false;
  useEffect(() => {
    if (streamState !== "unavailable" || finished) return;
    const interval = setInterval(() => void refresh(), 2000);
    return () => clearInterval(interval);
  }, [streamState, finished, refresh]);

  const followAgain = useCallback(() => setFollow((n) => n + 1), []);
  return { live, streamState, status, finished, followAgain };
}
