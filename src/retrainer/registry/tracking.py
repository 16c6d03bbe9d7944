"""The job's MLflow run and its tuning trials as child runs.

A job has one MLflow run (tag ``retrainer.run_kind = job``), created by its first attempt and
found again by a retry (tag ``retrainer.job_id``), so the registered version's run is the
parent of every trial either attempt ran. Each finished Optuna trial becomes one child run
(tag ``mlflow.parentRunId``), logged at most once per trial number: ``log_trials`` skips the
numbers the parent already has, so a retry that resumes the study fills in what a killed
attempt did not log and never duplicates what it did.
"""

from __future__ import annotations

import math
import time
from typing import Any

from mlflow.entities import Metric, Param, RunTag

from retrainer.registry.mlflow_registry import Registry, _mlflow_errors, _param_value

RUN_KIND = "retrainer.run_kind"
TRIAL_TAG = "retrainer.trial"
STATUS = {"complete": "FINISHED", "pruned": "KILLED", "fail": "FAILED"}


def job_run(registry: Registry, model: str, job_id: int, tags: dict[str, str]) -> str:
    """The run id of the job's MLflow run, created if no attempt made one yet."""
    experiment_id = registry._experiment_id(model)
    with _mlflow_errors(f"cannot open the MLflow run of job #{job_id}"):
        found = registry.client.search_runs(
            [experiment_id],
            filter_string=f"tags.`retrainer.job_id` = '{job_id}' and tags.`{RUN_KIND}` = 'job'",
            max_results=1,
        )
        if found:
            return str(found[0].info.run_id)
        run = registry.client.create_run(
            experiment_id, run_name=f"job-{job_id}",
            tags={**tags, RUN_KIND: "job", "retrainer.job_id": str(job_id)},
        )
        return str(run.info.run_id)


def logged_trials(registry: Registry, model: str, parent_run_id: str) -> set[int]:
    """Trial numbers that already have a child run under ``parent_run_id``."""
    experiment_id = registry._experiment_id(model)
    with _mlflow_errors("cannot list the tuning trials"):
        runs = registry.client.search_runs(
            [experiment_id],
            filter_string=f"tags.`mlflow.parentRunId` = '{parent_run_id}'",
            max_results=10_000,
        )
    return {int(r.data.tags[TRIAL_TAG]) for r in runs if TRIAL_TAG in r.data.tags}


def log_trials(registry: Registry, model: str, parent_run_id: str,
               trials: list[dict[str, Any]]) -> int:
    """Log each trial (``trial_record`` dicts) not yet logged as a child run; returns how
    many were logged."""
    if not trials:
        return 0
    experiment_id = registry._experiment_id(model)
    done = logged_trials(registry, model, parent_run_id)
    count = 0
    client = registry.client
    for trial in trials:
        if trial["number"] in done:
            continue
        now = int(time.time() * 1000)
        with _mlflow_errors(f"cannot log tuning trial {trial['number']}"):
            run = client.create_run(
                experiment_id, run_name=f"trial-{trial['number']}",
                tags={"mlflow.parentRunId": parent_run_id, RUN_KIND: "trial",
                      TRIAL_TAG: str(trial["number"]), "retrainer.trial_state": trial["state"]},
            )
            metrics = [Metric(k, float(v), now, 0) for k, v in trial["metrics"].items()
                       if v is not None and math.isfinite(v)]
            params = [Param(k, _param_value(v)) for k, v in trial["params"].items()]
            tags = [RunTag(f"retrainer.{k}", str(v)) for k, v in trial.get("notes", {}).items()]
            client.log_batch(run.info.run_id, metrics=metrics, params=params, tags=tags)
            client.set_terminated(run.info.run_id, status=STATUS.get(trial["state"], "FINISHED"))
        count += 1
    return count
