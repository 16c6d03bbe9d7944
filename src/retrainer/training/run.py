"""``run_job``: the code that runs inside any executor.

It trains a candidate on the job's training window (tuned on time-series CV folds, or warm-
started from the production booster), scores it and the production model on the same most
recent holdout, registers the candidate in MLflow with its lineage and semantic version,
stores the validation report, and marks the attempt succeeded. The promote / reject decision is
the orchestrator's (``orchestrator.decide``), made in the store and mirrored to MLflow.

Everything a job needs travels in its config snapshot (taken when the job was created),
so a retry runs with the same configuration as the first attempt.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

# imported here so the executor's fork server preloads the whole training stack
import retrainer.registry.mlflow_registry
import retrainer.registry.tracking  # noqa: F401
from retrainer.clock import wall_now
from retrainer.config import ExecutorConfig, ModelConfig
from retrainer.data.labels import labelled_rows
from retrainer.data.readiness import schema_of
from retrainer.data.sources import make_source
from retrainer.domain import Job, ModelVersion, RetryPolicy, Task, Window
from retrainer.exceptions import (
    ConfigError,
    DataError,
    DigestMismatchError,
    TrainerConfigError,
    TrainingError,
)
from retrainer.monitoring.estimation import reference_estimator
from retrainer.monitoring.importance import feature_importance
from retrainer.monitoring.profile import build_profile, target_reference
from retrainer.registry import open_registry
from retrainer.registry.digest import model_sha256
from retrainer.registry.semver import Production, candidate_semver
from retrainer.store import Store
from retrainer.training.checks import trainer_problems
from retrainer.training.fit import fit_candidate, time_split
from retrainer.training.lineage import frame_sha256, package_versions, version_tags
from retrainer.training.tuning import recipe_comparison, study_name, trial_record, tune
from retrainer.training.warm_start import plan_warm_start
from retrainer.validation.gate import evaluate_candidate

log = logging.getLogger(__name__)

#: errors a retry cannot fix: the job fails at once
PERMANENT_ERRORS = (DigestMismatchError, ConfigError, TrainerConfigError)


@dataclass(frozen=True)
class JobSnapshot:
    """What a job was created with: the model's config and where MLflow lives."""

    model: ModelConfig
    executor: ExecutorConfig
    root: Path
    tracking_uri: str
    artifact_location: str

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model.model_dump(mode="json"),
            "executor": self.executor.model_dump(mode="json"),
            "root": str(self.root),
            "mlflow_tracking_uri": self.tracking_uri,
            "mlflow_artifact_location": self.artifact_location,
        }

    @classmethod
    def of(cls, job: Job) -> JobSnapshot:
        data = job.config
        return cls(
            model=ModelConfig.model_validate(data["model"]),
            executor=ExecutorConfig.model_validate(data["executor"]),
            root=Path(data["root"]),
            tracking_uri=data["mlflow_tracking_uri"],
            artifact_location=data["mlflow_artifact_location"],
        )


def retry_policy_for(job: Job) -> RetryPolicy:
    return JobSnapshot.of(job).executor.retry.policy()


def _iso(value: Any) -> str:
    return pd.Timestamp(value).isoformat()


