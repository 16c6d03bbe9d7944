"""Optuna hyperparameter search on time-series CV folds, stored in the state database.

The study lives in Optuna's RDB storage on the state store's SQLAlchemy URL (Optuna keeps
its schema revision in ``alembic_version``, retrainer in ``retrainer_alembic_version``), named
``retrainer:<model>:job:<id>``. A retried job therefore resumes its study: finished trials
count towards ``n_trials``, a trial left RUNNING by the killed attempt is marked FAIL and its
parameters are queued again, and only the remaining trials run.

Each trial fits every fold with ``fit_early_stopped`` (early stopping on the fold's most
recent training rows, never on its test rows) and is scored by the validation metric on the
fold's test rows; the objective is the mean over folds. The TPE sampler is seeded with
``training.seed`` plus the number of trials already in the study, so a fresh study is
reproducible and a resumed one does not replay the samples it already tried. With
``pruning``, LightGBM / XGBoost callbacks report the booster's validation loss every
``REPORT_EVERY`` rounds (from round ``WARMUP_ROUNDS`` of each fold) to a median pruner.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.trial import FrozenTrial, Trial, TrialState

from retrainer.config import ModelConfig
from retrainer.domain.metrics import METRICS
from retrainer.exceptions import DataError, TrainerConfigError, TrainingError, ValidationError
from retrainer.training.checks import trainer_problems
from retrainer.training.cv import Fold, expanding_folds
from retrainer.training.fit import fit_early_stopped
from retrainer.training.search_space import search_space, suggest
from retrainer.training.trainers import is_booster
from retrainer.validation.metrics import compute_metrics

log = logging.getLogger(__name__)
optuna.logging.set_verbosity(optuna.logging.WARNING)
# multivariate TPE is marked experimental; the CLI must not print warnings about it
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

REPORT_EVERY = 10  # boosting rounds between intermediate reports (each one is a DB write)
WARMUP_ROUNDS = 50  # no reports before this round of a fold: slow learners start behind
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
TrialCallback = Callable[[FrozenTrial], None]


@dataclass(frozen=True)
class TuningResult:
    study_name: str
    params: dict[str, Any]  # training.params updated with the best trial's values
    best_trial: int | None
    best_value: float | None  # mean CV metric of the best trial
    fold_scores: list[float]  # the best trial's metric per fold
    folds: list[dict[str, Any]]
    trials: dict[str, int]  # counts by state, the whole study
    resumed_trials: int  # trials already finished when this attempt started
    requeued: list[int] = field(default_factory=list)  # trials a dead attempt left running
    seconds: float = 0.0
    records: list[dict[str, Any]] = field(default_factory=list)  # every finished trial

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (without the per-trial records) for lineage and reports."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "records"}


def trial_record(trial: FrozenTrial, metric: str) -> dict[str, Any]:
    """A finished trial as plain data for its MLflow child run."""
    metrics: dict[str, float | None] = {}
    notes: dict[str, Any] = {}
    if trial.state is TrialState.COMPLETE:
        metrics[f"cv_{metric}"] = trial.value
        for k, score in enumerate(trial.user_attrs.get("fold_scores", [])):
            metrics[f"cv_{metric}_fold{k}"] = score
    elif trial.intermediate_values:
        step = max(trial.intermediate_values)
        notes["pruned_at_step"] = step
        metrics["last_reported_loss"] = abs(trial.intermediate_values[step])
    if "requeued_from" in trial.user_attrs:
        notes["requeued_from"] = trial.user_attrs["requeued_from"]
    if trial.duration is not None:
        metrics["seconds"] = trial.duration.total_seconds()
    return {"number": trial.number, "state": trial.state.name.lower(), "params": trial.params,
            "metrics": metrics, "notes": notes}


def study_name(model: str, job_id: int) -> str:
    return f"retrainer:{model}:job:{job_id}"


def storage(url: str) -> optuna.storages.RDBStorage:
    """Optuna's RDB storage on ``url`` (the state store), creating its tables if needed."""
    kwargs: dict[str, Any] = (
        {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    )
    return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)


def fold_score(model: ModelConfig, train: pd.DataFrame, test: pd.DataFrame,
               params: dict[str, Any], *, n_jobs: int, callbacks: list[Any] | None = None
               ) -> float:
    """The validation metric on ``test`` of a recipe fitted on ``train`` (one CV fold)."""
    bundle = fit_early_stopped(train, model, params, n_jobs=n_jobs, callbacks=callbacks or [])
    metrics = compute_metrics(model.task, test[model.target].to_numpy(),
                              bundle.prediction(test), bundle.classes)
    return float(metrics[model.metric])


