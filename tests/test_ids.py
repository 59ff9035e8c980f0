"""Ids sort by creation time, and strictly so within a process, even inside one millisecond."""

from __future__ import annotations

import time
import uuid

import pytest

from batonflow import ids


def test_ids_made_in_a_row_are_strictly_increasing_version_7_uuids() -> None:
    before = time.time_ns() // 1_000_000
    made = [ids.new_id() for _ in range(5000)]
    after = time.time_ns() // 1_000_000
    assert made == sorted(set(made))
    parsed = [uuid.UUID(value) for value in made]
    assert {(u.version, u.variant) for u in parsed} == {(7, uuid.RFC_4122)}
    assert before <= parsed[0].int >> 80 <= parsed[-1].int >> 80 <= after + 1


def test_an_exhausted_millisecond_carries_into_the_next(monkeypatch: pytest.MonkeyPatch) -> None:
    future = (time.time_ns() // 1_000_000) + 60_000
    monkeypatch.setattr(ids, "_last", (future, (1 << 74) - 1))
    value = uuid.UUID(ids.new_id())
    assert (value.int >> 80, value.version, value.variant) == (future + 1, 7, uuid.RFC_4122)
    assert value.int & ((1 << 62) - 1) == 0
    assert value.int >> 64 & 0xFFF == 0
