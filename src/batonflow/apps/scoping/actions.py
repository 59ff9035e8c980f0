"""What a person does in a session's stages: open (or go back to) a stage, answer, skip, say
done, resume after a refusal or a failure, and ask for the charter. Each commits what the
person did first, then starts what it calls for (`service.start_after_commit`)."""

from __future__ import annotations

from typing import Any

from batonflow.apps.scoping import limits, records, sessions, views
from batonflow.apps.scoping.service import Host, Next, start, start_after_commit, sync
from batonflow.apps.scoping.sessions import Viewer
from batonflow.apps.scoping.stages import QUESTION_BUDGET, STAGE_COUNT
from batonflow.errors import Conflict, InvalidInput, NotFound
from batonflow.store.db import Conn


def _check(number: int) -> None:
    if not 1 <= number <= STAGE_COUNT:
        raise NotFound(f"a session has stages 1 to {STAGE_COUNT}, not {number}")


async def _loaded(conn: Conn, viewer: Viewer, session_id: str) -> tuple[Any, ...]:
    session = await sessions.editable(conn, viewer, session_id)
    tenant_id = viewer.tenant_id
    rows = await records.stage_rows(conn, tenant_id, session_id)
    questions = await records.questions(conn, tenant_id, session_id)
    executions = await records.executions(conn, tenant_id, session_id)
    analyses = await records.analyses(conn, tenant_id, session_id)
    return session, rows, questions, executions, analyses


def _reached(rows: dict[int, dict[str, Any]], number: int) -> dict[str, Any]:
    row = rows.get(number)
    if row is None:
        raise Conflict(f"stage {number} is not open yet")
    return row


def _not_running(executions: list[dict[str, Any]], number: int) -> None:
    last = views.last_execution(executions, number)
    if last is not None and last["status"] == "running" and last["run_status"] in limits.ACTIVE:
        raise Conflict(
            f"stage {number} is running a {last['kind']} (run {last['run_id']}); wait for it",
            details={"run_id": last["run_id"]},
        )


def _stale_after(analyses: list[dict[str, Any]], number: int) -> list[int]:
    return [
        n
        for n in range(number + 1, STAGE_COUNT + 1)
        if (latest := views.latest_analysis(analyses, n)) is not None and latest["stale"]
    ]


def _after_answers(
    row: dict[str, Any], questions: list[dict[str, Any]], analyses: list[dict[str, Any]], n: int
) -> Next | None:
    """What an open stage needs once its pending question is answered."""
    asked = sum(1 for q in questions if q["stage"] == n)
    if asked >= QUESTION_BUDGET:
        return Next("analysis", [n, *_stale_after(analyses, n)])
    if row["agent_done"]:
        return None
    return Next("question", [n])


async def open_stage(host: Host, viewer: Viewer, session_id: str, number: int) -> None:
    """Reach the next stage (its first question is asked), or go back to an earlier one to
    change answers: the stages after it are marked stale, to be analysed again."""
    _check(number)
    await sync(host, viewer.tenant_id, session_id)

    async def work(conn: Conn) -> Next | None:
        _, rows, questions, executions, analyses = await _loaded(conn, viewer, session_id)
        now, tenant_id = host.now(), viewer.tenant_id
        if number not in rows:
            reached = max(rows)
            before = views.status(rows.get(number - 1), questions, executions, analyses, number - 1)
            if number != reached + 1 or before != "analysed":
                raise Conflict(
                    f"stage {number} opens once stage {number - 1} is analysed "
                    f"(stage {reached} is the last one reached)"
                )
            await records.open_stage(conn, tenant_id, session_id, number, now)
            return Next("question", [number])
        _not_running(executions, number)
        if rows[number]["done"]:
            await records.set_stage(conn, tenant_id, session_id, number, now, done=False)
            await records.mark_stale(conn, tenant_id, session_id, number)
        if not any(q["stage"] == number for q in questions):
            return Next("question", [number])
        return None

    await start_after_commit(host, viewer, session_id, await host.write(work))


