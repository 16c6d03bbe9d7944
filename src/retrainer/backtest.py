"""``retrainer backtest``: replay history through the real loop and compare retraining policies.

Each policy is one replay: a simulated clock walks the batch boundaries; at each boundary the
real ``orchestrator.tick`` runs (monitors, triggers, guards, readiness, training on the inline
executor, the validation gate, promotion), then the next batch is predicted by whichever
version is production and scored. Data comes from a ``ReplaySource``, so rows after the clock
do not exist yet and labels appear only ``label_delay`` after their row: no model sees a
batch's labels before it has predicted that batch (prequential evaluation).

Policies differ only in their ``triggers`` section; everything else (training, the gate,
promotion) is the model's configuration, the same for every policy. Each replay gets a
throwaway SQLite store and, unless ``registry="mlflow"``, an in-process registry.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from retrainer.config import (
    ExecutorConfig,
    ModelConfig,
    ProjectConfig,
    RetrainerConfig,
    RetryConfig,
    ScheduleTriggerConfig,
    TriggersConfig,
    load_config,
)
from retrainer.config import (
    ReplaySource as ReplaySpec,
)
from retrainer.data.replay import naive_utc
from retrainer.domain.metrics import METRICS, Task, metrics_for
from retrainer.exceptions import DataError, UsageError

DEFAULT_POLICIES = ("never", "always", "periodic:4", "drift", "performance", "auto")
SYNTHETIC_TIME = "__row_time__"
#: the synthetic clock's step per row when row order is time: configured durations (windows,
#: cooldowns, auto intervals) then read one row as one hour
ROW_STEP = timedelta(hours=1)
_SIZE = re.compile(r"^\s*(\d+)\s*([a-zA-Z]*)\s*$")
_PERIODS = {"h": "hours", "d": "days", "w": "weeks", "m": "months", "y": "years"}


# --- sizes, data and batches ----------------------------------------------------------------


@dataclass(frozen=True)
class Size:
    """A row count (``unit`` None) or a calendar period (``7D``, ``2W``, ``1M``)."""

    count: int
    unit: str | None = None

    @classmethod
    def parse(cls, text: str | int, what: str) -> Size:
        match = _SIZE.match(str(text))
        if not match or int(match.group(1)) <= 0:
            raise UsageError(f"--{what}: {text!r} is not a row count (1000) or a period "
                             "(12H, 7D, 2W, 1M, 1Y)")
        unit = match.group(2).lower() or None
        if unit is not None and unit not in _PERIODS:
            raise UsageError(f"--{what}: unknown unit in {text!r}; use H, D, W, M or Y")
        return cls(int(match.group(1)), unit)

    def offset(self) -> pd.DateOffset:
        assert self.unit is not None
        return pd.DateOffset(**{_PERIODS[self.unit]: self.count})

    @property
    def text(self) -> str:
        """As the command line takes it: ``7D`` or ``1000``."""
        return f"{self.count}{(self.unit or '').upper()}"

    def __str__(self) -> str:
        return self.text if self.unit else f"{self.count} rows"


def read_history(path: Path) -> pd.DataFrame:
    """A CSV (gzip allowed) or Parquet file, whole. Raises UsageError when there is no such
    file and DataError on anything unreadable."""
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    try:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, compression="infer")
    except Exception as error:  # pandas/pyarrow raise many kinds for a bad file
        raise DataError(f"{path}: cannot read it ({error})") from error
    if frame.empty:
        raise DataError(f"{path}: the file has no rows")
    return frame


def infer_task(target: pd.Series) -> Task:
    """Classification for non-numeric, boolean or few-valued integer targets."""
    values = target.dropna()
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return Task.CLASSIFICATION
    integral = bool(np.all(np.equal(np.mod(values.to_numpy(dtype=float), 1), 0)))
    return Task.CLASSIFICATION if integral and values.nunique() <= 20 else Task.REGRESSION


@dataclass
class History:
    """The dataset, sorted by time, with the batch boundaries of the replay."""

    frame: pd.DataFrame
    time_column: str
    boundaries: list[pd.Timestamp]  # boundaries[0] ends the initial period; then one per batch
    start: pd.Timestamp
    row_step: timedelta  # typical spacing of rows, to turn row counts into durations

    @property
    def batches(self) -> int:
        return len(self.boundaries) - 1

    def duration(self, size: Size) -> timedelta:
        if size.unit is None:
            return size.count * self.row_step
        anchor = self.boundaries[0]
        return (anchor + size.offset()).to_pydatetime() - anchor.to_pydatetime()


def prepare_history(frame: pd.DataFrame, time_column: str | None, target: str, batch: Size,
                    initial: Size) -> History:
    """Sort by time and cut the batches. Without a datetime time column, row order is time and
    each row gets a synthetic timestamp one ``ROW_STEP`` after the previous one."""
    if target not in frame.columns:
        raise UsageError(f"--target: no column {target!r} (columns: {', '.join(frame.columns)})")
    if frame[target].isna().all():
        raise DataError(f"the target column {target!r} has no values")
    frame = frame.copy()
    is_datetime = False
    if time_column is not None:
        if time_column not in frame.columns:
            raise UsageError(f"--time-column: no column {time_column!r}")
        if not pd.api.types.is_numeric_dtype(frame[time_column]):
            parsed = pd.to_datetime(frame[time_column], utc=True, errors="coerce", format="mixed")
            if parsed.isna().mean() > 0.01:
                raise DataError(f"time column {time_column!r} holds values that are not dates")
            frame[time_column] = parsed
            is_datetime = True
        frame = frame.dropna(subset=[time_column])
        frame = frame.sort_values(time_column, kind="stable").reset_index(drop=True)
    if not is_datetime:
        if batch.unit or initial.unit:
            raise UsageError("periods (7D, 1M) need a --time-column holding dates; "
                             "give --batch and --initial as row counts")
        epoch = pd.Timestamp("2000-01-01", tz=UTC)
        offsets = np.arange(len(frame)) * ROW_STEP.total_seconds()
        frame[SYNTHETIC_TIME] = epoch + pd.to_timedelta(offsets, unit="s")
        time_column = SYNTHETIC_TIME
    assert time_column is not None
    times = frame[time_column]
    gaps = times.diff().dropna()
    positive = gaps[gaps > pd.Timedelta(0)]
    step = positive.median().to_pytimedelta() if len(positive) else ROW_STEP
    start, last = times.iloc[0], times.iloc[-1]
    if initial.unit:
        first = start + initial.offset()
    elif initial.count < len(frame):
        first = times.iloc[initial.count]
    else:
        first = last + step
    if first > last:
        raise UsageError(f"--initial {initial} leaves no rows to replay ({len(frame)} rows)")
    boundaries = [first]
    if batch.unit:
        while boundaries[-1] <= last:
            boundaries.append(boundaries[-1] + batch.offset())
    else:
        position = int(np.searchsorted(naive_utc(times), naive_utc(first), "left"))
        for index in range(position + batch.count, len(frame), batch.count):
            if times.iloc[index] > boundaries[-1]:
                boundaries.append(times.iloc[index])
        boundaries.append(last + step)
    return History(frame, time_column, boundaries, start, step)


# --- configuration per policy ---------------------------------------------------------------


@dataclass(frozen=True)
class BacktestOptions:
    data: Path
    target: str
    time_column: str | None = None
    task: Task | None = None
    metric: str | None = None
    batch: str | None = None  # default: 7D with a datetime time column, else 1000 rows
    initial: str | None = None  # default: the window
    window: str | None = None  # training window; default: the config's, else 4 batches
    label_delay: str | None = None  # default: none (labels arrive with the batch)
    config: Path | None = None
    policies: tuple[str, ...] = DEFAULT_POLICIES
    registry: str = "memory"  # or "mlflow"
    output: Path = Path("backtest")
    workers: int | None = None  # processes running policies side by side; default: cores


def parse_policies(text: str) -> tuple[str, ...]:
    names = tuple(p.strip() for p in text.split(",") if p.strip())
    if not names:
        raise UsageError("--policies: give at least one policy")
    for name in names:
        if name.startswith("periodic:"):
            k = name.split(":", 1)[1]
            if not k.isdigit() or int(k) < 1:
                raise UsageError(f"--policies: {name!r} needs a whole number of batches >= 1")
        elif name not in ("never", "always", "drift", "performance", "auto", "config"):
            raise UsageError(f"--policies: unknown policy {name!r} (never, always, periodic:K, "
                             "drift, performance, auto, config)")
    if len(set(names)) != len(names):
        raise UsageError("--policies: a policy is listed twice")
    return names


def duration_text(span: timedelta) -> str:
    """``28 days``, ``1 day``, ``0`` or, off whole days, timedelta's own ``1 day, 6:00:00``.

    >>> duration_text(timedelta(days=28)), duration_text(timedelta(0))
    ('28 days', '0')
    """
    if span == timedelta(0):
        return "0"
    if span % timedelta(days=1) == timedelta(0):
        days = span // timedelta(days=1)
        return f"{days} day" + ("" if days == 1 else "s")
    return str(span)


def label_delay(options: BacktestOptions, history: History) -> timedelta:
    if not options.label_delay:
        return timedelta(0)
    return history.duration(Size.parse(options.label_delay, "label-delay"))


def _from_config(path: Path, target: str) -> ModelConfig:
    config = load_config(path)
    for model in config.models:
        if model.target == target:
            return model
    return config.models[0]


def base_model(options: BacktestOptions, history: History, replay_name: str,
               batch: Size) -> ModelConfig:
    """The model every policy shares: the config's (when given) or retrainer's defaults for
    this data, reading from the replay source."""
    frame = history.frame
    target = options.target
    model = _from_config(options.config, target) if options.config else None
    task = options.task or (model.task if model else infer_task(frame[target]))
    if task is Task.REGRESSION and not pd.api.types.is_numeric_dtype(frame[target]):
        raise UsageError(f"--task regression needs a numeric target; {target!r} is not")
    configured = model.validation.metric if model else None  # None unless set explicitly
    metric = options.metric or configured or (
        "accuracy" if task is Task.CLASSIFICATION else "rmse")
    if metric not in metrics_for(task):
        raise UsageError(f"--metric: {metric!r} is not a {task.value} metric "
                         f"({', '.join(metrics_for(task))})")
    if options.window:
        window = history.duration(Size.parse(options.window, "window"))
    elif model is not None:
        window = model.training_window
    else:
        window = 4 * history.duration(batch)
    delay = label_delay(options, history)
    rows_per_window = window / history.row_step
    data: dict[str, Any] = model.model_dump() if model else {
        "validation": {"metric_ci": False},
        "readiness": {"max_label_null_share": 0.95},
    }
    if model is None:
        skip = {history.time_column, target}
        data["categorical"] = [c for c in frame.columns if c not in skip
                               and not pd.api.types.is_numeric_dtype(frame[c])]
    data.update(
        name="backtest",
        source={"kind": "replay", "name": replay_name},
        time_column=history.time_column,
        target=target,
        task=task,
        labels=None,
        training_window=window,
        monitoring_window=history.duration(batch) + delay,
        min_rows=max(20, int(0.25 * rows_per_window)) if model is None else model.min_rows,
    )
    data.setdefault("validation", {})["metric"] = metric
    return ModelConfig.model_validate(data)


def policy_triggers(policy: str, base: ModelConfig, batch_length: timedelta) -> TriggersConfig:
    """The ``triggers`` section that makes ``policy`` (the rest of the model is shared)."""
    if policy == "config":
        return base.triggers
    off = TriggersConfig.model_validate({"drift": {"enabled": False},
                                         "performance": {"enabled": False}})
    if policy == "never":
        return off
    if policy == "always" or policy.startswith("periodic:"):
        k = 1 if policy == "always" else int(policy.split(":")[1])
        # half a batch of slack, so calendar batches of uneven length still fire every K ticks
        every = (k - 0.5) * batch_length
        return off.model_copy(update={"schedule": ScheduleTriggerConfig(every=every)})
    if policy == "drift":
        return off.model_copy(update={"drift": base.triggers.drift.model_copy(
            update={"enabled": True})})
    if policy == "performance":
        return off.model_copy(update={"performance": base.triggers.performance.model_copy(
            update={"enabled": True})})
    assert policy == "auto"
    # the config's auto settings (cost model, intervals) apply even where it leaves auto off
    auto = base.triggers.auto.model_copy(update={"enabled": True})
    return off.model_copy(update={"auto": auto})


# --- one replay -------------------------------------------------------------------------------


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
    # batches with labels but no production model to score them, and the newest job that
    # did not produce one (its state and reason), so an empty result says why
    unscored: int = 0
    unscored_reason: str | None = None

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
        home = run.output / "mlflow" / slug
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
        + yaml.safe_dump(config.model_dump(mode="json", exclude_defaults=True),
                         sort_keys=False))
    rt = Runtime(config=config, store=Store(f"sqlite:///{kept / 'state.db'}"),
                 notifier=build_notifier(config.project), tracking_uri=tracking,
                 artifact_location=artifacts, clock=clock, threads=run.threads)
    times = naive_utc(history.frame[history.time_column])
    spec = METRICS[model.metric]
    result = PolicyResult(run.policy, math.nan, 0, 0, 0, 0.0, [])
    try:
        for index in range(history.batches):
            start, end = history.boundaries[index], history.boundaries[index + 1]
            clock.set(start.to_pydatetime())
            report = orchestrator.tick(rt)
            tick = report.models[0]
            outcome = report.outcome_for(model.name)
            if outcome is not None and outcome.state in (JobState.PROMOTED, JobState.REJECTED):
                result.trained.append(index)
                if outcome.state is JobState.PROMOTED:
                    result.promoted.append(index)
            if tick.challenger is not None and index not in result.promoted:
                result.promoted.append(index)
            drift = tick.readings.get("drift")
            result.drift.append(drift.score if drift else None)
            lo = int(np.searchsorted(times, naive_utc(start), "left"))
            hi = int(np.searchsorted(times, naive_utc(end), "left"))
            batch = history.frame.iloc[lo:hi].dropna(subset=[model.target])
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
        if result.unscored:
            unpromoted = [j for j in jobs if j.state is not JobState.PROMOTED]
            result.unscored_reason = (
                f"job {unpromoted[0].id} ({unpromoted[0].trigger}) {unpromoted[0].state}: "
                f"{unpromoted[0].state_reason}" if unpromoted else "no job ran")
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


def parse_initials(options: BacktestOptions, batch: Size) -> list[Size]:
    """``--initial``: one size, or a comma list of them (one replay of every policy per
    start). Default: the window, else four batches."""
    if not options.initial:
        window = Size.parse(options.window, "window") if options.window else None
        return [window or Size(4 * batch.count, batch.unit)]
    texts = [t.strip() for t in options.initial.split(",") if t.strip()]
    sizes = [Size.parse(text, "initial") for text in texts]
    if not sizes or len(set(sizes)) != len(sizes):
        raise UsageError("--initial: give one size, or a comma list of different sizes")
    return sizes


def run_backtest(options: BacktestOptions,
                 on_progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    """Replay every policy (side by side on the cores), write ``backtest.json`` and
    ``report.html`` into ``options.output``, and return the JSON document.

    With several ``--initial`` sizes every policy is replayed from each start: each start's
    outputs go to ``DIR/initial-SIZE/`` and ``DIR/starts.json`` (returned) compares them.
    Progress is reported per run: the policy, or ``policy @ SIZE`` with several starts."""
    import os

    began = time.monotonic()
    if options.registry not in ("memory", "mlflow"):
        raise UsageError("--registry: use 'memory' or 'mlflow'")
    frame = read_history(options.data)
    column = options.time_column
    is_dated = column in frame.columns and not pd.api.types.is_numeric_dtype(frame[column])
    batch = Size.parse(options.batch or ("7D" if is_dated else "1000"), "batch")
    initials = parse_initials(options, batch)
    several = len(initials) > 1
    output = Path(options.output)
    cores = os.cpu_count() or 1
    workers = max(1, min(options.workers or cores, len(options.policies) * len(initials)))
    threads = max(1, cores // workers)
    starts: list[tuple[Size, History, ModelConfig, timedelta, Path, list[PolicyRun]]] = []
    for initial in initials:
        history = prepare_history(frame, options.time_column, options.target, batch, initial)
        if history.batches < 1:
            raise UsageError(f"the data holds no batch after the initial period {initial}")
        batch_length = (history.boundaries[-1] - history.boundaries[0]) / history.batches
        replay_name = f"backtest-{os.getpid()}-{int(time.time() * 1000)}-{len(starts)}"
        base = base_model(options, history, replay_name, batch)
        delay = label_delay(options, history)
        where = output / f"initial-{initial.text}" if several else output
        where.mkdir(parents=True, exist_ok=True)
        runs = [
            PolicyRun(policy, base.model_copy(update={"triggers": policy_triggers(
                policy, base, batch_length.to_pytimedelta())}).model_dump(mode="json"),
                history, delay, options.registry, where, threads,
                f"{policy} @ {initial.text}" if several else "")
            for policy in options.policies
        ]
        starts.append((initial, history, base, delay, where, runs))
    every_run = [run for *_, runs in starts for run in runs]
    if on_progress:  # the options and data are good: the replays start
        for run in every_run:
            on_progress(run.key, 0, run.history.batches)
    results = _run_all(every_run, workers, on_progress)
    documents = []
    for initial, history, base, delay, where, runs in starts:
        spec = METRICS[base.metric]
        document = {
            "dataset": options.data.name,
            "rows": len(history.frame),
            "batches": history.batches,
            "metric": spec.name,
            "higher_is_better": spec.greater_is_better,
            "policies": [results[run.key].to_json() for run in runs],
            "settings": {
                "task": base.task.value,
                "time_column": options.time_column,
                "batch": str(batch),
                "initial": str(initial),
                "training_window": duration_text(base.training_window),
                "label_delay": duration_text(delay),
                "registry": options.registry,
                "batch_starts": [b.isoformat() for b in history.boundaries[:-1]],
                "config": str(options.config) if options.config else None,
            },
            "seconds": round(time.monotonic() - began, 1),
        }
        _write(document, where)
        documents.append(document)
    if not several:
        return documents[0]
    summary = compare_starts(documents)
    summary["seconds"] = round(time.monotonic() - began, 1)
    (output / "starts.json").write_text(json.dumps(summary, indent=2, default=_json_default))
    return summary


def _write(document: dict[str, Any], where: Path) -> None:
    from retrainer.reports import write_backtest_html

    (where / "backtest.json").write_text(json.dumps(document, indent=2, default=_json_default))
    write_backtest_html(document, where / "report.html")


def shares_of_always(policies: list[dict[str, Any]]
                     ) -> dict[str, tuple[float | None, float | None]]:
    """Each policy's share of ``always``'s gain over ``never`` and of ``always``'s retrains
    (None where undefined); empty unless both ran. The issue's bar is put in these terms."""
    found = {p["name"]: p for p in policies}
    if "never" not in found or "always" not in found:
        return {}
    never, always = found["never"], found["always"]
    gain = always["metric"] - never["metric"]
    shares = {}
    for p in policies:
        of_gain = ((p["metric"] - never["metric"]) / gain + 0.0  # no -0
                   if gain and math.isfinite(gain) and math.isfinite(p["metric"]) else None)
        of_retrains = p["retrains"] / always["retrains"] if always["retrains"] else None
        shares[p["name"]] = (of_gain, of_retrains)
    return shares


