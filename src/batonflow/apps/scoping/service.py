"""The scoping session's rules: opening a stage, answering, skipping, finishing, going back,
resuming after a failure, and writing the charter. Work that needs a model runs as a workflow
run on the durable engine (a stage execution: `scoping-question` or `scoping-analysis`; the
charter: `scoping-charter`), so a model failure is retried there and never loses an answer:
answers are committed as they are given, before any run starts.

What a finished run produced is taken into the session's tables by `settle`, the first time
anyone looks at the session after the run ended (any process may do it, exactly once).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from batonflow.apps.scoping import documents, limits, records, sessions, views
from batonflow.apps.scoping import versions as charter_store
from batonflow.apps.scoping.agents import PROMPTS
from batonflow.apps.scoping.charter import Charter, LogEntry
from batonflow.apps.scoping.sessions import Viewer
from batonflow.apps.scoping.settings import ScopingSettings
from batonflow.apps.scoping.stages import STAGE_COUNT, stage
from batonflow.auth.ratelimit import RateLimiter
from batonflow.errors import Conflict, RateLimited
from batonflow.runs.service import Actor, start_run
from batonflow.store import workflows as workflow_store
from batonflow.store.db import Conn

T = TypeVar("T")
Work = Callable[[Conn], Awaitable[T]]


@dataclass(frozen=True)
class Host:
    """What the service uses of the process it runs in (the API or the CLI)."""

    write: Callable[[Work[Any]], Awaitable[Any]]
    read: Callable[[Work[Any]], Awaitable[Any]]
    limiter: RateLimiter
    settings: ScopingSettings
    wake: Callable[[], None]  # tell the executors a run was queued
    max_active_runs: int | None = None

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Next:
    """What a stage needs next: a question, or an analysis of these stages."""

    kind: str
    stages: list[int]


async def _state(conn: Conn, tenant_id: str, session_id: str) -> tuple[Any, ...]:
    return (
        await records.stage_rows(conn, tenant_id, session_id),
        await records.questions(conn, tenant_id, session_id),
        await records.executions(conn, tenant_id, session_id),
        await records.analyses(conn, tenant_id, session_id),
    )


# -- settling finished runs ------------------------------------------------------------------


async def settle(conn: Conn, tenant_id: str, session_id: str, now: datetime) -> None:
    """Take what the session's finished runs produced into its tables, once each."""
    for execution in await records.executions(conn, tenant_id, session_id):
        if execution["status"] != "running" or execution["run_status"] in limits.ACTIVE:
            continue
        run = await records.run_result(conn, tenant_id, execution["run_id"])
        ok = run["status"] == "succeeded"
        error = None if ok else (run["error"] or {"message": f"the run was {run['status']}"})
        if not await records.settle_execution(
            conn, tenant_id, execution["run_id"], "succeeded" if ok else "failed", error, now
        ):
            continue
        if ok:
            await _take(conn, tenant_id, session_id, execution, run, now)


async def _take(
    conn: Conn,
    tenant_id: str,
    session_id: str,
    execution: dict[str, Any],
    run: dict[str, Any],
    now: datetime,
) -> None:
    outputs, run_id = run["outputs"] or {}, execution["run_id"]
    if execution["kind"] == "question":
        number = execution["stages"][0]
        question = outputs["question"]
        if question["done"]:
            await records.set_stage(conn, tenant_id, session_id, number, now, agent_done=True)
            return
        asked = await records.questions(conn, tenant_id, session_id)
        seq = 1 + sum(1 for q in asked if q["stage"] == number)
        await records.add_question(conn, tenant_id, session_id, number, seq, question, run_id, now)
    elif execution["kind"] == "analysis":
        for analysis in outputs["analyses"]:
            await records.add_analysis(
                conn, tenant_id, session_id, analysis["stage"], analysis, run_id, now
            )
    else:
        inputs = (await records.run_inputs(conn, tenant_id, run_id)) or {}
        written = outputs["charter"]
        log = [
            LogEntry(stage=s["number"], stage_title=stage(s["number"]).title, **qa)
            for s in inputs.get("stages", [])
            for qa in s["qa"]
        ]
        body = Charter(title=inputs["title"], qa_log=log, **written["charter"])
        await charter_store.add(
            conn,
            tenant_id,
            session_id,
            body.model_dump(mode="json"),
            model=written["model"],
            prompts=dict(PROMPTS),
            run_id=run_id,
            created_by=execution["user_id"],
            now=now,
        )


async def sync(host: Host, tenant_id: str, session_id: str) -> None:
    """Settle the session's finished runs, if it has any (one read when it has none)."""
    found = await host.read(lambda conn: records.executions(conn, tenant_id, session_id))
    if any(e["status"] == "running" and e["run_status"] not in limits.ACTIVE for e in found):
        await host.write(lambda conn: settle(conn, tenant_id, session_id, host.now()))


