"""Can a model's trainer work? ``trainer_problems`` answers before anything is trained.

``retrainer validate-config``, ``retrainer backtest --config`` (before it replays) and every
job (before it loads data) ask, so a trainer that cannot be imported or built, that does
not fit the task (a classifier serving as a regressor), or that is given parameters it does
not take (in ``params`` or in the tuning search space) is one problem with its field path,
not a job that fails at every tick, a warning per fit, or trials that all fail.

Parameter names are checked where they can be told reliably: a scikit-learn estimator takes
its ``__init__``'s arguments, the names its ``get_params()`` reports; LightGBM takes its
wrapper's arguments and every parameter and alias of its C library; XGBoost accepts any
keyword, so it is asked itself: a one-round fit on four rows, whose "Parameters: {...} are
not used" warning names the ones it ignores. An estimator whose ``__init__`` takes
``**kwargs`` is not checked by name.

>>> from retrainer.config import parse_config
>>> config = parse_config({"models": [{"name": "m", "source": {"kind": "csv", "path": "x"},
...     "time_column": "t", "target": "y", "task": "regression",
...     "training": {"trainer": "sklearn.linear_model:Ridge", "params": {"alpah": 1}}}]})
>>> [str(p) for p in trainer_problems(config.models[0], "models[0]")]
["models[0].training.params.alpah: Ridge takes no parameter 'alpah' (did you mean 'alpha'?)"]
"""

from __future__ import annotations

import difflib
import inspect
import re
import warnings
from typing import Any

from retrainer.config import ModelConfig, RetrainerConfig, SearchParam
from retrainer.domain.metrics import Task
from retrainer.exceptions import ConfigError, ConfigProblem, TrainerConfigError
from retrainer.training.search_space import search_space
from retrainer.training.trainers import XGBOOST_DEFAULTS, make_estimator, trainer_class

_NOT_USED = re.compile(r"Parameters:\s*\{(.*?)\}\s*are not used", re.S)


def check_trainers(config: RetrainerConfig, source: str) -> None:
    """Raise ConfigError with every model's trainer problems (exit code 2)."""
    problems = [problem for index, model in enumerate(config.models)
                for problem in trainer_problems(model, f"models[{index}]")]
    if problems:
        raise ConfigError(source, problems)


def trainer_problems(model: ModelConfig, where: str = "") -> list[ConfigProblem]:
    """What stops ``model``'s trainer from working, each at its field path under ``where``
    (``models[0]``); empty when it can be built for the task with every parameter it is
    given or tuned over."""
    training = model.training
    at = f"{where}.training" if where else "training"
    space = search_space(training.trainer, training.tuning)
    try:
        known, unused = _parameter_names(training.trainer, model.task,
                                         {**_probe(space), **training.params})
    except TrainerConfigError as error:
        return [ConfigProblem(f"{at}.{error.field}", str(error))]
    name = _display_name(training.trainer)
    problems = []
    for section, keys in (("params", training.params), ("tuning.search_space", space)):
        for key in sorted(k for k in keys if k in unused):
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(ConfigProblem(f"{at}.{section}.{key}",
                                          f"{name} takes no parameter {key!r}{hint}"))
    taken = {key: value for key, value in training.params.items() if key not in unused}
    try:
        make_estimator(training.trainer, model.task, taken, training.seed, n_jobs=1)
    except TrainerConfigError as error:
        problems.append(ConfigProblem(f"{at}.{error.field}", str(error)))
    return problems


def _parameter_names(trainer: str, task: Task, params: dict[str, Any]
                     ) -> tuple[set[str], set[str]]:
    """(names the trainer takes, for suggestions; the names in ``params`` it does not)."""
    if trainer == "xgboost":
        import xgboost as xgb

        return set(xgb.XGBModel().get_params()), _xgboost_unused(task, params)
    if trainer == "lightgbm":
        import lightgbm as lgb

        known = _init_names(lgb.LGBMModel, with_kwargs=True) or set()
        try:
            from lightgbm.basic import _ConfigAliases

            for name, aliases in _ConfigAliases._get_all_param_aliases().items():
                known.update([name, *aliases])
        except Exception:  # a LightGBM without its parameter list: not checked by name
            return known, set()
    else:
        found = _init_names(trainer_class(trainer))
        if found is None:
            return set(), set()
        known = found
    return known, {key for key in params if key not in known}


def _init_names(cls: Any, with_kwargs: bool = False) -> set[str] | None:
    """The arguments ``cls()`` takes (scikit-learn's get_params() names); None when it
    takes ``**kwargs`` too, so any name may be taken (unless ``with_kwargs``)."""
    try:
        signature = inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        return None
    parameters = [p for p in signature.parameters.values() if p.name != "self"]
    if not with_kwargs and any(p.kind is p.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def _xgboost_unused(task: Task, params: dict[str, Any]) -> set[str]:
    """The names in ``params`` XGBoost says it does not use (a one-round fit on four rows);
    empty when that fit fails, which the job's own fit will then report."""
    import numpy as np
    import pandas as pd
    import xgboost as xgb

    cls = xgb.XGBClassifier if task is Task.CLASSIFICATION else xgb.XGBRegressor
    x = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
    y = np.array([0, 1, 0, 1])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            cls(**{**XGBOOST_DEFAULTS, **params, "n_estimators": 1, "n_jobs": 1}).fit(x, y)
        except Exception:
            return set()
    unused: set[str] = set()
    for warning in caught:
        match = _NOT_USED.search(str(warning.message))
        if match:
            unused.update(re.findall(r'"([^"]+)"', match.group(1)))
    return unused & set(params)


def _probe(space: dict[str, SearchParam]) -> dict[str, Any]:
    """One value of every parameter in ``space``: its low end or first choice."""
    values: dict[str, Any] = {}
    for name, param in space.items():
        if param.type == "categorical":
            values[name] = (param.choices or [None])[0]
        elif param.type == "int":
            values[name] = int(param.low or 0)
        else:
            values[name] = param.low
    return values


def _display_name(trainer: str) -> str:
    return {"lightgbm": "LightGBM", "xgboost": "XGBoost"}.get(trainer,
                                                             trainer.partition(":")[2])
