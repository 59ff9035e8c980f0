"""An export of a result whose model-written narrative quotes a credential, on SQLite and
PostgreSQL: the file carries `[redacted: ...]` in its place (the stored result is unchanged) and
the export's audit entry says what was redacted."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from batonflow.apps.portfolio import results
from tests.apps.portfolio.rights_fixtures import (
    NOW,
    Person,
    api_db_url,
    api_settings,
    people,
    portfolio_api,
)
from tests.apps.portfolio.test_exports import BODY, R, audit_entries, tenant_id

__all__ = ["api_db_url", "api_settings", "people", "portfolio_api"]
TOKEN = "ghp_" + "Xb7Yq2Lm9Wd4Rt6Zp1Kc8Vn3Hs5Jf0Ag2QeT"  # pragma: allowlist secret
LEAKY = {**BODY, "narrative": f"The portfolio returned 12.3%. Use token {TOKEN} for the feed."}


async def recorded(app: FastAPI, tenant: str) -> dict[str, Any]:
    found: dict[str, Any] = await app.state.batonflow.transact(
        lambda conn: results.record(
            conn,
            tenant,
            "run-1",
            "portfolio-overview",
            2,
            "p1",
            "pack-1",
            "c0ffee",
            {"portfolio_id": "p1"},
            LEAKY,
            ["offline"],
            "ada",
            NOW,
        )
    )
    return found


async def test_an_export_redacts_a_credential_from_the_narrative_and_says_so(
    people: Person, portfolio_api: FastAPI
) -> None:
    ada = await people("acme")
    found = await recorded(portfolio_api, await tenant_id(ada))
    clean = (
        "The portfolio returned 12.3%. Use token [redacted: credential: GitHub token] for the feed."
    )

    as_json = await ada.get(f"{R}/{found['id']}/export", params={"format": "json"})
    assert as_json.status_code == 200, as_json.text
    assert as_json.json()["result"] == {**BODY, "narrative": clean}
    as_csv = await ada.get(f"{R}/{found['id']}/export", params={"format": "csv"})
    assert f"Narrative,{clean}" in as_csv.text.split("\r\n")
    assert TOKEN not in as_json.text + as_csv.text
    stored = (await ada.get(f"{R}/{found['id']}")).json()
    assert stored["result"]["narrative"] == LEAKY["narrative"]
    redacted = ["credential: GitHub token"]
    assert [e["details"] for e in await audit_entries(ada)] == [
        {"format": fmt, "sources": ["offline"], "watermark": None, "redacted": redacted}
        for fmt in ("csv", "json")
    ]
