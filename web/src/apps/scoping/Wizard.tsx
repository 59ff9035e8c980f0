// A session's stage-by-stage wizard: a progress bar, the five stages, the pending question
// (its choices with the recommended one, or free text) with answer, skip and done, the
// analysis (streaming while the model writes it), going back to a stage, the documents the
// questions draw on, the charter, and the session's workflow with its runs.
import { useEffect, useRef, useState } from "react";
import { Link } from "../../router";
import { useSession } from "../../session";
import { ActionButton, ErrorBox, Loading, StatusBadge, usePageTitle } from "../../ui";
import { DocumentsPanel } from "./DocumentsPanel";
import { followSession } from "./follow";
import { SessionWorkflow, workflowOf } from "./SessionWorkflow";
import { PAGE } from "./SessionsList";
import { BASE } from "./types";
import type { Question, ScopingSession, Source, Stage } from "./types";

function current(session: ScopingSession): number {
  const open = session.stages.find((s) => s.status !== "analysed" && s.status !== "locked");
  if (open) return open.number;
  const locked = session.stages.find((s) => s.status === "locked");
  return locked ? locked.number : session.stages.length;
}

export function Wizard({ sessionId }: { sessionId: string }) {
  const { api, me } = useSession();
  const [session, setSession] = useState<ScopingSession | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [chosen, setChosen] = useState<number | null>(null);
  const [live, setLive] = useState({ run: "", retry: 0, text: "" });
  // Frames from the stream are the newest state: a reply to a request sent before one arrived
  // may be older than it, and is dropped.
  const frames = useRef(0);
  usePageTitle(session ? session.title : "Scoping session");

  useEffect(() => {
    const abort = new AbortController();
    api.get<ScopingSession>(`${BASE}/${sessionId}`).then((first) => {
      if (frames.current === 0) setSession(first);
    }, setError);
    void followSession(api, sessionId, {
      signal: abort.signal,
      onSession: (fresh) => {
        frames.current += 1;
        setSession(fresh);
      },
      onDelta: (text, run, retry) =>
        setLive((old) =>
          old.run === run && old.retry === retry ? { ...old, text: old.text + text } : { run, retry, text },
        ),
    });
    return () => abort.abort();
  }, [api, sessionId]);

  if (error) return <ErrorBox error={error} title="This session cannot be shown" />;
  if (!session) return <Loading label="Loading the session…" />;
  const number = chosen ?? current(session);
  const stage = session.stages[number - 1] as Stage;
  const stagePath = `${BASE}/${sessionId}/stages/${number}`;
  const act = async (path: string, body?: unknown) => {
    await api.post(`${stagePath}/${path}`, body);
    const seen = frames.current;
    const fresh = await api.get<ScopingSession>(`${BASE}/${sessionId}`);
    if (frames.current === seen) setSession(fresh);
  };
  const editable = session.access !== "read";
  const allDone = session.stages.every((s) => s.status === "analysed");
  const running = session.running;

  return (
    <section>
      <div className="page-head">
        <h1>{session.title}</h1>
        <Link to={PAGE}>All sessions</Link>
      </div>
      <div className="scoping-progress">
        <progress max={100} value={session.progress} aria-label="Progress" /> {session.progress}%
      </div>
      <ol className="scoping-stages" aria-label="Stages">
        {session.stages.map((s) => (
          <li key={s.number}>
            <button
              type="button"
              aria-current={s.number === number ? "step" : undefined}
              disabled={s.status === "locked" && !(editable && canOpen(session, s.number))}
              onClick={() => setChosen(s.number)}
            >
              {s.number}. {s.title}
            </button>{" "}
            <StatusBadge status={s.status} />
          </li>
        ))}
      </ol>
      <StagePanel
        stage={stage}
        editable={editable}
        act={act}
        canOpen={canOpen(session, number)}
        live={running && running.stages.includes(number) && live.run === running.run_id ? live.text : ""}
      />
      <DocumentsPanel sessionId={sessionId} editable={editable} />
      {allDone ? (
        <div className="card">
          <h2>Charter</h2>
          {session.charter_version ? (
            <p>
              Version {session.charter_version} is written.{" "}
              <Link to={`${PAGE}?session=${sessionId}&view=charter`}>Open the charter</Link>
            </p>
          ) : null}
          {editable ? (
            <ActionButton
              disabled={running !== null}
              onAction={async () => {
                await api.post(`${BASE}/${sessionId}/charter`);
              }}
            >
              {running?.kind === "charter" ? "Writing the charter…" : "Write the charter"}
            </ActionButton>
          ) : null}
        </div>
      ) : null}
      <SessionWorkflow
        steps={workflowOf(session)}
        linked={session.access === "owner" || (me?.roles ?? []).includes("admin")}
      />
    </section>
  );
}

function canOpen(session: ScopingSession, number: number): boolean {
  if (number === 1) return true;
  return session.stages[number - 2]?.status === "analysed";
}

