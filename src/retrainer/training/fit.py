"""Fitting a candidate: time-ordered early stopping, then a refit on all training rows.

>>> import pandas as pd
>>> frame = pd.DataFrame({"t": pd.date_range("2024-01-01", periods=10, freq="h"), "x": range(10)})
>>> older, recent = time_split(frame.sample(frac=1, random_state=0), "t", 0.3)
>>> older["x"].tolist(), recent["x"].tolist()
([0, 1, 2, 3, 4, 5, 6], [7, 8, 9])
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from retrainer.config import ModelConfig
from retrainer.domain.metrics import Task
from retrainer.exceptions import DataError, TrainingError
from retrainer.training.bundle import ModelBundle, learn_levels
from retrainer.training.trainers import is_booster, lineage_params, make_estimator


def time_split(
    frame: pd.DataFrame, time_column: str, fraction: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(older part, most recent ``fraction`` of rows), both sorted by time; never shuffles.

    The cut falls on a timestamp: rows sharing the cut timestamp all go to the recent part,
    so no moment is split across both (the recent part may then hold slightly more rows).
    Raises DataError if ``time_column`` is missing, ValueError if ``fraction`` is not in [0, 1).
    """
    if time_column not in frame.columns:
        raise DataError(f"time column {time_column!r} is not in the data")
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    ordered = frame.sort_values(time_column, kind="stable")
    n_recent = round(len(ordered) * fraction)
    if n_recent == 0:
        return ordered, ordered.iloc[0:0]
    cut = ordered[time_column].iloc[len(ordered) - n_recent]
    recent = (ordered[time_column] >= cut).to_numpy()
    return ordered[~recent], ordered[recent]


@dataclass(frozen=True)
class FitResult:
    bundle: ModelBundle
    params: dict[str, Any]  # the estimator's get_params(), JSON-serialisable, for lineage
    best_iteration: int | None  # boosting rounds chosen by early stopping (boosters only)
    rows_train: int
    rows_early_stopping: int
    fit_seconds: float


def fit_candidate(train: pd.DataFrame, model: ModelConfig, *, n_jobs: int = 1) -> FitResult:
    """Fit a candidate on ``train`` (the window before the holdout, no missing targets).

    Boosters: early stopping on the most recent ``training.early_stopping_fraction`` of
    ``train`` with ``training.early_stopping_rounds``, then a refit on all of ``train`` with
    the best number of rounds (fraction 0: a plain fit with the configured ``n_estimators``).
    Other estimators: a plain fit. String, object and category feature columns are categorical even
    when not declared. Raises DataError for unusable data and TrainingError when fitting fails.
    """
    started = time.perf_counter()
    cfg = model.training
    for column in (model.target, model.time_column):
        if column not in train.columns:
            raise DataError(f"column {column!r} is not in the training data")
    if train[model.target].isna().any():
        raise DataError(
            f"target {model.target!r} has {int(train[model.target].isna().sum())} missing "
            "values; drop those rows before fitting"
        )
    if train.empty:
        raise DataError("no training rows")
    features = model.feature_columns(list(train.columns))
    template = _template(train, model, features)
    y_all = _encode_target(train[model.target], template)
    estimator = make_estimator(cfg.trainer, model.task, cfg.params, cfg.seed, n_jobs)

    best_iteration: int | None = None
    rows_es = 0
    try:
        with threadpool_limits(limits=n_jobs):
            if is_booster(cfg.trainer) and cfg.early_stopping_fraction > 0:
                older, recent = time_split(train, model.time_column, cfg.early_stopping_fraction)
                if older.empty or recent.empty:
                    raise TrainingError(
                        f"{len(train)} training rows are too few to hold out the most recent "
                        f"{cfg.early_stopping_fraction:.0%} for early stopping"
                    )
                rows_es = len(recent)
                y_older = _encode_target(older[model.target], template)
                if template.classes is not None and len(np.unique(y_older)) < len(template.classes):
                    raise TrainingError(
                        "the part before the early-stopping slice lacks some classes; lower "
                        "training.early_stopping_fraction or widen the training window"
                    )
                best_iteration = _early_stopping_rounds(
                    estimator,
                    cfg.trainer,
                    (template.prepare(older), y_older),
                    (template.prepare(recent), _encode_target(recent[model.target], template)),
                    cfg.early_stopping_rounds,
                )
                estimator = clone(estimator).set_params(n_estimators=best_iteration)
            estimator.fit(template.prepare(train), y_all)
    except (TrainingError, DataError):
        raise
    except Exception as error:
        raise TrainingError(f"fitting {cfg.trainer} failed: {error}") from error

    if cfg.trainer == "lightgbm":
        predictor: Any = estimator.booster_
    elif cfg.trainer == "xgboost":
        predictor = estimator.get_booster()
    else:
        predictor = estimator
    template.estimator = predictor
    template.n_jobs = n_jobs
    template.info = {"target": model.target, "best_iteration": best_iteration}
    return FitResult(
        bundle=template,
        params=lineage_params(estimator),
        best_iteration=best_iteration,
        rows_train=len(train),
        rows_early_stopping=rows_es,
        fit_seconds=time.perf_counter() - started,
    )


