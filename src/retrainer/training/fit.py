"""Fitting: time-ordered early stopping, then a refit on all training rows; warm or full.

* ``fit_candidate``: the model that gets registered. Boosters early-stop on the most recent
  ``training.early_stopping_fraction`` of the rows they are given (never on the holdout, which
  the caller has already cut off), then refit on all of them with the chosen number of rounds.
  With a :class:`WarmStart` the booster continues from the production booster and only the
  added rounds are chosen and refitted.
* ``fit_early_stopped``: one fold of cross-validation: the early-stopped model itself, no
  refit (tuning runs this for every trial and fold, and may pass pruning callbacks).

>>> import pandas as pd
>>> frame = pd.DataFrame({"t": pd.date_range("2024-01-01", periods=10, freq="h"), "x": range(10)})
>>> older, recent = time_split(frame.sample(frac=1, random_state=0), "t", 0.3)
>>> older["x"].tolist(), recent["x"].tolist()
([0, 1, 2, 3, 4, 5, 6], [7, 8, 9])
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from retrainer.config import ModelConfig
from retrainer.exceptions import DataError, TrainingError
from retrainer.training.bundle import ModelBundle
from retrainer.training.template import (
    check_training_frame,
    copy_template,
    encode_target,
    learn_template,
)
from retrainer.training.trainers import is_booster, lineage_params, make_estimator, threads_for


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
class WarmStart:
    """Continue boosting from a production bundle's booster (see ``training/warm_start.py``)."""

    bundle: ModelBundle  # the production bundle: its booster and its preprocessing
    rounds: int  # boosting rounds already in the production booster
    max_new_rounds: int


@dataclass(frozen=True)
class FitResult:
    bundle: ModelBundle
    params: dict[str, Any]  # the estimator's get_params(), JSON-serialisable, for lineage
    best_iteration: int | None  # rounds chosen by early stopping (added rounds when warm)
    rows_train: int
    rows_early_stopping: int
    fit_seconds: float
    mode: str = "full"  # full | warm
    total_rounds: int | None = None  # boosting rounds in the final booster


def fit_candidate(
    train: pd.DataFrame,
    model: ModelConfig,
    *,
    n_jobs: int = 1,
    params: dict[str, Any] | None = None,
    warm: WarmStart | None = None,
) -> FitResult:
    """Fit a candidate on ``train`` (the window before the holdout, no missing targets).

    ``params`` replaces ``training.params`` (tuned or production hyperparameters). Boosters:
    early stopping on the most recent ``training.early_stopping_fraction`` of ``train`` with
    ``training.early_stopping_rounds``, then a refit on all of ``train`` with the best number
    of rounds (fraction 0, or a class found only in that slice: a plain fit with
    ``n_estimators``). ``warm``: the same, adding at
    most ``warm.max_new_rounds`` rounds to the production booster and keeping its
    preprocessing. Other estimators: a plain fit. Raises DataError for unusable data and
    TrainingError when fitting fails.
    """
    started = time.perf_counter()
    cfg = model.training
    check_training_frame(train, model)
    template = copy_template(warm.bundle) if warm else learn_template(train, model)
    chosen = dict(cfg.params if params is None else params)
    if warm:
        chosen["n_estimators"] = warm.max_new_rounds
    n_jobs = threads_for(len(train), n_jobs)
    estimator = make_estimator(cfg.trainer, model.task, chosen, cfg.seed, n_jobs)
    init = _booster_copy(warm.bundle.estimator, cfg.trainer) if warm else None
    # LightGBM: production's raw scores of the rows, computed once (and remembered by its
    # bundle across jobs) rather than by LightGBM for the probe and again for the refit
    scores = warm.bundle.raw_scores if warm and cfg.trainer == "lightgbm" else None
    fitted: Any = None
    y_all = encode_target(train[model.target], template)

    best: int | None = None
    rows_es = 0
    try:
        with threadpool_limits(limits=n_jobs):
            split = (_early_stopping_split(train, model, template)
                     if is_booster(cfg.trainer) and cfg.early_stopping_fraction > 0 else None)
            if split is not None:
                older, recent = split
                rows_es = len(recent)
                best = _best_rounds(
                    estimator,
                    cfg.trainer,
                    (template.prepare(older), encode_target(older[model.target], template)),
                    (template.prepare(recent), encode_target(recent[model.target], template)),
                    cfg.early_stopping_rounds,
                    init=init,
                    init_rounds=warm.rounds if warm else 0,
                    init_scores=scores,
                )
                estimator = clone(estimator).set_params(n_estimators=best)
            fitted = _fit(estimator, cfg.trainer, template.prepare(train), y_all, init=init,
                          init_scores=scores)
    except (TrainingError, DataError):
        raise
    except Exception as error:
        raise TrainingError(f"fitting {cfg.trainer} failed: {error}") from error

    template.estimator = fitted
    template.n_jobs = n_jobs
    total = booster_rounds(template.estimator, cfg.trainer)
    template.info = {"target": model.target, "best_iteration": best,
                     "training_mode": "warm" if warm else "full", "total_rounds": total}
    return FitResult(
        bundle=template,
        params=lineage_params(estimator),
        best_iteration=best,
        rows_train=len(train),
        rows_early_stopping=rows_es,
        fit_seconds=time.perf_counter() - started,
        mode="warm" if warm else "full",
        total_rounds=total,
    )


