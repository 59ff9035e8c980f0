"""What a tool needs to run: one `ToolNeeds` per tool, checked by the platform (docs/security.md,
"What a tool declares"). `hosts` of `"*"` means the hosts its grant names, so no network unless
granted; a grant may narrow the list, never widen it. `bounded` names the arguments a grant to
an `agent` or `llm` step must limit with `allow` (an email's recipients, say).
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
