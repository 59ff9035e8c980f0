"""Dunning: payment reminders for issued invoices past due, on a schedule of levels (days after
the due date, `SalesSettings.dunning_days`, e.g. 3, 10, 20).

`run` is called once a day or so (`batonflow sales dunning run`, a schedule). Per invoice it
sends at most one reminder per run: the highest level now due. Levels that fell due while
nothing ran (downtime) are recorded as `skipped`, never sent late in a burst. A level is
recorded once (unique per invoice and level), and its email goes out under the idempotency key
`dunning:{invoice}:{level}`, so a run retried after a crash between the send and the record
sends nothing twice. Paid and void invoices get nothing; a payment stops the reminders, and so
does the customer's reply to any email about the invoice (the level is recorded as `replied`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from batonflow.apps.sales import emails, invoices, money, threads
from batonflow.apps.sales import tables as crm
from batonflow.apps.sales.finance_tables import dunning_reminders
from batonflow.apps.sales.finance_tables import invoices as invoices_t
from batonflow.apps.sales.mail_tables import emails as emails_t
from batonflow.apps.sales.settings import SalesSettings
from batonflow.errors import InvalidInput
from batonflow.ids import new_id
from batonflow.store.db import Conn, Database

log = logging.getLogger(__name__)

# send(tenant_id, key, invoice, level) -> the id of the email sent
Send = Callable[[str, str, dict[str, Any], int], Awaitable[str]]


Recorded = Sequence[tuple[int, date, str, str | None]]  # level, due on, state, email id


def key(invoice_id: str, level: int) -> str:
    return f"dunning:{invoice_id}:{level}"


@dataclass(frozen=True, slots=True)
class Step:
    """What a run does for one invoice: the level to send (None: nothing now) and the earlier
    levels to record as skipped."""

    send: int | None
    skip: tuple[int, ...]


def step(due_date: date, today: date, days: Sequence[int], recorded: set[int]) -> Step:
    """The reminder due for an invoice due on `due_date`, given the levels already recorded."""
    due = [level for level, after in enumerate(days, 1) if due_date + timedelta(after) <= today]
    if not due or max(recorded, default=0) >= due[-1]:
        return Step(None, ())
    return Step(due[-1], tuple(level for level in due[:-1] if level not in recorded))


def reminder_text(invoice: dict[str, Any], level: int) -> tuple[str, str]:
    """A reminder's subject and body (the numbers are the invoice's, written by code)."""
    code = invoice["currency"]
    subject = f"Reminder {level}: invoice {invoice['number']} is overdue"
    body = (
        f"Invoice {invoice['number']} of {invoice['issue_date']} for "
        f"{money.text(invoice['total'], code)} {code} was due on {invoice['due_date']}.\n"
        f"The open balance is {money.text(invoice['balance'], code)} {code}.\n\n"
        "Please pay it at your earliest convenience, or reply if it has already been paid."
    )
    return subject, body


async def _due(conn: Conn, tenant_id: str, today: date) -> list[tuple[Any, set[int]]]:
    await invoices.mark_overdue(conn, tenant_id, today)
    rows = list(
        await conn.execute(
            sa.select(invoices_t.c.id, invoices_t.c.due_date)
            .where(
                invoices_t.c.tenant_id == tenant_id,
                invoices_t.c.status.in_(invoices.OPEN),
                invoices_t.c.due_date < today,
            )
            .order_by(invoices_t.c.due_date, invoices_t.c.id)
        )
    )
    recorded: dict[str, set[int]] = {row.id: set() for row in rows}
    if rows:
        found = await conn.execute(
            sa.select(dunning_reminders.c.invoice_id, dunning_reminders.c.level).where(
                dunning_reminders.c.tenant_id == tenant_id,
                dunning_reminders.c.invoice_id.in_(list(recorded)),
            )
        )
        for found_row in found:
            recorded[found_row.invoice_id].add(found_row.level)
    return [(row, recorded[row.id]) for row in rows]


async def _record(
    conn: Conn,
    tenant_id: str,
    invoice_id: str,
    rows: Recorded,
    now: datetime,
) -> None:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    for level, due_on, state, email_id in rows:
        await conn.execute(
            insert(dunning_reminders)
            .values(
                id=new_id(),
                tenant_id=tenant_id,
                invoice_id=invoice_id,
                level=level,
                due_on=due_on,
                state=state,
                email_id=email_id,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["invoice_id", "level"])
        )


async def _still_open(conn: Conn, tenant_id: str, invoice_id: str) -> dict[str, Any] | None:
    invoice = await invoices.get_invoice(conn, tenant_id, invoice_id)
    return invoice if invoice["status"] in invoices.OPEN else None


async def answered(conn: Conn, tenant_id: str, invoice_id: str) -> bool:
    """Whether the customer replied to an email about the invoice: a person takes it from there."""
    found = await conn.scalar(
        sa.select(sa.func.count())
        .select_from(emails_t)
        .where(
            emails_t.c.tenant_id == tenant_id,
            emails_t.c.invoice_id == invoice_id,
            emails_t.c.replied_at.is_not(None),
        )
    )
    return bool(found)


async def run(
    db: Database,
    tenant_id: str,
    today: date,
    send: Send,
    *,
    days: Sequence[int] = (3, 10, 20),
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Mark past-due invoices overdue and send each one's reminder now due (`days`: the levels'
    days after the due date; `now`: when the records are made, default the clock); what was
    done, per level: invoice, number, level, due_on, state (sent, skipped, replied: not sent
    because the customer answered an email about the invoice, or failed), email_id, error."""
    now = now or datetime.now(UTC)
    done: list[dict[str, Any]] = []
    for row, recorded in await db.write(lambda conn: _due(conn, tenant_id, today)):
        planned = step(row.due_date, today, days, recorded)
        if planned.send is not None:
            done += await _remind(db, tenant_id, row.id, planned, row.due_date, send, days, now)
    return done


