"""Sessions: registration, sign-in, refresh-token rotation and sign-out (docs/auth.md). Every
rule lives here; callers own the transaction. Hashing a password takes tens of milliseconds, so
callers run it outside their write transaction (`accounts.new_password`, `check_password`).

Refresh tokens rotate on every use; presenting a used or revoked one revokes its whole family.
Two concurrent refreshes with one token are settled by a conditional update: one rotates it, the
other is a reuse (refused without revoking within `refresh_reuse_grace_seconds`, default 0).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from batonflow.auth import tokens
from batonflow.auth.accounts import (
    REFUSALS,
    REGISTRATION_REFUSED,
    add_user,
    normalize_email,
    passwords_for,
    with_status,
)
from batonflow.auth.scopes import Principal
from batonflow.errors import Conflict, InvalidInput, PermissionDenied, Unauthenticated
from batonflow.ids import new_id
from batonflow.settings import Settings
from batonflow.store import credentials, users
from batonflow.store.db import Conn
from batonflow.store.tenants import ensure_tenant, find_tenant

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
WRONG_LOGIN = "wrong email or password"


@dataclass(frozen=True, slots=True)
class Session:
    """A sign-in: the tokens and the user row (with `tenant_slug` and `tenant_name`)."""

    access_token: str
    refresh_token: str
    expires_in: int
    user: dict[str, Any]


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
    """A new tenant `slug` with this person as its first admin. A taken tenant name and a taken
    email get the same refusal, which names neither."""
    if not settings.open_registration:
        raise PermissionDenied(
            "this server registers people by invitation only (BATONFLOW_OPEN_REGISTRATION); "
            "ask a tenant's admin for an invitation"
        )
    if not SLUG.match(slug):
        raise InvalidInput(
            f"'{slug}' is not a tenant name: use 2 to 63 lowercase letters, digits and dashes, "
            "starting with a letter or digit"
        )
    email = normalize_email(email)
    if await find_tenant(conn, slug) is not None:
        raise Conflict(REGISTRATION_REFUSED)
    tenant_id = await ensure_tenant(conn, slug, now)
    # A concurrent registration of the same slug gets the same id back; its first user wins.
    if await users.count_users(conn, tenant_id) > 0:
        raise Conflict(REGISTRATION_REFUSED)
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
        grace = timedelta(seconds=settings.refresh_reuse_grace_seconds)
        if used is not None and grace and now - used <= grace:
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


async def logout(conn: Conn, token: str, now: datetime) -> dict[str, Any] | None:
    """Revoke the token's family; an unknown token is already as good as logged out. The user
    who signed out (None for an unknown token, or one already revoked)."""
    row = await credentials.find_refresh_token(conn, tokens.digest(token))
    if row is None or row["revoked_at"] is not None:
        return None
    await credentials.revoke_family(conn, row["tenant_id"], row["family_id"], now)
    return await users.find_user(conn, row["tenant_id"], row["user_id"])


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
