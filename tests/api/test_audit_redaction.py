"""The audit export redacts what the output check finds in an entry's details (the server's
signing key, a credential), on SQLite and PostgreSQL; the stored entry is unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from fastapi import FastAPI

from batonflow.audit import log as audit
from batonflow.settings import Settings
from tests.api.conftest import Signup

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJlLXBhcnQ"  # pragma: allowlist secret


async def test_the_export_redacts_secrets_and_credentials_from_details(
    app: FastAPI, signup: Signup, api_settings: Settings
) -> None:
    admin = await signup("acme")
    tenant_id = (await admin.client.get("/api/v1/me")).json()["tenant"]["id"]
    key = api_settings.secret_key.get_secret_value()
    reason = f'to "{key}@evil.example" is outside the grant\'s allow list; token {JWT}'
    await app.state.batonflow.transact(
        lambda conn: audit.record(
            conn,
            tenant_id,
            "tool.refused",
            actor=audit.Actor.agent("model"),
            target=("run", "run-1"),
            details={"step": "reply", "reason": reason},
            now=datetime.now(UTC),
        )
    )
    exported = await admin.client.get(
        "/api/v1/audit/export", params={"format": "jsonl", "action": "tool.refused"}
    )
    [row] = [json.loads(line) for line in exported.text.splitlines()]
    assert row["details"] == {
        "step": "reply",
        "reason": 'to "[redacted: secret: BATONFLOW_SECRET_KEY]@evil.example" is outside the '
        "grant's allow list; token [redacted: credential: JWT]",
    }
    listed = (await admin.client.get("/api/v1/audit", params={"action": "tool.refused"})).json()
    assert listed["items"][0]["details"]["reason"] == reason
