"""`map` steps: the sub-step once per item of `over`, at most `concurrency` at once. Each item
is committed as it finishes (its own row, attempts and retries), so a restarted map runs only the
items that had not been committed. A failed item does not stop its siblings; the step then fails
with every failed item, its index, value, attempts and last error, in its details.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from batonflow.errors import OutputLeak, StepFailed, TemplateError, is_retryable
from batonflow.llm.leaks import labels
from batonflow.llm.records import CallRecord
from batonflow.runs.run import StepStatus
from batonflow.store import runs as run_store
from batonflow.store.run_tx import new_step_row
from batonflow.workflows import engine, templates
from batonflow.workflows.attempts import Outcome
from batonflow.workflows.spec import MapItemAgent, MapStep
from batonflow.workflows.step_context import Attempt, StepContext, call_context, error_dict
from batonflow.workflows.steps import outcome


async def run_map(sc: StepContext, a: Attempt) -> Outcome:
    step = a.step
    assert isinstance(step, MapStep)
    items = templates.evaluate(step.over, a.scope)
    if not isinstance(items, list | tuple):
        raise TemplateError(f"map over '{step.over}' gave {type(items).__name__}, not a list")
    a.args["over"] = list(items)
    sc.fanout.check_map(len(items))
    existing = await sc.read(
        lambda conn: run_store.list_steps(conn, a.claim.tenant_id, a.claim.run_id)
    )
    rows = {row["item_index"]: row for row in existing if row["parent_key"] == a.claim.key}
    results: dict[int, Any] = {
        index: row["result"]
        for index, row in rows.items()
        if row["status"] == StepStatus.SUCCEEDED.value
    }
    limit = asyncio.Semaphore(step.concurrency)
    failures: dict[int, _ItemFailed] = {}

    async def one(index: int, item: Any) -> None:
        async with limit:
            row = rows.get(index)
            first = row["attempt"] + 1 if row is not None else 1
            try:
                results[index] = await _run_item(sc, a, step, index, item, first, row is None)
            except _ItemFailed as failed:
                failures[index] = failed

    # A failed item does not cancel its siblings: every item runs to its end, so the step's
    # error names each failed item and why. Anything else (the lease lost, the database gone)
    # stops the map with that error itself, not a group of them.
    try:
        async with asyncio.TaskGroup() as group:
            for i, item in enumerate(items):
                if i not in results:
                    group.create_task(one(i, item))
    except ExceptionGroup as group_error:
        raise group_error.exceptions[0] from None
    if len(results) + len(failures) < len(items):  # an item's commit was refused (the run
        # ended under the map, the lease is gone): that item's task was cancelled, so stop too
        raise asyncio.CancelledError("the map step's lease is no longer held")
    if failures:
        raise _map_failed(failures, len(items))
    return outcome(sc, a, status="succeeded", result=[results[i] for i in range(len(items))])


class _ItemFailed(Exception):
    """A map item whose last attempt failed with no retry left."""

    def __init__(
        self, index: int, item: Any, attempts: int, error: dict[str, Any], retryable: bool
    ):
        super().__init__(error["message"])
        self.index, self.item, self.attempts = index, item, attempts
        self.error, self.retryable = error, retryable


def _map_failed(failures: dict[int, _ItemFailed], total: int) -> StepFailed:
    """The map step's error: which items failed and why. Retryable only when some item ran out
    of retries on a retryable error (a retry of the run may then get through); items refused
    for what they are (invalid args, a template error) fail the run for good."""
    ordered = [failures[index] for index in sorted(failures)]
    first = ordered[0]
    message = (
        f"{len(ordered)} of {total} map items failed; item {first.index} "
        f"({_short_item(first.item)}): {first.error['code']}: {first.error['message']}"
    )
    if len(ordered) > 1:
        message += f" (and {len(ordered) - 1} more; see the error's details)"
    return StepFailed(
        message,
        retryable=any(failed.retryable for failed in ordered),
        details={
            "failed_items": [
                {
                    "index": failed.index,
                    "item": failed.item,
                    "attempts": failed.attempts,
                    "error": failed.error,
                }
                for failed in ordered
            ],
            "items": total,
        },
    )


def _short_item(item: Any) -> str:
    text = json.dumps(item, default=str, sort_keys=True)
    return text if len(text) <= 60 else text[:59] + "…"


async def _run_item(
    sc: StepContext, a: Attempt, step: MapStep, index: int, item: Any, attempt: int, new_row: bool
) -> Any:
    sub = step.step
    key = f"{a.claim.key}[{index}]"
    scope = {**a.scope, "item": item, "index": index}
    row = new_step_row(
        a.claim.run_id,
        key,
        a.claim.tenant_id,
        sub.kind,
        status=StepStatus.RUNNING,
        attempt=attempt,
        parent_key=a.claim.key,
        item_index=index,
    )
    dispatch = a.claim.dispatch * 1000  # unique per item across re-dispatches of the map step
    while True:
        dispatch += 1
        started = datetime.now(UTC)

        common: dict[str, Any] = {
            "key": key,
            "dispatch": dispatch,
            "parent_dispatch": a.claim.dispatch,
            "meta": {"attempt": attempt, "started_at": started},
            "child_steps": (row,) if new_row else (),
        }
        calls: list[CallRecord] = []
        events: list[tuple[str, dict[str, Any]]] = []
        failure: BaseException | None = None
        try:
            args = templates.render(sub.args, scope)
            common["args"] = args
            ctx = call_context(
                sc, a, key, attempt, sub.timeout, calls, granting=sub, scope=scope, events=events
            )
            if isinstance(sub, MapItemAgent):
                result = await sc.registry.call(sub.capability, args, ctx, timeout=sub.timeout)
                if found := a.leaks(sc).find_in(result.output):  # the output check, per item
                    named = labels(found)
                    leak = {"channel": "step output", "found": named}
                    events.append(("output.leak", {**leak, "by": result.agent, "attempt": attempt}))
                    message = f"the step output carries {', '.join(named)}; it was not kept"
                    raise OutputLeak(message, details=leak)
            else:  # through the gate: the grant's limits apply to it too
                assert ctx.tools is not None
                result = await ctx.tools.call(sub.tool, args, by="step")
        except Exception as exc:
            failure = exc
        common["llm_calls"] = tuple(call.event_data() for call in calls)
        common["events"] = tuple(events)
        if failure is None:
            await sc.commit_item(outcome(sc, a, status="succeeded", result=result.output, **common))
            return result.output
        error = error_dict(failure)
        await sc.commit_item(outcome(sc, a, status="failed", error=error, **common))
        new_row = False
        delay = engine.retry_delay(
            sub.retry, attempt, error["code"], is_retryable(failure), sc.rand()
        )
        if delay is None:
            raise _ItemFailed(index, item, attempt, error, is_retryable(failure))
        attempt += 1
        await asyncio.sleep(delay)
