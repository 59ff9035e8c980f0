"""The `sales-mail` agent in a workflow run, on SQLite and PostgreSQL: its step sends the email
once, an attempt dispatched again (same key) returns it without sending again, and an email the
server refuses fails the step, retryable (a later call under the key sends the same message)."""

from __future__ import annotations

import pytest

from batonflow.agents.agent import CallContext
from batonflow.api.deps import ApiState
from batonflow.apps.sales.mail_agent import SendIn, SendOut, send_email
from batonflow.errors import StepFailed
from batonflow.workflows.step_context import TenantRows
from tests.api.flows import settled, start, store
from tests.apps.sales.conftest import SALES, Join
from tests.apps.sales.smtp_fixtures import Inbox, smtp_server

__all__ = ["smtp_server"]
WELCOME = """
id: sales-welcome
version: 1
description: Send a welcome email
inputs:
  to: {type: string}
steps:
  - id: send
    kind: agent
    capability: sales.email.send
    args:
      to: "{{ inputs.to }}"
      subject: Welcome to Acme
      body: Hello, and welcome.
      invoice_id: ""
outputs:
  email: "{{ state.send }}"
"""


def context(tenant_id: str, state: ApiState, key: str) -> CallContext:
    return CallContext(
        tenant_id=tenant_id,
        run_id="run-1",
        step_id="send",
        attempt=2,
        idempotency_key=key,
        deadline=None,
        worker="test",
        effects=None,  # type: ignore[arg-type]  # the capability applies no effect
        data=TenantRows(tenant_id, state.query, state.transact),
    )


async def test_a_workflow_step_sends_the_email_once(
    sales_state: ApiState,
    sales_member: Join,
    smtp_server: Inbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BATONFLOW_SALES_SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("BATONFLOW_SALES_MAIL_FROM", "sales@acme.example")
    assert "sales.email.send" in sales_state.registry.capability_names()
    acme = await sales_member("acme")
    await store(acme.client, WELCOME)
    run = await start(acme.client, "sales-welcome", {"to": "ada@client.example"})
    done = await settled(acme.client, run["id"], ("succeeded", "failed", "dead"))
    assert done["status"] == "succeeded", done
    out = done["outputs"]["email"]
    email = (await acme.client.get(f"{SALES}/emails/{out['email_id']}")).json()
    assert out == {
        "email_id": email["id"],
        "message_id": email["message_id"],
        "thread_id": email["message_id"],
        "status": "sent",
    }
    assert (email["to_addrs"], email["subject"], email["invoice_id"]) == (
        ["ada@client.example"],
        "Welcome to Acme",
        None,
    )
    [arrived] = smtp_server.arrived
    assert str(arrived.message["Message-ID"]) == email["message_id"]

    # The attempt's checkpoint was lost after the email went out: it runs again, same key.
    args = SendIn(to="ada@client.example", subject="Welcome to Acme", body="Hello, and welcome.")
    again = await send_email(context(acme.tenant_id, sales_state, email["idempotency_key"]), args)
    assert again == SendOut.model_validate(out)
    assert len(smtp_server.arrived) == 1


async def test_a_refused_email_fails_the_step_for_a_retry(
    sales_state: ApiState,
    sales_member: Join,
    smtp_server: Inbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BATONFLOW_SALES_SMTP_PORT", str(smtp_server.port))
    acme = await sales_member("acme")
    smtp_server.refuse.add("ada@client.example")
    args = SendIn(to=["ada@client.example"], subject="Hi", body="Hello")
    with pytest.raises(StepFailed) as failed:
        await send_email(context(acme.tenant_id, sales_state, "run-1:send"), args)
    assert failed.value.instance_retryable
    assert str(failed.value).endswith(
        f"was not sent: the SMTP server 127.0.0.1:{smtp_server.port} refused every recipient: "
        "ada@client.example (550 5.1.1 no such mailbox here)"
    )
    smtp_server.refuse.clear()
    sent = await send_email(context(acme.tenant_id, sales_state, "run-1:send"), args)
    assert sent.status == "sent"
    assert len(smtp_server.arrived) == 1
