"""A test app whose agent raises an unexpected exception carrying secrets in its message, for
the log redaction test (BATONFLOW_APPS='["tests.telemetry.leakyapp:register"]')."""

from __future__ import annotations

from pydantic import BaseModel

from batonflow.agents.agent import Agent, CallContext
from batonflow.agents.registry import Registry

leaky = Agent("leaky", "Raises an exception that quotes the secrets it was given")


class LeakIn(BaseModel):
    secret: str


class LeakOut(BaseModel):
    pass


@leaky.capability("leaky.raise")
async def leak(ctx: CallContext, args: LeakIn) -> LeakOut:
    raise RuntimeError(f"could not connect with {args.secret}")


def register(registry: Registry) -> None:
    registry.add(leaky)
