"""Events sent to notification targets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    TRIGGER_FIRED = "trigger_fired"
    DATA_NOT_READY = "data_not_ready"
    JOB_FAILED = "job_failed"
    CANDIDATE_REJECTED = "candidate_rejected"
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled_back"


@dataclass(frozen=True)
class Event:
    kind: EventKind
    model: str
    as_of: datetime
    message: str
    job_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.kind.value,
            "model": self.model,
            "as_of": self.as_of.isoformat(),
            "message": self.message,
            "job_id": self.job_id,
            "details": self.details,
        }
