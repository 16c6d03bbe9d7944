"""Half-open time windows [start, end) over a model's data.

>>> from datetime import datetime, timedelta, timezone
>>> w = Window.latest(datetime(2011, 1, 1, tzinfo=timezone.utc), timedelta(days=7))
>>> w.start.isoformat(), w.end.isoformat()
('2010-12-25T00:00:00+00:00', '2011-01-01T00:00:00+00:00')
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

#: the span of times pandas holds (1677-09-21 to 2262-04-11), in whole years
EARLIEST = datetime(1678, 1, 1, tzinfo=UTC)
LATEST = datetime(2262, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @classmethod
    def latest(cls, as_of: datetime, length: timedelta) -> Window:
        """The ``length`` of time that ends at ``as_of`` (exclusive), from ``EARLIEST`` when
        it would reach further back (a window of a million days: all the data there is).

        >>> Window.latest(datetime(2020, 1, 1, tzinfo=UTC), timedelta(days=10**6)).start.year
        1678
        """
        earliest = EARLIEST if as_of.tzinfo else EARLIEST.replace(tzinfo=None)
        try:
            start = max(as_of - length, earliest)
        except OverflowError:
            start = earliest
        return cls(min(start, as_of), as_of)

    def to_json(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


def human_duration(delta: timedelta) -> str:
    """A duration for messages, in its two largest units, cut short (never rounded up, so
    a wait shown against a limit does not reach the limit early).

    >>> human_duration(timedelta(days=2, hours=3, minutes=59)), human_duration(timedelta(days=3))
    ('2d 3h', '3d')
    >>> human_duration(timedelta(minutes=45)), human_duration(-timedelta(hours=5))
    ('45m', '-5h')
    """
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else ""
    days, rest = divmod(abs(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        text = f"{days}d {hours}h" if hours else f"{days}d"
    elif hours:
        text = f"{hours}h {minutes}m" if minutes else f"{hours}h"
    elif minutes:
        text = f"{minutes}m"
    else:
        text = f"{secs}s"
    return sign + text
