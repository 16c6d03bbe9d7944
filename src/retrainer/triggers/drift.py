"""Fires when enough of the model's columns drifted, one drifted column is severe enough, or
(``on_target_drift``) the target drifted (label shift)."""

from __future__ import annotations

from typing import Any

from retrainer.config import DriftTriggerConfig
from retrainer.domain import Severity, TriggerDecision
from retrainer.triggers.base import TriggerContext, decision

_TARGET_EVIDENCE = ("column", "drifted", "method", "score", "threshold", "reasons")


class DriftTrigger:
    name = "drift"

    def __init__(self, config: DriftTriggerConfig):
        self.config = config

    def evaluate(self, ctx: TriggerContext) -> TriggerDecision:
        reading = ctx.readings.get("drift")
        if reading is None:
            return decision(ctx, self.name, False, "no drift reading this tick")
        # the importance-weighted share when the version stored importances: drift in
        # features the model ignores does not fire a retrain by itself
        share = reading.details.get("weighted_share", reading.score or 0.0) or 0.0
        weighted = reading.details.get("weighting") == "importance"
        drifted = reading.details.get("drifted_columns", [])
        columns = reading.details.get("columns", {})
        severe = [
            name
            for name in drifted
            if Severity(columns.get(name, {}).get("severity", "none")).at_least(
                self.config.fire_on_severity
            )
        ]
        target: dict[str, Any] = reading.details.get("target") or {}
        on_target = bool(target.get("drifted")) and self.config.on_target_drift
        note = f"; target {target['column']} drifted ({_headline(target)})" if on_target else ""
        evidence = {
            "drifted_share": reading.score,
            "weighted_share": share if weighted else None,
            "drifted_columns": drifted,
            "severe_columns": severe,
            "target_drift": {key: target.get(key) for key in _TARGET_EVIDENCE} if target else None,
        }
        summary = f"{len(drifted)} of {len(columns)} columns drifted ({share:.0%}" + (
            " by importance)" if weighted else ")")
        limit = self.config.min_drifted_share
        if limit is None:
            fired = bool(reading.details.get("dataset_drift")) and bool(drifted)
            limit = reading.details.get("dataset_share", 0.0)
        else:
            fired = share >= limit and bool(drifted)
        if fired:
            return decision(
                ctx, self.name, True, f"{summary} >= {limit:.0%}: {', '.join(drifted)}{note}",
                evidence,
            )
        if severe:
            return decision(
                ctx,
                self.name,
                True,
                f"{summary}; {', '.join(severe)} at severity "
                f">= {self.config.fire_on_severity.value}{note}",
                evidence,
            )
        if on_target:
            return decision(ctx, self.name, True, f"{summary} < {limit:.0%}{note}", evidence)
        return decision(ctx, self.name, False, f"{summary} < {limit:.0%}", evidence)


def _headline(column: dict[str, Any]) -> str:
    """``psi 0.62`` (the column's headline method and score)."""
    score = column.get("score")
    return column["method"] if score is None else f"{column['method']} {score:.3g}"
