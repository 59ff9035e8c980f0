"""Accounts: a tenant's users, their API keys and their invitations. Every rule lives here;
callers own the transaction (functions flush, never commit). Signing in to an account is
`auth/sessions.py`.

Passwords are hashed with argon2id (the parameters from settings) in a worker thread, since a
hash takes tens of milliseconds. With no stored hash (an unknown email) `verify` checks a dummy
hash, so a wrong email costs as long as a wrong password.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from datetime import datetime, timedelta
from functools import cache, cached_property
from typing import Any

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError

from batonflow.auth import tokens
from batonflow.auth.scopes import ROLES, SCOPES, Principal
from batonflow.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from batonflow.ids import new_id
from batonflow.settings import Settings
from batonflow.store import credentials, users
from batonflow.store.db import Conn

EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s.\x00-\x1f\x7f]+(\.[^@\s.\x00-\x1f\x7f]+)+$")
ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MIN_PASSWORD = 12
# One answer whether the tenant name or the email is taken, naming neither: registration must
# not tell anyone which addresses have accounts (docs/auth.md, "Registration").
REGISTRATION_REFUSED = (
    "this registration cannot be completed: choose another tenant name, or sign in if you "
    "already have an account (an email address belongs to one account)"
)
MAX_KEY_DAYS = 3650


class Passwords:
    def __init__(self, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )

    @cached_property
    def _dummy(self) -> str:
        return self._hasher.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        """Whether `password` matches `stored`; with no `stored`, spend the same time, say no."""
        return await asyncio.to_thread(self._verify, stored, password)

    def _verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True


@cache
def _passwords(time_cost: int, memory_kib: int, parallelism: int) -> Passwords:
    return Passwords(time_cost, memory_kib, parallelism)


def passwords_for(settings: Settings) -> Passwords:
    """The hasher for the settings' argon2 parameters (one per parameter set, kept)."""
    return _passwords(
        settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
    )


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 320 or not EMAIL.match(email):
        raise InvalidInput(f"{email!r} is not an email address")
    return email


def known_id(value: str, what: str) -> str:
    """`value` if it can be an id at all; otherwise the same 404 as an id that does not exist
    (and no query: PostgreSQL refuses some characters outright)."""
    if not ID.match(value):
        raise NotFound(f"no {what} '{value}'")
    return value


async def new_password(settings: Settings, password: str) -> str:
    """The hash to store for a new password, once it passes the rules."""
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD} characters")
    return await passwords_for(settings).hash(password)


# -- users -------------------------------------------------------------------------------------


async def add_user(
    conn: Conn, tenant_id: str, email: str, name: str, role: str, password_hash: str, now: datetime
) -> dict[str, Any]:
    name = name.strip()
    if not name or CONTROL.search(name):
        raise InvalidInput("a user needs a name, without control characters")
    taken = Conflict(REGISTRATION_REFUSED)
    if await users.find_by_email(conn, email) is not None:
        raise taken
    user_id = new_id()
    row = {
        "id": user_id,
        "tenant_id": tenant_id,
        "email": email,
        "name": name,
        "role": role,
        "password_hash": password_hash,
        "active": True,
        "created_at": now,
        "last_login_at": now,
    }
    try:
        await users.insert_user(conn, row)
    except IntegrityError:
        raise taken from None
    return await users.get_user(conn, tenant_id, user_id)


async def list_users(
    conn: Conn, tenant_id: str, *, limit: int, after: tuple[datetime, str] | None = None
) -> list[dict[str, Any]]:
    """Up to `limit` users, oldest first, after the `(created_at, id)` of `after`."""
    return await users.list_users(conn, tenant_id, limit=limit, after=after)


async def get_user(conn: Conn, tenant_id: str, user_id: str) -> dict[str, Any]:
    return await users.get_user(conn, tenant_id, known_id(user_id, "user"))


async def update_user(
    conn: Conn,
    tenant_id: str,
    user_id: str,
    *,
    role: str | None,
    active: bool | None,
    now: datetime,
) -> dict[str, Any]:
    """Change a user's role or deactivate (or reactivate) them; never the last active admin
    away. Deactivating revokes their refresh tokens; their access tokens stop working at once."""
    user = await users.get_user(conn, tenant_id, known_id(user_id, "user"))
    if role is not None and role not in ROLES:
        raise InvalidInput(f"'{role}' is not a role; roles: {', '.join(ROLES)}")
    new_role = user["role"] if role is None else role
    new_active = user["active"] if active is None else active
    if user["role"] == "admin" and user["active"] and (new_role != "admin" or not new_active):
        others = set(await users.active_admins(conn, tenant_id)) - {user_id}
        if not others:
            raise Conflict(
                f"{user['email']} is the last active admin of this tenant; make another user "
                "an admin first"
            )
    changes: dict[str, Any] = {}
    if new_role != user["role"]:
        changes["role"] = new_role
    if new_active != user["active"]:
        changes["active"] = new_active
        if not new_active:
            await credentials.revoke_user_tokens(conn, tenant_id, user_id, now)
    if changes:
        await users.update_user(conn, tenant_id, user_id, **changes)
    return await users.get_user(conn, tenant_id, user_id)


