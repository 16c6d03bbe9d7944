"""What every policy of a backtest shares (the model, from the config or the data) and the
``triggers`` section that makes each policy."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from retrainer.backtest.history import (
    SYNTHETIC_TIME,
    History,
    Size,
    duration_text,
    inferred_task,
)
from retrainer.config import (
    ModelConfig,
    ReadinessConfig,
    TriggersConfig,
    load_config,
)
from retrainer.data.replay import naive_utc
from retrainer.domain.metrics import Task, metrics_for
from retrainer.domain.windows import human_duration
from retrainer.exceptions import ConfigError, DataError, UsageError
from retrainer.monitoring.window import MIN_LABELLED_ROWS
from retrainer.training.checks import trainer_problems
from retrainer.training.trainers import is_booster

#: the default training window holds at least this many rows' worth of time: four weekly
#: batches of daily rows (28) leave LightGBM, with 20 rows a leaf, no split to make
MIN_WINDOW_ROWS = 200

DEFAULT_POLICIES = ("never", "always", "periodic:4", "drift", "performance", "auto")
#: the fixed schedule with as many retrains as ``auto`` made: replayed once auto has finished
MATCHED = "periodic:auto"


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
    """The policies to replay, in order; ``periodic:04`` is ``periodic:4``, and a policy
    listed twice is an error."""
    names = tuple(p.strip() for p in text.split(",") if p.strip())
    if not names:
        raise UsageError("--policies: give at least one policy")
    for index, name in enumerate(names):
        if name == MATCHED:
            if "auto" not in names:
                raise UsageError(f"--policies: {MATCHED} is the schedule with auto's number of "
                                 "retrains; list auto too")
        elif name.startswith("periodic:"):
            k = name.split(":", 1)[1]
            if not (k.isascii() and k.isdigit()) or int(k) < 1:
                raise UsageError(f"--policies: {name!r} needs a whole number of batches >= 1")
            names = (*names[:index], f"periodic:{int(k)}", *names[index + 1:])
        elif name not in ("never", "always", "drift", "performance", "auto", "config"):
            raise UsageError(f"--policies: unknown policy {name!r} (never, always, periodic:K, "
                             f"drift, performance, auto, {MATCHED}, config)")
    twice = next((name for index, name in enumerate(names) if name in names[:index]), None)
    if twice:
        raise UsageError(f"--policies: {twice} is listed twice")
    return names


def label_delay(options: BacktestOptions, history: History) -> timedelta:
    if not options.label_delay or re.fullmatch(r"\s*0+\s*(min|[hdwmyHDWMY])?\s*",
                                               options.label_delay):
        return timedelta(0)  # none, 0 or 0D: labels on time
    return history.duration(Size.parse(options.label_delay, "label-delay"), "label-delay")


def config_model(path: Path, target: str) -> ModelConfig:
    """The config's model with ``target`` as its target, else its first model."""
    return config_entry(path, target)[1]


def config_entry(path: Path, target: str) -> tuple[int, ModelConfig]:
    """``config_model`` and its index in the config's ``models``."""
    models = load_config(path).models
    return next(((index, model) for index, model in enumerate(models)
                 if model.target == target), (0, models[0]))


def config_overrides(options: BacktestOptions) -> list[str]:
    """With ``--config``: an option that contradicts the config is an error (exit 2); one that
    replaces a setting the config makes explicitly, a note to tell the user."""
    if options.config is None:
        return []
    index, model = config_entry(options.config, options.target)
    where = f"{options.config}, models[{index}]"
    if options.task is not None and options.task is not model.task:
        raise UsageError(f"--task {options.task.value} conflicts with task: "
                         f"{model.task.value} in {options.config}")
    notes = []
    configured = model.validation.metric
    if options.metric and configured and options.metric != configured:
        notes.append(f"--metric {options.metric} replaces validation.metric {configured} "
                     f"({where}), in the gate too; min_improvement stays "
                     f"{model.validation.min_improvement}")
    if options.time_column and options.time_column != model.time_column:
        notes.append(f"--time-column {options.time_column} replaces time_column "
                     f"{model.time_column} ({where})")
    return notes


