"""The sales app's sender refuses an email that carries a secret or a credential, on SQLite and
PostgreSQL: from a run (text a model or an injected input put there) the step fails with
`output_leak`, an `output.leak` event and audit entry, and nothing reaches the SMTP server or the
email log; from the API a person gets a 422 that says what to remove."""

from __future__ import annotations

import pytest

from batonflow.api.deps import ApiState
from batonflow.store import runs as run_store
from tests.api.flows import settled, start, store
from tests.api.test_audit import log_of
from tests.apps.sales.conftest import SALES, Join
from tests.apps.sales.smtp_fixtures import Inbox, smtp_server

__all__ = ["smtp_server"]
KEY = "AKIA" + "ZQ3RT7WX2MN8PL4V"  # pragma: allowlist secret
FORWARD = """
id: sales-forward
version: 1
inputs:
  to: {type: string}
  body: {type: string}
steps:
  - id: send
    kind: agent
    capability: sales.email.send
    args: {to: "{{ inputs.to }}", subject: Your notes, body: "{{ inputs.body }}"}
"""


async def test_a_run_never_sends_an_email_carrying_a_credential(
    sales_state: ApiState,
    sales_member: Join,
    smtp_server: Inbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BATONFLOW_SALES_SMTP_PORT", str(smtp_server.port))
    acme = await sales_member("acme")
    await store(acme.client, FORWARD)
    body = f"Here are the notes. Our deploy key is {KEY}, keep it safe."
    run = await start(acme.client, "sales-forward", {"to": "ada@client.example", "body": body})
    done = await settled(acme.client, run["id"], ("succeeded", "failed", "dead"))

    # Retryable (a model may write it again without the leak): out of attempts, the run is dead.
    assert done["status"] == "dead", done
    assert done["error"]["code"] == "output_leak", done
    assert smtp_server.arrived == []
    listed = (await acme.client.get(f"{SALES}/emails")).json()
    assert listed["items"] == []
    events = await sales_state.query(
        lambda conn: run_store.list_events(conn, acme.tenant_id, run["id"])
    )
    leak = {
        "channel": "email",
        "found": ["credential: AWS access key id"],
        "by": "sales.email.send",
        "attempt": 1,
    }
    assert [e.data for e in events if e.type == "output.leak"] == [leak]
    [entry] = await log_of(acme.client, action="output.leak")
    assert (entry["actor_kind"], entry["target_id"], entry["details"]) == (
        "agent",
        run["id"],
        {"step": "send", **leak},
    )


async def test_the_email_api_refuses_a_credential_with_what_to_remove(
    sales_member: Join, smtp_server: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATONFLOW_SALES_SMTP_PORT", str(smtp_server.port))
    acme = await sales_member("acme")
    body = {"key": "k1", "to": ["ada@client.example"], "subject": "Keys", "body": f"key {KEY}"}
    refused = await acme.client.post(f"{SALES}/emails", json=body)

    assert refused.status_code == 422
    assert refused.json() == {
        "error": {
            "code": "output_leak",
            "message": "the email carries credential: AWS access key id; it was not sent. "
            "Remove it and send again",
            "details": {"channel": "email", "found": ["credential: AWS access key id"]},
        }
    }
    assert smtp_server.arrived == []
    assert (await acme.client.get(f"{SALES}/emails")).json()["items"] == []
