"""The retraining loop as plain functions. The CLI, the demo and (later) the API and the
scheduler all call these; none of them holds business logic of its own.

    tick ─ reap stale jobs ─ decide finished jobs ─ per model: challenger look → monitor
         → triggers → guards → job → readiness ─ run due jobs on the executor
         ─ decide: promote | reject
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from retrainer.config import ModelConfig
from retrainer.data.labels import labelled_rows
from retrainer.data.readiness import (
    CheckResult,
    ReadinessContext,
    check_readiness,
    null_shares_of,
)
from retrainer.data.sources import make_source
from retrainer.domain import (
    Event,
    EventKind,
    GateOutcome,
    Job,
    JobState,
    ModelVersion,
    MonitorReading,
    Promotion,
    TriggerDecision,
    Window,
)
from retrainer.exceptions import (
    DataError,
    DigestMismatchError,
    IllegalTransitionError,
    RegistryError,
    RetrainerError,
    UsageError,
)
from retrainer.executors import EventCallback
from retrainer.monitoring.window import (
    drift_reading,
    estimated_reading,
    failed_load_reading,
    fairness_reading,
    latency_reading,
    performance_reading,
)
from retrainer.registry.semver import is_semver, release
from retrainer.runtime import Runtime
from retrainer.store import ActiveJobExistsError
from retrainer.training.run import retry_policy_for
from retrainer.triggers import UNTRAINED, Evaluation, TriggerContext, evaluate_triggers
from retrainer.triggers import guard_manual as _guard_manual
from retrainer.validation import challenger as challengers

log = logging.getLogger(__name__)
MAX_PASSES = 50


@dataclass(frozen=True)
class JobOutcome:
    job_id: int
    model: str
    state: JobState
    version: str | None
    reason: str


@dataclass
class ModelTick:
    model: str
    as_of: datetime
    champion: str | None
    challenger: Promotion | None = None  # a rejected candidate promoted by a later look
    readings: dict[str, MonitorReading] = field(default_factory=dict)
    evaluation: Evaluation | None = None
    job: Job | None = None
    readiness: list[CheckResult] = field(default_factory=list)
    error: str | None = None  # what stopped this model's tick; the other models still ran


@dataclass
class TickReport:
    as_of: datetime
    models: list[ModelTick] = field(default_factory=list)
    outcomes: list[JobOutcome] = field(default_factory=list)
    reaped: list[int] = field(default_factory=list)

    def outcome_for(self, model: str) -> JobOutcome | None:
        found = [o for o in self.outcomes if o.model == model]
        return found[-1] if found else None


def _notify(rt: Runtime, kind: EventKind, model: str, as_of: datetime, message: str,
            job_id: int | None = None, **details: Any) -> None:
    rt.notifier.send(Event(kind, model, as_of, message, job_id, details))


# --- monitoring and triggers ---------------------------------------------------------------


def monitor(rt: Runtime, model: ModelConfig, as_of: datetime,
            champion: ModelVersion | None) -> dict[str, MonitorReading]:
    """Compute and store this window's readings for the production version."""
    if champion is None:
        return {}
    window = Window.latest(as_of, model.monitoring_window)
    readings: dict[str, MonitorReading] = {}
    try:
        frame = make_source(model, rt.config.root).load(window)
        if len(frame):
            if model.monitors.drift.enabled and champion.profile:
                readings["drift"] = drift_reading(model, champion, frame, window, as_of)
            if model.monitors.performance.enabled:
                bundle = rt.bundle(champion)
                reading = performance_reading(model, champion, bundle, frame, window, as_of)
                if reading is not None:
                    readings["performance"] = reading
                estimate = estimated_reading(model, champion, bundle, frame, window, as_of)
                if estimate is not None:
                    readings["estimated"] = estimate
            if model.monitors.fairness.enabled:
                reading = fairness_reading(model, champion, rt.bundle(champion), frame, window,
                                           as_of)
                if reading is not None:
                    readings["fairness"] = reading
            if model.monitors.latency.enabled:
                reading = latency_reading(model, frame, window, as_of)
                if reading is not None:
                    readings["latency"] = reading
    except DataError as error:
        readings = {"data": failed_load_reading(model, window, as_of, error)}
    for reading in readings.values():
        rt.store.add_reading(reading)
    return readings


