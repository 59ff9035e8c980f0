"""The sales pipeline: which workflow works on which record, finding the review a record's run
waits on, and the agent (`sales-pipeline`) with the workflows' bookkeeping steps.

`sales-outreach` works on a lead (`inputs.lead_id`), `sales-deal` on a deal (`inputs.deal_id`);
a deal's contract and its negotiation offers are worked on by the deal's run. Deciding by
subject finds the newest active run on the record and its oldest open review among the steps
that decide that kind of record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field

from batonflow.agents.agent import Agent, CallContext, TenantData
from batonflow.apps.sales import leads as crm_leads
from batonflow.apps.sales import negotiation
from batonflow.apps.sales import tables as crm
from batonflow.apps.sales.finance_tables import contracts
from batonflow.apps.sales.negotiation_tables import offers
from batonflow.errors import Conflict, InvalidInput, NotFound, PermissionDenied, StepFailed
from batonflow.store import reviews as review_store
from batonflow.store.db import Conn
from batonflow.store.runs import runs_t

Entity = Literal["lead", "deal", "contract", "offer"]
OUTREACH = "sales-outreach"
DEAL = "sales-deal"
ACTIVE = ("queued", "running", "waiting")


@dataclass(frozen=True, slots=True)
class Subject:
    """The run that works on a record: its workflow, the input naming the record, and the
    steps whose reviews decide it (None: any)."""

    workflow_id: str
    input_name: str
    record_id: str
    steps: frozenset[str] | None = None


async def _one(conn: Conn, table: sa.Table, tenant_id: str, row_id: str, what: str) -> Any:
    row = (
        await conn.execute(
            sa.select(table).where(table.c.tenant_id == tenant_id, table.c.id == row_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"no {what} '{row_id}'")
    return row


async def subject_of(conn: Conn, tenant_id: str, entity: Entity, entity_id: str) -> Subject:
    """Which run works on the tenant's record (`NotFound` for another tenant's)."""
    if entity == "lead":
        await _one(conn, crm.leads, tenant_id, entity_id, "lead")
        return Subject(OUTREACH, "lead_id", entity_id)
    if entity == "deal":
        await _one(conn, crm.deals, tenant_id, entity_id, "deal")
        return Subject(DEAL, "deal_id", entity_id)
    if entity == "contract":
        row = await _one(conn, contracts, tenant_id, entity_id, "contract")
        return Subject(DEAL, "deal_id", row.deal_id, frozenset({"contract_review"}))
    row = await _one(conn, offers, tenant_id, entity_id, "offer")
    return Subject(DEAL, "deal_id", row.deal_id, frozenset({"over_policy", "over_policy_admin"}))


async def runs_on(
    conn: Conn, tenant_id: str, subject: Subject, *, active: bool = False
) -> list[str]:
    """The ids of the runs working on the subject's record (only the active ones if `active`),
    newest first. The database keeps the runs whose inputs' text holds the record's id; the
    exact input is checked here, where the JSON reads the same on SQLite and PostgreSQL."""
    query = sa.select(runs_t.c.id, runs_t.c.inputs).where(
        runs_t.c.tenant_id == tenant_id,
        runs_t.c.workflow_id == subject.workflow_id,
        sa.cast(runs_t.c.inputs, sa.Text).contains(subject.record_id, autoescape=True),
    )
    if active:
        query = query.where(runs_t.c.status.in_(ACTIVE))
    rows = await conn.execute(query.order_by(runs_t.c.created_at.desc(), runs_t.c.id.desc()))
    return [r.id for r in rows if (r.inputs or {}).get(subject.input_name) == subject.record_id]


async def open_review(conn: Conn, tenant_id: str, entity: Entity, entity_id: str) -> str:
    """The id of the oldest open review of the newest active run working on the record; a
    `NotFound` naming the record when there is none."""
    subject = await subject_of(conn, tenant_id, entity, entity_id)
    for run_id in await runs_on(conn, tenant_id, subject, active=True):
        for review_id, step_key, _ in await review_store.pending_of_run(conn, tenant_id, run_id):
            if subject.steps is None or step_key in subject.steps:
                return review_id
    raise NotFound(
        f"no open review for {entity} '{entity_id}': no {subject.workflow_id} run working on "
        "it waits for a decision",
        details={"entity_type": entity, "entity_id": entity_id},
    )


def start_request(lead_id: str | None, deal_id: str | None) -> tuple[str, dict[str, str]]:
    """The workflow and inputs a pipeline run starts with: exactly one record."""
    if (lead_id is None) == (deal_id is None):
        raise InvalidInput("name exactly one of `lead_id` (outreach) or `deal_id` (the deal)")
    if lead_id is not None:
        return OUTREACH, {"lead_id": lead_id}
    assert deal_id is not None
    return DEAL, {"deal_id": deal_id}


async def check_record(conn: Conn, tenant_id: str, inputs: dict[str, str]) -> None:
    """The record a run is started on is the tenant's (`NotFound` otherwise)."""
    if "lead_id" in inputs:
        await _one(conn, crm.leads, tenant_id, inputs["lead_id"], "lead")
    else:
        await _one(conn, crm.deals, tenant_id, inputs["deal_id"], "deal")