def cv_scores(model: ModelConfig, frame: pd.DataFrame, folds: list[Fold],
              params: dict[str, Any], *, n_jobs: int) -> list[float]:
    """The metric of one recipe on every fold (``frame`` sorted by time, as the folds are)."""
    return [fold_score(model, frame.iloc[f.train], frame.iloc[f.test], params, n_jobs=n_jobs)
            for f in folds]


def tune(
    frame: pd.DataFrame,
    model: ModelConfig,
    *,
    storage_url: str,
    name: str,
    n_jobs: int = 1,
    on_trial: TrialCallback | None = None,
) -> TuningResult | None:
    """Run (or resume) the study ``name`` over CV folds of ``frame`` (the rows before the
    holdout, sorted by time). None when the search space is empty (nothing to tune).

    ``on_trial`` is called with every trial that finishes in this attempt. Raises DataError
    when the rows are too few for the folds; failing trials are recorded as FAIL, not raised,
    except a TrainerConfigError (a parameter the trainer does not take), raised at once.
    """
    cfg = model.training
    space = search_space(cfg.trainer, cfg.tuning)
    if not space or cfg.tuning.n_trials == 0:
        return None
    problems = trainer_problems(model)
    if problems:  # every trial would fail the same way
        raise TrainerConfigError("; ".join(map(str, problems)))
    started = time.perf_counter()
    folds = expanding_folds(frame[model.time_column], cfg.cv.folds, cfg.cv.gap)
    spec = METRICS[model.metric]
    study = optuna.create_study(
        storage=storage(storage_url),
        study_name=name,
        direction="maximize" if spec.greater_is_better else "minimize",
        load_if_exists=True,
    )
    requeued = _requeue_stale(study)
    done = len(study.get_trials(deepcopy=False, states=FINISHED))
    study.sampler = optuna.samplers.TPESampler(
        seed=cfg.seed + len(study.get_trials(deepcopy=False)),
        n_startup_trials=min(10, max(3, cfg.tuning.n_trials // 3)),
        multivariate=True,
    )
    study.pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=max(3, cfg.tuning.n_trials // 4))
        if cfg.tuning.pruning and is_booster(cfg.trainer) else optuna.pruners.NopPruner()
    )
    maximize = spec.greater_is_better
    max_rounds = int(cfg.params.get("n_estimators", 1000))

    def objective(trial: Trial) -> float:
        params = {**cfg.params, **suggest(trial, space)}
        scores = []
        for fold in folds:
            callbacks = []
            if cfg.tuning.pruning and is_booster(cfg.trainer):
                offset = fold.index * (max_rounds + 1)
                callbacks = [pruning_callback(cfg.trainer, trial, offset, maximize)]
            try:
                scores.append(fold_score(model, frame.iloc[fold.train], frame.iloc[fold.test],
                                         params, n_jobs=n_jobs, callbacks=callbacks))
            except ValidationError as error:  # e.g. a class missing from a fold
                raise TrainingError(str(error)) from error
            except TrainerConfigError as error:  # no other trial could build it either
                raise _Unbuildable(error) from error
        trial.set_user_attr("fold_scores", scores)
        return float(np.mean(scores))

    remaining = cfg.tuning.n_trials - done
    if remaining > 0:
        timeout = cfg.tuning.timeout.total_seconds() if cfg.tuning.timeout else None
        callbacks = [lambda _study, trial: on_trial(trial)] if on_trial else None
        try:
            study.optimize(objective, n_trials=remaining, timeout=timeout,
                           catch=(TrainingError, DataError), callbacks=callbacks)
        except _Unbuildable as unbuildable:
            raise unbuildable.error from None
    return _result(study, name, model.metric, cfg.params, folds, done, requeued, started)


class _Unbuildable(Exception):
    """A TrainerConfigError carried past Optuna's ``catch`` (which would record it as one
    failed trial of many): the job fails at once."""

    def __init__(self, error: TrainerConfigError) -> None:
        super().__init__(str(error))
        self.error = error


def _requeue_stale(study: optuna.Study) -> list[int]:
    """Fail the trials a dead attempt left RUNNING and queue their parameters again.

    Only one attempt of a job runs at a time (the state store's lease), so a RUNNING trial
    seen when an attempt starts belongs to an attempt that died.
    """
    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for trial in stale:
        study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
        if trial.params:
            # (not skip_if_exists: the failed trial itself has these params)
            study.enqueue_trial(trial.params, user_attrs={"requeued_from": trial.number})
    return [t.number for t in stale]


def _result(study: optuna.Study, name: str, metric: str, base: dict[str, Any],
            folds: list[Fold], done: int, requeued: list[int], started: float) -> TuningResult:
    trials = study.get_trials(deepcopy=False)
    counts = Counter(t.state.name.lower() for t in trials)
    complete = [t for t in trials if t.state is TrialState.COMPLETE
                and t.value is not None and math.isfinite(t.value)]
    best = study.best_trial if complete else None
    if best is None:
        log.warning("study %s has no complete trial: using training.params as given", name)
    return TuningResult(
        study_name=name,
        params={**base, **(best.params if best else {})},
        best_trial=best.number if best else None,
        best_value=float(best.value) if best and best.value is not None else None,
        fold_scores=[float(v) for v in (best.user_attrs.get("fold_scores", []) if best else [])],
        folds=[f.describe() for f in folds],
        trials=dict(counts),
        resumed_trials=done,
        requeued=requeued,
        seconds=round(time.perf_counter() - started, 3),
        records=[trial_record(t, metric) for t in trials
                 if t.state in (*FINISHED, TrialState.FAIL)],
    )


# --- pruning callbacks -------------------------------------------------------------------------


def pruning_callback(trainer: str, trial: Trial, offset: int, maximize: bool) -> Any:
    """A booster callback reporting its first validation loss to ``trial`` every
    ``REPORT_EVERY`` rounds at step ``offset + round`` (negated when the study maximises, so
    "better" points the study's way) and raising ``optuna.TrialPruned`` when told to prune.
    """
    sign = -1.0 if maximize else 1.0  # default booster eval metrics are losses

    def report(round_: int, value: float) -> None:
        if round_ < WARMUP_ROUNDS:
            return
        trial.report(sign * value, offset + round_)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned at round {round_} (step {offset + round_})")

    if trainer == "lightgbm":
        def lightgbm_callback(env: Any) -> None:
            done = env.iteration - env.begin_iteration + 1
            if done % REPORT_EVERY == 0 and env.evaluation_result_list:
                _, _, value, higher_is_better = env.evaluation_result_list[0][:4]
                report(done, -value if higher_is_better else value)

        return lightgbm_callback

    import xgboost as xgb

    class XGBoostPruning(xgb.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            if (epoch + 1) % REPORT_EVERY == 0 and evals_log:
                metrics = next(iter(evals_log.values()))
                history = next(iter(metrics.values()))
                report(epoch + 1, float(np.asarray(history[-1]).reshape(-1)[0]))
            return False

    return XGBoostPruning()


def recipe_comparison(
    frame: pd.DataFrame,
    model: ModelConfig,
    candidate_params: dict[str, Any],
    champion_trainer: str,
    champion_params: dict[str, Any],
    *,
    n_jobs: int = 1,
    candidate_scores: list[float] | None = None,
) -> dict[str, Any]:
    """Candidate and champion *recipes* (trainer + hyperparameters) scored on the same CV
    folds of ``frame``: the input of the ``cv_paired_t`` gate.

    A fitted champion cannot be scored on these folds honestly (it was trained on most of
    them), so its recipe is refitted per fold, exactly like the candidate's.
    ``candidate_scores`` (the best tuning trial's) saves refitting the candidate.
    """
    cfg = model.training
    folds = expanding_folds(frame[model.time_column], cfg.cv.folds, cfg.cv.gap)
    if candidate_scores is None or len(candidate_scores) != len(folds):
        candidate_scores = cv_scores(model, frame, folds, candidate_params, n_jobs=n_jobs)
    training = cfg.model_copy(update={"trainer": champion_trainer, "params": champion_params})
    champion_model = model.model_copy(update={"training": training})
    champion_scores = cv_scores(champion_model, frame, folds, champion_params, n_jobs=n_jobs)
    ratio = float(np.mean([len(f.test) / len(f.train) for f in folds]))
    return {"candidate": [float(s) for s in candidate_scores],
            "champion": [float(s) for s in champion_scores],
            "test_train_ratio": ratio, "folds": [f.describe() for f in folds]}