#: readings the auto trigger looks back over (the typical loss of a window) and validations
#: it learns the gain rate from
AUTO_HISTORY = 30_000  # a year of hourly ticks, three monitors a tick
AUTO_GATES = 200


def _context(rt: Runtime, model: ModelConfig, as_of: datetime, champion: ModelVersion | None,
             readings: dict[str, MonitorReading]) -> TriggerContext:
    history: list[MonitorReading] = []
    gates: list[GateOutcome] = []
    auto = model.triggers.auto
    if auto.enabled and champion is not None:
        # the clock reads back to the last retrain (max_interval at most), its typical loss
        # over typical_window
        since = as_of - max(auto.typical_window, auto.max_interval)
        history = [r for r in reversed(rt.store.verdict_readings(
                       model.name, ("performance", "estimated", "drift"), limit=AUTO_HISTORY,
                       since=since))
                   if r.as_of <= as_of]
        if auto.learn_gain_rate != "off":
            gates = [g for g in rt.store.gate_outcomes(model.name, limit=AUTO_GATES)
                     if g.as_of <= as_of]
    return TriggerContext(
        model=model,
        as_of=as_of,
        champion=champion,
        readings=readings,
        last_job_as_of=rt.store.last_job_as_of(model.name, exclude=UNTRAINED),
        history=history,
        gates=gates,
    )


def tick_model(rt: Runtime, model: ModelConfig, as_of: datetime) -> ModelTick:
    champion = rt.store.champion(model.name)
    promoted = reconsider(rt, model, as_of, champion)
    if promoted is not None:
        champion = rt.store.champion(model.name)
    result = ModelTick(model.name, as_of, champion.version if champion else None, promoted)
    result.readings = monitor(rt, model, as_of, champion)
    evaluation = evaluate_triggers(rt.store, _context(rt, model, as_of, champion, result.readings))
    result.evaluation = evaluation
    ids = [rt.store.add_decision(d) for d in evaluation.decisions]
    if evaluation.fire and evaluation.trigger:
        fired_ids = [i for i, d in zip(ids, evaluation.decisions, strict=True) if d.fired]
        evidence = {d.trigger: d.evidence for d in evaluation.decisions if d.fired}
        try:
            result.job, result.readiness = start_job(
                rt, model, evaluation.trigger, evaluation.reason, as_of, evidence, fired_ids
            )
        except ActiveJobExistsError as error:  # another scheduler won the race
            log.warning("%s", error)
    return result


# --- jobs ----------------------------------------------------------------------------------


def readiness(rt: Runtime, model: ModelConfig, as_of: datetime) -> list[CheckResult]:
    window = Window.latest(as_of, model.training_window)
    try:
        frame = make_source(model, rt.config.root).load(window)
    except DataError as error:
        return [CheckResult("load", False, str(error), {})]
    champion = rt.store.champion(model.name)
    expected = champion.lineage.get("schema") if champion else None
    context = ReadinessContext(
        model=model,
        window=window,
        features=model.feature_columns(list(frame.columns)),
        expected_schema=expected,
        reference_null_shares=null_shares_of(champion.profile if champion else None),
    )
    return check_readiness(frame, context)


def start_job(rt: Runtime, model: ModelConfig, trigger: str, reason: str, as_of: datetime,
              evidence: dict[str, Any], decision_ids: list[int],
              actor: str = "retrainer") -> tuple[Job, list[CheckResult]]:
    """Create the job, announce it, and skip it at once if its data is not ready."""
    job = rt.store.create_job(
        model.name,
        trigger=trigger,
        reason=reason,
        as_of=as_of,
        config=rt.snapshot(model).to_json(),
        max_attempts=rt.config.executor.retry.max_retries + 1,
        evidence=evidence,
        actor=actor,
    )
    rt.store.link_decisions(decision_ids, job.id)
    _notify(rt, EventKind.TRIGGER_FIRED, model.name, as_of,
            f"{trigger} trigger fired: {reason}", job.id, trigger=trigger)
    checks = readiness(rt, model, as_of)
    failed = [c for c in checks if not c.passed]
    if failed:
        why = "; ".join(f"{c.name}: {c.reason}" for c in failed)
        job = rt.store.transition(job.id, JobState.SKIPPED, reason=f"data not ready: {why}",
                                  as_of=as_of)
        _notify(rt, EventKind.DATA_NOT_READY, model.name, as_of,
                f"job #{job.id} skipped, data not ready: {why}", job.id,
                checks=[c.name for c in failed])
    return job, checks


