"""The drift reading the orchestrator stores: verdict in details, calibration cached."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from retrainer.config import ModelConfig
from retrainer.domain import ModelVersion, Window
from retrainer.monitoring import window as window_module
from retrainer.monitoring.profile import build_profile, target_reference
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


def _label_shift(rng: np.random.Generator, rows: int, scale: float) -> pd.DataFrame:
    """Features from one distribution; the target's level multiplied by ``scale``."""
    x = rng.normal(size=rows)
    return pd.DataFrame({"a": x, "b": rng.normal(size=rows),
                         "y": scale * (100 + 10 * x + rng.normal(0, 5, rows))})


def _with_target(reference: pd.DataFrame) -> ModelVersion:
    profile = build_profile(reference, ["a", "b"], [], importance={"a": 0.9, "b": 0.1})
    profile["target"] = target_reference(reference["y"], categorical=False)
    return _version(profile)


def test_target_drift_is_reported_apart_from_the_feature_verdict() -> None:
    rng = np.random.default_rng(72)
    champion = _with_target(_label_shift(rng, 20_000, 1.0))
    now = datetime(2024, 2, 1, tzinfo=UTC)
    span = Window.latest(now, timedelta(days=7))
    shifted = _label_shift(rng, 3000, 2.0)
    reading = drift_reading(_model(), champion, shifted, span, now)
    target = reading.details["target"]
    assert target["column"] == "y" and target["drifted"] and target["kind"] == "numeric"
    assert target["stats"]["mean"] == pytest.approx(200, rel=0.02)
    assert reading.details["drifted_columns"] == [] and reading.score == 0.0
    assert reading.details["weighted_share"] == 0.0 and reading.details["dataset_drift"] is False
    assert "y" not in reading.details["columns"] and "y" not in reading.details["weights"]
    assert reading.alert and reading.severity.value == "warning"
    assert f"target y drifted ({target['method']} " in reading.summary

    steady = drift_reading(_model(), champion, _label_shift(rng, 3000, 1.0), span, now)
    assert steady.details["target"]["drifted"] is False
    assert not steady.alert and "target y stable" in steady.summary


def test_target_drift_follows_the_column_overrides_and_the_switch() -> None:
    rng = np.random.default_rng(73)
    champion = _with_target(_label_shift(rng, 20_000, 1.0))
    now = datetime(2024, 2, 1, tzinfo=UTC)
    span = Window.latest(now, timedelta(days=7))
    shifted = _label_shift(rng, 3000, 2.0)
    high = drift_reading(_model(columns={"y": {"severity": "high"}}), champion, shifted,
                         span, now)
    assert high.details["target"]["severity"] == "high" and high.severity.value == "high"
    ignored = drift_reading(_model(columns={"y": {"ignore": True}}), champion, shifted, span, now)
    assert "target" not in ignored.details and not ignored.alert
    off = drift_reading(_model(target=False), champion, shifted, span, now)
    assert "target" not in off.details and "target" not in off.summary
    window_module._CALIBRATIONS.clear()
    calibrated = drift_reading(_model(calibration={"enabled": True, "windows": 200}), champion,
                               shifted, span, now)
    used = calibrated.details["target"]["thresholds"]["psi"]
    assert used["calibrated"] is not None and calibrated.details["target"]["drifted"]


def test_no_target_entry_without_a_reference_or_enough_labels() -> None:
    rng = np.random.default_rng(74)
    reference = _label_shift(rng, 5000, 1.0)
    old = _version(build_profile(reference, ["a", "b"], []))  # profiled before target drift
    now = datetime(2024, 2, 1, tzinfo=UTC)
    span = Window.latest(now, timedelta(days=7))
    shifted = _label_shift(rng, 2000, 2.0)
    reading = drift_reading(_model(), old, shifted, span, now)
    assert "target" not in reading.details and "target" not in reading.summary
    assert not reading.alert

    champion = _with_target(reference)
    awaiting = shifted.assign(y=np.where(np.arange(2000) < 29, shifted["y"], np.nan))
    assert "target" not in drift_reading(_model(), champion, awaiting, span, now).details
    enough = shifted.assign(y=np.where(np.arange(2000) < 500, shifted["y"], np.nan))
    labelled = drift_reading(_model(), champion, enough, span, now).details["target"]
    assert labelled["drifted"] and labelled["stats"]["n"] == 500
    assert labelled["stats"]["null_share"] == 0.0  # labels still to come are not "missing"
    unlabelled_frame = shifted.drop(columns=["y"])
    assert "target" not in drift_reading(_model(), champion, unlabelled_frame, span,
                                         now).details


