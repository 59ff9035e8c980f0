"""The dead-letter list: dead runs with the step each died at, that step's attempt count and its
last attempt's result. Retrying (`POST /runs/{id}/retry`) or dismissing (`POST
/runs/{id}/dismiss`) a run takes it off the list."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from batonflow.api.deps import PageSize, State, require
from batonflow.api.routes.runs import AttemptOut
from batonflow.auth.scopes import Principal
from batonflow.store import dead_letters
from batonflow.store.db import Conn

router = APIRouter(prefix="/api/v1/dead-letters", tags=["runs"])


class DeadLetter(BaseModel):
    run_id: str
    workflow_id: str
    workflow_version: str
    started_at: datetime | None
    finished_at: datetime | None
    error: dict[str, Any] | None = Field(
        description="the run's error: the failed step's last error (a map's failed items in "
        "`details.failed_items`)"
    )
    failed_step: str | None
    attempts: int = Field(description="how many attempts the failed step had")
    last_attempt: AttemptOut | None = Field(description="the failed step's last attempt")


class DeadLetterList(BaseModel):
    items: list[DeadLetter]


@router.get("", response_model=DeadLetterList)
async def list_dead_letters(
    state: State, limit: PageSize, caller: Annotated[Principal, require("runs:read")]
) -> DeadLetterList:
    """The tenant's dead runs, newest first: runs whose failed step used every attempt its
    retry policy allows."""

    async def work(conn: Conn) -> list[dead_letters.DeadLetter]:
        return await dead_letters.list_dead(conn, caller.tenant_id, limit=limit)

    found = await state.query(work)
    return DeadLetterList(
        items=[
            DeadLetter(
                run_id=letter.run.id,
                workflow_id=letter.run.workflow_id,
                workflow_version=letter.run.workflow_version,
                started_at=letter.run.started_at,
                finished_at=letter.run.finished_at,
                error=letter.run.error,
                failed_step=letter.failed_step,
                attempts=letter.attempts,
                last_attempt=AttemptOut.model_validate(
                    {name: letter.last_attempt[name] for name in AttemptOut.model_fields}
                )
                if letter.last_attempt is not None
                else None,
            )
            for letter in found
        ]
    )
