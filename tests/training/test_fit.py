"""time_split and fit_candidate on the real Beijing data."""

from __future__ import annotations

import json

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from retrainer.exceptions import DataError, TrainingError
from retrainer.training.fit import WarmStart, fit_candidate, fit_early_stopped, time_split


def _rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


# --- time_split ------------------------------------------------------------------------------


def test_time_split_takes_the_most_recent_fraction_without_shuffling(pm_frame):
    shuffled = pm_frame.sample(frac=1.0, random_state=3)
    older, recent = time_split(shuffled, "time", 0.25)
    assert len(older) + len(recent) == len(pm_frame)
    assert len(recent) == round(len(pm_frame) * 0.25)
    assert older["time"].max() < recent["time"].min()
    assert older["time"].is_monotonic_increasing and recent["time"].is_monotonic_increasing


def test_time_split_keeps_rows_sharing_the_cut_timestamp_together():
    times = pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-02", "2024-01-02", "2024-01-03"])
    frame = pd.DataFrame({"t": times, "x": range(5)})
    older, recent = time_split(frame, "t", 0.4)  # 2 rows asked; the cut lands inside a tie
    assert older["x"].tolist() == [0]
    assert recent["x"].tolist() == [1, 2, 3, 4]


def test_time_split_edge_cases(pm_frame):
    older, recent = time_split(pm_frame, "time", 0.0)
    assert len(older) == len(pm_frame) and recent.empty
    with pytest.raises(DataError, match="nope"):
        time_split(pm_frame, "nope", 0.1)
    with pytest.raises(ValueError):
        time_split(pm_frame, "time", 1.0)


# --- fit_candidate ---------------------------------------------------------------------------


def test_lightgbm_early_stops_then_refits_on_all_rows(train_test, make_model):
    train, test = train_test
    model = make_model("lightgbm")
    fit = fit_candidate(train, model, n_jobs=2)
    assert fit.best_iteration is not None and 1 <= fit.best_iteration < 1000
    assert fit.rows_train == len(train)
    assert fit.rows_early_stopping == round(len(train) * model.training.early_stopping_fraction)
    assert fit.params["n_estimators"] == fit.best_iteration
    assert fit.bundle.estimator.num_trees() == fit.best_iteration
    json.dumps(fit.params, allow_nan=False)

    # the final model is exactly a refit on ALL training rows with the chosen rounds
    prepared = fit.bundle.prepare(train)
    by_hand = lgb.LGBMRegressor(**{**fit.params, "n_jobs": 1}).fit(prepared, train["pm"])
    np.testing.assert_array_equal(
        by_hand.predict(fit.bundle.prepare(test)), fit.bundle.prediction(test)
    )
    # the booster taken at the last round (not serialised and reloaded) stores the same trees
    trees = lambda text: text[text.index("Tree=0"):text.index("end of trees")]  # noqa: E731
    assert trees(fit.bundle.estimator.model_to_string()) == trees(
        by_hand.booster_.model_to_string())

    # default params give a useful model on the next month: R² above 0.75
    assert _rmse(fit.bundle.prediction(test), test["pm"]) < 0.5 * test["pm"].std()


def test_the_rounds_are_those_lightgbm_early_stopping_chooses(train_test, make_model):
    train, _ = train_test
    model = make_model("lightgbm")
    fit = fit_candidate(train, model)
    older, recent = time_split(train, "time", model.training.early_stopping_fraction)
    probe = lgb.LGBMRegressor(**{**fit.params, "n_estimators": 1000, "n_jobs": 1}).fit(
        fit.bundle.prepare(older), older["pm"],
        eval_X=fit.bundle.prepare(recent), eval_y=recent["pm"],
        callbacks=[lgb.early_stopping(model.training.early_stopping_rounds, verbose=False)])
    assert fit.best_iteration == probe.best_iteration_
    # warm: the rounds added to a booster are those its own early stopping adds
    warm = fit_candidate(train, model, warm=WarmStart(fit.bundle, fit.best_iteration, 300))
    probe = lgb.LGBMRegressor(**{**fit.params, "n_estimators": 300, "n_jobs": 1}).fit(
        fit.bundle.prepare(older), older["pm"],
        eval_X=fit.bundle.prepare(recent), eval_y=recent["pm"], init_model=fit.bundle.estimator,
        callbacks=[lgb.early_stopping(model.training.early_stopping_rounds, verbose=False)])
    assert warm.best_iteration == max(probe.best_iteration_ - fit.best_iteration, 1)


