"""Tools: single functions a `tool` step, an agent or a model calls, with typed input and output
and a declaration of what they need (`agents/needs.py`).

A toolbox is declared like an agent; a tool receives the same `CallContext` (idempotency key,
deadline, effects), so a tool with a side effect applies it once per attempt key.

    mail = Toolbox("mail", "Sends email")

    @mail.tool("email.send", needs=ToolNeeds(side_effects=True, bounded=("to",)))
    async def send(ctx: CallContext, args: Email) -> Sent: ...
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from batonflow.agents.agent import Agent, CallContext, In, Out
from batonflow.agents.needs import NO_NEEDS, ToolNeeds


class Toolbox(Agent):
    """A named set of tools; `@toolbox.tool("email.send", needs=...)` registers one."""

    def tool(
        self, name: str, description: str = "", *, needs: ToolNeeds = NO_NEEDS
    ) -> Callable[
        [Callable[[CallContext, In], Awaitable[Out]]], Callable[[CallContext, In], Awaitable[Out]]
    ]:
        return self.capability(name, description, needs=needs)
