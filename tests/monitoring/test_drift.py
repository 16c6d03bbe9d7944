from __future__ import annotations

import json
import math
import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from retrainer.config import ColumnDriftOverride, DriftMonitorConfig
from retrainer.domain import Severity
from retrainer.exceptions import DataError
from retrainer.monitoring.drift import PSI_EPSILON, chi2_homogeneity, detect_drift, psi
from retrainer.monitoring.profile import build_profile

RULES = DriftMonitorConfig()


def _rules(**kwargs: object) -> DriftMonitorConfig:
    return DriftMonitorConfig.model_validate(kwargs)


def _hand_psi(expected: list[float], actual: list[float]) -> float:
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, PSI_EPSILON), max(a, PSI_EPSILON)
        total += (a - e) * math.log(a / e)
    return total


def test_psi_on_a_tiny_example() -> None:
    # shares 0.9/0.1 -> 0.5/0.5: 0.4*ln(0.5/0.9) negated + 0.4*ln(5)
    expected = (0.5 - 0.9) * math.log(0.5 / 0.9) + (0.5 - 0.1) * math.log(0.5 / 0.1)
    assert psi(np.array([9.0, 1.0]), np.array([5.0, 5.0])) == pytest.approx(expected)
    assert expected == pytest.approx(0.8789, abs=1e-4)
    # an empty bin on one side is floored at the epsilon: large but finite
    value = psi(np.array([10.0, 0.0]), np.array([5.0, 5.0]))
    assert value == pytest.approx(_hand_psi([1.0, 0.0], [0.5, 0.5]))
    assert math.isfinite(value)
    assert math.isnan(psi(np.array([0.0, 0.0]), np.array([1.0, 1.0])))


def test_numeric_psi_uses_the_reference_bins() -> None:
    rng = np.random.default_rng(7)
    reference = rng.normal(10, 2, 4000)
    current = rng.normal(11, 2.5, 3000)
    profile = build_profile(pd.DataFrame({"x": reference}), ["x"], [], bins=5)
    edges = profile["columns"]["x"]["edges"]

    report = detect_drift(profile, pd.DataFrame({"x": current}), RULES)

    bins = [-np.inf, *edges, np.inf]
    ref_counts = pd.Series(pd.cut(reference, bins, right=False)).value_counts(sort=False)
    cur_counts = pd.Series(pd.cut(current, bins, right=False)).value_counts(sort=False)
    expected = _hand_psi(list(ref_counts.to_numpy() / 4000), list(cur_counts.to_numpy() / 3000))
    column = report.columns["x"]
    assert column.stats["psi"] == pytest.approx(expected)
    assert column.stats["mean"] == pytest.approx(current.mean())
    assert column.stats["variance_ratio"] == pytest.approx(
        np.var(current, ddof=1) / np.var(reference, ddof=1))
    assert column.stats["mean_shift"] == pytest.approx(
        abs(current.mean() - reference.mean()) / abs(reference.mean()))


def test_chi2_matches_scipy_including_unseen_categories() -> None:
    reference = pd.Series(["a"] * 500 + ["b"] * 300 + ["c"] * 200)
    current = pd.Series(["a"] * 420 + ["b"] * 330 + ["c"] * 200 + ["new"] * 50 + [None] * 10)
    profile = build_profile(pd.DataFrame({"c": reference}), [], ["c"])

    report = detect_drift(profile, pd.DataFrame({"c": current}), _rules(
        categorical={"method": "chi2"}))

    table = np.array([[500, 300, 200, 0], [420, 330, 200, 50]])
    statistic, p_value, dof, _ = stats.chi2_contingency(table, correction=False)
    column = report.columns["c"]
    assert column.method == "chi2"
    assert column.stats["chi2"] == pytest.approx(statistic)
    assert column.stats["chi2_pvalue"] == pytest.approx(p_value)
    assert column.stats["chi2_dof"] == dof == 3
    assert column.score == pytest.approx(statistic)
    assert column.threshold == pytest.approx(stats.chi2.isf(0.01, 3))
    assert column.drifted and p_value < 0.01
    assert column.stats["unseen_share"] == pytest.approx(50 / 1000)
    assert column.stats["null_share"] == pytest.approx(10 / 1010)
    assert any("unseen" in reason and "'new'" in reason for reason in column.reasons)
    # categorical PSI: reference categories plus an "unseen" bucket
    expected_psi = _hand_psi([0.5, 0.3, 0.2, 0.0], [0.42, 0.33, 0.2, 0.05])
    assert column.stats["psi"] == pytest.approx(expected_psi)


def test_chi2_homogeneity_edge_cases() -> None:
    assert chi2_homogeneity(np.array([10.0]), np.array([5.0])) == (0.0, 1.0, 0)
    statistic, p, dof = chi2_homogeneity(np.array([10.0, 0.0, 5.0]), np.array([20.0, 0.0, 10.0]))
    assert (statistic, p, dof) == (pytest.approx(0.0), pytest.approx(1.0), 1)


