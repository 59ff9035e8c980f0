"""The audit log service on its own, on both databases: recording (and what it refuses),
filters, and the export's lines."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.audit import log as audit
from batonflow.errors import InvalidInput
from batonflow.runs.service import Actor as RunActor

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


async def test_record_writes_one_entry_from_any_kind_of_actor(
    engine: AsyncEngine, tenant: str
) -> None:
    actors = [
        audit.Actor("user", "ada@acme.example", "u1", "198.51.100.4"),
        audit.Actor.agent("sdr"),
        RunActor("cli"),
        RunActor("bo@acme.example", kind="api_key", id="k1", address="::1"),
    ]
    async with engine.begin() as conn:
        for n, actor in enumerate(actors):
            await audit.record(
                conn,
                tenant,
                "run.cancel",
                actor=actor,
                target=("run", f"r{n}"),
                details={"reason": "x" * n},
                now=NOW + timedelta(seconds=n),
            )
    async with engine.connect() as conn:
        rows = await audit.list_entries(conn, tenant, audit.Filters(), limit=10)
    assert [
        (r["actor_kind"], r["actor"], r["actor_id"], r["client_address"], r["target_id"])
        for r in rows
    ] == [
        ("api_key", "bo@acme.example", "k1", "::1", "r3"),
        ("local", "cli", None, None, "r2"),
        ("agent", "sdr", None, None, "r1"),
        ("user", "ada@acme.example", "u1", "198.51.100.4", "r0"),
    ]
    assert [r["created_at"] for r in rows] == [NOW + timedelta(seconds=n) for n in (3, 2, 1, 0)]
    assert rows[0]["details"] == {"reason": "xxx"}


async def test_record_refuses_an_action_it_does_not_know(engine: AsyncEngine, tenant: str) -> None:
    async with engine.begin() as conn:
        with pytest.raises(ValueError, match=r"'tool\.exploded' is not an audit action"):
            await audit.record(
                conn, tenant, "tool.exploded", actor=audit.Actor.agent("sdr"), now=NOW
            )


def test_filters_say_what_to_fix() -> None:
    cases = [
        ({"action": "run.explode"}, "'run.explode' is not an audit action; actions: auth.register"),
        ({"since": datetime(2026, 1, 1)}, "since needs a time zone, such as 2026-12-01T00:00:00Z"),
        ({"until": datetime(2026, 1, 1)}, "until needs a time zone, such as 2026-12-01T00:00:00Z"),
        ({"since": NOW, "until": NOW}, "since must be before until"),
    ]
    for given, message in cases:
        with pytest.raises(InvalidInput) as refused:
            audit.Filters(**given)  # type: ignore[arg-type]
        assert refused.value.message.startswith(message), given


ROW = {
    "id": "e1",
    "created_at": NOW,
    "actor_kind": "api_key",
    "actor_id": "k1",
    "actor": "=cmd|' /C calc'!A0 (bf_abc)",
    "action": "audit.export",
    "target_kind": None,
    "target_id": None,
    "client_address": "203.0.113.9",
    "details": {"format": "csv", "note": 'a "quoted", comma'},
}


def test_a_csv_line_keeps_formulas_as_text_and_details_as_json() -> None:
    text = audit.csv_header() + audit.csv_line(ROW)
    assert text.endswith("\r\n")
    header, line = list(csv.reader(io.StringIO(text)))
    assert header == list(audit.COLUMNS)
    assert dict(zip(header, line, strict=True)) == {
        "id": "e1",
        "created_at": "2026-12-03T10:00:00Z",
        "actor_kind": "api_key",
        "actor_id": "k1",
        "actor": "'=cmd|' /C calc'!A0 (bf_abc)",
        "action": "audit.export",
        "target_kind": "",
        "target_id": "",
        "client_address": "203.0.113.9",
        "details": '{"format":"csv","note":"a \\"quoted\\", comma"}',
    }


def test_a_jsonl_line_is_one_json_object() -> None:
    line = audit.jsonl_line(ROW)
    assert line.endswith("\n")
    assert line.count("\n") == 1
    assert json.loads(line) == {**ROW, "created_at": "2026-12-03T10:00:00Z"}
