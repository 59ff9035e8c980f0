"""Pipelines and their ordered stages. A tenant may have several pipelines; one is its default,
made on first use with the usual stages. A stage has a kind (open, won or lost), a probability
(0 to 100) and the deal fields a deal needs to enter it (from `REQUIRED_FIELDS`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from batonflow.apps.sales import companies
from batonflow.apps.sales import tables as t
from batonflow.errors import Conflict, InvalidInput, NotFound
from batonflow.ids import new_id
from batonflow.store.db import Conn

KINDS = ("open", "won", "lost")
REQUIRED_FIELDS = ("amount", "close_date", "contact_id", "lines", "owner")
DEFAULT_NAME = "Sales"
DEFAULT_STAGES: tuple[dict[str, Any], ...] = (
    {"name": "Qualification", "kind": "open", "probability": 10, "required_fields": []},
    {"name": "Proposal", "kind": "open", "probability": 30, "required_fields": ["contact_id"]},
    {
        "name": "Negotiation",
        "kind": "open",
        "probability": 60,
        "required_fields": ["contact_id", "lines"],
    },
    {
        "name": "Contract",
        "kind": "open",
        "probability": 80,
        "required_fields": ["amount", "close_date", "contact_id", "lines"],
    },
    {
        "name": "Won",
        "kind": "won",
        "probability": 100,
        "required_fields": ["amount", "close_date", "contact_id"],
    },
    {"name": "Lost", "kind": "lost", "probability": 0, "required_fields": []},
)


def check_stages(stages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stages, cleaned; `InvalidInput` naming the first problem by stage number."""
    if not stages:
        raise InvalidInput("a pipeline needs at least one stage")
    cleaned: list[dict[str, Any]] = []
    for number, stage in enumerate(stages, 1):
        where = f"stage {number}"
        stage_name = companies.name(stage["name"], f"{where} name", 100)
        if stage["kind"] not in KINDS:
            raise InvalidInput(f"{where}: kind is one of {', '.join(KINDS)}")
        if not 0 <= stage["probability"] <= 100:
            raise InvalidInput(f"{where}: probability is 0 to 100")
        unknown = [f for f in stage["required_fields"] if f not in REQUIRED_FIELDS]
        if unknown:
            raise InvalidInput(
                f"{where}: {', '.join(unknown)} cannot be required; "
                f"pick from {', '.join(REQUIRED_FIELDS)}"
            )
        required = list(dict.fromkeys(stage["required_fields"]))
        cleaned.append(stage | {"name": stage_name, "required_fields": required})
    names = [s["name"].lower() for s in cleaned]
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise InvalidInput(f"stage names are unique in a pipeline; {', '.join(doubled)} repeats")
    if not any(s["kind"] == "open" for s in cleaned):
        raise InvalidInput("a pipeline needs at least one open stage")
    return cleaned


async def _stages(conn: Conn, tenant_id: str, pipeline_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(t.stages)
        .where(t.stages.c.tenant_id == tenant_id, t.stages.c.pipeline_id == pipeline_id)
        .order_by(t.stages.c.position)
    )
    return [dict(row._mapping) for row in rows]


async def _insert_stage(
    conn: Conn, tenant_id: str, pipeline_id: str, position: int, stage: dict[str, Any]
) -> None:
    await conn.execute(
        t.stages.insert().values(
            id=new_id(),
            tenant_id=tenant_id,
            pipeline_id=pipeline_id,
            position=position,
            name=stage["name"],
            kind=stage["kind"],
            probability=stage["probability"],
            required_fields=stage["required_fields"],
        )
    )


async def create_pipeline(
    conn: Conn,
    tenant_id: str,
    *,
    name: str,
    stages: list[dict[str, Any]],
    is_default: bool = False,
    now: datetime,
) -> dict[str, Any]:
    """A new pipeline with its stages in order; the tenant's first is its default."""
    cleaned_name = companies.name(name, "pipeline name")
    cleaned = check_stages(stages)
    taken = await conn.scalar(
        sa.select(t.pipelines.c.id).where(
            t.pipelines.c.tenant_id == tenant_id, t.pipelines.c.name == cleaned_name
        )
    )
    if taken is not None:
        raise Conflict(f"a pipeline named '{cleaned_name}' exists ({taken}); pick another name")
    first = await conn.scalar(
        sa.select(sa.func.count()).where(t.pipelines.c.tenant_id == tenant_id)
    )
    if is_default:
        await _clear_default(conn, tenant_id)
    pipeline_id = new_id()
    await conn.execute(
        t.pipelines.insert().values(
            id=pipeline_id,
            tenant_id=tenant_id,
            name=cleaned_name,
            is_default=is_default or not first,
            created_at=now,
        )
    )
    for position, stage in enumerate(cleaned):
        await _insert_stage(conn, tenant_id, pipeline_id, position, stage)
    return await get_pipeline(conn, tenant_id, pipeline_id)


async def _clear_default(conn: Conn, tenant_id: str) -> None:
    await conn.execute(
        t.pipelines.update().where(t.pipelines.c.tenant_id == tenant_id).values(is_default=False)
    )


