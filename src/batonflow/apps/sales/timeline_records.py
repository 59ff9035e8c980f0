"""What a sales record's own rows say happened to it, as timeline events (`timeline.py` adds
the runs, reviews, emails and audit entries): a lead's creation, last change and score; a deal's
stage moves, proposals and negotiation offers; a contract's versions and status; an invoice's
issue, void, payments and reminders. Every query filters on `tenant_id`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa

from batonflow.apps.sales import money
from batonflow.apps.sales import tables as crm
from batonflow.apps.sales.finance_tables import (
    contract_versions,
    contracts,
    dunning_reminders,
    invoices,
    payments,
)
from batonflow.apps.sales.negotiation_tables import offers
from batonflow.apps.sales.proposal_tables import proposals
from batonflow.errors import NotFound
from batonflow.store.db import Conn

ActorKind = Literal["user", "agent", "system"]
SYSTEM = "batonflow"


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened to a record: when, what, who (a user by name, an agent by name,
    or the platform), one plain sentence, and the ids of what it concerns (run, review...)."""

    at: datetime
    kind: str
    actor_kind: ActorKind
    actor: str
    summary: str
    links: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "kind": self.kind,
            "actor_kind": self.actor_kind,
            "actor": self.actor,
            "summary": self.summary,
            "links": dict(self.links),
        }


def actor_kind(name: str | None) -> ActorKind:
    """Who a stored actor name is: `agent:...` an agent, `schedule:...` or none the platform,
    anyone else a user (or an API key, acting for one)."""
    if not name or name.startswith(("schedule:", "service:", "system")):
        return "system"
    return "agent" if name.startswith("agent:") else "user"


def by(name: str | None, kind: str, at: datetime, summary: str, **links: str | None) -> Event:
    return Event(
        at,
        kind,
        actor_kind(name),
        name or SYSTEM,
        summary,
        {key: value for key, value in links.items() if value is not None},
    )


def amount(value: Decimal, code: str) -> str:
    return f"{money.text(value, code)} {code}"


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