def base_model(options: BacktestOptions, history: History, replay_name: str,
               batch: Size, left_out: Sequence[str] = ()) -> ModelConfig:
    """The model every policy shares: the config's (when given) or retrainer's defaults for
    this data, reading from the replay source. Without a config, ``left_out`` columns are
    not features (``unusable_columns``)."""
    frame = history.frame
    target = options.target
    index, model = config_entry(options.config, target) if options.config else (0, None)
    inferred, why = inferred_task(frame[target])
    task = options.task or (model.task if model else inferred)
    if task is Task.REGRESSION and not pd.api.types.is_numeric_dtype(frame[target]):
        raise UsageError(f"--task regression needs a numeric target; {target!r} is not")
    labels = frame[target].dropna()
    distinct = labels.nunique()
    if task is Task.CLASSIFICATION and distinct == 1:  # every job would fail to train
        raise DataError(f"classification: the target {target!r} holds one value "
                        f"({labels.iloc[0]}) on every labelled row; a classifier needs two "
                        "classes to learn from")
    if task is Task.CLASSIFICATION and distinct > max(100, 0.5 * len(labels)):
        # a class per row: nothing to learn, and a booster grows a tree per class and round
        raise UsageError(f"classification: {target!r} has {distinct:,} different values in "
                         f"{len(labels):,} labelled rows, a class for almost every row; is it "
                         "a regression target? (--task regression)")
    configured = model.validation.metric if model else None  # None unless set explicitly
    metric = options.metric or configured or (
        "accuracy" if task is Task.CLASSIFICATION else "rmse")
    if metric not in metrics_for(task):
        other = next(t for t in Task if t is not task)
        guessed = (f"; {task.value} was inferred from {target!r} ({why}): --task "
                   f"{other.value} if it is one" if options.task is None and model is None
                   and metric in metrics_for(other) else "")
        raise UsageError(f"--metric: {metric!r} is not a {task.value} metric "
                         f"({', '.join(metrics_for(task))}){guessed}")
    if options.window:
        window = history.duration(Size.parse(options.window, "window"), "window")
    elif model is not None:
        window = model.training_window
    else:
        window = 4 * history.duration(batch)
    delay = label_delay(options, history)
    last_tick = history.boundaries[-2]  # the last batch's start: its tick sees labels older
    if delay and history.start + delay >= last_tick:  # than this less the delay, and none is
        raise UsageError(
            f"--label-delay {options.label_delay}: no label arrives before the replay ends (its "
            f"last batch starts {history.span_text((last_tick - history.start).to_pytimedelta())}"
            " after the first row), so no model could be trained; give a shorter delay")
    if (options.window or model is not None) and window <= delay:
        which = (f"--window {options.window}" if options.window else
                 f"the config's training_window ({human_duration(window)})")
        raise UsageError(f"{which} is no longer than --label-delay {options.label_delay}: the "
                         "window's newest --label-delay has no labels yet, so the window must "
                         "be longer than the delay")
    rows_per_window = window / history.row_step  # sets min_rows: the first model's start
    if model is None and not options.window:
        # sparse batches: enough rows for trees to split; labels that arrive late: as many
        # labelled rows as with labels on time (the newest `delay` of the window has none)
        window = max(window, history.duration(Size(MIN_WINDOW_ROWS))) + delay
    data: dict[str, Any] = model.model_dump() if model else {
        "validation": {"metric_ci": False},
        "readiness": {"max_label_null_share": 0.95,
                      "max_null_share": _first_null_limit(history, target, left_out)},
    }
    if model is not None and model.features is not None:
        missing = [c for c in model.features if c not in frame.columns]
        if missing:
            raise UsageError(f"--config: features {', '.join(missing)} are not in the data "
                             f"(columns: {', '.join(map(str, frame.columns))})")
    if model is None:
        skip = {history.time_column, target, *left_out}
        data["exclude"] = list(left_out)
        # listed, so the columns are judged once on the whole history (unusable_columns), not
        # again on each training window, where a day of the year counts up like a row counter
        data["features"] = [c for c in frame.columns if c not in skip]
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
        # a batch, or enough rows to be judged when batches are sparse (weekly batches of
        # daily rows: a batch of 7 would never be read)
        monitoring_window=max(history.duration(batch),
                              history.duration(Size(MIN_LABELLED_ROWS))) + delay,
        # a config that does not set min_rows would get live operation's 10,000, which no
        # window of a few weeks holds: the backtest's own then
        min_rows=(model.min_rows if model is not None and "min_rows" in model.model_fields_set
                  else max(20, int(0.25 * rows_per_window))),
    )
    data.setdefault("validation", {})["metric"] = metric
    shared = ModelConfig.model_validate(data)
    which = (f"--window {options.window}" if options.window else
             f"the config's training_window ({human_duration(window)})" if model is not None
             else f"the default training window ({human_duration(window)})")
    # a config's min_rows beyond its own window is the config's to settle: each job says so
    configured_rows = model is not None and "min_rows" in model.model_fields_set
    _check_window_rows(history, shared, delay, which,
                       None if configured_rows and not options.window else
                       "min_rows in the config" if configured_rows else "the backtest's min_rows")
    if options.config is not None:
        # the trainer as every replay builds it (--task may differ from the config's): a
        # trainer that cannot work would otherwise fail a job at every batch of every policy
        problems = trainer_problems(shared, f"models[{index}]")
        if problems:
            raise ConfigError(str(options.config), problems)
    return shared


