// Runs: newest first, a keyset page at a time, each named by its label (from its inputs) and its
// id's random end; searched (id, workflow, inputs) and filtered by status, workflow and created
// date on the server; kept current by the tenant's event stream. And the form that starts a run,
// generated from the chosen workflow's input schema.
import { useCallback, useEffect, useMemo, useState } from "react";
import { query } from "../api";
import { RunLink } from "../components/RunLink";
import { When } from "../components/When";
import { dayBoundary, formatDuration, formatUsd, secondsBetween } from "../format";
import { can } from "../roles";
import { navigate, useLocation } from "../router";
import { useMe, useSession } from "../session";
import { followTenant } from "../sse";
import type { StreamState } from "../sse";
import { RUN_STATUSES } from "../types";
import type { RunPage, RunSummary, WorkflowDetail, WorkflowVersion, WorkflowVersionList } from "../types";
import { Empty, ErrorBox, Loading, Show, StatusBadge, useLoad, usePageTitle } from "../ui";
import { StartRunForm } from "./workflows/StartRun";

const LIST_STREAM_LABEL: Record<StreamState, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  closed: "Not live",
  unavailable: "Updating every 10 s",
};

export function duration(run: RunSummary): string {
  if (run.duration_s !== null) return formatDuration(run.duration_s);
  if (run.started_at && !run.finished_at) return `${formatDuration(secondsBetween(run.started_at, null))} so far`;
  return "—";
}

function Inputs({ preview }: { preview: Record<string, string> }) {
  const entries = Object.entries(preview);
  if (entries.length === 0) return <span className="muted">none</span>;
  return (
    <ul className="inputs-preview">
      {entries.map(([key, value]) => (
        <li key={key}>
          <span className="muted">{key}:</span> {value}
        </li>
      ))}
    </ul>
  );
}

export function RunsTable({ runs, caption }: { runs: RunSummary[]; caption: string }) {
  return (
    <div className="table-scroll">
      <table className="runs">
        <caption className="sr-only">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">Inputs</th>
            <th scope="col">Status</th>
            <th scope="col">Workflow</th>
            <th scope="col">Started</th>
            <th scope="col" className="num">Duration</th>
            <th scope="col" className="num">Cost</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => (
            <tr key={run.id} data-run={run.id}>
              <td data-label="Run">
                <RunLink id={run.id} label={run.label} />
              </td>
              <td data-label="Inputs" className="run-inputs">
                <Inputs preview={run.inputs_preview} />
              </td>
              <td data-label="Status">
                <StatusBadge status={run.status} />
              </td>
              <td data-label="Workflow">
                {run.workflow_id} <span className="muted">v{run.workflow_version}</span>
              </td>
              <td data-label="Started">
                <When iso={run.started_at ?? run.created_at} />
              </td>
              <td className="num" data-label="Duration">{duration(run)}</td>
              <td className="num" data-label="Cost" data-testid="run-cost">
                {formatUsd(run.cost_usd)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function latestWorkflows(versions: WorkflowVersion[]): WorkflowVersion[] {
  const byId = new Map<string, WorkflowVersion>();
  for (const version of versions) byId.set(version.workflow_id, version);
  return [...byId.values()].sort((a, b) => a.workflow_id.localeCompare(b.workflow_id));
}

function StartRun({ workflows, initial }: { workflows: WorkflowVersion[]; initial: string }) {
  const { api } = useSession();
  const [workflowId, setWorkflowId] = useState(initial || workflows[0]?.workflow_id || "");
  const detail = useLoad(() => (workflowId ? api.get<WorkflowDetail>(`/api/v1/workflows/${encodeURIComponent(workflowId)}`) : Promise.resolve(undefined as unknown as WorkflowDetail)), workflowId);

  if (workflows.length === 0) {
    return <Empty>No workflows are stored yet. Store one with <code>batonflow workflows add my-workflow.yaml</code> or the API, then start it here.</Empty>;
  }
  return (
    <section className="card start-run" aria-labelledby="start-title">
      <h2 id="start-title">Start a run</h2>
      <div className="field">
        <label htmlFor="start-workflow">Workflow</label>
        <select id="start-workflow" value={workflowId} onChange={(e) => setWorkflowId(e.target.value)}>
          {workflows.map((workflow) => (
            <option key={workflow.workflow_id} value={workflow.workflow_id}>
              {workflow.workflow_id} (v{workflow.version})
            </option>
          ))}
        </select>
      </div>
      <Show loaded={detail} label="Loading the workflow…">
        {(workflow) =>
          workflow ? (
            <>
              {workflow.description ? <p className="muted">{workflow.description}</p> : null}
              <StartRunForm workflow={workflow} />
            </>
          ) : null
        }
      </Show>
    </section>
  );
}

/** Reload the list when the tenant's event stream says a run moved (at most once a second);
 * without a stream, every 10 s. */
function useLiveList(reload: () => Promise<void>): StreamState {
  const { api } = useSession();
  const [state, setState] = useState<StreamState>("connecting");
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | null = null;
    void followTenant(api, {
      signal: controller.signal,
      onState: setState,
      onEvent: (event) => {
        if (!event.type.startsWith("run.") || timer) return;
        timer = setTimeout(() => {
          timer = null;
          void reload();
        }, 1000);
      },
    });
    return () => {
      controller.abort();
      if (timer) clearTimeout(timer);
    };
  }, [api, reload]);
  useEffect(() => {
    if (state !== "unavailable") return;
    const interval = setInterval(() => void reload(), 10_000);
    return () => clearInterval(interval);
  }, [state, reload]);
  return state;
}

/** The search box: it searches as one types (after a pause), and follows the URL's `q`. */
function SearchBox({ value, onSearch }: { value: string; onSearch: (text: string) => void }) {
  const [text, setText] = useState(value);
  useEffect(() => setText((old) => (old.trim() === value ? old : value)), [value]);
  useEffect(() => {
    if (text.trim() === value) return;
    const timer = setTimeout(() => onSearch(text.trim()), 300);
    return () => clearTimeout(timer);
  }, [text, value, onSearch]);
  return (
    <div className="field search-field">
      <label htmlFor="filter-q">Search</label>
      <input
        id="filter-q"
        type="search"
        value={text}
        placeholder="id end, workflow or input text"
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter") onSearch(text.trim());
        }}
      />
    </div>
  );
}

