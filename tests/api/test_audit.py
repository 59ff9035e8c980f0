"""The audit log through the HTTP API, on both databases: what is recorded (who, what, which
record, from where), who may read it, its filters and pages, its export, and that the database
refuses to change or delete an entry."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from dirty_equals import IsStr
from fastapi import FastAPI
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.api.app import create_app
from batonflow.audit import log as audit
from batonflow.cli.serve import server_config
from batonflow.settings import Settings
from batonflow.store.audit import audit_t
from batonflow.store.db import create_engine
from tests.api.conftest import PASSWORD, Account, Signup, client_for, core_apps
from tests.api.flows import FAILING, settled, start, store

ADDRESS = "127.0.0.1"  # the client address tests/api/conftest.py's transport reports
REVIEWED = """
id: reviewed
version: "1"
steps:
  - id: approve
    kind: review
    subject: "ship the quarterly report?"
outputs: {}
"""


@pytest.fixture
async def database(api_settings: Settings, app: FastAPI) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(api_settings.resolved_database_url)
    yield engine
    await engine.dispose()


def entry(
    action: str,
    actor: str,
    *,
    kind: str = "user",
    target: tuple[str, str] | None = None,
    details: dict[str, Any] | None = None,
    address: str | None = ADDRESS,
) -> dict[str, Any]:
    return {
        "id": IsStr(),
        "created_at": IsStr(regex=r"^\d{4}-\d\d-\d\dT.*Z$"),
        "actor_kind": kind,
        "actor_id": None if kind in ("anonymous", "local") else IsStr(),
        "actor": actor,
        "action": action,
        "target_kind": None if target is None else target[0],
        "target_id": None if target is None else (IsStr() if target[1] == "*" else target[1]),
        "client_address": address,
        "details": details or {},
    }


async def log_of(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/audit", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_accounts_and_sign_ins_are_recorded_newest_first(
    app: FastAPI, signup: Signup, client: httpx.AsyncClient
) -> None:
    admin = await signup("acme")
    invited = await admin.client.post(
        "/api/v1/invitations", json={"email": "bo@acme.example", "role": "viewer"}
    )
    invitation = invited.json()
    joined = await client.post(
        "/api/v1/auth/register",
        json={
            "invitation": invitation["token"],
            "email": "bo@acme.example",
            "password": PASSWORD,
            "name": "Bo",
        },
    )
    assert joined.status_code == 201, joined.text
    bo = joined.json()["user"]["id"]
    promoted = await admin.client.patch(f"/api/v1/users/{bo}", json={"role": "reviewer"})
    assert promoted.status_code == 200
    unchanged = await admin.client.patch(f"/api/v1/users/{bo}", json={"role": "reviewer"})
    assert unchanged.status_code == 200  # no change, no entry
    key = (
        await admin.client.post(
            "/api/v1/api-keys", json={"name": "ci", "scopes": ["runs:read"], "expires_in_days": 7}
        )
    ).json()
    assert (await admin.client.delete(f"/api/v1/api-keys/{key['id']}")).status_code == 204
    pending = (
        await admin.client.post(
            "/api/v1/invitations", json={"email": "cy@acme.example", "role": "operator"}
        )
    ).json()
    assert (await admin.client.delete(f"/api/v1/invitations/{pending['id']}")).status_code == 204
    wrong = await client.post(
        "/api/v1/auth/login", json={"email": "bo@acme.example", "password": PASSWORD + " but wrong"}
    )
    assert wrong.status_code == 401
    nobody = await client.post(
        "/api/v1/auth/login", json={"email": "nobody@acme.example", "password": PASSWORD}
    )
    assert nobody.status_code == 401  # no account: no tenant's log to write to
    signed_in = await client.post(
        "/api/v1/auth/login", json={"email": "bo@acme.example", "password": PASSWORD}
    )
    assert signed_in.status_code == 200
    out = await client.post(
        "/api/v1/auth/logout", json={"refresh_token": signed_in.json()["refresh_token"]}
    )
    assert out.status_code == 204

    admin_email = admin.email
    assert await log_of(admin.client) == [
        entry("auth.sign_out", "bo@acme.example", target=("user", bo)),
        entry("auth.sign_in", "bo@acme.example", target=("user", bo)),
        entry(
            "auth.sign_in_failed",
            "bo@acme.example",
            kind="anonymous",
            target=("user", bo),
            details={"reason": "wrong password"},
        ),
        entry("invitation.revoke", admin_email, target=("invitation", pending["id"])),
        entry(
            "invitation.create",
            admin_email,
            target=("invitation", pending["id"]),
            details={"email": "cy@acme.example", "role": "operator"},
        ),
        entry("api_key.revoke", admin_email, target=("api_key", key["id"])),
        entry(
            "api_key.create",
            admin_email,
            target=("api_key", key["id"]),
            details={
                "name": "ci",
                "prefix": key["prefix"],
                "scopes": ["runs:read"],
                "expires_at": IsStr(),
            },
        ),
        entry(
            "user.update",
            admin_email,
            target=("user", bo),
            details={"email": "bo@acme.example", "role": {"from": "viewer", "to": "reviewer"}},
        ),
        entry(
            "auth.register",
            "bo@acme.example",
            target=("user", bo),
            details={"role": "viewer", "tenant_created": False},
        ),
        entry(
            "invitation.create",
            admin_email,
            target=("invitation", invitation["id"]),
            details={"email": "bo@acme.example", "role": "viewer"},
        ),
        entry(
            "auth.register",
            admin_email,
            target=("user", "*"),
            details={"role": "admin", "tenant_created": True},
        ),
    ]


async def test_run_actions_and_review_decisions_are_recorded(signup: Signup) -> None:
    admin = await signup("acme")
    await store(admin.client, FAILING)
    await store(admin.client, REVIEWED)
    dead = await start(admin.client, "failing")
    await settled(admin.client, dead["id"], ("dead", "failed"))
    assert (await admin.client.post(f"/api/v1/runs/{dead['id']}/retry")).status_code == 200
    await settled(admin.client, dead["id"], ("dead", "failed"))
    overridden = await admin.client.post(
        f"/api/v1/runs/{dead['id']}/steps/boom/override",
        json={"output": {"unlocked": True}, "reason": "unlocked by hand"},
    )
    assert overridden.status_code == 200
    waiting = await start(admin.client, "reviewed")
    review = (await settled(admin.client, waiting["id"], ("waiting",)))["reviews"][0]
    decided = await admin.client.post(
        f"/api/v1/reviews/{review['id']}/decision",
        json={"decision": "approve", "comment": "numbers checked"},
    )
    assert decided.status_code == 200, decided.text
    cancelled = await start(admin.client, "reviewed")
    await settled(admin.client, cancelled["id"], ("waiting",))
    stopped = await admin.client.post(
        f"/api/v1/runs/{cancelled['id']}/cancel", json={"reason": "duplicate"}
    )
    assert stopped.status_code == 200

    run_actions = [e for e in await log_of(admin.client) if not e["action"].startswith("auth.")]
    assert run_actions == [
        entry(
            "run.cancel",
            admin.email,
            target=("run", cancelled["id"]),
            details={"workflow_id": "reviewed", "reason": "duplicate"},
        ),
        entry(
            "review.decide",
            admin.email,
            target=("review", review["id"]),
            details={
                "run_id": waiting["id"],
                "step": "approve",
                "decision": "approve",
                "comment": "numbers checked",
            },
        ),
        entry(
            "step.override",
            admin.email,
            target=("run", dead["id"]),
            details={"step": "boom", "reason": "unlocked by hand"},
        ),
        entry(
            "run.retry", admin.email, target=("run", dead["id"]), details={"workflow_id": "failing"}
        ),
    ]


async def populated(admin: Account, count: int) -> None:
    for n in range(count):
        response = await admin.client.post(
            "/api/v1/invitations", json={"email": f"p{n}@acme.example", "role": "viewer"}
        )
        assert response.status_code == 201


async def test_filters_and_pages(signup: Signup) -> None:
    admin = await signup("acme")
    await populated(admin, 5)
    everything = await log_of(admin.client)
    assert [e["action"] for e in everything] == ["invitation.create"] * 5 + ["auth.register"]

    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = (
            await admin.client.get(
                "/api/v1/audit", params={"limit": 2, "cursor": cursor} if cursor else {"limit": 2}
            )
        ).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == everything

    invitations = await log_of(admin.client, action="invitation.create")
    assert invitations == everything[:5]
    assert await log_of(admin.client, actor=admin.email, action="auth.register") == everything[5:]
    actor_id = everything[0]["actor_id"]
    assert await log_of(admin.client, actor=actor_id) == everything
    assert await log_of(admin.client, actor="someone@else.example") == []
    middle = everything[2]["created_at"]
    assert await log_of(admin.client, since=middle) == [
        e for e in everything if e["created_at"] >= middle
    ]
    assert await log_of(admin.client, until=middle) == [
        e for e in everything if e["created_at"] < middle
    ]

    bad = [
        ({"action": "run.explode"}, "'run.explode' is not an audit action; actions: "),
        ({"since": "2026-01-01T00:00:00"}, "since needs a time zone, such as 2026-12-01T00:00:00Z"),
        (
            {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
            "since must be before until",
        ),
        ({"cursor": "nope"}, "cursor is not one this API gave out"),
    ]
    for params, message in bad:
        response = await admin.client.get("/api/v1/audit", params=params)
        assert response.status_code == 422, params
        assert response.json()["error"]["message"].startswith(message), response.text

    actions = (await admin.client.get("/api/v1/audit/actions")).json()
    assert [a["action"] for a in actions] == list(audit.ACTIONS)
    assert actions[0] == {"action": "auth.register", "description": audit.ACTIONS["auth.register"]}


async def test_only_admins_and_keys_with_audit_read_see_the_log(
    app: FastAPI, signup: Signup
) -> None:
    admin = await signup("acme")
    for role in ("operator", "reviewer", "viewer"):
        token = (
            await admin.client.post(
                "/api/v1/invitations", json={"email": f"{role}@acme.example", "role": role}
            )
        ).json()["token"]
        async with client_for(app) as anonymous:
            joined = await anonymous.post(
                "/api/v1/auth/register",
                json={
                    "invitation": token,
                    "email": f"{role}@acme.example",
                    "password": PASSWORD,
                    "name": role,
                },
            )
        async with client_for(app, joined.json()["access_token"]) as member:
            for path in ("/api/v1/audit", "/api/v1/audit/export", "/api/v1/audit/actions"):
                response = await member.get(path)
                assert (response.status_code, response.json()) == (
                    403,
                    {
                        "error": {
                            "code": "forbidden",
                            "message": f"{role}@acme.example lacks the scope 'audit:read' "
                            "this endpoint needs",
                            "details": {"scope": "audit:read"},
                        }
                    },
                ), (role, path)
    for scopes, status in ((["audit:read"], 200), (["runs:read"], 403)):
        key = (
            await admin.client.post("/api/v1/api-keys", json={"name": "siem", "scopes": scopes})
        ).json()
        async with client_for(app, key["key"]) as machine:
            assert (await machine.get("/api/v1/audit")).status_code == status
    async with client_for(app) as anonymous:
        assert (await anonymous.get("/api/v1/audit")).status_code == 401


async def test_the_export_streams_csv_and_jsonl_and_is_recorded(
    app: FastAPI, signup: Signup, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "EXPORT_BATCH", 2)  # several batches for a handful of entries
    admin = await signup("acme")
    await populated(admin, 4)

    jsonl = await admin.client.get("/api/v1/audit/export", params={"format": "jsonl"})
    assert jsonl.status_code == 200
    assert jsonl.headers["content-type"] == "application/x-ndjson"
    assert jsonl.headers["content-disposition"] == IsStr(
        regex=r'^attachment; filename="batonflow-audit-\d{8}T\d{6}Z\.jsonl"$'
    )
    assert jsonl.headers["cache-control"] == "no-store"
    rows = [json.loads(line) for line in jsonl.text.splitlines()]
    # Oldest first, and the export itself is the last entry it holds.
    assert [r["action"] for r in rows] == [
        "auth.register",
        *["invitation.create"] * 4,
        "audit.export",
    ]
    assert rows[-1] == entry("audit.export", admin.email, details={"format": "jsonl"})
    assert list(reversed(await log_of(admin.client))) == rows

    # A key whose name a spreadsheet would run as a formula: its cells stay text.
    key = (
        await admin.client.post(
            "/api/v1/api-keys", json={"name": "=HYPERLINK(1)", "scopes": ["audit:read"]}
        )
    ).json()
    async with client_for(app, key["key"]) as machine:
        as_csv = await machine.get(
            "/api/v1/audit/export", params={"format": "csv", "action": "audit.export"}
        )
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    table = list(csv.reader(io.StringIO(as_csv.text)))
    assert table[0] == list(audit.COLUMNS)
    assert [dict(zip(table[0], line, strict=True)) for line in table[1:]] == [
        {
            "id": rows[-1]["id"],
            "created_at": rows[-1]["created_at"],
            "actor_kind": "user",
            "actor_id": rows[-1]["actor_id"],
            "actor": admin.email,
            "action": "audit.export",
            "target_kind": "",
            "target_id": "",
            "client_address": ADDRESS,
            "details": '{"format":"jsonl"}',
        },
        {
            "id": IsStr(),
            "created_at": IsStr(),
            "actor_kind": "api_key",
            "actor_id": key["id"],
            "actor": f"'=HYPERLINK(1) ({key['prefix']})",
            "action": "audit.export",
            "target_kind": "",
            "target_id": "",
            "client_address": ADDRESS,
            "details": '{"action":"audit.export","format":"csv"}',
        },
    ]
    bad = await admin.client.get("/api/v1/audit/export", params={"format": "xml"})
    assert bad.status_code == 422


async def test_the_database_refuses_to_change_or_delete_an_entry(
    signup: Signup, database: AsyncEngine
) -> None:
    admin = await signup("acme")
    before = await log_of(admin.client)
    for statement in (
        update(audit_t).values(action="auth.sign_in"),
        delete(audit_t),
    ):
        with pytest.raises(DBAPIError, match="audit_log is append-only"):
            async with database.begin() as conn:
                await conn.execute(statement)
    async with database.connect() as conn:
        assert (await conn.execute(select(audit_t.c.action))).scalars().all() == ["auth.register"]
    assert await log_of(admin.client) == before


async def test_behind_a_trusted_proxy_the_entry_names_the_forwarded_client(
    api_settings: Settings,
) -> None:
    """Served by Uvicorn as `batonflow serve` configures it, behind a proxy on 127.0.0.1 that
    ends TLS: the entry's address is the proxy's client, and the refresh cookie is Secure."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = api_settings.model_copy(update={"port": port, "trusted_proxies": "127.0.0.1"})
    server = uvicorn.Server(server_config(settings, create_app(settings, apps=core_apps())))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        proxied = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers=proxied
        ) as client:
            registered = await client.post(
                "/api/v1/auth/register",
                json={
                    "tenant": "acme",
                    "email": "ada@acme.example",
                    "password": PASSWORD,
                    "name": "Ada",
                },
            )
            assert registered.status_code == 201, registered.text
            assert "secure" in registered.headers["set-cookie"].lower().split("; ")
            token = registered.json()["access_token"]
            log = await client.get("/api/v1/audit", headers={"Authorization": f"Bearer {token}"})
        assert [(e["action"], e["client_address"]) for e in log.json()["items"]] == [
            ("auth.register", "203.0.113.9")
        ]
    finally:
        server.should_exit = True
        await task
