"""Running one claimed attempt: the run's context (spec, inputs, upstream results), the step's
`when`, its handler under its timeout, and any exception turned into a failed outcome.

The executor owns the loop and hands each claim to `Runner.run` in a task of its own; the runner
keeps the contexts of the runs this process is working on, so a step reads nothing its run's
earlier steps committed here.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from batonflow.agents.agent import EffectRecord
from batonflow.errors import StepTimeout, is_retryable
from batonflow.llm.records import CallRecord
from batonflow.store import effects as effect_store
from batonflow.store import runs as run_store
from batonflow.store.db import Conn, Database
from batonflow.workflows import engine, templates
from batonflow.workflows.attempts import Claim, Outcome
from batonflow.workflows.checkpoint import SpecCache
from batonflow.workflows.mapping import run_map
from batonflow.workflows.spec import WorkflowSpec
from batonflow.workflows.step_context import Attempt, Handler, StepContext, error_dict
from batonflow.workflows.steps import (
    run_agent,
    run_llm,
    run_retrieve_step,
    run_review,
    run_workflow,
)

log = logging.getLogger("batonflow.executor")

HANDLERS: dict[str, Handler] = {
    "agent": run_agent,
    "retrieve": run_retrieve_step,
    "llm": run_llm,
    "tool": run_agent,
    "review": run_review,
    "input": run_review,
    "workflow": run_workflow,
    "map": run_map,
}


@dataclass
class RunContext:
    tenant_id: str
    spec: WorkflowSpec
    inputs: dict[str, Any]
    ctx: dict[str, Any]
    results: dict[str, Any] = field(default_factory=dict)


class StepEffects:
    """Side effects of one step, applied at most once per key, each in its own transaction."""

    def __init__(self, db: Database, tenant_id: str, run_id: str, key: str) -> None:
        self._db, self._tenant_id, self._run_id, self._key = db, tenant_id, run_id, key

    async def apply(
        self, kind: str, payload: dict[str, Any], *, key: str | None = None
    ) -> EffectRecord:
        async def work(conn: Conn) -> tuple[dict[str, Any], bool]:
            return await effect_store.apply_effect(
                conn,
                self._tenant_id,
                key or self._key,
                kind,
                payload,
                self._run_id,
                datetime.now(UTC),
            )

        row, applied = await self._db.write(work)
        return EffectRecord(
            key=row["key"], kind=row["kind"], payload=row["payload"], applied_now=applied
        )


class Runner:
    """Runs attempts on `step_context` (its handlers' view of the worker)."""

    def __init__(self, step_context: StepContext, db: Database, specs: SpecCache) -> None:
        self.step_context = step_context
        self.db = db
        self.specs = specs
        self.worker = step_context.worker
        self._runs: dict[str, RunContext] = {}
        self._loading: dict[str, asyncio.Future[None]] = {}

    def remember(self, outcome: Outcome) -> None:
        """Keep a committed outcome's result for the run's later steps."""
        run = self._runs.get(outcome.run_id)
        if run is not None and outcome.parent_dispatch is None:
            if outcome.status == "succeeded":
                run.results[outcome.key] = outcome.result
            elif outcome.status == "skipped":
                run.results[outcome.key] = None

    def forget(self, run_id: str) -> None:
        """Drop a finished run's context."""
        self._runs.pop(run_id, None)

    async def run(self, claim: Claim) -> Outcome:
        calls: list[CallRecord] = []
        events: list[tuple[str, dict[str, Any]]] = []  # the gate's, kept when the attempt fails
        args: dict[str, Any] = {}  # what the handler resolved, kept when the attempt fails
        outcome = await self._run(claim, calls, events, args)
        changes: dict[str, Any] = {}
        if args and outcome.args != args:  # handlers' own outcomes carry them already
            changes["args"] = dict(args)
        if calls:
            changes["llm_calls"] = tuple(call.event_data() for call in calls)
        if events:
            changes["events"] = (*events, *outcome.events)
        return replace(outcome, **changes) if changes else outcome

    async def _run(
        self,
        claim: Claim,
        calls: list[CallRecord],
        events: list[tuple[str, dict[str, Any]]],
        args: dict[str, Any],
    ) -> Outcome:
        started = datetime.now(UTC)
        try:
            run = await self._context(claim)
            step = run.spec.by_id[claim.key]
            scope = engine.scope(run.inputs, run.results, run.ctx)
            if step.when is not None and not templates.evaluate(step.when, scope):
                return Outcome(
                    claim.run_id,
                    claim.key,
                    claim.dispatch,
                    self.worker,
                    "skipped",
                    meta={"reason": f"when: {step.when}"},
                )
            attempt = Attempt(
                claim=claim,
                step=step,
                spec=run.spec,
                scope=scope,
                started_at=started,
                calls=calls,
                events=events,
                args=args,
            )
            # Agent and tool calls time out inside the registry, where the breaker sees it.
            own_timeout = None if step.kind in ("agent", "tool") else step.timeout
            async with asyncio.timeout(own_timeout):
                return await HANDLERS[step.kind](self.step_context, attempt)
        except TimeoutError:
            seconds = run.spec.by_id[claim.key].timeout
            error = error_dict(StepTimeout(f"the attempt passed its timeout of {seconds}s"))
            return Outcome(
                claim.run_id,
                claim.key,
                claim.dispatch,
                self.worker,
                "failed",
                error=error,
                retryable=True,
            )
        except Exception as exc:
            retryable = is_retryable(exc)
            if error_dict(exc)["code"] == "exception":
                log.exception("step %s of run %s raised", claim.key, claim.run_id)
            return Outcome(
                claim.run_id,
                claim.key,
                claim.dispatch,
                self.worker,
                "failed",
                error=error_dict(exc),
                retryable=retryable,
            )

    async def _context(self, claim: Claim) -> RunContext:
        """The run's spec, inputs and upstream results: from memory when this executor has them
        (it committed them, or another attempt of the run loaded them), else one read."""
        run = self._runs.get(claim.run_id)
        if run is None:
            spec = self.specs.cached(claim.workflow_version_pk)
            if spec is not None:
                run = RunContext(claim.tenant_id, spec, claim.inputs, claim.ctx)
                self._runs[claim.run_id] = run
        if run is not None and not run.spec.upstream[claim.key] - run.results.keys():
            return run
        loading = self._loading.get(claim.run_id)
        if loading is not None:  # another attempt of this run is loading it right now
            await asyncio.shield(loading)
            return await self._context(claim)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._loading[claim.run_id] = future
        try:
            return await self._load_context(claim)
        finally:
            del self._loading[claim.run_id]
            future.set_result(None)

    async def _load_context(self, claim: Claim) -> RunContext:
        async def work(conn: Conn) -> tuple[WorkflowSpec, dict[str, Any]]:
            spec = await self.specs.get(conn, claim.tenant_id, claim.workflow_version_pk)
            results = await run_store.step_results(
                conn, claim.tenant_id, claim.run_id, spec.upstream[claim.key]
            )
            return spec, results

        spec, results = await self.db.read(work)
        run = self._runs.setdefault(
            claim.run_id, RunContext(claim.tenant_id, spec, claim.inputs, claim.ctx)
        )
        run.results.update(results)
        return run
