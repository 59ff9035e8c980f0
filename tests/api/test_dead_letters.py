"""The dead-letter list through the HTTP API, on both databases: a dead run with its failed step,
that step's attempts and the last one's result; refused inputs are failed, not dead letters;
dismissing takes a run off the list; another tenant never sees it."""

from __future__ import annotations

from dirty_equals import IsFloat, IsStr

from tests.api.conftest import Signup
from tests.api.flows import settled, start, store

DOOMED = """
id: doomed
version: "1"
steps:
  - id: fetch
    kind: agent
    capability: demo.noop
  - id: boom
    kind: agent
    capability: demo.fail
    needs: [fetch]
    retry: {max_attempts: 2, backoff: {initial: 0.01, jitter: 0}}
    args: {message: "the ledger is locked"}
outputs: {}
"""

BAD_ITEM = """
id: bad-item
version: "1"
inputs:
  symbols: {type: array}
steps:
  - id: quotes
    kind: map
    over: "{{ inputs.symbols }}"
    step: {kind: agent, capability: quote.price, args: {symbol: "{{ item }}"}}
outputs: {}
"""


async def test_a_dead_run_is_listed_with_its_step_attempts_and_last_result(
    signup: Signup,
) -> None:
    admin = await signup()
    await store(admin.client, DOOMED)
    await store(admin.client, BAD_ITEM)
    dead = await settled(admin.client, (await start(admin.client, "doomed"))["id"], ("dead",))
    refused = await start(admin.client, "bad-item", {"symbols": ["ACME", ""]})
    refused = await settled(admin.client, refused["id"], ("failed", "dead"))
    # Invalid arguments to a map item are no failure a retry would fix: failed, not dead.
    assert refused["status"] == "failed"
    assert [item["index"] for item in refused["error"]["details"]["failed_items"]] == [1]

    listed = await admin.client.get("/api/v1/dead-letters")
    assert listed.status_code == 200
    error = {"code": "step_failed", "message": "the ledger is locked", "details": {}}
    assert listed.json() == {
        "items": [
            {
                "run_id": dead["id"],
                "workflow_id": "doomed",
                "workflow_version": "1",
                "started_at": dead["started_at"],
                "finished_at": dead["finished_at"],
                "error": {**error, "step": "boom"},
                "failed_step": "boom",
                "attempts": 2,
                "last_attempt": {
                    "step_key": "boom",
                    "attempt": 2,
                    "dispatch": 2,
                    "status": "failed",
                    "worker": IsStr(),
                    "idempotency_key": f"{dead['id']}:boom:2",
                    "started_at": IsStr(),
                    "finished_at": IsStr(),
                    "duration_ms": IsFloat(ge=0),
                    "error": error,
                    "args": {"message": "the ledger is locked"},
                },
            }
        ]
    }

    other = await signup("globex")
    assert (await other.client.get("/api/v1/dead-letters")).json() == {"items": []}
    gone = await other.client.post(f"/api/v1/runs/{dead['id']}/dismiss", json={})
    assert gone.status_code == 404

    dismissed = await admin.client.post(
        f"/api/v1/runs/{dead['id']}/dismiss", json={"reason": "supplier gone"}
    )
    assert dismissed.json()["status"] == "cancelled"
    assert (await admin.client.get("/api/v1/dead-letters")).json() == {"items": []}


async def test_the_list_takes_a_bounded_limit(signup: Signup) -> None:
    admin = await signup()
    huge = await admin.client.get("/api/v1/dead-letters", params={"limit": 5000})
    assert huge.status_code == 422
    assert huge.json()["error"]["message"] == "limit is at most 200 on this server; got 5000"
