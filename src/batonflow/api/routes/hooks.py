"""Webhook triggers: make, list, delete, rotate a hook's secret; and the delivery endpoint,
`POST /api/v1/hooks/{hook_id}`, which needs no login but a signature (schedules/hooks.py).

A delivery with a wrong signature, and one to a hook that does not exist, get the same 401:
the answer never says whether a hook exists.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response, status
from pydantic import BaseModel, Field

from batonflow.api.deps import ApiState, State, require
from batonflow.api.routes.auth import Strict
from batonflow.auth.scopes import Principal
from batonflow.errors import Conflict, InvalidInput, Unauthenticated
from batonflow.schedules import hooks as service
from batonflow.store import hooks as store
from batonflow.store.db import Conn, json_loads

router = APIRouter(prefix="/api/v1/hooks", tags=["hooks"])
REFUSED = (
    "the signature does not match this hook (or there is no such hook); sign the raw body "
    f"with the hook's secret: {service.SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256>"
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
    signature_header: str = service.SIGNATURE_HEADER
    delivery_header: str = service.DELIVERY_HEADER


class HookList(BaseModel):
    items: list[HookOut]


class DeliveryOut(BaseModel):
    run_id: str
    delivery_id: str


def hook_out(row: dict[str, Any]) -> HookOut:
    return HookOut(
        path=f"{router.prefix}/{row['id']}",
        **{k: v for k, v in row.items() if k in HookOut.model_fields},
    )


def _secret(state: ApiState) -> str:
    return state.settings.secret_key.get_secret_value()


@router.get("", response_model=HookList)
async def list_hooks(
    state: State, caller: Annotated[Principal, require("triggers:read")]
) -> HookList:
    """The tenant's hooks, oldest first (their secrets are never shown again)."""
    rows = await state.query(lambda conn: store.list_hooks(conn, caller.tenant_id))
    return HookList(items=[hook_out(row) for row in rows])


@router.post("", response_model=HookSecret, status_code=status.HTTP_201_CREATED)
async def create_hook(
    state: State, body: CreateHook, caller: Annotated[Principal, require("triggers:write")]
) -> HookSecret:
    """Make a hook for a stored workflow. The answer holds its secret, this once."""

    async def work(conn: Conn) -> tuple[dict[str, Any], str]:
        return await service.create(
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


@router.post("/{hook_id}/rotate", response_model=HookSecret)
async def rotate_secret(
    state: State, hook_id: str, caller: Annotated[Principal, require("triggers:write")]
) -> HookSecret:
    """A new secret, shown this once; the old one stops working at once."""

    async def work(conn: Conn) -> tuple[dict[str, Any], str]:
        return await service.rotate(
            conn, caller.tenant_id, hook_id, now=state.now(), server_key=_secret(state)
        )

    row, secret = await state.transact(work)
    return HookSecret(**hook_out(row).model_dump(), secret=secret)


@router.delete("/{hook_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_hook(
    state: State, hook_id: str, caller: Annotated[Principal, require("triggers:write")]
) -> Response:
    """Delete a hook: its URL answers 401 from now on. The runs it started stay."""
    await state.transact(lambda conn: service.remove(conn, caller.tenant_id, hook_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
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
        str, Header(alias=service.SIGNATURE_HEADER, max_length=200, description="sha256=<hex>")
    ] = "",
    delivery_id: Annotated[
        str,
        Header(
            alias=service.DELIVERY_HEADER,
            max_length=200,
            description="the sender's id for this delivery; the same id again starts nothing",
        ),
    ] = "",
) -> DeliveryOut:
    """Start the hook's workflow with the JSON body (an object) as its inputs. No login: the
    body must be signed with the hook's secret. A delivery id already received answers with
    the run it started (202 again), and starts nothing."""
    body = await request.body()
    hook = await state.query(lambda conn: store.find_hook(conn, hook_id))
    if not service.verified(hook, _secret(state), body, signature):
        raise Unauthenticated(REFUSED)
    assert hook is not None
    if not delivery_id.strip():
        raise InvalidInput(f"send a {service.DELIVERY_HEADER} header naming this delivery")
    try:
        inputs = json_loads(body)
    except ValueError:
        raise InvalidInput("the body must be a JSON object (the run's inputs)") from None
    if not isinstance(inputs, dict):
        raise InvalidInput("the body must be a JSON object (the run's inputs)")
    digest = service.body_hash(body)

    async def work(conn: Conn) -> service.Delivered:
        return await service.deliver(
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
        replayed = await state.query(lambda conn: service.replay(conn, hook, delivery_id, digest))
        if replayed is None:
            raise
        delivered = replayed
    if not delivered.replayed:
        state.committed([])
    return DeliveryOut(run_id=delivered.run_id, delivery_id=delivered.delivery_id)
