"""The auto trigger: staleness on a loss clock, priced by the gain rate (assumed, or learned
from the gate's verdicts)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from tests.triggers.test_evaluate import model_config

from retrainer.config import AutoTriggerConfig
from retrainer.domain import GateOutcome, ModelVersion, MonitorReading, Severity
from retrainer.triggers import TriggerContext
from retrainer.triggers.auto import AutoTrigger, due_days, gain_rate, loss_clock

T0 = datetime(2024, 6, 3, tzinfo=UTC)
DAY = timedelta(days=1)


def champion(version: str = "3") -> ModelVersion:
    return ModelVersion("m", version, None, None, "file:///x", "0" * 64, "champion",
                        {"rmse": 1.0}, T0)


def performance(day: int, rmse: float, version: str = "3") -> MonitorReading:
    details = {"metric": "rmse", "value": rmse, "metrics": {"rmse": rmse, "mae": rmse / 2}}
    return MonitorReading("m", "performance", T0 + day * DAY, T0, T0, 100, 0.0,
                          Severity.NONE, False, "s", details, version)


def drifted(day: int, share: float) -> MonitorReading:
    return MonitorReading("m", "drift", T0 + day * DAY, T0, T0, 100, share, Severity.WARNING,
                          True, "s", {"dataset_drift": True, "weighted_share": share}, "3")


def won(day: int, age_days: int, improvement: float) -> GateOutcome:
    return GateOutcome(T0 + day * DAY, T0 + (day - age_days) * DAY, improvement)


def evaluate(day: int, history: list[MonitorReading], gates: list[GateOutcome] | None = None,
             **config: object):  # type: ignore[no-untyped-def]
    settings = AutoTriggerConfig(enabled=True, **config)  # type: ignore[arg-type]
    ctx = TriggerContext(model_config(), T0 + day * DAY, champion(), {}, T0, history,
                         gates or [])
    return AutoTrigger(settings).evaluate(ctx)


def test_fires_when_waiting_has_cost_a_retrain() -> None:
    # no labels, no verdicts: calendar days at the prior rate, due at sqrt(2 / (0.004 x 0.5))
    due = due_days(cost=1.0, value=0.004, rate=0.5)
    assert math.isclose(due, math.sqrt(1000))
    assert not evaluate(31, []).fired
    result = evaluate(32, [])
    assert result.fired and result.evidence["gain_measurements"] == 0
    assert "due at 31.6 days" in result.reason


def test_gate_verdicts_can_only_raise_the_rate_by_default() -> None:
    stale_free = [won(d, 30, -0.01) for d in range(30, 300, 30)]
    drifting = [won(d, 10, 0.30) for d in range(10, 200, 10)]
    # winning nothing does not slow retrains down: the verdicts are a lower bound
    assert evaluate(32, [], stale_free).fired
    assert evaluate(32, [], stale_free).evidence["gain_rate"] == 0.5
    # winning 30% after 10 days does speed them up
    assert evaluate(14, [], drifting).fired
    assert evaluate(14, [], drifting).evidence["gain_rate"] > 2.5
    # "off" ignores both, "learn" follows both
    assert not evaluate(14, [], drifting, learn_gain_rate="off").fired
    assert evaluate(14, [], drifting, learn_gain_rate="off").evidence["gain_measurements"] == 0
    assert not evaluate(32, [], stale_free, learn_gain_rate="learn").fired


def test_only_productions_own_readings_run_its_clock() -> None:
    """A challenger promoted mid-way does not inherit the losses of the model it replaced."""
    calm = [performance(d, 1.0) for d in range(-60, 0, 7)]
    replaced = [performance(d, 2.0, version="2") for d in (2, 4)]  # before "3" took over
    current = [performance(d, 1.0) for d in (6, 8)]
    history = [*calm, *replaced, *current]
    typical = (len(calm) + 2 * 4.0 + 2) / (len(calm) + 4)
    mixed = loss_clock(history, since=T0, now=T0 + 8 * DAY, drift_weight=1.0)
    own = loss_clock(history, since=T0, now=T0 + 8 * DAY, drift_weight=1.0, version="3")
    # each reading's loss ratio runs the clock back to the reading before it
    assert math.isclose(mixed.days, (2 * 2 * 4.0 + 2 * 2 * 1.0) / typical)
    # "3"'s first reading (day 6) stands for the whole time since the last retrain
    assert math.isclose(own.typical_loss or 0, typical)
    assert math.isclose(own.days, 8 * 1.0 / typical)


def test_high_loss_ages_the_model_faster() -> None:
    # a history of typical weeks at rmse 1, then a week at rmse 2 (4x the squared error)
    calm = [performance(d, 1.0) for d in range(-60, 0, 7)]
    hard = [*calm, performance(7, 2.0)]
    clock = loss_clock(hard, since=T0, now=T0 + 7 * DAY, drift_weight=1.0)
    typical = (len(calm) * 1.0 + 4.0) / (len(calm) + 1)
    assert math.isclose(clock.days, 7 * 4.0 / typical)
    assert evaluate(14, [*hard, performance(14, 2.0)]).fired  # about 40 loss-days
    assert not evaluate(14, [*calm, performance(7, 1.0), performance(14, 1.0)]).fired


def test_the_typical_loss_is_that_of_the_last_typical_window() -> None:
    """A target that grew (last year's windows at twice the error) does not age today's model
    faster: the clock divides by the typical loss of the last ``typical_window`` only."""
    last_year = [performance(d, 1.0) for d in range(-500, -400, 7)]
    this_year = [performance(d, 2.0) for d in range(-200, 0, 7)]
    history = [*last_year, *this_year, performance(7, 2.0)]
    year = loss_clock(history, since=T0, now=T0 + 7 * DAY, drift_weight=1.0,
                      typical_window=timedelta(days=365))
    assert math.isclose(year.typical_loss or 0, 4.0) and math.isclose(year.days, 7.0)
    ever = loss_clock(history, since=T0, now=T0 + 7 * DAY, drift_weight=1.0)
    assert ever.typical_loss is not None and ever.typical_loss < 4.0 and ever.days > 7.5
    # the trigger passes its setting: a model at this year's loss is not due after 28 days
    assert not evaluate(28, [*history, *(performance(d, 2.0) for d in (14, 21, 28))]).fired
    assert evaluate(28, [*history, *(performance(d, 2.0) for d in (14, 21, 28))],
                    typical_window="2000d").fired


def test_learned_gain_rate_moves_the_interval() -> None:
    # candidates that win nothing: the rate falls below the prior and retrains spread out
    stale_free = [won(d, 30, -0.01) for d in range(30, 300, 30)]
    rate, used = gain_rate(stale_free, prior_rate=0.5, prior_days=30)
    assert used == 9 and math.isclose(rate, 0.5 * 30 / (30 + 9 * 30))
    assert not evaluate(60, [], stale_free, learn_gain_rate="learn").fired
    # candidates that win 30% after 10 days: 3 points a day, due after ~13 days
    drifting = [won(d, 10, 0.30) for d in range(10, 200, 10)]
    assert gain_rate(drifting, 0.5, 30)[0] > 2.5
    assert evaluate(14, [], drifting, learn_gain_rate="learn").fired


def test_interval_bounds() -> None:
    big = [performance(d, 50.0) for d in range(-30, 2)]
    assert not evaluate(1, big, min_interval="3d").fired  # too soon, however bad
    assert evaluate(91, [], max_interval="90d").fired  # due whatever the signals


def test_interval_bounds_read_as_short_durations() -> None:
    early = evaluate(2 + 3 / 24, [], min_interval="3d")
    assert early.reason == "last retrain 2d 3h ago < min_interval 3d"
    assert early.evidence["age_days"] == 2.125
    late = evaluate(90.5, [], max_interval="90d")
    assert late.reason == "last retrain 90d 12h ago >= max_interval 90d"
    # an --as-of before the last retrain
    future = evaluate(-5 / 24, [])
    assert future.reason == "last retrain 5h after this as-of < min_interval 3d"


def test_drift_raises_the_loss_while_labels_lag() -> None:
    labelled = [performance(d, 1.0) for d in range(-30, 1)]
    quiet = loss_clock(labelled, since=T0, now=T0 + 10 * DAY, drift_weight=1.0)
    flagged = loss_clock([*labelled, *(drifted(d, 0.5) for d in range(1, 11))],
                         since=T0, now=T0 + 10 * DAY, drift_weight=1.0)
    assert math.isclose(quiet.days, 10.0)
    assert math.isclose(flagged.days, 15.0)  # 1 + 1.0 x 0.5 on every flagged day
    assert math.isclose(flagged.latest_ratio, 1.5)


def estimated(day: int, accuracy: float) -> MonitorReading:
    details = {"metric": "accuracy", "metrics": {"accuracy": accuracy}, "estimated": True}
    return MonitorReading("m", "estimated", T0 + day * DAY, T0, T0, 100, 0.0,
                          Severity.NONE, False, "s", details, "3")


def test_label_free_estimates_stand_in_while_labels_lag() -> None:
    def measured(day: int, accuracy: float) -> MonitorReading:
        details = {"metric": "accuracy", "metrics": {"accuracy": accuracy}}
        return MonitorReading("m", "performance", T0 + day * DAY, T0, T0, 100, 0.0,
                              Severity.NONE, False, "s", details, "3")

    history = [measured(d, 0.9) for d in range(-30, 1)]  # typical error rate 10%
    lagging = [*history, *(estimated(d, 0.7) for d in range(1, 11))]  # 30% expected errors
    clock = loss_clock(lagging, since=T0, now=T0 + 10 * DAY, drift_weight=1.0)
    assert math.isclose(clock.days, 30.0) and math.isclose(clock.latest_ratio, 3.0)
    # a labelled reading at the same tick wins over the estimate
    both = [*history, measured(1, 0.9), estimated(1, 0.7)]
    assert math.isclose(loss_clock(both, T0, T0 + DAY, 1.0).days, 1.0)
