"""The audit log as the rest of the platform writes and reads it (docs/audit.md says who records
what).

`record` adds one entry in the caller's transaction, so an entry exists exactly when what it
describes was committed. It refuses an action not in `ACTIONS` and details that are not JSON
objects. Nothing here, in the store or in the database (its triggers) updates or deletes one.
An export redacts from each entry's `details` what the output check finds (`llm/leaks.py`), as
`[redacted: <what>]`; the stored entry is unchanged.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from batonflow.auth.scopes import Principal
from batonflow.errors import InvalidInput
from batonflow.ids import new_id
from batonflow.llm.leaks import LeakCheck
from batonflow.store import audit as audit_store
from batonflow.store.db import Conn

ActorKind = Literal["user", "api_key", "agent", "local", "anonymous"]
ACTIONS: dict[str, str] = {
    "auth.register": "a user registered (a new tenant's first admin, or through an invitation)",
    "auth.sign_in": "a user signed in with their password",
    "auth.sign_in_failed": "a sign-in to an existing account was refused (wrong password, or "
    "the account is deactivated)",
    "auth.sign_out": "a user signed out (their refresh token and its sign-in are revoked)",
    "user.update": "an admin changed a user's role or active flag",
    "api_key.create": "an API key was created",
    "api_key.revoke": "an API key was revoked",
    "invitation.create": "an invitation was created",
    "invitation.revoke": "an invitation was revoked",
    "review.decide": "a review was decided (approve, edit, reject) or an input step submitted",
    "step.override": "a step's output was set by hand",
    "run.cancel": "a run was cancelled",
    "tool.refused": "the platform refused a tool call a step, agent or model made in a run",
    "output.leak": "a step's output or an email carried a secret, a credential or its system "
    "prompt, and was not kept or sent",
    "run.dismiss": "a dead run was dismissed from the dead letters",
    "run.retry": "a failed or dead run was retried",
    "audit.export": "the audit log was exported",
    "portfolio.rights_set": "an admin set the tenant's data rights for a source (portfolio app)",
    "sales.email_resent": "a person resent an unconfirmed or failed email (sales app)",
    "portfolio.export": "a portfolio result was exported (CSV, JSON or PDF) with its sources' "
    "attribution",
    "portfolio.export_refused": "a portfolio result's export was refused: a data source's "
    "licence does not allow it (the details name the sources and their terms)",
}
EXPORT_BATCH = 500
COLUMNS = tuple(
    "id created_at actor_kind actor_id actor action target_kind target_id client_address details".split()
)


class Acting(Protocol):
    """Who did something: what `record` reads from an actor."""

    @property
    def kind(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def id(self) -> str | None: ...
    @property
    def address(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    name: str
    id: str | None = None
    address: str | None = None

    @classmethod
    def of(cls, principal: Principal, address: str | None) -> Actor:
        """The user or API key a request acts as, from the client address the API sees."""
        return cls(principal.kind, principal.name, principal.id, address)

    @classmethod
    def agent(cls, name: str) -> Actor:
        """An agent acting inside a run (its run is the entry's target or in its details)."""
        return cls("agent", name)


async def record(
    conn: Conn,
    tenant_id: str,
    action: str,
    *,
    actor: Acting,
    now: datetime,
    target: tuple[str, str] | None = None,
    details: Mapping[str, Any] | None = None,
) -> str:
    """Add an entry to the tenant's audit log in the caller's transaction; its id."""
    if action not in ACTIONS:
        raise ValueError(f"'{action}' is not an audit action; add it to batonflow.audit.ACTIONS")
    entry_id = new_id()
    await audit_store.insert_entry(
        conn,
        {
            "id": entry_id,
            "tenant_id": tenant_id,
            "created_at": now,
            "actor_kind": actor.kind,
            "actor_id": actor.id,
            "actor": actor.name[:320],
            "action": action,
            "target_kind": None if target is None else target[0],
            "target_id": None if target is None else target[1][:200],
            "client_address": actor.address,
            "details": dict(details or {}),
        },
    )
    return entry_id


@dataclass(frozen=True, slots=True)
class Filters:
    """Which entries a list or an export covers."""

    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        if self.action is not None and self.action not in ACTIONS:
            raise InvalidInput(
                f"'{self.action}' is not an audit action; actions: {', '.join(ACTIONS)}"
            )
        for moment, name in ((self.since, "since"), (self.until, "until")):
            if moment is not None and moment.tzinfo is None:
                raise InvalidInput(f"{name} needs a time zone, such as 2026-12-01T00:00:00Z")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise InvalidInput("since must be before until")

    def where(self) -> dict[str, Any]:
        return asdict(self)


async def list_entries(
    conn: Conn,
    tenant_id: str,
    filters: Filters,
    *,
    limit: int,
    before: tuple[datetime, str] | None = None,
) -> list[dict[str, Any]]:
    """Up to `limit` entries, newest first, older than the `(created_at, id)` of `before`."""
    return await audit_store.list_entries(
        conn, tenant_id, limit=limit, before=before, **filters.where()
    )


async def export(
    read: Callable[[tuple[datetime, str] | None], Any],
    leaks: LeakCheck | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """Every entry `read` gives, oldest first, a batch (one short read transaction) at a time:
    `read(after)` returns the next batch after the `(created_at, id)` of `after`; each entry's
    details redacted by `leaks` (credential shapes when it is None)."""
    checker = leaks or LeakCheck()
    after: tuple[datetime, str] | None = None
    while True:
        batch: list[dict[str, Any]] = await read(after)
        for row in batch:
            yield {**row, "details": checker.redact_value(row["details"])}
        if len(batch) < EXPORT_BATCH:
            return
        after = (batch[-1]["created_at"], batch[-1]["id"])


async def batch_after(
    conn: Conn, tenant_id: str, filters: Filters, after: tuple[datetime, str] | None
) -> list[dict[str, Any]]:
    """The export's next batch."""
    return await audit_store.entries_after(
        conn, tenant_id, limit=EXPORT_BATCH, after=after, **filters.where()
    )


def _plain(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: row[name].isoformat().replace("+00:00", "Z")
        if isinstance(row[name], datetime)
        else row[name]
        for name in COLUMNS
    }


def jsonl_line(row: Mapping[str, Any]) -> str:
    return json.dumps(_plain(row), ensure_ascii=False, separators=(",", ":")) + "\n"


def csv_header() -> str:
    return csv_line(dict(zip(COLUMNS, COLUMNS, strict=True)), header=True)


def csv_line(row: Mapping[str, Any], *, header: bool = False) -> str:
    """One CSV row; `details` as compact JSON. A cell a spreadsheet would run as a formula
    (starting with = + - @) gets a leading apostrophe."""
    plain = dict(row) if header else _plain(row)
    cells = []
    for name in COLUMNS:
        value = plain[name]
        if name == "details" and not header:
            value = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        text = "" if value is None else str(value)
        if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
            text = "'" + text
        cells.append(text)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue()
