"""Users, API keys and invitations through the admin routes; viewers are kept out, and another
tenant's ids are 404s that change nothing."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dirty_equals import IsDatetime, IsStr
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.settings import Settings
from batonflow.store.db import create_engine
from batonflow.store.tables import ApiKey
from tests.api.conftest import PASSWORD, Account, Signup, client_for

WHEN = IsDatetime(iso_string=True)


@pytest.fixture
async def database(api_settings: Settings, app: FastAPI) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(api_settings.resolved_database_url)
    yield engine
    await engine.dispose()


async def member(admin: Account, app: FastAPI, email: str, role: str) -> dict[str, Any]:
    """Invite `email` with `role` and register them: their user and an access token."""
    invitation = await admin.client.post("/api/v1/invitations", json={"email": email, "role": role})
    async with client_for(app) as anonymous:
        joined = await anonymous.post(
            "/api/v1/auth/register",
            json={
                "invitation": invitation.json()["token"],
                "email": email,
                "password": PASSWORD,
                "name": "Member",
            },
        )
    assert joined.status_code == 201, joined.text
    body: dict[str, Any] = joined.json()
    return {
        **body["user"],
        "access_token": body["access_token"],
        "refresh_token": body["refresh_token"],
    }


def error(code: str, message: str, **details: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


async def test_users_are_listed_read_and_changed(signup: Signup, app: FastAPI) -> None:
    admin = await signup("acme")
    olga = await member(admin, app, "olga@acme.example", "operator")
    listed = await admin.client.get("/api/v1/users")
    assert (listed.status_code, listed.json()) == (
        200,
        {
            "items": [
                {
                    "id": IsStr(),
                    "email": "admin@acme.example",
                    "name": "Admin",
                    "role": "admin",
                    "active": True,
                    "created_at": WHEN,
                    "last_login_at": WHEN,
                },
                {
                    "id": olga["id"],
                    "email": "olga@acme.example",
                    "name": "Member",
                    "role": "operator",
                    "active": True,
                    "created_at": WHEN,
                    "last_login_at": WHEN,
                },
            ],
            "next_cursor": None,
        },
    )
    one = await admin.client.get(f"/api/v1/users/{olga['id']}")
    assert (one.status_code, one.json()) == (200, listed.json()["items"][1])
    changed = await admin.client.patch(f"/api/v1/users/{olga['id']}", json={"role": "reviewer"})
    assert (changed.status_code, changed.json()) == (
        200,
        {**listed.json()["items"][1], "role": "reviewer"},
    )


async def test_a_deactivated_user_is_signed_out_at_once(signup: Signup, app: FastAPI) -> None:
    admin = await signup("acme")
    olga = await member(admin, app, "olga@acme.example", "operator")
    off = await admin.client.patch(f"/api/v1/users/{olga['id']}", json={"active": False})
    assert (off.status_code, off.json()["active"]) == (200, False)
    gone = error("unauthenticated", "this account is deactivated or no longer exists")
    async with client_for(app, olga["access_token"]) as client:
        me = await client.get("/api/v1/me")
        refreshed = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": olga["refresh_token"]}
        )
        login = await client.post(
            "/api/v1/auth/login", json={"email": olga["email"], "password": PASSWORD}
        )
    assert [(r.status_code, r.json()) for r in (me, refreshed, login)] == [
        (401, gone),
        (401, error("unauthenticated", "the refresh token was revoked; sign in again")),
        (401, error("unauthenticated", "wrong email or password")),
    ]
    on = await admin.client.patch(f"/api/v1/users/{olga['id']}", json={"active": True})
    assert on.json()["active"] is True
    async with client_for(app, olga["access_token"]) as client:
        assert (await client.get("/api/v1/me")).status_code == 200


async def test_an_api_key_is_shown_once_and_works_as_a_bearer(
    signup: Signup, app: FastAPI, database: AsyncEngine
) -> None:
    admin = await signup("acme")
    created = await admin.client.post(
        "/api/v1/api-keys", json={"name": "deploy bot", "scopes": ["admin", "runs:read"]}
    )
    key = created.json()["key"]
    described = {
        "id": IsStr(),
        "name": "deploy bot",
        "prefix": key[:11],
        "scopes": ["runs:read", "admin"],
        "created_by": "admin@acme.example",
        "created_at": WHEN,
        "expires_at": None,
        "last_used_at": None,
        "revoked_at": None,
    }
    assert (created.status_code, created.json()) == (
        201,
        {**described, "key": IsStr(regex=r"bf_[A-Za-z0-9_-]{43}")},
    )
    async with client_for(app, key) as machine:
        users = await machine.get("/api/v1/users")
        await machine.get("/api/v1/users")
    assert (users.status_code, [u["email"] for u in users.json()["items"]]) == (
        200,
        ["admin@acme.example"],
    )
    listed = await admin.client.get("/api/v1/api-keys")
    assert (listed.status_code, listed.json()) == (
        200,
        {"items": [{**described, "last_used_at": WHEN}], "next_cursor": None},
    )


async def test_a_key_gets_only_known_scopes_its_creator_holds(signup: Signup, app: FastAPI) -> None:
    admin = await signup("acme")
    admin_only = (
        await admin.client.post("/api/v1/api-keys", json={"name": "keys", "scopes": ["admin"]})
    ).json()["key"]
    async with client_for(app, admin_only) as machine:
        wider = await machine.post(
            "/api/v1/api-keys", json={"name": "wider", "scopes": ["admin", "runs:write"]}
        )
        narrower = await machine.post(
            "/api/v1/api-keys", json={"name": "same", "scopes": ["admin"]}
        )
    unknown = await admin.client.post(
        "/api/v1/api-keys", json={"name": "odd", "scopes": ["runs:read", "root"]}
    )
    assert [(r.status_code, r.json()) for r in (wider, unknown)] == [
        (
            403,
            error(
                "forbidden",
                f"keys ({admin_only[:11]}) cannot give a key scopes it lacks: runs:write",
                scopes=["runs:write"],
            ),
        ),
        (
            422,
            error(
                "input_invalid",
                "unknown scopes: root; scopes: runs:read, workflows:read, reviews:read, "
                "prompts:read, agents:read, usage:read, events:read, kb:read, triggers:read, "
                "runs:write, workflows:write, prompts:write, kb:write, triggers:write, "
                "reviews:decide, audit:read, admin",
                unknown=["root"],
            ),
        ),
    ]
    assert narrower.status_code == 201


async def test_a_key_without_the_scope_gets_403(signup: Signup, app: FastAPI) -> None:
    admin = await signup("acme")
    key = (
        await admin.client.post("/api/v1/api-keys", json={"name": "ro", "scopes": ["runs:read"]})
    ).json()
    async with client_for(app, key["key"]) as machine:
        response = await machine.get("/api/v1/users")
    assert (response.status_code, response.json()) == (
        403,
        error(
            "forbidden",
            f"ro ({key['prefix']}) lacks the scope 'admin' this endpoint needs",
            scope="admin",
        ),
    )


async def test_a_revoked_or_expired_key_is_refused(
    signup: Signup, app: FastAPI, database: AsyncEngine
) -> None:
    admin = await signup("acme")
    revoked, expired = [
        (
            await admin.client.post(
                "/api/v1/api-keys",
                json={"name": name, "scopes": ["runs:read"], "expires_in_days": 1},
            )
        ).json()
        for name in ("revoked", "expired")
    ]
    deleted = await admin.client.delete(f"/api/v1/api-keys/{revoked['id']}")
    again = await admin.client.delete(f"/api/v1/api-keys/{revoked['id']}")
    assert (deleted.status_code, deleted.content, again.status_code) == (204, b"", 204)
    async with database.begin() as conn:  # let the key's day pass
        await conn.execute(
            update(ApiKey)
            .where(ApiKey.id == expired["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    answers = []
    for key in (revoked, expired, {"key": "bf_made-up"}):
        async with client_for(app, key["key"]) as machine:
            answers.append(await machine.get("/api/v1/me"))
    assert [(r.status_code, r.json()) for r in answers] == [
        (401, error("unauthenticated", f"the API key {revoked['prefix']}... was revoked")),
        (401, error("unauthenticated", f"the API key {expired['prefix']}... has expired")),
        (401, error("unauthenticated", "the API key is not valid")),
    ]
    listed = (await admin.client.get("/api/v1/api-keys")).json()["items"]
    assert [(k["name"], k["revoked_at"]) for k in listed] == [("revoked", WHEN), ("expired", None)]


async def test_invitations_are_listed_without_tokens_and_revoked(signup: Signup) -> None:
    admin = await signup("acme")
    created = await admin.client.post(
        "/api/v1/invitations", json={"email": "Vera@acme.example", "role": "viewer"}
    )
    described = {
        "id": IsStr(),
        "email": "vera@acme.example",
        "role": "viewer",
        "status": "pending",
        "created_by": "admin@acme.example",
        "created_at": WHEN,
        "expires_at": WHEN,
        "accepted_at": None,
        "revoked_at": None,
    }
    assert (created.status_code, created.json()) == (
        201,
        {**described, "token": IsStr(min_length=43)},
    )
    expires = datetime.fromisoformat(created.json()["expires_at"])
    created_at = datetime.fromisoformat(created.json()["created_at"])
    assert expires - created_at == timedelta(days=7)
    assert (await admin.client.get("/api/v1/invitations")).json() == {
        "items": [described],
        "next_cursor": None,
    }
    revoked = await admin.client.delete(f"/api/v1/invitations/{created.json()['id']}")
    assert revoked.status_code == 204
    assert (await admin.client.get("/api/v1/invitations")).json() == {
        "items": [{**described, "status": "revoked", "revoked_at": WHEN}],
        "next_cursor": None,
    }
    member_again = await admin.client.post(
        "/api/v1/invitations", json={"email": admin.email, "role": "viewer"}
    )
    assert (member_again.status_code, member_again.json()) == (
        409,
        error("conflict", "admin@acme.example is already a user of this tenant"),
    )


ADMIN_ROUTES = [
    ("GET", "/api/v1/users", None),
    ("GET", "/api/v1/users/some-id", None),
    ("PATCH", "/api/v1/users/some-id", {"role": "admin"}),
    ("POST", "/api/v1/api-keys", {"name": "k", "scopes": ["runs:read"]}),
    ("GET", "/api/v1/api-keys", None),
    ("DELETE", "/api/v1/api-keys/some-id", None),
    ("POST", "/api/v1/invitations", {"email": "x@acme.example", "role": "admin"}),
    ("GET", "/api/v1/invitations", None),
    ("DELETE", "/api/v1/invitations/some-id", None),
]


async def test_a_viewer_gets_403_on_every_admin_route(signup: Signup, app: FastAPI) -> None:
    admin = await signup("acme")
    vera = await member(admin, app, "vera@acme.example", "viewer")
    async with client_for(app, vera["access_token"]) as client:
        answers = [
            await client.request(method, path, json=body) for method, path, body in ADMIN_ROUTES
        ]
    denied = error(
        "forbidden", "vera@acme.example lacks the scope 'admin' this endpoint needs", scope="admin"
    )
    assert [(r.status_code, r.json()) for r in answers] == [(403, denied)] * len(ADMIN_ROUTES)


async def test_another_tenants_ids_are_404s_that_change_nothing(
    signup: Signup, app: FastAPI
) -> None:
    acme = await signup("acme")
    globex = await signup("globex")
    olga = await member(acme, app, "olga@acme.example", "operator")
    key = (
        await acme.client.post("/api/v1/api-keys", json={"name": "k", "scopes": ["runs:read"]})
    ).json()
    invitation = (
        await acme.client.post(
            "/api/v1/invitations", json={"email": "ivan@acme.example", "role": "viewer"}
        )
    ).json()
    before = [
        (await acme.client.get(path)).json()
        for path in ("/api/v1/users", "/api/v1/api-keys", "/api/v1/invitations")
    ]

    async def both(method: str, path: str, real: str, body: Any = None) -> list[Any]:
        """Globex's answer for acme's id, and for an id that does not exist."""
        missing = "0190a0b0-0000-7000-8000-000000000000"
        answers = [
            await globex.client.request(method, path.format(real), json=body),
            await globex.client.request(method, path.format(missing), json=body),
        ]
        return [
            (r.status_code, r.json()["error"]["message"].replace(ident, "ID"))
            for r, ident in zip(answers, (real, missing), strict=True)
        ]

    cases = [
        ("GET", "/api/v1/users/{}", olga["id"], None),
        ("PATCH", "/api/v1/users/{}", olga["id"], {"role": "admin", "active": False}),
        ("DELETE", "/api/v1/api-keys/{}", key["id"], None),
        ("DELETE", "/api/v1/invitations/{}", invitation["id"], None),
    ]
    results = [await both(*case) for case in cases]
    assert results == [
        [(404, "no user 'ID'")] * 2,
        [(404, "no user 'ID'")] * 2,
        [(404, "no API key 'ID'")] * 2,
        [(404, "no invitation 'ID'")] * 2,
    ]
    after = [
        (await acme.client.get(path)).json()
        for path in ("/api/v1/users", "/api/v1/api-keys", "/api/v1/invitations")
    ]
    assert after == before
    assert [u["email"] for u in (await globex.client.get("/api/v1/users")).json()["items"]] == [
        "admin@globex.example"
    ]


async def test_an_id_that_cannot_exist_is_a_404_too(signup: Signup) -> None:
    admin = await signup("acme")
    answers = [
        await admin.client.get("/api/v1/users/not%00an-id"),
        await admin.client.patch("/api/v1/users/x", json={"role": "viewer"}),
        await admin.client.delete("/api/v1/api-keys/x"),
        await admin.client.delete("/api/v1/invitations/x"),
    ]
    assert [(r.status_code, r.json()) for r in answers] == [
        (404, error("not_found", "no user 'not\x00an-id'")),
        (404, error("not_found", "no user 'x'")),
        (404, error("not_found", "no API key 'x'")),
        (404, error("not_found", "no invitation 'x'")),
    ]


async def pages(account: Account, path: str, **params: Any) -> list[tuple[list[str], bool]]:
    """Every page of `path` at `limit=2`, following `next_cursor`: each page's ids and whether
    it gave a cursor for the next one."""
    seen: list[tuple[list[str], bool]] = []
    cursor = None
    while True:
        query = {"limit": 2, **params} | ({"cursor": cursor} if cursor else {})
        response = await account.client.get(path, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"items", "next_cursor"}
        seen.append(([item["id"] for item in body["items"]], body["next_cursor"] is not None))
        cursor = body["next_cursor"]
        if cursor is None:
            return seen


async def test_users_come_a_page_at_a_time_oldest_first(signup: Signup, app: FastAPI) -> None:
    admin = await signup("acme")
    emails = [f"user{index}@acme.example" for index in range(4)]
    joined = [(await member(admin, app, email, "viewer"))["id"] for email in emails]
    everyone = (await admin.client.get("/api/v1/users")).json()
    assert [u["email"] for u in everyone["items"]] == ["admin@acme.example", *emails]
    assert everyone["next_cursor"] is None
    ids = [u["id"] for u in everyone["items"]]
    assert ids[1:] == joined
    assert await pages(admin, "/api/v1/users") == [
        (ids[0:2], True),
        (ids[2:4], True),
        (ids[4:5], False),
    ]


async def test_api_keys_come_a_page_at_a_time_oldest_first(signup: Signup) -> None:
    admin = await signup("acme")
    ids = [
        (
            await admin.client.post(
                "/api/v1/api-keys", json={"name": f"key {index}", "scopes": ["runs:read"]}
            )
        ).json()["id"]
        for index in range(5)
    ]
    await admin.client.delete(f"/api/v1/api-keys/{ids[1]}")  # revoked ones stay listed
    everyone = (await admin.client.get("/api/v1/api-keys")).json()
    assert ([k["id"] for k in everyone["items"]], everyone["next_cursor"]) == (ids, None)
    assert await pages(admin, "/api/v1/api-keys") == [
        (ids[0:2], True),
        (ids[2:4], True),
        (ids[4:5], False),
    ]
    # A page that ends exactly at the last row says so by the next one being empty.
    assert await pages(admin, "/api/v1/api-keys", limit=5) == [(ids, False)]
    assert await pages(admin, "/api/v1/api-keys", limit=4) == [(ids[:4], True), (ids[4:], False)]


async def test_invitations_come_a_page_at_a_time_oldest_first(signup: Signup) -> None:
    admin = await signup("acme")
    ids = [
        (
            await admin.client.post(
                "/api/v1/invitations", json={"email": f"i{index}@acme.example", "role": "viewer"}
            )
        ).json()["id"]
        for index in range(5)
    ]
    await admin.client.delete(f"/api/v1/invitations/{ids[3]}")
    everyone = (await admin.client.get("/api/v1/invitations")).json()
    assert [(i["id"], i["status"]) for i in everyone["items"]] == [
        (ids[0], "pending"),
        (ids[1], "pending"),
        (ids[2], "pending"),
        (ids[3], "revoked"),
        (ids[4], "pending"),
    ]
    assert everyone["next_cursor"] is None
    assert await pages(admin, "/api/v1/invitations") == [
        (ids[0:2], True),
        (ids[2:4], True),
        (ids[4:5], False),
    ]


ADMIN_LISTS = ["/api/v1/users", "/api/v1/api-keys", "/api/v1/invitations"]


async def test_a_cursor_the_api_did_not_give_out_is_a_422(signup: Signup) -> None:
    admin = await signup("acme")
    naive = base64.urlsafe_b64encode(b"2026-01-01T00:00:00|some-id").decode()
    no_id = base64.urlsafe_b64encode(b"2026-01-01T00:00:00+00:00|").decode()
    answers = [
        await admin.client.get(path, params={"cursor": cursor})
        for path in ADMIN_LISTS
        for cursor in ("not-a-cursor", "%%%", naive, no_id)
    ]
    refused = error(
        "input_invalid",
        "cursor is not one this API gave out; pass the `next_cursor` of the previous page",
    )
    assert [(r.status_code, r.json()) for r in answers] == [(422, refused)] * 12


async def test_a_page_above_the_cap_is_refused(signup: Signup) -> None:
    admin = await signup("acme")
    answers = [await admin.client.get(path, params={"limit": 5000}) for path in ADMIN_LISTS]
    refused = error("input_invalid", "limit is at most 200 on this server; got 5000")
    assert [(r.status_code, r.json()) for r in answers] == [(422, refused)] * 3


async def test_another_tenants_cursor_shows_only_the_callers_rows(
    signup: Signup, app: FastAPI
) -> None:
    acme = await signup("acme")
    globex = await signup("globex")
    for index in range(3):
        await acme.client.post(
            "/api/v1/api-keys", json={"name": f"acme {index}", "scopes": ["runs:read"]}
        )
        await acme.client.post(
            "/api/v1/invitations", json={"email": f"i{index}@acme.example", "role": "viewer"}
        )
    await member(acme, app, "olga@acme.example", "operator")
    ours = {
        path: (await globex.client.get(path)).json()
        for path in ("/api/v1/users", "/api/v1/api-keys", "/api/v1/invitations")
    }
    for path, expected in ours.items():
        first = (await acme.client.get(path, params={"limit": 1})).json()
        assert first["next_cursor"] is not None
        borrowed = await globex.client.get(path, params={"cursor": first["next_cursor"]})
        # The cursor only says where to start; the rows are still only the caller's own.
        assert (borrowed.status_code, borrowed.json()) == (200, expected), path