function StagePanel({
  stage,
  editable,
  act,
  canOpen: openable,
  live,
}: {
  stage: Stage;
  editable: boolean;
  act: (path: string, body?: unknown) => Promise<void>;
  canOpen: boolean;
  live: string;
}) {
  const pending = stage.questions.find((q) => q.id === stage.pending_question_id);
  const finished = stage.status === "analysed" || stage.status === "stale";
  return (
    <div className="card" aria-label={`Stage ${stage.number}`}>
      <h2>
        Stage {stage.number}: {stage.title}
      </h2>
      <p className="muted">About {stage.focus}. Checklist: {stage.checklist.join(", ")}.</p>
      {editable && ((stage.status === "locked" && openable) || (stage.status === "waiting" && stage.questions.length === 0)) ? (
        <ActionButton onAction={() => act("open")}>Start this stage</ActionButton>
      ) : null}
      {stage.status === "asking" ? <p role="status">The agent is thinking of the next question…</p> : null}
      {stage.status === "analysing" ? <p role="status">The agent is analysing the stage…</p> : null}
      {live ? <pre className="scoping-live" aria-label="Model output">{live}</pre> : null}
      {stage.status === "failed" ? (
        <div role="alert" className="inline-error">
          The last run failed: {String((stage.execution?.error as { message?: string } | null)?.message ?? "")}. Your answers are kept.
        </div>
      ) : null}
      {editable && (stage.status === "failed" || (stage.status === "waiting" && stage.questions.length > 0)) ? (
        <ActionButton onAction={() => act("resume")}>Resume</ActionButton>
      ) : null}
      <ol className="scoping-questions" aria-label="Questions">
        {stage.questions
          .filter((q) => q.answered)
          .map((q) => (
            <AnsweredQuestion key={q.id} question={q} editable={editable && !stage.done} act={act} />
          ))}
      </ol>
      {pending && editable ? <Ask key={pending.id} question={pending} act={act} /> : null}
      {editable && !stage.done && stage.status !== "locked" && stage.questions.length > 0 ? (
        <ActionButton onAction={() => act("done")}>Done with this stage</ActionButton>
      ) : null}
      {stage.analysis ? (
        <div className="scoping-analysis" aria-label="Analysis">
          <h3>
            Analysis (version {stage.analysis.version}){stage.analysis.stale ? " — stale: an earlier stage changed" : ""}
          </h3>
          <p>{stage.analysis.summary}</p>
          {stage.analysis.key_points.length ? (
            <ul>{stage.analysis.key_points.map((p) => <li key={p}>{p}</li>)}</ul>
          ) : null}
          <h4>Gaps</h4>
          <ul>{stage.analysis.gaps.map((g) => <li key={g}>{g}</li>) }</ul>
          <h4>Coverage</h4>
          <ul>
            {stage.analysis.coverage.map((c) => (
              <li key={c.item}>
                {c.covered ? "✓" : "✗"} {c.item}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {finished && editable && stage.done ? (
        <ActionButton onAction={() => act("open")}>Go back and change answers</ActionButton>
      ) : null}
    </div>
  );
}

function AnsweredQuestion({
  question,
  editable,
  act,
}: {
  question: Question;
  editable: boolean;
  act: (path: string, body?: unknown) => Promise<void>;
}) {
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(question.answer ?? "");
  return (
    <li>
      <strong>{question.text}</strong>
      <div>{question.skipped ? <em>skipped</em> : question.answer}</div>
      {editable && !editing ? (
        <button type="button" onClick={() => setEditing(true)}>
          Change answer
        </button>
      ) : null}
      {editing ? (
        <span>
          <input aria-label={`New answer to: ${question.text}`} value={text} onChange={(e) => setText(e.target.value)} />{" "}
          <ActionButton
            disabled={!text.trim()}
            onAction={async () => {
              await act("answer", { question_id: question.id, answer: text });
              setEditing(false);
            }}
          >
            Save answer
          </ActionButton>
        </span>
      ) : null}
    </li>
  );
}

/** The passages of the session's documents a question drew on (until the generated types
 * carry `sources`, read through a hand-written shape). */
function Sources({ question }: { question: Question }) {
  const sources = (question as Question & { sources?: Source[] }).sources ?? [];
  if (sources.length === 0) return null;
  return (
    <p className="muted" aria-label="Sources">
      Drawn from:{" "}
      {sources.map((s) => [s.title || s.source, ...s.heading_path].join(" › ")).join("; ")}
    </p>
  );
}

function Ask({ question, act }: { question: Question; act: (path: string, body?: unknown) => Promise<void> }) {
  const [choice, setChoice] = useState(question.recommended ?? "");
  const [text, setText] = useState("");
  const answer = question.kind === "choice" && !text.trim() ? choice : text;
  return (
    <form className="scoping-ask" aria-label="Question" onSubmit={(event) => event.preventDefault()}>
      <p>
        <strong>{question.text}</strong>
      </p>
      {question.rationale ? <p className="muted">{question.rationale}</p> : null}
      <Sources question={question} />
      {question.choices.map((option) => (
        <label key={option} className="scoping-choice">
          <input type="radio" name={question.id} value={option} checked={choice === option} onChange={() => setChoice(option)} />{" "}
          {option}
          {option === question.recommended ? <span className="muted"> (recommended)</span> : null}
        </label>
      ))}
      <label>
        {question.kind === "choice" ? "Or in your own words" : "Your answer"}{" "}
        <textarea value={text} onChange={(event) => setText(event.target.value)} rows={2} />
      </label>
      <div>
        <ActionButton disabled={!answer.trim()} onAction={() => act("answer", { question_id: question.id, answer })}>
          Answer
        </ActionButton>{" "}
        <ActionButton onAction={() => act("skip", { question_id: question.id })}>Skip</ActionButton>
      </div>
    </form>
  );
}
