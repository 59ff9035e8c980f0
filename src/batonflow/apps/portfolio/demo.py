"""What the portfolio app seeds in the demo tenant: the sample ledger (`samples/ledger.csv`, a
USD portfolio of five stocks from 2004 to 2009) as the portfolio "Demo growth", and a pricing
pack of the offline provider's history, as of its last month, so that a newcomer can run the
overview at once with no keys. Idempotent: a second start finds both and adds nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batonflow.apps.portfolio import csv_import, ledger, pack_build, packs
from batonflow.apps.portfolio.settings import PortfolioSettings
from batonflow.runs.service import Actor
from batonflow.store.db import Conn

if TYPE_CHECKING:
    from batonflow.api.deps import ApiState

SAMPLE = Path(__file__).parent / "samples" / "ledger.csv"
NAME = "Demo growth"
AS_OF = date(2010, 3, 1)  # the offline history's last month
ACTOR = "demo-seed"


async def seed(state: ApiState, tenant_id: str) -> list[str]:
    settings: PortfolioSettings = state.apps.settings_of("portfolio")
    found = await state.query(lambda conn: _portfolio(conn, tenant_id))
    if found is None:

        async def create(conn: Conn) -> dict[str, Any]:
            return await ledger.create_portfolio(
                conn,
                tenant_id,
                name=NAME,
                base_currency="USD",
                benchmark=None,
                actor=ACTOR,
                now=state.now(),
            )

        found = await state.transact(create)
        await csv_import.import_csv(
            state.transact,
            tenant_id,
            found["id"],
            SAMPLE.read_bytes(),
            source=f"csv:{SAMPLE.name}",
            actor=ACTOR,
            now=state.now(),
        )

    async def pack(conn: Conn) -> bool:
        if (await packs.health(conn, tenant_id, state.now()))["state"] in ("fresh", "warming"):
            return False
        await pack_build.queue(conn, tenant_id, Actor(ACTOR), state.now(), settings, as_of=AS_OF)
        return True

    if await state.transact(pack):
        state.committed([])
    return [
        f"Portfolio: '{NAME}' holds the sample ledger; a pricing pack as of {AS_OF} is built "
        "from the offline provider. Run its overview on the Portfolios page."
    ]


async def _portfolio(conn: Conn, tenant_id: str) -> dict[str, Any] | None:
    for row in await ledger.list_portfolios(conn, tenant_id):
        if row["name"] == NAME:
            return row
    return None
