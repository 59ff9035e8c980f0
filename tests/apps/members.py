"""People of separate tenants calling an app's API under test: `await join("acme")` registers
the tenant's admin through the real registration route and hands back a signed-in client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from tests.api.conftest import PASSWORD, client_for


@dataclass
class Member:
    """A signed-in admin of a tenant: the API client, and the tenant's id."""

    client: httpx.AsyncClient
    tenant_id: str


Join = Callable[..., Coroutine[Any, Any, Member]]


@asynccontextmanager
async def members(api: FastAPI) -> AsyncIterator[Join]:
    """`join(tenant)` makes the admin of a new tenant; every client is closed on the way out."""
    opened: list[httpx.AsyncClient] = []

    async def join(tenant: str = "acme") -> Member:
        async with client_for(api) as anonymous:
            registered = await anonymous.post(
                "/api/v1/auth/register",
                json={
                    "tenant": tenant,
                    "email": f"admin@{tenant}.example",
                    "password": PASSWORD,
                    "name": "Admin",
                },
            )
        assert registered.status_code == 201, registered.text
        client = client_for(api, registered.json()["access_token"])
        opened.append(client)
        return Member(client, registered.json()["tenant"]["id"])

    try:
        yield join
    finally:
        for client in opened:
            await client.aclose()