export function RunsPage() {
  usePageTitle("Runs");
  const { api } = useSession();
  const me = useMe();
  const { search } = useLocation();
  const q = search.get("q") ?? "";
  const status = search.get("status") ?? "";
  const workflow = search.get("workflow") ?? "";
  const from = search.get("from") ?? "";
  const to = search.get("to") ?? "";
  const cursor = search.get("cursor") ?? "";
  const starting = search.get("start") !== null;
  const workflows = useLoad(() => api.get<WorkflowVersionList>("/api/v1/workflows"), "workflows");
  const listQuery = query({
    q: q || undefined,
    status: status || undefined,
    workflow_id: workflow || undefined,
    created_after: from ? dayBoundary(from) : undefined,
    created_before: to ? dayBoundary(to, true) : undefined,
    cursor: cursor || undefined,
    limit: 25,
  });
  const runs = useLoad(() => api.get<RunPage>(`/api/v1/runs${listQuery}`), listQuery);
  const latest = useMemo(() => latestWorkflows(workflows.data?.items ?? []), [workflows.data]);
  const streamState = useLiveList(runs.reload);

  const setFilter = useCallback(
    (name: string, value: string) => {
      const next = new URLSearchParams(search);
      if (value) next.set(name, value);
      else next.delete(name);
      next.delete("cursor");
      const text = next.toString();
      navigate(`/runs${text ? `?${text}` : ""}`, true);
    },
    [search],
  );
  const onSearch = useCallback((text: string) => setFilter("q", text), [setFilter]);
  const pageTo = (next: string | null) => {
    const params = new URLSearchParams(search);
    if (next) params.set("cursor", next);
    else params.delete("cursor");
    const text = params.toString();
    navigate(`/runs${text ? `?${text}` : ""}`);
  };
  const filtered = !!(q || status || workflow || from || to);

  return (
    <section>
      <div className="page-head">
        <h1>Runs</h1>
        {can(me, "runs.start") ? (
          <button type="button" className="primary" aria-expanded={starting} onClick={() => setFilter("start", starting ? "" : "1")}>
            {starting ? "Close" : "Start run"}
          </button>
        ) : null}
      </div>
      {starting && can(me, "runs.start") ? (
        workflows.data ? (
          <StartRun workflows={latest} initial={workflow} />
        ) : workflows.error ? (
          <ErrorBox error={workflows.error} onRetry={() => void workflows.reload()} />
        ) : (
          <Loading />
        )
      ) : null}
      <form className="filters" role="search" aria-label="Filter runs" onSubmit={(e) => e.preventDefault()}>
        <SearchBox value={q} onSearch={onSearch} />
        <div className="field">
          <label htmlFor="filter-status">Status</label>
          <select id="filter-status" value={status} onChange={(e) => setFilter("status", e.target.value)}>
            <option value="">any</option>
            {RUN_STATUSES.map((value) => (
              <option key={value} value={value}>
                {value}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="filter-workflow">Workflow</label>
          <select id="filter-workflow" value={workflow} onChange={(e) => setFilter("workflow", e.target.value)}>
            <option value="">any</option>
            {latest.map((item) => (
              <option key={item.workflow_id} value={item.workflow_id}>
                {item.workflow_id}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="filter-from">Created from</label>
          <input id="filter-from" type="date" value={from} onChange={(e) => setFilter("from", e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="filter-to">to</label>
          <input id="filter-to" type="date" value={to} onChange={(e) => setFilter("to", e.target.value)} />
        </div>
        {filtered ? (
          <button type="button" className="link" onClick={() => navigate("/runs", true)}>
            Clear filters
          </button>
        ) : null}
        <button type="button" onClick={() => void runs.reload()} aria-label="Refresh the runs">
          Refresh
        </button>
        <span className={`stream-state stream-${streamState}`} role="status" title="New runs and status changes appear by themselves while this is live">
          {LIST_STREAM_LABEL[streamState]}
        </span>
      </form>
      <Show loaded={runs} label="Loading runs…">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>
              {cursor ? "No more runs." : q ? `No runs match “${q}”${status || workflow || from || to ? " with these filters" : ""}.` : filtered ? "No runs match these filters." : "No runs yet."}{" "}
              {can(me, "runs.start") && !filtered ? "Start one with the button above." : null}
            </Empty>
          ) : (
            <>
              <RunsTable runs={page.items} caption="Runs, newest first" />
              <nav className="pager" aria-label="Pages of runs">
                {cursor ? (
                  <button type="button" onClick={() => pageTo(null)}>
                    First page
                  </button>
                ) : null}
                {page.next_cursor ? (
                  <button type="button" onClick={() => pageTo(page.next_cursor)}>
                    Next page
                  </button>
                ) : null}
              </nav>
            </>
          )
        }
      </Show>
    </section>
  );
}
