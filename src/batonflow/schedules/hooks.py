"""Webhook triggers: a secret URL per workflow that starts a run with the JSON body as inputs
(docs/schedules.md). The hook's secret is not stored: it is derived from the server's secret
key, the hook id and a salt kept with the hook (`secret_for`), so a database copy alone cannot
sign deliveries. The (hook, delivery id) pair is a key: a delivery sent again answers with the
run the first one started.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from batonflow.errors import Conflict, InvalidInput
from batonflow.runs import service as run_service
from batonflow.store import hooks as store
from batonflow.store import workflows as workflow_store
from batonflow.store.db import Conn

SIGNATURE_HEADER = "X-Batonflow-Signature"
DELIVERY_HEADER = "X-Batonflow-Delivery"
_UNKNOWN_SALT = "no-such-hook"


@dataclass(frozen=True, slots=True)
class Delivered:
    run_id: str
    delivery_id: str
    replayed: bool


def secret_for(server_key: str, hook_id: str, salt: str) -> str:
    digest = hmac.new(
        server_key.encode(), f"batonflow-hook\x00{hook_id}\x00{salt}".encode(), hashlib.sha256
    ).digest()
    return "whsec_" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verified(hook: dict[str, Any] | None, server_key: str, body: bytes, signature: str) -> bool:
    """Whether `signature` signs `body` for `hook`. An unknown hook (None) costs the same work
    and is refused the same way."""
    hook_id, salt = (hook["id"], hook["salt"]) if hook else (_UNKNOWN_SALT, _UNKNOWN_SALT)
    expected = sign(secret_for(server_key, hook_id, salt), body)
    matches = hmac.compare_digest(expected.encode(), signature.strip().encode())
    return matches and hook is not None


async def create(
    conn: Conn,
    tenant_id: str,
    *,
    name: str,
    workflow_id: str,
    version: str | None,
    actor: str,
    now: datetime,
    server_key: str,
) -> tuple[dict[str, Any], str]:
    """Make a hook for a stored workflow: (the hook, its secret: shown this once)."""
    if not name.strip():
        raise InvalidInput("a hook needs a name")
    await workflow_store.get_version(conn, tenant_id, workflow_id, version)
    row: dict[str, Any] = {
        "id": "hk_" + secrets.token_urlsafe(24),
        "tenant_id": tenant_id,
        "name": name.strip(),
        "workflow_id": workflow_id,
        "version": version,
        "salt": secrets.token_urlsafe(24),
        "created_by": actor,
        "created_at": now,
        "rotated_at": now,
    }
    await store.insert_hook(conn, row)
    return row, secret_for(server_key, row["id"], row["salt"])


async def rotate(
    conn: Conn, tenant_id: str, hook_id: str, *, now: datetime, server_key: str
) -> tuple[dict[str, Any], str]:
    """A new secret for the hook; the old one stops working at once."""
    await store.get_hook(conn, tenant_id, hook_id)
    salt = secrets.token_urlsafe(24)
    await store.set_salt(conn, tenant_id, hook_id, salt=salt, rotated_at=now)
    row = await store.get_hook(conn, tenant_id, hook_id)
    return row, secret_for(server_key, hook_id, salt)


async def remove(conn: Conn, tenant_id: str, hook_id: str) -> dict[str, Any]:
    row = await store.get_hook(conn, tenant_id, hook_id)
    await store.delete_hook(conn, tenant_id, hook_id)
    return row


def body_hash(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


async def replay(
    conn: Conn, hook: dict[str, Any], delivery_id: str, digest: str
) -> Delivered | None:
    """The answer a delivery id already got, or None if it is new."""
    found = await store.find_delivery(conn, hook["tenant_id"], hook["id"], delivery_id)
    if found is None:
        return None
    if found["body_hash"] != digest:
        raise Conflict(
            f"delivery '{delivery_id}' was already received with another body; "
            "give each new delivery its own id",
            details={"run_id": found["run_id"]},
        )
    return Delivered(found["run_id"], delivery_id, replayed=True)


async def deliver(
    conn: Conn,
    hook: dict[str, Any],
    *,
    delivery_id: str,
    digest: str,
    inputs: dict[str, Any],
    now: datetime,
    max_active_runs: int | None = None,
) -> Delivered:
    """Start the hook's run with `inputs` (checked against the workflow's input schema: a
    refusal says what to fix) and record the delivery, in the caller's transaction."""
    replayed = await replay(conn, hook, delivery_id, digest)
    if replayed is not None:
        return replayed
    tenant_id = hook["tenant_id"]
    version = await workflow_store.get_version(
        conn, tenant_id, hook["workflow_id"], hook["version"]
    )
    run = await run_service.start_run(
        conn,
        tenant_id=tenant_id,
        version=version,
        inputs=inputs,
        actor=run_service.Actor(f"hook:{hook['name']}"),
        now=now,
        ctx={"hook_id": hook["id"], "delivery_id": delivery_id},
        max_active_runs=max_active_runs,
    )
    await store.insert_delivery(
        conn,
        {
            "hook_id": hook["id"],
            "delivery_id": delivery_id,
            "tenant_id": tenant_id,
            "body_hash": digest,
            "run_id": run.id,
            "created_at": now,
        },
    )
    return Delivered(run.id, delivery_id, replayed=False)
