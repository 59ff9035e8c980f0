"""The finance agent's steps, on SQLite and PostgreSQL: each is idempotent per call key (a
repeated attempt finds what the first stored and sends nothing again), refuses what cannot be
done saying what to fix, and `payment.remind` runs the tenant's dunning from the `sales-dunning`
workflow, each reminder once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from dirty_equals import IsStr

from batonflow.agents.agent import CallContext
from batonflow.api.deps import ApiState
from batonflow.apps.sales import invoices
from batonflow.apps.sales.finance_agent import (
    IssueIn,
    PrepareIn,
    SendContractIn,
    issue_invoice,
    prepare_contract,
    send_contract,
)
from batonflow.errors import StepFailed
from batonflow.store.db import Conn
from batonflow.workflows.step_context import TenantRows
from tests.api.flows import settled, start
from tests.apps.sales import finance_records as records
from tests.apps.sales.conftest import SALES, Join
from tests.apps.sales.smtp_fixtures import Inbox, smtp_server
from tests.apps.sales.test_flow_deal import Writes
from tests.apps.sales.test_flow_outreach import install

__all__ = ["smtp_server"]


@pytest.fixture(autouse=True)
def mail(monkeypatch: pytest.MonkeyPatch, smtp_server: Inbox) -> None:
    monkeypatch.setenv("BATONFLOW_SALES_SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("BATONFLOW_SALES_MAIL_FROM", "billing@acme.example")


def context(state: ApiState, tenant_id: str, key: str) -> CallContext:
    return CallContext(
        tenant_id=tenant_id,
        run_id="run-1",
        step_id="step",
        attempt=1,
        idempotency_key=key,
        deadline=None,
        worker="test",
        effects=None,  # type: ignore[arg-type]  # the capabilities apply no effect
        data=TenantRows(tenant_id, state.query, state.transact),
    )


async def a_deal(state: ApiState, tenant_id: str) -> str:
    db = Writes(state)
    company_id = await records.company(db, tenant_id)  # type: ignore[arg-type]
    return await records.deal(db, tenant_id, company_id, [("Seats", "4", "25", "0")])  # type: ignore[arg-type]


async def test_a_contract_is_prepared_once_per_key_and_sent_only_when_approved(
    sales_member: Join, sales_state: ApiState, smtp_server: Inbox
) -> None:
    acme = await sales_member("acme")
    deal_id = await a_deal(sales_state, acme.tenant_id)
    ctx = context(sales_state, acme.tenant_id, "run-1:prepare:1")

    with pytest.raises(StepFailed) as none:
        await prepare_contract(ctx, PrepareIn(deal_id=deal_id))
    assert (none.value.message, none.value.instance_retryable) == (
        "the tenant has no contract template; add one first",
        False,
    )
    body = {"name": "Short", "body": "{{ deal.title }} for {{ total }} {{ deal.currency }}"}
    assert (await acme.client.post(f"{SALES}/contract-templates", json=body)).status_code == 201

    first = await prepare_contract(ctx, PrepareIn(deal_id=deal_id))
    again = await prepare_contract(ctx, PrepareIn(deal_id=deal_id))
    assert first == again
    assert first.model_dump() == {
        "contract_id": IsStr(),
        "deal_id": deal_id,
        "version": 1,
        "status": "in_review",
        "terms": {},
    }
    listed = (await acme.client.get(f"{SALES}/contracts")).json()["items"]
    assert [c["id"] for c in listed] == [first.contract_id]

    sending = context(sales_state, acme.tenant_id, "run-1:send:1")
    with pytest.raises(StepFailed) as unapproved:
        await send_contract(sending, SendContractIn(contract_id=first.contract_id))
    assert (unapproved.value.message, unapproved.value.instance_retryable) == (
        f"contract '{first.contract_id}' is in_review; only an approved contract is sent",
        False,
    )
    sent = await send_contract(
        sending, SendContractIn(contract_id=first.contract_id, approved_by="rita")
    )
    repeated = await send_contract(
        sending, SendContractIn(contract_id=first.contract_id, approved_by="rita")
    )
    assert sent == repeated
    assert sent.model_dump() == {
        "contract_id": first.contract_id,
        "status": "sent",
        "email_id": IsStr(),
        "message_id": IsStr(),
        "to": "hank@globex.example",
    }
    [arrived] = smtp_server.arrived  # once
    (part,) = list(arrived.message.iter_attachments())
    assert (part.get_filename(), part.get_content_type()) == (
        f"contract-{first.contract_id}.pdf",
        "application/pdf",
    )


async def test_an_invoice_is_issued_and_emailed_once(
    sales_member: Join, sales_state: ApiState, smtp_server: Inbox
) -> None:
    acme = await sales_member("acme")
    deal_id = await a_deal(sales_state, acme.tenant_id)
    ctx = context(sales_state, acme.tenant_id, "run-1:invoice:1")
    args = IssueIn(deal_id=deal_id, tax_rate=Decimal("0.2"), terms_days=14)

    first = await issue_invoice(ctx, args)
    again = await issue_invoice(ctx, args)
    assert first == again
    assert first.model_dump() == {
        "invoice_id": IsStr(),
        "number": f"INV-{datetime.now(UTC).year}-0001",
        "currency": "EUR",
        "subtotal": Decimal("100.00"),
        "tax": Decimal("20.00"),
        "total": Decimal("120.00"),
        "due_date": (datetime.now(UTC) + timedelta(days=14)).date(),
        "email_id": IsStr(),
        "message_id": IsStr(),
    }
    [arrived] = smtp_server.arrived
    assert arrived.message["Subject"] == f"Invoice {first.number}"
    listed = (await acme.client.get(f"{SALES}/invoices")).json()["items"]
    assert [(i["id"], i["status"]) for i in listed] == [(first.invoice_id, "sent")]

    with pytest.raises(StepFailed) as missing:
        await issue_invoice(ctx, IssueIn(deal_id="nope"))
    assert (missing.value.message, missing.value.instance_retryable) == ("no deal 'nope'", False)


async def test_the_dunning_workflow_reminds_once(
    sales_member: Join, sales_state: ApiState, smtp_server: Inbox
) -> None:
    acme = await sales_member("acme")
    deal_id = await a_deal(sales_state, acme.tenant_id)
    issued = datetime.now(UTC) - timedelta(days=5)

    async def overdue(conn: Conn) -> str:
        made = await invoices.from_deal(
            conn, acme.tenant_id, deal_id, tax_rate=Decimal(0), terms_days=0, now=issued
        )
        done = await invoices.issue(
            conn, acme.tenant_id, made["id"], today=issued.date(), now=issued
        )
        return str(done["number"])

    number = await sales_state.transact(overdue)
    await install(acme.client, "sales-dunning.yaml")

    run = await start(acme.client, "sales-dunning")
    done = await settled(acme.client, run["id"], ("succeeded", "failed", "dead"), 60)
    assert done["status"] == "succeeded", done["error"]
    assert done["outputs"] == {
        "reminders": [
            {
                "invoice_id": IsStr(),
                "number": number,
                "level": 1,
                "due_on": (issued + timedelta(days=3)).date().isoformat(),
                "state": "sent",
                "email_id": IsStr(),
                "error": None,
            }
        ]
    }
    rerun = await start(acme.client, "sales-dunning")
    again = await settled(acme.client, rerun["id"], ("succeeded", "failed", "dead"), 60)
    assert again["outputs"] == {"reminders": []}
    [arrived] = smtp_server.arrived  # the second run sent nothing
    assert arrived.recipients == ["hank@globex.example"]