def _mixed(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({
        "centred": rng.normal(shift, 1.0, n),
        "positive": rng.gamma(4.0, 5.0, n),
        "wind": rng.choice(["N", "S", "E", "W"], size=n, p=[0.4, 0.3, 0.2, 0.1]),
    })


def test_a_sample_of_the_same_distribution_is_not_flagged() -> None:
    rng = np.random.default_rng(11)
    profile = build_profile(_mixed(rng, 20_000), ["centred", "positive"], ["wind"])
    for method in ("psi", "chi2"):
        report = detect_drift(profile, _mixed(rng, 20_000), _rules(categorical={"method": method}))
        assert report.drifted_columns() == [], report.to_json()
        assert report.drifted_share == 0.0
        assert report.max_severity() is Severity.NONE
        assert all(c.reasons == [] for c in report.columns.values())


def test_a_half_sigma_mean_shift_is_detected() -> None:
    rng = np.random.default_rng(12)
    profile = build_profile(_mixed(rng, 20_000), ["centred", "positive"], ["wind"])
    report = detect_drift(profile, _mixed(rng, 20_000, shift=0.5), RULES)

    assert report.drifted_columns() == ["centred"]
    centred = report.columns["centred"]
    assert centred.severity is Severity.WARNING
    assert centred.stats["mean_shift"] == pytest.approx(0.5, abs=0.03)
    assert any(reason.startswith("mean shift 0.") for reason in centred.reasons), centred.reasons
    assert report.drifted_share == pytest.approx(1 / 3)
    assert report.max_severity() is Severity.WARNING


def test_mean_shift_is_scaled_by_the_spread_when_the_mean_is_near_zero() -> None:
    rng = np.random.default_rng(5)
    reference = pd.DataFrame({"x": rng.normal(0.001, 1.0, 10_000)})
    profile = build_profile(reference, ["x"], [])
    # +0.05 sigma: |delta| / |ref mean| would be ~50, the guard gives ~0.05
    report = detect_drift(profile, pd.DataFrame({"x": rng.normal(0.051, 1.0, 10_000)}), RULES)
    assert report.columns["x"].stats["mean_shift"] < 0.1
    assert not report.columns["x"].drifted


def test_variance_ratio_alone() -> None:
    rng = np.random.default_rng(6)
    profile = build_profile(pd.DataFrame({"x": rng.normal(0, 1, 10_000)}), ["x"], [])
    rules = _rules(numeric={"psi": None, "mean_shift": None})
    wide = detect_drift(profile, pd.DataFrame({"x": rng.normal(0, 2, 10_000)}), rules)
    column = wide.columns["x"]
    assert column.drifted and column.method == "variance_ratio"
    assert column.score == pytest.approx(4.0, rel=0.05) and column.threshold == 2.0
    assert column.reasons == [f"variance ratio {column.score:.3g} outside [0.5, 2]"]
    narrow = detect_drift(profile, pd.DataFrame({"x": rng.normal(0, 0.5, 10_000)}), rules)
    assert narrow.columns["x"].drifted and narrow.columns["x"].threshold == 0.5


def test_disabled_rules_and_headline_choice() -> None:
    rng = np.random.default_rng(8)
    profile = build_profile(pd.DataFrame({"x": rng.normal(100, 1, 5000)}), ["x"], [])
    current = pd.DataFrame({"x": rng.normal(103, 1, 5000)})
    # 3 sigma, but only 3% of the mean: PSI fires, the relative mean shift does not
    report = detect_drift(profile, current, RULES)
    column = report.columns["x"]
    assert column.drifted and column.method == "psi" and column.threshold == 0.25
    assert column.stats["mean_shift"] == pytest.approx(0.03, abs=0.002)
    assert [r.split()[0] for r in column.reasons] == ["psi"]
    off = _rules(numeric={"psi": None, "mean_shift": None, "variance_ratio": None})
    quiet = detect_drift(profile, current, off).columns["x"]
    assert not quiet.drifted and quiet.method == "none"
    assert quiet.reasons == ["no drift rule is enabled for this column"]
    assert quiet.stats["psi"] is not None  # still measured


def test_column_overrides() -> None:
    rng = np.random.default_rng(9)
    frame = _mixed(rng, 5000)
    profile = build_profile(frame, ["centred", "positive"], ["wind"])
    shifted = _mixed(rng, 5000, shift=1.0)
    rules = _rules(columns={
        "centred": {"severity": "critical", "psi": 5.0, "mean_shift": "200%"},
        "positive": {"ignore": True},
        "wind": {"method": "chi2", "chi2_alpha": 0.5},
    })
    report = detect_drift(profile, shifted.drop(columns=["positive"]), rules)
    assert set(report.columns) == {"centred", "wind"}
    assert not report.columns["centred"].drifted  # thresholds raised for this column
    assert report.columns["wind"].method == "chi2"
    assert report.columns["wind"].threshold == pytest.approx(stats.chi2.isf(0.5, 3))

    severe = _rules(columns={"centred": ColumnDriftOverride(severity=Severity.CRITICAL)})
    report = detect_drift(profile, shifted, severe)
    assert report.columns["centred"].severity is Severity.CRITICAL
    assert report.max_severity() is Severity.CRITICAL


def test_constant_reference_column() -> None:
    profile = build_profile(pd.DataFrame({"x": [0.0] * 100}), ["x"], [])
    same = detect_drift(profile, pd.DataFrame({"x": [0.0] * 50}), RULES).columns["x"]
    assert not same.drifted and same.stats["variance_ratio"] == 1.0
    moved = detect_drift(profile, pd.DataFrame({"x": [0.0, 1.0] * 25}), RULES).columns["x"]
    assert moved.drifted
    assert moved.method == "mean_shift" and moved.score == math.inf
    assert moved.stats["mean_shift"] is None  # infinite: not representable in JSON
    assert "constant reference" in moved.reasons[0]
    json.dumps(moved.to_json(), allow_nan=False)


def test_empty_windows_and_all_null_columns() -> None:
    profile = build_profile(pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]}),
                            ["x"], ["c"], bins=2)
    empty = detect_drift(profile, pd.DataFrame({"x": [], "c": []}), RULES)
    assert empty.rows == 0 and empty.drifted_columns() == []
    assert empty.columns["x"].reasons == ["the window has no rows"]

    nulls = detect_drift(profile, pd.DataFrame({"x": [np.nan] * 4, "c": [None] * 4}), RULES)
    assert nulls.drifted_columns() == ["x", "c"]
    assert nulls.columns["x"].reasons == ["all 4 values are null (the reference had 3 values)"]
    assert nulls.columns["x"].stats["null_share_change"] == 1.0
    document = nulls.to_json()
    json.dumps(document, allow_nan=False)
    assert document["columns"]["x"]["score"] is None


