"""A write that loses a race on a unique constraint is answered with the 409 envelope, whichever
way it ran: through the async engine (SQLAlchemy's IntegrityError) or whole in the SQLite
database thread, where prepared statements raise sqlite3's own."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from fastapi import FastAPI
from sqlalchemy import func, insert, select

from batonflow.api.deps import ApiState
from batonflow.ids import new_id
from batonflow.store.db import Conn, Prepared
from batonflow.store.tables import Tenant, table

_TENANT = Prepared(insert(table(Tenant)))


async def test_a_lost_unique_race_is_a_409_in_the_envelope(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    state: ApiState = app.state.batonflow

    async def twice(conn: Conn) -> None:
        row = {
            "id": new_id(),
            "slug": "raced",
            "name": "Raced",
            "created_at": datetime(2026, 12, 1, tzinfo=UTC),
            "llm_log_bodies": False,
        }
        await _TENANT.run(conn, [row], keyed=True)
        await _TENANT.run(conn, [row | {"id": new_id()}], keyed=True)  # the same slug again

    async def race() -> None:
        await state.transact(twice)

    app.add_api_route("/api/v1/test-race", race, methods=["POST"])
    response = await client.post("/api/v1/test-race")
    assert (response.status_code, response.json()) == (
        409,
        {
            "error": {
                "code": "conflict",
                "message": "a concurrent change to the same object won; send the request again",
                "details": {},
            }
        },
    )

    async def count(conn: Conn) -> int:
        found = await conn.scalar(
            select(func.count()).select_from(table(Tenant)).where(table(Tenant).c.slug == "raced")
        )
        return int(found or 0)

    assert await state.query(count) == 0  # the transaction rolled back whole