async def view(host: Host, viewer: Viewer, session_id: str) -> dict[str, Any]:
    """The session with its five stages, as the viewer may see it."""
    await host.read(lambda conn: sessions.find(conn, viewer, session_id))
    await sync(host, viewer.tenant_id, session_id)

    async def work(conn: Conn) -> dict[str, Any]:
        session, access = await sessions.find(conn, viewer, session_id)
        rows, questions, executions, analyses = await _state(conn, viewer.tenant_id, session_id)
        stages = [
            views.stage_view(rows, questions, executions, analyses, n)
            for n in range(1, STAGE_COUNT + 1)
        ]
        charters = await charter_store.listing(conn, viewer.tenant_id, session_id)
        running = [e for e in executions if e["status"] == "running"]
        return {
            **session,
            "access": access,
            "stages": stages,
            "progress": views.progress(stages),
            "running": views.execution_view(running[-1] if running else None),
            "charter_version": charters[-1]["version"] if charters else None,
            "workflow": views.workflow_view(stages, executions, len(charters)),
            "shares": await sessions.shares_of(conn, viewer.tenant_id, session_id),
        }

    result: dict[str, Any] = await host.read(work)
    return result


# -- starting executions ---------------------------------------------------------------------


def _earlier(questions: list[dict[str, Any]], before: int) -> list[dict[str, Any]]:
    return [{"number": n, "qa": views.qa_of(questions, n)} for n in range(1, before)]


async def _inputs(
    conn: Conn, tenant_id: str, session: dict[str, Any], nxt: Next, model: str
) -> tuple[str, dict[str, Any]]:
    questions = await records.questions(conn, tenant_id, session["id"])
    knowledge_base = await documents.searchable(conn, tenant_id, session)
    if nxt.kind == "question":
        number = nxt.stages[0]
        asked = [
            {"question": q["text"], "answer": q["answer"]["text"] if q["answer"] else None}
            for q in questions
            if q["stage"] == number
        ]
        return "scoping-question", {
            "session_id": session["id"],
            "title": session["title"],
            "stage": number,
            "earlier": _earlier(questions, number),
            "asked": asked,
            "model": model,
            "knowledge_base": knowledge_base,
        }
    if nxt.kind == "analysis":
        items = [
            {
                "title": session["title"],
                "stage": n,
                "earlier": _earlier(questions, n),
                "qa": views.qa_of(questions, n),
                "model": model,
            }
            for n in nxt.stages
        ]
        return "scoping-analysis", {
            "session_id": session["id"],
            "items": items,
            "knowledge_base": knowledge_base,
        }
    analyses = await records.analyses(conn, tenant_id, session["id"])
    briefs = []
    for n in range(1, STAGE_COUNT + 1):
        latest = views.latest_analysis(analyses, n)
        summary = latest["body"]["summary"] if latest else ""
        briefs.append({"number": n, "qa": views.qa_of(questions, n), "summary": summary})
    return "scoping-charter", {
        "session_id": session["id"],
        "title": session["title"],
        "stages": briefs,
        "model": model,
    }


async def start(host: Host, viewer: Viewer, session_id: str, nxt: Next) -> str:
    """Start an execution as `viewer`, within the limits; its run id."""
    tenant_id, user_id = viewer.tenant_id, viewer.user_id
    counted = nxt.kind != "charter"
    if counted:
        mine = await host.read(lambda conn: limits.for_tenant(conn, tenant_id, host.settings))
        await host.read(
            lambda conn: limits.check_running(conn, tenant_id, user_id, mine.user_concurrent)
        )
        await limits.count_hourly(host.limiter, mine, tenant_id, user_id)

    async def work(conn: Conn) -> str:
        session = await sessions.editable(conn, viewer, session_id)
        running = [
            e
            for e in await records.executions(conn, tenant_id, session_id)
            if e["status"] == "running" and e["run_status"] in limits.ACTIVE
        ]
        if running:
            raise Conflict(
                f"the session is already running a {running[-1]['kind']} (run "
                f"{running[-1]['run_id']}); wait for it to finish",
                details={"run_id": running[-1]["run_id"]},
            )
        workflow, inputs = await _inputs(conn, tenant_id, session, nxt, host.settings.model or "")
        version = await workflow_store.get_version(conn, tenant_id, workflow)
        run = await start_run(
            conn,
            tenant_id=tenant_id,
            version=version,
            inputs=inputs,
            actor=Actor(viewer.name, frozenset()),
            now=host.now(),
            ctx={"scoping_session": session_id},
            max_active_runs=host.max_active_runs,
            # The run holds the session's answers: private to its owner, as the session is
            # (whoever of the session's editors started it); the others follow it here.
            private_to=session["owner_id"],
        )
        if counted:
            await limits.take_slot(conn, tenant_id, user_id, run.id, mine.user_concurrent)
        await records.add_execution(
            conn, tenant_id, session_id, run.id, nxt.kind, nxt.stages, user_id, host.now()
        )
        return run.id

    try:
        run_id: str = await host.write(work)
    except Conflict as lost:
        if counted and "slot" in lost.message:
            raise limits.refusal_of_lost_race(mine.user_concurrent) from None
        raise
    host.wake()
    return run_id


async def start_after_commit(
    host: Host, viewer: Viewer, session_id: str, nxt: Next | None, saved: str | None = None
) -> None:
    """Start what a committed change calls for; a refusal says what was `saved` all the same."""
    if nxt is None:
        return
    try:
        await start(host, viewer, session_id, nxt)
    except RateLimited as refused:
        if saved is not None:
            refused.message = (
                f"{saved}, but the stage's next step was not started: {refused.message}; "
                "then resume the stage"
            )
            refused.details["saved"] = True
        raise
