"""Fires when the production model's measured performance degraded enough."""

from __future__ import annotations

from retrainer.config import PerformanceTriggerConfig
from retrainer.domain import TriggerDecision
from retrainer.triggers.base import TriggerContext, decision


class PerformanceTrigger:
    name = "performance"

    def __init__(self, config: PerformanceTriggerConfig):
        self.config = config

    def evaluate(self, ctx: TriggerContext) -> TriggerDecision:
        reading = ctx.readings.get("performance")
        if reading is None:
            return decision(ctx, self.name, False, "no labelled performance reading this tick")
        evidence = {
            "severity": reading.severity.value,
            "degradation": reading.score,
            "metric": reading.details.get("metric"),
            "value": reading.details.get("value"),
            "baseline": reading.details.get("baseline"),
        }
        met = reading.severity.at_least(self.config.min_severity)
        verdict = ">=" if met else "<"
        reason = (
            f"{reading.summary} (severity {reading.severity.value} {verdict} "
            f"{self.config.min_severity.value})"
        )
        return decision(ctx, self.name, met, reason, evidence)
