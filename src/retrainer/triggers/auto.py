"""retrainer's default policy: retrain once waiting has lost more than a retrain costs.

What it measures, and what it assumes:

* **staleness on a loss clock.** Since the last retrain, each tick adds the days since the
  previous tick times the production model's mean row loss on its labelled window over the
  typical loss: the mean of every window of the last ``typical_window`` (a year), whatever
  model served it (the row loss of the metric: squared error for RMSE, log loss for ROC AUC,
  the error rate for accuracy). A year holds every season; the mean of all windows ever
  seen let a target that grows over the years (rentals, sales) age each model faster than
  the last. A model that serves a hard, high-loss
  period ages fast; one serving an easy period barely ages. While labels lag, a binary
  classifier's label-free estimate (the expected loss of its calibrated scores,
  monitoring/estimation.py) stands in; failing that, the last measured loss, raised by the
  importance-weighted drifted share when the drift monitor flags the dataset. Only the
  readings of the model now in production count: a challenger promoted after its retrain
  (validation.challenger) does not inherit the losses of the model it replaced.
* **what staleness costs** — the gain rate, in metric points (1% of the metric) per day of
  the production model's age — starts at ``gain_rate``. Every candidate was scored against
  production on the same recent holdout, so its positive relative improvement divided by
  production's age then is one measurement of it (``gain_rate`` counting as ``prior_days``
  of evidence). By default (``learn_gain_rate: raise``) the measurements may raise the rate
  but never lower it: a candidate trained without its window's newest rows and judged on a
  few days of holdout can only understate what a fresh model wins, and letting them lower
  the rate (``learn``) made ``auto`` retrain every 10 weeks on Elec2 where every 5 paid
  (benchmarks/README.md). ``off`` ignores them.
* **the cost model** (``cost_per_retrain``, ``value_per_metric_point``) is the user's.

If a fresh model wins ``rate x age`` points, the value lost by waiting ``u`` clock-days is
``value x rate x u^2 / 2``; the trigger fires when that reaches the cost of a retrain, i.e.
at ``u = sqrt(2 cost / (value x rate))`` — the interval that balances retrain cost against
lost quality (the square-root law of replacement). Measuring ``u`` on the loss clock places
the retrains where the loss is, which is what beats a fixed schedule at the same cost.

>>> round(due_days(cost=1.0, value=0.004, rate=0.5), 1)
31.6
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from retrainer.config import AutoTriggerConfig
from retrainer.domain import METRICS, GateOutcome, MonitorReading, TriggerDecision
from retrainer.domain.windows import human_duration
from retrainer.triggers.base import TriggerContext, decision

POINTS = 100.0  # a relative improvement of 0.01 is one metric point
DAY = 86400.0


def due_days(cost: float, value: float, rate: float) -> float:
    """Loss-clock days after which waiting has cost one retrain."""
    return math.sqrt(2 * cost / (value * rate))


def gain_rate(outcomes: Sequence[GateOutcome], prior_rate: float, prior_days: float
              ) -> tuple[float, int]:
    """(points won per day of production's age, validations it rests on). Rejected
    candidates count as zero gain: a retrain that does not win is what waiting avoids."""
    gained, aged, used = prior_rate * prior_days, prior_days, 0
    for outcome in outcomes:
        if outcome.champion_trained is None or outcome.relative_improvement is None:
            continue
        age = (outcome.as_of - outcome.champion_trained).total_seconds() / DAY
        if age <= 0:
            continue
        gained += max(0.0, outcome.relative_improvement) * POINTS
        aged += age
        used += 1
    return gained / aged, used


@dataclass(frozen=True)
class LossClock:
    days: float  # loss-weighted days since the last retrain
    typical_loss: float | None  # mean loss of the labelled windows of typical_window (None: none)
    latest_ratio: float  # the newest tick's loss over the typical loss


def window_loss(reading: MonitorReading) -> float | None:
    """The mean per-row loss of a labelled performance reading's window (the row loss its
    metric's paired tests use: squared error for RMSE, log loss for ROC AUC), or None."""
    metric, metrics = reading.details.get("metric"), reading.details.get("metrics")
    if metric not in METRICS or not isinstance(metrics, dict):
        return None
    loss = METRICS[metric].window_loss({k: v for k, v in metrics.items() if v is not None})
    return None if loss is None or math.isnan(loss) else loss


def loss_clock(history: Sequence[MonitorReading], since: datetime, now: datetime,
               drift_weight: float, version: str | None = None,
               typical_window: timedelta | None = None) -> LossClock:
    scored = [(r, loss) for r in history
              if r.monitor == "performance" and (loss := window_loss(r)) is not None]
    recent = now - typical_window if typical_window is not None else None
    # one loss per tick, as stored
    every = {r.as_of: loss for r, loss in scored if recent is None or r.as_of > recent}
    typical = sum(every.values()) / len(every) if every else None
    if version is not None:  # only production's own readings tell how fast it ages
        history = [r for r in history if r.champion_version in (None, version)]
    losses = {r.as_of: loss for r, loss in scored
              if version is None or r.champion_version in (None, version)}
    estimates = {r.as_of: loss for r in history
                 if r.monitor == "estimated" and (loss := window_loss(r)) is not None}
    drift = {r.as_of: r for r in history if r.monitor == "drift"}
    measured = 1.0  # the newest labelled window's loss over the typical loss
    ratio, days, previous = 1.0, 0.0, since
    ticks = set(losses) | set(estimates) | set(drift)
    for as_of in sorted(t for t in ticks if since < t <= now):
        if as_of in losses and typical:
            ratio = measured = losses[as_of] / typical
        elif as_of in estimates and typical:
            ratio = estimates[as_of] / typical
        elif as_of in drift and drift[as_of].details.get("dataset_drift"):
            share = drift[as_of].details.get("weighted_share", drift[as_of].score) or 0.0
            ratio = measured * (1.0 + drift_weight * float(share))
        else:
            ratio = measured
        days += ratio * (as_of - previous).total_seconds() / DAY
        previous = as_of
    days += ratio * (now - previous).total_seconds() / DAY  # since the newest reading
    return LossClock(days, typical, ratio)


class AutoTrigger:
    name = "auto"

    def __init__(self, config: AutoTriggerConfig):
        self.config = config

    def evaluate(self, ctx: TriggerContext) -> TriggerDecision:
        cfg = self.config
        if ctx.champion is None:
            return decision(ctx, self.name, False, "no production model yet")
        since = ctx.last_job_as_of or ctx.as_of
        age = ctx.as_of - since
        evidence: dict[str, object] = {"age_days": round(age.total_seconds() / DAY, 3)}
        # an --as-of before the last retrain gives a negative age
        last = (f"last retrain {human_duration(age)} ago" if age >= timedelta(0) else
                f"last retrain {human_duration(-age)} after this as-of")
        if age < cfg.min_interval:
            return decision(ctx, self.name, False,
                            f"{last} < min_interval {human_duration(cfg.min_interval)}", evidence)
        if age >= cfg.max_interval:
            return decision(ctx, self.name, True,
                            f"{last} >= max_interval {human_duration(cfg.max_interval)}", evidence)
        stored = {(r.as_of, r.monitor) for r in ctx.history}  # this tick's may be among them
        history = [*ctx.history,
                   *(r for r in ctx.readings.values() if (r.as_of, r.monitor) not in stored)]
        clock = loss_clock(history, since, ctx.as_of, cfg.drift_weight, ctx.champion.version,
                           cfg.typical_window)
        rate, measured = cfg.gain_rate, 0
        if cfg.learn_gain_rate != "off":
            learned, measured = gain_rate(ctx.gates, cfg.gain_rate, cfg.prior_days)
            rate = learned if cfg.learn_gain_rate == "learn" else max(rate, learned)
        due = due_days(cfg.cost_per_retrain, cfg.value_per_metric_point, rate)
        lost = cfg.value_per_metric_point * rate * clock.days ** 2 / 2
        evidence.update(
            clock_days=round(clock.days, 3), due_clock_days=round(due, 3),
            loss_ratio=round(clock.latest_ratio, 4),
            typical_loss=None if clock.typical_loss is None else round(clock.typical_loss, 6),
            gain_rate=round(rate, 4), gain_measurements=measured,
            lost_value=round(lost, 4), cost_per_retrain=cfg.cost_per_retrain,
        )
        verdict = ">=" if lost >= cfg.cost_per_retrain else "<"
        verdicts = f" ({measured} gate verdicts)" if cfg.learn_gain_rate != "off" else ""
        reason = (f"{clock.days:.1f} loss-weighted days since {since:%Y-%m-%d %H:%M} "
                  f"(loss now {clock.latest_ratio:.2f}x typical) at {rate:.2f} points/day"
                  f"{verdicts}: lost {lost:.3g} {verdict} retrain cost "
                  f"{cfg.cost_per_retrain:g}, due at {due:.1f} days")
        return decision(ctx, self.name, lost >= cfg.cost_per_retrain, reason, evidence)
