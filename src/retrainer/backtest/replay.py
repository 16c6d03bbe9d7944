"""One replay of one policy through ``orchestrator.tick``, and many side by side."""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from retrainer.backtest.history import History
from retrainer.config import (
    ExecutorConfig,
    ModelConfig,
    ProjectConfig,
    RetrainerConfig,
    RetryConfig,
)
from retrainer.config import (
    ReplaySource as ReplaySpec,
)
from retrainer.data.labels import labelled_rows
from retrainer.data.replay import naive_utc
from retrainer.domain.metrics import METRICS

if TYPE_CHECKING:
    from retrainer.domain import Job
    from retrainer.orchestrator import JobOutcome, ModelTick
    from retrainer.runtime import Runtime


@dataclass
class PolicyResult:
    name: str
    metric: float
    retrains: int
    promotions: int
    rejections: int
    train_seconds: float
    per_batch: list[float | None]
    trainings: int = 0
    seconds: float = 0.0
    rows: list[int] = field(default_factory=list)
    trained: list[int] = field(default_factory=list)  # batches preceded by a training job
    promoted: list[int] = field(default_factory=list)  # batches preceded by a promotion
    drift: list[float | None] = field(default_factory=list)  # the tick's drift score
    # auto's loss-weighted days over the days at which it is due (1: retrain), per tick;
    # empty when the policy has no auto trigger
    auto_clock: list[float | None] = field(default_factory=list)
    # batches with labels but no production model to score them, and the newest job that
    # did not produce one (its state and reason), so an empty result says why
    unscored: int = 0
    unscored_reason: str | None = None
    # jobs that trained nothing (readiness skipped them, or they failed), and the newest one's
    # state and reason: a policy whose retrains were refused did not choose not to retrain
    untrained: int = 0
    untrained_reason: str | None = None
    period: int | None = None  # periodic:auto: the K of the schedule it replayed

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass(frozen=True)
class PolicyRun:
    policy: str
    model: dict[str, Any]  # the policy's ModelConfig, as JSON
    history: History
    label_delay: timedelta
    registry: str
    output: Path
    threads: int
    label: str = ""  # names the run in progress and results; default: the policy
    period: int | None = None  # periodic:auto: the K of the schedule it replays
    # always, periodic:K: the replay asks for a retrain every K batches, as a cron job would
    every: int | None = None

    @property
    def key(self) -> str:
        return self.label or self.policy


def weighted_metric(values: list[float | None], rows: list[int]) -> float:
    """Row-weighted mean of the per-batch metric over the scored batches (NaN if none)."""
    pairs = [(v, n) for v, n in zip(values, rows, strict=True)
             if v is not None and math.isfinite(v) and n]
    total = sum(n for _, n in pairs)
    return sum(v * n for v, n in pairs) / total if total else math.nan


