from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from retrainer.config import ModelConfig
from retrainer.data.readiness import (
    CheckResult,
    FeatureColumnsCheck,
    FreshnessCheck,
    MinRowsCheck,
    NullShareCheck,
    ReadinessCheck,
    ReadinessContext,
    SchemaCheck,
    check_readiness,
    schema_of,
)
from retrainer.demo.dataset import CATEGORICAL, FEATURES
from retrainer.domain import Window

END = datetime(2024, 1, 11, tzinfo=UTC)
WINDOW = Window(datetime(2024, 1, 1, tzinfo=UTC), END)


def _model(**extra: object) -> ModelConfig:
    base = {"name": "m", "source": {"kind": "csv", "path": "d.csv"}, "time_column": "time",
            "target": "y", "task": "regression", "categorical": ["wind"],
            "features": ["temp", "wind"], "min_rows": 100}
    return ModelConfig.model_validate({**base, **extra})


def _frame(rows: int = 240) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "time": pd.date_range(WINDOW.start, periods=rows, freq="h"),
        "temp": rng.normal(5, 3, rows),
        "wind": rng.choice(["N", "S"], rows),
        "y": rng.normal(50, 10, rows),
    })


def _ctx(model: ModelConfig | None = None, expected: dict[str, str] | None = None
         ) -> ReadinessContext:
    model = model or _model()
    return ReadinessContext(model, WINDOW, list(model.features or []), expected)


def _by_name(frame: pd.DataFrame, ctx: ReadinessContext) -> dict[str, CheckResult]:
    return {r.name: r for r in check_readiness(frame, ctx)}


def test_good_data_passes_every_check() -> None:
    results = check_readiness(_frame(), _ctx(expected={"temp": "numeric", "wind": "categorical"}))
    assert [r.name for r in results] == ["schema", "min_rows", "null_share", "freshness",
                                         "feature_columns"]
    assert all(r.passed for r in results), [r.reason for r in results]
    for result in results:
        json.dumps(result.to_json(), allow_nan=False)


def test_missing_columns_are_named() -> None:
    frame = _frame().drop(columns=["wind", "y"])
    result = SchemaCheck().check(frame, _ctx())
    assert not result.passed
    assert result.reason == "missing columns 'y', 'wind'"
    assert result.details["missing"] == ["y", "wind"]


def test_a_numeric_feature_holding_text_fails_with_an_example() -> None:
    frame = _frame()
    frame["temp"] = frame["temp"].astype(object)
    frame.loc[5, "temp"] = "n/a"
    result = SchemaCheck().check(frame, _ctx(expected={"temp": "numeric", "wind": "categorical"}))
    assert not result.passed
    assert result.reason == (
        "feature 'temp' should be numeric but holds non-numeric values such as 'n/a'"
    )
    assert result.details["changed"]["temp"] == {"expected": "numeric", "found": "categorical",
                                                  "example": "n/a"}
    # without a production version there is nothing to compare with
    assert SchemaCheck().check(frame, _ctx()).passed


def test_numbers_stored_as_text_and_reconfigured_columns_pass() -> None:
    frame = _frame()
    frame["temp"] = frame["temp"].map(str)
    assert SchemaCheck().check(frame, _ctx(expected={"temp": "numeric"})).passed
    model = _model(categorical=["wind", "temp"])
    assert SchemaCheck().check(_frame(), _ctx(model, expected={"temp": "numeric"})).passed


def test_a_categorical_feature_that_became_numeric_fails() -> None:
    frame = _frame()
    model = _model(categorical=[])
    frame["wind"] = (frame["wind"] == "N").astype(int)
    result = SchemaCheck().check(frame, _ctx(model, expected={"wind": "categorical"}))
    assert not result.passed
    assert result.reason.startswith("feature 'wind' was categorical in production")


def test_min_rows_counts_labelled_rows() -> None:
    frame = _frame(150)
    frame.loc[:79, "y"] = np.nan
    result = MinRowsCheck().check(frame, _ctx())
    assert not result.passed
    assert result.reason == "70 labelled rows < minimum 100"
    assert result.details == {"rows": 150, "labelled_rows": 70, "min_rows": 100}
    assert MinRowsCheck().check(_frame(100), _ctx()).passed
    no_target = MinRowsCheck().check(_frame().drop(columns=["y"]), _ctx())
    assert not no_target.passed and "target 'y' is missing" in no_target.reason


def test_null_shares_name_the_column_and_the_numbers() -> None:
    frame = _frame(100)
    frame.loc[:62, "temp"] = np.nan
    frame.loc[:59, "y"] = np.nan
    result = NullShareCheck().check(frame, _ctx())
    assert not result.passed
    assert result.reason == ("feature 'temp' is 63% null (max 20%, readiness.max_null_share); "
                             "target 'y' is 60% null (max 50%, readiness.max_label_null_share)")
    assert result.details["shares"] == {"temp": 0.63, "wind": 0.0, "y": 0.6}
    relaxed = _model(readiness={"max_null_share": "70%", "max_label_null_share": 0.6})
    assert NullShareCheck().check(frame, _ctx(relaxed)).passed


