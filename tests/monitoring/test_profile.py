from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from retrainer.exceptions import DataError
from retrainer.monitoring.profile import PROFILE_FORMAT, build_profile


def _independent_counts(values: np.ndarray, edges: list[float]) -> list[int]:
    """Bins [-inf, e0), [e0, e1) ... [e_last, inf) counted with pandas.cut."""
    bins = [-np.inf, *edges, np.inf]
    cut = pd.cut(pd.Series(values), bins=bins, right=False)
    return cut.value_counts(sort=False).tolist()


def test_numeric_profile_matches_an_independent_computation() -> None:
    rng = np.random.default_rng(3)
    values = rng.gamma(2.0, 3.0, 10_000)
    values[:500] = np.nan
    frame = pd.DataFrame({"x": values})

    profile = build_profile(frame, numeric=["x"], categorical=[], bins=10)

    assert profile["format"] == PROFILE_FORMAT
    assert profile["rows"] == 10_000
    column = profile["columns"]["x"]
    present = values[~np.isnan(values)]
    expected_edges = np.quantile(present, np.linspace(0, 1, 11)[1:-1])
    assert column["kind"] == "numeric"
    assert column["edges"] == pytest.approx(expected_edges.tolist())
    assert column["counts"] == _independent_counts(present, column["edges"])
    assert sum(column["counts"]) == column["n"] == 9_500
    assert column["null_share"] == pytest.approx(0.05)
    assert column["mean"] == pytest.approx(present.mean())
    assert column["var"] == pytest.approx(np.var(present, ddof=1), rel=1e-12)
    assert (column["min"], column["max"]) == (present.min(), present.max())
    # quantile bins hold about a tenth each
    assert max(column["counts"]) - min(column["counts"]) <= 2


def test_profile_is_plain_json_without_nan() -> None:
    frame = pd.DataFrame({
        "constant": [5.0] * 6,
        "empty": [np.nan] * 6,
        "single": [np.nan] * 5 + [1.0],
        "flag": [True, False, True, True, None, False],
        "c": ["a", None, "b", "a", "a", None],
    })
    profile = build_profile(frame, ["constant", "empty", "single"], ["flag", "c"])

    text = json.dumps(profile, allow_nan=False)  # raises on NaN / inf
    assert json.loads(text) == profile
    constant = profile["columns"]["constant"]
    assert constant["edges"] == [5.0] and constant["counts"] == [0, 6] and constant["var"] == 0.0
    empty = profile["columns"]["empty"]
    assert empty == {"kind": "numeric", "null_share": 1.0, "n": 0, "edges": [], "counts": [0],
                     "mean": None, "var": None, "min": None, "max": None, "kurtosis": None,
                     "sketch": {"points": [], "below": [], "at": []}}
    assert constant["sketch"] == {"points": [5.0], "below": [0], "at": [6]}
    assert profile["columns"]["single"]["var"] is None
    assert profile["columns"]["flag"]["frequencies"] == {"True": 3, "False": 2}
    c = profile["columns"]["c"]
    assert c == {"kind": "categorical", "null_share": pytest.approx(1 / 3), "n": 4,
                 "frequencies": {"a": 3, "b": 1}}


def test_infinite_values_count_as_null_and_booleans_as_numbers() -> None:
    frame = pd.DataFrame({"x": [1.0, np.inf, -np.inf, 2.0], "b": [True, False, True, True]})
    profile = build_profile(frame, ["x", "b"], [], bins=2)
    assert profile["columns"]["x"]["n"] == 2
    assert profile["columns"]["x"]["null_share"] == 0.5
    assert profile["columns"]["b"]["mean"] == 0.75


def test_categories_are_keyed_by_their_text() -> None:
    frame = pd.DataFrame({"c": pd.Series([1, "1", 2, None], dtype=object)})
    profile = build_profile(frame, [], ["c"])
    assert profile["columns"]["c"]["frequencies"] == {"1": 2, "2": 1}


def test_numeric_strings_are_numbers_but_words_are_an_error() -> None:
    ok = build_profile(pd.DataFrame({"x": ["1.5", "2.5", None]}), ["x"], [], bins=2)
    assert ok["columns"]["x"]["mean"] == 2.0
    with pytest.raises(DataError, match=r"'x' should be numeric .* such as 'high'"):
        build_profile(pd.DataFrame({"x": ["1.5", "high"]}), ["x"], [])


