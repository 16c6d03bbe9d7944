"""``retrainer backtest``: replay history through the real loop and compare retraining policies.

Each policy is one replay: a simulated clock walks the batch boundaries; at each boundary the
real ``orchestrator.tick`` runs (monitors, triggers, guards, readiness, training on the inline
executor, the validation gate, promotion), then the next batch is predicted by whichever
version is production and scored. Data comes from a ``ReplaySource``, so rows after the clock
do not exist yet and labels appear only ``label_delay`` after their row: no model sees a
batch's labels before it has predicted that batch (prequential evaluation).

Policies differ only in their ``triggers`` section, and ``always`` and ``periodic:K`` in the
retrains the replay asks for every K batches (``replay.scheduled_retrain``); everything else
(training, the gate, promotion) is the model's configuration, the same for every policy.
Each replay gets a throwaway SQLite store and, unless ``registry="mlflow"``, an in-process
registry.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from retrainer.backtest.certainty import certainty as how_sure
from retrainer.backtest.certainty import verdict
from retrainer.backtest.history import (
    History,
    Size,
    default_batch,
    epoch_unit,
    find_time,
    infer_task,
    prepare_history,
    read_history,
    unordered_dates,
)
from retrainer.backtest.output import clear_outputs, earlier_outputs
from retrainer.backtest.policies import (
    DEFAULT_POLICIES,
    MATCHED,
    BacktestOptions,
    base_model,
    config_entry,
    config_overrides,
    label_delay,
    matched_period,
    parse_initials,
    parse_policies,
    policy_triggers,
    schedule_every,
)
from retrainer.backtest.replay import (
    FollowUp,
    PolicyResult,
    PolicyRun,
    replay,
    replay_all,
    weighted_metric,
)
from retrainer.backtest.report import shares_of_always
from retrainer.backtest.value import best_of, best_policy, net_values, unpriced
from retrainer.config import ModelConfig
from retrainer.data.columns import by_reason, target_leaks, unusable_columns
from retrainer.domain.metrics import METRICS, MetricSpec
from retrainer.exceptions import UsageError
from retrainer.store.engine import finite_json

__all__ = [
    "DEFAULT_POLICIES",
    "BacktestOptions",
    "History",
    "PolicyResult",
    "PolicyRun",
    "Size",
    "compare_starts",
    "find_time",
    "infer_task",
    "parse_policies",
    "policy_triggers",
    "prepare_history",
    "read_history",
    "replay",
    "run_backtest",
    "shares_of_always",
    "undefined_batches",
    "weighted_metric",
]


def run_backtest(options: BacktestOptions,
                 on_progress: Callable[[str, int, int], None] | None = None,
                 on_note: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Replay every policy (side by side on the cores), write ``backtest.json`` and
    ``report.html`` into ``options.output``, and return the JSON document.

    An option that replaces a setting of ``--config``, and the rows dropped because their
    time cannot be read, are told to ``on_note`` before the replays start, and kept in the
    document's ``notes``.

    With several ``--initial`` sizes every policy is replayed from each start: each start's
    outputs go to ``DIR/initial-SIZE/`` and ``DIR/starts.json`` (returned) compares them.
    Progress is reported per run: the policy, or ``policy @ SIZE`` with several starts.

    What an earlier backtest wrote in ``options.output`` (other starts' folders, other
    policies' stores) is removed once the options and data are checked; a folder whose
    entries of a backtest's names may be the user's own is exit 2 (``earlier_outputs``)."""
    began = time.monotonic()
    if options.registry not in ("memory", "mlflow"):
        raise UsageError("--registry: use 'memory' or 'mlflow'")
    earlier = earlier_outputs(options.output)  # checked up front, removed once all is good
    if "config" in options.policies and options.config is None:
        raise UsageError("--policies: the config policy needs --config (its triggers)")
    notes = config_overrides(options)
    frame = read_history(options.data)
    twice: dict[str, list[str]] = frame.attrs.get("named_twice", {})
    for option, name in (("--target", options.target), ("--time-column", options.time_column)):
        if name in twice:
            raise UsageError(f"{option}: {len(twice[name])} columns of {options.data.name} are "
                             f"named {name!r}, read as {', '.join(twice[name])}: give one of "
                             "those, or rename the columns")
    if twice:
        notes.append(f"columns named twice in {options.data.name}, read as " + "; ".join(
            ", ".join(read) for read in twice.values()))
    found_time = None
    if options.time_column is None:
        clock, found_time = _clock(options, frame)
        options = replace(options, time_column=clock)
        dates = [] if clock else [str(c) for c, why in unusable_columns(
            frame, {options.target}).items() if why == "dates"]
        if dates:  # a clock the data holds, not taken: say why, row order being time
            notes.append((
                f"{dates[0]!r} holds dates, but {unordered_dates(frame, dates[0])}" if len(
                    dates) == 1 else f"{len(dates)} columns hold dates ({', '.join(dates)})")
                + ", so row order is time; --time-column " + (
                    f"{dates[0]} sorts the rows by them" if len(dates) == 1 else
                    "names the clock"))
    if on_note:
        for note in notes:
            on_note(note)

    def tell(note: str) -> None:  # a note kept in settings.notes and told now
        notes.append(note)
        if on_note:
            on_note(note)

    column = options.time_column
    is_dated = column in frame.columns and (
        not pd.api.types.is_numeric_dtype(frame[column]) or epoch_unit(frame[column]) is not None)
    if options.batch or not is_dated:
        batch = Size.parse(options.batch or "1000", "batch")
    else:  # a week, or longer for rows whose times come further apart (monthly snapshots)
        assert column is not None
        batch, gap = default_batch(frame, column)
        if gap is not None:
            tell(f"batches of {batch.text}, not 7D: the times in {column!r} come "
                 f"{gap:.3g} days apart (the median gap); --batch sets them")
    initials = parse_initials(options, batch)
    several = len(initials) > 1
    output = Path(options.output)
    cores = os.cpu_count() or 1
    workers = max(1, min(options.workers or cores, len(options.policies) * len(initials)))
    threads = max(1, cores // workers)
    histories = [_history(options, frame, batch, initial) for initial in initials]
    if histories[0].dropped:
        tell(f"{histories[0].dropped:,} of {len(frame):,} rows dropped: their time "
             f"({options.time_column!r}) is missing or cannot be read")
    empty, since, until = histories[0].empty_batches()
    if empty and since is not None and until is not None:
        tell(f"{empty:,} of {histories[0].batches:,} batches hold no rows (the longest "
             f"run from {since.date()} to {until.date()}): jobs there find too few "
             "rows, and net values count only the days of batches with rows")
    left_out = {} if options.config else _left_out(options, histories[0], is_dated)
    starts: list[_Start] = []
    for initial, history in zip(initials, histories, strict=True):
        replay_name = f"backtest-{os.getpid()}-{int(time.time() * 1000)}-{len(starts)}"
        where = output / f"initial-{initial.text}" if several else output
        base = base_model(options, history, replay_name, batch, list(left_out))
        starts.append(_Start(initial, history, base,
                             label_delay(options, history), where, options.registry, threads,
                             several))
    clear_outputs(earlier)  # DIR holds this run's outputs only, not an earlier run's beside
    for start in starts:
        start.where.mkdir(parents=True, exist_ok=True)
    runs = [start.run(policy) for start in starts
            for policy in options.policies if policy != MATCHED]
    # the schedule of auto's cost starts once auto has finished, from auto's retrains
    follow_ups: dict[str, FollowUp] = {
        start.key("auto"): start.matched_run for start in starts
    } if MATCHED in options.policies else {}
    if on_progress:  # the options and data are good: the replays start
        for start in starts:
            for policy in options.policies:
                on_progress(start.key(policy), 0, start.history.batches)
    results = replay_all(runs, workers, on_progress, follow_ups)
    documents = []
    for start in starts:
        initial, history, base, where = start.initial, start.history, start.base, start.where
        spec = METRICS[base.metric]
        policies = [results[start.key(policy)].to_json() for policy in options.policies]
        value = _price(policies, spec, base, history)
        document = {
            "dataset": options.data.name,
            "rows": len(history.frame),
            "batches": history.batches,
            "metric": spec.name,
            "higher_is_better": spec.greater_is_better,
            "policies": policies,
            "value": value,
            "certainty": how_sure(policies, spec.greater_is_better, value["cost_per_retrain"],
                                  value["value_per_metric_point"], value["days"],
                                  metric=spec.name),
            "settings": {
                "task": base.task.value,
                "time_column": options.time_column,
                "time_found_in": found_time[1] if found_time else None,
                "batch": str(batch),
                "initial": str(initial),
                "training_window": history.span_text(base.training_window),
                "monitoring_window": history.span_text(base.monitoring_window),
                "label_delay": history.span_text(start.delay),
                "registry": options.registry,
                "batch_starts": [b.isoformat() for b in history.boundaries[:-1]],
                "config": str(options.config) if options.config else None,
                "left_out": left_out,
                "notes": notes,
            },
            "seconds": round(time.monotonic() - began, 1),
        }
        _write(document, where)
        documents.append(document)
    if not several:
        return documents[0]
    summary = compare_starts(documents)
    summary["left_out"] = left_out
    summary["notes"] = notes
    summary["time_column"] = options.time_column
    summary["time_found_in"] = found_time[1] if found_time else None
    summary["seconds"] = round(time.monotonic() - began, 1)
    (output / "starts.json").write_text(json_text(summary))
    return summary


def _clock(options: BacktestOptions,
           frame: pd.DataFrame) -> tuple[str | None, tuple[str, str] | None]:
    """Without ``--time-column``: the time column (None: row order is time) and, when it was
    found in the data, ``find_time``'s answer. With a config, its ``time_column``, which the
    data must have, if need be once a clock is assembled into it (``time`` from year, month
    and day columns): exit 2 otherwise. Without one, a clock the data holds."""
    entry = config_entry(options.config, options.target) if options.config else None
    if entry and entry[1].time_column in frame.columns:  # the user's time column
        return entry[1].time_column, None
    found = find_time(frame, options.target)
    if entry and (found is None or found[0] != entry[1].time_column):
        raise UsageError(f"time_column {entry[1].time_column!r} ({options.config}, "
                         f"models[{entry[0]}]) is not in the data (columns: "
                         f"{', '.join(map(str, frame.columns))})")
    return (found[0] if found else None), found


def _price(policies: list[dict[str, Any]], spec: MetricSpec, base: ModelConfig,
           history: History) -> dict[str, Any]:
    """Which policy pays under the cost model of ``triggers.auto`` (backtest/value.py): each
    policy's ``net_value`` (None without ``never``) and the cost model's summary, with a
    ``note`` that says why no policy has a net value when ``never`` ran (else None)."""
    cost, value = base.triggers.auto.cost_per_retrain, base.triggers.auto.value_per_metric_point
    days = history.days_with_rows()
    net = net_values(policies, spec.greater_is_better, cost, value, days, spec.name)
    for row in policies:
        row["net_value"] = net.get(row["name"])
    best = best_policy(policies, spec.greater_is_better, cost, value, days, spec.name)
    return {"cost_per_retrain": cost, "value_per_metric_point": value, "days": round(days, 3),
            **_best(best), "note": unpriced(policies, spec.name)}


def _best(best: tuple[str, float, float] | None) -> dict[str, Any]:
    """The policy that pays most and the retrain costs, from and to (None: any higher cost),
    over which it stays so, the value of a point held."""
    return {"pays_most": best[0] if best else None,
            "pays_most_for_costs": [best[1], best[2] if math.isfinite(best[2]) else None]
            if best else None}


@dataclass(frozen=True)
class _Start:
    """One starting point of the replays: the history cut from it and the model every policy
    shares."""

    initial: Size
    history: History
    base: ModelConfig
    delay: timedelta
    where: Path
    registry: str
    threads: int
    several: bool  # one of several starts: keys and progress name the start

    def key(self, policy: str) -> str:
        return f"{policy} @ {self.initial.text}" if self.several else policy

    def run(self, policy: str, period: int | None = None) -> PolicyRun:
        """``policy``'s replay; with ``period``, on the schedule of ``periodic:period``."""
        triggers = policy_triggers(policy, self.base)
        model = self.base.model_copy(update={"triggers": triggers}).model_dump(mode="json")
        return PolicyRun(policy, model, self.history, self.delay, self.registry, self.where,
                         self.threads, self.key(policy) if self.several else "", period,
                         schedule_every(policy, period))

    def matched_run(self, auto: PolicyResult) -> PolicyRun:
        return self.run(MATCHED, matched_period(self.history.batches, auto.retrains))


def _history(options: BacktestOptions, frame: pd.DataFrame, batch: Size,
             initial: Size) -> History:
    """The history replayed from ``initial``; an error that names ``--initial`` says what
    the default start is when the user gave none."""
    try:
        history = prepare_history(frame, options.time_column, options.target, batch, initial)
    except UsageError as error:
        if options.initial or "--initial" not in str(error):
            raise
        clock = "" if options.time_column else " (the time? give it as --time-column)"
        raise UsageError(
            f"the first model's period, by default the training window ({initial}: "
            f"--window, else four --batch), leaves no rows to replay "
            f"({len(frame):,} rows); give a smaller --batch or --initial{clock}") from None
    if history.batches < 1:
        raise UsageError(f"the data holds no batch after the initial period {initial}")
    return history


def _left_out(options: BacktestOptions, history: History, is_dated: bool) -> dict[str, str]:
    """Without a config, the columns that are not features, and why: text columns of dates
    or identifiers, row counters (judged in time order, however the file is sorted), a
    numeric time column that is no time, columns with no value on any row (a trailing
    comma's), and columns that hold the target itself."""
    frame, column, target = history.frame, options.time_column, options.target
    left_out = unusable_columns(frame, {column or "", history.time_column, target})
    left_out.update({str(c): "empty (no value on any row)" for c in frame.columns[
        frame.isna().all().to_numpy()] if c not in (column, history.time_column, target)})
    if column is not None and column in frame.columns and column != target and not is_dated:
        left_out[column] = "the order of the rows (the time column, neither dates nor Unix times)"
    left_out.update(target_leaks(frame, target, [
        c for c in frame.columns if c not in left_out and c not in (column, history.time_column)]))
    if not [c for c in frame.columns
            if c not in left_out and c not in (column, history.time_column, target)]:
        reasons = "; ".join(f"{names}: {why}" for names, why in by_reason(left_out))
        raise UsageError("no column is left to learn from"
                         + (f" ({reasons})" if reasons else "")
                         + "; a config's features or exclude decide otherwise")
    return left_out


def _write(document: dict[str, Any], where: Path) -> None:
    from retrainer.backtest.report import write_backtest_html

    (where / "backtest.json").write_text(json_text(document))
    write_backtest_html(document, where / "report.html")


def compare_starts(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """Each policy over the starts: its metric and retrains from each, their means and, when
    ``never`` and ``always`` ran, its shares of ``always``'s gain and retrains. Which weeks a
    schedule happens to hit, and which candidates the gate happens to keep, move one replay's
    result by more than the policies differ; the spread over starts shows how much, and so
    does how often the reference (``auto``) is better than each policy, not told apart from
    it, or worse (``verdicts``, from each start's ``certainty``)."""
    first = documents[0]
    shares = [shares_of_always(document["policies"], document["higher_is_better"])
              for document in documents]
    versus = [{entry["name"]: entry for entry in (document.get("certainty") or {}).get(
        "versus", [])} for document in documents]
    reference = next((d["certainty"]["reference"] for d in documents if d.get("certainty")),
                     None)
    policies = []
    for index, name in enumerate(p["name"] for p in first["policies"]):
        per_start = []
        for document, found, against in zip(documents, shares, versus, strict=True):
            row = document["policies"][index]
            entry = {"initial": document["settings"]["initial"], "metric": row["metric"],
                     "retrains": row["retrains"], "net_value": row.get("net_value"),
                     "batches": document["batches"], "unscored": row["unscored"],
                     "unscored_reason": row.get("unscored_reason"),
                     "untrained": row.get("untrained", 0),
                     "untrained_reason": row.get("untrained_reason"),
                     "undefined": undefined_batches(row)}
            if found:
                entry["share_of_gain"], entry["share_of_retrains"] = found[name]
            if name in against:  # the reference against this policy, from this start
                entry["versus_reference"] = {key: against[name][key]
                                             for key in ("difference", "low", "high")}
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
        nets = [e["net_value"] for e in per_start if e["net_value"] is not None]
        if nets and len(nets) == len(per_start):
            summary["net_value"] = sum(nets) / len(nets)
        told = [verdict(e["versus_reference"]) for e in per_start if "versus_reference" in e]
        if told:
            summary["verdicts"] = {word: told.count(word)
                                   for word in ("better", "not told apart", "worse")}
        for share in ("share_of_gain", "share_of_retrains"):
            values = [e[share] for e in per_start if e.get(share) is not None]
            if values:
                summary[share] = sum(values) / len(values)
        policies.append(summary)
    value = {key: first["value"][key] for key in ("cost_per_retrain", "value_per_metric_point")}
    priced = [p for p in policies if "net_value" in p]  # means over the starts, below too
    best = best_of({p["name"]: p["net_value"] + value["cost_per_retrain"] * p["retrains"]
                    for p in priced}, {p["name"]: p["retrains"] for p in priced},
                   value["cost_per_retrain"])
    value.update(_best(best))
    unpriced_starts = [f"from {d['settings']['initial']}: {d['value']['note']}"
                       for d in documents if d["value"].get("note")]
    value["note"] = "; ".join(unpriced_starts) if unpriced_starts and not priced else None
    return {"dataset": first["dataset"], "rows": first["rows"], "metric": first["metric"],
            "higher_is_better": first["higher_is_better"],
            "starts": [d["settings"]["initial"] for d in documents], "policies": policies,
            "value": value, "reference": reference}


def undefined_batches(row: dict[str, Any]) -> int:
    """How many of the batches a policy scored (``row``, as in ``backtest.json``) have no
    defined metric (ROC AUC of a batch with one class, say)."""
    return sum((value is None or value != value) and rows > 0  # None or NaN
               for value, rows in zip(row["per_batch"], row["rows"], strict=True)
               ) - row["unscored"]


def json_text(document: dict[str, Any]) -> str:
    """``document`` as strict JSON: a metric that is undefined on a batch (ROC AUC of a
    batch with one class) is ``null``, not the ``NaN`` that JSON parsers other than
    Python's reject."""
    return json.dumps(finite_json(document), indent=2, allow_nan=False)
