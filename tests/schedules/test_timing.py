"""Fire times and catch-up decisions: pure, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from batonflow.errors import InvalidInput
from batonflow.schedules.timing import Timing, due, preview


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


WEEKDAYS_9_PARIS = Timing("cron", cron="0 9 * * 1-5", timezone="Europe/Paris")


def test_cron_reads_its_time_zone_across_a_daylight_saving_change() -> None:
    # 2027-03-26 is a Friday; Paris moves to summer time on Sunday 2027-03-28.
    assert preview(WEEKDAYS_9_PARIS, utc(2027, 3, 26, 7, 0), 3) == [
        utc(2027, 3, 26, 8, 0),  # 09:00 CET
        utc(2027, 3, 29, 7, 0),  # 09:00 CEST, Monday
        utc(2027, 3, 30, 7, 0),
    ]


def test_interval_fires_on_its_grid_from_the_anchor() -> None:
    every_90 = Timing("interval", interval_seconds=90, start_at=utc(2027, 1, 1, 0, 0))
    assert preview(every_90, utc(2027, 1, 1, 0, 2), 2) == [
        utc(2027, 1, 1, 0, 3),
        utc(2027, 1, 1, 0, 4, 30),
    ]
    assert preview(every_90, utc(2026, 12, 31), 1) == [utc(2027, 1, 1)]


def test_once_fires_once() -> None:
    once = Timing("once", start_at=utc(2027, 1, 4, 9))
    assert preview(once, utc(2027, 1, 1), 3) == [utc(2027, 1, 4, 9)]
    assert preview(once, utc(2027, 1, 4, 9), 3) == []


HOURLY = Timing("cron", cron="0 * * * *")


def test_on_time_every_policy_fires_the_due_time() -> None:
    for policy in ("skip", "once", "all"):
        assert due(HOURLY, utc(2027, 1, 1, 10), utc(2027, 1, 1, 10, 0, 1), policy, 5) == (
            [utc(2027, 1, 1, 10)],
            utc(2027, 1, 1, 11),
        )


def test_after_downtime_each_policy_catches_up_its_way() -> None:
    stored, now = utc(2027, 1, 1, 3), utc(2027, 1, 1, 10, 30)  # down from 02:59 to 10:30
    assert due(HOURLY, stored, now, "skip", 5) == ([], utc(2027, 1, 1, 11))
    assert due(HOURLY, stored, now, "once", 5) == ([utc(2027, 1, 1, 10)], utc(2027, 1, 1, 11))
    assert due(HOURLY, stored, now, "all", 3) == (
        [utc(2027, 1, 1, 8), utc(2027, 1, 1, 9), utc(2027, 1, 1, 10)],
        utc(2027, 1, 1, 11),
    )
    assert due(HOURLY, stored, now, "all", 100)[0] == [
        utc(2027, 1, 1, hour) for hour in range(3, 11)
    ]


def test_nothing_is_due_before_the_stored_time() -> None:
    assert due(HOURLY, utc(2027, 1, 1, 11), utc(2027, 1, 1, 10, 59), "all", 5) == (
        [],
        utc(2027, 1, 1, 11),
    )


def test_interval_catch_up_counts_the_missed_ticks() -> None:
    every_minute = Timing("interval", interval_seconds=60, start_at=utc(2027, 1, 1))
    fires, following = due(
        every_minute, utc(2027, 1, 1, 0, 1), utc(2027, 1, 1, 0, 4, 10), "all", 10
    )
    assert fires == [utc(2027, 1, 1, 0, minute) for minute in (1, 2, 3, 4)]
    assert following == utc(2027, 1, 1, 0, 5)
    assert due(every_minute, utc(2027, 1, 1, 0, 1), utc(2027, 1, 1, 0, 4, 10), "skip", 10)[0] == [
        utc(2027, 1, 1, 0, 4)
    ]


@pytest.mark.parametrize(
    ("timing", "message"),
    [
        (Timing("cron", cron="61 * * * *"), "cron '61 \\* \\* \\* \\*' is not valid"),
        (Timing("cron", cron="* * * *"), "must have five fields"),
        (Timing("cron", cron="0 9 * * *", timezone="Mars/Olympus"), "unknown time zone"),
        (Timing("interval", interval_seconds=0, start_at=utc(2027, 1, 1)), "at least 1"),
        (Timing("once"), "needs `at`"),
        (Timing("once", start_at=datetime(2027, 1, 1)), "must carry a UTC offset"),
    ],
)
def test_invalid_timings_say_what_to_fix(timing: Timing, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        timing.check()


def test_step_back_from_a_late_time_by_one_minute_stays_on_time() -> None:
    late = utc(2027, 1, 1, 10) + timedelta(seconds=59)
    assert due(HOURLY, utc(2027, 1, 1, 10), late, "skip", 1)[0] == [utc(2027, 1, 1, 10)]
