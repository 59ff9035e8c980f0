"""Workflow versions: immutable, content-hashed, per tenant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from batonflow.errors import Conflict, NotFound, SpecError
from batonflow.ids import new_id
from batonflow.store.db import Conn
from batonflow.store.tables import WorkflowVersion, table
from batonflow.workflows.spec import WorkflowSpec, WorkflowStep

versions_t = table(WorkflowVersion)


@dataclass(frozen=True, slots=True)
class VersionRow:
    id: str
    tenant_id: str
    workflow_id: str
    version: str
    content_hash: str
    description: str
    spec: dict[str, Any]
    source: str
    created_at: datetime


_COLUMNS = [versions_t.c[name] for name in VersionRow.__slots__]


async def save_version(
    conn: Conn,
    tenant_id: str,
    spec: WorkflowSpec,
    source: str,
    now: datetime,
    *,
    origin: str | None = None,
) -> tuple[VersionRow, bool]:
    """Store `spec` (its text is `source`) as an immutable version. Saving identical content
    again returns the stored row (created False); different content under an existing version
    is a conflict; `workflow` steps naming versions the tenant has not stored are a `SpecError`
    about `origin` (a file name, say)."""
    await check_subworkflows(conn, tenant_id, spec, origin or f"workflow '{spec.id}'")
    existing = await find_version(conn, tenant_id, spec.id, spec.version)
    if existing is not None:
        if existing.content_hash != spec.content_hash:
            raise Conflict(
                f"workflow '{spec.id}' version {spec.version} already exists with other content; "
                "versions are immutable, so give the changed workflow a new version",
                details={"stored_hash": existing.content_hash, "new_hash": spec.content_hash},
            )
        return existing, False
    row = VersionRow(
        id=new_id(),
        tenant_id=tenant_id,
        workflow_id=spec.id,
        version=spec.version,
        content_hash=spec.content_hash,
        description=spec.description,
        spec=spec.model_dump(mode="json", by_alias=True),
        source=source,
        created_at=now,
    )
    await conn.execute(
        insert(versions_t).values(**{name: getattr(row, name) for name in row.__slots__})
    )
    return row, True


async def find_version(
    conn: Conn, tenant_id: str, workflow_id: str, version: str | None = None
) -> VersionRow | None:
    """A version of a workflow; with `version` None, the newest one."""
    query = select(*_COLUMNS).where(
        versions_t.c.tenant_id == tenant_id, versions_t.c.workflow_id == workflow_id
    )
    if version is not None:
        query = query.where(versions_t.c.version == version)
    row = (await conn.execute(query.order_by(versions_t.c.created_at.desc()).limit(1))).first()
    return VersionRow(**row._asdict()) if row else None


async def get_version(
    conn: Conn, tenant_id: str, workflow_id: str, version: str | None = None
) -> VersionRow:
    row = await find_version(conn, tenant_id, workflow_id, version)
    if row is None:
        which = f" version {version}" if version else ""
        raise NotFound(f"no workflow '{workflow_id}'{which}")
    return row


async def get_version_by_pk(conn: Conn, tenant_id: str, pk: str) -> VersionRow:
    row = (
        await conn.execute(
            select(*_COLUMNS).where(versions_t.c.tenant_id == tenant_id, versions_t.c.id == pk)
        )
    ).first()
    if row is None:
        raise NotFound(f"no workflow version '{pk}'")
    return VersionRow(**row._asdict())


async def check_subworkflows(conn: Conn, tenant_id: str, spec: WorkflowSpec, source: str) -> None:
    """Refuse a spec whose `workflow` steps name versions this tenant has not stored."""
    issues = []
    for index, step in enumerate(spec.steps):
        if not isinstance(step, WorkflowStep):
            continue
        if await find_version(conn, tenant_id, step.workflow, step.version) is None:
            issues.append(
                f"steps[{index}].workflow: no stored workflow '{step.workflow}' version "
                f"{step.version}; store it first with `batonflow workflows add`"
            )
    if issues:
        raise SpecError(source, issues)


async def list_versions(
    conn: Conn, tenant_id: str, workflow_id: str | None = None
) -> list[VersionRow]:
    """Stored versions by workflow id, oldest first; with `workflow_id`, that workflow's only."""
    query = select(*_COLUMNS).where(versions_t.c.tenant_id == tenant_id)
    if workflow_id is not None:
        query = query.where(versions_t.c.workflow_id == workflow_id)
    rows = await conn.execute(query.order_by(versions_t.c.workflow_id, versions_t.c.created_at))
    return [VersionRow(**row._asdict()) for row in rows]
