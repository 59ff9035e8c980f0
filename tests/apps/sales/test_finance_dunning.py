"""Dunning on SQLite and PostgreSQL: one reminder per invoice per run, the highest level due;
levels passed during downtime recorded as skipped, never sent late; a level never sent twice;
nothing for paid, void or draft invoices; a failed send retried under the same key; a reply
from the customer stops the sequence."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from dirty_equals import IsStr

from batonflow.api.deps import ApiState
from batonflow.apps.sales import dunning, inbound, invoices, payments
from batonflow.apps.sales.dunning import Step, step
from batonflow.store.db import Conn
from tests.apps.sales import finance_records as records
from tests.apps.sales.conftest import SALES
from tests.apps.sales.smtp_fixtures import Inbox, smtp_server

__all__ = ["smtp_server"]

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
ISSUED = date(2026, 3, 2)  # due the same day (terms of 0 days)
DAYS = (3, 10, 20)  # reminders on 03-05, 03-12 and 03-22


def test_step_sends_the_highest_level_due_and_skips_the_rest() -> None:
    due = date(2026, 3, 2)
    assert step(due, date(2026, 3, 4), DAYS, set()) == Step(None, ())
    assert step(due, date(2026, 3, 5), DAYS, set()) == Step(1, ())
    assert step(due, date(2026, 3, 5), DAYS, {1}) == Step(None, ())
    assert step(due, date(2026, 3, 25), DAYS, set()) == Step(3, (1, 2))
    assert step(due, date(2026, 3, 25), DAYS, {1}) == Step(3, (2,))
    assert step(due, date(2026, 3, 25), DAYS, {3}) == Step(None, ())


class Outbox:
    """A recording `send`: every call, and the email ids it returned."""

    def __init__(self, failing: set[str] | None = None) -> None:
        self.calls: list[tuple[str, str, str, int]] = []
        self.failing = failing or set()

    async def __call__(self, tenant_id: str, key: str, invoice: dict[str, Any], level: int) -> str:
        self.calls.append((tenant_id, key, invoice["number"], level))
        if key in self.failing:
            self.failing.discard(key)
            raise ConnectionError("the SMTP server went away")
        return f"email-{len(self.calls)}"


async def issued(state: ApiState, tenant_id: str, company_id: str) -> dict[str, Any]:
    async def work(conn: Conn) -> dict[str, Any]:
        made = await invoices.create_draft(
            conn,
            tenant_id,
            company_id=company_id,
            currency="EUR",
            lines=[invoices.NewLine("Seat", Decimal(2), Decimal(50))],
            tax_rate=Decimal("0.19"),
            terms_days=0,
            now=NOW,
        )
        return await invoices.issue(conn, tenant_id, made["id"], today=ISSUED, now=NOW)

    return await state.transact(work)


async def run(state: ApiState, tenant_id: str, on: date, outbox: Outbox) -> list[dict[str, Any]]:
    return await dunning.run(state.db, tenant_id, on, outbox, days=DAYS)


async def test_catch_up_after_downtime_sends_only_the_latest_level(
    sales_state: ApiState, sales_member: Any
) -> None:
    acme = await sales_member("acme")
    company_id = await records.company(sales_state.db, acme.tenant_id)
    invoice = await issued(sales_state, acme.tenant_id, company_id)
    number, invoice_id = invoice["number"], invoice["id"]
    outbox = Outbox()

    assert await run(sales_state, acme.tenant_id, date(2026, 3, 4), outbox) == []
    first = await run(sales_state, acme.tenant_id, date(2026, 3, 5), outbox)
    assert first == [
        {
            "invoice_id": invoice_id,
            "number": number,
            "level": 1,
            "due_on": date(2026, 3, 5),
            "state": "sent",
            "email_id": "email-1",
            "error": None,
        }
    ]
    assert await run(sales_state, acme.tenant_id, date(2026, 3, 6), outbox) == []
    # down from 03-07 to 03-24: level 2 (03-12) passed unsent, level 3 (03-22) is due
    caught_up = await run(sales_state, acme.tenant_id, date(2026, 3, 25), outbox)
    assert [(d["level"], d["state"], d["email_id"]) for d in caught_up] == [
        (2, "skipped", None),
        (3, "sent", "email-2"),
    ]
    assert await run(sales_state, acme.tenant_id, date(2026, 4, 30), outbox) == []
    assert outbox.calls == [
        (acme.tenant_id, f"dunning:{invoice_id}:1", number, 1),
        (acme.tenant_id, f"dunning:{invoice_id}:3", number, 3),
    ]
    recorded = await sales_state.query(
        lambda conn: dunning.reminders(conn, acme.tenant_id, invoice_id)
    )
    assert [{k: r[k] for k in ("level", "due_on", "state", "email_id")} for r in recorded] == [
        {"level": 1, "due_on": date(2026, 3, 5), "state": "sent", "email_id": "email-1"},
        {"level": 2, "due_on": date(2026, 3, 12), "state": "skipped", "email_id": None},
        {"level": 3, "due_on": date(2026, 3, 22), "state": "sent", "email_id": "email-2"},
    ]
    status = await sales_state.query(
        lambda conn: invoices.get_invoice(conn, acme.tenant_id, invoice_id)
    )
    assert status["status"] == "overdue"
    listed = await acme.client.get(f"{SALES}/invoices/{invoice_id}/reminders")
    assert listed.json() == [
        {"level": level, "due_on": on, "state": state, "email_id": email, "created_at": IsStr()}
        for level, on, state, email in (
            (1, "2026-03-05", "sent", "email-1"),
            (2, "2026-03-12", "skipped", None),
            (3, "2026-03-22", "sent", "email-2"),
        )
    ]
    other = await sales_member("globex")
    hidden = await other.client.get(f"{SALES}/invoices/{invoice_id}/reminders")
    assert hidden.status_code == 404


async def test_payment_stops_reminders_and_void_or_draft_get_none(
    sales_state: ApiState, sales_member: Any
) -> None:
    acme = await sales_member("acme")
    company_id = await records.company(sales_state.db, acme.tenant_id)
    paying = await issued(sales_state, acme.tenant_id, company_id)
    voided = await issued(sales_state, acme.tenant_id, company_id)
    await sales_state.transact(
        lambda conn: invoices.create_draft(
            conn,
            acme.tenant_id,
            company_id=company_id,
            currency="EUR",
            lines=[invoices.NewLine("Seat", Decimal(1), Decimal(1))],
            tax_rate=Decimal(0),
            now=NOW,
        )
    )
    await sales_state.transact(
        lambda conn: invoices.void(conn, acme.tenant_id, voided["id"], now=NOW)
    )
    outbox = Outbox()
    first = await run(sales_state, acme.tenant_id, date(2026, 3, 5), outbox)
    assert [(d["invoice_id"], d["level"], d["state"]) for d in first] == [(paying["id"], 1, "sent")]
    await sales_state.transact(
        lambda conn: payments.record(
            conn,
            acme.tenant_id,
            paying["id"],
            amount=Decimal("119.00"),
            paid_on=date(2026, 3, 8),
            reference="wire",
            actor="finance",
            now=NOW,
        )
    )
    assert await run(sales_state, acme.tenant_id, date(2026, 3, 30), outbox) == []
    assert [call[3] for call in outbox.calls] == [1]


async def test_a_failed_send_is_retried_under_the_same_key(
    sales_state: ApiState, sales_member: Any
) -> None:
    acme = await sales_member("acme")
    company_id = await records.company(sales_state.db, acme.tenant_id)
    one = await issued(sales_state, acme.tenant_id, company_id)
    two = await issued(sales_state, acme.tenant_id, company_id)
    broken = f"dunning:{one['id']}:1"
    outbox = Outbox(failing={broken})
    done = await run(sales_state, acme.tenant_id, date(2026, 3, 5), outbox)
    assert sorted((d["number"], d["state"], d["error"]) for d in done) == [
        (one["number"], "failed", "the SMTP server went away"),
        (two["number"], "sent", None),
    ]
    retried = await run(sales_state, acme.tenant_id, date(2026, 3, 6), outbox)
    assert retried == [
        {
            "invoice_id": one["id"],
            "number": one["number"],
            "level": 1,
            "due_on": date(2026, 3, 5),
            "state": "sent",
            "email_id": IsStr(),
            "error": None,
        }
    ]
    assert sorted(key for _, key, _, _ in outbox.calls) == sorted(
        [broken, broken, f"dunning:{two['id']}:1"]
    )


async def test_a_run_touches_only_its_tenant(sales_state: ApiState, sales_member: Any) -> None:
    acme = await sales_member("acme")
    other = await sales_member("globex")
    theirs = await issued(
        sales_state, other.tenant_id, await records.company(sales_state.db, other.tenant_id)
    )
    outbox = Outbox()
    assert await run(sales_state, acme.tenant_id, date(2026, 3, 30), outbox) == []
    untouched = await sales_state.query(
        lambda conn: invoices.get_invoice(conn, other.tenant_id, theirs["id"])
    )
    assert (untouched["status"], outbox.calls) == ("sent", [])


async def test_the_customers_reply_stops_the_reminders(
    sales_state: ApiState, sales_member: Any, smtp_server: Inbox
) -> None:
    acme = await sales_member("acme")
    company_id = await records.company(sales_state.db, acme.tenant_id)
    invoice = await issued(sales_state, acme.tenant_id, company_id)
    send = dunning.mail_sender(sales_state.db, smtp_server.settings())

    async def remind(on: date) -> list[tuple[int, str]]:
        done = await dunning.run(sales_state.db, acme.tenant_id, on, send, days=DAYS)
        return [(d["level"], d["state"]) for d in done]

    assert await remind(date(2026, 3, 5)) == [(1, "sent")]
    [arrived] = smtp_server.arrived
    reminder = arrived.message
    reply = (
        f"From: hank@globex.example\r\nTo: {reminder['From']}\r\n"
        f"Subject: Re: {reminder['Subject']}\r\nIn-Reply-To: {reminder['Message-ID']}\r\n"
        "Message-ID: <answer-1@globex.example>\r\n\r\nPaid on Friday, sorry for the delay.\r\n"
    ).encode()
    await sales_state.transact(lambda conn: inbound.record_reply(conn, acme.tenant_id, reply, NOW))

    assert await remind(date(2026, 3, 12)) == [(2, "replied")]
    assert await remind(date(2026, 3, 22)) == [(3, "replied")]
    assert len(smtp_server.arrived) == 1  # nothing after the reply
    listed = await sales_state.query(
        lambda conn: dunning.reminders(conn, acme.tenant_id, invoice["id"])
    )
    assert [(r["level"], r["state"]) for r in listed] == [
        (1, "sent"),
        (2, "replied"),
        (3, "replied"),
    ]
