"""ModelBundle: shared preprocessing, native storage, identical predictions after loading."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retrainer.domain.metrics import Task
from retrainer.exceptions import DataError, UsageError
from retrainer.training.bundle import ModelBundle
from retrainer.training.fit import fit_candidate

TRAINERS = ["lightgbm", "xgboost", "sklearn.linear_model:Ridge"]
NATIVE_FILES = {
    "lightgbm": "model.lgb.txt",
    "xgboost": "model.xgb.ubj",
    "sklearn.linear_model:Ridge": "estimator.joblib",
}


@pytest.fixture(scope="module", params=TRAINERS)
def regression_fit(request, train_test, make_model):
    train, _ = train_test
    return fit_candidate(train, make_model(request.param, params=_small(request.param)))


def _small(trainer: str) -> dict:
    return {"n_estimators": 200} if trainer in ("lightgbm", "xgboost") else {}


def test_round_trip_regression_is_exact_and_native(regression_fit, train_test, tmp_path: Path):
    _, test = train_test
    bundle = regression_fit.bundle
    before = bundle.prediction(test)
    bundle.save(tmp_path)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == sorted(["bundle.json", NATIVE_FILES[bundle.trainer]])
    loaded = ModelBundle.load(tmp_path)
    after = loaded.prediction(test)
    assert before.shape == after.shape == (len(test),)
    np.testing.assert_allclose(after, before, rtol=0, atol=1e-9)
    assert loaded.features == bundle.features and loaded.categories == bundle.categories


def test_booster_files_are_native_formats_not_pickles(train_test, make_model, tmp_path: Path):
    train, _ = train_test
    lgb_fit = fit_candidate(train, make_model("lightgbm", params={"n_estimators": 20}))
    lgb_fit.bundle.save(tmp_path / "lgb")
    text = (tmp_path / "lgb" / "model.lgb.txt").read_text()
    assert text.startswith("tree\n") and "pandas_categorical" in text

    import lightgbm as lgb
    import xgboost as xgb

    booster = lgb.Booster(model_file=str(tmp_path / "lgb" / "model.lgb.txt"))
    assert booster.num_trees() == lgb_fit.best_iteration
    xgb_fit = fit_candidate(train, make_model("xgboost", params={"n_estimators": 20}))
    xgb_fit.bundle.save(tmp_path / "xgb")
    raw = xgb.Booster()
    raw.load_model(str(tmp_path / "xgb" / "model.xgb.ubj"))
    assert raw.num_boosted_rounds() == xgb_fit.best_iteration


@pytest.mark.parametrize("trainer", TRAINERS)
@pytest.mark.parametrize("target", ["high", "level"])
def test_round_trip_classification(trainer, target, train_test, make_model, tmp_path: Path):
    train, test = train_test
    params = _small(trainer) or {"max_iter": 500}
    if trainer.endswith("Ridge"):
        trainer = "sklearn.linear_model:LogisticRegression"
    fit = fit_candidate(train, make_model(trainer, "classification", target, params))
    bundle = fit.bundle
    expected = sorted(train[target].unique().tolist())
    assert bundle.classes == expected
    proba = bundle.prediction(test)
    assert proba.shape == (len(test), len(expected))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    labels = bundle.predict(test)
    assert set(labels) <= set(expected)
    np.testing.assert_array_equal(labels, np.asarray(expected)[proba.argmax(axis=1)])
    assert (labels == test[target].to_numpy()).mean() > 0.75
    bundle.save(tmp_path)
    loaded = ModelBundle.load(tmp_path)
    np.testing.assert_allclose(loaded.predict_proba(test), proba, rtol=0, atol=1e-9)
    assert json.loads((tmp_path / "bundle.json").read_text())["classes"] == expected


@pytest.mark.parametrize("trainer", TRAINERS)
def test_column_names_a_booster_refuses_are_trained_on_and_kept(
        trainer, train_test, make_model, tmp_path: Path):
    """LightGBM refuses " , : [ ] { } in feature names and XGBoost [ ] <: the bundle renames
    them for the booster only, so the config, importance and drift keep the user's names."""
    from retrainer.monitoring.importance import feature_importance

    renames = {"TEMP": "temp [°C]", "Iws": "wind: speed, cumulated", "cbwd": "wind {dir}"}
    train, test = (frame.rename(columns=renames) for frame in train_test)
    model = make_model(trainer, params=_small(trainer)).model_copy(
        update={"categorical": ["wind {dir}"]})
    fit = fit_candidate(train, model)
    bundle = fit.bundle
    assert "temp [°C]" in bundle.features and "wind {dir}" in bundle.categories
    predictions = bundle.prediction(test)
    assert np.isfinite(predictions).all()
    assert np.sqrt(np.mean((predictions - test["pm"]) ** 2)) < test["pm"].std()
    importance = feature_importance(bundle)
    assert set(importance) == set(bundle.features)
    assert importance["wind: speed, cumulated"] > 0
    assert len(set(importance.values())) > 1  # not the uniform fallback: names mapped back
    bundle.save(tmp_path)
    np.testing.assert_allclose(ModelBundle.load(tmp_path).prediction(test), predictions,
                               rtol=0, atol=1e-9)