@pytest.mark.parametrize("task, target", [("regression", "pm"), ("classification", "level")])
def test_a_warm_fit_is_the_booster_lightgbm_continues(train_test, make_model, task, target):
    # the warm probe and refit start from production's raw scores (computed once, remembered
    # by its bundle) and production's trees are put before the new ones: that must be, tree
    # for tree, the booster LightGBM's own init_model gives (wind direction is categorical)
    train, test = train_test
    model = make_model("lightgbm", task, target, params={"n_estimators": 60})
    first = fit_candidate(train.iloc[: len(train) // 2], model)
    production, rounds = first.bundle, first.total_rounds
    later = train.iloc[len(train) // 4:]
    warm = fit_candidate(later, model, warm=WarmStart(production, rounds, 300))
    older, recent = time_split(later, "time", model.training.early_stopping_fraction)
    cls = lgb.LGBMRegressor if task == "regression" else lgb.LGBMClassifier
    encode = (lambda y: y) if task == "regression" else (
        lambda y: y.map({c: i for i, c in enumerate(production.classes)}))
    probe = cls(**{**warm.params, "n_estimators": 300, "n_jobs": 1}).fit(
        production.prepare(older), encode(older[target]),
        eval_X=production.prepare(recent), eval_y=encode(recent[target]),
        init_model=production.estimator,
        callbacks=[lgb.early_stopping(model.training.early_stopping_rounds, verbose=False)])
    assert warm.best_iteration == max(probe.best_iteration_ - rounds, 1)
    by_hand = cls(**{**warm.params, "n_jobs": 1}).fit(
        production.prepare(later), encode(later[target]), init_model=production.estimator)
    assert warm.bundle.estimator.model_to_string() == by_hand.booster_.model_to_string()
    assert warm.total_rounds == rounds + warm.best_iteration
    np.testing.assert_array_equal(warm.bundle.prediction(test),
                                  by_hand.booster_.predict(warm.bundle.prepare(test)))


def test_user_params_override_defaults(train_test, make_model):
    train, _ = train_test
    fit = fit_candidate(train, make_model("lightgbm", params={"n_estimators": 15, "num_leaves": 7}))
    assert fit.best_iteration <= 15
    assert fit.params["num_leaves"] == 7


def test_xgboost_fit_uses_early_stopping(train_test, make_model):
    train, test = train_test
    fit = fit_candidate(train, make_model("xgboost"))
    assert 1 <= fit.best_iteration < 1000
    assert fit.bundle.estimator.num_boosted_rounds() == fit.best_iteration
    assert _rmse(fit.bundle.prediction(test), test["pm"]) < 0.5 * test["pm"].std()


def test_early_stopping_fraction_zero_is_a_plain_fit(train_test, make_model):
    train, _ = train_test
    fit = fit_candidate(
        train, make_model("lightgbm", params={"n_estimators": 40}, early_stopping_fraction=0.0)
    )
    assert fit.best_iteration is None and fit.rows_early_stopping == 0
    assert fit.bundle.estimator.num_trees() == 40


def test_sklearn_estimator_handles_missing_values_and_string_categories(train_test, make_model):
    train, test = train_test
    assert train["pm_lag24"].isna().any()  # the first day has no lag: needs imputation
    fit = fit_candidate(train, make_model("sklearn.linear_model:Ridge"))
    assert fit.best_iteration is None and fit.rows_early_stopping == 0
    assert fit.params["alpha"] == 1.0
    predictions = fit.bundle.prediction(test.assign(cbwd="unseen"))
    assert np.isfinite(predictions).all()


def test_undeclared_string_features_become_categorical(train_test, make_model):
    train, _ = train_test
    model = make_model("lightgbm", params={"n_estimators": 10}).model_copy(
        update={"categorical": []}
    )
    fit = fit_candidate(train, model)
    assert fit.bundle.categorical == ["cbwd"]
    assert fit.bundle.categories["cbwd"] == ["NE", "NW", "SE", "cv"]


def test_classification_labels_and_class_coverage(train_test, make_model):
    train, _ = train_test
    fit = fit_candidate(train, make_model("lightgbm", "classification", "level"))
    assert fit.bundle.classes == ["high", "low", "mid"]
    only_recent_class = train.assign(level="a")
    only_recent_class.loc[only_recent_class.index[-5:], "level"] = "b"
    # a class new in the newest rows: no early stopping (it could not score the class), a
    # plain fit that learns every class
    fit = fit_candidate(only_recent_class, make_model("lightgbm", "classification", "level"))
    assert fit.best_iteration is None and fit.rows_early_stopping == 0
    assert fit.bundle.classes == ["a", "b"]
    assert fit.bundle.prediction(only_recent_class.tail(5)).shape == (5, 2)
    fold = fit_early_stopped(only_recent_class, make_model("lightgbm", "classification",
                                                           "level"), {})
    assert fold.classes == ["a", "b"]  # a cross-validation fold's fit does the same
    with pytest.raises(TrainingError, match="at least two classes"):
        fit_candidate(train.assign(level="a"), make_model("lightgbm", "classification", "level"))


def test_bad_training_data_raises_data_error(train_test, make_model):
    train, _ = train_test
    model = make_model("lightgbm")
    with pytest.raises(DataError, match="missing values"):
        fit_candidate(train.assign(pm=np.nan), model)
    features = model.model_copy(update={"features": ["DEWP", "TEMP"], "categorical": []})
    with pytest.raises(DataError, match="TEMP"):
        fit_candidate(train.drop(columns=["TEMP"]), features)
