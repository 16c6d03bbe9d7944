"""Half-open time windows [start, end) over a model's data.

>>> from datetime import datetime, timedelta, timezone
>>> w = Window.latest(datetime(2011, 1, 1, tzinfo=timezone.utc), timedelta(days=7))
>>> w.start.isoformat(), w.end.isoformat()
('2010-12-25T00:00:00+00:00', '2011-01-01T00:00:00+00:00')
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @classmethod
    def latest(cls, as_of: datetime, length: timedelta) -> Window:
        """The ``length`` of time that ends at ``as_of`` (exclusive)."""
        return cls(as_of - length, as_of)

    def to_json(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}
