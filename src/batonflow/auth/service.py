"""Accounts and credentials: registration, sign-in, refresh-token rotation, users, API keys and
invitations. Every rule lives here; callers own the transaction (functions flush, never commit).

Password hashing and checking take tens of milliseconds, so they are separate steps
(`new_password`, `check_password`) that callers run outside their write transaction.

Refresh tokens rotate on every use: the used token is marked `rotated_at` and a new one of the
same family is issued. Presenting a used or revoked token revokes the whole family (someone
holds a copy). Two concurrent refreshes with one token are settled by the conditional update:
exactly one rotates it and keeps its new tokens; the other, arriving within
`refresh_reuse_grace_seconds` of that rotation, is refused without revoking the family.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from batonflow.auth import tokens
from batonflow.auth.passwords import passwords_for
from batonflow.auth.scopes import ROLES, SCOPES, Principal
from batonflow.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unauthenticated
from batonflow.ids import new_id
from batonflow.settings import Settings
from batonflow.store import credentials, users
from batonflow.store.db import Conn
from batonflow.store.tenants import ensure_tenant, find_tenant

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s.\x00-\x1f\x7f]+(\.[^@\s.\x00-\x1f\x7f]+)+$")
ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MIN_PASSWORD = 12
WRONG_LOGIN = "wrong email or password"
MAX_KEY_DAYS = 3650


@dataclass(frozen=True, slots=True)
class Session:
    """A sign-in: the tokens and the user row (with `tenant_slug` and `tenant_name`)."""

    access_token: str
    refresh_token: str
    expires_in: int
    user: dict[str, Any]


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


# -- registration and sign-in ------------------------------------------------------------------


async def register_tenant(
    conn: Conn,
    settings: Settings,
    *,
    slug: str,
    email: str,
    name: str,
    password_hash: str,
    now: datetime,
) -> Session:
    """A new tenant `slug` with this person as its first admin."""
    if not SLUG.match(slug):
        raise InvalidInput(
            f"'{slug}' is not a tenant name: use 2 to 63 lowercase letters, digits and dashes, "
            "starting with a letter or digit"
        )
    email = normalize_email(email)
    if await find_tenant(conn, slug) is not None:
        raise Conflict(f"the tenant '{slug}' already exists; ask its admin for an invitation")
    tenant_id = await ensure_tenant(conn, slug, now)
    # A concurrent registration of the same slug gets the same id back; its first user wins.
    if await users.count_users(conn, tenant_id) > 0:
        raise Conflict(f"the tenant '{slug}' already exists; ask its admin for an invitation")
    user = await add_user(conn, tenant_id, email, name, "admin", password_hash, now)
    return await _session(conn, settings, user, new_id(), now)


async def join_tenant(
    conn: Conn,
    settings: Settings,
    *,
    invitation: str,
    email: str,
    name: str,
    password_hash: str,
    now: datetime,
) -> Session:
    """A new user of the inviting tenant, with the invited role."""
    found = await credentials.find_invitation(conn, tokens.digest(invitation))
    if found is None:
        raise Unauthenticated("the invitation is not valid")
    status = with_status(found, now)["status"]
    if status != "pending":
        raise Unauthenticated(f"the invitation {REFUSALS[status]}")
    email = normalize_email(email)
    if email != found["email"]:
        raise InvalidInput("the invitation is for another email address")
    if not await credentials.accept_invitation(conn, found["id"], now):
        raise Unauthenticated("the invitation was already used")
    user = await add_user(conn, found["tenant_id"], email, name, found["role"], password_hash, now)
    return await _session(conn, settings, user, new_id(), now)


async def add_user(
    conn: Conn,
    tenant_id: str,
    email: str,
    name: str,
    role: str,
    password_hash: str,
    now: datetime,
) -> dict[str, Any]:
    name = name.strip()
    if not name or CONTROL.search(name):
        raise InvalidInput("a user needs a name, without control characters")
    taken = Conflict(f"an account with the email '{email}' already exists")
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


async def find_account(conn: Conn, email: str) -> dict[str, Any] | None:
    try:
        email = normalize_email(email)
    except InvalidInput:
        return None  # no such account; the password is still checked, against the dummy
    return await users.find_by_email(conn, email)


async def check_password(
    settings: Settings, account: dict[str, Any] | None, password: str
) -> str | None:
    """Refuse a wrong password (or none: same message, same time); give a new hash to store
    when the stored one was made with other argon2 parameters."""
    passwords = passwords_for(settings)
    stored = account["password_hash"] if account is not None else None
    if not await passwords.verify(stored, password) or account is None or not account["active"]:
        raise Unauthenticated(WRONG_LOGIN)
    if passwords.needs_rehash(account["password_hash"]):
        return await passwords.hash(password)
    return None


async def sign_in(
    conn: Conn, settings: Settings, account: dict[str, Any], rehash: str | None, now: datetime
) -> Session:
    """A new session for an account whose password was checked."""
    user = await users.find_user(conn, account["tenant_id"], account["id"])
    if user is None or not user["active"]:
        raise Unauthenticated(WRONG_LOGIN)
    await users.set_login(conn, user["tenant_id"], user["id"], now, rehash)
    return await _session(conn, settings, user, new_id(), now)


async def refresh(
    conn: Conn, settings: Settings, token: str, now: datetime
) -> Session | Unauthenticated:
    """The next session of the token's family, or the refusal to raise once the transaction has
    committed (so that a family revoked for reuse stays revoked)."""
    row = await credentials.find_refresh_token(conn, tokens.digest(token))
    if row is None:
        return Unauthenticated("the refresh token is not valid")
    if row["revoked_at"] is not None:
        return Unauthenticated("the refresh token was revoked; sign in again")
    rotated = row["rotated_at"] is None and await credentials.rotate_refresh_token(
        conn, row["id"], now
    )
    if not rotated:
        used = row["rotated_at"]
        if used is None:  # a concurrent request rotated it after we read it
            fresh = await credentials.find_refresh_token(conn, row["token_hash"])
            used = fresh["rotated_at"] if fresh else None
        if used is not None and now - used <= timedelta(
            seconds=settings.refresh_reuse_grace_seconds
        ):
            # Two refreshes racing with one token (two tabs, a retried request): the first
            # keeps its new tokens; this one is refused without revoking the sign-in.
            return Unauthenticated(
                "the refresh token was just used by another request; use the tokens it got"
            )
        await credentials.revoke_family(conn, row["tenant_id"], row["family_id"], now)
        return Unauthenticated(
            "the refresh token was already used; every token of this sign-in is now revoked, "
            "sign in again"
        )
    if row["expires_at"] <= now:
        return Unauthenticated("the refresh token has expired; sign in again")
    user = await users.find_user(conn, row["tenant_id"], row["user_id"])
    if user is None or not user["active"]:
        await credentials.revoke_family(conn, row["tenant_id"], row["family_id"], now)
        return Unauthenticated("this account is deactivated or no longer exists")
    return await _session(conn, settings, user, row["family_id"], now)


async def logout(conn: Conn, token: str, now: datetime) -> None:
    """Revoke the token's family; an unknown token is already as good as logged out."""
    row = await credentials.find_refresh_token(conn, tokens.digest(token))
    if row is not None:
        await credentials.revoke_family(conn, row["tenant_id"], row["family_id"], now)