def run_pending(rt: Runtime, as_of: datetime, *,
                on_event: EventCallback | None = None) -> list[JobOutcome]:
    """Run every due job on the executor, then decide each finished one."""
    outcomes: list[JobOutcome] = []
    executor = rt.executor(on_event)
    # a retry whose delay has already passed (e.g. zero) runs in a later pass of this loop;
    # the bound only guards against a job that keeps coming back due
    for _ in range(MAX_PASSES):
        due = rt.store.due_jobs()
        if not due:
            break
        # open MLflow's store here first: on a fresh SQLite tracking database, workers that
        # opened it at the same time would race through MLflow's own schema migrations
        rt.registry.open()
        for job in due:
            executor.submit(job.id)
        for job_id in executor.wait():
            outcome = _after_attempt(rt, rt.store.get_job(job_id), as_of)
            if outcome is not None:
                outcomes.append(outcome)
    return outcomes


def _after_attempt(rt: Runtime, job: Job, as_of: datetime) -> JobOutcome | None:
    if job.state is JobState.SUCCEEDED:
        return decide(rt, job, as_of)
    if job.state is JobState.FAILED:
        _notify(rt, EventKind.JOB_FAILED, job.model, as_of,
                f"job #{job.id} failed after {job.attempts} attempt(s): {job.state_reason}",
                job.id)
        return JobOutcome(job.id, job.model, job.state, None, job.state_reason or "")
    if job.state is JobState.QUEUED:
        log.warning("job #%s: %s", job.id, job.state_reason)
        return None
    return JobOutcome(job.id, job.model, job.state, job.candidate_version,
                      job.state_reason or "")


def decide(rt: Runtime, job: Job, as_of: datetime) -> JobOutcome:
    """Promote or reject a trained candidate. The decision is made in the store first."""
    version = job.candidate_version
    report = rt.store.report(job.id)
    pointer = rt.store.champion_pointer(job.model)
    current = pointer[0] if pointer else None
    if report is None or version is None:
        reason = "no validation report was stored for the candidate"
    elif report.champion_version != current:
        reason = (f"production changed from {report.champion_version} to {current} while the "
                  "candidate trained; it was not compared with the current version")
    elif report.passed and (refused := _artifact_refused(rt, job.model, version)):
        reason = refused
    elif report.passed:
        reason = "; ".join(report.reasons)
        promotion = rt.store.promote(job.model, version, expected_current=current,
                                     job_id=job.id, reason=reason, as_of=as_of,
                                     semver=_released_semver(rt, job.model, version))
        mirror(rt, job.model)
        _notify(rt, EventKind.PROMOTED, job.model, as_of,
                f"version {version} promoted to production (was {current or 'none'})", job.id,
                version=version, previous=current, promotion_id=promotion.id)
        return JobOutcome(job.id, job.model, JobState.PROMOTED, version, reason)
    else:
        reason = "; ".join(report.reasons)
    rt.store.transition(job.id, JobState.REJECTED, reason=reason, as_of=as_of)
    if version is not None:
        rt.store.set_version_status(job.model, version, "rejected")
        try:
            rt.registry.set_version_tags(job.model, version, {"retrainer.status": "rejected"})
        except RegistryError as error:
            log.warning("could not tag rejected version %s: %s", version, error)
    _notify(rt, EventKind.CANDIDATE_REJECTED, job.model, as_of,
            f"candidate {version} rejected; production stays {current}: {reason}", job.id,
            version=version)
    return JobOutcome(job.id, job.model, JobState.REJECTED, version, reason)