def test_a_feature_sparse_in_productions_training_rows_may_rise_by_the_allowed_share() -> None:
    frame = _frame(100)
    frame.loc[:37, "temp"] = np.nan  # 38% null
    frame.loc[:24, "wind"] = None  # 25% null
    model = _model()
    context = ReadinessContext(model, WINDOW, ["temp", "wind"], None,
                               reference_null_shares={"temp": 0.3, "wind": 0.05})
    result = NullShareCheck().check(frame, context)
    # temp: 30% in production + 10% rise = 40% >= 38%; wind: 5% + 10% < the 20% cap
    assert not result.passed
    assert result.reason == "feature 'wind' is 25% null (max 20%, readiness.max_null_share)"
    assert result.details["limits"]["temp"] == pytest.approx(0.4)
    frame.loc[:45, "temp"] = np.nan  # 46% null
    frame["wind"] = "N"
    risen = NullShareCheck().check(frame, context)
    assert risen.reason == ("feature 'temp' is 46% null (max 40%, production trained on 30% "
                            "null + readiness.max_null_share_rise)")
    frame.loc[:45, "temp"] = 0.0
    frame.loc[:31, "temp"] = np.nan  # 32%: within 30% + 10%, not within 30% + 0
    assert NullShareCheck().check(frame, context).passed
    strict = _model(readiness={"max_null_share_rise": 0})
    no_rise = ReadinessContext(strict, WINDOW, ["temp", "wind"], None,
                               reference_null_shares={"temp": 0.3})
    assert "(max 30%, production trained on 30% null" in NullShareCheck().check(
        frame, no_rise).reason


def test_infinite_values_count_as_missing() -> None:
    frame = _frame(100)
    frame.loc[:59, "y"] = np.inf
    frame.loc[:9, "temp"] = -np.inf
    result = NullShareCheck().check(frame, _ctx())
    assert result.reason == "target 'y' is 60% null (max 50%, readiness.max_label_null_share)"
    assert result.details["shares"]["temp"] == 0.1


def test_freshness() -> None:
    model = _model(readiness={"max_staleness": "1d"})
    fresh = FreshnessCheck().check(_frame(), _ctx(model))  # newest row 1h before the end
    assert fresh.passed and "1h before the window end (within max 1d)" in fresh.reason
    stale = FreshnessCheck().check(_frame(24 * 7), _ctx(model))  # newest is Jan 7 23:00
    assert not stale.passed
    assert stale.reason == ("newest row 2024-01-07T23:00:00+00:00 is 3d 1h before the window "
                            "end (exceeds max 1d)")
    assert stale.details["age_seconds"] == (3 * 24 + 1) * 3600
    assert FreshnessCheck().check(_frame(24 * 7), _ctx()).passed  # not configured
    assert not FreshnessCheck().check(_frame(0), _ctx(model)).passed


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame(),
        pd.DataFrame({"time": ["not a time"], "temp": ["x"], "wind": [1], "y": ["?"]}),
        _frame(0),
    ],
)
def test_bad_data_never_raises(frame: pd.DataFrame) -> None:
    model = _model(readiness={"max_staleness": "1d"})
    results = check_readiness(frame, _ctx(model, expected={"temp": "numeric",
                                                             "wind": "categorical"}))
    assert len(results) == 5
    assert not all(r.passed for r in results)


def test_custom_checks_replace_the_defaults() -> None:
    class AlwaysNo:
        name = "always_no"

        def check(self, frame: pd.DataFrame, ctx: ReadinessContext) -> CheckResult:
            return CheckResult(self.name, False, "no", {})

    assert isinstance(AlwaysNo(), ReadinessCheck)
    results = check_readiness(_frame(), _ctx(), [AlwaysNo(), MinRowsCheck()])
    assert [(r.name, r.passed) for r in results] == [("always_no", False), ("min_rows", True)]


def test_schema_of_beijing(beijing: pd.DataFrame) -> None:
    schema = schema_of(beijing, [*FEATURES, "absent"], CATEGORICAL)
    assert schema["cbwd"] == "categorical"
    assert {k for k, v in schema.items() if v == "numeric"} == set(FEATURES) - {"cbwd"}
    assert "absent" not in schema


