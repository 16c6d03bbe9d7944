"""The trigger contract: ``Trigger.evaluate(ctx) -> TriggerDecision``.

A trigger only says whether its condition is met and why. Debounce, cooldown and budget
are applied afterwards, in one place (``triggers.guards``), for every trigger alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from retrainer.config import ModelConfig
from retrainer.domain import GateOutcome, ModelVersion, MonitorReading, TriggerDecision


@dataclass(frozen=True)
class TriggerContext:
    model: ModelConfig
    as_of: datetime
    champion: ModelVersion | None
    readings: dict[str, MonitorReading] = field(default_factory=dict)  # this tick's, by monitor
    last_job_as_of: datetime | None = None  # newest job that trained (skipped jobs excluded)
    # earlier performance and drift readings, oldest first (filled for the auto trigger only)
    history: list[MonitorReading] = field(default_factory=list)
    gates: list[GateOutcome] = field(default_factory=list)  # earlier validations (auto only)


class Trigger(Protocol):
    name: str

    def evaluate(self, ctx: TriggerContext) -> TriggerDecision: ...


def decision(
    ctx: TriggerContext,
    trigger: str,
    met: bool,
    reason: str,
    evidence: dict[str, Any] | None = None,
) -> TriggerDecision:
    """A decision whose ``fired`` equals ``condition_met`` until the guards have their say."""
    return TriggerDecision(
        model=ctx.model.name,
        trigger=trigger,
        as_of=ctx.as_of,
        condition_met=met,
        fired=met,
        reason=reason,
        evidence=evidence or {},
    )