def _template(train: pd.DataFrame, model: ModelConfig, features: list[str]) -> ModelBundle:
    """An unfitted bundle carrying the preprocessing learned from ``train``."""
    missing = [c for c in features if c not in train.columns]
    if missing:
        raise DataError(f"missing feature column(s) {missing} in the training data")
    categorical = [c for c in features if c in model.categorical]
    categorical += [c for c in features if c not in categorical and _is_label_column(train[c])]
    classes = None
    if model.task is Task.CLASSIFICATION:
        try:
            values = np.unique(train[model.target].to_numpy())
        except TypeError as error:
            raise DataError(f"target {model.target!r} mixes label types: {error}") from None
        if len(values) < 2:
            raise TrainingError(
                f"classification needs at least two classes; the training data has {len(values)}"
            )
        classes = [v.item() if isinstance(v, np.generic) else v for v in values]
    return ModelBundle(
        task=model.task,
        features=features,
        categorical=categorical,
        categories={c: learn_levels(train[c]) for c in categorical},
        classes=classes,
        trainer=model.training.trainer,
        estimator=None,
    )


def _is_label_column(series: pd.Series) -> bool:
    """Strings and pandas categories are categorical even when not declared."""
    dtype = series.dtype
    return bool(
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_string_dtype(dtype)
        or pd.api.types.is_object_dtype(dtype)
    )


def _encode_target(target: pd.Series, template: ModelBundle) -> np.ndarray:
    """Regression: float64 values. Classification: labels as indices into ``classes``."""
    if template.classes is None:
        return target.to_numpy(dtype="float64")
    classes = np.asarray(template.classes)
    codes = np.searchsorted(classes, target.to_numpy())
    return codes.astype("int64")


def _early_stopping_rounds(
    estimator: Any,
    trainer: str,
    fit: tuple[pd.DataFrame, np.ndarray],
    valid: tuple[pd.DataFrame, np.ndarray],
    rounds: int,
) -> int:
    """Number of boosting rounds that scored best on ``valid`` (a 1-based count)."""
    probe = clone(estimator)
    if trainer == "lightgbm":
        import lightgbm as lgb

        probe.fit(
            *fit,
            eval_X=valid[0],
            eval_y=valid[1],
            callbacks=[lgb.early_stopping(rounds, verbose=False)],
        )
        best = int(probe.best_iteration_ or probe.n_estimators)
    else:
        probe.set_params(early_stopping_rounds=rounds)
        probe.fit(*fit, eval_set=[valid], verbose=False)
        best = int(probe.best_iteration) + 1
    return max(best, 1)


__all__ = ["FitResult", "fit_candidate", "time_split"]