def reconsider(rt: Runtime, model: ModelConfig, as_of: datetime,
               champion: ModelVersion | None) -> Promotion | None:
    """Give the newest rejected candidate another look once enough new labels have arrived
    (``validation.challenger``); promote it if it now passes the gate."""
    challenger = challengers.find_challenger(rt.store, model, champion, as_of)
    if challenger is None or champion is None:
        return None
    window = Window(challengers.evidence_start(challenger, champion), as_of)
    try:
        frame = make_source(model, rt.config.root).load(window)
    except DataError as error:
        log.warning("challenger %s not scored: %s", challenger.version.version, error)
        return None
    labelled = labelled_rows(frame, model.target)
    if not challengers.due(challenger, len(labelled), model):
        return None
    candidate, production = rt.bundle(challenger.version), rt.bundle(champion)
    report = challengers.look_again(model, challenger, labelled, candidate.prediction(labelled),
                                    production.prediction(labelled), candidate.classes,
                                    production.classes)
    rt.store.add_decision(challengers.look_decision(model, challenger, report, as_of))
    version, job_id = challenger.version.version, challenger.job.id
    if not report.passed or _artifact_refused(rt, model.name, version):
        return None
    reason = f"challenger, look {challenger.looks + 1}: " + "; ".join(report.reasons)
    try:
        promotion = rt.store.promote(model.name, version, expected_current=champion.version,
                                     job_id=job_id, reason=reason, as_of=as_of,
                                     semver=_released_semver(rt, model.name, version))
    except IllegalTransitionError as error:  # another scheduler changed production first
        log.warning("challenger %s not promoted: %s", version, error)
        return None
    mirror(rt, model.name)
    try:
        rt.registry.set_version_tags(model.name, version, {
            "retrainer.challenger": f"promoted by look {challenger.looks + 1} on "
                                    f"{report.holdout_rows} rows"})
    except RegistryError as error:
        log.warning("could not tag challenger version %s: %s", version, error)
    _notify(rt, EventKind.PROMOTED, model.name, as_of,
            f"challenger {version} promoted to production (was {champion.version}) after "
            f"{report.holdout_rows} rows", job_id, version=version, previous=champion.version,
            promotion_id=promotion.id)
    return promotion


def _artifact_refused(rt: Runtime, model: str, version: str) -> str | None:
    """Why the candidate's stored artifact may not be promoted (its digest changed), or None."""
    stored = rt.store.get_version(model, version)
    try:
        rt.registry.verify(model, version, stored.artifact_sha256)
    except DigestMismatchError as error:
        return f"not promoted: {error}"
    return None


def _released_semver(rt: Runtime, model: str, version: str) -> str | None:
    """The candidate's semantic version without its -rc suffix (registry/semver.py)."""
    stored = rt.store.get_version(model, version)
    if not stored.semver or not is_semver(stored.semver):
        return None
    return release(stored.semver, rt.store.semvers(model))


def decide_finished(rt: Runtime, as_of: datetime) -> list[JobOutcome]:
    """Jobs trained by an earlier run (or another executor) that still await their decision."""
    return [decide(rt, job, as_of) for job in rt.store.list_jobs(states={JobState.SUCCEEDED})]


def reap(rt: Runtime) -> list[int]:
    """Running jobs whose worker stopped heartbeating: fail the attempt, retry per policy."""
    stale_after = timedelta(seconds=rt.config.executor.stale_after_seconds)
    reaped = rt.store.reap_stale(stale_after, retry_policy_for)
    for job in reaped:
        log.warning("job #%s reaped (%s)", job.id, job.state_reason)
    return [job.id for job in reaped]


# --- registry mirror and rollback ----------------------------------------------------------


def mirror(rt: Runtime, model: str) -> bool:
    """Make MLflow's aliases match the store. Idempotent; retried on the next tick on failure."""
    pointer = rt.store.champion_pointer(model)
    champion, previous = pointer if pointer else (None, None)
    try:
        rt.registry.sync_aliases(model, champion, previous)
        if champion:
            semver = rt.store.get_version(model, champion).semver
            tags = {"retrainer.status": "champion"}
            rt.registry.set_version_tags(model, champion,
                                         {**tags, "retrainer.semver": semver} if semver else tags)
    except RegistryError as error:
        log.warning("MLflow aliases of %s not mirrored yet: %s", model, error)
        return False
    rt.store.mark_mirrored(model, champion)
    return True


