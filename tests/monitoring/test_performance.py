from __future__ import annotations

import json
import math

import pytest

from retrainer.config import PerformanceMonitorConfig
from retrainer.domain import Severity
from retrainer.monitoring.performance import evaluate_performance, relative_degradation

DEFAULT = PerformanceMonitorConfig()  # +15% -> high, +30% -> critical


def _evaluate(current: dict[str, float], baseline: dict[str, float],
              rules: PerformanceMonitorConfig = DEFAULT, metric: str = "rmse"):
    return evaluate_performance(current, baseline, rules, default_metric=metric, rows=321)


def test_rmse_up_twenty_percent_is_high() -> None:
    report = _evaluate({"rmse": 24.0, "mae": 15.0}, {"rmse": 20.0, "mae": 14.0})
    assert (report.metric, report.value, report.baseline) == ("rmse", 24.0, 20.0)
    assert report.degradation == pytest.approx(0.2)
    assert report.severity is Severity.HIGH and report.alert
    assert report.rows == 321
    assert report.metrics == {"rmse": 24.0, "mae": 15.0}
    assert report.reasons == ["rmse 24 vs baseline 20: 20.0% worse > 15% (high)"]


def test_the_highest_violated_rule_sets_the_severity() -> None:
    report = _evaluate({"rmse": 27.0}, {"rmse": 20.0})
    assert report.degradation == pytest.approx(0.35)
    assert report.severity is Severity.CRITICAL
    assert len(report.reasons) == 2
    assert [c["violated"] for c in report.checks] == [True, True]


def test_direction_comes_from_the_metric() -> None:
    worse = _evaluate({"accuracy": 0.75}, {"accuracy": 0.9}, metric="accuracy")
    assert worse.degradation == pytest.approx((0.9 - 0.75) / 0.9)
    assert worse.severity is Severity.HIGH
    better = _evaluate({"roc_auc": 0.95}, {"roc_auc": 0.8}, metric="roc_auc")
    assert better.degradation == pytest.approx(-0.1875)
    assert better.severity is Severity.NONE and not better.alert and better.reasons == []
    rmse_better = _evaluate({"rmse": 10.0}, {"rmse": 20.0})
    assert rmse_better.degradation == pytest.approx(-0.5) and not rmse_better.alert


def test_exactly_at_the_limit_is_not_a_violation() -> None:
    assert relative_degradation("roc_auc", 0.68, 0.8) == 0.15
    report = _evaluate({"roc_auc": 0.68}, {"roc_auc": 0.8}, metric="roc_auc")
    assert report.severity is Severity.NONE
    assert _evaluate({"rmse": 23.0001}, {"rmse": 20.0}).severity is Severity.HIGH


def test_rules_on_other_metrics_name_the_headline() -> None:
    rules = PerformanceMonitorConfig.model_validate({"rules": [
        {"degradation": 0.5, "severity": "critical"},
        {"metric": "mae", "degradation": "10%", "severity": "warning"},
    ]})
    report = _evaluate({"rmse": 21.0, "mae": 12.0}, {"rmse": 20.0, "mae": 10.0}, rules)
    assert report.metric == "mae" and report.severity is Severity.WARNING
    assert report.degradation == pytest.approx(0.2)
    assert report.reasons == ["mae 12 vs baseline 10: 20.0% worse > 10% (warning)"]
    calm = _evaluate({"rmse": 21.0, "mae": 10.5}, {"rmse": 20.0, "mae": 10.0}, rules)
    assert calm.metric == "rmse" and calm.degradation == pytest.approx(0.05)


def test_missing_or_undefined_metrics_skip_their_rule() -> None:
    report = _evaluate({"roc_auc": math.nan, "accuracy": 0.9}, {"roc_auc": 0.8},
                       metric="roc_auc")
    assert report.severity is Severity.NONE and not report.alert
    assert math.isnan(report.value) and math.isnan(report.degradation)
    assert report.reasons[0] == "rule on roc_auc skipped: no value for this window"
    document = json.loads(json.dumps(report.to_json(), allow_nan=False))
    assert document["value"] is None and document["metrics"]["roc_auc"] is None
    missing_baseline = _evaluate({"rmse": 30.0}, {})
    assert missing_baseline.reasons[0] == "rule on rmse skipped: no value for the baseline"


def test_zero_baseline_and_unknown_metric() -> None:
    assert relative_degradation("rmse", 0.0, 0.0) == 0.0
    assert relative_degradation("rmse", 1.0, 0.0) == math.inf
    report = _evaluate({"rmse": 1.0}, {"rmse": 0.0})
    assert report.severity is Severity.CRITICAL
    assert report.to_json()["degradation"] is None
    with pytest.raises(ValueError, match="unknown metric 'nope'"):
        _evaluate({"rmse": 1.0}, {"rmse": 1.0}, metric="nope")


def test_to_json_is_complete_and_plain() -> None:
    report = _evaluate({"rmse": 24.0}, {"rmse": 20.0})
    document = json.loads(json.dumps(report.to_json(), allow_nan=False))
    assert document["metric"] == "rmse" and document["value"] == 24.0
    assert document["baseline"] == 20.0 and document["severity"] == "high"
    assert document["alert"] is True and document["rows"] == 321
    assert document["checks"][0] == {"metric": "rmse", "value": 24.0, "baseline": 20.0,
                                     "limit": 0.15, "severity": "high", "degradation": 0.2,
                                     "violated": True}


def test_late_labels_are_joined_by_id() -> None:
    import pandas as pd

    from retrainer.exceptions import DataError
    from retrainer.monitoring.performance import join_labels

    window = pd.DataFrame({"id": [1, 2, 3, 4], "x": [0.1, 0.2, 0.3, 0.4],
                           "y": [None, None, 9.0, None]})
    labels = pd.DataFrame({"id": [2, 1, 2, 7], "label": [5.0, 4.0, 6.0, 1.0]})
    joined, coverage = join_labels(window, labels, "id", "y", label_column="label")
    assert joined["y"].tolist()[:3] == [4.0, 6.0, 9.0] and pd.isna(joined["y"].iloc[3])
    assert coverage == 0.75 and joined["x"].tolist() == window["x"].tolist()
    assert window["y"].isna().sum() == 3  # the input is not modified
    with pytest.raises(DataError, match="id column"):
        join_labels(window.drop(columns="id"), labels, "id", "y")
    with pytest.raises(DataError, match=r"\['y'\]"):
        join_labels(window, labels, "id", "y")
