"""Who a bearer token is: an access token (JWT) of an active user, or an unrevoked, unexpired
API key (`bf_...`). Runs on every request, so it does at most one indexed read; an API key's
`last_used_at` is written at most once a minute.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from batonflow.auth import tokens
from batonflow.auth.scopes import ROLE_SCOPES, Principal, roles_for_scopes
from batonflow.errors import Unauthenticated
from batonflow.settings import Settings
from batonflow.store import credentials, users
from batonflow.store.db import Database

TOUCH_EVERY = timedelta(minutes=1)


async def authenticate(db: Database, settings: Settings, token: str) -> Principal:
    if tokens.is_api_key(token):
        return await _api_key(db, token)
    claims = tokens.decode_access(settings, token)
    user = await db.read(lambda conn: users.signed_in(conn, claims.tenant_id, claims.user_id))
    if user is None or not user["active"]:
        raise Unauthenticated("this account is deactivated or no longer exists")
    scopes = ROLE_SCOPES[user["role"]]
    return Principal(
        kind="user",
        id=claims.user_id,
        tenant_id=claims.tenant_id,
        name=user["email"],
        roles=roles_for_scopes(scopes),
        scopes=scopes,
    )


async def _api_key(db: Database, key: str) -> Principal:
    row = await db.read(lambda conn: credentials.find_api_key(conn, tokens.digest(key)))
    now = datetime.now(UTC)
    if row is None:
        raise Unauthenticated("the API key is not valid")
    if row["revoked_at"] is not None:
        raise Unauthenticated(f"the API key {row['prefix']}... was revoked")
    if row["expires_at"] is not None and row["expires_at"] <= now:
        raise Unauthenticated(f"the API key {row['prefix']}... has expired")
    if row["last_used_at"] is None or row["last_used_at"] < now - TOUCH_EVERY:
        await db.write(
            lambda conn: credentials.touch_api_key(conn, row["id"], now, now - TOUCH_EVERY)
        )
    scopes = frozenset(row["scopes"])
    return Principal(
        kind="api_key",
        id=row["id"],
        tenant_id=row["tenant_id"],
        name=f"{row['name']} ({row['prefix']})",
        roles=roles_for_scopes(scopes),
        scopes=scopes,
    )
