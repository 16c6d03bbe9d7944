"""Monitor readings: what a monitor saw in one window, with its evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """Ordered: ``Severity.rank`` compares them.

    >>> Severity.HIGH.rank > Severity.WARNING.rank
    True
    """

    NONE = "none"
    INFO = "info"
    WARNING = "warning"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


@dataclass(frozen=True)
class MonitorReading:
    model: str
    monitor: str  # "drift" | "performance" | ...
    as_of: datetime
    window_start: datetime
    window_end: datetime
    rows: int
    score: float | None  # the headline number (drifted share, relative degradation, ...)
    severity: Severity
    alert: bool
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    champion_version: str | None = None
