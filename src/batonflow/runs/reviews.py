"""Decisions on `review` steps (approve, edit, reject) and data for `input` steps (submit), each
applied exactly once: a second decision on the same review is a `Conflict`, however close
together the two arrive, since closing the review is a conditional update inside the
transaction that holds the run's lock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jsonschema

from batonflow.audit import log as audit
from batonflow.errors import Conflict, InvalidInput, PermissionDenied
from batonflow.runs.service import Actor, checkpointer
from batonflow.store import reviews as review_store
from batonflow.store.run_tx import RunTx
from batonflow.workflows import actions
from batonflow.workflows.actions import Decision
from batonflow.workflows.checkpoint import CommitResult, SpecCache


async def decide(
    conn: Any,
    specs: SpecCache,
    *,
    tenant_id: str,
    review_id: str,
    decision: Decision,
    actor: Actor,
    now: datetime,
    data: Any = None,
    comment: str | None = None,
) -> CommitResult:
    review = await review_store.get_review(conn, tenant_id, review_id, viewer=actor.viewer)
    if review.status != "pending":
        by = f" by {review.decided_by}" if review.decided_by else ""
        raise Conflict(
            f"review {review_id} was already decided ({review.status}{by}); a decision applies once",
            details={"status": review.status, "decided_by": review.decided_by},
        )
    if not actor.roles & set(review.reviewers):
        raise PermissionDenied(
            f"{actor.name} may not decide review {review_id}; it needs one of the roles {', '.join(review.reviewers)}"
        )
    allowed = {"submit"} if review.kind == "input" else {"approve", "edit", "reject"}
    if decision not in allowed:
        raise InvalidInput(
            f"a {review.kind} step takes {' or '.join(sorted(allowed))}, not '{decision}'"
        )
    if decision == "edit" and not review.allow_edit:
        raise InvalidInput(f"step '{review.step_key}' does not allow edits; approve or reject it")
    if review.kind == "input":
        _check_input(review.input_schema or {}, data)

    tx = RunTx(conn, now)
    await tx.load([review.run_id], tenant_id=tenant_id)
    run = tx.runs[review.run_id]
    settle = checkpointer(specs, actor)
    await specs.load(conn, [run])
    t = settle.transition(tx)
    actions.check_waits(t, run, review)
    status = actions.DECIDED[decision]
    if not await review_store.close_review(
        conn,
        tenant_id,
        review_id,
        status=status,
        decision=decision,
        data=data,
        comment=comment,
        by=actor.name,
        now=now,
    ):
        raise Conflict(f"review {review_id} was already decided; a decision applies once")
    actions.decide(t, run, review, decision, actor.name, data, comment)
    result = CommitResult()
    await settle.settle(tx, t, run, result)
    result.events = await tx.flush(t.changes)
    await audit.record(
        conn,
        tenant_id,
        "review.decide",
        actor=actor,
        target=("review", review_id),
        details={
            "run_id": review.run_id,
            "step": review.step_key,
            "decision": decision,
            "comment": comment,
        },
        now=now,
    )
    return result


def _check_input(schema: dict[str, Any], data: Any) -> None:
    try:
        jsonschema.Draft202012Validator(schema).validate(data)
    except jsonschema.ValidationError as exc:
        where = ".".join(str(p) for p in exc.absolute_path) or "data"
        raise InvalidInput(
            f"{where}: {exc.message}", details={"path": list(exc.absolute_path)}
        ) from None