def test_beijing_window_with_a_broken_sensor(beijing: pd.DataFrame) -> None:
    model = ModelConfig.model_validate({
        "name": "pm25", "source": {"kind": "csv", "path": "x.csv"}, "time_column": "time",
        "target": "pm", "task": "regression", "features": FEATURES, "categorical": CATEGORICAL,
        "min_rows": 500,
    })
    window = Window(datetime(2013, 1, 1, tzinfo=UTC), datetime(2013, 2, 1, tzinfo=UTC))
    frame = beijing[(beijing["time"] >= window.start) & (beijing["time"] < window.end)].copy()
    frame.loc[frame.index[: int(len(frame) * 0.63)], "TEMP"] = np.nan
    ctx = ReadinessContext(model, window, FEATURES, schema_of(beijing, FEATURES, CATEGORICAL))
    results = _by_name(frame, ctx)
    assert results["schema"].passed and results["min_rows"].passed
    assert results["null_share"].reason == ("feature 'TEMP' is 63% null "
                                                "(max 20%, readiness.max_null_share)")


def test_implied_features_must_not_be_identifiers_row_counters_or_dates() -> None:
    frame = _frame().assign(order_id=[f"ord-{i:05d}" for i in range(240)],
                            row=np.arange(1, 241), day=lambda f: f["time"].dt.strftime("%Y-%m-%d"),
                            booked=lambda f: f["time"] - pd.Timedelta(days=2))
    implied = _model(features=None, exclude=["booked"])
    ctx = ReadinessContext(implied, WINDOW, implied.feature_columns(list(frame.columns)), None)
    result = FeatureColumnsCheck().check(frame, ctx)
    assert not result.passed
    assert set(result.details["unusable"]) == {"order_id", "row", "day"}
    typed = _model(features=None, exclude=["order_id", "row", "day"])  # a typed time too
    ctx = ReadinessContext(typed, WINDOW, typed.feature_columns(list(frame.columns)), None)
    assert FeatureColumnsCheck().check(frame, ctx).details["unusable"] == {"booked": "dates"}
    assert "'order_id' is an identifier" in result.reason and "add them to exclude" in result.reason
    assert "a day of the year or month counts up like a row counter" in result.reason
    assert "counts up like" not in FeatureColumnsCheck().check(frame, ctx).reason  # dates only

    excluded = _model(features=None, exclude=["order_id", "row", "day", "booked"])
    ctx = ReadinessContext(excluded, WINDOW, excluded.feature_columns(list(frame.columns)), None)
    assert FeatureColumnsCheck().check(frame, ctx).passed
    # listed features are the user's choice, identifiers included
    listed = _model(features=["temp", "wind", "order_id"])
    assert FeatureColumnsCheck().check(frame, _ctx(listed)).passed


def test_a_window_with_no_feature_left_fails_readiness() -> None:
    frame = _frame()[["time", "y"]]
    implied = _model(features=None)
    ctx = ReadinessContext(implied, WINDOW, implied.feature_columns(list(frame.columns)), None)
    result = FeatureColumnsCheck().check(frame, ctx)
    assert not result.passed
    assert result.reason.startswith("no feature columns")


def test_implied_features_must_not_hold_the_target() -> None:
    frame = _frame()
    frame["y_base"] = frame["y"].round(1)
    frame["y_rest"] = frame["y"] - frame["y_base"]
    implied = _model(features=None)
    ctx = ReadinessContext(implied, WINDOW, implied.feature_columns(list(frame.columns)), None)
    result = FeatureColumnsCheck().check(frame, ctx)
    assert not result.passed
    assert set(result.details["unusable"]) == {"y_base", "y_rest"}
    assert "'y_base' is part of the target (y = y_base + y_rest on every row)" in result.reason
    excluded = _model(features=None, exclude=["y_base"])
    ctx = ReadinessContext(excluded, WINDOW, excluded.feature_columns(list(frame.columns)), None)
    assert FeatureColumnsCheck().check(frame, ctx).passed  # y_rest alone is noise around y


def test_implied_features_must_not_be_computed_from_the_target() -> None:
    frame = _frame()
    frame["alert"] = (frame["y"] > 60).astype(int)  # set once y is known
    implied = _model(features=None)
    ctx = ReadinessContext(implied, WINDOW, implied.feature_columns(list(frame.columns)), None)
    result = FeatureColumnsCheck().check(frame, ctx)
    assert not result.passed
    assert set(result.details["unusable"]) == {"alert"}
    assert "'alert' is the target in another form (one value of it for each value of y" in (
        result.reason)
    frame["alert"] = frame["alert"].where(frame.index % 50 != 7, 1 - frame["alert"])  # wrong
    assert FeatureColumnsCheck().check(frame, ctx).passed  # on a few rows: a noisy signal


def test_a_misspelt_categorical_column_or_a_target_of_text_fails_the_schema() -> None:
    implied = _model(features=None, categorical=["wind", "wnid"])
    result = _by_name(_frame(), _ctx(implied))["schema"]
    assert not result.passed and "'wnid'" in result.reason
    frame = _frame()
    frame["y"] = frame["y"].round().astype(int).astype(str) + " units"
    result = _by_name(frame, _ctx())["schema"]
    assert not result.passed and "'y' holds values that are not numbers" in result.reason
    frame["y"] = _frame()["y"].astype(str)  # numbers written as text are numbers
    assert _by_name(frame, _ctx())["schema"].passed
