"""The demo app's API, under `/api/v1/demo/`: the outbox of emails its `email.send` tool sent."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from batonflow.api.deps import State, require
from batonflow.auth.scopes import Principal
from batonflow.store.db import Conn
from batonflow.store.effects import list_effects

router = APIRouter(tags=["demo"])


class OutboxEmail(BaseModel):
    key: str
    run_id: str | None
    to: str
    subject: str
    body: str
    sent_at: datetime


class Outbox(BaseModel):
    items: list[OutboxEmail]


async def outbox(conn: Conn, tenant_id: str, run_id: str | None = None) -> list[OutboxEmail]:
    """The emails the tenant's runs sent, oldest first; each idempotency key appears once."""
    effects = await list_effects(conn, tenant_id, run_id)
    return [_email(effect) for effect in effects if effect["kind"] == "email"]


def _email(effect: dict[str, Any]) -> OutboxEmail:
    payload = effect["payload"]
    return OutboxEmail(
        key=effect["key"],
        run_id=effect["run_id"],
        to=payload["to"],
        subject=payload["subject"],
        body=payload["body"],
        sent_at=effect["created_at"],
    )


@router.get("/outbox", response_model=Outbox)
async def get_outbox(
    state: State,
    caller: Annotated[Principal, require("runs:read")],
    run_id: Annotated[str | None, Query(description="only this run's emails")] = None,
) -> Outbox:
    """Emails sent by the demo's `email.send` tool in the caller's tenant, oldest first."""
    items = await state.query(lambda conn: outbox(conn, caller.tenant_id, run_id))
    return Outbox(items=items)