async def _session(
    conn: Conn, settings: Settings, user: dict[str, Any], family_id: str, now: datetime
) -> Session:
    secret = tokens.new_secret()
    await credentials.insert_refresh_token(
        conn,
        {
            "id": new_id(),
            "tenant_id": user["tenant_id"],
            "user_id": user["id"],
            "family_id": family_id,
            "token_hash": tokens.digest(secret),
            "created_at": now,
            "expires_at": now + timedelta(seconds=settings.refresh_token_seconds),
            "rotated_at": None,
            "revoked_at": None,
        },
    )
    access = tokens.issue_access(
        settings, user_id=user["id"], tenant_id=user["tenant_id"], role=user["role"], now=now
    )
    return Session(access, secret, settings.access_token_seconds, user)


async def whoami(conn: Conn, caller: Principal) -> dict[str, Any]:
    """The caller's user row (None for an API key), API key row (None for a user), tenant."""
    if caller.kind == "user":
        user = await users.get_user(conn, caller.tenant_id, caller.id)
        tenant = {"id": user["tenant_id"], "slug": user["tenant_slug"], "name": user["tenant_name"]}
        return {"user": user, "api_key": None, "tenant": tenant}
    key = await credentials.get_api_key(conn, caller.tenant_id, caller.id)
    tenant = {"id": key["tenant_id"], "slug": key["tenant_slug"], "name": key["tenant_name"]}
    return {"user": None, "api_key": key, "tenant": tenant}


# -- users -------------------------------------------------------------------------------------


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
