"""Triggers (docs/schedules.md). Schedules: create, list (with their next fire times and the runs
they started), read, pause, resume, delete; the schedulers fire them. Webhook hooks: make, list,
delete, rotate a hook's secret; and the delivery endpoint, `POST /api/v1/hooks/{hook_id}`, which
needs no login but a signature: a wrong signature and an unknown hook get the same 401, so the
answer never says whether a hook exists."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Request, Response, status
from pydantic import BaseModel, Field

from batonflow.api.deps import ApiState, State, require
from batonflow.api.routes.auth import Strict
from batonflow.auth.scopes import Principal
from batonflow.errors import Conflict, InvalidInput, Unauthenticated
from batonflow.schedules import hooks as hook_service
from batonflow.schedules import service
from batonflow.schedules.service import NewSchedule
from batonflow.schedules.timing import MAX_CATCH_UP, preview
from batonflow.store import hooks as hook_store
from batonflow.store import schedules as store
from batonflow.store.db import Conn, json_loads

router = APIRouter(prefix="/api/v1/schedules", tags=["schedules"])
hooks_router = APIRouter(prefix="/api/v1/hooks", tags=["hooks"])
UPCOMING = 5  # next fire times shown
RECENT = 10  # fires shown per schedule in a list


class CreateSchedule(Strict):
    """A cron schedule (`cron`, `timezone`), an interval (`interval_seconds`, optionally from
    `at`) or a one-off (`at`)."""

    name: str = Field(min_length=1, max_length=100, description="unique in the tenant")
    workflow_id: str = Field(max_length=128)
    version: str | None = Field(None, max_length=64, description="default: the newest at each fire")
    inputs: dict[str, Any] = Field(default_factory=dict)
    kind: Literal["cron", "interval", "once"]
    cron: str | None = Field(None, max_length=200, description="five fields: `0 9 * * 1-5`")
    timezone: str = Field("UTC", max_length=64, description="an IANA zone the cron is read in")
    interval_seconds: int | None = Field(None, ge=1, le=366 * 86400)
    at: datetime | None = Field(None, description="a one-off's time, or an interval's first fire")
    catch_up: Literal["skip", "once", "all"] = Field(
        "skip",
        description="after downtime: skip missed times, run once for them, or run each (capped)",
    )
    catch_up_limit: int = Field(10, ge=1, le=MAX_CATCH_UP, description="`all`: at most this many")
    paused: bool = False


class FireOut(BaseModel):
    due_at: datetime
    run_id: str | None = Field(description="the run this due time started")
    error: str | None = Field(description="why no run started (the workflow is gone, say)")
    fired_at: datetime


class ScheduleOut(BaseModel):
    id: str
    name: str
    workflow_id: str
    version: str | None
    inputs: dict[str, Any]
    kind: str
    cron: str | None
    timezone: str
    interval_seconds: int | None
    at: datetime | None
    catch_up: str
    catch_up_limit: int
    paused: bool
    next_fire_at: datetime | None
    upcoming: list[datetime] = Field(description="the next fire times (none while paused)")
    last_fired_at: datetime | None
    fires: list[FireOut] = Field(description="the latest fires, newest first")
    created_by: str
    created_at: datetime
    updated_at: datetime


class ScheduleList(BaseModel):
    items: list[ScheduleOut]


def schedule_out(row: dict[str, Any], fires: list[dict[str, Any]]) -> ScheduleOut:
    upcoming: list[datetime] = []
    if not row["paused"] and row["next_fire_at"] is not None:
        timing = service.timing_of(row)
        upcoming = [row["next_fire_at"], *preview(timing, row["next_fire_at"], UPCOMING - 1)]
    return ScheduleOut(
        **{k: v for k, v in row.items() if k in ScheduleOut.model_fields},
        at=row["start_at"],
        upcoming=upcoming,
        fires=[FireOut(**{k: f[k] for k in FireOut.model_fields}) for f in fires],
    )


async def _one(conn: Conn, tenant_id: str, ref: str, fires: int = 50) -> ScheduleOut:
    row = await store.get_schedule(conn, tenant_id, ref)
    recent = await store.recent_fires(conn, tenant_id, [row["id"]], fires)
    return schedule_out(row, recent[row["id"]])


@router.get("", response_model=ScheduleList)
async def list_schedules(
    state: State, caller: Annotated[Principal, require("triggers:read")]
) -> ScheduleList:
    """The tenant's schedules by name, each with its next fire times and latest fires."""

    async def work(conn: Conn) -> ScheduleList:
        rows = await store.list_schedules(conn, caller.tenant_id)
        fires = await store.recent_fires(conn, caller.tenant_id, [r["id"] for r in rows], RECENT)
        return ScheduleList(items=[schedule_out(r, fires[r["id"]]) for r in rows])

    return await state.query(work)


