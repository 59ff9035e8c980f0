"""The scoring rules through the API, on SQLite and PostgreSQL: the defaults until a tenant sets
its own, each change a new version, admins only, bad rules refused saying what to fix, and one
tenant's rules never another's."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from dirty_equals import IsDatetime, IsStr
from fastapi import FastAPI

from batonflow.api.deps import ApiState
from batonflow.apps.sales.scoring import DEFAULT_RULES
from batonflow.apps.sales.scoring_tables import scoring_rules
from tests.api.conftest import client_for
from tests.apps.sales.conftest import SALES, Join

RULES: dict[str, Any] = {
    "industries": {"Logistics": 30, "software": 10},
    "employee_bands": [{"min": "0", "max": "100", "points": 10}],
    "budget_currency": "usd",
    "budget_bands": [{"min": "10000", "max": None, "points": 25}],
    "title_keywords": {"owner": 20},
    "threshold": 40,
    "model_weight": 10,
}
STORED = {
    **RULES,
    "industries": {"logistics": 30, "software": 10},
    "employee_bands": [{"min": "0", "max": "100", "points": 10}],
    "budget_currency": "USD",
    "budget_bands": [{"min": "10000", "max": None, "points": 25}],
}


async def test_a_tenant_scores_by_the_defaults_until_it_sets_its_rules(
    sales_member: Join,
) -> None:
    acme = await sales_member("acme")

    before = await acme.client.get(f"{SALES}/scoring")
    assert (before.status_code, before.json()) == (
        200,
        {
            "version": 0,
            "rules": DEFAULT_RULES.model_dump(mode="json"),
            "created_by": None,
            "created_at": None,
        },
    )

    first = await acme.client.put(f"{SALES}/scoring", json=RULES)
    changed = {**RULES, "threshold": 60}
    second = await acme.client.put(f"{SALES}/scoring", json=changed)
    after = await acme.client.get(f"{SALES}/scoring")

    version = {"created_by": "admin@acme.example", "created_at": IsDatetime(iso_string=True)}
    assert (first.status_code, first.json()) == (200, {"version": 1, "rules": STORED, **version})
    assert (second.status_code, second.json()) == (
        200,
        {"version": 2, "rules": {**STORED, "threshold": 60}, **version},
    )
    assert after.json() == second.json()


async def test_bad_rules_are_422_saying_what_to_fix_and_keep_the_rules_in_force(
    sales_member: Join,
) -> None:
    acme = await sales_member("acme")
    await acme.client.put(f"{SALES}/scoring", json=RULES)

    overlapping = await acme.client.put(
        f"{SALES}/scoring",
        json={
            **RULES,
            "employee_bands": [
                {"min": 0, "max": 100, "points": 5},
                {"min": 50, "max": None, "points": 10},
            ],
            "model_weight": 50,
        },
    )

    assert overlapping.status_code == 422
    assert overlapping.json()["error"] == {
        "code": "request_invalid",
        "message": IsStr(),
        "details": {
            "issues": [
                "body.employee_bands: Value error, employee bands overlap or are out of order: "
                "0-100 then 50+; list them from low to high, each starting at or above the "
                "previous one's max",
                "body.model_weight: Input should be less than or equal to 20",
            ]
        },
    }
    kept = await acme.client.get(f"{SALES}/scoring")
    assert (kept.json()["version"], kept.json()["rules"]) == (1, STORED)


async def test_only_an_admin_changes_the_rules(sales_member: Join, sales_api: FastAPI) -> None:
    acme = await sales_member("acme")
    created = await acme.client.post(
        "/api/v1/api-keys", json={"name": "sdr bot", "scopes": ["runs:read", "runs:write"]}
    )
    async with client_for(sales_api, created.json()["key"]) as bot:
        read = await bot.get(f"{SALES}/scoring")
        refused = await bot.put(f"{SALES}/scoring", json=RULES)

    assert (read.status_code, read.json()["version"]) == (200, 0)
    assert refused.status_code == 403
    key = created.json()["prefix"]
    assert refused.json()["error"]["message"] == (
        f"sdr bot ({key}) lacks the scope 'admin' this endpoint needs"
    )
    assert (await acme.client.get(f"{SALES}/scoring")).json()["version"] == 0


async def test_a_tenants_rules_are_its_own(sales_member: Join) -> None:
    acme = await sales_member("acme")
    rival = await sales_member("rival")

    await acme.client.put(f"{SALES}/scoring", json=RULES)
    theirs = await rival.client.get(f"{SALES}/scoring")
    await rival.client.put(f"{SALES}/scoring", json={**RULES, "threshold": 90})

    assert (theirs.json()["version"], theirs.json()["rules"]) == (
        0,
        DEFAULT_RULES.model_dump(mode="json"),
    )
    mine = (await acme.client.get(f"{SALES}/scoring")).json()
    assert (mine["version"], mine["rules"]["threshold"]) == (1, 40)


def _differences(sync: sa.Connection) -> list[Any]:
    """How the migrated scoring table differs from `scoring_tables.py` (nothing else compared)."""
    ours = sa.MetaData()
    scoring_rules.to_metadata(ours)
    sa.Table("tenants", ours, sa.Column("id", sa.String(36), primary_key=True))
    context = MigrationContext.configure(
        sync,
        opts={
            "compare_type": True,
            "include_object": lambda obj, name, kind, reflected, other: (
                (kind != "table" or name == scoring_rules.name)
                and (
                    kind == "table"
                    or getattr(obj, "table", None) is None
                    or obj.table.name == scoring_rules.name
                )
            ),
        },
    )
    return list(compare_metadata(context, ours))


async def test_the_migration_makes_the_table_the_code_declares(sales_state: ApiState) -> None:
    async with sales_state.engine.connect() as conn:
        assert await conn.run_sync(_differences) == []
