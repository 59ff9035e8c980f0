"""A test app for the crash-recovery tests: one capability that journals every execution.

A worker finds it as the app `crash` (see `tests.conftest.installed_apps`) and enables it with
BATONFLOW_APPS=crash. The capability sleeps, then appends one line per execution to the journal file named in its args, synced to disk
before the result is returned, so a line exists for every execution whose result could have been
committed. The line's last field is a fresh token that the result carries too: the token a
committed step holds names the execution that committed it.
"""

from __future__ import annotations

import asyncio
import os
import uuid

from pydantic import BaseModel, Field

from batonflow.agents.agent import Agent, CallContext
from batonflow.apps.app import App

journaler = Agent("crash-journal", "Sleeps, then journals the execution to a file")


class WorkIn(BaseModel):
    journal: str = Field(min_length=1)
    ms: int = Field(50, ge=0, le=10_000)


class WorkOut(BaseModel):
    execution: str
    attempt: int


def _append(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as journal:
        journal.write(line)
        journal.flush()
        os.fsync(journal.fileno())


@journaler.capability("crash.work")
async def work(ctx: CallContext, args: WorkIn) -> WorkOut:
    """Sleep `ms`, then journal `run step attempt idempotency_key execution`."""
    await asyncio.sleep(args.ms / 1000)
    execution = uuid.uuid4().hex
    # Written synchronously: one process appends whole lines, never interleaved ones.
    _append(
        args.journal,
        f"{ctx.run_id} {ctx.step_id} {ctx.attempt} {ctx.idempotency_key} {execution}\n",
    )
    return WorkOut(execution=execution, attempt=ctx.attempt)


app = App(name="crash", title="Crash journal", agents=(journaler,))
