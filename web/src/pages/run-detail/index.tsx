// One run: its graph coloured live from the event stream, the chosen step's arguments (as the
// workflow gives them and as they resolved), output, errors, decisions, model calls (with the
// model's text as it streams) and events, the run's attempts, model calls and events in tabs,
// and the operator's cancel, retry and override. A failed run opens on the step it failed at.
import { useCallback, useState } from "react";
import { GraphView } from "../../components/GraphView";
import { shortId } from "../../format";
import { Link } from "../../router";
import { useSession } from "../../session";
import type { StreamState } from "../../sse";
import type { AttemptList, LlmCallList, RunDetail, WorkflowDetail } from "../../types";
import { Empty, ErrorBox, Json, Loading, StatusBadge, useLoad, usePageTitle } from "../../ui";
import { Actions } from "./Actions";
import { AttemptsTimeline } from "./AttemptsTimeline";
import { cancellation, useRunEvents } from "./events";
import { EventsList } from "./EventsList";
import { ModelCalls } from "./ModelCalls";
import { RunFacts } from "./RunFacts";
import { ShortIdRun, isFullId } from "./ShortIdRun";
import { StepPanel } from "./StepPanel";
import { Tabs } from "./Tabs";
import { useLiveRun } from "./useLiveRun";

const STREAM_LABEL: Record<StreamState | "polling", string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  closed: "Stream closed",
  unavailable: "Updating every 2 s",
  polling: "Updating every 2 s",
};

/** `/runs/<id>`: the run, or with a short id the run it names (`ShortIdRun`). */
export function RunDetailPage({ runId }: { runId: string }) {
  return isFullId(runId) ? <FullRun runId={runId} /> : <ShortIdRun text={runId} />;
}

function FullRun({ runId }: { runId: string }) {
  const { api } = useSession();
  const base = `/api/v1/runs/${encodeURIComponent(runId)}`;
  const run = useLoad(() => api.get<RunDetail>(base), runId);
  usePageTitle(run.data?.label ? `${run.data.label} · ${shortId(runId)}` : `Run ${shortId(runId)}`);
  const attempts = useLoad(() => api.get<AttemptList>(`${base}/attempts`), runId);
  const calls = useLoad(() => api.get<LlmCallList>(`${base}/llm-calls`), runId);
  const versionKey = run.data ? `${run.data.workflow_id}@${run.data.workflow_version}` : "";
  const workflow = useLoad(
    () =>
      run.data
        ? api.get<WorkflowDetail>(`/api/v1/workflows/${encodeURIComponent(run.data.workflow_id)}/versions/${encodeURIComponent(run.data.workflow_version)}`)
        : Promise.resolve(undefined as unknown as WorkflowDetail),
    versionKey,
  );
  const [selected, setSelected] = useState<string | null>(null);

  const reloadRun = run.reload;
  const reloadAttempts = attempts.reload;
  const reloadCalls = calls.reload;
  const events = useRunEvents(api, runId);
  const reloadEvents = events.reload;
  const refresh = useCallback(async () => {
    await Promise.all([reloadRun(), reloadAttempts(), reloadCalls(), reloadEvents()]);
  }, [reloadRun, reloadAttempts, reloadCalls, reloadEvents]);
  const { live, streamState, status, finished, followAgain } = useLiveRun(runId, run.data, refresh);

  const steps = workflow.data?.steps ?? [];
  const chosen =
    selected ??
    steps.find((s) => live.steps[s.id] === "running" || live.steps[s.id] === "waiting")?.id ??
    failedStep(run.data, steps.map((s) => s.id)) ??
    steps[0]?.id ??
    null;

  if (!run.data) {
    if (run.error) {
      return (
        <section>
          <h1>
            Run <span className="mono">{shortId(runId)}</span>
          </h1>
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
          {detail.label ? <span className="run-label">{detail.label}</span> : `Run`} <span className="mono run-id" title={detail.id}>{shortId(detail.id)}</span>{" "}
          <span data-testid="run-status"><StatusBadge status={status ?? detail.status} /></span>
        </h1>
        <span className={`stream-state stream-${streamState}`} role="status">
          {finished ? "Finished" : STREAM_LABEL[streamState]}
        </span>
      </div>
      <RunFacts run={detail} cost={calls.data?.cost_usd} cancelled={cancellation(events.items)} />
      <Actions runId={detail.id} status={status} finished={finished} onChanged={refresh} onRetried={followAgain} />
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
            attempts={attempts.data?.items ?? []}
            events={events}
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
      <Tabs
        label="What happened"
        tabs={[
          { id: "attempts", label: "Attempts", panel: () => <AttemptsTimeline attempts={attempts} run={detail} /> },
          { id: "calls", label: "Model calls", panel: () => <ModelCalls calls={calls} /> },
          { id: "events", label: events.items ? `Events (${events.items.length})` : "Events", panel: () => <EventsList events={events} /> },
        ]}
      />
      {steps.length === 0 && workflow.data ? <Empty>This workflow has no steps.</Empty> : null}
    </section>
  );
}

/** The step a failed or dead run stopped at (its error names it), if the graph has it. */
function failedStep(run: RunDetail | undefined, ids: string[]): string | undefined {
  if (!run || (run.status !== "failed" && run.status !== "dead")) return undefined;
  const step = (run.error as { step?: unknown } | null)?.step;
  return typeof step === "string" && ids.includes(step) ? step : run.steps.find((s) => s.parent_key === null && s.status === "failed")?.key;
}