def test_missing_columns_and_bad_profiles_raise_data_error() -> None:
    profile = build_profile(pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 4.0], "c": ["a", "b"]}),
                            ["x", "y"], ["c"], bins=2)
    with pytest.raises(DataError, match=r"lacks columns .*\['y', 'c'\]"):
        detect_drift(profile, pd.DataFrame({"x": [1.0]}), RULES)
    ignored = _rules(columns={"y": {"ignore": True}, "c": {"ignore": True}})
    assert set(detect_drift(profile, pd.DataFrame({"x": [1.0]}), ignored).columns) == {"x"}
    with pytest.raises(DataError, match="format 99"):
        detect_drift({**profile, "format": 99}, pd.DataFrame({"x": [1.0]}), RULES)
    with pytest.raises(DataError, match="'x' should be numeric"):
        detect_drift(profile, pd.DataFrame({"x": ["oops"], "y": [1.0], "c": ["a"]}), RULES)


def test_report_json_is_what_the_drift_trigger_reads() -> None:
    rng = np.random.default_rng(10)
    profile = build_profile(_mixed(rng, 2000), ["centred", "positive"], ["wind"])
    report = detect_drift(profile, _mixed(rng, 2000, shift=2.0), RULES)
    document = json.loads(json.dumps(report.to_json(), allow_nan=False))
    assert document["drifted_columns"] == ["centred"]
    assert document["columns"]["centred"]["severity"] == "warning"
    assert document["columns"]["wind"]["severity"] == "none"
    assert document["rows"] == 2000 and document["max_severity"] == "warning"


def test_beijing_summer_against_winter(beijing: pd.DataFrame) -> None:
    numeric = ["DEWP", "TEMP", "PRES", "Iws", "pm_lag1"]
    year = beijing[beijing["time"].dt.year == 2012]
    winter = year[year["month"].isin([1, 2])]
    summer = year[year["month"].isin([7, 8])]
    profile = build_profile(winter, numeric, ["cbwd"])

    report = detect_drift(profile, summer, RULES)
    assert {"TEMP", "DEWP", "PRES"} <= set(report.drifted_columns())
    assert report.columns["TEMP"].stats["psi"] > 2.0

    next_winter = beijing[(beijing["time"].dt.year == 2013) & beijing["month"].isin([1, 2])]
    report = detect_drift(profile, next_winter, RULES)
    assert "TEMP" not in report.drifted_columns()


def test_a_million_rows_by_twenty_columns_is_fast() -> None:
    rng = np.random.default_rng(0)
    n = 1_000_000
    data: dict[str, object] = {f"n{i}": rng.normal(i, 1.0, n) for i in range(16)}
    categories = np.array(["N", "NE", "E", "SE", "S", "SW", "W", "NW"])
    for i in range(4):
        data[f"c{i}"] = categories[rng.integers(0, 8, n)]
    frame = pd.DataFrame(data)
    numeric, categorical = [f"n{i}" for i in range(16)], [f"c{i}" for i in range(4)]
    profile = build_profile(frame.iloc[:200_000], numeric, categorical)

    started = time.perf_counter()
    report = detect_drift(profile, frame, RULES)
    elapsed = time.perf_counter() - started

    assert len(report.columns) == 20 and report.rows == n
    assert elapsed < 1.0, f"{elapsed:.2f}s"  # ~0.12s on the 2-core reference machine