def _check_window_rows(history: History, model: ModelConfig, delay: timedelta, which: str,
                       rule: str | None) -> None:
    """Raise UsageError (naming ``which``, the option or setting that set the training
    window) when no training window anywhere in the history holds ``model.min_rows`` rows
    old enough for their labels (its newest ``delay`` has none), or rows of enough different
    times: a job holds out its newest time's rows to judge the candidate and, for a booster,
    the next newest for early stopping, so one day of rows dated by their day leaves no row
    to train on. Every job of every policy would train nothing. The window to give instead
    is estimated from the rows' spacing. ``rule`` names where ``min_rows`` came from; None
    checks the times only."""
    times = naive_utc(history.frame[history.time_column])
    span = np.timedelta64(model.training_window - delay)
    most = _most_in_a_window(times, span)
    late = f" old enough for labels {history.span_text(delay)} late" if delay else ""
    step = history.row_step
    if rule is not None and most < model.min_rows:
        if history.time_column == SYNTHETIC_TIME:
            spacing, instead = "", str(math.ceil((model.min_rows * step + delay) / step))
        else:
            spacing = f" (a row every {duration_text(step)})"
            instead = _period(model.min_rows * step + delay)
        raise UsageError(
            f"{which} holds at most {most} row{'' if most == 1 else 's'}{late} of this data"
            f"{spacing}; a model needs {model.min_rows} ({rule}), so every job would train "
            f"nothing: give --window {instead} or more")
    distinct = np.unique(times)
    needed = 3 if (is_booster(model.training.trainer)
                   and model.training.early_stopping_fraction > 0) else 2
    most = _most_in_a_window(distinct, span)
    if most < needed:
        gap = pd.Series(np.diff(distinct)).median().to_pytimedelta()
        instead = (str(math.ceil((needed * step + delay) / step))
                   if history.time_column == SYNTHETIC_TIME else _period(needed * gap + delay))
        raise UsageError(
            f"{which} holds rows of at most {most} different time{'' if most == 1 else 's'}"
            f"{late} (the data's times are {duration_text(gap)} apart); a job holds out its "
            "newest time's rows to judge the candidate" + (
                ", and the next newest for early stopping" if needed == 3 else "")
            + f", so it needs rows of {needed} times: give --window {instead} or more")


