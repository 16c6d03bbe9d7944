from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from retrainer.config import ColumnDriftOverride, DriftMonitorConfig
from retrainer.domain import Severity
from retrainer.exceptions import DataError
from retrainer.monitoring.drift import compare_frames, detect_drift
from retrainer.monitoring.profile import build_profile

RULES = DriftMonitorConfig()


def _rules(**kwargs: object) -> DriftMonitorConfig:
    return DriftMonitorConfig.model_validate(kwargs)


def _mixed(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({
        "centred": rng.normal(shift, 1.0, n),
        "positive": rng.gamma(4.0, 5.0, n),
        "wind": rng.choice(["N", "S", "E", "W"], size=n, p=[0.4, 0.3, 0.2, 0.1]),
    })


def _bins(values: np.ndarray, edges: list[float]) -> np.ndarray:
    cut = pd.cut(pd.Series(values), [-np.inf, *edges, np.inf], right=False)
    return cut.value_counts(sort=False).to_numpy()


def test_exact_statistics_agree_with_scipy() -> None:
    rng = np.random.default_rng(7)
    reference = rng.normal(10, 2, 4000)
    current = rng.normal(10.3, 2.5, 3000)
    current[:30] = np.nan
    report = compare_frames(pd.DataFrame({"x": reference}), pd.DataFrame({"x": current}),
                            ["x"], [], RULES)
    column = report.columns["x"]
    present = current[~np.isnan(current)]
    ks = stats.ks_2samp(reference, present)
    distance = stats.wasserstein_distance(reference, present)
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, 11)[1:-1])).tolist()
    ref_bins, cur_bins = _bins(reference, edges), _bins(present, edges)
    assert column.stats["ks"] == pytest.approx(ks.statistic, abs=1e-9)
    assert column.stats["ks_pvalue"] == pytest.approx(ks.pvalue, abs=1e-9)
    assert column.stats["wasserstein_distance"] == pytest.approx(distance, abs=1e-9)
    assert column.stats["wasserstein"] == pytest.approx(
        distance / np.std(reference, ddof=1), abs=1e-9)
    assert column.stats["js"] == pytest.approx(jensenshannon(ref_bins, cur_bins, base=2),
                                               abs=1e-9)
    assert column.stats["mean"] == pytest.approx(present.mean(), rel=1e-12)
    assert column.stats["variance_ratio"] == pytest.approx(
        np.var(present, ddof=1) / np.var(reference, ddof=1), rel=1e-9)
    assert column.stats["null_share"] == pytest.approx(0.01)
    assert report.exact


def test_the_profile_gives_the_same_psi_and_js_and_close_ks_and_wasserstein() -> None:
    rng = np.random.default_rng(8)
    reference, current = _mixed(rng, 20_000), _mixed(rng, 8000, shift=0.1)
    profile = build_profile(reference, ["centred", "positive"], ["wind"])
    sketch = detect_drift(profile, current, RULES)
    exact = compare_frames(reference, current, ["centred", "positive"], ["wind"], RULES)
    for name in ("centred", "positive"):
        a, b = sketch.columns[name].stats, exact.columns[name].stats
        assert a["psi"] == pytest.approx(b["psi"], abs=1e-12)
        assert a["js"] == pytest.approx(b["js"], abs=1e-12)
        assert a["ks"] <= b["ks"] + 1e-12 and b["ks"] - a["ks"] < 0.004
        assert a["wasserstein"] == pytest.approx(b["wasserstein"], abs=0.005)
        assert a["mean_shift"] == pytest.approx(b["mean_shift"], rel=1e-9)
    assert sketch.columns["wind"].stats == exact.columns["wind"].stats
    assert not sketch.exact


