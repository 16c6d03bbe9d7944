"""Feature importance from real bundles, and the verdict's column weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retrainer.config import DriftMonitorConfig, ModelConfig
from retrainer.monitoring.importance import column_weights, feature_importance
from retrainer.training.fit import fit_candidate

FEATURES = ["hour", "DEWP", "TEMP", "PRES", "cbwd", "Iws", "pm_lag1", "noise"]


def _model(trainer: str, params: dict) -> ModelConfig:
    return ModelConfig(
        name="pm25", source={"kind": "csv", "path": "unused.csv"}, time_column="time",
        target="pm", task="regression", features=FEATURES, categorical=["cbwd"],
        training={"trainer": trainer, "params": params, "early_stopping_fraction": 0.0},
    )


@pytest.fixture(scope="module")
def train(beijing: pd.DataFrame) -> pd.DataFrame:
    frame = beijing[(beijing["time"] >= "2013-01-01") & (beijing["time"] < "2013-03-01")]
    frame = frame.dropna(subset=["pm"]).reset_index(drop=True)
    frame["noise"] = np.random.default_rng(0).normal(size=len(frame))
    return frame


@pytest.mark.parametrize(("trainer", "params"), [
    ("lightgbm", {"n_estimators": 60, "num_leaves": 15}),
    ("xgboost", {"n_estimators": 60, "max_depth": 4}),
    ("sklearn.linear_model:Ridge", {}),
    ("sklearn.ensemble:RandomForestRegressor", {"n_estimators": 20, "max_depth": 6}),
])
def test_importance_of_every_trainer(train: pd.DataFrame, trainer: str, params: dict) -> None:
    bundle = fit_candidate(train, _model(trainer, params)).bundle
    importance = feature_importance(bundle)
    assert list(importance) == FEATURES
    assert sum(importance.values()) == pytest.approx(1.0)
    assert min(importance.values()) >= 0
    # the previous hour's PM2.5 carries a nowcast; pure noise carries next to nothing
    assert max(importance, key=importance.__getitem__) == "pm_lag1"
    assert importance["noise"] < importance["pm_lag1"] / 5
    if trainer == "lightgbm":
        gains = bundle.estimator.feature_importance(importance_type="gain")
        assert importance["pm_lag1"] == pytest.approx(
            gains[FEATURES.index("pm_lag1")] / gains.sum())


def test_column_weights() -> None:
    rules = DriftMonitorConfig()
    weights, how = column_weights(["a", "b"], {"a": 0.0, "b": 0.0}, rules)
    assert weights == {"a": 0.5, "b": 0.5} and how == "uniform"
    custom = DriftMonitorConfig.model_validate({"weighting": "uniform",
                                                "columns": {"a": {"weight": 3}}})
    weights, how = column_weights(["a", "b"], {"a": 1.0}, custom)
    assert weights == {"a": 0.75, "b": 0.25} and how == "custom"
    assert column_weights([], None, rules) == ({}, "uniform")