def _most_in_a_window(times: np.ndarray, span: np.timedelta64) -> int:
    """The most of the sorted ``times`` that any half-open window of length ``span`` holds."""
    ends = np.searchsorted(times, times + span, "left")
    return int((ends - np.arange(len(times))).max(initial=0))


def _period(span: timedelta) -> str:
    """``span`` rounded up to whole days, else hours, else minutes, as ``--window`` takes it.

    >>> _period(timedelta(days=19, hours=1)), _period(timedelta(hours=20)), _period(
    ...     timedelta(seconds=90))
    ('20D', '20H', '2min')
    """
    for unit, length in (("D", timedelta(days=1)), ("H", timedelta(hours=1))):
        if span >= length:
            return f"{math.ceil(span / length)}{unit}"
    return f"{math.ceil(span / timedelta(minutes=1))}min"


def _first_null_limit(history: History, target: str, left_out: Sequence[str] = ()) -> float:
    """Without a config, ``readiness.max_null_share``: the default, or the sparsest
    feature's share in the initial period plus the allowed rise, whichever is higher. A
    column often empty by nature would otherwise block every policy's first training; once
    a model is in production, its own training rows set the limit too. Columns that are not
    features (``left_out``: an empty one, say) set nothing."""
    defaults = ReadinessConfig()
    frame = history.frame
    initial = frame[frame[history.time_column] < history.boundaries[0]]
    features = [c for c in frame.columns
                if c not in (history.time_column, target) and c not in left_out]
    if initial.empty or not features:
        return defaults.max_null_share
    sparsest = float(initial[features].isna().mean().max())
    return min(1.0, max(defaults.max_null_share, sparsest + defaults.max_null_share_rise))


def policy_triggers(policy: str, base: ModelConfig) -> TriggersConfig:
    """The ``triggers`` section that makes ``policy`` (the rest of the model is shared).
    ``always`` and ``periodic:K`` switch every trigger off, as ``never`` does (the first
    model still comes from the initial trigger): the replay asks for their retrains itself,
    every K batches (``schedule_every``)."""
    if policy == "config":
        return base.triggers
    off = TriggersConfig.model_validate({"auto": {"enabled": False}, "drift": {"enabled": False},
                                         "performance": {"enabled": False}})
    if policy in ("never", "always") or policy.startswith("periodic:"):
        return off
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


def schedule_every(policy: str, period: int | None = None) -> int | None:
    """The batches between the retrains of a fixed schedule: 1 for ``always``, K for
    ``periodic:K`` (``period`` for ``periodic:auto``), None for a policy its triggers make.
    A schedule counted in batches, not in time, fires at every K-th batch however long each
    batch lasts (batches of rows where rows crowd or thin out, a time column with gaps).

    >>> schedule_every("always"), schedule_every("periodic:4"), schedule_every(MATCHED, 6)
    (1, 4, 6)
    >>> schedule_every("auto") is None
    True
    """
    if policy == "always":
        return 1
    if policy == MATCHED:
        return period
    if policy.startswith("periodic:"):
        return int(policy.split(":", 1)[1])
    return None


def matched_period(batches: int, retrains: int) -> int:
    """K for which ``periodic:K`` retrains about as often as ``retrains`` over ``batches``
    ticks (it retrains at every K-th tick after the first); a tie goes to the smaller K, the
    schedule with more retrains.

    >>> matched_period(131, 24), matched_period(257, 40), matched_period(101, 0)
    (5, 6, 101)
    """
    return min(range(1, max(batches, 1) + 1),
               key=lambda k: (abs((batches - 1) // k - retrains), k))


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