def replay(run: PolicyRun, progress: Callable[[int, int], None] | None = None) -> PolicyResult:
    """Run one policy over the whole history through ``orchestrator.tick``."""
    import logging

    from retrainer import orchestrator
    from retrainer.clock import SimulatedClock
    from retrainer.data.replay import ReplaySource, drop_replay, register_replay
    from retrainer.domain import JobState
    from retrainer.notify import build_notifier
    from retrainer.registry.memory import drop_memory_registry
    from retrainer.runtime import Runtime
    from retrainer.store import Store
    from retrainer.validation.metrics import compute_metrics

    logging.getLogger("retrainer").setLevel(logging.ERROR)  # notifications: in the store
    began = time.monotonic()
    model = ModelConfig.model_validate(run.model)
    history = run.history
    assert isinstance(model.source, ReplaySpec)
    name = model.source.name
    clock = SimulatedClock(history.boundaries[0].to_pydatetime())
    register_replay(name, ReplaySource(history.frame, history.time_column, model.target, clock,
                                       run.label_delay))
    slug = run.policy.replace(":", "-")
    kept = run.output / "state" / slug  # the replay's store, kept for `retrainer history`
    shutil.rmtree(kept, ignore_errors=True)
    kept.mkdir(parents=True)
    if run.registry == "mlflow":
        # absolute: the saved config below is read from anywhere, its paths from its folder
        home = (run.output / "mlflow" / slug).resolve()
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        tracking, artifacts = f"sqlite:///{home / 'mlflow.db'}", str(home / "mlartifacts")
    else:
        tracking, artifacts = f"memory://{name}", ""
    config = RetrainerConfig(
        project=ProjectConfig(state_store_url="sqlite:///state.db",
                              mlflow_tracking_uri=tracking,
                              mlflow_artifact_location=artifacts or "mlartifacts"),
        executor=ExecutorConfig(kind="inline", retry=RetryConfig(max_retries=0)),
        models=[model],
    )
    (kept / "retrainer.yaml").write_text(
        "# the config one backtest replay ran with; its store is state.db beside it:\n"
        f"#   retrainer -c {kept / 'retrainer.yaml'} history\n"
        + ("" if run.registry == "mlflow" else
           "# its models lived in memory and ended with the replay (--registry mlflow keeps "
           "them)\n")
        + ("" if run.every is None else
           f"# {run.policy}: the replay asked for a retrain (trigger schedule) "
           f"{_every_text(run.every)} since the last training job; no trigger below did\n")
        + yaml.safe_dump(config.model_dump(mode="json", exclude_defaults=True),
                         sort_keys=False))
    rt = Runtime(config=config, store=Store(f"sqlite:///{kept / 'state.db'}"),
                 notifier=build_notifier(config.project), tracking_uri=tracking,
                 artifact_location=artifacts, clock=clock, threads=run.threads)
    times = naive_utc(history.frame[history.time_column])
    spec = METRICS[model.metric]
    result = PolicyResult(run.policy, math.nan, 0, 0, 0, 0.0, [], period=run.period)
    last_trained: int | None = None  # the batch before which the newest job trained (or failed)
    try:
        for index in range(history.batches):
            start, end = history.boundaries[index], history.boundaries[index + 1]
            clock.set(start.to_pydatetime())
            report = orchestrator.tick(rt, isolate=False)
            tick = report.models[0]
            outcomes = [o for o in report.outcomes if o.model == model.name]
            if tick.job is not None and tick.job.state is not JobState.SKIPPED:
                last_trained = index  # the first model's job, from the initial trigger
            elif (tick.job is None and run.every is not None and last_trained is not None
                  and index - last_trained >= run.every):
                job, done = scheduled_retrain(rt, model.name, run, index - last_trained)
                outcomes.extend(done)
                if job.state is not JobState.SKIPPED:  # a skipped job: asked again next batch
                    last_trained = index
            outcome = outcomes[-1] if outcomes else None
            if outcome is not None and outcome.state in (JobState.PROMOTED, JobState.REJECTED):
                result.trained.append(index)
                if outcome.state is JobState.PROMOTED:
                    result.promoted.append(index)
            if tick.challenger is not None and index not in result.promoted:
                result.promoted.append(index)
            drift = tick.readings.get("drift")
            result.drift.append(drift.score if drift else None)
            if model.triggers.auto.enabled:
                result.auto_clock.append(auto_clock_share(tick))
            lo = int(np.searchsorted(times, naive_utc(start), "left"))
            hi = int(np.searchsorted(times, naive_utc(end), "left"))
            batch = labelled_rows(history.frame.iloc[lo:hi], model.target)
            champion = rt.store.champion(model.name)
            value = None
            if champion is not None and len(batch):
                bundle = rt.bundle(champion)
                scores = compute_metrics(model.task, batch[model.target].to_numpy(),
                                         bundle.prediction(batch), classes=bundle.classes)
                value = scores[spec.name]
            result.per_batch.append(value)
            result.rows.append(len(batch))
            result.unscored += bool(champion is None and len(batch))
            if progress:
                progress(index + 1, history.batches)
        jobs = rt.store.list_jobs(model.name, limit=1_000_000)
        trained = [j for j in jobs if j.state in (JobState.PROMOTED, JobState.REJECTED)]
        result.trainings = len(trained)
        result.retrains = sum(1 for j in trained if j.trigger != "initial")
        result.promotions = sum(1 for j in trained if j.trigger != "initial"
                                and j.state is JobState.PROMOTED)
        result.rejections = sum(1 for j in trained if j.state is JobState.REJECTED)
        untrained = [j for j in jobs if j.state in (JobState.SKIPPED, JobState.FAILED)]
        result.untrained = len(untrained)
        if untrained:  # jobs: newest first
            result.untrained_reason = (f"job {untrained[0].id} ({untrained[0].trigger}) "
                                       f"{untrained[0].state}: {untrained[0].state_reason}")
        if result.unscored:  # why: the newest job before the first model (jobs: newest first)
            first = min((j.id for j in jobs if j.state is JobState.PROMOTED), default=None)
            before = [j for j in jobs if j.state is not JobState.PROMOTED
                      and (first is None or j.id < first)]
            result.unscored_reason = (
                f"job {before[0].id} ({before[0].trigger}) {before[0].state}: "
                f"{before[0].state_reason}" if before else "no job ran")
        result.train_seconds = round(sum(
            (a.finished_at - a.started_at).total_seconds()
            for j in trained for a in rt.store.attempts(j.id) if a.finished_at), 3)
    finally:
        rt.close()
        drop_replay(name)
        drop_memory_registry(tracking)
    result.metric = weighted_metric(result.per_batch, result.rows)
    result.seconds = round(time.monotonic() - began, 2)
    return result


