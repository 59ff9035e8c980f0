"""The stages of a session in the API: open (or go back to) a stage, answer, skip, say done,
resume; the analyses and the Q -> A log; and the session's progress as Server-Sent Events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any, cast

from fastapi import APIRouter, Query

from batonflow.api.deps import ApiState, State
from batonflow.api.routes.events import EventStream
from batonflow.apps.scoping import actions, records, service, sessions, views
from batonflow.apps.scoping.routes import Reader, Writer, host, session_of
from batonflow.apps.scoping.schemas import (
    Analysis,
    AnalysisList,
    AnswerIn,
    LogItem,
    QALog,
    SkipIn,
    Stage,
    Started,
)
from batonflow.apps.scoping.sessions import Viewer
from batonflow.apps.scoping.stages import STAGE_COUNT
from batonflow.errors import NotFound
from batonflow.store.db import Conn

router = APIRouter(tags=["scoping"])
STAGE = "/sessions/{session_id}/stages/{number}"
KEEPALIVE_SECONDS = 15.0


async def _stage(state: ApiState, caller: Any, session_id: str, number: int) -> Stage:
    if not 1 <= number <= STAGE_COUNT:
        raise NotFound(f"a session has stages 1 to {STAGE_COUNT}, not {number}")
    session = await session_of(state, caller, session_id)
    return session.stages[number - 1]


@router.get(STAGE, response_model=Stage)
async def get_stage(state: State, caller: Reader, session_id: str, number: int) -> Stage:
    """A stage: its status, its questions with their answers (the pending one first to answer),
    its latest analysis and its last execution."""
    return await _stage(state, caller, session_id, number)


@router.post(STAGE + "/open", response_model=Stage)
async def open_stage(state: State, caller: Writer, session_id: str, number: int) -> Stage:
    """Reach the next stage (its first question is asked), or go back to an earlier one to
    change its answers: the later stages are marked stale, and analysed again when it is done."""
    await actions.open_stage(host(state), Viewer.of(caller), session_id, number)
    return await _stage(state, caller, session_id, number)


@router.post(STAGE + "/answer", response_model=Stage)
async def answer(
    state: State, caller: Writer, session_id: str, number: int, body: AnswerIn
) -> Stage:
    """Answer a question (the pending one, or change an earlier answer while the stage is
    open). The answer is committed first; then the next question is asked, or, after the
    last one, the stage is analysed."""
    viewer = Viewer.of(caller)
    await actions.answer(host(state), viewer, session_id, number, body.question_id, body.answer)
    return await _stage(state, caller, session_id, number)


@router.post(STAGE + "/skip", response_model=Stage)
async def skip(state: State, caller: Writer, session_id: str, number: int, body: SkipIn) -> Stage:
    """Skip a question (kept in the log as skipped)."""
    viewer = Viewer.of(caller)
    await actions.answer(host(state), viewer, session_id, number, body.question_id, None)
    return await _stage(state, caller, session_id, number)


@router.post(STAGE + "/done", response_model=Stage)
async def done(state: State, caller: Writer, session_id: str, number: int) -> Stage:
    """Finish the stage: it is analysed (with any later stage marked stale)."""
    await actions.done(host(state), Viewer.of(caller), session_id, number)
    return await _stage(state, caller, session_id, number)


@router.post(STAGE + "/resume", response_model=Started, status_code=201)
async def resume(state: State, caller: Writer, session_id: str, number: int) -> Started:
    """Run again what the stage waits for, after a failed run or a refusal by a limit."""
    run_id = await actions.resume(host(state), Viewer.of(caller), session_id, number)
    return Started(run_id=run_id)


@router.get(STAGE + "/analyses", response_model=AnalysisList)
async def analyses(state: State, caller: Reader, session_id: str, number: int) -> AnalysisList:
    """Every analysis of the stage, oldest first (earlier ones are kept when it is analysed
    again)."""
    viewer = Viewer.of(caller)

    async def work(conn: Conn) -> list[dict[str, Any]]:
        await sessions.find(conn, viewer, session_id)
        return await records.analyses(conn, viewer.tenant_id, session_id)

    await service.sync(host(state), viewer.tenant_id, session_id)
    rows = await state.query(work)
    return AnalysisList(
        items=[
            Analysis.model_validate(views.analysis_view(a)) for a in rows if a["stage"] == number
        ]
    )


@router.get("/sessions/{session_id}/log", response_model=QALog)
async def qa_log(state: State, caller: Reader, session_id: str) -> QALog:
    """Every answer ever given in the session, in order, with its question (the Q -> A log)."""
    viewer = Viewer.of(caller)

    async def work(conn: Conn) -> list[LogItem]:
        await sessions.find(conn, viewer, session_id)
        asked = {q["id"]: q for q in await records.questions(conn, viewer.tenant_id, session_id)}
        return [
            LogItem(
                stage=asked[a["question_id"]]["stage"],
                question_id=a["question_id"],
                question=asked[a["question_id"]]["text"],
                answer=a["text"],
                skipped=a["skipped"],
                by=a["by_name"],
                at=a["answered_at"],
            )
            for a in await records.answers(conn, viewer.tenant_id, session_id)
        ]

    return QALog(items=await state.query(work))


def _frame(kind: str, data: str) -> bytes:
    return f"event: {kind}\ndata: {data}\n\n".encode()


async def _progress(
    state: ApiState, caller: Any, session_id: str, follow: bool
) -> AsyncIterator[bytes]:
    last = ""
    quiet = 0.0
    async with state.bus.subscribe() as queue:
        while True:
            session = await session_of(state, caller, session_id)
            body = session.model_dump_json()
            if body != last:
                last, quiet = body, 0.0
                yield _frame("session", body)
            if not follow:
                return
            running = session.running.run_id if session.running else None
            try:
                event = await asyncio.wait_for(queue.get(), state.settings.poll_seconds * 4)
            except TimeoutError:
                quiet += state.settings.poll_seconds * 4
                if quiet >= KEEPALIVE_SECONDS:
                    quiet = 0.0
                    yield b": keepalive\n\n"
                continue
            while True:  # everything already queued, deltas of the running run passed on
                if event.run_id == running and event.type == "llm.delta":
                    yield _frame("delta", json.dumps(event.data))
                if queue.empty():
                    break
                event = queue.get_nowait()


class SessionStream(EventStream):
    """`text/event-stream` of ready frames, let go of when the client hangs up (as a run's)."""

    async def _frames(self) -> AsyncGenerator[bytes, None]:
        frames = cast(AsyncGenerator[bytes, None], self.items)
        async with aclosing(frames):
            async for frame in frames:
                yield frame


@router.get(
    "/sessions/{session_id}/events",
    response_class=SessionStream,
    status_code=200,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
    summary="Follow a session's progress (Server-Sent Events)",
)
async def session_events(
    state: State,
    caller: Reader,
    session_id: str,
    follow: Annotated[bool, Query(description="false: send the session once and end")] = True,
) -> SessionStream:
    """A `session` frame (the whole session, as `GET /sessions/{id}`) now and whenever it
    changes (a question asked, a stage analysed, a run failed), and `delta` frames with the
    model's text as the running stage writes it (`data` as in a run's `llm.delta`)."""
    await session_of(state, caller, session_id)  # 404 before the stream starts
    return SessionStream(_progress(state, caller, session_id, follow))  # type: ignore[arg-type]