def test_unseen_category_is_scored_as_missing(regression_fit, train_test):
    _, test = train_test
    bundle = regression_fit.bundle
    unseen = test.assign(cbwd="storm")
    missing = test.assign(cbwd=None)
    np.testing.assert_array_equal(bundle.prediction(unseen), bundle.prediction(missing))
    assert bundle.prepare(unseen)["cbwd"].isna().all()


def test_columns_are_selected_and_ordered_by_features(regression_fit, train_test):
    _, test = train_test
    bundle = regression_fit.bundle
    shuffled = test[list(reversed(test.columns))].assign(unrelated=1.0)
    np.testing.assert_array_equal(bundle.prediction(shuffled), bundle.prediction(test))
    assert list(bundle.prepare(shuffled).columns) == bundle.features


def test_missing_feature_column_raises_data_error_naming_it(regression_fit, train_test):
    _, test = train_test
    with pytest.raises(DataError, match="DEWP"):
        regression_fit.bundle.prediction(test.drop(columns=["DEWP"]))


def test_category_levels_match_across_int_and_float_columns():
    bundle = ModelBundle(Task.REGRESSION, ["c"], ["c"], {"c": ["1", "2"]}, None, "lightgbm", None)
    as_int = bundle.prepare(pd.DataFrame({"c": [1, 2, 3]}))["c"]
    as_float = bundle.prepare(pd.DataFrame({"c": [1.0, 2.0, np.nan]}))["c"]
    assert as_int.tolist()[:2] == as_float.tolist()[:2] == ["1", "2"]
    assert as_int.isna().tolist() == [False, False, True]


def test_numeric_features_of_every_dtype_become_float64_with_nan_for_missing():
    frame = pd.DataFrame({
        "n": pd.array([1, None, 3], dtype="Int64"), "b": [True, False, True],
        "nb": pd.array([True, None, False], dtype="boolean"), "f": np.float32([0.5, 1, 2]),
        "text": ["1.5", "2", None], "cat": ["u", "v", "u"]}, index=[7, 7, 9])
    expected = {"n": [1.0, np.nan, 3.0], "b": [1.0, 0.0, 1.0], "nb": [1.0, np.nan, 0.0],
                "f": [0.5, 1.0, 2.0], "text": [1.5, 2.0, np.nan]}
    numeric = ModelBundle(Task.REGRESSION, ["f", "n", "b", "nb"], [], {}, None, "lightgbm", None)
    mixed = ModelBundle(Task.REGRESSION, ["text", "cat", "n", "b", "nb", "f"], ["cat"],
                        {"cat": ["u", "v"]}, None, "lightgbm", None)
    for bundle in (numeric, mixed):  # one float64 block, and column by column
        prepared = bundle.prepare(frame)
        assert list(prepared.columns) == bundle.features
        assert prepared.index.tolist() == [7, 7, 9]
        for column in set(bundle.features) - {"cat"}:
            assert prepared[column].dtype == np.float64
            np.testing.assert_array_equal(prepared[column].to_numpy(), expected[column])
    assert mixed.prepare(frame)["cat"].tolist() == ["u", "v", "u"]


def test_non_numeric_feature_that_is_not_categorical_is_a_data_error():
    bundle = ModelBundle(Task.REGRESSION, ["x"], [], {}, None, "lightgbm", None)
    with pytest.raises(DataError, match="'x' is not numeric"):
        bundle.prepare(pd.DataFrame({"x": ["a", "b"]}))


def test_predict_proba_is_refused_for_regression(regression_fit, train_test):
    with pytest.raises(UsageError):
        regression_fit.bundle.predict_proba(train_test[1])


def test_predictions_are_remembered_by_row_and_equal_fresh_ones(train_test, make_model):
    # numeric features only: rows are known by their values, whatever frame they come in
    train, test = train_test
    model = make_model("lightgbm", "classification", "level", params={"n_estimators": 40})
    model = model.model_copy(update={"categorical": [], "exclude": [*model.exclude, "cbwd"]})
    bundle = fit_candidate(train, model).bundle
    assert not bundle.categories
    fresh = lambda frame: bundle.estimator.predict(bundle.prepare(frame))  # noqa: E731
    shuffled = test.iloc[:500].sample(frac=1, random_state=0)
    for frame in (test.iloc[:300], test.iloc[200:500], shuffled, test.iloc[100:150],
                  pd.concat([test.iloc[:3], test.iloc[:3]])):
        np.testing.assert_array_equal(bundle.prediction(frame), fresh(frame))
    assert len(bundle._rows["predictions"]) == 500
    raw = bundle.raw_scores(bundle.prepare(test.iloc[:50]))
    np.testing.assert_array_equal(raw, bundle.estimator.predict(bundle.prepare(test.iloc[:50]),
                                                                raw_score=True))
    # another estimator in the same bundle starts the memory again
    bundle.estimator = fit_candidate(train.iloc[:1000], model).bundle.estimator
    np.testing.assert_array_equal(bundle.prediction(test.iloc[:300]), fresh(test.iloc[:300]))
    assert len(bundle._rows["predictions"]) == 300