@router.post("", response_model=ScheduleOut, status_code=status.HTTP_201_CREATED)
async def create_schedule(
    state: State, body: CreateSchedule, caller: Annotated[Principal, require("triggers:write")]
) -> ScheduleOut:
    """Make a schedule. Its workflow must be stored and its inputs must fit the workflow's
    input schema now; a name the tenant already uses is a conflict."""
    new = NewSchedule(**body.model_dump())

    async def work(conn: Conn) -> ScheduleOut:
        row = await service.create(conn, caller.tenant_id, new, actor=caller.name, now=state.now())
        return schedule_out(row, [])

    return await state.transact(work)


@router.get("/{schedule_id}", response_model=ScheduleOut)
async def get_schedule(
    state: State, schedule_id: str, caller: Annotated[Principal, require("triggers:read")]
) -> ScheduleOut:
    """One schedule with its latest 50 fires and the runs they started."""
    return await state.query(lambda conn: _one(conn, caller.tenant_id, schedule_id))


@router.post("/{schedule_id}/pause", response_model=ScheduleOut)
async def pause_schedule(
    state: State, schedule_id: str, caller: Annotated[Principal, require("triggers:write")]
) -> ScheduleOut:
    """Stop firing until resumed."""

    async def work(conn: Conn) -> ScheduleOut:
        await service.pause(conn, caller.tenant_id, schedule_id, state.now())
        return await _one(conn, caller.tenant_id, schedule_id)

    return await state.transact(work)


@router.post("/{schedule_id}/resume", response_model=ScheduleOut)
async def resume_schedule(
    state: State, schedule_id: str, caller: Annotated[Principal, require("triggers:write")]
) -> ScheduleOut:
    """Fire again from now on; the times missed while paused are not fired."""

    async def work(conn: Conn) -> ScheduleOut:
        await service.resume(conn, caller.tenant_id, schedule_id, state.now())
        return await _one(conn, caller.tenant_id, schedule_id)

    return await state.transact(work)


