"""The JWT suite: only HS256 with our key and every required claim gets through.

Forged tokens are assembled by hand (base64url header, payload, signature), the way an attacker
would, so the library's own encoder cannot refuse to make them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dirty_equals import IsDatetime, IsStr

from batonflow.auth import tokens
from batonflow.auth.tokens import AccessClaims
from batonflow.errors import Unauthenticated
from batonflow.settings import Settings


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(dev=True, secret_key=secrets.token_urlsafe(48))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    signing = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = b"" if key is None else hmac.new(key, signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{b64(signature)}"


def claims(settings: Settings, **changes: Any) -> dict[str, Any]:
    now = int(datetime.now(UTC).timestamp())
    values = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": "user-1",
        "tid": "tenant-1",
        "role": "viewer",
        "typ": "access",
        "jti": "jti-1",
        "iat": now,
        "exp": now + 600,
        **changes,
    }
    return {name: value for name, value in values.items() if value is not None}


def key_of(settings: Settings) -> bytes:
    return settings.secret_key.get_secret_value().encode()


def refused(settings: Settings, token: str) -> str:
    with pytest.raises(Unauthenticated) as caught:
        tokens.decode_access(settings, token)
    return caught.value.message


def test_an_issued_token_decodes_to_its_claims(settings: Settings) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    token = tokens.issue_access(settings, user_id="u1", tenant_id="t1", role="admin", now=now)
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    assert tokens.decode_access(settings, token) == AccessClaims(
        user_id="u1",
        tenant_id="t1",
        role="admin",
        jti=IsStr(min_length=16),  # type: ignore[arg-type]
        expires_at=now + timedelta(seconds=900),
    )


def test_a_hand_forged_token_with_our_key_is_accepted(settings: Settings) -> None:
    token = forge({"alg": "HS256", "typ": "JWT"}, claims(settings), key_of(settings))
    assert tokens.decode_access(settings, token).user_id == "user-1"


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_in_any_casing_is_refused(settings: Settings, alg: str) -> None:
    unsigned = forge({"alg": alg, "typ": "JWT"}, claims(settings), None)
    assert refused(settings, unsigned) == (
        "the access token is not valid: The specified alg value is not allowed"
    )
    # A signature does not rescue it either.
    signed = forge({"alg": alg, "typ": "JWT"}, claims(settings), key_of(settings))
    assert refused(settings, signed) == (
        "the access token is not valid: The specified alg value is not allowed"
    )


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_an_rs256_token_is_refused(settings: Settings, rsa_key: rsa.RSAPrivateKey) -> None:
    token = jwt.encode(claims(settings), rsa_key, algorithm="RS256")
    assert refused(settings, token) == (
        "the access token is not valid: The specified alg value is not allowed"
    )


def test_hs256_keyed_with_the_rsa_public_key_is_refused(
    settings: Settings, rsa_key: rsa.RSAPrivateKey
) -> None:
    public_pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    token = forge({"alg": "HS256", "typ": "JWT"}, claims(settings), public_pem)
    assert refused(settings, token) == (
        "the access token is not valid: Signature verification failed"
    )


def test_an_expired_token_is_refused(settings: Settings) -> None:
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    token = tokens.issue_access(settings, user_id="u", tenant_id="t", role="viewer", now=long_ago)
    assert refused(settings, token) == "the access token has expired; refresh it"


def test_another_issuer_or_audience_is_refused(settings: Settings) -> None:
    now = datetime.now(UTC)
    other_issuer = settings.model_copy(update={"jwt_issuer": "someone-else"})
    other_audience = settings.model_copy(update={"jwt_audience": "another-api"})
    assert [
        refused(
            settings, tokens.issue_access(other, user_id="u", tenant_id="t", role="viewer", now=now)
        )
        for other in (other_issuer, other_audience)
    ] == [
        "the access token is not valid: Invalid issuer",
        "the access token is not valid: Audience doesn't match",
    ]


@pytest.mark.parametrize("claim", tokens.REQUIRED_CLAIMS)
def test_a_token_missing_a_required_claim_is_refused(settings: Settings, claim: str) -> None:
    token = forge({"alg": "HS256"}, claims(settings, **{claim: None}), key_of(settings))
    assert refused(settings, token) == (
        f'the access token is not valid: Token is missing the "{claim}" claim'
    )


def test_a_token_of_another_type_is_refused(settings: Settings) -> None:
    token = forge({"alg": "HS256"}, claims(settings, typ="refresh"), key_of(settings))
    assert refused(settings, token) == "the token is not an access token"


def test_a_token_signed_with_another_secret_is_refused(settings: Settings) -> None:
    token = forge({"alg": "HS256"}, claims(settings), secrets.token_bytes(48))
    assert refused(settings, token) == (
        "the access token is not valid: Signature verification failed"
    )


def test_a_tampered_signature_or_payload_is_refused(settings: Settings) -> None:
    token = forge({"alg": "HS256"}, claims(settings), key_of(settings))
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    promoted = b64(json.dumps(claims(settings, role="admin")).encode())
    assert [
        refused(settings, f"{header}.{payload}.{flipped}"),
        refused(settings, f"{header}.{promoted}.{signature}"),
        refused(settings, "not.a.token"),
        refused(settings, "garbage"),
    ] == [
        "the access token is not valid: Signature verification failed",
        "the access token is not valid: Signature verification failed",
        IsStr(regex=r"the access token is not valid: .+"),
        "the access token is not valid: Not enough segments",
    ]


def test_key_pointing_headers_are_ignored(settings: Settings) -> None:
    header = {
        "alg": "HS256",
        "kid": "../../../dev/null",
        "jku": "http://127.0.0.1:9/jwks.json",
        "x5u": "http://127.0.0.1:9/cert.pem",
        "jwk": {"kty": "oct", "k": b64(b"attacker-key-attacker-key-attacker")},
    }
    # Signed with our key: accepted, the headers never consulted (nothing is fetched).
    assert tokens.decode_access(settings, forge(header, claims(settings), key_of(settings))) == (
        AccessClaims(
            user_id="user-1",
            tenant_id="tenant-1",
            role="viewer",
            jti="jti-1",
            expires_at=IsDatetime(),  # type: ignore[arg-type]
        )
    )
    # Signed with the key the headers point at: refused.
    forged = forge(header, claims(settings), b"attacker-key-attacker-key-attacker")
    assert refused(settings, forged) == (
        "the access token is not valid: Signature verification failed"
    )


def test_secrets_are_random_and_stored_as_sha256() -> None:
    key, prefix = tokens.new_api_key()
    assert key == IsStr(regex=r"bf_[A-Za-z0-9_-]{43}")
    assert (prefix, tokens.is_api_key(key)) == (key[:11], True)
    assert tokens.new_secret() == IsStr(regex=r"[A-Za-z0-9_-]{43}")
    assert tokens.digest("abc") == hashlib.sha256(b"abc").hexdigest()


def test_a_token_accepted_once_is_refused_when_it_expires(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a token proved is remembered between requests; its expiry is checked every time.
    now = int(datetime.now(UTC).timestamp())
    token = forge({"alg": "HS256", "typ": "JWT"}, claims(settings, exp=now + 60), key_of(settings))
    assert tokens.decode_access(settings, token).user_id == "user-1"
    later = now + 60 + tokens.LEEWAY_SECONDS
    monkeypatch.setattr(tokens.time, "time", lambda: float(later))
    assert refused(settings, token) == "the access token has expired; refresh it"
    monkeypatch.setattr(tokens.time, "time", lambda: float(later - 1))
    assert tokens.decode_access(settings, token).user_id == "user-1"


def test_a_token_accepted_under_one_key_is_refused_under_another(settings: Settings) -> None:
    token = forge({"alg": "HS256", "typ": "JWT"}, claims(settings), key_of(settings))
    assert tokens.decode_access(settings, token).user_id == "user-1"
    rotated = Settings(dev=True, secret_key=secrets.token_urlsafe(48))
    assert refused(rotated, token) == "the access token is not valid: Signature verification failed"
    other_audience = settings.model_copy(update={"jwt_audience": "another-api"})
    assert refused(other_audience, token) == "the access token is not valid: Audience doesn't match"


def test_a_refused_token_is_checked_again_each_time(settings: Settings) -> None:
    # Failures are not remembered: each presentation of a refused token is checked afresh.
    now = int(datetime.now(UTC).timestamp())
    early = forge(
        {"alg": "HS256", "typ": "JWT"}, claims(settings, nbf=now + 3600), key_of(settings)
    )
    assert refused(settings, early) == (
        "the access token is not valid: The token is not yet valid (nbf)"
    )
    assert refused(settings, early) == (
        "the access token is not valid: The token is not yet valid (nbf)"
    )
