"""Every sales record's audit timeline: one list, oldest first, of what happened to a lead, a
deal, a contract or an invoice, merged from what the platform already stores.

- the record's own rows (`timeline_records.py`): creation and last change, a lead's score and
  its reasons, a deal's stage moves, proposals and offers with their verdicts and approvals, a
  contract's versions and status, an invoice's issue, void, payments and reminders;
- the emails sent about the record and the replies received to them;
- the runs that worked on it (`timeline_runs.py`): a pipeline run whose input names it
  (`pipeline.subject_of`: a contract's and an invoice's are its deal's `sales-deal` runs), a
  capability run of the app's agents (`agent_runs`) whose input names it, with their status,
  and those runs' reviews (asked, and who decided what and when);
- the tenant's audit log entries that target the record, its emails, runs or reviews (a review's
  decision entry is linked from the review's event rather than repeated).

A deal's timeline includes its contracts' and invoices' events. Every query filters on
`tenant_id`; another tenant's record is `NotFound`.
"""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa

from batonflow.apps.sales import pipeline
from batonflow.apps.sales import timeline_records as records
from batonflow.apps.sales import timeline_runs as runs
from batonflow.apps.sales.finance_tables import contracts, invoices
from batonflow.apps.sales.mail_tables import emails, replies
from batonflow.apps.sales.timeline_records import ActorKind, Event
from batonflow.audit.log import ACTIONS
from batonflow.store.audit import audit_t
from batonflow.store.db import Conn
from batonflow.store.runs import runs_t

Entity = Literal["lead", "deal", "contract", "invoice"]
ENTITIES: tuple[Entity, ...] = ("lead", "deal", "contract", "invoice")
__all__ = ["ENTITIES", "Entity", "Event", "timeline"]


async def timeline(conn: Conn, tenant_id: str, entity: Entity, entity_id: str) -> list[Event]:
    """The record's events, oldest first (`NotFound` for a record that is not the tenant's)."""
    events: list[Event] = []
    worked = runs.Worked({})
    named: list[tuple[str, str]] = []  # (input key, id) a run's input may name
    if entity == "lead":
        lead, own = await records.lead_events(conn, tenant_id, entity_id)
        events += own
        named.append(("lead_id", entity_id))
        mail = [emails.c.lead_id == entity_id]
    elif entity == "deal":
        _, own = await records.deal_events(conn, tenant_id, entity_id)
        events += own
        named.append(("deal_id", entity_id))
        mail = [emails.c.deal_id == entity_id]
        for contract_id in await _ids(conn, contracts, tenant_id, entity_id):
            events += (await records.contract_events(conn, tenant_id, contract_id))[1]
            named.append(("contract_id", contract_id))
        for invoice_id in await _ids(conn, invoices, tenant_id, entity_id):
            events += (await records.invoice_events(conn, tenant_id, invoice_id))[1]
            named.append(("invoice_id", invoice_id))
            mail.append(emails.c.invoice_id == invoice_id)
    elif entity == "contract":
        _, own = await records.contract_events(conn, tenant_id, entity_id)
        events += own
        named.append(("contract_id", entity_id))
        subject = await pipeline.subject_of(conn, tenant_id, "contract", entity_id)
        await runs.pipeline_runs(conn, tenant_id, subject, worked)
        mail = []
    else:
        invoice, own = await records.invoice_events(conn, tenant_id, entity_id)
        events += own
        named.append(("invoice_id", entity_id))
        mail = [emails.c.invoice_id == entity_id]
        if invoice.deal_id is not None:
            subject = pipeline.Subject(pipeline.DEAL, "deal_id", invoice.deal_id, frozenset())
            await runs.pipeline_runs(conn, tenant_id, subject, worked)
    await runs.naming_runs(conn, tenant_id, named, worked)
    run_events, run_ids = await runs.run_events(conn, tenant_id, worked)
    if entity == "lead":  # a score comes before the end of the run that gave it
        events += await runs.scores(conn, tenant_id, run_ids, lead)
    events += run_events
    review_events, review_ids, decided = await runs.review_events(conn, tenant_id, worked)
    events += review_events
    email_events, email_ids = await _emails(conn, tenant_id, mail)
    events += email_events
    targets = [(entity, entity_id), (f"sales_{entity}", entity_id)]
    targets += [("run", r) for r in run_ids] + [("review", r) for r in review_ids]
    targets += [("sales_email", e) for e in email_ids]
    events += await _audit(conn, tenant_id, targets, decided)
    order = {id(event): n for n, event in enumerate(events)}
    return sorted(events, key=lambda e: (e.at, order[id(e)]))


