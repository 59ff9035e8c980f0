"""The charter in the API: write a new version, read one as JSON, Markdown or PDF, list the
versions, diff two, and sign off (named stakeholders approve or request changes)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from batonflow.api.deps import ApiState, State
from batonflow.apps.scoping import actions, pdf, service, sessions
from batonflow.apps.scoping import versions as store
from batonflow.apps.scoping.charter import Charter, changed_fields, diff, markdown
from batonflow.apps.scoping.routes import Reader, Writer, host
from batonflow.apps.scoping.schemas import (
    CharterDiff,
    CharterOut,
    CharterVersions,
    SignOffDecision,
    SignOffRequest,
    Started,
)
from batonflow.apps.scoping.sessions import Viewer
from batonflow.errors import InvalidInput
from batonflow.store.db import Conn

router = APIRouter(tags=["scoping"])
CHARTER = "/sessions/{session_id}/charter"
Version = Annotated[int | None, Query(ge=1, description="a version; default: the newest")]


async def _read(
    state: ApiState, caller: Any, session_id: str, version: int | None
) -> dict[str, Any]:
    viewer = Viewer.of(caller)
    await service.sync(host(state), viewer.tenant_id, session_id)

    async def work(conn: Conn) -> dict[str, Any]:
        await sessions.find(conn, viewer, session_id)
        row = await store.get(conn, viewer.tenant_id, session_id, version)
        row["signoffs"] = await store.signoffs(conn, viewer.tenant_id, session_id, row["version"])
        return row

    found: dict[str, Any] = await state.query(work)
    return found


def _out(row: dict[str, Any]) -> CharterOut:
    return CharterOut.model_validate({**row, "charter": row["body"]})


def _signoff_lines(row: dict[str, Any]) -> list[str]:
    words = {"approved": "approved", "changes_requested": "requested changes", "pending": "pending"}
    lines = []
    for s in row["signoffs"]:
        line = f"{s['name']} ({s['role']}): {words[s['decision']]}"
        if s["decided_at"] is not None:
            line += f" on {s['decided_at']:%Y-%m-%d}"
        if s["comment"]:
            line += f": {s['comment']}"
        lines.append(line)
    return lines


@router.post(CHARTER, response_model=Started, status_code=201)
async def write_charter(state: State, caller: Writer, session_id: str) -> Started:
    """Write a new charter version from the five analysed stages (a run of `scoping-charter`;
    the version appears when it ends)."""
    run_id = await actions.write_charter(host(state), Viewer.of(caller), session_id)
    return Started(run_id=run_id)


@router.get(
    CHARTER,
    response_model=CharterOut,
    responses={
        200: {
            "content": {
                "text/markdown": {"schema": {"type": "string"}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            }
        }
    },
)
async def get_charter(
    state: State,
    caller: Reader,
    session_id: str,
    version: Version = None,
    format: Annotated[Literal["json", "md", "pdf"], Query()] = "json",
) -> Any:
    """A charter version as JSON (with its model and prompt versions and its sign-offs), as
    Markdown, or as a PDF."""
    row = await _read(state, caller, session_id, version)
    if format == "json":
        return _out(row)
    charter = Charter.model_validate(row["body"])
    name = f"charter-{session_id[:8]}-v{row['version']}"
    if format == "md":
        text = markdown(charter, version=row["version"])
        if row["signoffs"]:
            text += "\n## Sign-off\n\n" + "".join(f"- {line}\n" for line in _signoff_lines(row))
        return Response(
            text,
            media_type="text/markdown; charset=utf-8",
            headers={"Content-Disposition": f'inline; filename="{name}.md"'},
        )
    body = pdf.render(charter, version=row["version"], signoffs=_signoff_lines(row))
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
    )


@router.get(CHARTER + "/versions", response_model=CharterVersions)
async def charter_versions(state: State, caller: Reader, session_id: str) -> CharterVersions:
    """Every charter version, oldest first."""
    viewer = Viewer.of(caller)
    await service.sync(host(state), viewer.tenant_id, session_id)

    async def work(conn: Conn) -> list[dict[str, Any]]:
        await sessions.find(conn, viewer, session_id)
        return await store.listing(conn, viewer.tenant_id, session_id)

    return CharterVersions.model_validate({"items": await state.query(work)})


@router.get(CHARTER + "/diff", response_model=CharterDiff)
async def charter_diff(
    state: State,
    caller: Reader,
    session_id: str,
    from_version: Annotated[int, Query(alias="from", ge=1)],
    to_version: Annotated[int, Query(alias="to", ge=1)],
) -> CharterDiff:
    """What changed between two versions: the fields, and a unified diff of the Markdown."""
    if from_version == to_version:
        raise InvalidInput("compare two different versions")
    old = await _read(state, caller, session_id, from_version)
    new = await _read(state, caller, session_id, to_version)
    return CharterDiff(
        from_version=from_version,
        to_version=to_version,
        changed=changed_fields(old["body"], new["body"]),
        diff=diff(
            Charter.model_validate(old["body"]),
            Charter.model_validate(new["body"]),
            from_version,
            to_version,
        ),
    )


@router.post(CHARTER + "/signoffs", response_model=CharterOut, status_code=201)
async def request_signoff(
    state: State, caller: Writer, session_id: str, body: SignOffRequest, version: Version = None
) -> CharterOut:
    """Name a stakeholder (a user of the tenant) who is to approve the charter version or
    request changes; the session is shared with them to read (its owner alone may)."""
    viewer = Viewer.of(caller)

    async def work(conn: Conn) -> None:
        await sessions.owned(conn, viewer, session_id)
        row = await store.get(conn, viewer.tenant_id, session_id, version)
        user = await sessions.user_by_email(conn, viewer.tenant_id, body.email)
        session, _ = await sessions.find(conn, viewer, session_id)
        shared = await sessions.shares_of(conn, viewer.tenant_id, session_id)
        if user["id"] != session["owner_id"] and all(s["user_id"] != user["id"] for s in shared):
            await sessions.share(conn, viewer, session_id, body.email, "read", state.now())
        await store.request(
            conn, viewer.tenant_id, session_id, row["version"], user, body.role, state.now()
        )

    await state.transact(work)
    return _out(await _read(state, caller, session_id, version))


@router.post(CHARTER + "/signoff", response_model=CharterOut)
async def sign_off(
    state: State, caller: Reader, session_id: str, body: SignOffDecision, version: Version = None
) -> CharterOut:
    """As a named stakeholder: approve the charter version, or request changes (once)."""
    viewer = Viewer.of(caller)

    async def work(conn: Conn) -> None:
        await sessions.find(conn, viewer, session_id)
        row = await store.get(conn, viewer.tenant_id, session_id, version)
        await store.decide(
            conn,
            viewer.tenant_id,
            session_id,
            row["version"],
            viewer.user_id,
            body.decision,
            body.comment,
            state.now(),
        )

    await state.transact(work)
    return _out(await _read(state, caller, session_id, version))
