"""The auto trigger: rent-or-buy on the production model's measured excess loss."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.triggers.test_evaluate import model_config

from retrainer.config import AutoTriggerConfig
from retrainer.domain import ModelVersion, MonitorReading, Severity
from retrainer.triggers import TriggerContext
from retrainer.triggers.auto import AutoTrigger, fresh_gap

T0 = datetime(2024, 6, 3, tzinfo=UTC)
DAY = timedelta(days=1)


def champion(version: str = "3") -> ModelVersion:
    return ModelVersion("m", version, None, None, "file:///x", "0" * 64, "champion",
                        {"rmse": 1.0}, T0)


def performance(day: int, degradation: float, version: str = "3") -> MonitorReading:
    return MonitorReading("m", "performance", T0 + day * DAY, T0, T0, 100, degradation,
                          Severity.NONE, False, "s", {}, version)


def drifted(day: int, share: float) -> MonitorReading:
    return MonitorReading("m", "drift", T0 + day * DAY, T0, T0, 100, share, Severity.WARNING,
                          True, "s", {"dataset_drift": True, "weighted_share": share}, "3")


def evaluate(day: int, history: list[MonitorReading], **config: object):  # type: ignore[no-untyped-def]
    settings = AutoTriggerConfig(enabled=True, **config)  # type: ignore[arg-type]
    ctx = TriggerContext(model_config(), T0 + day * DAY, champion(), {}, T0, history)
    return AutoTrigger(settings).evaluate(ctx)


def test_fires_once_the_excess_loss_has_cost_a_retrain() -> None:
    # 25% worse, 15% tolerated: 10 points a day; cost 1 at 0.1 per point-day = 1 point-day
    history = [performance(d, 0.25) for d in range(1, 6)]
    assert not evaluate(3, history[:2], value_per_metric_point=0.04).fired  # 20 point-days
    result = evaluate(5, history, value_per_metric_point=0.04)  # 50 point-days x 0.04 = 2
    assert result.fired and result.evidence["point_days"] == 50.0


def test_small_degradation_within_tolerance_never_accumulates() -> None:
    history = [performance(d, 0.1) for d in range(1, 20)]
    assert not evaluate(20, history).fired


def test_interval_bounds() -> None:
    big = [performance(1, 5.0)]
    assert not evaluate(1, big, min_interval="3d").fired  # too soon, however bad
    assert evaluate(91, [], max_interval="90d").fired  # due whatever the signals


def test_drift_stands_in_for_missing_labels() -> None:
    history = [drifted(d, 0.5) for d in range(4, 10)]  # 0.5 x 10 points = 5 points a day
    assert evaluate(9, history, value_per_metric_point=0.05).fired  # 30 point-days x 0.05


def test_noise_level_is_learned_from_earlier_versions_first_windows() -> None:
    earlier = [performance(-30, 0.4, "1"), performance(-20, 0.9, "1"),
               performance(-10, 0.5, "2"), performance(1, 0.8)]
    # first windows of versions 1 and 2: 0.4 and 0.5 -> upper quartile 0.475; the current
    # version's own readings do not count
    assert fresh_gap(earlier, "3", floor=0.15) == 0.475
    assert fresh_gap([], "3", floor=0.15) == 0.15