def test_chi2_and_categorical_statistics() -> None:
    reference = pd.Series(["a"] * 500 + ["b"] * 300 + ["c"] * 200)
    current = pd.Series(["a"] * 420 + ["b"] * 330 + ["c"] * 200 + ["new"] * 50 + [None] * 10)
    profile = build_profile(pd.DataFrame({"c": reference}), [], ["c"])
    report = detect_drift(profile, pd.DataFrame({"c": current}), _rules(
        categorical={"method": "chi2"}))
    table = np.array([[500, 300, 200, 0], [420, 330, 200, 50]])
    expected = stats.chi2_contingency(table, correction=False)
    column = report.columns["c"]
    assert column.method == "chi2"
    assert column.stats["chi2"] == pytest.approx(expected.statistic)
    assert column.stats["chi2_pvalue"] == pytest.approx(expected.pvalue)
    assert column.stats["chi2_dof"] == expected.dof == 3
    assert column.threshold == pytest.approx(stats.chi2.isf(0.01, 3))
    assert column.drifted and column.stats["unseen_share"] == pytest.approx(50 / 1000)
    assert column.stats["null_share"] == pytest.approx(10 / 1010)
    assert any("unseen" in reason and "'new'" in reason for reason in column.reasons)
    assert column.stats["js"] == pytest.approx(
        jensenshannon([500, 300, 200, 0], [420, 330, 200, 50], base=2))
    shares = [0.5, 0.3, 0.2, 0.0], [0.42, 0.33, 0.2, 0.05]
    expected_psi = sum((max(q, 1e-4) - max(p, 1e-4)) * math.log(max(q, 1e-4) / max(p, 1e-4))
                       for p, q in zip(*shares, strict=True))
    assert column.stats["psi"] == pytest.approx(expected_psi)


def test_auto_uses_p_values_for_small_samples_and_effect_sizes_for_large() -> None:
    rng = np.random.default_rng(9)
    profile = build_profile(_mixed(rng, 50_000), ["centred", "positive"], ["wind"])
    small = detect_drift(profile, _mixed(rng, 300), RULES)
    assert set(small.columns["centred"].thresholds) == {"ks", "null_share"}
    assert set(small.columns["wind"].thresholds) == {"chi2", "null_share"}
    large = detect_drift(profile, _mixed(rng, 5000), RULES)
    assert set(large.columns["centred"].thresholds) == {
        "psi", "wasserstein", "mean_shift", "variance_ratio", "null_share"}
    assert set(large.columns["wind"].thresholds) == {"psi", "null_share"}
    # a tiny but real shift: significant at a million rows, irrelevant as an effect size
    huge = pd.DataFrame({"centred": rng.normal(0.05, 1.0, 1_000_000),
                         "positive": rng.gamma(4.0, 5.0, 1_000_000),
                         "wind": rng.choice(["N", "S", "E", "W"], 1_000_000,
                                            p=[0.4, 0.3, 0.2, 0.1])})
    report = detect_drift(profile, huge, RULES)
    assert report.columns["centred"].stats["ks_pvalue"] < 1e-6
    assert report.drifted_columns() == []


def test_a_sample_of_the_same_distribution_is_not_flagged() -> None:
    rng = np.random.default_rng(11)
    profile = build_profile(_mixed(rng, 20_000), ["centred", "positive"], ["wind"])
    for method in ("auto", "psi", "chi2"):
        for rows in (400, 20_000):
            report = detect_drift(profile, _mixed(rng, rows),
                                  _rules(categorical={"method": method}))
            assert report.drifted_columns() == [], report.to_json()
            assert not report.dataset_drift and report.max_severity() is Severity.NONE


def test_shifts_are_detected_by_the_methods_that_fit_the_sample() -> None:
    rng = np.random.default_rng(12)
    profile = build_profile(_mixed(rng, 20_000), ["centred", "positive"], ["wind"])
    large = detect_drift(profile, _mixed(rng, 20_000, shift=0.5), RULES)
    assert large.drifted_columns() == ["centred"]
    centred = large.columns["centred"]
    assert centred.severity is Severity.WARNING
    assert {r.split()[0] for r in centred.reasons} == {"wasserstein", "mean"}
    assert large.drifted_share == pytest.approx(1 / 3)
    small = detect_drift(profile, _mixed(rng, 200, shift=0.5), RULES)
    assert small.drifted_columns() == ["centred"]
    assert small.columns["centred"].method == "ks"
    assert "p " in small.columns["centred"].reasons[0]


def test_mean_shift_is_scaled_by_the_spread_when_the_mean_is_near_zero() -> None:
    rng = np.random.default_rng(5)
    profile = build_profile(pd.DataFrame({"x": rng.normal(0.001, 1.0, 10_000)}), ["x"], [])
    report = detect_drift(profile, pd.DataFrame({"x": rng.normal(0.051, 1.0, 10_000)}), RULES)
    assert report.columns["x"].stats["mean_shift"] < 0.1
    assert not report.columns["x"].drifted


