"""Tools: single functions a `tool` step calls directly, with typed input and output.

A toolbox is declared like an agent; a tool receives the same `CallContext` (idempotency key,
deadline, effects), so a tool with a side effect applies it once per attempt key.
"""

from __future__ import annotations

from batonflow.agents.agent import Agent


class Toolbox(Agent):
    """A named set of tools; `@toolbox.tool("email.send")` registers one."""

    tool = Agent.capability
