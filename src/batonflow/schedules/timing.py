"""When a schedule fires: pure functions of its timing (cron in an IANA time zone, an interval
from an anchor, or one moment) and the clock. `due(...)` decides which due times to fire by the
schedule's catch-up policy (docs/schedules.md): `skip` fires the latest only if at most
`ON_TIME` late, `once` the latest however late, `all` the latest `limit` missed ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from batonflow.errors import InvalidInput

Kind = Literal["cron", "interval", "once"]
CatchUp = Literal["skip", "once", "all"]
KINDS: tuple[Kind, ...] = ("cron", "interval", "once")
CATCH_UPS: tuple[CatchUp, ...] = ("skip", "once", "all")
ON_TIME = timedelta(minutes=1)
MIN_INTERVAL = 1
MAX_CATCH_UP = 1000


@dataclass(frozen=True, slots=True)
class Timing:
    kind: Kind
    cron: str | None = None
    timezone: str = "UTC"
    interval_seconds: int | None = None
    start_at: datetime | None = None  # an interval's anchor, or a one-off's moment

    def check(self) -> Timing:
        """The timing if it is complete and valid, else `InvalidInput` saying what to fix."""
        if self.kind not in KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(KINDS)}; got '{self.kind}'")
        zone = _zone(self.timezone)
        if self.kind == "cron":
            if not self.cron or self.interval_seconds is not None:
                raise InvalidInput("a cron schedule needs `cron` (five fields) and no interval")
            if len(self.cron.split()) != 5:
                raise InvalidInput(
                    f"cron '{self.cron}' must have five fields: minute hour day month weekday"
                )
            try:
                next(CronSim(self.cron, datetime.now(zone)))
            except (CronSimError, StopIteration) as exc:
                raise InvalidInput(f"cron '{self.cron}' is not valid: {exc}") from None
        elif self.kind == "interval":
            if self.interval_seconds is None or self.cron is not None:
                raise InvalidInput("an interval schedule needs `interval_seconds` and no cron")
            if self.interval_seconds < MIN_INTERVAL:
                raise InvalidInput(f"interval_seconds must be at least {MIN_INTERVAL}")
        else:
            if self.start_at is None or self.cron is not None or self.interval_seconds:
                raise InvalidInput("a one-off schedule needs `at` (a time) and no cron or interval")
        if self.start_at is not None and self.start_at.tzinfo is None:
            raise InvalidInput("times must carry a UTC offset (for example 2027-01-04T09:00:00Z)")
        return self

    def after(self, moment: datetime) -> datetime | None:
        """The first fire time strictly after `moment` (None: it never fires again)."""
        return next(self.upcoming(moment), None)

    def upcoming(self, moment: datetime) -> Iterator[datetime]:
        """Fire times strictly after `moment`, in order, in UTC."""
        if self.kind == "once":
            assert self.start_at is not None
            if self.start_at > moment:
                yield self.start_at.astimezone(UTC)
            return
        if self.kind == "interval":
            assert self.interval_seconds is not None
            assert self.start_at is not None
            step = timedelta(seconds=self.interval_seconds)
            if moment < self.start_at:
                current = self.start_at
            else:
                current = self.start_at + step * ((moment - self.start_at) // step + 1)
            while True:
                yield current.astimezone(UTC)
                current += step
        assert self.cron is not None
        for fire in CronSim(self.cron, moment.astimezone(_zone(self.timezone))):
            yield fire.astimezone(UTC)

    def latest(self, moment: datetime, since: datetime, limit: int) -> list[datetime]:
        """Up to `limit` fire times in [since, moment], the latest ones, oldest first."""
        found: list[datetime] = []
        if self.kind == "once":
            assert self.start_at is not None
            if since <= self.start_at <= moment:
                found.append(self.start_at.astimezone(UTC))
        elif self.kind == "interval":
            assert self.interval_seconds is not None
            assert self.start_at is not None
            step = timedelta(seconds=self.interval_seconds)
            if moment >= self.start_at:
                current = self.start_at + step * ((moment - self.start_at) // step)
                while current >= since and current >= self.start_at and len(found) < limit:
                    found.append(current.astimezone(UTC))
                    current -= step
        else:
            assert self.cron is not None
            # Reverse iteration yields times strictly before its start: start just after `moment`.
            start = (moment + timedelta(seconds=1)).astimezone(_zone(self.timezone))
            for fire in CronSim(self.cron, start, reverse=True):
                if fire < since or len(found) >= limit:
                    break
                if fire <= moment:
                    found.append(fire.astimezone(UTC))
        return sorted(found)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"unknown time zone '{name}'; use an IANA name such as UTC or Europe/Paris"
        ) from None


def due(
    timing: Timing, next_fire_at: datetime, now: datetime, catch_up: CatchUp, limit: int
) -> tuple[list[datetime], datetime | None]:
    """(the due times to fire now, oldest first; the next fire time after now) for a schedule
    whose stored next fire time is `next_fire_at`. Nothing is due before `next_fire_at`."""
    if next_fire_at > now:
        return [], next_fire_at
    following = timing.after(now)
    wanted = limit if catch_up == "all" else 1
    times = timing.latest(now, next_fire_at, wanted)
    if catch_up == "skip" and times and now - times[-1] > ON_TIME:
        times = []
    return times, following


def preview(timing: Timing, moment: datetime, count: int) -> list[datetime]:
    """The next `count` fire times after `moment`."""
    return list(islice(timing.upcoming(moment), count))
