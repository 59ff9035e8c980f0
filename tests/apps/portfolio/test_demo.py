"""The portfolio app's demo seeding, on SQLite and PostgreSQL: the sample ledger and an offline
pack, ready for the overview; a second start adds nothing."""

from __future__ import annotations

import asyncio

from batonflow.apps.portfolio import demo
from tests.apps.portfolio.pack_fixtures import P, Register, pack_app, tenants

__all__ = ["pack_app", "tenants"]


async def test_the_demo_is_seeded_once_and_runs_the_overview(tenants: Register) -> None:
    acme = await tenants("acme")
    assert acme.state is not None

    said = await demo.seed(acme.state, acme.id)
    again = await demo.seed(acme.state, acme.id)

    assert (
        said
        == again
        == [
            "Portfolio: 'Demo growth' holds the sample ledger; a pricing pack as of 2010-03-01 is "
            "built from the offline provider. Run its overview on the Portfolios page."
        ]
    )
    (growth,) = (await acme.client.get(f"{P}/portfolios")).json()
    assert (growth["name"], growth["base_currency"]) == ("Demo growth", "USD")
    assert len((await acme.client.get(f"{P}/portfolios/{growth['id']}/commits")).json()) == 1
    for _ in range(400):
        health = (await acme.client.get(f"{P}/health/pack")).json()
        if health["state"] == "fresh":
            break
        await asyncio.sleep(0.05)
    assert (health["state"], health["as_of"]) == ("fresh", "2010-03-01")
    assert len((await acme.client.get(f"{P}/packs")).json()["items"]) == 1

    done = await acme.client.post(
        f"{P}/execute", json={"pattern_id": "portfolio_overview", "portfolio_id": growth["id"]}
    )
    assert (done.status_code, done.json()["status"]) == (200, "succeeded")
    assert done.json()["pricing_pack_id"] == health["pack_id"]
