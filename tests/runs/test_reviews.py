"""Reviews and inputs: a person's decision is applied exactly once and the run resumes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.errors import Conflict, InvalidInput, PermissionDenied
from batonflow.runs.reviews import decide
from batonflow.runs.service import Actor
from batonflow.store import reviews as review_store
from batonflow.store import runs as run_store
from batonflow.store.db import reading
from batonflow.store.effects import list_effects
from batonflow.workflows.checkpoint import SpecCache
from batonflow.workflows.executor import Executor
from tests.conftest import ACTOR, now, start

OUTREACH = """
id: outreach
version: 1
steps:
  - id: draft
    kind: agent
    capability: email.draft
    args: {to: ada@example.com, name: Ada, company: Analytical, tier: A}
  - id: approve
    kind: review
    needs: [draft]
    subject: "{{ state.draft }}"
    instructions: check it
  - id: send
    kind: tool
    tool: email.send
    needs: [approve]
    args:
      to: "{{ state.approve.subject.to }}"
      subject: "{{ state.approve.subject.subject }}"
      body: "{{ state.approve.subject.body }}"
outputs: {subject: "{{ state.approve.subject.subject }}", approved: "{{ state.approve.approved }}"}
"""


async def _waiting(
    engine: AsyncEngine, tenant: str, executor: Executor, text: str = OUTREACH
) -> tuple[str, str]:
    run = await start(engine, tenant, text)
    assert await executor.drain([run.id]) == {run.id: "waiting"}
    async with reading(engine) as conn:
        (review,) = await review_store.list_reviews(conn, tenant)
    return run.id, review.id


async def _decide(
    engine: AsyncEngine, specs: SpecCache, tenant: str, review_id: str, decision: Any, **kw: Any
) -> None:
    async with engine.begin() as conn:
        await decide(
            conn,
            specs,
            tenant_id=tenant,
            review_id=review_id,
            decision=decision,
            actor=kw.pop("actor", ACTOR),
            now=now(),
            **kw,
        )


async def test_approving_resumes_the_run_and_sends_once(
    engine: AsyncEngine, tenant: str, executor: Executor, specs: SpecCache
) -> None:
    run_id, review_id = await _waiting(engine, tenant, executor)
    async with reading(engine) as conn:
        review = await review_store.get_review(conn, tenant, review_id)
    assert (review.kind, review.status, review.subject["to"], review.reviewers) == (
        "review",
        "pending",
        "ada@example.com",
        ["reviewer", "admin"],
    )
    await _decide(engine, specs, tenant, review_id, "approve", comment="ship it")
    assert await executor.drain([run_id]) == {run_id: "succeeded"}
    async with reading(engine) as conn:
        run = await run_store.get_run(conn, tenant, run_id)
        effects = await list_effects(conn, tenant, run_id)
        review = await review_store.get_review(conn, tenant, review_id)
    assert run.outputs == {"subject": "Analytical + Batonflow", "approved": True}
    assert [e["key"] for e in effects] == [f"{run_id}:send:1"]
    assert (review.status, review.decision, review.decided_by, review.comment) == (
        "approved",
        "approve",
        "tester",
        "ship it",
    )
    with pytest.raises(Conflict, match="already decided"):
        await _decide(engine, specs, tenant, review_id, "approve")


async def test_an_edit_replaces_what_is_sent(
    engine: AsyncEngine, tenant: str, executor: Executor, specs: SpecCache
) -> None:
    run_id, review_id = await _waiting(engine, tenant, executor)
    edited = {"to": "ada@example.com", "subject": "Hello Ada", "body": "Shorter."}
    await _decide(engine, specs, tenant, review_id, "edit", data=edited)
    assert await executor.drain([run_id]) == {run_id: "succeeded"}
    async with reading(engine) as conn:
        run = await run_store.get_run(conn, tenant, run_id)
        (effect,) = await list_effects(conn, tenant, run_id)
    assert run.outputs == {"subject": "Hello Ada", "approved": True}
    assert effect["payload"] == edited
    # Each attempt keeps what its templates resolved to: the review the original draft, the
    # send step the edited email it sent.
    async with reading(engine) as conn:
        attempts = await run_store.list_attempts(conn, tenant, run_id)
        review = await review_store.get_review(conn, tenant, review_id)
    args = {a["step_key"]: (a["status"], a["args"]) for a in attempts}
    assert args == {
        "draft": (
            "succeeded",
            {"to": "ada@example.com", "name": "Ada", "company": "Analytical", "tier": "A"},
        ),
        "approve": ("waiting", {"subject": review.subject}),
        "send": ("succeeded", edited),
    }
    assert review.subject != edited


async def test_rejecting_fails_the_run_and_sends_nothing(
    engine: AsyncEngine, tenant: str, executor: Executor, specs: SpecCache
) -> None:
    run_id, review_id = await _waiting(engine, tenant, executor)
    await _decide(engine, specs, tenant, review_id, "reject", comment="wrong tone")
    async with reading(engine) as conn:
        run = await run_store.get_run(conn, tenant, run_id)
        assert await list_effects(conn, tenant, run_id) == []
    assert run.status == "failed"
    assert run.error == {
        "code": "review_rejected",
        "message": "tester rejected the review: wrong tone",
        "details": {"review_id": review_id},
        "step": "approve",
    }


async def test_two_decisions_at_once_apply_exactly_one(
    engine: AsyncEngine, tenant: str, executor: Executor, specs: SpecCache
) -> None:
    run_id, review_id = await _waiting(engine, tenant, executor)
    outcomes = await asyncio.gather(
        _decide(engine, specs, tenant, review_id, "approve"),
        _decide(engine, specs, tenant, review_id, "reject"),
        return_exceptions=True,
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "NoneType"]
    async with reading(engine) as conn:
        events = await run_store.list_events(conn, tenant, run_id)
    assert [e.type for e in events].count("review.decided") == 1


async def test_only_listed_roles_may_decide(
    engine: AsyncEngine, tenant: str, executor: Executor, specs: SpecCache
) -> None:
    _, review_id = await _waiting(engine, tenant, executor)
    viewer = Actor("vic", frozenset({"viewer"}))
    with pytest.raises(PermissionDenied, match="needs one of the roles reviewer, admin"):
        await _decide(engine, specs, tenant, review_id, "approve", actor=viewer)


ASK = """
id: ask
version: 1
steps:
  - id: details
    kind: input
    prompt: How many seats?
    schema:
      type: object
      properties: {seats: {type: integer, minimum: 1}}
      required: [seats]
  - id: price
    kind: agent
    capability: demo.sleep
    needs: [details]
    args: {value: "{{ state.details.seats * 10 }}"}
outputs: {total: "{{ state.price.value }}"}
"""


async def test_an_input_step_takes_data_that_fits_its_schema(
    engine: AsyncEngine, tenant: str, executor: Executor, specs: SpecCache
) -> None:
    run_id, review_id = await _waiting(engine, tenant, executor, ASK)
    with pytest.raises(InvalidInput, match="seats: 0 is less than the minimum of 1"):
        await _decide(engine, specs, tenant, review_id, "submit", data={"seats": 0})
    with pytest.raises(InvalidInput, match="takes submit"):
        await _decide(engine, specs, tenant, review_id, "approve")
    await _decide(engine, specs, tenant, review_id, "submit", data={"seats": 4})
    assert await executor.drain([run_id]) == {run_id: "succeeded"}
    async with reading(engine) as conn:
        run = await run_store.get_run(conn, tenant, run_id)
    assert run.outputs == {"total": 40}
