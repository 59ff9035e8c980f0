"""Tokens: signed access tokens (JWT, HS256 only, the algorithm never read from the token: see
docs/auth.md), and opaque secrets (refresh and invitation tokens, API keys) stored only as
SHA-256 digests, so a copy of the database signs nobody in.

`authenticate` says who a bearer token is: an active user's access token, or an unrevoked,
unexpired API key. It runs on every request, so it does at most one indexed read; an API key's
`last_used_at` is written at most once a minute.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from batonflow.auth.scopes import ROLE_SCOPES, Principal, roles_for_scopes
from batonflow.errors import Unauthenticated
from batonflow.settings import Settings
from batonflow.store import credentials, users
from batonflow.store.db import Database

ALGORITHMS = ["HS256"]
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "tid", "role", "typ", "jti"]
API_KEY_PREFIX = "bf_"  # pragma: allowlist secret (a prefix that marks API keys, not a key)
DISPLAY_PREFIX_LENGTH = 11  # "bf_" and 8 characters: enough to recognise a key in a list
LEEWAY_SECONDS = 10  # clock skew between replicas
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: str
    tenant_id: str
    role: str
    jti: str
    expires_at: datetime


def issue_access(
    settings: Settings, *, user_id: str, tenant_id: str, role: str, now: datetime
) -> str:
    issued = int(now.timestamp())
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": user_id,
        "tid": tenant_id,
        "role": role,
        "typ": "access",
        "jti": secrets.token_urlsafe(12),
        "iat": issued,
        "exp": issued + settings.access_token_seconds,
    }
    return jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm="HS256")


def decode_access(settings: Settings, token: str) -> AccessClaims:
    """The claims of a valid access token; `Unauthenticated` for anything else. Checking the
    signature costs more than the rest of authenticating, so what a token proved is remembered
    (`_verified`, keyed by the token and what it was checked against); expiry is checked always."""
    claims = _verified(
        token, settings.secret_key.get_secret_value(), settings.jwt_audience, settings.jwt_issuer
    )
    if claims.expires_at.timestamp() + LEEWAY_SECONDS <= time.time():
        raise Unauthenticated("the access token has expired; refresh it")
    return claims


@functools.lru_cache(maxsize=8192)
def _verified(token: str, key: str, audience: str, issuer: str) -> AccessClaims:
    """Everything about a token that cannot change: its signature, issuer, audience, claims,
    and `iat`/`nbf` (a token valid now stays valid until it expires). Raises for a token that
    fails, and a failure is not remembered."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=ALGORITHMS,
            audience=audience,
            issuer=issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("the access token has expired; refresh it") from None
    except jwt.PyJWTError as exc:
        raise Unauthenticated(f"the access token is not valid: {exc}") from None
    if claims["typ"] != "access":
        raise Unauthenticated("the token is not an access token")
    fields = (claims["sub"], claims["tid"], claims["role"], claims["jti"])
    expiry = claims["exp"]
    if not all(isinstance(value, str) and value for value in fields) or not (
        isinstance(expiry, int | float) and not isinstance(expiry, bool) and 0 < expiry < 2**33
    ):
        raise Unauthenticated("the access token is not valid: malformed claims")
    return AccessClaims(
        user_id=claims["sub"],
        tenant_id=claims["tid"],
        role=claims["role"],
        jti=claims["jti"],
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
    )


def digest(secret: str) -> str:
    """What is stored of a refresh token, API key or invitation token."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    """A refresh or invitation token."""
    return secrets.token_urlsafe(32)


def new_api_key() -> tuple[str, str]:
    """A new API key and the prefix shown in listings."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[:DISPLAY_PREFIX_LENGTH]


def is_api_key(token: str) -> bool:
    return token.startswith(API_KEY_PREFIX)


async def authenticate(db: Database, settings: Settings, token: str) -> Principal:
    if is_api_key(token):
        return await _api_key(db, token)
    claims = decode_access(settings, token)
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
    row = await db.read(lambda conn: credentials.find_api_key(conn, digest(key)))
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
