"""Calibrated thresholds hold the false-alarm budget and still catch a real shift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retrainer.config import DriftMonitorConfig
from retrainer.monitoring.calibration import Calibration, calibrate
from retrainer.monitoring.drift import detect_drift
from retrainer.monitoring.profile import build_profile


def _reference(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame({
        "normal": rng.normal(5, 2, n),
        "skewed": rng.gamma(1.5, 3, n),
        "heavy": rng.standard_t(3, n),
        "lognormal": rng.lognormal(0, 1, n),
        "count": rng.poisson(3, n).astype(float),
        "hour": rng.integers(0, 24, n).astype(float),
        "gappy": np.where(rng.uniform(size=n) < 0.1, np.nan, rng.normal(0, 1, n)),
        "colour": rng.choice(["red", "green", "blue", "grey"], n, p=[0.5, 0.3, 0.15, 0.05]),
        "size": rng.choice(["s", "m", "l"], n),
    })


NUMERIC = ["normal", "skewed", "heavy", "lognormal", "count", "hour", "gappy"]
CATEGORICAL = ["colour", "size"]


def _fire_rate(profile: dict, reference: pd.DataFrame, rows: int, rules: DriftMonitorConfig,
               calibration: Calibration | None, windows: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    fired = 0
    for _ in range(windows):
        window = reference.iloc[rng.integers(0, len(reference), rows)]
        report = detect_drift(profile, window, rules, calibration=calibration)
        fired += report.dataset_drift
    return fired / windows


@pytest.mark.parametrize(("rows", "numeric", "categorical"), [
    # small windows: KS and chi2 at 5% each, nine columns: about a third of windows fire
    (300, {"ks_alpha": 0.05}, {"chi2_alpha": 0.05}),
    # large windows with effect-size thresholds set below the noise
    (3000, {"psi": 0.005, "wasserstein": 0.02, "mean_shift": 0.01}, {"psi": 0.002}),
])
def test_windows_from_the_reference_fire_within_the_budget(
    rows: int, numeric: dict, categorical: dict
) -> None:
    rng = np.random.default_rng(20)
    reference = _reference(rng, 100_000)
    profile = build_profile(reference, NUMERIC, CATEGORICAL)
    # one drifted column is enough for the verdict: the verdict's false alarms are then the
    # family-wise ones, the hardest case for a budget
    rules = DriftMonitorConfig.model_validate(
        {"dataset_share": 0.05, "weighting": "uniform", "numeric": numeric,
         "categorical": categorical})
    budget, windows = 0.05, 300
    tolerance = 2.5 * np.sqrt(budget * (1 - budget) / windows)
    calibration = calibrate(profile, rows, rules, budget=budget, windows=1000, seed=1)
    assert 0 < calibration.achieved <= budget
    uncalibrated = _fire_rate(profile, reference, rows, rules, None, windows, seed=2)
    calibrated = _fire_rate(profile, reference, rows, rules, calibration, windows, seed=2)
    assert uncalibrated > budget + tolerance  # without calibration the budget is blown
    assert calibrated <= budget + tolerance, (calibrated, uncalibrated)


def test_a_small_shift_in_an_important_feature_fires_and_no_shift_does_not() -> None:
    rng = np.random.default_rng(21)
    reference = pd.DataFrame({f"x{i}": rng.normal(0, 1, 200_000) for i in range(6)})
    importance = {"x0": 0.5, **{f"x{i}": 0.1 for i in range(1, 6)}}
    profile = build_profile(reference, list(reference), [], importance=importance)
    rules = DriftMonitorConfig()
    calibration = calibrate(profile, 50_000, rules, budget=0.01)
    same = pd.DataFrame({f"x{i}": rng.normal(0, 1, 50_000) for i in range(6)})
    shifted = same.copy()
    shifted["x0"] += 0.2  # +0.2 standard deviations
    quiet = detect_drift(profile, same, rules, calibration=calibration)
    loud = detect_drift(profile, shifted, rules, calibration=calibration)
    assert not quiet.dataset_drift and quiet.drifted_columns() == []
    assert loud.dataset_drift and loud.drifted_columns() == ["x0"]
    assert loud.weighted_share == pytest.approx(0.5)
    assert loud.calibration is not None and loud.calibration["budget"] == 0.01
    # the same shift in a feature the model barely uses does not move the verdict
    minor = same.copy()
    minor["x5"] += 0.2
    assert not detect_drift(profile, minor, rules, calibration=calibration).dataset_drift


def test_reports_show_configured_and_calibrated_thresholds() -> None:
    rng = np.random.default_rng(22)
    reference = _reference(rng, 50_000)
    profile = build_profile(reference, NUMERIC, CATEGORICAL)
    rules = DriftMonitorConfig()
    small = calibrate(profile, 200, rules, windows=500)
    report = detect_drift(profile, reference.iloc[:200], rules, calibration=small)
    ks = report.columns["normal"].thresholds["ks"]
    assert ks["configured"] == 0.01 and ks["calibrated"] == small.threshold("normal", "ks")
    assert ks["used"] >= ks["calibrated"]
    big = calibrate(profile, 20_000, rules, windows=500)
    window = reference.iloc[:20_000]
    column = detect_drift(profile, window, rules, calibration=big).columns["normal"]
    w = column.thresholds["wasserstein"]
    assert w["configured"] == 0.1 and w["calibrated"] < 0.1 and w["used"] == 0.1
    ratio = column.thresholds["variance_ratio"]
    assert ratio["configured"] == (0.5, 2.0) and ratio["calibrated"] > 0
    # bigger windows, tighter calibrated thresholds
    assert big.threshold("normal", "wasserstein") < calibrate(
        profile, 2000, rules, windows=500).threshold("normal", "wasserstein")


def test_calibration_is_deterministic_and_serialisable() -> None:
    rng = np.random.default_rng(23)
    profile = build_profile(_reference(rng, 20_000), NUMERIC, CATEGORICAL)
    rules = DriftMonitorConfig()
    first = calibrate(profile, 5000, rules, windows=300, seed=5)
    again = calibrate(profile, 5000, rules, windows=300, seed=5)
    other = calibrate(profile, 5000, rules, windows=300, seed=6)
    assert first == again and first.thresholds != other.thresholds
    assert Calibration.from_json(first.to_json()) == first
    assert set(first.thresholds) == set(NUMERIC + CATEGORICAL)
    with pytest.raises(ValueError, match="window_rows"):
        calibrate(profile, 0, rules)