@router.delete("/{schedule_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_schedule(
    state: State, schedule_id: str, caller: Annotated[Principal, require("triggers:write")]
) -> Response:
    """Delete a schedule; the runs it started stay."""
    await state.transact(lambda conn: service.remove(conn, caller.tenant_id, schedule_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


REFUSED = (
    "the signature does not match this hook (or there is no such hook); sign the raw body "
    f"with the hook's secret: {hook_service.SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256>"
)


class CreateHook(Strict):
    name: str = Field(min_length=1, max_length=100)
    workflow_id: str = Field(max_length=128)
    version: str | None = Field(None, max_length=64, description="default: the newest at each call")


class HookOut(BaseModel):
    id: str = Field(description="the unguessable part of the hook's URL")
    path: str = Field(description="where deliveries go: POST it with a signed JSON body")
    name: str
    workflow_id: str
    version: str | None
    created_by: str
    created_at: datetime
    rotated_at: datetime


class HookSecret(HookOut):
    secret: str = Field(description="shown this once: sign deliveries with it")
    signature_header: str = hook_service.SIGNATURE_HEADER
    delivery_header: str = hook_service.DELIVERY_HEADER


class HookList(BaseModel):
    items: list[HookOut]


class DeliveryOut(BaseModel):
    run_id: str
    delivery_id: str


def hook_out(row: dict[str, Any]) -> HookOut:
    return HookOut(
        path=f"{hooks_router.prefix}/{row['id']}",
        **{k: v for k, v in row.items() if k in HookOut.model_fields},
    )


def _secret(state: ApiState) -> str:
    return state.settings.secret_key.get_secret_value()


@hooks_router.get("", response_model=HookList)
async def list_hooks(
    state: State, caller: Annotated[Principal, require("triggers:read")]
) -> HookList:
    """The tenant's hooks, oldest first (their secrets are never shown again)."""
    rows = await state.query(lambda conn: hook_store.list_hooks(conn, caller.tenant_id))
    return HookList(items=[hook_out(row) for row in rows])


@hooks_router.post("", response_model=HookSecret, status_code=status.HTTP_201_CREATED)
async def create_hook(
    state: State, body: CreateHook, caller: Annotated[Principal, require("triggers:write")]
) -> HookSecret:
    """Make a hook for a stored workflow. The answer holds its secret, this once."""

    async def work(conn: Conn) -> tuple[dict[str, Any], str]:
        return await hook_service.create(
            conn,
            caller.tenant_id,
            name=body.name,
            workflow_id=body.workflow_id,
            version=body.version,
            actor=caller.name,
            now=state.now(),
            server_key=_secret(state),
        )

    row, secret = await state.transact(work)
    return HookSecret(**hook_out(row).model_dump(), secret=secret)


@hooks_router.post("/{hook_id}/rotate", response_model=HookSecret)
async def rotate_secret(
    state: State, hook_id: str, caller: Annotated[Principal, require("triggers:write")]
) -> HookSecret:
    """A new secret, shown this once; the old one stops working at once."""

    async def work(conn: Conn) -> tuple[dict[str, Any], str]:
        return await hook_service.rotate(
            conn, caller.tenant_id, hook_id, now=state.now(), server_key=_secret(state)
        )

    row, secret = await state.transact(work)
    return HookSecret(**hook_out(row).model_dump(), secret=secret)


@hooks_router.delete("/{hook_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_hook(
    state: State, hook_id: str, caller: Annotated[Principal, require("triggers:write")]
) -> Response:
    """Delete a hook: its URL answers 401 from now on. The runs it started stay."""
    await state.transact(lambda conn: hook_service.remove(conn, caller.tenant_id, hook_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@hooks_router.post(
    "/{hook_id}",
    response_model=DeliveryOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={401: {"description": "a wrong signature, or no such hook (the same answer)"}},
)
async def deliver(
    state: State,
    hook_id: str,
    request: Request,
    signature: Annotated[
        str, Header(alias=hook_service.SIGNATURE_HEADER, max_length=200, description="sha256=<hex>")
    ] = "",
    delivery_id: Annotated[
        str,
        Header(
            alias=hook_service.DELIVERY_HEADER,
            max_length=200,
            description="the sender's id for this delivery; the same id again starts nothing",
        ),
    ] = "",
) -> DeliveryOut:
    """Start the hook's workflow with the JSON body (an object) as its inputs. No login: the
    body must be signed with the hook's secret. A delivery id already received answers with
    the run it started (202 again), and starts nothing."""
    body = await request.body()
    hook = await state.query(lambda conn: hook_store.find_hook(conn, hook_id))
    if not hook_service.verified(hook, _secret(state), body, signature):
        raise Unauthenticated(REFUSED)
    assert hook is not None
    if not delivery_id.strip():
        raise InvalidInput(f"send a {hook_service.DELIVERY_HEADER} header naming this delivery")
    try:
        inputs = json_loads(body)
    except ValueError:
        raise InvalidInput("the body must be a JSON object (the run's inputs)") from None
    if not isinstance(inputs, dict):
        raise InvalidInput("the body must be a JSON object (the run's inputs)")
    digest = hook_service.body_hash(body)

    async def work(conn: Conn) -> hook_service.Delivered:
        return await hook_service.deliver(
            conn,
            hook,
            delivery_id=delivery_id,
            digest=digest,
            inputs=inputs,
            now=state.now(),
            max_active_runs=state.settings.tenant_max_active_runs,
        )

    try:
        delivered = await state.transact(work)
    except Conflict:
        # A concurrent delivery with the same id committed first: answer with its run.
        replayed = await state.query(
            lambda conn: hook_service.replay(conn, hook, delivery_id, digest)
        )
        if replayed is None:
            raise
        delivered = replayed
    if not delivered.replayed:
        state.committed([])
    return DeliveryOut(run_id=delivered.run_id, delivery_id=delivered.delivery_id)