async def _ids(conn: Conn, table_: sa.Table, tenant_id: str, deal_id: str) -> list[str]:
    rows = await conn.execute(
        sa.select(table_.c.id)
        .where(table_.c.tenant_id == tenant_id, table_.c.deal_id == deal_id)
        .order_by(table_.c.created_at, table_.c.id)
    )
    return [row.id for row in rows]


async def _emails(conn: Conn, tenant_id: str, about: list[Any]) -> tuple[list[Event], list[str]]:
    if not about:
        return [], []
    found = list(
        await conn.execute(
            sa.select(emails)
            .where(emails.c.tenant_id == tenant_id, sa.or_(*about))
            .order_by(emails.c.created_at, emails.c.id)
        )
    )
    keys = {row.id: row.idempotency_key.split(":")[0] for row in found}
    sent_by = await _existing_runs(conn, tenant_id, set(keys.values()))
    events: list[Event] = []
    for row in found:
        to = ", ".join(row.to_addrs)
        at = row.sent_at or row.created_at
        state = "sent" if row.status == "sent" else f"not sent ({row.status})"
        run_id = keys[row.id] if keys[row.id] in sent_by else None
        links = {"email_id": row.id} | ({} if run_id is None else {"run_id": run_id})
        summary = f"Email '{row.subject}' to {to} {state}."
        kind: ActorKind = "system" if run_id is None else "agent"
        events.append(Event(at, f"email.{row.status}", kind, row.from_addr, summary, links))
    ids = [row.id for row in found]
    if ids:
        answers = await conn.execute(
            sa.select(replies)
            .where(replies.c.tenant_id == tenant_id, replies.c.email_id.in_(ids))
            .order_by(replies.c.received_at, replies.c.id)
        )
        for row in answers:
            events.append(
                Event(
                    row.received_at,
                    "email.reply",
                    "user",
                    row.from_addr,
                    f"Reply '{row.subject}' received from {row.from_addr}.",
                    {"email_id": row.email_id, "reply_id": row.id},
                )
            )
    return events, ids


async def _existing_runs(conn: Conn, tenant_id: str, ids: set[str]) -> set[str]:
    """Those of `ids` that are the tenant's runs (an email sent by a run has its id first in
    its idempotency key)."""
    if not ids:
        return set()
    rows = await conn.execute(
        sa.select(runs_t.c.id).where(runs_t.c.tenant_id == tenant_id, runs_t.c.id.in_(ids))
    )
    return {row.id for row in rows}


LINKS = {"sales_email": "email_id"}  # an audit target's kind, as an event's link


async def _audit(
    conn: Conn, tenant_id: str, targets: list[tuple[str, str]], decided: dict[str, Event]
) -> list[Event]:
    wanted = set(targets)
    rows = await conn.execute(
        sa.select(audit_t)
        .where(
            audit_t.c.tenant_id == tenant_id,
            audit_t.c.target_id.in_(sorted({target_id for _, target_id in wanted})),
        )
        .order_by(audit_t.c.created_at, audit_t.c.id)
    )
    events: list[Event] = []
    for row in rows:
        if (row.target_kind, row.target_id) not in wanted:
            continue
        if row.action == "review.decide" and row.target_id in decided:
            # the decision's event exists already: it links its entry (events are built here)
            decided[row.target_id].links["audit_id"] = row.id
            continue
        meaning = ACTIONS.get(row.action, row.action)
        details = row.details or {}
        why = details.get("reason") or details.get("comment")
        tail = f": {why}" if why else ""
        kind: ActorKind = "agent" if row.actor_kind == "agent" else "user"
        target = LINKS.get(row.target_kind, f"{row.target_kind}_id")
        links = {"audit_id": row.id, target: row.target_id}
        events.append(
            Event(
                row.created_at,
                f"audit.{row.action}",
                kind,
                row.actor,
                f"{meaning[0].upper()}{meaning[1:]}{tail}.",
                links,
            )
        )
    return events