def test_variance_ratio_alone() -> None:
    rng = np.random.default_rng(6)
    profile = build_profile(pd.DataFrame({"x": rng.normal(0, 1, 10_000)}), ["x"], [])
    rules = _rules(numeric={"method": "variance_ratio"})
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
    # 3 sigma, but only 3% of the mean: the distances fire, the relative mean shift does not
    column = detect_drift(profile, current, RULES).columns["x"]
    assert column.drifted and column.method == "wasserstein"
    assert column.stats["mean_shift"] == pytest.approx(0.03, abs=0.002)
    assert [r.split()[0] for r in column.reasons] == ["psi", "wasserstein"]
    off = _rules(null_share=None, numeric={"psi": None, "wasserstein": None,
                                           "mean_shift": None, "variance_ratio": None})
    quiet = detect_drift(profile, current, off).columns["x"]
    assert not quiet.drifted and quiet.method == "none"
    assert quiet.reasons == ["no drift rule is enabled for this column"]
    assert quiet.stats["psi"] is not None  # still measured


def test_column_overrides() -> None:
    rng = np.random.default_rng(9)
    profile = build_profile(_mixed(rng, 5000), ["centred", "positive"], ["wind"])
    shifted = _mixed(rng, 5000, shift=1.0)
    rules = _rules(columns={
        "centred": {"severity": "critical", "psi": 5.0, "wasserstein": 5.0,
                    "mean_shift": "200%"},
        "positive": {"ignore": True},
        "wind": {"method": "chi2", "chi2_alpha": 0.5},
    })
    report = detect_drift(profile, shifted.drop(columns=["positive"]), rules)
    assert set(report.columns) == {"centred", "wind"}
    assert not report.columns["centred"].drifted  # thresholds raised for this column
    assert report.columns["wind"].method == "chi2"
    assert report.columns["wind"].threshold == pytest.approx(stats.chi2.isf(0.5, 3))
    listed = _rules(columns={"centred": {"method": ["ks", "js"], "js": 0.05},
                             "wind": {"small_sample": 10**9}})
    report = detect_drift(profile, shifted, listed)
    assert set(report.columns["centred"].thresholds) == {"ks", "js"}
    assert set(report.columns["wind"].thresholds) == {"chi2", "null_share"}
    severe = _rules(columns={"centred": ColumnDriftOverride(severity=Severity.CRITICAL)})
    report = detect_drift(profile, shifted, severe)
    assert report.columns["centred"].severity is Severity.CRITICAL
    assert report.max_severity() is Severity.CRITICAL


def test_methods_that_do_not_fit_a_column_are_errors() -> None:
    profile = build_profile(pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]}),
                            ["x"], ["c"], bins=2)
    frame = pd.DataFrame({"x": [1.0, 2.0], "c": ["a", "b"]})
    with pytest.raises(DataError, match="'chi2' does not apply to numeric column 'x'"):
        detect_drift(profile, frame, _rules(columns={"x": {"method": "chi2"}}))
    with pytest.raises(DataError, match="'js' of column 'x' has no threshold"):
        detect_drift(profile, frame, _rules(columns={"x": {"method": "js"}}))


def test_importance_weighted_dataset_verdict() -> None:
    rng = np.random.default_rng(10)
    reference = pd.DataFrame({f"x{i}": rng.normal(0, 1, 20_000) for i in range(4)})
    importance = {"x0": 0.7, "x1": 0.1, "x2": 0.1, "x3": 0.1}
    profile = build_profile(reference, list(reference), [], importance=importance)
    ignored = reference.copy()
    ignored["x3"] += 1.0  # a feature the model barely uses
    report = detect_drift(profile, ignored, RULES)
    assert report.drifted_columns() == ["x3"] and report.drifted_share == 0.25
    assert report.weighted_share == pytest.approx(0.1) and not report.dataset_drift
    assert report.weighting == "importance"
    important = reference.copy()
    important["x0"] += 0.5
    report = detect_drift(profile, important, RULES)
    assert report.weighted_share == pytest.approx(0.7) and report.dataset_drift
    uniform = detect_drift(profile, ignored, _rules(weighting="uniform"))
    assert uniform.weighted_share == 0.25 and uniform.weighting == "uniform"
    custom = detect_drift(profile, ignored, _rules(columns={"x3": {"weight": 10.0}}))
    assert custom.weighted_share == pytest.approx(10 / 10.9) and custom.dataset_drift
    document = report.to_json()
    assert document["dataset_drift"] is True and document["weights"]["x0"] == pytest.approx(0.7)


