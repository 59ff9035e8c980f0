"""Lead scoring and qualifying: `GET /scoring` (the rules in force, `runs:read`), `PUT /scoring`
(a new version of them, `admin` only; rules that cannot work are 422 saying what to fix), and
`POST /leads/{id}/qualify` (run the SDR agent's `lead.qualify` on one lead as a durable run,
`runs:write`; another tenant's lead is 404)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status

from batonflow.api.deps import State, require
from batonflow.apps.sales import scoring_tables, sdr_agent
from batonflow.apps.sales.scoring import ScoreRules
from batonflow.apps.sales.sdr_schemas import QualifyStarted, ScoringRules
from batonflow.auth.scopes import Principal
from batonflow.errors import Conflict
from batonflow.runs.service import Actor
from batonflow.store.db import Conn

router = APIRouter(tags=["sales"])
Reader = Annotated[Principal, require("runs:read")]
Writer = Annotated[Principal, require("runs:write")]
Admin = Annotated[Principal, require("admin")]


@router.get("/scoring", response_model=ScoringRules)
async def get_scoring(state: State, caller: Reader) -> ScoringRules:
    """The tenant's lead scoring rules in force (version 0: the defaults, never changed)."""
    found = await state.query(lambda conn: scoring_tables.current(conn, caller.tenant_id))
    return ScoringRules(**found.as_dict())


@router.put("/scoring", response_model=ScoringRules)
async def put_scoring(state: State, caller: Admin, body: ScoreRules) -> ScoringRules:
    """Replace the tenant's scoring rules: stored as the next version; leads are scored by them
    from their next qualifying on."""
    saved = await state.transact(
        lambda conn: scoring_tables.save(conn, caller.tenant_id, body, caller.name, state.now())
    )
    return ScoringRules(**saved.as_dict())


@router.post(
    "/leads/{lead_id}/qualify",
    response_model=QualifyStarted,
    status_code=status.HTTP_202_ACCEPTED,
)
async def qualify_lead(state: State, caller: Writer, lead_id: str) -> QualifyStarted:
    """Qualify the lead with the SDR agent, as a run to follow at `/api/v1/runs/{run_id}`: its
    output is the score, the reasons and the lead's status."""
    actor = Actor(caller.name, frozenset(caller.roles), kind=caller.kind, id=caller.id)

    async def work(conn: Conn) -> str:
        return await sdr_agent.start_qualify(
            conn,
            caller.tenant_id,
            lead_id,
            actor,
            state.now(),
            max_active_runs=state.settings.tenant_max_active_runs,
        )

    try:
        run_id = await state.transact(work)
    except Conflict:  # a concurrent first qualify stored the workflow first: it is there now
        run_id = await state.transact(work)
    state.committed([])
    return QualifyStarted(run_id=run_id, lead_id=lead_id)
