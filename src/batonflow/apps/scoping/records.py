"""What happens inside a session, as rows: its stages, the questions asked and every answer
given (the Q -> A log), the stage executions (runs) and the analyses they wrote. Functions take
the tenant id; access is checked by the caller (`sessions.find`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from batonflow.apps.scoping import tables as t
from batonflow.ids import new_id
from batonflow.store.db import Conn
from batonflow.store.tables import Run, table

runs_t = table(Run)


def _of(table: sa.Table, tenant_id: str, session_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(table.c.tenant_id == tenant_id, table.c.session_id == session_id)


async def stage_rows(conn: Conn, tenant_id: str, session_id: str) -> dict[int, dict[str, Any]]:
    rows = await conn.execute(sa.select(t.stages).where(_of(t.stages, tenant_id, session_id)))
    return {row.number: dict(row._mapping) for row in rows}


async def open_stage(
    conn: Conn, tenant_id: str, session_id: str, number: int, now: datetime
) -> None:
    await conn.execute(
        sa.insert(t.stages).values(
            session_id=session_id,
            number=number,
            tenant_id=tenant_id,
            done=False,
            agent_done=False,
            opened_at=now,
            updated_at=now,
        )
    )


async def set_stage(
    conn: Conn, tenant_id: str, session_id: str, number: int, now: datetime, **values: Any
) -> None:
    await conn.execute(
        sa.update(t.stages)
        .where(_of(t.stages, tenant_id, session_id), t.stages.c.number == number)
        .values(updated_at=now, **values)
    )


async def questions(conn: Conn, tenant_id: str, session_id: str) -> list[dict[str, Any]]:
    """Every question of the session in the order asked, each with its latest answer (None
    while unanswered) and how many answers it has had."""
    rows = await conn.execute(
        sa.select(t.questions)
        .where(_of(t.questions, tenant_id, session_id))
        .order_by(t.questions.c.stage, t.questions.c.seq)
    )
    found = [dict(row._mapping) for row in rows]
    history = await answers(conn, tenant_id, session_id)
    for question in found:
        given = [a for a in history if a["question_id"] == question["id"]]
        question["answers"] = len(given)
        question["answer"] = given[-1] if given else None
    return found


async def answers(conn: Conn, tenant_id: str, session_id: str) -> list[dict[str, Any]]:
    """Every answer ever given in the session, in the order given."""
    rows = await conn.execute(
        sa.select(t.answers).where(_of(t.answers, tenant_id, session_id)).order_by(t.answers.c.id)
    )
    return [dict(row._mapping) for row in rows]


async def add_question(
    conn: Conn,
    tenant_id: str,
    session_id: str,
    stage: int,
    seq: int,
    question: dict[str, Any],
    run_id: str,
    now: datetime,
) -> None:
    await conn.execute(
        sa.insert(t.questions).values(
            id=new_id(),
            tenant_id=tenant_id,
            session_id=session_id,
            stage=stage,
            seq=seq,
            text=question["text"],
            kind=question["kind"],
            choices=question["choices"],
            recommended=question["recommended"],
            rationale=question["rationale"],
            run_id=run_id,
            asked_at=now,
            sources=question.get("sources", []),
        )
    )


async def add_answer(
    conn: Conn,
    tenant_id: str,
    session_id: str,
    question_id: str,
    text: str | None,
    by: tuple[str, str],
    now: datetime,
) -> None:
    await conn.execute(
        sa.insert(t.answers).values(
            tenant_id=tenant_id,
            session_id=session_id,
            question_id=question_id,
            text=text,
            skipped=text is None,
            by_id=by[0],
            by_name=by[1],
            answered_at=now,
        )
    )


async def executions(conn: Conn, tenant_id: str, session_id: str) -> list[dict[str, Any]]:
    """The session's executions, oldest first, each with its run's status now."""
    rows = await conn.execute(
        sa.select(t.executions, runs_t.c.status.label("run_status"))
        .join(
            runs_t,
            sa.and_(runs_t.c.id == t.executions.c.run_id, runs_t.c.tenant_id == tenant_id),
        )
        .where(_of(t.executions, tenant_id, session_id))
        .order_by(t.executions.c.created_at, t.executions.c.run_id)
    )
    return [dict(row._mapping) for row in rows]


async def add_execution(
    conn: Conn,
    tenant_id: str,
    session_id: str,
    run_id: str,
    kind: str,
    stages: list[int],
    user_id: str,
    now: datetime,
) -> None:
    await conn.execute(
        sa.insert(t.executions).values(
            run_id=run_id,
            tenant_id=tenant_id,
            session_id=session_id,
            kind=kind,
            stages=stages,
            user_id=user_id,
            status="running",
            error=None,
            created_at=now,
            settled_at=None,
        )
    )


async def settle_execution(
    conn: Conn,
    tenant_id: str,
    run_id: str,
    status: str,
    error: dict[str, Any] | None,
    now: datetime,
) -> bool:
    """Mark an execution settled; False when another request settled it first."""
    result = await conn.execute(
        sa.update(t.executions)
        .where(
            t.executions.c.tenant_id == tenant_id,
            t.executions.c.run_id == run_id,
            t.executions.c.status == "running",
        )
        .values(status=status, error=error, settled_at=now)
    )
    return bool(result.rowcount)


async def run_result(conn: Conn, tenant_id: str, run_id: str) -> dict[str, Any]:
    row = (
        await conn.execute(
            sa.select(runs_t.c.status, runs_t.c.outputs, runs_t.c.error).where(
                runs_t.c.tenant_id == tenant_id, runs_t.c.id == run_id
            )
        )
    ).one()
    return dict(row._mapping)


async def analyses(conn: Conn, tenant_id: str, session_id: str) -> list[dict[str, Any]]:
    """Every analysis version of the session, by stage then version."""
    rows = await conn.execute(
        sa.select(t.analyses)
        .where(_of(t.analyses, tenant_id, session_id))
        .order_by(t.analyses.c.stage, t.analyses.c.version)
    )
    return [dict(row._mapping) for row in rows]


async def add_analysis(
    conn: Conn,
    tenant_id: str,
    session_id: str,
    stage: int,
    body: dict[str, Any],
    run_id: str,
    now: datetime,
) -> int:
    latest = await conn.scalar(
        sa.select(sa.func.max(t.analyses.c.version)).where(
            _of(t.analyses, tenant_id, session_id), t.analyses.c.stage == stage
        )
    )
    version = int(latest or 0) + 1
    await conn.execute(
        sa.insert(t.analyses).values(
            session_id=session_id,
            stage=stage,
            version=version,
            tenant_id=tenant_id,
            body=body,
            stale=False,
            model=body.get("model", ""),
            run_id=run_id,
            created_at=now,
        )
    )
    return version


async def mark_stale(conn: Conn, tenant_id: str, session_id: str, after_stage: int) -> list[int]:
    """Mark the latest analysis of every stage after `after_stage` stale; the stages marked."""
    rows = await conn.execute(
        sa.select(t.analyses.c.stage, sa.func.max(t.analyses.c.version).label("latest"))
        .where(_of(t.analyses, tenant_id, session_id), t.analyses.c.stage > after_stage)
        .group_by(t.analyses.c.stage)
    )
    marked = []
    for row in rows.mappings().all():
        stage, version = row["stage"], row["latest"]
        await conn.execute(
            sa.update(t.analyses)
            .where(
                _of(t.analyses, tenant_id, session_id),
                t.analyses.c.stage == stage,
                t.analyses.c.version == version,
            )
            .values(stale=True)
        )
        marked.append(int(stage))
    return sorted(marked)


async def run_inputs(conn: Conn, tenant_id: str, run_id: str) -> dict[str, Any] | None:
    value = await conn.scalar(
        sa.select(runs_t.c.inputs).where(runs_t.c.tenant_id == tenant_id, runs_t.c.id == run_id)
    )
    return None if value is None else dict(value)