def run_job(store: Store, job_id: int, attempt: int, n_jobs: int = 1) -> str:
    """Train, validate and register the job's candidate. Returns its MLflow version.

    Steps: load the training window; cut the most recent holdout; load production (digest
    checked); decide warm or full fit; tune a full fit (resuming the job's Optuna study);
    fit; score candidate and production on the holdout (and on CV folds for cv_paired_t);
    register the candidate under the job's MLflow run (the trials are its child runs) with
    lineage, tags and a semantic version; store the version and its validation report.
    """
    job = store.get_job(job_id)
    snapshot = JobSnapshot.of(job)
    model = snapshot.model
    cfg = model.training
    problems = trainer_problems(model)
    if problems:  # before any data is read: the job fails at once (PERMANENT_ERRORS)
        raise TrainerConfigError("; ".join(map(str, problems)))
    window = Window.latest(job.as_of, model.training_window)
    frame = make_source(model, snapshot.root).load(window)
    features = model.feature_columns(list(frame.columns))
    missing = [c for c in [*features, model.target] if c not in frame.columns]
    if missing:
        raise DataError(f"training data lacks columns {missing}")
    labelled = labelled_rows(frame, model.target).reset_index(drop=True)
    if len(labelled) < 20:
        raise TrainingError(f"only {len(labelled)} labelled rows in {window.start}..{window.end}")

    train, holdout = time_split(labelled, model.time_column, cfg.holdout_fraction)
    registry = open_registry(snapshot.tracking_uri, snapshot.artifact_location)
    champion = store.champion(model.name)
    champion_bundle = None
    if champion is not None:
        champion_bundle = registry.load_bundle(
            model.name, champion.version, champion.artifact_sha256, n_jobs=n_jobs
        )
    parent = registry.job_run(model.name, job.id, {
        "retrainer.trigger": job.trigger, "retrainer.as_of": job.as_of.isoformat()})

    plan = plan_warm_start(train, model, champion, champion_bundle,
                           store.latest_version(model.name))
    tuning = None
    if plan.mode == "full":
        def log_trial(trial: Any) -> None:
            registry.log_trials(model.name, parent, [trial_record(trial, model.metric)])

        tuning = tune(train, model, storage_url=store.url, name=study_name(model.name, job.id),
                      n_jobs=n_jobs, on_trial=log_trial)
        if tuning is not None:  # trials a killed attempt finished but did not log
            registry.log_trials(model.name, parent, tuning.records)
    if plan.mode == "warm":
        params = dict(plan.params or {})
    else:
        params = tuning.params if tuning else dict(cfg.params)
    fit = fit_candidate(train, model, n_jobs=n_jobs, params=params, warm=plan.warm)
    y_true = holdout[model.target].to_numpy()
    candidate_prediction = fit.bundle.prediction(holdout)

    champion_prediction = None
    notes: dict[str, Any] = {}
    cv = None
    if champion is not None and champion_bundle is not None:
        try:
            champion_prediction = champion_bundle.prediction(holdout)
        except DataError as error:
            notes["champion_unscored"] = f"the champion could not score the holdout: {error}"
        trained_until = champion.lineage.get("data_end")
        if trained_until:
            overlap = int((holdout[model.time_column] < pd.Timestamp(trained_until)).sum())
            notes["holdout_rows_seen_by_champion"] = overlap
        if model.validation.test == "cv_paired_t" and champion_prediction is not None:
            cv = recipe_comparison(
                train, model, params,
                str(champion.lineage.get("trainer", cfg.trainer)),
                dict(champion.lineage.get("hyperparameters", cfg.params)),
                n_jobs=n_jobs, candidate_scores=tuning.fold_scores if tuning else None,
            )

    holdout_times = holdout[model.time_column]
    report = evaluate_candidate(
        model=model,
        y_true=y_true,
        candidate_prediction=candidate_prediction,
        champion_prediction=champion_prediction,
        champion_version=champion.version if champion else None,
        holdout_start=_iso(holdout_times.min()),
        holdout_end=_iso(holdout_times.max()),
        classes=fit.bundle.classes,
        champion_classes=champion_bundle.classes if champion_bundle is not None else None,
        trigger=job.trigger,
        slice_values={c.column: holdout[c.column].to_numpy()
                      for c in model.validation.slices if c.column in holdout.columns},
        cv=cv,
    )
    if notes:
        unscored = [notes["champion_unscored"]] if "champion_unscored" in notes else []
        report = replace(report, extra={**report.extra, **notes},
                         reasons=[*report.reasons, *unscored])

    validated, trained_on = fit, train
    if cfg.refit_on_holdout:  # the recipe the holdout judged, fitted on the newest rows too
        fit = fit_candidate(labelled, model, n_jobs=n_jobs, params=params, warm=plan.warm)
        trained_on = labelled

    categorical = [c for c in features if c in fit.bundle.categorical]
    numeric = [c for c in features if c not in categorical]
    profile = build_profile(
        trained_on,
        numeric,
        categorical,
        bins=model.monitors.drift.numeric.bins,
        sketch_size=model.monitors.drift.numeric.sketch_size,
        importance=feature_importance(fit.bundle),
    )
    profile["target"] = target_reference(  # the reference for target drift (label shift)
        trained_on[model.target], categorical=model.task is Task.CLASSIFICATION,
        bins=model.monitors.drift.numeric.bins,
        sketch_size=model.monitors.drift.numeric.sketch_size,
    )
    estimator = reference_estimator(y_true, candidate_prediction, fit.bundle.classes)
    if estimator is not None:  # label-free estimates while labels lag (binary classifiers)
        profile["estimator"] = estimator.to_dict()
    columns = [model.time_column, *features, model.target]
    lineage: dict[str, Any] = {
        "job_id": job.id,
        "attempt": attempt,
        "trigger": job.trigger,
        "reason": job.reason,
        "as_of": job.as_of.isoformat(),
        "trained_at": wall_now().isoformat(),
        "data_start": window.start.isoformat(),
        "data_end": window.end.isoformat(),
        "rows": len(labelled),
        # the newest row the registered model was fitted on: monitoring scores it only on
        # later rows (monitoring/window.py), never on rows it learned
        "fitted_through": _iso(trained_on[model.time_column].max()),
        "rows_train": fit.rows_train,
        "rows_holdout": len(holdout),
        "rows_early_stopping": fit.rows_early_stopping,
        "refit_on_holdout": fit is not validated,
        "validated_fit": None if fit is validated else {
            "rows_train": validated.rows_train, "best_iteration": validated.best_iteration,
            "total_rounds": validated.total_rounds},
        "data_sha256": frame_sha256(labelled[columns]),
        "features": features,
        "schema": schema_of(labelled, features, categorical),
        "trainer": cfg.trainer,
        "hyperparameters": params,
        "best_iteration": fit.best_iteration,
        "total_rounds": fit.total_rounds,
        "training_mode": fit.mode,
        "warm_start": {"reason": plan.reason,
                       "from_version": champion.version if plan.mode == "warm" and champion
                       else None},
        "warm_chain": plan.chain,
        "tuning": tuning.to_dict() if tuning else None,
        "metrics": report.candidate_metrics,
        "metric_ci": {k: v["candidate"] for k, v in report.metric_ci.items()
                      if "candidate" in v},
        "fit_seconds": round(fit.fit_seconds + (0 if fit is validated
                                                else validated.fit_seconds), 3),
        "packages": package_versions(),
        "mlflow_run_id": parent,
    }
    metrics = {f"holdout_{k}": v for k, v in report.candidate_metrics.items()}
    for name, (low, high) in lineage["metric_ci"].items():
        metrics[f"holdout_{name}_ci_low"], metrics[f"holdout_{name}_ci_high"] = low, high
    if tuning is not None and tuning.best_value is not None:
        metrics[f"cv_{model.metric}"] = tuning.best_value
    with tempfile.TemporaryDirectory(prefix="retrainer-bundle-") as tmp:
        bundle_dir = Path(tmp) / "bundle"
        fit.bundle.save(bundle_dir)
        lineage["model_sha256"] = model_sha256(bundle_dir)
        registered = registry.register(
            model=model.name,
            bundle_dir=bundle_dir,
            params=fit.params,
            metrics=metrics,
            tags=version_tags(lineage, passed=report.passed),
            extra_artifacts={
                "validation_report.json": report.to_dict(),
                "reference_profile.json": profile,
                "lineage.json": lineage,
            },
            run_id=parent,
        )
    production = None
    if champion is not None:
        production = Production(champion.semver, champion.lineage.get("schema"),
                                champion.lineage.get("model_sha256"))
    semver = candidate_semver(store.semvers(model.name), production,
                              lineage["schema"], lineage["model_sha256"], registered.version)
    registry.set_version_tags(model.name, registered.version, {"retrainer.semver": semver})
    lineage["artifact_sha256"] = registered.sha256
    lineage["semver"] = semver
    store.add_version(
        ModelVersion(
            model=model.name,
            version=registered.version,
            job_id=job.id,
            run_id=registered.run_id,
            artifact_uri=registered.artifact_uri,
            artifact_sha256=registered.sha256,
            status="candidate",
            metrics=report.candidate_metrics,
            created_at=wall_now(),
            lineage=lineage,
            profile=profile,
            semver=semver,
        )
    )
    store.save_report(job.id, report)
    store.complete_attempt(job.id, attempt, registered.version)
    return registered.version


