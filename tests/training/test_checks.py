"""trainer_problems: a trainer that cannot work is a config problem at its field path."""

from __future__ import annotations

import pytest
from tests.training.conftest import build_model

from retrainer.training.checks import trainer_problems

RIDGE = "sklearn.linear_model:Ridge"


def problems(trainer: str, task: str = "regression", **training: object) -> dict[str, str]:
    model = build_model(trainer, task, "high" if task == "classification" else "pm", **training)
    return {p.path: p.reason for p in trainer_problems(model, "models[0]")}


@pytest.mark.parametrize(
    ("trainer", "task", "reason"),
    [
        ("sklearn.ensemble:Nope", "regression", "cannot import trainer 'sklearn.ensemble:Nope'"),
        (RIDGE, "classification", "is a regressor; task: classification needs a classifier"),
        ("sklearn.linear_model:LogisticRegression", "regression",
         "is a classifier; task: regression needs a regressor"),
        ("sklearn.tree:DecisionTreeClassifier", "regression", "is a classifier"),
        ("sklearn.svm:SVC", "classification", "lacks predict_proba"),
    ],
)
def test_a_trainer_that_cannot_serve_the_task_is_named(trainer: str, task: str,
                                                       reason: str) -> None:
    found = problems(trainer, task)
    assert list(found) == ["models[0].training.trainer"]
    assert reason in found["models[0].training.trainer"]


def test_trainers_that_work_have_no_problems() -> None:
    assert problems("lightgbm") == {}
    assert problems("lightgbm", params={"min_data_in_bin": 3, "lambda_l1": 1.0}) == {}
    assert problems("xgboost", "classification",
                    params={"eta": 0.1, "max_leaves": 31, "reg_alpha": 1.0}) == {}
    assert problems("sklearn.linear_model:LogisticRegression", "classification",
                    params={"C": 2.0}) == {}
    assert problems(RIDGE, params={"alpha": 2.0}, tuning={
        "n_trials": 3, "search_space": {"alpha": {"low": 0.1, "high": 10, "log": True}}}) == {}


def test_a_search_space_parameter_the_trainer_does_not_take_is_named() -> None:
    found = problems(RIDGE, tuning={"n_trials": 3, "search_space": {
        "num_leaves": {"type": "int", "low": 8, "high": 64}}})
    assert found == {"models[0].training.tuning.search_space.num_leaves":
                     "Ridge takes no parameter 'num_leaves'"}


def test_misspelled_params_are_named_for_every_trainer() -> None:
    found = problems("xgboost", params={"num_leaves": 63, "max_dpeth": 2})
    assert found == {
        "models[0].training.params.max_dpeth":
            "XGBoost takes no parameter 'max_dpeth' (did you mean 'max_depth'?)",
        "models[0].training.params.num_leaves":
            "XGBoost takes no parameter 'num_leaves' (did you mean 'max_leaves'?)",
    }
    assert list(problems("lightgbm", params={"max_dpeth": 2})) == [
        "models[0].training.params.max_dpeth"]
    assert problems(RIDGE, params={"alpah": 1.0}) == {
        "models[0].training.params.alpah": "Ridge takes no parameter 'alpah' "
                                           "(did you mean 'alpha'?)"}
