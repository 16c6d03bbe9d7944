"""retrainer's default policy: retrain when staying with production has cost more than a
retrain would (a rent-or-buy rule).

Each tick adds the production model's *excess loss* since the last training job, in metric
points (1 point = 1% of the metric) times days:

* measured, when the tick has a labelled performance reading: its relative degradation
  against the validation baseline, minus the degradation fresh models typically show on
  their first serving window (learned from this model's earlier versions), floored at 0;
* estimated, when labels lag: ``drift_points`` times the importance-weighted drifted share
  if the drift monitor flags the dataset, else the last measured excess carried forward.

The trigger fires once ``accumulated point-days x value_per_metric_point`` reaches
``cost_per_retrain``. Poor performance accumulates fast and shortens the interval; excellent
performance barely accumulates and lengthens it, inside [min_interval, max_interval]. Paying
a retrain only after its cost was lost by waiting is never worse than twice the best possible
schedule in hindsight (the ski-rental bound), whatever the drift does.

>>> from datetime import datetime, timezone
>>> day = lambda d: datetime(2024, 1, d, tzinfo=timezone.utc)
>>> accumulated([(day(2), 5.0), (day(4), 10.0)], since=day(1))
(25.0, 10.0)
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime

from retrainer.config import AutoTriggerConfig
from retrainer.domain import MonitorReading, TriggerDecision
from retrainer.triggers.base import TriggerContext, decision

POINTS = 100.0  # relative degradation 0.01 = one metric point


def fresh_gap(readings: Sequence[MonitorReading], current: str | None,
              floor: float) -> float:
    """The degradation that is noise, not staleness: the upper quartile of what earlier
    versions showed on their first labelled serving window, at least ``floor``."""
    first: dict[str, tuple[datetime, float]] = {}
    for reading in readings:
        version = reading.champion_version
        if version is None or version == current or reading.score is None:
            continue
        if version not in first or reading.as_of < first[version][0]:
            first[version] = (reading.as_of, reading.score)
    scores = sorted(score for _, score in first.values())
    if len(scores) < 2:
        return floor
    return max(floor, statistics.quantiles(scores, n=4, method="inclusive")[2])


def accumulated(excess: Sequence[tuple[datetime, float]], since: datetime) -> tuple[float, float]:
    """(point-days, latest excess) of per-tick excess losses after ``since``, each held from
    the previous tick to its own."""
    total, previous, latest = 0.0, since, 0.0
    for as_of, points in sorted(excess):
        total += points * (as_of - previous).total_seconds() / 86400
        previous, latest = as_of, points
    return total, latest


class AutoTrigger:
    name = "auto"

    def __init__(self, config: AutoTriggerConfig):
        self.config = config

    def evaluate(self, ctx: TriggerContext) -> TriggerDecision:
        cfg = self.config
        champion = ctx.champion
        if champion is None:
            return decision(ctx, self.name, False, "no production model yet")
        since = ctx.last_job_as_of or ctx.as_of
        age = ctx.as_of - since
        evidence: dict[str, object] = {"age_days": round(age.total_seconds() / 86400, 3)}
        if age < cfg.min_interval:
            return decision(ctx, self.name, False,
                            f"last retrain {age} ago < min_interval {cfg.min_interval}", evidence)
        if age >= cfg.max_interval:
            return decision(ctx, self.name, True,
                            f"last retrain {age} ago >= max_interval {cfg.max_interval}", evidence)
        performance = [r for r in ctx.history if r.monitor == "performance"]
        gap = fresh_gap(performance, champion.version, cfg.tolerance)
        excess = self._excess(ctx.history, since, gap, champion.version)
        point_days, latest = accumulated(excess, since)
        lost = point_days * cfg.value_per_metric_point
        evidence.update(fresh_gap=round(gap, 4), point_days=round(point_days, 3),
                        latest_excess_points=round(latest, 3), lost_value=round(lost, 4),
                        cost_per_retrain=cfg.cost_per_retrain)
        verdict = ">=" if lost >= cfg.cost_per_retrain else "<"
        reason = (f"excess loss {point_days:.1f} point-days since {since:%Y-%m-%d %H:%M} "
                  f"(now {latest:.1f} points) worth {lost:.3g} {verdict} retrain cost "
                  f"{cfg.cost_per_retrain:g}")
        return decision(ctx, self.name, lost >= cfg.cost_per_retrain, reason, evidence)

    def _excess(self, history: Sequence[MonitorReading], since: datetime, gap: float,
                version: str) -> list[tuple[datetime, float]]:
        """Per tick after ``since``: measured excess points, or the drift-based estimate."""
        by_tick: dict[datetime, dict[str, MonitorReading]] = {}
        for reading in history:
            if reading.as_of > since and reading.champion_version == version:
                by_tick.setdefault(reading.as_of, {})[reading.monitor] = reading
        result: list[tuple[datetime, float]] = []
        carried = 0.0
        for as_of in sorted(by_tick):
            tick = by_tick[as_of]
            performance, drift = tick.get("performance"), tick.get("drift")
            if performance is not None and performance.score is not None:
                carried = max(0.0, performance.score - gap) * POINTS
                result.append((as_of, carried))
            elif drift is not None and drift.details.get("dataset_drift"):
                share = drift.details.get("weighted_share", drift.score or 0.0) or 0.0
                result.append((as_of, max(carried, self.config.drift_points * share)))
            else:
                result.append((as_of, carried))
        return result
