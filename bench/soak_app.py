"""The app `bench/soak.py` enables in its worker processes: one capability with a side effect.

`soak.charge` sleeps a random while (so a `kill -9` often lands mid-step), applies its effect
through `ctx.effects` under the attempt's idempotency key (the platform's effects table: the same
key never applies twice), then appends one line per execution to a journal file of the worker
process, synced to disk before the result is returned:

    <run> <step> <attempt> <idempotency key> <applied now: 1|0> <execution token>

The result carries the same execution token, so the token a committed step holds names the
execution that committed it. The journal is the outside world's view: a key journalled with
`applied now` twice would be an effect applied twice.
"""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from pathlib import Path

from pydantic import BaseModel, Field

from batonflow.agents.agent import Agent, CallContext
from batonflow.apps.app import App

soaker = Agent("soak", "Applies one side effect per step, once per idempotency key")


class ChargeIn(BaseModel):
    journal: str = Field(min_length=1, description="the folder of the per-process journals")
    ms: int = Field(0, ge=0, le=10_000, description="sleep up to this many milliseconds")


class ChargeOut(BaseModel):
    execution: str
    applied_now: bool


def _append(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as journal:
        journal.write(line)
        journal.flush()
        os.fsync(journal.fileno())


@soaker.capability("soak.charge")
async def charge(ctx: CallContext, args: ChargeIn) -> ChargeOut:
    """Sleep up to `ms`, apply the step's effect once per key, journal the execution."""
    await asyncio.sleep(random.uniform(0, args.ms) / 1000)
    record = await ctx.effects.apply("soak.charge", {"run": ctx.run_id, "step": ctx.step_id})
    execution = uuid.uuid4().hex
    line = (
        f"{ctx.run_id} {ctx.step_id} {ctx.attempt} {ctx.idempotency_key} "
        f"{int(record.applied_now)} {execution}\n"
    )
    # One file per process: threads of one process append whole lines, never interleaved ones.
    await asyncio.to_thread(_append, Path(args.journal) / f"{os.getpid()}.log", line)
    return ChargeOut(execution=execution, applied_now=record.applied_now)


app = App(name="soak", title="Soak: side effects under chaos", agents=(soaker,))
