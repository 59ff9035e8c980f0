// One run: its graph coloured live from the event stream, the chosen step's arguments, output,
// errors and model calls (with the model's text as it streams), the attempts timeline, and the
// operator's cancel, retry and override.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { FormEvent } from "react";
import { GraphView } from "../components/GraphView";
import { formatCount, formatDuration, formatMs, formatTime, formatUsd, secondsBetween } from "../format";
import { can } from "../roles";
import { FINISHED_RUN, applyEvent, initialLive } from "../runstate";
import type { LiveState } from "../runstate";
import { Link } from "../router";
import { useMe, useSession } from "../session";
import { followRun } from "../sse";
import type { StreamState } from "../sse";
import type { Attempt, LlmCall, LlmCallList, RunDetail, StepState, WorkflowDetail } from "../types";
import { ActionButton, Empty, ErrorBox, Json, Loading, StatusBadge, messageOf, useLoad, usePageTitle } from "../ui";

const STREAM_LABEL: Record<StreamState | "polling", string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  closed: "Stream closed",
  unavailable: "Updating every 2 s",
  polling: "Updating every 2 s",
};

function specStep(workflow: WorkflowDetail | undefined, id: string): Record<string, unknown> | undefined {
  const steps = (workflow?.spec as { steps?: Record<string, unknown>[] } | undefined)?.steps ?? [];
  return steps.find((step) => step.id === id);
}

const NOT_INPUTS = new Set(["id", "needs", "kind", "description", "retry", "timeout"]);

/** What a step is given, from its definition: arguments, prompt, subject, schema; not its
 * place in the graph, its retry policy, nor empty settings. */
export function stepInputs(definition: Record<string, unknown> | undefined): Record<string, unknown> | null {
  if (!definition) return null;
  const shown: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(definition)) {
    if (NOT_INPUTS.has(key) || value === null || value === undefined || value === "") continue;
    if (typeof value === "object" && Object.keys(value as object).length === 0) continue;
    shown[key] = value;
  }
  return shown;
}