def test_class_labels_that_became_floats_while_labels_lag_match_the_reference() -> None:
    rng = np.random.default_rng(75)
    train = pd.DataFrame({"a": rng.normal(size=4000), "b": rng.normal(size=4000),
                          "y": rng.choice([0, 1], 4000, p=[0.7, 0.3])})
    profile = build_profile(train, ["a", "b"], [])
    profile["target"] = target_reference(train["y"], categorical=True)
    champion = _version(profile)
    model = ModelConfig(name="m", source={"kind": "csv", "path": "x.csv"}, time_column="t",
                        target="y", task="classification")
    now = datetime(2024, 2, 1, tzinfo=UTC)
    span = Window.latest(now, timedelta(days=7))
    same = train.iloc[:2000].assign(y=train["y"].iloc[:2000].where(np.arange(2000) < 1500))
    assert same["y"].dtype == np.float64
    target = drift_reading(model, champion, same, span, now).details["target"]
    assert target["kind"] == "categorical" and target["stats"]["unseen_share"] == 0.0
    assert not target["drifted"]
    flipped = same.assign(y=1.0 - same["y"])  # 70% positives instead of 30%
    assert drift_reading(model, champion, flipped, span, now).details["target"]["drifted"]


def test_performance_is_scored_only_on_rows_production_was_not_fitted_on() -> None:
    from sklearn.tree import DecisionTreeRegressor

    from retrainer.domain.metrics import Task
    from retrainer.monitoring.window import performance_reading
    from retrainer.training.bundle import ModelBundle

    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"t": pd.date_range("2024-01-01", periods=336, freq="30min", tz="UTC"),
                          "x": rng.normal(size=336)})
    frame["y"] = 3 * frame["x"] + rng.normal(0, 1.0, 336)
    seen = frame.iloc[:200]  # a refit on the holdout learned the window's first 200 rows
    tree = DecisionTreeRegressor(random_state=0).fit(seen[["x"]], seen["y"])  # memorises them
    bundle = ModelBundle(Task.REGRESSION, features=["x"], categorical=[], categories={},
                         classes=None, trainer="sklearn", estimator=tree)
    model = ModelConfig(name="m", source={"kind": "csv", "path": "x.csv"}, time_column="t",
                        target="y", task="regression")
    now = datetime(2024, 1, 8, tzinfo=UTC)
    span = Window.latest(now, timedelta(days=7))

    def version(lineage: dict) -> ModelVersion:
        return ModelVersion(model="m", version="3", job_id=1, run_id="r", artifact_uri="u",
                            artifact_sha256="abc", status="champion", metrics={"rmse": 1.0},
                            created_at=now, lineage=lineage)

    fitted = version({"fitted_through": seen["t"].max().isoformat()})
    reading = performance_reading(model, fitted, bundle, frame, span, now)
    assert reading is not None and reading.rows == 136
    unseen_rmse = float(np.sqrt(np.mean((tree.predict(frame[["x"]].iloc[200:])
                                         - frame["y"].iloc[200:]) ** 2)))
    assert reading.details["value"] == pytest.approx(unseen_rmse)
    assert unseen_rmse > 1.0  # out of sample: the noise and then some
    # a version registered before lineage kept this (or naive times) is scored on every row
    everything = performance_reading(model, version({}), bundle, frame, span, now)
    assert everything is not None and everything.rows == 336
    assert everything.details["value"] < 0.7 * unseen_rmse
    naive = version({"fitted_through": seen["t"].max().tz_localize(None).isoformat()})
    assert performance_reading(model, naive, bundle, frame, span, now).rows == 136
    # fitted on all but the last 29 rows: too few unseen labels to judge
    late = version({"fitted_through": frame["t"].iloc[-30].isoformat()})
    assert performance_reading(model, late, bundle, frame, span, now) is None
