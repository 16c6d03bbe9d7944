"""make_estimator: built-in boosters, any scikit-learn estimator, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline

from retrainer.domain.metrics import Task
from retrainer.exceptions import TrainingError
from retrainer.training.trainers import lineage_params, make_estimator


def test_lightgbm_defaults_seed_threads_and_user_overrides():
    est = make_estimator("lightgbm", Task.REGRESSION, {"learning_rate": 0.1}, seed=7, n_jobs=2)
    params = est.get_params()
    assert type(est).__name__ == "LGBMRegressor"
    assert params["learning_rate"] == 0.1  # user wins over the default 0.05
    assert params["n_estimators"] == 1000 and params["num_leaves"] == 31
    assert params["verbose"] == -1 and params["random_state"] == 7 and params["n_jobs"] == 2
    clf = make_estimator("lightgbm", Task.CLASSIFICATION, {}, seed=0, n_jobs=1)
    assert type(clf).__name__ == "LGBMClassifier"


def test_executor_thread_budget_wins_over_user_n_jobs():
    est = make_estimator("xgboost", Task.REGRESSION, {"n_jobs": 16}, seed=0, n_jobs=1)
    assert est.get_params()["n_jobs"] == 1


def test_xgboost_uses_hist_and_native_categories():
    est = make_estimator("xgboost", Task.CLASSIFICATION, {"max_depth": 4}, seed=1, n_jobs=1)
    params = est.get_params()
    assert type(est).__name__ == "XGBClassifier"
    assert params["tree_method"] == "hist" and params["enable_categorical"] is True
    assert params["max_depth"] == 4 and params["random_state"] == 1


def test_any_sklearn_estimator_is_wrapped_with_imputation_and_one_hot():
    est = make_estimator("sklearn.linear_model:Ridge", Task.REGRESSION, {"alpha": 3.0}, 0, 1)
    assert isinstance(est, Pipeline)
    assert est.named_steps["estimator"].alpha == 3.0
    frame = pd.DataFrame(
        {
            "x": [1.0, np.nan, 3.0, 4.0],
            "c": pd.Categorical(["a", "b", None, "a"], categories=["a", "b"]),
        }
    )
    est.fit(frame, [1.0, 2.0, 3.0, 4.0])
    unseen = frame.assign(c=pd.Categorical([None] * 4, categories=["a", "b"]))
    assert np.isfinite(est.predict(unseen)).all()


def test_seed_is_applied_only_when_the_estimator_takes_one():
    forest = make_estimator("sklearn.ensemble:RandomForestRegressor", Task.REGRESSION, {}, 5, 2)
    assert forest.named_steps["estimator"].random_state == 5
    assert forest.named_steps["estimator"].n_jobs is None  # None is one worker in scikit-learn
    lasso = make_estimator("sklearn.linear_model:Lasso", Task.REGRESSION, {"random_state": 9}, 5, 2)
    assert lasso.named_steps["estimator"].random_state == 9  # the user's seed wins
    linear = make_estimator("sklearn.linear_model:LinearRegression", Task.REGRESSION, {}, 5, 2)
    assert linear.named_steps["estimator"].get_params() == LinearRegression().get_params()


def test_estimators_clone_to_unfitted_copies():
    for trainer in ("lightgbm", "xgboost", "sklearn.linear_model:Ridge"):
        est = make_estimator(trainer, Task.REGRESSION, {}, 0, 1)
        assert clone(est).get_params().keys() == est.get_params().keys()


@pytest.mark.parametrize(
    ("trainer", "task", "message"),
    [
        ("nonexistent_pkg.mod:Model", Task.REGRESSION, "cannot import"),
        ("sklearn.linear_model:NoSuchModel", Task.REGRESSION, "cannot import"),
        ("collections:OrderedDict", Task.REGRESSION, "lacks fit, predict, get_params"),
        ("sklearn.svm:LinearSVC", Task.CLASSIFICATION, "lacks predict_proba"),
        ("sklearn.linear_model:Ridge", Task.CLASSIFICATION, "is a regressor; task: classif"),
        ("sklearn.linear_model:LogisticRegression", Task.REGRESSION, "is a classifier; task"),
        ("sklearn.tree:DecisionTreeClassifier", Task.REGRESSION, "is a classifier; task"),
    ],
)
def test_bad_trainers_raise_training_error(trainer, task, message):
    with pytest.raises(TrainingError, match=message):
        make_estimator(trainer, task, {}, 0, 1)


def test_rejected_params_raise_training_error():
    with pytest.raises(TrainingError, match="rejected the training params"):
        make_estimator("sklearn.linear_model:Ridge", Task.REGRESSION, {"bogus": 1}, 0, 1)


def test_lineage_params_are_json_serialisable():
    est = make_estimator("sklearn.ensemble:RandomForestRegressor", Task.REGRESSION, {}, 0, 1)
    params = lineage_params(est)
    assert params["n_estimators"] == 100  # the user's estimator, not the Pipeline
    json.dumps(params, allow_nan=False)
    booster = lineage_params(make_estimator("lightgbm", Task.REGRESSION, {}, 0, 1))
    assert booster["learning_rate"] == 0.05
    json.dumps(booster, allow_nan=False)
