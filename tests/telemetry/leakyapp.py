"""A test app whose agent raises an unexpected exception carrying secrets in its message, for
the log redaction test, which enables it as the app `leaky`."""

from __future__ import annotations

from pydantic import BaseModel

from batonflow.agents.agent import Agent, CallContext
from batonflow.apps.app import App

leaky = Agent("leaky", "Raises an exception that quotes the secrets it was given")


class LeakIn(BaseModel):
    secret: str


class LeakOut(BaseModel):
    pass


@leaky.capability("leaky.raise")
async def leak(ctx: CallContext, args: LeakIn) -> LeakOut:
    raise RuntimeError(f"could not connect with {args.secret}")


app = App(name="leaky", title="Leaky", agents=(leaky,))
