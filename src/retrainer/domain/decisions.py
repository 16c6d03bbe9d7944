"""Trigger decisions. Every evaluation is stored, fired or not: that is the audit trail."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class TriggerDecision:
    model: str
    trigger: str  # drift | performance | schedule | manual | combined
    as_of: datetime
    condition_met: bool  # what the trigger saw, before debounce / cooldown / budget
    fired: bool  # after them
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)
    job_id: int | None = None
