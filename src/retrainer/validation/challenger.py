"""Challengers: a rejected candidate gets further looks from the gate as labels arrive.

A holdout of a few days is often too small to prove a fresh model better, and a model that
stays in production because of it goes on ageing. With ``validation.challenger`` enabled the
newest rejected candidate, if it was trained after production, stays a *challenger* for
``max_age``: both models are scored on every labelled row neither was trained on, from the
candidate's holdout on, and each time those rows have grown ``growth`` times the gate runs
again, its test at ``alpha / max_looks`` so that the extra looks together keep the gate's
false-promotion rate. Each look is stored as a decision (trigger ``challenger``) with its
evidence; a look that passes promotes the candidate (its job goes rejected -> promoted).

The orchestrator does the I/O (``orchestrator.reconsider``); this module decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from retrainer.config import ModelConfig
from retrainer.domain import Job, JobState, ModelVersion, TriggerDecision, ValidationReport
from retrainer.store import Store
from retrainer.validation.gate import evaluate_candidate

TRIGGER = "challenger"


@dataclass(frozen=True)
class Challenger:
    version: ModelVersion
    job: Job
    verdict: ValidationReport  # the gate's first verdict, on the candidate's own holdout
    looks: int  # extra looks taken so far
    rows: int  # rows the last look (or the first verdict) judged on


def find_challenger(store: Store, model: ModelConfig, champion: ModelVersion | None,
                    as_of: datetime) -> Challenger | None:
    """The newest registered version, if it is a rejected candidate that may look again."""
    cfg = model.validation.challenger
    if not cfg.enabled or champion is None or model.validation.test == "cv_paired_t":
        return None  # cv_paired_t compares CV folds: new rows cannot add to its evidence
    latest = store.latest_version(model.name)
    if latest is None or latest.status != "rejected" or latest.job_id is None:
        return None
    job = store.get_job(latest.job_id)
    verdict = store.report(job.id)
    champion_as_of = champion.lineage.get("as_of")
    if (job.state is not JobState.REJECTED or verdict is None
            or verdict.champion_version != champion.version  # judged against another model
            or as_of - job.as_of > cfg.max_age
            or (champion_as_of and job.as_of <= datetime.fromisoformat(champion_as_of))):
        return None
    looks = [d for d in store.decisions(model.name, TRIGGER, limit=cfg.max_looks)
             if d.job_id == job.id]
    if len(looks) >= cfg.max_looks:
        return None
    rows = looks[0].evidence["rows"] if looks else verdict.holdout_rows
    return Challenger(latest, job, verdict, len(looks), rows)


def evidence_start(challenger: Challenger, champion: ModelVersion) -> datetime:
    """Where the rows neither model was trained on begin."""
    start = pd.Timestamp(challenger.verdict.holdout_start)
    trained_until = champion.lineage.get("data_end")
    if trained_until:
        start = max(start, pd.Timestamp(trained_until))
    start = start.tz_localize("UTC") if start.tzinfo is None else start
    return start.to_pydatetime()


def due(challenger: Challenger, rows: int, model: ModelConfig) -> bool:
    return rows >= model.validation.challenger.growth * challenger.rows


def look_again(model: ModelConfig, challenger: Challenger, labelled: pd.DataFrame,
               candidate_prediction: Any, champion_prediction: Any,
               classes: Any = None, champion_classes: Any = None) -> ValidationReport:
    """The gate on the grown evidence, with its share of ``alpha``."""
    cfg = model.validation
    stricter = model.model_copy(update={"validation": cfg.model_copy(
        update={"alpha": cfg.alpha / cfg.challenger.max_looks, "metric_ci": False})})
    times = labelled[model.time_column]
    return evaluate_candidate(
        model=stricter,
        y_true=labelled[model.target].to_numpy(),
        candidate_prediction=candidate_prediction,
        champion_prediction=champion_prediction,
        champion_version=challenger.verdict.champion_version,
        holdout_start=pd.Timestamp(times.min()).isoformat(),
        holdout_end=pd.Timestamp(times.max()).isoformat(),
        classes=classes,
        champion_classes=champion_classes,
        trigger=challenger.job.trigger,
        slice_values={c.column: labelled[c.column].to_numpy()
                      for c in cfg.slices if c.column in labelled.columns},
    )


def look_decision(model: ModelConfig, challenger: Challenger, report: ValidationReport,
                  as_of: datetime) -> TriggerDecision:
    """The stored record of one look (``fired``: the candidate is promoted)."""
    look = challenger.looks + 1
    test = report.test
    head = (f"challenger {challenger.version.version} (job #{challenger.job.id}), look {look} "
            f"of {model.validation.challenger.max_looks} on {report.holdout_rows} rows")
    return TriggerDecision(
        model=model.name,
        trigger=TRIGGER,
        as_of=as_of,
        condition_met=report.passed,
        fired=report.passed,
        reason=f"{head}: " + "; ".join(report.reasons),
        evidence={
            "version": challenger.version.version,
            "look": look,
            "rows": report.holdout_rows,
            "start": report.holdout_start,
            "end": report.holdout_end,
            "improvement": report.improvement,
            "p_value": test.p_value if test else None,
            "alpha": test.alpha if test else None,
            "passed": report.passed,
        },
        job_id=challenger.job.id,
    )