def fit_early_stopped(
    train: pd.DataFrame,
    model: ModelConfig,
    params: dict[str, Any],
    *,
    n_jobs: int = 1,
    callbacks: Sequence[Any] = (),
) -> ModelBundle:
    """One cross-validation fit: boosters stop early on the most recent slice of ``train``
    and the early-stopped model is returned as is (no refit); ``callbacks`` go to the booster
    (LightGBM callables or XGBoost ``TrainingCallback`` objects). Other estimators, and a class
    found only in that slice: a plain fit.

    Raises DataError / TrainingError like ``fit_candidate``; exceptions raised by a callback
    (e.g. ``optuna.TrialPruned``) propagate unchanged.
    """
    cfg = model.training
    check_training_frame(train, model)
    template = learn_template(train, model)
    n_jobs = threads_for(len(train), n_jobs)
    estimator = make_estimator(cfg.trainer, model.task, params, cfg.seed, n_jobs)
    try:
        with threadpool_limits(limits=n_jobs):
            split = (_early_stopping_split(train, model, template)
                     if is_booster(cfg.trainer) and cfg.early_stopping_fraction > 0 else None)
            if split is not None:
                older, recent = split
                valid = (template.prepare(recent), encode_target(recent[model.target], template))
                _fit_early_stopping(
                    estimator, cfg.trainer, template.prepare(older),
                    encode_target(older[model.target], template), valid,
                    cfg.early_stopping_rounds, callbacks=callbacks,
                )
                fitted = predictor(estimator, cfg.trainer)
            else:
                y = encode_target(train[model.target], template)
                fitted = _fit(estimator, cfg.trainer, template.prepare(train), y,
                              callbacks=callbacks)
    except (TrainingError, DataError):
        raise
    except Exception as error:
        if type(error).__module__.startswith("optuna"):
            raise
        raise TrainingError(f"fitting {cfg.trainer} failed: {error}") from error
    template.estimator = fitted
    template.n_jobs = n_jobs
    return template


# --- helpers ---------------------------------------------------------------------------------


def predictor(estimator: Any, trainer: str) -> Any:
    """What a bundle keeps: the native booster for LightGBM / XGBoost, else the estimator."""
    if trainer == "lightgbm":
        return estimator.booster_
    if trainer == "xgboost":
        return estimator.get_booster()
    return estimator


def booster_rounds(booster: Any, trainer: str) -> int | None:
    """Boosting rounds in a native booster (None for other estimators)."""
    if trainer == "lightgbm":
        return int(booster.current_iteration())
    if trainer == "xgboost":
        return int(booster.num_boosted_rounds())
    return None


def _booster_copy(booster: Any, trainer: str) -> Any:
    """What a warm fit continues from without touching the production booster. LightGBM
    only reads its init model (it merges a copy of the trees into a new booster); XGBoost
    gets a private copy."""
    if trainer == "lightgbm":
        return booster
    return booster.copy()