function CallsTable({ calls }: { calls: LlmCall[] }) {
  if (calls.length === 0) return <p className="muted">No model calls.</p>;
  return (
    <div className="table-scroll">
      <table className="calls">
        <thead>
          <tr>
            <th scope="col">Step</th>
            <th scope="col">Model</th>
            <th scope="col">Status</th>
            <th scope="col" className="num">Tokens in / out</th>
            <th scope="col" className="num">Cost</th>
            <th scope="col" className="num">Latency</th>
          </tr>
        </thead>
        <tbody>
          {calls.map((call) => (
            <tr key={call.id}>
              <td>
                {call.step_key ?? "—"}
                {call.attempt ? <span className="muted"> #{call.attempt}</span> : null}
              </td>
              <td>
                {call.provider}:{call.model}
                {call.prompt_key ? <span className="muted"> ({call.prompt_key} v{call.prompt_version})</span> : null}
              </td>
              <td>
                <StatusBadge status={call.status} />
                {call.error_message ? <span className="inline-error"> {call.error_message}</span> : null}
              </td>
              <td className="num">
                {formatCount(call.input_tokens)} / {formatCount(call.output_tokens)}
              </td>
              <td className="num">{formatUsd(call.cost_usd)}</td>
              <td className="num">{formatMs(call.latency_ms)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Timeline({ attempts, run }: { attempts: Attempt[]; run: RunDetail }) {
  if (attempts.length === 0) return <p className="muted">No finished attempts yet.</p>;
  const start = Math.min(...attempts.map((a) => Date.parse(a.started_at)), Date.parse(run.started_at ?? run.created_at));
  const end = Math.max(...attempts.map((a) => Date.parse(a.finished_at)), start + 1);
  const span = end - start;
  return (
    <ol className="timeline" aria-label="Attempts, in order">
      {attempts.map((attempt) => {
        const left = ((Date.parse(attempt.started_at) - start) / span) * 100;
        const width = Math.max(0.8, (attempt.duration_ms / span) * 100);
        return (
          <li key={`${attempt.step_key}-${attempt.attempt}-${attempt.dispatch}`} className={`attempt state-${attempt.status}`}>
            <span className="attempt-label">
              <strong>{attempt.step_key}</strong> #{attempt.attempt}
              {attempt.dispatch > 1 ? ` (dispatch ${attempt.dispatch})` : ""} · {attempt.status} · {formatMs(attempt.duration_ms)}
            </span>
            <span className="attempt-track" aria-hidden="true">
              <span className="attempt-bar" style={{ left: `${Math.min(left, 99)}%`, width: `${Math.min(width, 100 - Math.min(left, 99))}%` }} />
            </span>
            {attempt.error ? <span className="inline-error">{attempt.error.message}</span> : null}
          </li>
        );
      })}
    </ol>
  );
}

function OverrideForm({ runId, stepKey, onDone }: { runId: string; stepKey: string; onDone: () => void }) {
  const { api } = useSession();
  const [output, setOutput] = useState("{}");
  const [reason, setReason] = useState("");
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    let parsed: unknown;
    try {
      parsed = JSON.parse(output);
    } catch {
      setError(new Error("The output is not valid JSON"));
      return;
    }
    if (!reason.trim()) {
      setError(new Error("Give a reason; it is kept with the run"));
      return;
    }
    try {
      await api.post(`/api/v1/runs/${runId}/steps/${encodeURIComponent(stepKey)}/override`, { output: parsed, reason: reason.trim() });
      onDone();
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <form className="override" onSubmit={submit} aria-label={`Override ${stepKey}`}>
      <div className="field">
        <label htmlFor="override-output">Output of {stepKey} (JSON)</label>
        <textarea id="override-output" className="mono" rows={5} value={output} onChange={(e) => setOutput(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="override-reason">Reason</label>
        <input id="override-reason" required value={reason} onChange={(e) => setReason(e.target.value)} />
      </div>
      {error ? (
        <p className="inline-error" role="alert">
          {messageOf(error)}
        </p>
      ) : null}
      <button type="submit">Set output and continue</button>
    </form>
  );
}

function StepPanel({ run, step, workflow, calls, stream, state, onChanged }: {
  run: RunDetail;
  step: string;
  workflow: WorkflowDetail | undefined;
  calls: LlmCall[];
  stream: LiveState["streams"][string] | undefined;
  state: string;
  onChanged: () => void;
}) {
  const me = useMe();
  const [overriding, setOverriding] = useState(false);
  const rows: StepState[] = run.steps.filter((s) => s.key === step || s.parent_key === step);
  const main = rows.find((s) => s.key === step);
  const definition = specStep(workflow, step);
  const mine = calls.filter((call) => call.step_key === step || call.step_key?.startsWith(`${step}[`));
  const review = run.reviews.find((r) => r.step_key === step);
  const done = state === "succeeded" || state === "skipped";
  return (
    <section className="card step-panel" aria-labelledby="step-title" data-testid="step-panel">
      <h2 id="step-title">
        Step <span className="mono">{step}</span> <StatusBadge status={state} />
      </h2>
      <dl className="facts">
        <dt>Kind</dt>
        <dd>{main?.kind ?? String(definition?.kind ?? "—")}</dd>
        <dt>Attempt</dt>
        <dd>{main?.attempt ?? "—"}</dd>
        <dt>Started</dt>
        <dd>{formatTime(main?.started_at)}</dd>
        <dt>Took</dt>
        <dd>{formatDuration(secondsBetween(main?.started_at, main?.finished_at))}</dd>
        {main?.overridden_by ? (
          <>
            <dt>Overridden by</dt>
            <dd>
              {main.overridden_by}: {main.override_reason}
            </dd>
          </>
        ) : null}
      </dl>
      {review ? (
        <p className="notice">
          Waiting for a person: <Link to="/reviews">open the review queue</Link>.
        </p>
      ) : null}
      {stream ? (
        <div className="stream" aria-live="polite" data-testid="stream">
          <h3>Model output, as it streams</h3>
          <pre className="json streaming">{stream.text}</pre>
        </div>
      ) : null}
      <h3>Inputs (as the workflow gives them)</h3>
      <Json value={stepInputs(definition)} label="Step inputs" />
      <h3>Output</h3>
      <Json value={main?.result ?? null} label="Step output" />
      {main?.error ? (
        <>
          <h3>Error</h3>
          <div className="state state-error">
            <strong>{main.error.code}</strong>
            <p>{main.error.message}</p>
          </div>
        </>
      ) : null}
      {rows.length > 1 ? (
        <>
          <h3>Items</h3>
          <ul className="items">
            {rows
              .filter((s) => s.key !== step)
              .map((s) => (
                <li key={s.key}>
                  <span className="mono">{s.key}</span> <StatusBadge status={s.status} />
                  {s.error ? <span className="inline-error"> {s.error.message}</span> : null}
                </li>
              ))}
          </ul>
        </>
      ) : null}
      <h3>Model calls</h3>
      <CallsTable calls={mine} />
      {can(me, "runs.override") && !done && !FINISHED_RUN.has(run.status) ? (
        overriding ? (
          <OverrideForm
            runId={run.id}
            stepKey={step}
            onDone={() => {
              setOverriding(false);
              onChanged();
            }}
          />
        ) : (
          <button type="button" onClick={() => setOverriding(true)}>
            Override this step…
          </button>
        )
      ) : null}
    </section>
  );
}

function CancelForm({ runId, onDone }: { runId: string; onDone: () => void }) {
  const { api } = useSession();
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState("");
  if (!open) {
    return (
      <button type="button" className="danger" onClick={() => setOpen(true)}>
        Cancel run…
      </button>
    );
  }
  return (
    <form className="inline-form" onSubmit={(e) => e.preventDefault()} aria-label="Cancel the run">
      <label htmlFor="cancel-reason">Reason</label>
      <input id="cancel-reason" value={reason} onChange={(e) => setReason(e.target.value)} />
      <ActionButton
        className="danger"
        onAction={async () => {
          await api.post(`/api/v1/runs/${runId}/cancel`, { reason: reason.trim() });
          setOpen(false);
          onDone();
        }}
      >
        Cancel run
      </ActionButton>
      <button type="button" className="link" onClick={() => setOpen(false)}>
        Keep it running
      </button>
    </form>
  );
}

export function RunDetailPage({ runId }: { runId: string }) {
  usePageTitle(`Run ${runId.slice(0, 8)}`);
  const { api } = useSession();
  const me = useMe();
  const base = `/api/v1/runs/${encodeURIComponent(runId)}`;
  const run = useLoad(() => api.get<RunDetail>(base), runId);
  const attempts = useLoad(() => api.get<{ items: Attempt[] }>(`${base}/attempts`), runId);
  const calls = useLoad(() => api.get<LlmCallList>(`${base}/llm-calls`), runId);
  const versionKey = run.data ? `${run.data.workflow_id}@${run.data.workflow_version}` : "";
  const workflow = useLoad(
    () =>
      run.data
        ? api.get<WorkflowDetail>(`/api/v1/workflows/${encodeURIComponent(run.data.workflow_id)}/versions/${encodeURIComponent(run.data.workflow_version)}`)
        : Promise.resolve(undefined as unknown as WorkflowDetail),
    versionKey,
  );
  const [live, setLive] = useState<LiveState>(() => initialLive(undefined));
  const [streamState, setStreamState] = useState<StreamState | "polling">("connecting");
  const [selected, setSelected] = useState<string | null>(null);
  const [follow, setFollow] = useState(0);
  const loaded = run.data !== undefined;

  const reloadRun = run.reload;
  const reloadAttempts = attempts.reload;
  const reloadCalls = calls.reload;
  const refresh = useCallback(async () => {
    await Promise.all([reloadRun(), reloadAttempts(), reloadCalls()]);
  }, [reloadRun, reloadAttempts, reloadCalls]);
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
    if (run.data) setLive((old) => ({ ...initialLive(run.data), streams: old.streams }));
  }, [run.data]);

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

  const status = live.runStatus ?? run.data?.status;
  const finished = status ? FINISHED_RUN.has(status) : false;
  useEffect(() => {
    if (streamState !== "unavailable" || finished) return;
    const interval = setInterval(() => void refresh(), 2000);
    return () => clearInterval(interval);
  }, [streamState, finished, refresh]);

  const steps = workflow.data?.steps ?? [];
  const chosen = selected ?? steps.find((s) => live.steps[s.id] === "running" || live.steps[s.id] === "waiting")?.id ?? steps[0]?.id ?? null;

  const totals = useMemo(() => calls.data, [calls.data]);

  if (!run.data) {
    if (run.error) {
      return (
        <section>
          <h1>Run {runId.slice(0, 8)}</h1>
          <ErrorBox error={run.error} onRetry={() => void run.reload()} />
          <p>
            <Link to="/runs">Back to the runs</Link>
          </p>
        </section>
      );
    }
    return <Loading label="Loading the run…" />;
  }
  const detail = run.data;
  return (
    <section className="run-detail">
      <div className="page-head">
        <h1>
          Run <span className="mono">{detail.id.slice(0, 8)}</span> <span data-testid="run-status"><StatusBadge status={status ?? detail.status} /></span>
        </h1>
        <span className={`stream-state stream-${streamState}`} role="status">
          {finished ? "Finished" : STREAM_LABEL[streamState]}
        </span>
      </div>
      <dl className="facts summary">
        <dt>Workflow</dt>
        <dd>
          <Link to={`/runs?workflow=${encodeURIComponent(detail.workflow_id)}`}>{detail.workflow_id}</Link> v{detail.workflow_version}
        </dd>
        <dt>Started by</dt>
        <dd>{detail.created_by}</dd>
        <dt>Started</dt>
        <dd>{formatTime(detail.started_at ?? detail.created_at)}</dd>
        <dt>Duration</dt>
        <dd>{formatDuration(detail.duration_s ?? secondsBetween(detail.started_at, detail.finished_at))}</dd>
        <dt>Cost</dt>
        <dd data-testid="run-cost">{formatUsd(totals?.cost_usd ?? detail.cost_usd)}</dd>
        <dt>Tokens</dt>
        <dd>
          {formatCount(detail.tokens)} in {formatCount(detail.llm_calls)} model calls
        </dd>
      </dl>
      {detail.error ? (
        <div className="state state-error" role="alert">
          <strong>{detail.error.code}</strong>
          <p>{detail.error.message}</p>
        </div>
      ) : null}
      {detail.reviews.length > 0 ? (
        <p className="notice">
          This run waits for {detail.reviews.length === 1 ? "a decision" : `${detail.reviews.length} decisions`} on{" "}
          {detail.reviews.map((r) => r.step_key).join(", ")}. <Link to="/reviews">Open the review queue</Link>.
        </p>
      ) : null}
      <div className="actions">
        {can(me, "runs.cancel") && !finished ? <CancelForm runId={detail.id} onDone={() => void refresh()} /> : null}
        {can(me, "runs.retry") && (status === "failed" || status === "dead") ? (
          <ActionButton
            className="primary"
            onAction={async () => {
              await api.post(`${base}/retry`);
              await refresh();
              setFollow((n) => n + 1);
            }}
          >
            Retry from the failed step
          </ActionButton>
        ) : null}
      </div>
      <h2>Graph</h2>
      {workflow.data ? (
        <GraphView steps={steps} states={live.steps} selected={chosen} onSelect={setSelected} />
      ) : workflow.error ? (
        <ErrorBox error={workflow.error} onRetry={() => void workflow.reload()} />
      ) : (
        <Loading label="Loading the workflow…" />
      )}
      <div className="columns">
        {chosen ? (
          <StepPanel
            run={detail}
            step={chosen}
            workflow={workflow.data}
            calls={calls.data?.items ?? []}
            stream={live.streams[chosen]}
            state={live.steps[chosen] ?? "pending"}
            onChanged={() => void refresh()}
          />
        ) : null}
        <section className="card" aria-labelledby="io-title">
          <h2 id="io-title">Inputs and outputs</h2>
          <h3>Inputs</h3>
          <Json value={detail.inputs} label="Run inputs" />
          <h3>Outputs</h3>
          {detail.outputs ? <Json value={detail.outputs} label="Run outputs" /> : <p className="muted">Not yet.</p>}
        </section>
      </div>
      <section aria-labelledby="timeline-title">
        <h2 id="timeline-title">Attempts</h2>
        {attempts.data ? <Timeline attempts={attempts.data.items} run={detail} /> : attempts.error ? <ErrorBox error={attempts.error} /> : <Loading />}
      </section>
      <section aria-labelledby="calls-title">
        <h2 id="calls-title">Model calls</h2>
        {calls.data ? (
          <>
            <CallsTable calls={calls.data.items} />
            {calls.data.items.length > 0 ? (
              <p className="muted">
                {formatCount(calls.data.tokens)} tokens, {formatUsd(calls.data.cost_usd)} in all.
              </p>
            ) : null}
          </>
        ) : calls.error ? (
          <ErrorBox error={calls.error} />
        ) : (
          <Loading />
        )}
      </section>
      {steps.length === 0 && workflow.data ? <Empty>This workflow has no steps.</Empty> : null}
    </section>
  );
}