def test_constant_reference_column() -> None:
    profile = build_profile(pd.DataFrame({"x": [0.0] * 100}), ["x"], [])
    same = detect_drift(profile, pd.DataFrame({"x": [0.0] * 50}), RULES).columns["x"]
    assert not same.drifted and same.stats["variance_ratio"] == 1.0
    moved = detect_drift(profile, pd.DataFrame({"x": [0.0, 1.0] * 25}),
                         _rules(numeric={"method": "mean_shift"})).columns["x"]
    assert moved.drifted and moved.method == "mean_shift" and moved.score == math.inf
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


def test_a_jump_in_missing_values_is_drift() -> None:
    rng = np.random.default_rng(13)
    profile = build_profile(pd.DataFrame({"x": rng.normal(size=5000)}), ["x"], [])
    values = rng.normal(size=5000)
    values[:1000] = np.nan
    column = detect_drift(profile, pd.DataFrame({"x": values}), RULES).columns["x"]
    assert column.drifted and column.method == "null_share"
    assert column.reasons == ["missing share change 0.2 > 0.1"]


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
    with pytest.raises(DataError, match="current data: column 'x' should be numeric"):
        compare_frames(pd.DataFrame({"x": [1.0]}), pd.DataFrame({"x": ["oops"]}), ["x"], [],
                       RULES)


def test_format_1_profiles_are_still_read() -> None:
    rng = np.random.default_rng(14)
    reference = pd.DataFrame({"x": rng.normal(0, 1, 5000), "c": rng.choice(["a", "b"], 5000)})
    profile = build_profile(reference, ["x"], ["c"])
    old = {**profile, "format": 1, "columns": {
        "x": {k: v for k, v in profile["columns"]["x"].items()
              if k not in ("sketch", "kurtosis")}, "c": profile["columns"]["c"]}}
    old.pop("sketch_size")
    current = pd.DataFrame({"x": rng.normal(1, 1, 5000), "c": rng.choice(["a", "b"], 5000)})
    new_report = detect_drift(profile, current, RULES)
    old_report = detect_drift(old, current, RULES)
    x_old, x_new = old_report.columns["x"], new_report.columns["x"]
    assert x_old.drifted and x_old.stats["ks"] is None and x_old.stats["wasserstein"] is None
    assert "wasserstein not computed for this column" not in x_old.reasons
    assert x_old.stats["psi"] == pytest.approx(x_new.stats["psi"])
    assert x_old.stats["out_of_range_share"] == pytest.approx(x_new.stats["out_of_range_share"])


def test_report_json_is_what_the_drift_trigger_reads() -> None:
    rng = np.random.default_rng(10)
    profile = build_profile(_mixed(rng, 2000), ["centred", "positive"], ["wind"])
    report = detect_drift(profile, _mixed(rng, 2000, shift=2.0), RULES)
    document = json.loads(json.dumps(report.to_json(), allow_nan=False))
    assert document["drifted_columns"] == ["centred"]
    assert document["columns"]["centred"]["severity"] == "warning"
    assert document["columns"]["wind"]["severity"] == "none"
    assert document["rows"] == 2000 and document["max_severity"] == "warning"
    assert document["columns"]["centred"]["thresholds"]["variance_ratio"]["configured"] == [
        0.5, 2.0]


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


def test_a_million_rows_by_twenty_columns_against_a_stored_profile() -> None:
    # the scale of the drift benchmark (benchmarks/drift_vs_evidently.py times it): every
    # column is judged on all its rows, and a window from the reference's own distribution
    # does not drift
    rng = np.random.default_rng(0)
    n = 1_000_000
    data: dict[str, object] = {f"n{i}": rng.normal(i, 1.0, n) for i in range(16)}
    categories = np.array(["N", "NE", "E", "SE", "S", "SW", "W", "NW"])
    for i in range(4):
        data[f"c{i}"] = categories[rng.integers(0, 8, n)]
    frame = pd.DataFrame(data)
    numeric, categorical = [f"n{i}" for i in range(16)], [f"c{i}" for i in range(4)]
    profile = build_profile(frame.iloc[:200_000], numeric, categorical)

    report = detect_drift(profile, frame, RULES)

    assert len(report.columns) == 20 and report.rows == n
    assert all(column.stats["n"] == n for column in report.columns.values())
    assert report.drifted_columns() == [] and not report.dataset_drift
    shifted = detect_drift(profile, frame.assign(n3=frame["n3"] + 0.5), RULES)
    assert shifted.drifted_columns() == ["n3"]