def rollback(rt: Runtime, model: str, *, reason: str, actor: str,
             as_of: datetime | None = None) -> Promotion:
    """Restore the previous champion, in the store then in MLflow, and tell everyone."""
    rt.config.model(model)
    as_of = as_of or rt.clock.now()
    promotion = rt.store.rollback(model, reason=reason, as_of=as_of, actor=actor)
    if promotion.from_version:
        try:
            rt.registry.set_version_tags(model, promotion.from_version,
                                         {"retrainer.status": "rolled_back"})
        except RegistryError as error:
            log.warning("could not tag rolled-back version: %s", error)
    mirror(rt, model)
    _notify(rt, EventKind.ROLLED_BACK, model, as_of,
            f"rolled back from version {promotion.from_version} to {promotion.to_version}: "
            f"{reason}", None, version=promotion.to_version, rolled_back=promotion.from_version)
    return promotion


# --- entry points --------------------------------------------------------------------------


def tick(rt: Runtime, *, as_of: datetime | None = None, models: list[str] | None = None,
         on_event: EventCallback | None = None, isolate: bool = True) -> TickReport:
    """One pass of the loop for every (or the named) model(s). With ``isolate``, an error in
    one model's tick is logged and reported on its ``ModelTick`` and the others still run;
    without (replays, the demo), it is raised."""
    as_of = as_of or rt.clock.now()
    report = TickReport(as_of)
    report.reaped = reap(rt)
    for name in rt.store.unmirrored_models():
        mirror(rt, name)
    report.outcomes.extend(decide_finished(rt, as_of))
    selected = [rt.config.model(n) for n in models] if models else rt.config.models
    for model in selected:
        try:
            report.models.append(tick_model(rt, model, as_of))
        except Exception as error:  # one model's failure must not stop the others' ticks
            if not isolate:
                raise
            if isinstance(error, RetrainerError):  # ours: the message says it all
                log.error("tick of model %r failed: %s", model.name, error)
            else:
                log.exception("tick of model %r failed", model.name)
            champion = rt.store.champion(model.name)
            report.models.append(ModelTick(
                model.name, as_of, champion.version if champion else None,
                error=f"{type(error).__name__}: {error}"))
    report.outcomes.extend(run_pending(rt, as_of, on_event=on_event))
    return report


def request_retrain(rt: Runtime, model_name: str, *, reason: str, actor: str,
                    as_of: datetime | None = None, force: bool = False,
                    on_event: EventCallback | None = None, trigger: str = "manual",
                    evidence: dict[str, Any] | None = None) -> tuple[Job, list[JobOutcome]]:
    """The manual trigger: skips debounce and cooldown; budgets hold unless ``force``.

    ``trigger`` names the request's decision and job: ``manual``, or ``schedule`` for a
    request made on a fixed schedule from outside (a cron job, a backtest's ``periodic:K``),
    whose job the gate then treats as a scheduled one (``validation.non_inferiority``).
    ``evidence`` is kept with the decision and the job. Raises ``UsageError`` when held."""
    model = rt.config.model(model_name)
    as_of = as_of or rt.clock.now()
    champion = rt.store.champion(model.name)
    holds = _guard_manual(rt.store, _context(rt, model, as_of, champion, {}), force=force)
    text = reason + (f" — held: {'; '.join(holds)}" if holds else "")
    decision_id = rt.store.add_decision(TriggerDecision(
        model=model.name, trigger=trigger, as_of=as_of, condition_met=True, fired=not holds,
        reason=text, evidence={"actor": actor, "force": force, **(evidence or {})},
    ))
    if holds:
        budget = not force and any("budget" in hold for hold in holds)
        raise UsageError(f"retrain of {model.name!r} not started: {'; '.join(holds)}"
                         + (" (use --force to override a budget)" if budget else ""))
    job, _ = start_job(rt, model, trigger, reason, as_of,
                       {trigger: {"actor": actor, **(evidence or {})}}, [decision_id],
                       actor=actor)
    outcomes = run_pending(rt, as_of, on_event=on_event) if job.state is JobState.QUEUED else []
    return rt.store.get_job(job.id), outcomes
