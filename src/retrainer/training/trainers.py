"""Trainers: the trainer contract is scikit-learn's estimator contract.

A trainer is any object with ``fit``/``predict``/``get_params`` (classifiers also need
``predict_proba``). ``lightgbm`` and ``xgboost`` are built in; anything else is named
``package.module:Class`` and instantiated with the configured params. Boosters take pandas
``category`` columns and NaN natively; other estimators are wrapped in a Pipeline that imputes
and standardises numeric columns and one-hot encodes categorical ones.

>>> est = make_estimator("lightgbm", Task.REGRESSION, {"num_leaves": 15}, seed=3, n_jobs=1)
>>> type(est).__name__, est.get_params()["num_leaves"], est.get_params()["random_state"]
('LGBMRegressor', 15, 3)
>>> make_estimator("sklearn.linear_model:Ridge", Task.REGRESSION, {}, 0, 1).steps[-1][0]
'estimator'
"""

from __future__ import annotations

import importlib
import math
from typing import Any

import numpy as np

from retrainer.domain.metrics import Task
from retrainer.exceptions import TrainerConfigError

BOOSTERS = ("lightgbm", "xgboost")
#: below this many training rows a booster uses one thread: OpenMP synchronisation costs more
#: than it saves on small data, and on a busy machine spinning threads stall every round
#: (measured here: 3,200 rows, 2 threads on 2 loaded cores, 57 ms a round vs 6 ms with one)
SMALL_DATA_ROWS = 50_000

LIGHTGBM_DEFAULTS: dict[str, Any] = {
    "n_estimators": 1000,  # an upper bound: early stopping picks the number of rounds
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_child_samples": 20,
    # LightGBM's 3 cuts ~1,000-row windows into 255 bins of 3-4 rows; scanning those bins is
    # most of a small fit's time (ten classes: 2.2x slower), for no better models
    "min_data_in_bin": 16,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.9,
    "verbose": -1,
}

XGBOOST_DEFAULTS: dict[str, Any] = {
    "n_estimators": 1000,
    "learning_rate": 0.05,
    "max_depth": 6,
    "min_child_weight": 1.0,
    "subsample": 0.8,
    "colsample_bytree": 0.9,
    "tree_method": "hist",
    "enable_categorical": True,
    "max_cat_to_onehot": 8,
}


def make_estimator(trainer: str, task: Task, params: dict[str, Any], seed: int, n_jobs: int) -> Any:
    """A fresh, unfitted estimator for ``trainer``.

    Precedence: built-in defaults < ``random_state=seed`` < user ``params``; ``n_jobs`` always
    comes from the caller (the executor's thread budget). Raises TrainerConfigError when the
    class cannot be imported, rejects the params, or is not a (probabilistic, for
    classification) scikit-learn style estimator.
    """
    classification = task is Task.CLASSIFICATION
    if trainer == "lightgbm":
        import lightgbm as lgb

        cls: Any = lgb.LGBMClassifier if classification else lgb.LGBMRegressor
        return _construct(cls, {**LIGHTGBM_DEFAULTS, "random_state": seed, **params}, n_jobs)
    if trainer == "xgboost":
        import xgboost as xgb

        cls = xgb.XGBClassifier if classification else xgb.XGBRegressor
        return _construct(cls, {**XGBOOST_DEFAULTS, "random_state": seed, **params}, n_jobs)
    return _wrap(_custom_estimator(trainer, task, params, seed, n_jobs))


def _construct(cls: Any, params: dict[str, Any], n_jobs: int) -> Any:
    try:
        return cls(**{**params, "n_jobs": n_jobs})
    except TypeError as error:
        raise TrainerConfigError(f"{cls.__name__} rejected the training params: {error}",
                                 "params") from None


def trainer_class(trainer: str) -> Any:
    """The class a ``module:Class`` trainer names; TrainerConfigError when it cannot be had."""
    module_name, _, class_name = trainer.partition(":")
    try:
        return getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        raise TrainerConfigError(f"cannot import trainer {trainer!r}: {error}") from None


def estimator_kind(estimator: Any) -> str | None:
    """"classifier" or "regressor" where the estimator says (scikit-learn's tags), else None."""
    from sklearn.base import is_classifier, is_regressor

    try:
        if is_classifier(estimator):
            return "classifier"
        if is_regressor(estimator):
            return "regressor"
    except Exception:  # a duck-typed estimator without scikit-learn's tags: it does not say
        pass
    return None


def _custom_estimator(
    trainer: str, task: Task, params: dict[str, Any], seed: int, n_jobs: int
) -> Any:
    cls = trainer_class(trainer)
    try:
        estimator = cls(**params)
    except TypeError as error:
        raise TrainerConfigError(f"{trainer} rejected the training params: {error}",
                                 "params") from None
    classification = task is Task.CLASSIFICATION
    kind = estimator_kind(estimator)
    if classification and kind == "regressor":
        raise TrainerConfigError(f"{trainer} is a regressor; task: classification needs a "
                                 "classifier with predict_proba")
    if not classification and kind == "classifier":
        # it would run, predicting class labels as the regression's numbers
        raise TrainerConfigError(f"{trainer} is a classifier; task: regression needs a regressor")
    required = ["fit", "predict", "get_params", "set_params"]
    if classification:
        required.append("predict_proba")
    lacking = [name for name in required if not callable(getattr(estimator, name, None))]
    if lacking:
        raise TrainerConfigError(
            f"trainer {trainer!r} is not a scikit-learn style "
            f"{'probabilistic classifier' if classification else 'estimator'}: "
            f"it lacks {', '.join(lacking)}"
        )
    own = estimator.get_params(deep=False)
    updates: dict[str, Any] = {}
    if "random_state" in own and "random_state" not in params:
        updates["random_state"] = seed
    # scikit-learn's n_jobs=None already means one worker; only clamp what the user asked for
    requested = params.get("n_jobs")
    if "n_jobs" in own and requested is not None and (requested < 0 or requested > n_jobs):
        updates["n_jobs"] = n_jobs
    if updates:
        estimator.set_params(**updates)
    return estimator


def _wrap(estimator: Any) -> Any:
    """Impute and scale numeric columns, one-hot encode ``category`` columns, then ``estimator``."""
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    features = ColumnTransformer(
        [
            (
                "numeric",
                make_pipeline(
                    SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()
                ),
                make_column_selector(dtype_exclude="category"),
            ),
            (
                "categorical",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                make_column_selector(dtype_include="category"),
            ),
        ],
        sparse_threshold=0.0,
    )
    return Pipeline([("features", features), ("estimator", estimator)])


def is_booster(trainer: str) -> bool:
    return trainer in BOOSTERS


def threads_for(rows: int, n_jobs: int) -> int:
    """Threads a booster should use for ``rows`` training rows within a budget of ``n_jobs``.

    >>> threads_for(3_000, 2), threads_for(200_000, 2)
    (1, 2)
    """
    return 1 if rows < SMALL_DATA_ROWS else max(1, n_jobs)


def user_estimator(estimator: Any) -> Any:
    """The estimator the user configured (inside our preprocessing Pipeline, if wrapped)."""
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline) and estimator.steps[-1][0] == "estimator":
        return estimator.steps[-1][1]
    return estimator


def lineage_params(estimator: Any) -> dict[str, Any]:
    """``get_params(deep=False)`` of the user's estimator, made JSON-serialisable.

    >>> from sklearn.linear_model import Ridge
    >>> lineage_params(Ridge(alpha=2.0))["alpha"]
    2.0
    """
    return {k: _jsonable(v) for k, v in sorted(user_estimator(estimator).get_params(False).items())}


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return repr(value)
