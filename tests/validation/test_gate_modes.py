"""The gate's modes: every test selectable, non-inferiority for chosen triggers, slices,
bootstrap intervals in the report, and gates on accuracy_within_20pct."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError as PydanticError

from retrainer.config import ModelConfig
from retrainer.domain.validation import ValidationReport
from retrainer.exceptions import DataError, ValidationError
from retrainer.validation.gate import evaluate_candidate


def _model(task: str = "regression", target: str = "pm", **validation: Any) -> ModelConfig:
    return ModelConfig(name="pm25", source={"kind": "csv", "path": "x.csv"}, time_column="time",
                       target=target, task=task, validation=validation)


def _evaluate(model, y, candidate, champion, **kwargs) -> ValidationReport:
    return evaluate_candidate(model=model, y_true=y, candidate_prediction=candidate,
                              champion_prediction=champion, champion_version="3",
                              holdout_start="a", holdout_end="b", **kwargs)


def _regression(seed: int, candidate_noise: float, n: int = 600):
    rng = np.random.default_rng(seed)
    y = rng.normal(100, 30, n)
    return y, y + rng.normal(0, candidate_noise, n), y + rng.normal(0, 10.0, n)


@pytest.mark.parametrize("test", ["diebold_mariano", "paired_t", "wilcoxon", "bootstrap"])
def test_each_holdout_test_rejects_noise_and_promotes_a_clear_winner(test):
    """Equally good candidates look better half the time; about alpha of them pass."""
    reports = [_evaluate(_model(test=test), *_regression(s, 10.0)) for s in range(60)]
    assert sum(r.improvement > 0 for r in reports) >= 20
    assert sum(r.passed for r in reports) <= 6
    lucky = [r for r in reports if r.improvement > 0 and not r.passed]
    assert lucky and "could be noise" in lucky[0].reasons[1]
    clear = _evaluate(_model(test=test, min_improvement="5%"), *_regression(0, 7.0))
    assert clear.passed and clear.test.name == test and clear.test.p_value < 0.001


def test_delong_gate_on_binary_classification():
    rng = np.random.default_rng(2)
    y = (rng.random(1500) < 0.3).astype(int)
    weak = 1 / (1 + np.exp(-rng.normal(y * 1.0 - 0.5, 1.0)))
    strong = 1 / (1 + np.exp(-rng.normal(y * 2.0 - 1.0, 1.0)))
    model = _model("classification", "high", metric="roc_auc", test="delong")
    report = _evaluate(model, y, strong, weak, classes=[0, 1])
    assert report.passed and report.test.name == "delong"
    assert report.test.estimate == pytest.approx(report.improvement)
    assert not _evaluate(model, y, weak, strong, classes=[0, 1]).passed
    labels = rng.integers(0, 3, 300)
    proba = rng.dirichlet(np.ones(3), 300)
    with pytest.raises(ValidationError, match="binary"):
        _evaluate(model, labels, proba, proba, classes=[0, 1, 2])
    with pytest.raises(PydanticError, match="set metric: roc_auc"):
        _model("classification", "high", test="delong")


def test_cv_paired_t_gate_uses_the_fold_scores():
    y, candidate, champion = _regression(4, 7.0)
    model = _model(test="cv_paired_t")
    cv = {"candidate": [20.0, 21.0, 19.0, 20.5], "champion": [22.0, 23.5, 21.0, 22.0],
          "test_train_ratio": 0.3}
    report = _evaluate(model, y, candidate, champion, cv=cv)
    assert report.test.name == "cv_paired_t" and report.test.n == 4 and report.passed
    assert report.cv == cv and "over CV folds" in report.reasons[1]
    flat = {**cv, "champion": [20.5, 20.5, 19.5, 20.0]}
    assert not _evaluate(model, y, candidate, champion, cv=flat).passed
    with pytest.raises(ValidationError, match="CV folds"):
        _evaluate(model, y, candidate, champion)


def test_non_inferiority_applies_to_the_configured_triggers_only():
    y, candidate, champion = _regression(5, 10.0, n=5000)  # as good as production
    model = _model(non_inferiority={"margin": "5%", "triggers": ["schedule"]})
    drift = _evaluate(model, y, candidate, champion, trigger="drift")
    assert drift.mode == "superiority" and not drift.passed
    scheduled = _evaluate(model, y, candidate, champion, trigger="schedule")
    assert scheduled.mode == "non_inferiority" and scheduled.passed
    assert scheduled.margin == pytest.approx(0.05 * scheduled.champion_metrics["rmse"])
    assert scheduled.test.margin > 0  # the margin in squared-error units
    assert "not worse than production by the margin" in scheduled.reasons[1]
    worse = _evaluate(model, *_regression(5, 12.0, n=5000)[:2], champion, trigger="schedule")
    assert not worse.passed and "outside the margin" in worse.reasons[0]


def test_non_inferiority_on_auc_needs_a_metric_level_test():
    rng = np.random.default_rng(7)
    y = (rng.random(500) < 0.4).astype(int)
    p = 1 / (1 + np.exp(-rng.normal(y * 1.5 - 0.7, 1.0)))
    row_test = _model("classification", "high", non_inferiority={"margin": 0.01})
    with pytest.raises(ValidationError, match="bootstrap or delong"):
        _evaluate(row_test, y, p, p, classes=[0, 1], trigger="schedule")
    bootstrap = _model("classification", "high", test="bootstrap",
                       non_inferiority={"margin": 0.02})
    assert _evaluate(bootstrap, y, p, p, classes=[0, 1], trigger="schedule").passed


def test_a_slice_that_regresses_blocks_the_promotion():
    y, candidate, champion = _regression(8, 7.0, n=900)
    station = np.repeat(np.array(["a", "b", "c"], dtype=object), 300)
    candidate = candidate.copy()
    candidate[station == "c"] += 12.0  # better overall? not on station c
    station[:20] = "tiny"
    model = _model(slices=[{"column": "station", "max_regression": "10%", "min_rows": 50}],
                   test="none")
    report = _evaluate(model, y, candidate, champion, slice_values={"station": station})
    by_value = {s.value: s for s in report.slices}
    assert not by_value["tiny"].judged and by_value["tiny"].passed
    assert by_value["a"].passed and not by_value["c"].passed
    assert by_value["c"].regression > by_value["c"].limit
    assert not report.passed and any(r.startswith("slice station=c") for r in report.reasons)
    assert "slice station=c regressed" in report.summary()
    with pytest.raises(DataError, match="slice column 'station'"):
        _evaluate(model, y, candidate, champion)


def test_accuracy_within_20pct_gate_and_metric_intervals_round_trip():
    y, candidate, champion = _regression(9, 7.0)
    within = float(np.mean(np.abs(candidate - y) <= 0.2 * np.abs(y)))
    model = _model(gates={"min_accuracy_within_20pct": within + 0.01})
    report = _evaluate(model, y, candidate, champion)
    assert report.candidate_metrics["accuracy_within_20pct"] == pytest.approx(within)
    assert not report.passed and "min_accuracy_within_20pct" in report.reasons[-1]
    low, high = report.metric_ci["rmse"]["candidate"]
    assert low < report.candidate_metrics["rmse"] < high
    assert "champion" in report.metric_ci["rmse"]
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert ValidationReport.from_dict(data) == report
    old = {k: v for k, v in data.items() if k not in ("mode", "slices", "metric_ci", "cv")}
    assert ValidationReport.from_dict(old).mode == "superiority"  # reports stored before
