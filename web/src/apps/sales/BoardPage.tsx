// A pipeline's board: the stages in order, each with its deals, how many and their amounts per
// currency; a deal moves by hand with a reason, and a stage that needs fields the deal lacks
// says which ones.
import { useState } from "react";
import type { FormEvent } from "react";
import { ApiError } from "../../api";
import { Link } from "../../router";
import { useSession } from "../../session";
import { Can, Empty, ErrorBox, Show, useLoad, usePageTitle } from "../../ui";
import { dealPath, useCompanyNames } from "./lookups";
import { money, sums } from "./money";
import { BASE, FIELD_LABELS } from "./types";
import type { Board, DealSummary, Pipeline, Stage } from "./types";

export function BoardPage() {
  usePageTitle("Pipeline board");
  const { api } = useSession();
  const pipelines = useLoad(() => api.get<Pipeline[]>(`${BASE}/pipelines`), "pipelines");
  const [chosen, setChosen] = useState<string | null>(null);
  return (
    <section>
      <div className="page-head">
        <h1>Pipeline board</h1>
      </div>
      <Show loaded={pipelines} label="Loading pipelines…">
        {(items) => {
          const ordered = [...items].sort((a, b) => Number(b.is_default) - Number(a.is_default));
          const current = chosen ?? ordered[0]?.id ?? null;
          return (
            <>
              <div className="filters">
                <div className="field">
                  <label htmlFor="board-pipeline">Pipeline</label>
                  <select id="board-pipeline" value={current ?? ""} onChange={(event) => setChosen(event.target.value)}>
                    {ordered.map((pipeline) => (
                      <option key={pipeline.id} value={pipeline.id}>
                        {pipeline.name}
                        {pipeline.is_default ? " (default)" : ""}
                      </option>
                    ))}
                  </select>
                </div>
              </div>
              {current ? <PipelineBoard key={current} pipelineId={current} /> : <Empty>No pipelines yet.</Empty>}
            </>
          );
        }}
      </Show>
    </section>
  );
}

function PipelineBoard({ pipelineId }: { pipelineId: string }) {
  const { api } = useSession();
  const board = useLoad(() => api.get<Board>(`${BASE}/pipelines/${encodeURIComponent(pipelineId)}/board`), pipelineId);
  const names = useCompanyNames(board.data?.stages.flatMap((column) => column.deals.map((deal) => deal.company_id)) ?? []);
  return (
    <Show loaded={board} label="Loading the board…">
      {(found) => {
        const stages = found.stages.map((column) => column.stage);
        return (
          <div className="sales-board" aria-label={`Board of ${found.pipeline.name}`} role="region">
            {found.stages.map((column) => (
              <section key={column.stage.id} className="sales-column" aria-labelledby={`stage-${column.stage.id}`}>
                <header>
                  <h2 id={`stage-${column.stage.id}`}>{column.stage.name}</h2>
                  <p className="muted small" aria-label={`${column.stage.name} totals`}>
                    {column.count} {column.count === 1 ? "deal" : "deals"} · {sums(column.amounts)}
                  </p>
                </header>
                {column.deals.length === 0 ? (
                  <p className="muted small">No deals.</p>
                ) : (
                  <ul className="sales-cards" aria-label={`Deals in ${column.stage.name}`}>
                    {column.deals.map((deal) => (
                      <li key={deal.id}>
                        <DealCard deal={deal} company={names.get(deal.company_id) ?? "…"} stages={stages} onMoved={() => void board.reload()} />
                      </li>
                    ))}
                  </ul>
                )}
              </section>
            ))}
          </div>
        );
      }}
    </Show>
  );
}

function DealCard({ deal, company, stages, onMoved }: { deal: DealSummary; company: string; stages: Stage[]; onMoved: () => void }) {
  return (
    <article className="card sales-card" aria-label={deal.title}>
      <h3>
        <Link to={dealPath(deal.id)}>{deal.title}</Link>
      </h3>
      <dl className="facts">
        <dt>Company</dt>
        <dd>{company}</dd>
        <dt>Amount</dt>
        <dd>{money(deal.amount, deal.currency)}</dd>
        <dt>Close date</dt>
        <dd>{deal.close_date ?? "—"}</dd>
        <dt>Owner</dt>
        <dd>{deal.owner ?? "—"}</dd>
      </dl>
      <Can action="runs.start">
        <MoveForm deal={deal} stages={stages} onMoved={onMoved} />
      </Can>
    </article>
  );
}

function missingOf(error: unknown): string[] | null {
  if (!(error instanceof ApiError) || error.status !== 422) return null;
  const missing = error.details.missing;
  return Array.isArray(missing) ? missing.map((field) => FIELD_LABELS[String(field)] ?? String(field)) : null;
}

function MoveForm({ deal, stages, onMoved }: { deal: DealSummary; stages: Stage[]; onMoved: () => void }) {
  const { api } = useSession();
  const others = stages.filter((stage) => stage.id !== deal.stage_id);
  const [target, setTarget] = useState(others[0]?.id ?? "");
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.post(`${BASE}/deals/${encodeURIComponent(deal.id)}/move`, { stage_id: target, reason: reason.trim() });
      onMoved();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  const missing = missingOf(error);
  const stageName = stages.find((stage) => stage.id === target)?.name ?? "that stage";
  return (
    <form className="sales-move" aria-label={`Move ${deal.title}`} onSubmit={submit}>
      <label>
        Move to{" "}
        <select value={target} onChange={(event) => setTarget(event.target.value)}>
          {others.map((stage) => (
            <option key={stage.id} value={stage.id}>
              {stage.name}
            </option>
          ))}
        </select>
      </label>
      <label>
        Reason <input value={reason} onChange={(event) => setReason(event.target.value)} maxLength={2000} />
      </label>
      <button type="submit" disabled={busy || !target} aria-busy={busy}>
        Move
      </button>
      {missing ? (
        <div className="state state-error" role="alert">
          <strong>Not moved: {stageName} needs {missing.join(", ")}</strong>
          <p>
            <Link to={dealPath(deal.id)}>Open the deal</Link> to set them, then move it again.
          </p>
        </div>
      ) : error ? (
        <ErrorBox error={error} title="The deal was not moved" />
      ) : null}
    </form>
  );
}