class Heartbeat:
    """Refreshes a running attempt's heartbeat; exits the process if the attempt lost its lease."""

    def __init__(self, store: Store, job_id: int, attempt: int, every_seconds: float):
        self.store, self.job_id, self.attempt = store, job_id, attempt
        self.every = every_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            try:
                owned = self.store.heartbeat(self.job_id, self.attempt)
            except Exception:  # a transient store error must not kill the job
                log.exception("heartbeat of job #%s failed", self.job_id)
                continue
            if not owned:
                log.error("job #%s attempt %s lost its lease; stopping", self.job_id, self.attempt)
                os._exit(3)


def run_job_entry(
    job_id: int, attempt: int, store_url: str, n_jobs: int, heartbeat_seconds: float
) -> None:
    """Process entry point used by executors. Records its own failures in the store."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("OMP_NUM_THREADS", str(n_jobs))
    store = Store(store_url, migrate_schema=False)
    try:
        with Heartbeat(store, job_id, attempt, heartbeat_seconds):
            run_job(store, job_id, attempt, n_jobs)
    except BaseException as error:
        record_failure(store, job_id, attempt, error)
    finally:
        store.close()


def record_failure(store: Store, job_id: int, attempt: int, error: BaseException) -> None:
    """Fail the attempt with the error's text; the job's retry policy decides what follows
    (errors a retry cannot fix fail the job at once)."""
    job = store.get_job(job_id)
    policy = retry_policy_for(job)
    if isinstance(error, PERMANENT_ERRORS):
        policy = replace(policy, max_retries=0)
    if isinstance(error, DataError | TrainingError | DigestMismatchError):  # said, not a bug
        detail = f"{type(error).__name__}: {error}"
    else:
        detail = "".join(traceback.format_exception_only(type(error), error)).strip()
        detail += "\n" + traceback.format_exc(limit=8)
    store.fail_attempt(job_id, attempt, outcome="failed", error=detail, policy=policy)