# The workflows' bookkeeping steps.
pipeline = Agent("sales-pipeline", "Records what the sales workflows did on their records")
ACTOR = "agent:sales-pipeline"


class ContactedIn(BaseModel):
    lead_id: str
    email_id: str = Field(description="the outreach email that was sent")


class Contacted(BaseModel):
    lead_id: str
    status: str
    email_id: str


class ApproveIn(BaseModel):
    deal_id: str
    offer_id: str = Field(description="the customer's offer the review approved")
    approver: str = Field(min_length=1, description="who decided the review")
    role: Literal["reviewer", "admin"] = Field(description="the role the review step required")


class Approved(BaseModel):
    deal_id: str
    offer_id: str
    round: int
    approved_by: str
    response_id: str


def _data(ctx: CallContext) -> TenantData:
    if ctx.data is None:
        raise StepFailed("the pipeline agent needs the database (ctx.data)", retryable=False)
    return ctx.data


@pipeline.capability("lead.contacted", "Mark a lead contacted once its outreach email is sent")
async def contacted(ctx: CallContext, args: ContactedIn) -> Contacted:
    data = _data(ctx)

    async def work(conn: Conn) -> dict[str, Any]:
        lead = await crm_leads.get_lead(conn, data.tenant_id, args.lead_id)
        if lead["status"] in ("contacted", "converted"):  # a repeated attempt, or a person
            return lead
        return await crm_leads.set_status(
            conn, data.tenant_id, args.lead_id, "contacted", now=datetime.now(UTC)
        )

    try:
        lead = await data.write(work)
    except (InvalidInput, NotFound) as exc:
        raise StepFailed(exc.message, retryable=False) from None
    return Contacted(lead_id=args.lead_id, status=lead["status"], email_id=args.email_id)


@pipeline.capability("offer.approve", "Accept a customer's terms a person approved in review")
async def approve_offer(ctx: CallContext, args: ApproveIn) -> Approved:
    """The review step's reviewers held the role it names, so the decider approves with it."""
    data = _data(ctx)

    async def work(conn: Conn) -> dict[str, Any]:
        try:
            return await negotiation.approve(
                conn,
                data.tenant_id,
                args.deal_id,
                args.offer_id,
                approver=args.approver,
                roles=frozenset({args.role}),
                now=datetime.now(UTC),
            )
        except Conflict:
            history = await negotiation.list_offers(conn, data.tenant_id, args.deal_id)
            offer = next((row for row in history if row["id"] == args.offer_id), None)
            if offer is None or offer["approved_by"] != args.approver:
                raise
            ours = [
                row
                for row in history
                if row["party"] == "us"
                and row["round"] == offer["round"]
                and row["approved_by"] == args.approver
            ]
            return {"customer": offer, "response": ours[-1]}  # approved by an earlier attempt

    try:
        stored = await data.write(work)
    except (Conflict, NotFound, PermissionDenied) as exc:
        raise StepFailed(exc.message, retryable=False) from None
    customer = stored["customer"]
    return Approved(
        deal_id=args.deal_id,
        offer_id=customer["id"],
        round=customer["round"],
        approved_by=args.approver,
        response_id=stored["response"]["id"],
    )


AGENTS = (pipeline,)
