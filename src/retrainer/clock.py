"""Where "now" comes from. Live runs use the system clock; replays and the demo a simulated one.

>>> from datetime import datetime, timedelta, timezone
>>> clock = SimulatedClock(datetime(2010, 7, 1, tzinfo=timezone.utc))
>>> clock.advance(timedelta(days=31)).isoformat()
'2010-08-01T00:00:00+00:00'
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current logical time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime):
        self._now = as_utc(start)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> datetime:
        self._now = as_utc(when)
        return self._now

    def advance(self, by: timedelta) -> datetime:
        self._now = self._now + by
        return self._now


def as_utc(when: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted."""
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def wall_now() -> datetime:
    """Real time, for heartbeats and attempt durations (never simulated)."""
    return datetime.now(UTC)