async def answer(
    host: Host, viewer: Viewer, session_id: str, number: int, question_id: str, text: str | None
) -> None:
    """Answer a question of an open stage (or change an earlier answer; `None` skips it). The
    answer is committed before anything else happens."""
    _check(number)
    if text is not None and not text.strip():
        raise InvalidInput("an answer needs some text; skip the question instead")
    await sync(host, viewer.tenant_id, session_id)

    async def work(conn: Conn) -> Next | None:
        _, rows, questions, _executions, analyses = await _loaded(conn, viewer, session_id)
        row = _reached(rows, number)
        if row["done"]:
            raise Conflict(f"stage {number} is done; open it again (go back) to change its answers")
        question = next((q for q in questions if q["id"] == question_id), None)
        if question is None or question["stage"] != number:
            raise NotFound(f"stage {number} has no question '{question_id}'")
        was_pending = question["answer"] is None
        await records.add_answer(
            conn,
            viewer.tenant_id,
            session_id,
            question_id,
            None if text is None else text.strip(),
            (viewer.user_id, viewer.name),
            host.now(),
        )
        if not was_pending:
            return None
        nxt = _after_answers(row, questions, analyses, number)
        if nxt is not None and nxt.kind == "analysis":  # the budget is spent: the stage is done
            await records.set_stage(
                conn, viewer.tenant_id, session_id, number, host.now(), done=True
            )
        return nxt

    await start_after_commit(
        host, viewer, session_id, await host.write(work), "your answer was saved"
    )


async def done(host: Host, viewer: Viewer, session_id: str, number: int) -> None:
    """Finish a stage: it is analysed, with every later stage marked stale."""
    _check(number)
    await sync(host, viewer.tenant_id, session_id)

    async def work(conn: Conn) -> Next:
        _, rows, _questions, executions, analyses = await _loaded(conn, viewer, session_id)
        row = _reached(rows, number)
        _not_running(executions, number)
        if row["done"]:
            raise Conflict(f"stage {number} is already done; open it again to change it")
        await records.set_stage(conn, viewer.tenant_id, session_id, number, host.now(), done=True)
        return Next("analysis", [number, *_stale_after(analyses, number)])

    await start_after_commit(
        host, viewer, session_id, await host.write(work), "the stage is marked done"
    )


async def resume(host: Host, viewer: Viewer, session_id: str, number: int) -> str:
    """Run again what a stage waits for (after a failed run, or a refusal by a limit)."""
    _check(number)
    await sync(host, viewer.tenant_id, session_id)

    async def work(conn: Conn) -> Next:
        _, rows, questions, executions, analyses = await _loaded(conn, viewer, session_id)
        row = _reached(rows, number)
        _not_running(executions, number)
        status = views.status(row, questions, executions, analyses, number)
        if row["done"] or status == "stale":
            return Next("analysis", [number, *_stale_after(analyses, number)])
        if views.pending(questions, number) is not None:
            raise Conflict(f"stage {number} waits for an answer, not for a run")
        nxt = _after_answers(row, questions, analyses, number)
        if nxt is None:
            raise Conflict(f"stage {number} has no more questions; say done to analyse it")
        return nxt

    nxt = await host.read(work)
    return await start(host, viewer, session_id, nxt)


async def write_charter(host: Host, viewer: Viewer, session_id: str) -> str:
    """Start writing a new charter version from the five analysed stages."""
    await sync(host, viewer.tenant_id, session_id)

    async def work(conn: Conn) -> None:
        _, rows, questions, executions, analyses = await _loaded(conn, viewer, session_id)
        unready = [
            n
            for n in range(1, STAGE_COUNT + 1)
            if views.status(rows.get(n), questions, executions, analyses, n) != "analysed"
        ]
        if unready:
            raise Conflict(
                "the charter is written once every stage is analysed; not yet: stage "
                + ", ".join(map(str, unready)),
                details={"stages": unready},
            )

    await host.read(work)
    return await start(host, viewer, session_id, Next("charter", []))
