"""Hyperparameter search spaces: good defaults per built-in trainer, overridable in config.

``training.tuning.search_space`` entries replace the default range of a parameter or add a
new one; ``null`` drops a default parameter; ``use_default_space: false`` starts from an empty
space (the only option for a scikit-learn trainer, which has no defaults).

>>> from retrainer.config import TuningConfig
>>> space = search_space("lightgbm", TuningConfig(search_space={
...     "num_leaves": {"type": "int", "low": 7, "high": 63}, "reg_lambda": None}))
>>> sorted(space), space["num_leaves"].high
(['colsample_bytree', 'learning_rate', 'min_child_samples', 'num_leaves', 'subsample'], 63.0)
>>> search_space("sklearn.linear_model:Ridge", TuningConfig())
{}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from retrainer.config import SearchParam, TuningConfig

if TYPE_CHECKING:
    from optuna.trial import Trial


def _float(low: float, high: float, log: bool = False) -> SearchParam:
    return SearchParam(type="float", low=low, high=high, log=log)


def _int(low: int, high: int, log: bool = False) -> SearchParam:
    return SearchParam(type="int", low=low, high=high, log=log)


# Ranges around the defaults in trainers.py that tend to matter on tabular data; the number
# of rounds is not searched: early stopping chooses it for every trial and fold.
DEFAULT_SPACES: dict[str, dict[str, SearchParam]] = {
    "lightgbm": {
        "learning_rate": _float(0.01, 0.2, log=True),
        "num_leaves": _int(8, 128, log=True),
        "min_child_samples": _int(5, 100, log=True),
        "subsample": _float(0.5, 1.0),
        "colsample_bytree": _float(0.5, 1.0),
        "reg_lambda": _float(1e-3, 10.0, log=True),
    },
    "xgboost": {
        "learning_rate": _float(0.01, 0.2, log=True),
        "max_depth": _int(3, 10),
        "min_child_weight": _float(0.5, 20.0, log=True),
        "subsample": _float(0.5, 1.0),
        "colsample_bytree": _float(0.5, 1.0),
        "reg_lambda": _float(1e-3, 10.0, log=True),
    },
}


def search_space(trainer: str, tuning: TuningConfig) -> dict[str, SearchParam]:
    """The effective space: the trainer's defaults (if used) updated by the config."""
    space = dict(DEFAULT_SPACES.get(trainer, {})) if tuning.use_default_space else {}
    for name, param in tuning.search_space.items():
        if param is None:
            space.pop(name, None)
        else:
            space[name] = param
    return space


def suggest(trial: Trial, space: dict[str, SearchParam]) -> dict[str, Any]:
    """Ask ``trial`` for one value of every parameter in ``space`` (sorted by name)."""
    values: dict[str, Any] = {}
    for name in sorted(space):
        param = space[name]
        if param.type == "categorical":
            assert param.choices is not None
            values[name] = trial.suggest_categorical(name, param.choices)
        elif param.type == "int":
            assert param.low is not None and param.high is not None
            values[name] = trial.suggest_int(name, int(param.low), int(param.high), log=param.log)
        else:
            assert param.low is not None and param.high is not None
            values[name] = trial.suggest_float(name, param.low, param.high, log=param.log)
    return values