def scheduled_retrain(rt: Runtime, model: str, run: PolicyRun,
                      since: int) -> tuple[Job, list[JobOutcome]]:
    """The retrain a fixed schedule (``run.every`` batches) asks for, ``since`` batches after
    the last training job: through the orchestrator's manual path, as a team's cron job would
    ask, named ``schedule`` so that the gate treats its job as a scheduled one. Counted in
    batches, not in time (as ``schedule: {every: ...}`` would), it fires at every K-th batch
    however long each lasts; like ``every``, it counts from the last job that trained, so a
    skipped job is asked for again at the next batch."""
    from retrainer import orchestrator

    assert run.every is not None
    return orchestrator.request_retrain(
        rt, model, actor="backtest", trigger="schedule",
        reason=f"{run.policy}: a retrain {_every_text(run.every)}; {since} "
               f"batch{'es' if since > 1 else ''} since the last training job",
        evidence={"policy": run.policy, "every_batches": run.every,
                  "batches_since_training": since})


def _every_text(batches: int) -> str:
    """How often a schedule of ``batches`` retrains, in words.

    >>> _every_text(1), _every_text(4)
    ('every batch', 'every 4 batches')
    """
    return "every batch" if batches == 1 else f"every {batches} batches"


# --- many replays -----------------------------------------------------------------------------

_progress_queue: Any = None


def _init_worker(queue: Any) -> None:
    global _progress_queue
    _progress_queue = queue


def _replay_in_worker(run: PolicyRun) -> PolicyResult:
    queue = _progress_queue
    return replay(run, (lambda done, total: queue.put((run.key, done, total)))
                  if queue is not None else None)


def _cost_rank(policy: str) -> float:
    """Longest replays first, so two workers finish together."""
    if policy == "always":
        return 0
    if policy.startswith("periodic:"):
        return int(policy.split(":")[1])
    return 100 if policy != "never" else 1000


#: a run that can only be set up once another has finished (the schedule of auto's cost)
FollowUp = Callable[[PolicyResult], PolicyRun]


def replay_all(runs: list[PolicyRun], workers: int,
               on_progress: Callable[[str, int, int], None] | None,
               follow_ups: dict[str, FollowUp] | None = None) -> dict[str, PolicyResult]:
    """Every run's result by key, ``workers`` replays side by side. ``follow_ups`` maps a run's
    key to what builds another run from its result; that run starts as soon as it can."""
    follow_ups = dict(follow_ups or {})
    if workers == 1:
        results = {}
        pending = list(runs)
        while pending:
            run = pending.pop(0)

            def step(done: int, total: int, key: str = run.key) -> None:
                if on_progress:
                    on_progress(key, done, total)
            results[run.key] = replay(run, step)
            if run.key in follow_ups:
                pending.insert(0, follow_ups[run.key](results[run.key]))
        return results
    import multiprocessing
    import queue as queue_module

    from retrainer.executors.local import process_context

    manager = multiprocessing.Manager()
    queue = manager.Queue()
    # a run with a follow-up first: the follow-up then overlaps the others
    ordered = sorted(runs, key=lambda run: (run.key not in follow_ups, _cost_rank(run.policy)))
    every_run = list(runs)
    try:
        with ProcessPoolExecutor(workers, mp_context=process_context(),
                                 initializer=_init_worker, initargs=(queue,)) as pool:
            futures = {run.key: pool.submit(_replay_in_worker, run) for run in ordered}
            while True:
                for key in [key for key in follow_ups if futures[key].done()]:
                    follow_up = follow_ups.pop(key)(futures[key].result())
                    futures[follow_up.key] = pool.submit(_replay_in_worker, follow_up)
                    every_run.append(follow_up)
                if not follow_ups and all(f.done() for f in futures.values()):
                    break
                try:
                    key, done, total = queue.get(timeout=0.2)
                except queue_module.Empty:
                    continue
                if on_progress:
                    on_progress(key, done, total)
            results = {key: future.result() for key, future in futures.items()}
    finally:
        manager.shutdown()
    if on_progress:  # the last updates may still have been queued
        for run in every_run:
            on_progress(run.key, run.history.batches, run.history.batches)
    return results


def auto_clock_share(tick: ModelTick) -> float | None:
    """The tick's auto decision: loss-weighted days over the days at which it is due, or
    None when it did not count (no production model yet, or an interval bound decided)."""
    decisions = tick.evaluation.decisions if tick.evaluation else []
    evidence = next((d.evidence for d in decisions if d.trigger == "auto"), {})
    if "clock_days" not in evidence or not evidence.get("due_clock_days"):
        return None
    return round(float(evidence["clock_days"]) / float(evidence["due_clock_days"]), 4)