async def get_pipeline(conn: Conn, tenant_id: str, pipeline_id: str) -> dict[str, Any]:
    """The pipeline with its `stages` in order."""
    row = (
        await conn.execute(
            sa.select(t.pipelines).where(
                t.pipelines.c.tenant_id == tenant_id, t.pipelines.c.id == pipeline_id
            )
        )
    ).first()
    if row is None:
        raise NotFound(f"no pipeline '{pipeline_id}'")
    return dict(row._mapping) | {"stages": await _stages(conn, tenant_id, pipeline_id)}


async def default_pipeline(
    conn: Conn, tenant_id: str, now: datetime | None = None
) -> dict[str, Any]:
    """The tenant's default pipeline with its stages, made with `DEFAULT_STAGES` the first
    time (on a write connection)."""
    found = await conn.scalar(
        sa.select(t.pipelines.c.id).where(
            t.pipelines.c.tenant_id == tenant_id, t.pipelines.c.is_default.is_(True)
        )
    )
    if found is not None:
        return await get_pipeline(conn, tenant_id, found)
    return await create_pipeline(
        conn,
        tenant_id,
        name=DEFAULT_NAME,
        stages=[dict(s) for s in DEFAULT_STAGES],
        is_default=True,
        now=now or datetime.now(UTC),
    )


async def list_pipelines(conn: Conn, tenant_id: str) -> list[dict[str, Any]]:
    """The tenant's pipelines (the default first, then by name), each with its stages."""
    ids = (
        (
            await conn.execute(
                sa.select(t.pipelines.c.id)
                .where(t.pipelines.c.tenant_id == tenant_id)
                .order_by(t.pipelines.c.is_default.desc(), t.pipelines.c.name)
            )
        )
        .scalars()
        .all()
    )
    return [await get_pipeline(conn, tenant_id, pipeline_id) for pipeline_id in ids]


async def update_pipeline(
    conn: Conn,
    tenant_id: str,
    pipeline_id: str,
    *,
    name: str | None = None,
    is_default: bool | None = None,
    stages: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Rename the pipeline, make it the default, or set its stages: the whole ordered list,
    where a stage with an `id` is kept (renamed, moved, changed), one without is added, and a
    stage left out is removed (refused while it holds deals)."""
    current = await get_pipeline(conn, tenant_id, pipeline_id)
    where = (t.pipelines.c.tenant_id == tenant_id, t.pipelines.c.id == pipeline_id)
    if name is not None:
        cleaned_name = companies.name(name, "pipeline name")
        taken = await conn.scalar(
            sa.select(t.pipelines.c.id).where(
                t.pipelines.c.tenant_id == tenant_id,
                t.pipelines.c.name == cleaned_name,
                t.pipelines.c.id != pipeline_id,
            )
        )
        if taken is not None:
            raise Conflict(f"a pipeline named '{cleaned_name}' exists ({taken})")
        await conn.execute(t.pipelines.update().where(*where).values(name=cleaned_name))
    if is_default:
        await _clear_default(conn, tenant_id)
        await conn.execute(t.pipelines.update().where(*where).values(is_default=True))
    elif is_default is False and current["is_default"]:
        raise InvalidInput("a tenant always has a default; make another pipeline the default")
    if stages is not None:
        await _set_stages(conn, tenant_id, pipeline_id, current["stages"], check_stages(stages))
    return await get_pipeline(conn, tenant_id, pipeline_id)


async def _set_stages(
    conn: Conn,
    tenant_id: str,
    pipeline_id: str,
    old: list[dict[str, Any]],
    new: list[dict[str, Any]],
) -> None:
    known = {s["id"]: s for s in old}
    kept = [s["id"] for s in new if s.get("id")]
    strangers = [i for i in kept if i not in known]
    if strangers:
        raise InvalidInput(f"stage(s) {', '.join(strangers)} are not in this pipeline")
    dropped = [s for s in old if s["id"] not in kept]
    for stage in dropped:
        held = await conn.scalar(
            sa.select(sa.func.count()).where(
                t.deals.c.tenant_id == tenant_id, t.deals.c.stage_id == stage["id"]
            )
        )
        if held:
            raise Conflict(
                f"the stage '{stage['name']}' holds {held} deal(s); move them before removing it"
            )
        await conn.execute(
            t.stages.delete().where(t.stages.c.tenant_id == tenant_id, t.stages.c.id == stage["id"])
        )
    for stage_id in kept:  # names out of the way first: stages may swap names
        await conn.execute(
            t.stages.update()
            .where(t.stages.c.tenant_id == tenant_id, t.stages.c.id == stage_id)
            .values(name=stage_id)
        )
    for position, stage in enumerate(new):
        if stage.get("id"):
            await conn.execute(
                t.stages.update()
                .where(t.stages.c.tenant_id == tenant_id, t.stages.c.id == stage["id"])
                .values(
                    position=position,
                    name=stage["name"],
                    kind=stage["kind"],
                    probability=stage["probability"],
                    required_fields=stage["required_fields"],
                )
            )
        else:
            await _insert_stage(conn, tenant_id, pipeline_id, position, stage)


async def get_stage(conn: Conn, tenant_id: str, stage_id: str) -> dict[str, Any]:
    row = (
        await conn.execute(
            sa.select(t.stages).where(t.stages.c.tenant_id == tenant_id, t.stages.c.id == stage_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"no stage '{stage_id}'")
    return dict(row._mapping)