# -- API keys ----------------------------------------------------------------------------------


async def create_api_key(
    conn: Conn,
    caller: Principal,
    *,
    name: str,
    scopes: list[str],
    expires_in_days: int | None,
    now: datetime,
) -> tuple[dict[str, Any], str]:
    """A new key (its row and the key itself, which is never shown again). A key gets only
    scopes its creator holds."""
    name = name.strip()
    if not name or CONTROL.search(name):
        raise InvalidInput("an API key needs a name, without control characters")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise InvalidInput(
            f"unknown scopes: {', '.join(unknown)}; scopes: {', '.join(SCOPES)}",
            details={"unknown": unknown},
        )
    if not scopes:
        raise InvalidInput("an API key needs at least one scope")
    lacking = sorted(set(scopes) - caller.scopes)
    if lacking:
        raise PermissionDenied(
            f"{caller.name} cannot give a key scopes it lacks: {', '.join(lacking)}",
            details={"scopes": lacking},
        )
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_KEY_DAYS:
        raise InvalidInput(f"expires_in_days is between 1 and {MAX_KEY_DAYS}")
    key, prefix = tokens.new_api_key()
    row = {
        "id": new_id(),
        "tenant_id": caller.tenant_id,
        "name": name,
        "prefix": prefix,
        "scopes": [scope for scope in SCOPES if scope in scopes],
        "created_by": caller.name,
        "created_at": now,
        "expires_at": None if expires_in_days is None else now + timedelta(days=expires_in_days),
        "last_used_at": None,
        "revoked_at": None,
    }
    await credentials.insert_api_key(conn, {**row, "key_hash": tokens.digest(key)})
    return row, key


async def list_api_keys(
    conn: Conn, tenant_id: str, *, limit: int, after: tuple[datetime, str] | None = None
) -> list[dict[str, Any]]:
    """Up to `limit` API keys, oldest first, after the `(created_at, id)` of `after`."""
    return await credentials.list_api_keys(conn, tenant_id, limit=limit, after=after)


async def revoke_api_key(conn: Conn, tenant_id: str, key_id: str, now: datetime) -> None:
    await credentials.revoke_api_key(conn, tenant_id, known_id(key_id, "API key"), now)


# -- invitations -------------------------------------------------------------------------------


async def create_invitation(
    conn: Conn, settings: Settings, caller: Principal, *, email: str, role: str, now: datetime
) -> tuple[dict[str, Any], str]:
    """A new invitation (its row and the token, which is never shown again)."""
    email = normalize_email(email)
    if role not in ROLES:
        raise InvalidInput(f"'{role}' is not a role; roles: {', '.join(ROLES)}")
    existing = await users.find_by_email(conn, email)
    if existing is not None and existing["tenant_id"] == caller.tenant_id:
        raise Conflict(f"{email} is already a user of this tenant")
    token = tokens.new_secret()
    row = {
        "id": new_id(),
        "tenant_id": caller.tenant_id,
        "email": email,
        "role": role,
        "created_by": caller.name,
        "created_at": now,
        "expires_at": now + timedelta(seconds=settings.invitation_seconds),
        "accepted_at": None,
        "revoked_at": None,
    }
    await credentials.insert_invitation(conn, {**row, "token_hash": tokens.digest(token)})
    return with_status(row, now), token


async def list_invitations(
    conn: Conn,
    tenant_id: str,
    now: datetime,
    *,
    limit: int,
    after: tuple[datetime, str] | None = None,
) -> list[dict[str, Any]]:
    """Up to `limit` invitations with their status, oldest first, after the `(created_at, id)`
    of `after`."""
    rows = await credentials.list_invitations(conn, tenant_id, limit=limit, after=after)
    return [with_status(row, now) for row in rows]


async def revoke_invitation(conn: Conn, tenant_id: str, invitation_id: str, now: datetime) -> None:
    found = await credentials.get_invitation(conn, tenant_id, known_id(invitation_id, "invitation"))
    if found["accepted_at"] is not None:
        raise Conflict("the invitation was already accepted; deactivate the user instead")
    await credentials.revoke_invitation(conn, tenant_id, invitation_id, now)


REFUSALS = {
    "accepted": "was already used",
    "revoked": "was revoked",
    "expired": "has expired; ask for a new one",
}


def with_status(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The invitation with its `status`: pending, accepted, revoked or expired."""
    if row["accepted_at"] is not None:
        status = "accepted"
    elif row["revoked_at"] is not None:
        status = "revoked"
    elif row["expires_at"] <= now:
        status = "expired"
    else:
        status = "pending"
    return {**row, "status": status}
