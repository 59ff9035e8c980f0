"""Roles, the scopes they grant (`ROLE_SCOPES`: a viewer reads, a reviewer also decides, an
operator also writes, an admin holds every scope, `admin` and `audit:read` among them), and the
principal a request acts as. An API key carries scopes and acts with the roles whose scopes it
holds in full (so a key with `reviews:decide` may decide a review naming `reviewer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

READ_SCOPES = tuple(
    "runs:read workflows:read reviews:read prompts:read agents:read usage:read events:read "
    "kb:read triggers:read".split()
)
WRITE_SCOPES = tuple("runs:write workflows:write prompts:write kb:write triggers:write".split())
SCOPES: tuple[str, ...] = (*READ_SCOPES, *WRITE_SCOPES, "reviews:decide", "audit:read", "admin")
Role = Literal["admin", "operator", "reviewer", "viewer"]
ROLES: tuple[Role, ...] = ("admin", "operator", "reviewer", "viewer")
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "viewer": frozenset(READ_SCOPES),
    "reviewer": frozenset((*READ_SCOPES, "reviews:decide")),
    "operator": frozenset((*READ_SCOPES, *WRITE_SCOPES)),
    "admin": frozenset(SCOPES),
}


def roles_for_scopes(scopes: frozenset[str]) -> frozenset[str]:
    """The roles whose every scope is in `scopes`."""
    return frozenset(role for role, granted in ROLE_SCOPES.items() if granted <= scopes)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as: a signed-in user or an API key, always inside one tenant."""

    kind: Literal["user", "api_key"]
    id: str  # the user id or the API key id
    tenant_id: str
    name: str  # recorded as the actor of decisions and overrides
    roles: frozenset[str]
    scopes: frozenset[str]

    def can(self, scope: str) -> bool:
        return scope in self.scopes
