// Running the overview pattern on a portfolio: POST /execute answers the result (200), the run
// to follow while it is still going (202: polled until it ends), or 503 while a new pricing pack
// is warming, which is not a failure: the page says when the pack should be ready.
import { useEffect, useRef, useState } from "react";
import { ApiError } from "../../api";
import { formatTime } from "../../format";
import { Link } from "../../router";
import { useSession } from "../../session";
import { ActionButton, Can, StatusBadge } from "../../ui";
import { ResultView } from "./ResultView";
import { BASE } from "./types";
import type { Execution, NotReadyDetails } from "./types";

const ENDED = new Set(["succeeded", "failed", "dead", "cancelled"]);
/** Waits between polls of a running execution: quick at first, then every two seconds. */
const POLL_MS = [500, 1000, 2000];

interface Warming {
  message: string;
  estimatedReady: string | null;
  retryAfter: number | null;
}

function warmingOf(error: ApiError): Warming {
  const details = error.details as NotReadyDetails;
  return {
    message: error.message,
    estimatedReady: details.estimated_ready ?? null,
    retryAfter: typeof details.retry_after === "number" ? Math.ceil(details.retry_after) : null,
  };
}

function failureOf(execution: Execution): string {
  return execution.error?.message || `the run ended ${execution.status}`;
}

export function Overview({ portfolioId }: { portfolioId: string }) {
  const { api } = useSession();
  const [execution, setExecution] = useState<Execution | null>(null);
  const [warming, setWarming] = useState<Warming | null>(null);
  // Each run (and unmounting) bumps this: a poll of an older run stops.
  const ticket = useRef(0);
  useEffect(
    () => () => {
      ticket.current += 1;
    },
    [],
  );

  const run = async () => {
    const mine = ++ticket.current;
    setWarming(null);
    setExecution(null);
    let current: Execution;
    try {
      current = await api.post<Execution>(`${BASE}/execute`, { pattern_id: "portfolio_overview", portfolio_id: portfolioId });
    } catch (caught) {
      if (caught instanceof ApiError && caught.status === 503 && caught.code === "not_ready") {
        setWarming(warmingOf(caught));
        return;
      }
      throw caught;
    }
    setExecution(current);
    for (let polls = 0; !ENDED.has(current.status); polls += 1) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS[Math.min(polls, POLL_MS.length - 1)]));
      if (ticket.current !== mine) return;
      current = await api.get<Execution>(`${BASE}/executions/${encodeURIComponent(current.run_id)}`);
      if (ticket.current !== mine) return;
      setExecution(current);
    }
  };

  const running = execution !== null && !ENDED.has(execution.status);
  return (
    <>
      <Can action="runs.start">
        <div className="actions">
          <ActionButton className="primary" onAction={run} disabled={running}>
            Run overview
          </ActionButton>
        </div>
      </Can>
      {warming ? (
        <div className="notice" role="status">
          <strong>The pricing pack is warming.</strong>
          <p>{warming.message}</p>
          <p>
            {warming.estimatedReady ? `Estimated ready at ${formatTime(warming.estimatedReady)}` : "No estimate yet"}
            {warming.retryAfter !== null ? `; try again in about ${warming.retryAfter} s.` : "."}
          </p>
        </div>
      ) : null}
      {running ? (
        <p className="state state-loading" role="status" aria-live="polite">
          <span className="spinner" aria-hidden="true" /> Computing the overview… <StatusBadge status={execution.status} />{" "}
          <Link to={`/runs/${execution.run_id}`}>Follow the run</Link>
        </p>
      ) : null}
      {execution && execution.status === "succeeded" ? <ResultView execution={execution} /> : null}
      {execution && ENDED.has(execution.status) && execution.status !== "succeeded" ? (
        <div className="state state-error" role="alert">
          <strong>The overview could not be computed</strong>
          <p>{failureOf(execution)}</p>
          <Link to={`/runs/${execution.run_id}`}>Open the run</Link>
        </div>
      ) : null}
    </>
  );
}