def _early_stopping_split(
    train: pd.DataFrame, model: ModelConfig, template: ModelBundle
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """(older rows, the most recent slice), or None when a class appears only in the slice
    (a class new in the data): early stopping cannot score what the fit never saw."""
    fraction = model.training.early_stopping_fraction
    older, recent = time_split(train, model.time_column, fraction)
    if older.empty or recent.empty:
        raise TrainingError(
            f"{len(train)} training rows are too few to hold out the most recent "
            f"{fraction:.0%} for early stopping"
        )
    if template.classes is not None:
        present = np.unique(encode_target(older[model.target], template))
        if len(present) < len(template.classes):
            return None
    return older, recent


def _fit(estimator: Any, trainer: str, x: pd.DataFrame, y: np.ndarray, *,
         init: Any = None, callbacks: Sequence[Any] = (),
         init_scores: InitScores | None = None) -> Any:
    """Fit ``estimator`` and return what a bundle keeps (``predictor``). LightGBM's booster
    is taken at its last round: ``train`` would otherwise serialise and reload every tree
    before returning (6% of a ten-class retrain), and the estimator is left unfitted.
    With ``init_scores`` (LightGBM), the new rounds start from ``init``'s raw scores of
    ``x`` and ``init``'s trees are then put before them: the booster ``init_model`` gives."""
    if trainer == "lightgbm":
        start = ({"init_score": init_scores(x)} if init is not None and init_scores
                 else {"init_model": init})
        try:
            estimator.fit(x, y, **start, callbacks=[*callbacks, _take_last_round])
            booster = predictor(estimator, trainer)
        except _Finished as finished:
            booster = finished.booster
        return _after(init, booster) if "init_score" in start else booster
    if trainer == "xgboost":
        if callbacks:
            estimator.set_params(callbacks=list(callbacks))
        estimator.fit(x, y, xgb_model=init, verbose=False)
    else:
        estimator.fit(x, y)
    return predictor(estimator, trainer)


#: a booster's raw scores of prepared rows (``ModelBundle.raw_scores``)
InitScores = Callable[[pd.DataFrame], np.ndarray]


def _after(init: Any, booster: Any) -> Any:
    """``booster`` with ``init``'s trees put before its own, as LightGBM does for a fit that
    continues from ``init``: the model ``init_model`` would have given, tree for tree."""
    from lightgbm.basic import _LIB, _safe_call

    _safe_call(_LIB.LGBM_BoosterMerge(booster._handle, init._handle))
    return booster


class _Finished(Exception):  # a signal that carries the trained booster, not an error
    def __init__(self, booster: Any) -> None:
        super().__init__()
        self.booster = booster


def _take_last_round(env: Any) -> None:
    if env.iteration + 1 == env.end_iteration:
        raise _Finished(env.model)


def _fit_early_stopping(
    estimator: Any,
    trainer: str,
    x: pd.DataFrame,
    y: np.ndarray,
    valid: tuple[pd.DataFrame, np.ndarray],
    rounds: int,
    *,
    init: Any = None,
    callbacks: Sequence[Any] = (),
) -> None:
    if trainer == "lightgbm":
        import lightgbm as lgb

        estimator.fit(
            x, y, eval_X=valid[0], eval_y=valid[1], init_model=init,
            callbacks=[lgb.early_stopping(rounds, verbose=False), *callbacks],
        )
    else:
        estimator.set_params(early_stopping_rounds=rounds, callbacks=list(callbacks) or None)
        estimator.fit(x, y, eval_set=[valid], xgb_model=init, verbose=False)


def _best_rounds(
    estimator: Any,
    trainer: str,
    fit: tuple[pd.DataFrame, np.ndarray],
    valid: tuple[pd.DataFrame, np.ndarray],
    rounds: int,
    *,
    init: Any = None,
    init_rounds: int = 0,
    init_scores: InitScores | None = None,
) -> int:
    """Rounds to add (a 1-based count) that scored best on ``valid``; both libraries count
    an init model's rounds in their best iteration, which is subtracted here. With
    ``init_scores`` (LightGBM) the probe starts from ``init``'s raw scores instead of from
    ``init`` itself: the same rounds, and it counts only its own."""
    probe = clone(estimator)
    if trainer == "lightgbm":
        import lightgbm as lgb

        stop = _StopOnBest(lgb.early_stopping(rounds, verbose=False))
        start: dict[str, Any] = {"init_model": init}
        if init is not None and init_scores:
            start = {"init_score": init_scores(fit[0]),
                     "eval_init_score": [init_scores(valid[0])]}
            init_rounds = 0
        try:
            probe.fit(*fit, eval_X=valid[0], eval_y=valid[1], callbacks=[stop], **start)
        except _Stopped as stopped:
            return max(stopped.best - init_rounds, 1)
        return max(int(probe.best_iteration_ or (init_rounds + probe.n_estimators))
                   - init_rounds, 1)
    _fit_early_stopping(probe, trainer, *fit, valid, rounds, init=init)
    return max(int(probe.best_iteration) + 1 - init_rounds, 1)


class _Stopped(Exception):  # a signal that carries the best round count, not an error
    def __init__(self, best: int) -> None:
        super().__init__(best)
        self.best = best


class _StopOnBest:
    """LightGBM's early-stopping callback, but the probe ends by raising its best round count
    out of ``train``: LightGBM would otherwise serialise and reload every tree of a model that
    is thrown away (a tenth of a ten-class retrain's time)."""

    def __init__(self, callback: Any) -> None:
        self.callback = callback
        self.order = callback.order
        self.before_iteration = callback.before_iteration

    def __call__(self, env: Any) -> None:
        import lightgbm as lgb

        try:
            self.callback(env)
        except lgb.callback.EarlyStopException as stop:
            raise _Stopped(stop.best_iteration + 1) from None


__all__ = [
    "FitResult",
    "WarmStart",
    "booster_rounds",
    "fit_candidate",
    "fit_early_stopped",
    "predictor",
    "time_split",
]