def compare_starts(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """Each policy over the starts: its metric and retrains from each, their means and, when
    ``never`` and ``always`` ran, its shares of ``always``'s gain and retrains. Which weeks a
    schedule happens to hit, and which candidates the gate happens to keep, move one replay's
    result by more than the policies differ; the spread over starts shows how much."""
    first = documents[0]
    shares = [shares_of_always(document["policies"]) for document in documents]
    policies = []
    for index, name in enumerate(p["name"] for p in first["policies"]):
        per_start = []
        for document, found in zip(documents, shares, strict=True):
            row = document["policies"][index]
            entry = {"initial": document["settings"]["initial"], "metric": row["metric"],
                     "retrains": row["retrains"]}
            if found:
                entry["share_of_gain"], entry["share_of_retrains"] = found[name]
            per_start.append(entry)
        metrics = [e["metric"] for e in per_start if math.isfinite(e["metric"])]
        summary: dict[str, Any] = {
            "name": name,
            "metric": sum(metrics) / len(metrics) if metrics else math.nan,
            "metric_min": min(metrics, default=math.nan),
            "metric_max": max(metrics, default=math.nan),
            "retrains": sum(e["retrains"] for e in per_start) / len(per_start),
            "per_start": per_start,
        }
        for share in ("share_of_gain", "share_of_retrains"):
            values = [e[share] for e in per_start if e.get(share) is not None]
            if values:
                summary[share] = sum(values) / len(values)
        policies.append(summary)
    return {"dataset": first["dataset"], "rows": first["rows"], "metric": first["metric"],
            "higher_is_better": first["higher_is_better"],
            "starts": [d["settings"]["initial"] for d in documents], "policies": policies}


def _json_default(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _run_all(runs: list[PolicyRun], workers: int,
             on_progress: Callable[[str, int, int], None] | None) -> dict[str, PolicyResult]:
    if workers == 1:
        results = {}
        for run in runs:
            def step(done: int, total: int, key: str = run.key) -> None:
                if on_progress:
                    on_progress(key, done, total)
            results[run.key] = replay(run, step)
        return results
    import multiprocessing
    import queue as queue_module

    from retrainer.executors.local import process_context

    manager = multiprocessing.Manager()
    queue = manager.Queue()
    ordered = sorted(runs, key=lambda run: _cost_rank(run.policy))
    try:
        with ProcessPoolExecutor(workers, mp_context=process_context(),
                                 initializer=_init_worker, initargs=(queue,)) as pool:
            futures = {run.key: pool.submit(_replay_in_worker, run) for run in ordered}
            while not all(f.done() for f in futures.values()):
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
        for run in runs:
            on_progress(run.key, run.history.batches, run.history.batches)
    return results
