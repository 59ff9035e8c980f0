"""One capability of the sales app's agents, run durably: a workflow of one step.

`start` checks the call (the agent is one of the app's, the capability one of the agent's, the
input fits the capability's input model) and starts a run of the capability's one-step workflow
(`sales-agent.<capability>`, stored in the tenant on first use; its version is derived from the
capability's input fields, so a changed capability gets a new version). The run is queued like
any other: an executor runs the step with the step's retries, and the run's output `output` is
the capability's output. `answer` reads such a run; `wait` waits for it to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import ValidationError

from batonflow.agents.agent import Agent, Capability
from batonflow.apps.sales import finance_tables as ft
from batonflow.apps.sales import tables as st
from batonflow.errors import InvalidInput, NotFound
from batonflow.events.bus import EventBus
from batonflow.runs.service import Actor, start_run
from batonflow.store import workflows as workflow_store
from batonflow.store.db import Conn
from batonflow.store.tables import Run, table
from batonflow.workflows.spec import WorkflowSpec
from batonflow.workflows.validation import Catalog, validate_spec

T = TypeVar("T")
Work = Callable[[Conn], Awaitable[T]]
runs_t = table(Run)
ENDED = frozenset({"succeeded", "failed", "dead", "cancelled"})
PREFIX = "sales-agent."
# The records an input names by these fields: one the tenant does not have (another tenant's, or
# none) is the 404 a path naming it gets, before any run starts.
OWNED = {
    "deal_id": ("deal", st.deals),
    "lead_id": ("lead", st.leads),
    "contract_id": ("contract", ft.contracts),
    "invoice_id": ("invoice", ft.invoices),
}


@dataclass(frozen=True)
class Host:
    """What running a capability uses of the process it runs in (the API or the CLI)."""

    agents: Sequence[Agent]  # the sales app's
    catalog: Catalog  # the registry, to check the one-step workflow
    write: Callable[[Work[Any]], Awaitable[Any]]
    read: Callable[[Work[Any]], Awaitable[Any]]
    wake: Callable[[], None]  # tell the executors a run was queued
    bus: EventBus
    max_active_runs: int | None = None

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)


def capability_of(agents: Sequence[Agent], agent: str, name: str) -> Capability:
    """The capability `name` of the sales app's agent `agent`; `NotFound` naming what there is."""
    every = ", ".join(sorted(f"{c} ({a.name})" for a in agents for c in a.capabilities))
    found = next((a for a in agents if a.name == agent), None)
    if found is None:
        names = ", ".join(sorted(a.name for a in agents))
        raise NotFound(f"the sales app has no agent '{agent}'; its agents: {names}")
    if name not in found.capabilities:
        raise NotFound(
            f"the agent '{agent}' has no capability '{name}'; the sales app's capabilities: {every}"
        )
    return found.capabilities[name]


def checked_input(capability: Capability, given: dict[str, Any]) -> dict[str, Any]:
    """`given` as the capability's input (JSON), or `InvalidInput` naming each field at fault."""
    try:
        parsed = capability.input_model.model_validate(given)
    except ValidationError as exc:
        problems = [
            f"input.{'.'.join(map(str, e['loc']))}: {e['msg']}" if e["loc"] else e["msg"]
            for e in exc.errors()
        ]
        raise InvalidInput(
            f"the input does not fit '{capability.name}': " + "; ".join(problems),
            details={"errors": exc.errors(include_url=False, include_context=False)},
        ) from None
    return parsed.model_dump(mode="json")


def one_step(capability: Capability, catalog: Catalog) -> tuple[WorkflowSpec, str]:
    """The capability's one-step workflow, and its source text."""
    fields = sorted(capability.input_model.model_fields)
    shape = json.dumps({"capability": capability.name, "fields": fields}, sort_keys=True)
    workflow_id = PREFIX + capability.name
    document: dict[str, Any] = {
        "id": workflow_id,
        "version": "1-" + hashlib.sha256(shape.encode()).hexdigest()[:12],
        "description": f"The sales app's '{capability.name}' ({capability.agent}) on its own",
        "inputs": {"input": {"type": "object", "description": "the capability's input"}},
        "steps": [
            {
                "id": "call",
                "kind": "agent",
                "capability": capability.name,
                "timeout": 600,
                "retry": {"max_attempts": 2, "backoff": {"initial": 1, "multiplier": 2}},
                "args": {name: "{{ inputs.input." + name + " }}" for name in fields},
            }
        ],
        "outputs": {"output": "{{ state.call }}"},
    }
    source = json.dumps(document, indent=2)
    return validate_spec(document, workflow_id, catalog), source


async def start(
    host: Host, actor: Actor, tenant_id: str, agent: str, capability: str, given: dict[str, Any]
) -> str:
    """Start the capability on `given` as a run; the run's id."""
    found = capability_of(host.agents, agent, capability)
    inputs = {"input": checked_input(found, given)}
    spec, source = one_step(found, host.catalog)

    async def work(conn: Conn) -> str:
        await _owned(conn, tenant_id, inputs["input"])
        now = host.now()
        version, _ = await workflow_store.save_version(
            conn, tenant_id, spec, source, now, origin=spec.id
        )
        run = await start_run(
            conn,
            tenant_id=tenant_id,
            version=version,
            inputs=inputs,
            actor=actor,
            now=now,
            ctx={"labels": {"agent": found.agent, "capability": found.name}},
            max_active_runs=host.max_active_runs,
        )
        return run.id

    run_id: str = await host.write(work)
    host.wake()
    return run_id


async def _owned(conn: Conn, tenant_id: str, given: dict[str, Any]) -> None:
    for field, (noun, records) in OWNED.items():
        value = given.get(field)
        if value is None:
            continue
        found = await conn.scalar(
            sa.select(records.c.id).where(records.c.tenant_id == tenant_id, records.c.id == value)
        )
        if found is None:
            raise NotFound(f"no {noun} '{value}'")


async def answer(host: Host, tenant_id: str, run_id: str) -> dict[str, Any]:
    """The run of a capability as the API and the CLI show it: its status, and its output once
    it succeeded or its error once it failed."""

    async def work(conn: Conn) -> Any:
        return (
            await conn.execute(
                sa.select(
                    runs_t.c.workflow_id, runs_t.c.status, runs_t.c.outputs, runs_t.c.error
                ).where(runs_t.c.tenant_id == tenant_id, runs_t.c.id == run_id)
            )
        ).first()

    row = await host.read(work)
    if row is None or not row.workflow_id.startswith(PREFIX):
        raise NotFound(f"no run of a sales capability '{run_id}'")
    capability = row.workflow_id.removeprefix(PREFIX)
    agent = next((a.name for a in host.agents if capability in a.capabilities), None)
    return {
        "run_id": run_id,
        "agent": agent,
        "capability": capability,
        "status": row.status,
        "output": (row.outputs or {}).get("output") if row.status == "succeeded" else None,
        "error": row.error if row.status in ENDED - {"succeeded"} else None,
    }


async def wait(host: Host, tenant_id: str, run_id: str, seconds: float) -> str:
    """The run's status once it ended, or when `seconds` passed (the bus rings; the runs table
    is read on each ring and every quarter second, for runs another process executes)."""
    deadline = time.monotonic() + seconds
    async with host.bus.subscribe() as bell:
        while True:
            status: str = (await answer(host, tenant_id, run_id))["status"]
            left = deadline - time.monotonic()
            if status in ENDED or left <= 0:
                return status
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(bell.get(), min(left, 0.25))
