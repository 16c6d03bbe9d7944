"""The drift reading the orchestrator stores: verdict in details, calibration cached."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from retrainer.config import ModelConfig
from retrainer.domain import ModelVersion, Window
from retrainer.monitoring import window as window_module
from retrainer.monitoring.profile import build_profile
from retrainer.monitoring.window import drift_reading


def _model(**drift: object) -> ModelConfig:
    return ModelConfig(name="m", source={"kind": "csv", "path": "x.csv"}, time_column="t",
                       target="y", task="regression", monitors={"drift": drift})


def _version(profile: dict) -> ModelVersion:
    return ModelVersion(model="m", version="3", job_id=1, run_id="r", artifact_uri="u",
                        artifact_sha256="abc", status="champion", metrics={},
                        created_at=datetime(2024, 1, 1, tzinfo=UTC), profile=profile)


def test_drift_reading_carries_the_verdict_and_uses_a_cached_calibration() -> None:
    rng = np.random.default_rng(70)
    reference = pd.DataFrame({"a": rng.normal(size=20_000), "b": rng.normal(size=20_000)})
    champion = _version(build_profile(reference, ["a", "b"], [],
                                      importance={"a": 0.9, "b": 0.1}))
    now = datetime(2024, 2, 1, tzinfo=UTC)
    span = Window.latest(now, timedelta(days=7))
    shifted = pd.DataFrame({"a": rng.normal(0.5, 1, 3000), "b": rng.normal(size=3000)})
    model = _model(calibration={"enabled": True, "windows": 200})
    window_module._CALIBRATIONS.clear()
    reading = drift_reading(model, champion, shifted, span, now)
    assert reading.score == 0.5 and reading.alert
    assert reading.details["drifted_columns"] == ["a"]
    assert reading.details["columns"]["a"]["severity"] == "warning"
    assert reading.details["dataset_drift"] is True
    assert reading.details["weighted_share"] == 0.9
    assert reading.details["calibration"]["window_rows"] == 3000
    assert "dataset drift (importance-weighted share 90% vs 30%)" in reading.summary
    drift_reading(model, champion, shifted.iloc[:3050 - 60], span, now)  # same bucket: 2900
    drift_reading(model, champion, shifted.iloc[:2950], span, now)
    assert len(window_module._CALIBRATIONS) == 2
    plain = drift_reading(_model(), champion, shifted, span, now)
    assert plain.details["calibration"] is None


def test_window_rows_bucket() -> None:
    assert window_module.window_rows_bucket(99) == 99
    assert window_module.window_rows_bucket(1234) == 1200
    assert window_module.window_rows_bucket(0) == 1


def test_fairness_and_latency_readings() -> None:
    from sklearn.linear_model import LogisticRegression

    from retrainer.domain.metrics import Task
    from retrainer.monitoring.window import fairness_reading, latency_reading
    from retrainer.training.bundle import ModelBundle

    rng = np.random.default_rng(71)
    n = 4000
    frame = pd.DataFrame({"x": rng.normal(size=n), "group": rng.choice(["a", "b"], n),
                          "latency_ms": rng.lognormal(3, 0.3, n)})
    frame["y"] = ((frame["x"] + np.where(frame["group"] == "b", 1.0, 0.0)
                   + rng.normal(0, 0.5, n)) > 0.5).astype(int)
    estimator = LogisticRegression().fit(frame[["x"]].assign(b=frame["group"] == "b"),
                                         frame["y"])
    bundle = ModelBundle(Task.CLASSIFICATION, features=["x", "b"], categorical=[],
                         categories={}, classes=[0, 1], trainer="sklearn", estimator=estimator)
    frame["b"] = (frame["group"] == "b").astype(float)
    model = ModelConfig(
        name="m", source={"kind": "csv", "path": "x.csv"}, time_column="t", target="y",
        task="classification", monitors={
            "fairness": {"enabled": True, "sensitive": ["group"], "max_parity_gap": 0.1},
            "latency": {"enabled": True, "p99": 30.0}})
    champion = _version({})
    now = datetime(2024, 2, 1, tzinfo=UTC)
    span = Window.latest(now, timedelta(days=7))
    fair = fairness_reading(model, champion, bundle, frame, span, now)
    assert fair is not None and fair.monitor == "fairness" and fair.alert
    assert fair.details["columns"]["group"]["parity_gap"] > 0.1
    assert "demographic-parity gap" in fair.summary
    slow = latency_reading(model, frame, span, now)
    assert slow is not None and slow.alert and slow.score == pytest.approx(
        np.percentile(frame["latency_ms"], 99))
    assert latency_reading(model, frame.drop(columns="latency_ms"), span, now) is None


class _ScoreBundle:
    """A binary classifier whose P(class 1) is the frame's ``score`` column."""

    def prediction(self, frame: pd.DataFrame) -> np.ndarray:
        score = frame["score"].to_numpy()
        return np.column_stack([1 - score, score])


def test_estimated_reading_scores_rows_awaiting_labels() -> None:
    from retrainer.monitoring.estimation import reference_estimator
    from retrainer.monitoring.window import estimated_reading

    rng = np.random.default_rng(3)
    score = rng.uniform(size=5000)
    label = (rng.uniform(size=score.size) < score).astype(int)  # calibrated scores
    proba = _ScoreBundle().prediction(pd.DataFrame({"score": score}))
    estimator = reference_estimator(label, proba, [0, 1])
    assert estimator is not None
    assert reference_estimator(label, proba, None) is None  # regression: no estimator
    champion = _version({"columns": {}, "estimator": estimator.to_dict()})
    model = ModelConfig(name="m", source={"kind": "csv", "path": "x.csv"}, time_column="t",
                        target="y", task="classification", validation={"metric": "accuracy"})
    now = datetime(2024, 2, 1, tzinfo=UTC)
    span = Window.latest(now, timedelta(days=7))
    confident = rng.choice([0.05, 0.95], size=2000)  # 95% of these will be right
    frame = pd.DataFrame({"score": confident, "y": np.nan})
    frame.loc[:99, "y"] = 1.0  # labelled rows are the performance monitor's, not estimated
    reading = estimated_reading(model, champion, _ScoreBundle(), frame, span, now)
    assert reading is not None and reading.monitor == "estimated"
    assert reading.rows == 1900
    assert abs(reading.details["metrics"]["accuracy"] - 0.95) < 0.02
    assert reading.details["value"] == reading.details["metrics"]["accuracy"]
    assert "awaiting labels" in reading.summary
    labelled = frame.assign(y=1.0)
    assert estimated_reading(model, champion, _ScoreBundle(), labelled, span, now) is None
    plain = _version({"columns": {}})
    assert estimated_reading(model, plain, _ScoreBundle(), frame, span, now) is None
