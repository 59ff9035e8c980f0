"""What a tool needs to run: one small declaration per tool, checked by the platform.

    @toolbox.tool("email.send", needs=ToolNeeds(side_effects=True, bounded=("to",)))

- `hosts`: the network destinations the tool may reach through `ctx.http` (the outbound client,
  `net/outbound.py`); `"*"` means "the hosts its grant names", so no network unless granted.
  A grant may narrow the list, never widen it past the tool's.
- `files`: `"none"` or `"scratch"` (a private temporary directory, removed after the call).
- `timeout` and `memory_mb`: the tool's own limits. The timeout bounds every call (the step's
  timeout, when shorter, wins); `memory_mb` is enforced where the tool runs in a separate
  process (the `python` sandbox), and declared for the rest.
- `side_effects`: whether a call changes the world (sends, writes, pays). Tools with effects
  apply them once per idempotency key (`ctx.effects`).
- `bounded`: arguments whose values a grant to an `agent` or `llm` step must limit
  (`allow: {to: ...}` in the workflow): the recipients of an email, say. A value outside the
  grant's list is refused before the tool runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

ANY_GRANTED = "*"


@dataclass(frozen=True, slots=True)
class ToolNeeds:
    hosts: tuple[str, ...] = ()
    files: Literal["none", "scratch"] = "none"
    timeout: float | None = None
    memory_mb: int | None = None
    side_effects: bool = False
    bounded: tuple[str, ...] = ()

    @property
    def hosts_from_grant(self) -> bool:
        return ANY_GRANTED in self.hosts

    def host_issue(self, granted: list[str]) -> str | None:
        """Why a grant's `hosts` cannot be given to this tool, or None."""
        if self.hosts_from_grant:
            return None
        extra = [host for host in granted if host not in self.hosts]
        if extra:
            allowed = ", ".join(self.hosts) or "no hosts"
            return f"the tool reaches only {allowed}; it cannot be granted {', '.join(extra)}"
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "hosts": list(self.hosts),
            "files": self.files,
            "timeout": self.timeout,
            "memory_mb": self.memory_mb,
            "side_effects": self.side_effects,
            "bounded": list(self.bounded),
        }


NO_NEEDS = ToolNeeds()