def test_bad_arguments() -> None:
    frame = pd.DataFrame({"x": [1.0], "c": ["a"]})
    with pytest.raises(DataError, match=r"\['nope', 'gone'\]"):
        build_profile(frame, ["x", "nope"], ["gone"])
    with pytest.raises(ValueError, match="both numeric and categorical"):
        build_profile(frame, ["x"], ["x"])
    with pytest.raises(ValueError, match="bins"):
        build_profile(frame, ["x"], [], bins=1)
    with pytest.raises(ValueError, match="sketch_size"):
        build_profile(frame, ["x"], [], sketch_size=1)


def test_the_sketch_is_the_exact_cdf_at_its_points() -> None:
    rng = np.random.default_rng(8)
    values = rng.lognormal(0, 1, 50_000)
    profile = build_profile(pd.DataFrame({"x": values}), ["x"], [], bins=10, sketch_size=300)
    column = profile["columns"]["x"]
    sketch = column["sketch"]
    points = np.array(sketch["points"])
    assert points[0] == values.min() and points[-1] == values.max()
    assert set(column["edges"]) <= set(sketch["points"])
    assert 300 <= len(points) <= 311 and np.all(np.diff(points) > 0)
    below = [int(np.count_nonzero(values < p)) for p in points]
    at = [int(np.count_nonzero(values == p)) for p in points]
    assert sketch["below"] == below and sketch["at"] == at
    gaps = np.diff(sketch["below"]) - np.array(sketch["at"][:-1])
    assert gaps.max() <= 50_000 / 300 + 1  # each gap holds at most ~1/sketch_size
    assert column["kurtosis"] == pytest.approx(
        np.mean((values - values.mean()) ** 4) / np.var(values) ** 2, rel=1e-9)


def test_a_column_with_few_distinct_values_keeps_all_of_them() -> None:
    frame = pd.DataFrame({"hour": np.tile(np.arange(24.0), 100)})
    sketch = build_profile(frame, ["hour"], [], sketch_size=50)["columns"]["hour"]["sketch"]
    assert set(range(24)) <= set(sketch["points"])
    assert sum(sketch["at"]) == 2400


def test_importance_is_stored() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 4.0]})
    profile = build_profile(frame, ["x", "y"], [], bins=2, importance={"x": 0.8, "y": 0.2})
    assert profile["importance"] == {"x": 0.8, "y": 0.2}


def test_beijing_profile(beijing: pd.DataFrame) -> None:
    numeric = ["hour", "month", "DEWP", "TEMP", "PRES", "Iws", "Is", "Ir", "pm_lag1", "pm_lag24"]
    profile = build_profile(beijing, numeric, ["cbwd"])
    json.dumps(profile, allow_nan=False)
    assert profile["rows"] == len(beijing)
    assert set(profile["columns"]["cbwd"]["frequencies"]) == {"NE", "NW", "SE", "cv"}
    # snow hours are mostly zero: the quantile edges collapse instead of repeating
    snow = profile["columns"]["Is"]
    assert len(snow["edges"]) == len(set(snow["edges"])) < 9
    assert len(snow["counts"]) == len(snow["edges"]) + 1
    assert profile["columns"]["pm_lag24"]["null_share"] > 0.04  # 24 shifted + missing readings


def test_the_target_reference_is_profiled_like_a_feature() -> None:
    from retrainer.monitoring.profile import target_profile, target_reference

    rng = np.random.default_rng(8)
    frame = pd.DataFrame({"x": rng.normal(size=3000), "y": rng.gamma(2.0, 3.0, 3000),
                          "label": rng.choice([True, False], 3000)})
    profile = build_profile(frame, numeric=["x"], categorical=[], bins=8, sketch_size=100)
    assert target_profile(profile) is None  # profiled without a target: nothing to compare
    profile["target"] = target_reference(frame["y"], categorical=False, bins=8, sketch_size=100)
    as_feature = build_profile(frame, numeric=["y"], categorical=[], bins=8, sketch_size=100)
    assert profile["target"] == {"column": "y", "spec": as_feature["columns"]["y"]}
    one = target_profile(profile)
    assert one is not None and one["columns"] == {"y": as_feature["columns"]["y"]}
    assert one["format"] == PROFILE_FORMAT and "importance" not in one
    json.dumps(profile, allow_nan=False)

    classes = target_reference(frame["label"], categorical=True)["spec"]
    assert classes["kind"] == "categorical" and set(classes["frequencies"]) == {"0", "1"}