async def one(conn: Conn, table: sa.Table, tenant_id: str, row_id: str, what: str) -> Any:
    row = (
        await conn.execute(
            sa.select(table).where(table.c.tenant_id == tenant_id, table.c.id == row_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"no {what} '{row_id}'")
    return row


async def rows(conn: Conn, table: sa.Table, tenant_id: str, **where: Any) -> list[Any]:
    query = sa.select(table).where(table.c.tenant_id == tenant_id)
    for name, value in where.items():
        query = query.where(table.c[name] == value)
    return list(await conn.execute(query))


def _reasons(reasons: list[dict[str, Any]] | None) -> str:
    if not reasons:
        return "no rule fired"
    return "; ".join(
        f"{r.get('why', r.get('rule', '?'))} ({r.get('points', 0):+d})" for r in reasons
    )


async def lead_events(conn: Conn, tenant_id: str, lead_id: str) -> tuple[Any, list[Event]]:
    """The lead's row and its events; `scored_at` is settled by the caller from its runs."""
    lead = await one(conn, crm.leads, tenant_id, lead_id, "lead")
    company = await one(conn, crm.companies, tenant_id, lead.company_id, "company")
    contact = await one(conn, crm.contacts, tenant_id, lead.contact_id, "contact")
    events = [
        by(
            None,
            "lead.created",
            lead.created_at,
            f"Lead created for {contact.name} at {company.name} (source {lead.source}).",
        )
    ]
    if lead.updated_at > lead.created_at:
        score = "" if lead.score is None else f", score {lead.score}"
        events.append(
            by(
                None,
                "lead.updated",
                lead.updated_at,
                f"Lead last changed: status {lead.status}{score}.",
            )
        )
    return lead, events


def score_event(
    score: int, reasons: list[dict[str, Any]] | None, at: datetime, run_id: str | None
) -> Event:
    return by(
        "agent:sales-sdr",
        "lead.scored",
        at,
        f"Scored {score}: {_reasons(reasons)}.",
        run_id=run_id,
    )


async def deal_events(conn: Conn, tenant_id: str, deal_id: str) -> tuple[Any, list[Event]]:
    deal = await one(conn, crm.deals, tenant_id, deal_id, "deal")
    names = {
        row.id: row.name
        for row in await rows(conn, crm.stages, tenant_id, pipeline_id=deal.pipeline_id)
    }
    events: list[Event] = []
    moves = await rows(conn, crm.stage_moves, tenant_id, deal_id=deal_id)
    for move in sorted(moves, key=lambda m: (m.at, m.id)):
        to = names.get(move.to_stage_id, "a removed stage")
        why = f": {move.reason}" if move.reason and move.reason != "created" else ""
        if move.from_stage_id is None:
            kind, text = "deal.created", f"Deal '{deal.title}' created in {to}{why}."
        else:
            came = names.get(move.from_stage_id, "a removed stage")
            kind, text = "deal.stage_moved", f"Moved from {came} to {to}{why}."
        name = move.actor if move.actor_kind == "user" else _agent(move.actor)
        events.append(by(name, kind, move.at, text, run_id=move.run_id))
    if not any(e.kind == "deal.created" for e in events):
        events.append(by(None, "deal.created", deal.created_at, f"Deal '{deal.title}' created."))
    for row in await rows(conn, proposals, tenant_id, deal_id=deal_id):
        title = (row.text or {}).get("title", "")
        total = amount(Decimal(row.totals["total"]), row.currency)
        events.append(
            by(
                "agent:sales",
                "proposal.written",
                row.created_at,
                f"Proposal version {row.version} '{title}' priced at {total}.",
                run_id=row.run_id,
                proposal_id=row.id,
            )
        )
    for row in await rows(conn, offers, tenant_id, deal_id=deal_id):
        events.extend(_offer_events(row))
    return deal, events


def _agent(name: str) -> str:
    return name if name.startswith("agent:") else f"agent:{name}"


VERDICTS = {
    "within": "within the discount policy",
    "needs_approval": "beyond the discount policy, needing approval",
    "refused": "refused by the discount policy",
}


def _offer_events(row: Any) -> list[Event]:
    party = "The customer" if row.party == "customer" else "We"
    did = {"counter": "countered", "accept": "accepted", "refuse": "refused"}[row.action]
    net = amount(row.net_amount, row.currency)
    verdict = VERDICTS.get(row.verdict, row.verdict)
    text = f"{party} {did} in round {row.round}: {row.discount}% off, net {net}, {verdict}."
    links = {"run_id": row.run_id, "offer_id": row.id}
    events = [by(row.actor, f"offer.{row.action}", row.created_at, text, **links)]
    if row.approved_by is not None and row.approved_at is not None and row.party == "customer":
        events.append(
            by(
                row.approved_by,
                "offer.approved",
                row.approved_at,
                f"{row.approved_by} approved the customer's terms of round {row.round}.",
                **links,
            )
        )
    return events


async def contract_events(conn: Conn, tenant_id: str, contract_id: str) -> tuple[Any, list[Event]]:
    contract = await one(conn, contracts, tenant_id, contract_id, "contract")
    links = {"contract_id": contract.id}
    events = [
        by(
            None,
            "contract.created",
            contract.created_at,
            f"Contract '{contract.title}' created.",
            **links,
        )
    ]
    for row in await rows(conn, contract_versions, tenant_id, contract_id=contract_id):
        why = f": {row.reason}" if row.reason else ""
        # an agent signs with its call key: "agent:NAME RUN:STEP:ATTEMPT"
        actor, call = row.actor, ""
        if actor.startswith("agent:"):
            actor, _, call = actor.partition(" ")
        run_id = call.split(":")[0] or None
        text = f"Version {row.version}{why}."
        events.append(by(actor, "contract.version", row.created_at, text, run_id=run_id, **links))
    if contract.updated_at > contract.created_at:
        events.append(
            by(
                None,
                "contract.status",
                contract.updated_at,
                f"Contract '{contract.title}' is now {contract.status.replace('_', ' ')}.",
                **links,
            )
        )
    return contract, events


async def invoice_events(conn: Conn, tenant_id: str, invoice_id: str) -> tuple[Any, list[Event]]:
    invoice = await one(conn, invoices, tenant_id, invoice_id, "invoice")
    links = {"invoice_id": invoice.id}
    total = amount(invoice.total, invoice.currency)
    events = [
        by(None, "invoice.created", invoice.created_at, f"Invoice drafted for {total}.", **links)
    ]
    if invoice.issue_date is not None:
        at = max(invoice.created_at, day_start(invoice.issue_date))
        text = f"Invoice {invoice.number} issued on {invoice.issue_date}, due {invoice.due_date}."
        events.append(by(None, "invoice.issued", at, text, **links))
    if invoice.status == "void":
        text = f"Invoice {invoice.number or 'draft'} voided."
        events.append(by(None, "invoice.voided", invoice.updated_at, text, **links))
    for row in await rows(conn, payments, tenant_id, invoice_id=invoice_id):
        ref = f" (reference {row.reference})" if row.reference else ""
        events.append(
            by(
                row.actor,
                "invoice.payment",
                row.created_at,
                f"Payment of {amount(row.amount, invoice.currency)} received on {row.paid_on}{ref}.",
                payment_id=row.id,
                **links,
            )
        )
    if invoice.status == "paid":
        text = f"Invoice {invoice.number} paid in full."
        events.append(by(None, "invoice.paid", invoice.updated_at, text, **links))
    for row in await rows(conn, dunning_reminders, tenant_id, invoice_id=invoice_id):
        events.append(
            by(
                "agent:sales-finance",
                f"reminder.{row.state}",
                row.created_at,
                f"Payment reminder {row.level} (due {row.due_on}) {row.state}.",
                email_id=row.email_id,
                **links,
            )
        )
    return invoice, events