async def _remind(
    db: Database,
    tenant_id: str,
    invoice_id: str,
    planned: Step,
    due_date: date,
    send: Send,
    days: Sequence[int],
    now: datetime,
) -> list[dict[str, Any]]:
    assert planned.send is not None
    level = planned.send
    sent_on = due_date + timedelta(days[level - 1])
    skipped: Recorded = [
        (n, due_date + timedelta(days[n - 1]), "skipped", None) for n in planned.skip
    ]
    await db.write(lambda conn: _record(conn, tenant_id, invoice_id, skipped, now))
    invoice = await db.read(lambda conn: _still_open(conn, tenant_id, invoice_id))
    base = {"invoice_id": invoice_id, "number": invoice["number"] if invoice else None}
    done = [
        base | {"level": n, "due_on": on, "state": state, "email_id": None, "error": None}
        for n, on, state, _ in skipped
    ]
    if invoice is None:  # paid or voided since this run began
        return done
    if await db.read(lambda conn: answered(conn, tenant_id, invoice_id)):
        # The customer answered: the sequence stops, each level due is recorded, none is sent.
        stopped: Recorded = [(level, sent_on, "replied", None)]
        await db.write(lambda conn: _record(conn, tenant_id, invoice_id, stopped, now))
        replied = {"state": "replied", "email_id": None, "error": None}
        return [*done, base | {"level": level, "due_on": sent_on} | replied]
    try:
        email_id = await send(tenant_id, key(invoice_id, level), invoice, level)
    except Exception as exc:  # one invoice's failure does not stop the others' reminders
        log.warning("dunning reminder %s failed: %s", key(invoice_id, level), exc)
        failed = {"state": "failed", "email_id": None, "error": str(exc) or type(exc).__name__}
        return [*done, base | {"level": level, "due_on": sent_on} | failed]
    sent: Recorded = [(level, sent_on, "sent", email_id)]
    await db.write(lambda conn: _record(conn, tenant_id, invoice_id, sent, now))
    sent_row = {"state": "sent", "email_id": email_id, "error": None}
    return [*done, base | {"level": level, "due_on": sent_on} | sent_row]


async def recipient(conn: Conn, tenant_id: str, invoice: dict[str, Any]) -> str:
    """Whom an invoice's reminders go to: its deal's contact, else its company's first one."""
    contact_id = None
    if invoice["deal_id"] is not None:
        contact_id = await conn.scalar(
            sa.select(crm.deals.c.contact_id).where(
                crm.deals.c.tenant_id == tenant_id, crm.deals.c.id == invoice["deal_id"]
            )
        )
    query = sa.select(crm.contacts.c.email).where(crm.contacts.c.tenant_id == tenant_id)
    if contact_id is not None:
        query = query.where(crm.contacts.c.id == contact_id)
    else:
        query = query.where(crm.contacts.c.company_id == invoice["company_id"]).order_by(
            crm.contacts.c.created_at, crm.contacts.c.id
        )
    email = await conn.scalar(query.limit(1))
    if email is None:
        raise InvalidInput(
            f"invoice {invoice['number']}: its company has no contact to remind; add one"
        )
    return str(email)


def mail_sender(db: Database, settings: SalesSettings) -> Send:
    """A `send` through the app's email log (`emails.send_once`): each reminder goes out once
    under its key, linked to its invoice and deal and listed with the app's other email. A retry
    of a reminder whose send was never confirmed sends it as first written (a payment made since
    does not turn the retry into another email)."""

    async def send(tenant_id: str, key: str, invoice: dict[str, Any], level: int) -> str:
        async def compose(conn: Conn) -> tuple[str, str, str]:
            earlier = await threads.find_by_key(conn, tenant_id, key)
            if earlier is not None:
                return earlier["to_addrs"][0], earlier["subject"], earlier["body"]
            return (await recipient(conn, tenant_id, invoice), *reminder_text(invoice, level))

        to, subject, body = await db.read(compose)
        outgoing = emails.Outgoing(
            to=[to],
            subject=subject,
            body=body,
            deal_id=invoice["deal_id"],
            invoice_id=invoice["id"],
        )
        sent = await emails.send_once(db, settings, tenant_id, key, outgoing)
        if sent["status"] == "failed":
            raise ConnectionError(
                f"the reminder could not be sent: {sent['smtp_code']} {sent['smtp_message']}"
            )
        return str(sent["id"])

    return send


async def reminders(conn: Conn, tenant_id: str, invoice_id: str) -> list[dict[str, Any]]:
    """An invoice's recorded reminder levels, in order."""
    rows = await conn.execute(
        sa.select(dunning_reminders)
        .where(
            dunning_reminders.c.tenant_id == tenant_id,
            dunning_reminders.c.invoice_id == invoice_id,
        )
        .order_by(dunning_reminders.c.level)
    )
    return [dict(r._mapping) for r in rows]
