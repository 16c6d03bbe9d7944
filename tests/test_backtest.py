"""``retrainer backtest``: the replay runs the real loop, prequentially, per policy."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from retrainer.backtest import (
    BacktestOptions,
    Size,
    find_time,
    infer_task,
    parse_policies,
    policy_triggers,
    prepare_history,
    read_history,
    run_backtest,
    shares_of_always,
    weighted_metric,
)
from retrainer.cli.app import app
from retrainer.domain.metrics import Task
from retrainer.exceptions import NotFoundError, UsageError

BATCH_ROWS = 200


def drifting(rows: int = 2200, seed: int = 0) -> pd.DataFrame:
    """Hourly rows whose target's dependence on x1 turns around halfway."""
    rng = np.random.default_rng(seed)
    time = pd.date_range("2024-01-01", periods=rows, freq="h", tz="UTC")
    x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
    slope = np.where(np.arange(rows) < rows // 2, 3.0, -3.0)
    y = slope * x1 + x2 + rng.normal(scale=0.3, size=rows)
    return pd.DataFrame({"time": time, "x1": x1, "x2": x2,
                         "site": rng.choice(["a", "b"], size=rows), "y": y})


@pytest.fixture()
def history_csv(tmp_path: Path) -> Path:
    path = tmp_path / "history.csv.gz"
    drifting().to_csv(path, index=False)
    return path


def options(data: Path, tmp_path: Path, **overrides: object) -> BacktestOptions:
    settings: dict[str, object] = dict(
        data=data, target="y", time_column="time", batch=str(BATCH_ROWS), initial="600",
        policies=("never", "always"), output=tmp_path / "out", workers=1)
    settings.update(overrides)
    return BacktestOptions(**settings)  # type: ignore[arg-type]


def test_never_trains_once_and_always_once_per_batch(history_csv: Path, tmp_path: Path) -> None:
    document = run_backtest(options(history_csv, tmp_path))
    batches = document["batches"]
    assert batches == (2200 - 600) // BATCH_ROWS
    by_name = {p["name"]: p for p in document["policies"]}
    assert by_name["never"]["trainings"] == 1 and by_name["never"]["retrains"] == 0
    assert by_name["always"]["trainings"] == batches
    assert by_name["always"]["retrains"] == batches - 1
    assert by_name["always"]["trained"] == list(range(batches))
    for policy in by_name.values():
        assert len(policy["per_batch"]) == batches and sum(policy["rows"]) == 2200 - 600
    # the relationship flips halfway: a model that keeps learning must beat one that never does
    assert by_name["always"]["metric"] < by_name["never"]["metric"]
    written = json.loads((tmp_path / "out" / "backtest.json").read_text())
    assert written["metric"] == "rmse" and written["higher_is_better"] is False
    assert {"name", "metric", "retrains", "promotions", "rejections", "train_seconds",
            "per_batch"} <= set(written["policies"][0])
    assert "<svg" in (tmp_path / "out" / "report.html").read_text()


def test_always_retrains_at_every_batch_of_rows_where_rows_crowd(tmp_path: Path) -> None:
    """Batches of rows on a clock whose rows thin out: the crowded batches are far shorter
    than half the mean batch, and always still retrains before every one."""
    frame = drifting(2200)
    frame["time"] = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(
        np.where(np.arange(2200) < 1400, np.arange(2200), 1400 + 12 * (np.arange(2200) - 1400)),
        unit="h")
    path = tmp_path / "crowded.csv"
    frame.to_csv(path, index=False)
    always = run_backtest(options(path, tmp_path, policies=("always",)))["policies"][0]
    assert always["trained"] == list(range(len(always["per_batch"])))


def test_fixed_schedules_retrain_at_every_kth_batch_however_long_the_batches(
        tmp_path: Path) -> None:
    """Batches of rows whose rows come an hour apart in some stretches and a day and a half
    in others, so that batches last from 8 days to 300: always retrains before every batch
    and periodic:3 before every third, not by the batches' mean length; each retrain was a
    request of the schedule, and its decision says so."""
    from retrainer.store import Store

    rows = 2600
    frame = drifting(rows)
    spacing = [1, 1, 1, 36, 1, 36, 36, 1, 1, 1, 36, 36, 1]  # hours between rows, per 200
    gaps = np.repeat(spacing, BATCH_ROWS)[:rows]
    frame["time"] = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(
        np.cumsum(gaps) - gaps[0], unit="h")
    path = tmp_path / "uneven.csv"
    frame.to_csv(path, index=False)
    document = run_backtest(options(path, tmp_path, policies=("always", "periodic:3")))
    batches = document["batches"]
    starts = pd.to_datetime(document["settings"]["batch_starts"])
    lengths = np.diff(starts) / pd.Timedelta(days=1)
    assert lengths.min() < 10 and lengths.max() > 250  # very uneven indeed
    always, periodic = document["policies"]
    assert always["trained"] == list(range(batches))
    assert periodic["trained"] == list(range(0, batches, 3))
    assert periodic["retrains"] == (batches - 1) // 3 and always["retrains"] == batches - 1
    store = Store(f"sqlite:///{tmp_path / 'out' / 'state' / 'periodic-3' / 'state.db'}")
    try:
        fired = [d for d in store.decisions("backtest", trigger="schedule", limit=1000)
                 if d.fired]
        jobs = store.list_jobs("backtest", limit=1000)
    finally:
        store.close()
    assert len(fired) == periodic["retrains"]
    assert all("every 3 batches" in d.reason and d.evidence["every_batches"] == 3
               for d in fired)
    assert sorted(j.trigger for j in jobs) == ["initial"] + ["schedule"] * periodic["retrains"]


def test_several_starts_replay_each_and_compare_them(history_csv: Path, tmp_path: Path) -> None:
    summary = run_backtest(options(history_csv, tmp_path, initial="600,1000"))
    out = tmp_path / "out"
    assert json.loads((out / "starts.json").read_text())["starts"] == ["600 rows", "1000 rows"]
    assert summary["starts"] == ["600 rows", "1000 rows"]
    alone = run_backtest(options(history_csv, tmp_path, initial="1000",
                                 output=tmp_path / "alone"))
    kept = json.loads((out / "initial-1000" / "backtest.json").read_text())
    assert (out / "initial-600" / "report.html").exists()
    # each start is the same replay as a run from that start alone
    assert [p["metric"] for p in kept["policies"]] == [p["metric"] for p in alone["policies"]]
    never, always = summary["policies"]
    assert never["per_start"][1]["metric"] == alone["policies"][0]["metric"]
    assert never["metric_min"] <= never["metric"] <= never["metric_max"]
    first = json.loads((out / "initial-600" / "backtest.json").read_text())
    assert always["retrains"] == (kept["policies"][1]["retrains"]
                                  + first["policies"][1]["retrains"]) / 2 > 0
    assert always["share_of_gain"] == 1.0 and never["share_of_gain"] == 0.0
    with pytest.raises(UsageError, match="--initial"):
        run_backtest(options(history_csv, tmp_path, initial="600,600"))
    shown = CliRunner().invoke(app, [
        "backtest", str(history_csv), "--target", "y", "--time-column", "time", "--batch",
        str(BATCH_ROWS), "--initial", "600,1000", "--policies", "never,always",
        "--output", str(tmp_path / "cli"), "--workers", "1"])
    assert shown.exit_code == 0, shown.output
    assert "100%" in shown.output  # always's share in the comparison table
    assert json.loads((tmp_path / "cli" / "starts.json").read_text())["policies"][1][
        "share_of_gain"] == 1.0
    assert (tmp_path / "cli" / "initial-1000" / "backtest.json").exists()


def test_periodic_auto_replays_the_schedule_of_autos_cost(history_csv: Path,
                                                         tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="list auto too"):
        parse_policies("never,periodic:auto")
    policies = ("periodic:auto", "auto")  # listed first: it still waits for auto
    alone = run_backtest(options(history_csv, tmp_path, policies=policies))

    def check_nearest(document: dict) -> None:
        # the schedule whose retrains come nearest auto's, and it retrained on that schedule
        by_name = {p["name"]: p for p in document["policies"]}
        matched, auto, batches = by_name["periodic:auto"], by_name["auto"], document["batches"]
        assert matched["retrains"] == (batches - 1) // matched["period"]
        assert all(abs(matched["retrains"] - auto["retrains"])
                   <= abs((batches - 1) // k - auto["retrains"]) for k in range(1, batches + 1))

    matched, auto = alone["policies"]
    assert matched["name"] == "periodic:auto" and auto["retrains"] >= 1
    check_nearest(alone)
    period = matched["period"]
    schedule = run_backtest(options(history_csv, tmp_path, policies=(f"periodic:{period}",),
                                    output=tmp_path / "schedule"))["policies"][0]
    for key in ("per_batch", "retrains", "trained"):
        assert matched[key] == schedule[key], key
    # side by side in worker processes, from two starts: each start matches its own auto
    shown = CliRunner().invoke(app, [
        "backtest", str(history_csv), "--target", "y", "--time-column", "time", "--batch",
        str(BATCH_ROWS), "--initial", "600,1000", "--policies", "auto,periodic:auto",
        "--output", str(tmp_path / "cli"), "--workers", "2"])
    assert shown.exit_code == 0, shown.output
    kept = json.loads((tmp_path / "cli" / "initial-600" / "backtest.json").read_text())
    assert kept["policies"][1]["per_batch"] == matched["per_batch"]
    check_nearest(json.loads((tmp_path / "cli" / "initial-1000" / "backtest.json").read_text()))
    shown = CliRunner().invoke(app, [
        "backtest", str(history_csv), "--target", "y", "--time-column", "time", "--batch",
        str(BATCH_ROWS), "--initial", "600", "--policies", "auto,periodic:auto",
        "--output", str(tmp_path / "one"), "--workers", "1"])
    assert f"periodic:auto replayed periodic:{period}" in shown.output, shown.output
    assert f"(K={period})" in (tmp_path / "one" / "report.html").read_text()


def test_an_empty_column_is_no_feature_and_lifts_no_null_limit(tmp_path: Path) -> None:
    """A file whose lines end in a comma has a last column with no value: it is left out, and
    does not raise readiness.max_null_share to 100% for every feature."""
    path = tmp_path / "trailing.csv"
    path.write_text("".join(line + ",\n" for line in
                            drifting(1400).to_csv(index=False).splitlines()))
    document = run_backtest(options(path, tmp_path, policies=("never",)))
    assert document["settings"]["left_out"] == {"Unnamed: 5": "empty (no value on any row)"}
    kept = (tmp_path / "out" / "state" / "never" / "retrainer.yaml").read_text()
    assert "Unnamed" not in kept.split("exclude:")[0] and "max_null_share: 1.0" not in kept


def test_without_a_config_text_dates_and_identifiers_are_not_features(
        history_csv: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(history_csv)
    extra = frame.assign(order=[f"order-{i:05d}" for i in range(len(frame))],
                         booked=pd.to_datetime(frame["time"]).dt.strftime("%d/%m/%Y %H:%M"),
                         row=range(1, len(frame) + 1), online=frame["y"].round(0),
                         high=(frame["y"] > frame["y"].median()).astype(int))
    extra["offline"] = extra["y"] - extra["online"]  # y's two parts: known only with y
    path = tmp_path / "extra.csv"
    extra.to_csv(path, index=False)
    plain = run_backtest(options(history_csv, tmp_path, policies=("always",),
                                 output=tmp_path / "plain"))
    document = run_backtest(options(path, tmp_path, policies=("always",)))
    assert set(document["settings"]["left_out"]) == {"order", "booked", "row", "online",
                                                     "offline", "high"}
    assert plain["settings"]["left_out"] == {}  # site, a few categories, stays a feature
    assert document["policies"][0]["per_batch"] == plain["policies"][0]["per_batch"]
    shown = CliRunner().invoke(app, [
        "backtest", str(path), "--target", "y", "--time-column", "time", "--batch",
        str(BATCH_ROWS), "--initial", "600", "--policies", "never", "--output",
        str(tmp_path / "cli"), "--workers", "1"])
    said = " ".join(shown.output.split())  # as wide as the console is: lines break anywhere
    assert "order, an identifier" in said and "booked, dates" in said
    assert "row, a row counter" in said
    assert "online, offline, part of the target (y = online + offline on every row)" in said
    assert "high, the target in another form" in said
    assert "order, an identifier" in (tmp_path / "cli" / "report.html").read_text()
    assert "batches of 200 rows, training window" in shown.output  # what a replay ran with
    assert "--time-column" not in shown.output.split("decide otherwise")[0]  # time was given


def test_real_mlflow_registry_gets_the_same_results(history_csv: Path, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    data = drifting(1400)
    path = tmp_path / "short.csv"
    data.to_csv(path, index=False)
    memory = run_backtest(options(path, tmp_path / "memory", policies=("periodic:2",)))
    real = run_backtest(options(path, tmp_path / "real", policies=("periodic:2",),
                                registry="mlflow"))
    assert real["policies"][0]["per_batch"] == memory["policies"][0]["per_batch"]
    home = tmp_path / "real" / "out" / "mlflow" / "periodic-2"
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    versions = client.search_model_versions()
    assert len(versions) == real["policies"][0]["trainings"]


def test_a_kept_mlflow_config_finds_its_registry_from_any_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The config a replay saves in DIR/state/POLICY/ reads its paths from its own folder,
    as every config does: a relative output (here ``out``) must not make them relative to
    the folder the backtest ran in."""
    from retrainer.config import Settings
    from retrainer.runtime import build_runtime

    drifting(1400).to_csv(tmp_path / "short.csv", index=False)
    monkeypatch.chdir(tmp_path)
    document = run_backtest(options(Path("short.csv"), tmp_path, policies=("always",),
                                    registry="mlflow", output=Path("out")))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    rt = build_runtime(settings=Settings(config=tmp_path / "out/state/always/retrainer.yaml"))
    try:
        versions = rt.registry.list_versions("backtest")
        champion = rt.store.champion("backtest")
        assert champion is not None and rt.bundle(champion) is not None
    finally:
        rt.close()
    assert len(versions) == document["policies"][0]["trainings"] > 1
    assert list(elsewhere.iterdir()) == []  # no stray database


def test_replay_source_hides_the_future_and_unarrived_labels() -> None:
    from retrainer.clock import SimulatedClock
    from retrainer.data.replay import ReplaySource
    from retrainer.domain import Window

    frame = drifting()
    clock = SimulatedClock(frame["time"].iloc[1000].to_pydatetime())
    source = ReplaySource(frame, "time", "y", clock, label_delay=timedelta(hours=400))
    window = Window(frame["time"].iloc[0].to_pydatetime(), frame["time"].iloc[-1].to_pydatetime())
    seen = source.load(window)
    assert len(seen) == 1000  # rows after the clock do not exist yet
    assert seen["y"].notna().sum() == 600  # labels arrive 400 hours after their row
    assert seen["y"].iloc[:600].equals(frame["y"].iloc[:600])


def test_no_load_of_the_loop_sees_a_label_before_it_arrived(
        history_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every window the monitors, readiness checks and training jobs load during a replay
    holds only rows before the clock and labels at least the delay old."""
    from retrainer.data.replay import ReplaySource

    delay = timedelta(hours=400)
    loads: list[tuple[pd.Timestamp, pd.Timestamp | None, pd.Timestamp | None]] = []
    original = ReplaySource.load

    def recording(self: ReplaySource, window: object) -> pd.DataFrame:
        rows = original(self, window)  # type: ignore[arg-type]
        labelled = rows.loc[rows["y"].notna(), "time"]
        loads.append((pd.Timestamp(self.clock.now()), rows["time"].max() if len(rows) else None,
                      labelled.max() if len(labelled) else None))
        return rows

    monkeypatch.setattr(ReplaySource, "load", recording)
    config = tmp_path / "retrainer.yaml"
    config.write_text(
        "models:\n  - name: flip\n    source: {kind: csv, path: history.csv}\n"
        "    time_column: time\n    target: y\n    task: regression\n    min_rows: 100\n"
        "    readiness: {max_label_null_share: 0.95}\n"
        "    validation: {challenger: {enabled: true}}\n")
    document = run_backtest(options(history_csv, tmp_path, label_delay="400",
                                    policies=("always",), config=config))
    policy = document["policies"][0]
    assert policy["trainings"] == document["batches"]
    # readiness and the job load at every tick, the monitors at all but the first (no model
    # yet), and a pending challenger (a rejected candidate) at the ticks after its rejection
    assert len(loads) > 3 * document["batches"] - 1
    for now, newest, newest_label in loads:
        assert newest is None or newest < now
        assert newest_label is None or newest_label < now - delay


def test_auto_explains_itself_in_the_kept_store_and_estimates_while_labels_lag(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from retrainer.store import Store

    frame = drifting(2600)
    frame["y"] = (frame["y"] > 0).astype(int)  # the relationship still flips halfway
    path = tmp_path / "labels.csv"
    frame.to_csv(path, index=False)
    document = run_backtest(options(path, tmp_path, policies=("never", "auto"),
                                    label_delay="100"))
    assert document["metric"] == "accuracy"  # the classification default
    never, auto = document["policies"]
    assert 1 <= auto["retrains"] < document["batches"]
    assert auto["metric"] > never["metric"]
    kept = tmp_path / "out" / "state" / "auto"
    store = Store(f"sqlite:///{kept / 'state.db'}")
    try:
        decisions = store.decisions("backtest", trigger="auto", limit=1000)
        fired = [d for d in decisions if d.fired]
        assert len(fired) == auto["retrains"]
        assert {"clock_days", "due_clock_days", "gain_rate", "gain_measurements",
                "lost_value"} <= set(fired[0].evidence)
        assert all("due at" in d.reason for d in fired)
        assert max(d.evidence.get("gain_measurements", 0) for d in decisions) >= 1
        # labels arrive 100 hours late: every tick estimates the rows still waiting for them
        estimates = store.readings("backtest", monitor="estimated", limit=1000)
        assert len(estimates) == document["batches"] - 1
        assert all(r.rows == 100 and 0 <= r.details["metrics"]["accuracy"] <= 1
                   for r in estimates)
    finally:
        store.close()
    shown = CliRunner().invoke(app, ["-c", str(kept / "retrainer.yaml"), "history", "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["decisions"]["backtest"]
    # its models were in memory: the commands that need them say so, without a traceback
    assert "ended with the replay" in (kept / "retrainer.yaml").read_text()
    shown = CliRunner().invoke(app, ["-c", str(kept / "retrainer.yaml"), "models", "backtest"])
    assert isinstance(shown.exception, NotFoundError), shown.output  # main() prints it
    assert "lives only in the process that wrote it" in str(shown.exception)
    caplog.clear()
    shown = CliRunner().invoke(app, ["-c", str(kept / "retrainer.yaml"), "tick"])
    assert shown.exit_code == 1, shown.output
    failed = [r for r in caplog.records if "tick of model" in r.getMessage()]
    assert failed and all("exists only inside a backtest" in r.getMessage() and r.exc_info is None
                          for r in failed)
    # the report's clock: 1 or more exactly at the ticks whose job auto named
    clock = auto["auto_clock"]
    assert len(clock) == document["batches"] and never["auto_clock"] == []
    by_auto = {i for i in auto["trained"] if clock[i] is not None and i > 0}
    assert len(by_auto) == auto["retrains"]
    assert all(clock[i] >= 1 for i in by_auto)
    assert all(v < 1 for i, v in enumerate(clock) if v is not None and i not in by_auto)


def test_a_multiclass_model_estimates_its_accuracy_while_labels_lag(tmp_path: Path) -> None:
    from retrainer.store import Store

    frame = drifting(2200)
    frame["y"] = np.select([frame["y"] < -1, frame["y"] > 1], ["low", "high"], "mid")
    path = tmp_path / "classes.csv"
    frame.to_csv(path, index=False)
    document = run_backtest(options(path, tmp_path, policies=("auto",), label_delay="100"))
    store = Store(f"sqlite:///{tmp_path / 'out' / 'state' / 'auto' / 'state.db'}")
    try:
        estimates = store.readings("backtest", monitor="estimated", limit=1000)
        realised = store.readings("backtest", monitor="performance", limit=1000)
    finally:
        store.close()
    assert len(estimates) == document["batches"] - 1  # every tick with a model in production
    assert all(set(r.details["metrics"]) == {"accuracy", "accuracy_std"} for r in estimates)
    estimated = [r.details["metrics"]["accuracy"] for r in estimates]
    assert all(0 < value < 1 for value in estimated) and len(set(estimated)) > 1
    # before the relationship turns around, the estimates are about what the labels say
    first_half = [r.details["metrics"]["accuracy"] for r in realised
                  if r.as_of < pd.Timestamp("2024-02-15", tz="UTC")]
    early = [r.details["metrics"]["accuracy"] for r in estimates
             if r.as_of < pd.Timestamp("2024-02-15", tz="UTC")]
    assert first_half and early
    assert np.mean(early) == pytest.approx(np.mean(first_half), abs=0.1)


def test_drift_policy_retrains_on_label_shift_alone(tmp_path: Path) -> None:
    from retrainer.store import Store

    frame = drifting(2200, seed=3)
    frame["y"] = 3.0 * frame["x1"] + frame["x2"] + np.where(frame.index < 1400, 0.0, 12.0)
    path = tmp_path / "shift.csv"
    frame.to_csv(path, index=False)
    document = run_backtest(options(path, tmp_path, policies=("never", "drift")))
    never, drift = document["policies"]
    assert drift["retrains"] >= 1 and drift["metric"] < never["metric"]
    store = Store(f"sqlite:///{tmp_path / 'out' / 'state' / 'drift' / 'state.db'}")
    try:
        versions = store.versions("backtest")
        assert all(v.profile and v.profile["target"]["column"] == "y" for v in versions)
        assert versions[0].profile["target"]["spec"]["kind"] == "numeric"
        readings = store.readings("backtest", monitor="drift", limit=1000)
        assert readings and all(r.details["target"]["column"] == "y" for r in readings)
        fired = [d for d in store.decisions("backtest", trigger="drift", limit=1000) if d.fired]
        assert len(fired) == drift["retrains"]
        # the features keep their distribution: the target's shift alone fires the retrain
        assert any(d.evidence["target_drift"]["drifted"] and not d.evidence["drifted_columns"]
                   and "target y drifted" in d.reason for d in fired)
    finally:
        store.close()


def test_a_class_that_appears_later_is_scored_then_learned(tmp_path: Path) -> None:
    """Labels the production model never saw count as its mistakes; a candidate that learned
    them is compared with it over every class, and wins."""
    from retrainer.store import Store

    frame = drifting(2200, seed=4)
    frame["y"] = np.where(frame["x1"] > 0, "up", "down")
    frame.loc[(frame.index >= 1200) & (frame["x2"] > 0.5), "y"] = "new"
    path = tmp_path / "classes.csv"
    frame.to_csv(path, index=False)
    document = run_backtest(options(path, tmp_path, policies=("never", "always")))
    never, always = document["policies"]
    assert never["unscored"] == 0 and always["unscored"] == 0
    assert always["metric"] > never["metric"] + 0.05
    store = Store(f"sqlite:///{tmp_path / 'out' / 'state' / 'always' / 'state.db'}")
    try:
        champion = store.champion("backtest")
        assert champion is not None and champion.metrics["accuracy"] > 0.8
        assert {job.state.value for job in store.list_jobs("backtest")} <= {"promoted",
                                                                            "rejected"}
    finally:
        store.close()
    tail = never["per_batch"][-3:]  # "new" rows are a quarter of each late batch
    assert all(value is not None and value < 0.8 for value in tail)


def test_a_column_sparse_by_nature_is_trained_on_and_a_rise_in_its_nulls_is_caught(
        tmp_path: Path) -> None:
    """The null-share limit of a feature is the absolute cap or, when production already
    trained on a sparser column, production's share plus the allowed rise."""
    from retrainer.store import Store

    frame = drifting()
    rng = np.random.default_rng(1)
    frame.loc[rng.random(len(frame)) < 0.35, "site"] = None
    sparse = tmp_path / "sparse.csv"
    frame.to_csv(sparse, index=False)
    # no config: the first model's limit comes from the initial period, so every job trains
    document = run_backtest(options(sparse, tmp_path / "plain", policies=("always",)))
    assert document["policies"][0]["unscored"] == 0
    assert document["policies"][0]["retrains"] == document["batches"] - 1

    frame = drifting()
    share = np.where(frame.index < 600, 0.1, 0.28)  # the first window is 10% null, then 28%
    frame.loc[rng.random(len(frame)) < share, "site"] = None
    rising = tmp_path / "rising.csv"
    frame.to_csv(rising, index=False)

    def skipped(rise: float) -> list[str]:
        config = tmp_path / f"rise-{rise}.yaml"
        config.write_text(
            "models:\n  - name: m\n    source: {kind: csv, path: h.csv}\n"
            "    time_column: time\n    target: y\n    task: regression\n"
            "    training_window: 600h\n    min_rows: 100\n"
            f"    readiness: {{max_null_share: 0.2, max_null_share_rise: {rise}}}\n")
        out = tmp_path / f"out-{rise}"
        run_backtest(options(rising, tmp_path, policies=("always",), config=config,
                             output=out))
        store = Store(f"sqlite:///{out / 'state' / 'always' / 'state.db'}")
        try:
            return [job.state_reason or "" for job in store.list_jobs("backtest")
                    if job.state.value == "skipped"]
        finally:
            store.close()

    # production trained on ~10% nulls: 28% passes within a rise of 30 points, not of 0
    assert skipped(0.3) == []
    reasons = skipped(0.0)
    assert reasons and all("feature 'site' is" in r and "(max 20%, readiness.max_null_share)"
                           in r for r in reasons)


def test_refit_on_holdout_registers_the_recipe_fitted_on_the_whole_window(
        history_csv: Path, tmp_path: Path) -> None:
    from retrainer.store import Store

    config = tmp_path / "retrainer.yaml"
    config.write_text(
        "models:\n"
        "  - name: flip\n"
        "    source: {kind: csv, path: history.csv}\n"
        "    time_column: time\n"
        "    target: y\n"
        "    task: regression\n"
        "    min_rows: 100\n"
        "    training: {refit_on_holdout: true}\n"
        "    validation: {metric_ci: false}\n")
    config.with_name("plain.yaml").write_text(
        config.read_text().replace("refit_on_holdout: true", "refit_on_holdout: false"))
    plain = run_backtest(options(history_csv, tmp_path / "plain", policies=("always",),
                                 config=config.with_name("plain.yaml"), window="800"))
    refit = run_backtest(options(history_csv, tmp_path / "refit", policies=("always",),
                                 config=config, window="800"))
    # the newest fifth of each window is where the flipped relationship shows first
    assert refit["policies"][0]["metric"] < plain["policies"][0]["metric"]
    store = Store(f"sqlite:///{tmp_path / 'refit' / 'out' / 'state' / 'always' / 'state.db'}")
    try:
        versions = store.versions("backtest")
        assert len(versions) == refit["batches"]
        for version in versions:
            lineage = version.lineage
            assert lineage["refit_on_holdout"] is True
            assert lineage["rows_train"] == lineage["rows"]
            assert lineage["validated_fit"]["rows_train"] == \
                lineage["rows"] - lineage["rows_holdout"]
            # the newest row it learned: the window's last hour, which monitoring then skips
            assert pd.Timestamp(lineage["fitted_through"]) == \
                pd.Timestamp(lineage["data_end"]) - pd.Timedelta(hours=1)
    finally:
        store.close()
    kept = Store(f"sqlite:///{tmp_path / 'plain' / 'out' / 'state' / 'always' / 'state.db'}")
    try:
        lineage = kept.versions("backtest")[-1].lineage
        assert lineage["refit_on_holdout"] is False and lineage["validated_fit"] is None
        assert lineage["rows_train"] == lineage["rows"] - lineage["rows_holdout"]
        assert pd.Timestamp(lineage["fitted_through"]) == pd.Timestamp(lineage["data_end"]) \
            - pd.Timedelta(hours=1 + lineage["rows_holdout"])
    finally:
        kept.close()


def test_a_rejected_candidate_is_promoted_once_later_labels_prove_it(tmp_path: Path) -> None:
    """validation.challenger: the gate looks again at the newest rejected candidate."""
    from retrainer.domain import JobState
    from retrainer.store import Store

    rng = np.random.default_rng(4)  # a draw in which a later look does promote (not every one)
    rows = 2200
    x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
    # a slow drift under much noise: a 40-row holdout cannot show that a fresh model is better
    y = np.linspace(3.0, -1.0, rows) * x1 + x2 + rng.normal(scale=1.5, size=rows)
    data = tmp_path / "slow.csv.gz"
    pd.DataFrame({"time": pd.date_range("2024-01-01", periods=rows, freq="h", tz="UTC"),
                  "x1": x1, "x2": x2, "y": y}).to_csv(data, index=False)
    looks_by_setting = {}
    for enabled in ("true", "false"):
        config = tmp_path / f"challenger-{enabled}.yaml"
        config.write_text(
            "models:\n  - name: slow\n    source: {kind: csv, path: slow.csv}\n"
            "    time_column: time\n    target: y\n    task: regression\n    min_rows: 100\n"
            "    training: {holdout_fraction: 0.05}\n"
            f"    validation: {{metric_ci: false, challenger: {{enabled: {enabled}}}}}\n")
        out = tmp_path / enabled
        registry = "mlflow" if enabled == "true" else "memory"  # promotions reach MLflow too
        document = run_backtest(options(data, out, policies=("periodic:2",), config=config,
                                        window="800", registry=registry))
        store = Store(f"sqlite:///{out / 'out' / 'state' / 'periodic-2' / 'state.db'}")
        try:
            looks = store.decisions("backtest", "challenger", limit=100)
            looks_by_setting[enabled] = looks
            jobs = {j.id: j for j in store.list_jobs("backtest")}
            promoted = {d.job_id for d in looks if d.fired}
            for look in looks:
                verdict = store.report(look.job_id)
                assert verdict is not None and not verdict.passed  # rejected on its holdout
                assert look.evidence["rows"] >= 2 * verdict.holdout_rows
                assert look.evidence["alpha"] == pytest.approx(0.05 / 3)
                assert look.evidence["start"] >= verdict.holdout_start
                # rejected until a look promotes it (at most one does)
                assert jobs[look.job_id].state is (
                    JobState.PROMOTED if look.job_id in promoted else JobState.REJECTED)
            assert document["policies"][0]["promotions"] == sum(
                1 for j in jobs.values() if j.state is JobState.PROMOTED and j.trigger != "initial")
            if enabled == "true":
                assert promoted, "no challenger was promoted"
                for job_id in promoted:  # the promotion is in the store's history too
                    assert any(p.to_version == jobs[job_id].candidate_version
                               and "challenger" in p.reason
                               for p in store.promotions("backtest"))
                from mlflow import MlflowClient

                home = out / "out" / "mlflow" / "periodic-2"
                client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
                alias = client.get_model_version_by_alias("backtest", "champion")
                assert str(alias.version) == store.champion("backtest").version
                for job_id in promoted:
                    tags = client.get_model_version(
                        "backtest", jobs[job_id].candidate_version).tags
                    assert tags["retrainer.challenger"].startswith("promoted by look ")
        finally:
            store.close()
    assert looks_by_setting["false"] == []


def test_a_policy_without_a_production_model_says_why(history_csv: Path,
                                                      tmp_path: Path) -> None:
    config = tmp_path / "retrainer.yaml"
    config.write_text("models:\n  - name: m\n    source: {kind: csv, path: h.csv}\n"
                      "    time_column: time\n    target: y\n    task: regression\n"
                      "    min_rows: 100000\n")
    document = run_backtest(options(history_csv, tmp_path, policies=("always",),
                                    config=config))
    always = document["policies"][0]
    assert always["unscored"] == document["batches"] and always["retrains"] == 0
    assert "skipped" in always["unscored_reason"] and "min_rows" in always["unscored_reason"]
    shown = CliRunner().invoke(app, [
        "backtest", str(history_csv), "--target", "y", "--time-column", "time", "--batch",
        str(BATCH_ROWS), "--initial", "600", "--policies", "never,always", "--workers", "1",
        "--config", str(config), "--output", str(tmp_path / "cli")])
    assert shown.exit_code == 1  # outputs written, but nothing was scored
    assert "no policy scored a batch" in " ".join(shown.output.split())
    assert (tmp_path / "cli" / "backtest.json").exists()
    starts = CliRunner().invoke(app, [  # from several starts too, and it says why
        "backtest", str(history_csv), "--target", "y", "--time-column", "time", "--batch",
        str(BATCH_ROWS), "--initial", "600,800", "--policies", "never", "--workers", "1",
        "--config", str(config), "--output", str(tmp_path / "starts")])
    assert starts.exit_code == 1, starts.output
    assert "no policy scored a batch from any start" in " ".join(starts.output.split())
    assert "min_rows" in starts.output
    for start in ("600 rows", "800 rows"):  # each start's notes, as one start prints them
        assert f"from {start}, never: " in " ".join(starts.output.split())
    scored = run_backtest(options(history_csv, tmp_path / "ok", policies=("always",)))
    assert scored["policies"][0]["unscored"] == 0
    assert scored["policies"][0]["unscored_reason"] is None


def test_batches_before_the_first_model_are_blamed_on_the_job_before_it(
        tmp_path: Path) -> None:
    frame = drifting()
    frame.loc[:899, "y"] = np.nan  # no labels at first: the first jobs are skipped
    path = tmp_path / "late.csv"
    frame.to_csv(path, index=False)
    config = tmp_path / "retrainer.yaml"  # a gate no candidate passes once a model serves
    config.write_text("models:\n  - name: m\n    source: {kind: csv, path: h.csv}\n"
                      "    time_column: time\n    target: y\n    task: regression\n"
                      "    min_rows: 200\n    validation: {min_improvement: 90%}\n")
    document = run_backtest(options(path, tmp_path, policies=("always",), config=config))
    always = document["policies"][0]
    assert 0 < always["unscored"] < document["batches"] and always["rejections"] > 0
    # later jobs were rejected against a production model; the reason is the skip before it
    assert "skipped" in always["unscored_reason"] and "rejected" not in always["unscored_reason"]


def test_sizes_and_policies_are_checked() -> None:
    assert Size.parse("7D", "batch") == Size(7, "d")
    assert Size.parse(1000, "batch") == Size(1000)
    for bad in ("0", "7X", "week"):
        with pytest.raises(UsageError):
            Size.parse(bad, "batch")
    assert parse_policies("never, periodic:3,auto") == ("never", "periodic:3", "auto")
    for bad in ("sometimes", "periodic:0", "periodic:²", "never,never", ""):
        with pytest.raises(UsageError):
            parse_policies(bad)
    assert parse_policies("periodic:04") == ("periodic:4",)
    with pytest.raises(UsageError, match="periodic:4 is listed twice"):
        parse_policies("periodic:4,periodic:04")


def test_a_lower_case_m_is_refused_for_min_or_M() -> None:
    for what in ("batch", "initial", "window", "label-delay"):
        with pytest.raises(UsageError, match=r"write min for minutes \(30min\) or M for months"):
            Size.parse("30m", what)
    assert Size.parse("1M", "batch") == Size(1, "m") and Size(1, "m").text == "1M"
    assert Size.parse("30min", "batch") == Size(30, "min") and Size(30, "min").text == "30min"
    times = pd.date_range("2024-01-01", periods=600, freq="min")
    frame = pd.DataFrame({"time": times, "x": np.arange(600.0), "y": np.arange(600.0)})
    history = prepare_history(frame, "time", "y", Size(30, "min"), Size(2, "h"))
    assert history.batches == 16 and history.duration(Size(30, "min")) == timedelta(minutes=30)


def test_a_class_for_every_row_is_refused(history_csv: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="a class for almost every row"):
        run_backtest(options(history_csv, tmp_path, task=Task.CLASSIFICATION))


def test_late_labels_lengthen_the_default_window_by_their_delay(history_csv: Path,
                                                                tmp_path: Path) -> None:
    """Without --window, the window holds as many labelled rows with late labels as with
    labels on time: four batches plus the delay, whose newest rows have none yet."""
    on_time = run_backtest(options(history_csv, tmp_path, policies=("never",),
                                   output=tmp_path / "on-time"))
    late = run_backtest(options(history_csv, tmp_path, policies=("never",),
                                label_delay="300", output=tmp_path / "late"))
    def window(document: dict[str, Any]) -> pd.Timedelta:
        return pd.Timedelta(document["settings"]["training_window"])

    assert window(on_time) == pd.Timedelta(hours=800)  # hourly rows, batches of 200
    assert window(late) == pd.Timedelta(hours=1100)
    given = run_backtest(options(history_csv, tmp_path, policies=("never",), window="400",
                                 label_delay="300", output=tmp_path / "given"))
    assert window(given) == pd.Timedelta(hours=400)  # as the user set it


def test_auto_policy_keeps_the_configs_auto_settings_even_where_auto_is_off() -> None:
    from retrainer.config import ModelConfig

    base = ModelConfig.model_validate({
        "name": "m", "source": {"kind": "csv", "path": "x.csv"}, "target": "y",
        "time_column": "time", "task": "regression",
        "triggers": {"auto": {"enabled": False, "cost_per_retrain": 7.0,
                              "max_interval": "40d"}}})
    auto = policy_triggers("auto", base).auto
    assert auto.enabled and auto.cost_per_retrain == 7.0
    assert auto.max_interval == timedelta(days=40)
    assert not policy_triggers("never", base).auto.enabled


def test_row_order_is_time_without_a_time_column() -> None:
    frame = drifting(1000).drop(columns=["time"])
    history = prepare_history(frame, None, "y", Size(100), Size(300))
    assert history.batches == 7
    # a batch reads as a week, whatever its row count: day-based settings mean the same
    for rows in (100, 336):
        by_rows = prepare_history(frame, None, "y", Size(rows), Size(300))
        assert by_rows.duration(Size(rows)) == timedelta(weeks=1)
        assert by_rows.boundaries[1] - by_rows.boundaries[0] == timedelta(weeks=1)
    assert history.duration(Size(50)) == timedelta(days=3.5)
    with pytest.raises(UsageError, match="periods"):
        prepare_history(frame, None, "y", Size(7, "d"), Size(300))


def test_a_batch_of_rows_replays_like_the_week_it_stands_for(tmp_path: Path) -> None:
    frame = drifting(4400)
    frame["time"] = pd.date_range("2024-01-01", periods=len(frame), freq="30min", tz="UTC")
    dated, undated = tmp_path / "dated.csv", tmp_path / "undated.csv"
    frame.to_csv(dated, index=False)
    frame.drop(columns=["time"]).to_csv(undated, index=False)
    by_date = run_backtest(options(dated, tmp_path, batch="7D", initial="14D",
                                   policies=("auto",), output=tmp_path / "dated"))
    by_rows = run_backtest(options(undated, tmp_path, time_column=None, batch="336",
                                   initial="672", policies=("auto",), output=tmp_path / "rows"))
    assert by_date["settings"]["training_window"] == "28 days"
    assert by_rows["settings"]["training_window"] == "1,344 rows"  # as the user sized it
    auto_by_date, auto_by_rows = by_date["policies"][0], by_rows["policies"][0]
    assert auto_by_date["retrains"] >= 1
    for key in ("per_batch", "retrains", "promotions", "trained"):
        assert auto_by_rows[key] == auto_by_date[key], key


def test_without_a_time_column_a_clock_in_the_data_is_found_when_it_runs_in_row_order(
        tmp_path: Path) -> None:
    frame = drifting(1400)
    times = pd.to_datetime(frame["time"])
    parts = frame.drop(columns=["time"]).assign(
        Year=times.dt.year, month=times.dt.month, day=times.dt.day, hour=times.dt.hour)
    explicit = parts.assign(time=frame["time"])
    files = {name: tmp_path / f"{name}.csv" for name in ("parts", "explicit", "dates")}
    parts.to_csv(files["parts"], index=False)
    explicit.to_csv(files["explicit"], index=False)
    frame.drop(columns=["time"]).assign(day=times.dt.strftime("%Y-%m-%d")).to_csv(
        files["dates"], index=False)
    settings = dict(batch="7D", initial="21D", policies=("always",))
    found = run_backtest(options(files["parts"], tmp_path, time_column=None, **settings,
                                 output=tmp_path / "found"))
    given = run_backtest(options(files["explicit"], tmp_path, **settings,
                                 output=tmp_path / "given"))
    assert found["settings"]["time_column"] == "time"
    assert found["settings"]["time_found_in"] == "Year, month, day, hour"
    assert "time time, assembled from Year, month, day, hour, in row order" in (
        tmp_path / "found" / "report.html").read_text()
    assert given["settings"]["time_found_in"] is None
    assert found["batches"] == given["batches"] == 6
    assert found["policies"][0]["per_batch"] == given["policies"][0]["per_batch"]

    def replay(path: Path, *extra: str) -> str:
        shown = CliRunner().invoke(app, [
            "backtest", str(path), "--target", "y", "--policies", "never", "--workers", "1",
            "--output", str(tmp_path / path.stem), *extra])
        assert shown.exit_code == 0, shown.output
        return " ".join(shown.output.split())

    assert "time: time, assembled from Year, month, day, hour, in row order" in replay(
        files["parts"])
    assert "time: time, assembled from" in replay(files["parts"], "--initial", "21D,28D")
    # hourly rows dated by their day: the date column is the clock, 7D batches by default
    shown = replay(files["dates"])
    assert "time: day, the only column of dates, in row order" in shown
    assert "batches of 7D" in shown
    # a typed time, as Parquet stores it: the clock, not a category of a new value each row
    typed = tmp_path / "typed.parquet"
    frame.rename(columns={"time": "stamp"}).to_parquet(typed)
    by_type = run_backtest(options(typed, tmp_path, time_column=None, **settings,
                                   output=tmp_path / "typed"))
    named = run_backtest(options(typed, tmp_path, time_column="stamp", **settings,
                                 output=tmp_path / "named"))
    assert by_type["settings"]["time_found_in"] == "stamp"
    assert "time stamp, the only column of dates, in row order" in (
        tmp_path / "typed" / "report.html").read_text()
    assert by_type["policies"][0]["per_batch"] == named["policies"][0]["per_batch"]
    # a date and a time of day, as the UCI household power file has them
    split = frame.drop(columns=["time"]).assign(Date=times.dt.strftime("%d/%m/%Y"),
                                                Time=times.dt.strftime("%H:%M:%S"))
    split.to_csv(files["dates"], index=False, sep=";")
    split_found = run_backtest(options(files["dates"], tmp_path, time_column=None, **settings,
                                       output=tmp_path / "split"))
    assert split_found["settings"]["time_found_in"] == "Date, Time"
    assert split_found["batches"] == 6
    # shuffled, the dates are not the rows' order: row order stays time, and the dates are
    # named as what they may be
    frame.drop(columns=["time"]).assign(day=times.dt.strftime("%Y-%m-%d")).sample(
        frac=1, random_state=0).to_csv(files["dates"], index=False)
    shown = replay(files["dates"], "--batch", "200", "--initial", "400")
    assert "time:" not in shown and "batches of 200 rows" in shown
    assert "day, dates (the time? give it as --time-column)" in shown
    # with a config its time column is the clock, assembled when the data holds it in parts
    config = tmp_path / "retrainer.yaml"
    config.write_text(
        "models:\n  - name: m\n    source: {kind: csv, path: x.csv}\n    time_column: time\n"
        "    target: y\n    task: regression\n    min_rows: 50\n")
    assert "time: time, assembled from Year, month, day, hour" in replay(
        files["parts"], "--config", str(config), "--batch", "7D", "--initial", "21D")
    # ... and where the data has the config's time column, it is the time column
    by_config = run_backtest(options(files["explicit"], tmp_path, time_column=None,
                                     config=config, **settings, output=tmp_path / "by-config"))
    named = run_backtest(options(files["explicit"], tmp_path, config=config, **settings,
                                 output=tmp_path / "named-too"))
    assert by_config["settings"]["time_column"] == "time"
    assert by_config["settings"]["time_found_in"] is None and by_config["batches"] == 6
    assert by_config["policies"][0]["per_batch"] == named["policies"][0]["per_batch"]


@pytest.mark.parametrize("parts", [
    {"year": [2014, None, 2014], "month": [1, 1, 1], "day": [1, 2, 3]},  # a gap
    {"year": [2014] * 3, "month": ["Jan", "Jan", "Feb"], "day": [1, 2, 3]},  # not numbers
    {"year": [99999] * 3, "month": [1] * 3, "day": [1, 2, 3]},  # no calendar holds it
    {"year": [2014] * 3, "month": [1] * 3, "day": [7, 1, 2]},  # a weekday, not a date
    {"year": [2014] * 3, "month": [1] * 3},  # no day
])
def test_parts_that_make_no_clock_in_row_order_are_not_one(parts: dict[str, list[object]]
                                                            ) -> None:
    frame = pd.DataFrame({**parts, "y": [1.0, 2.0, 3.0]})
    assert find_time(frame, "y") is None
    assert list(frame.columns) == [*parts, "y"]  # nothing added


def test_weekly_batches_of_daily_rows_train_and_monitor_on_enough_rows(tmp_path: Path) -> None:
    frame = drifting(420)
    frame["time"] = pd.date_range("2024-01-01", periods=len(frame), freq="D", tz="UTC")
    path = tmp_path / "daily.csv"
    frame.to_csv(path, index=False)
    document = run_backtest(options(path, tmp_path, batch="7D", initial="28D",
                                    policies=("never", "performance")))
    assert document["settings"]["monitoring_window"] == "30 days"
    assert document["settings"]["training_window"] == "200 days"  # not 4 x 7 rows
    performance = document["policies"][1]
    assert performance["retrains"] >= 1  # a batch of 7 rows alone would never be judged


def test_a_unix_time_column_is_read_as_dates() -> None:
    frame = drifting(1000)
    dated = prepare_history(frame, "time", "y", Size(7, "d"), Size(14, "d"))
    since_epoch = frame["time"] - pd.Timestamp("1970-01-01", tz="UTC")
    seconds = frame.assign(time=since_epoch // pd.Timedelta(seconds=1))
    millis = frame.assign(time=since_epoch // pd.Timedelta(milliseconds=1))
    for numeric in (seconds, millis):
        history = prepare_history(numeric.sample(frac=1, random_state=0), "time", "y",
                                  Size(7, "d"), Size(14, "d"))
        assert history.boundaries == dated.boundaries
        assert history.frame["time"].equals(dated.frame["time"])
    counter = frame.assign(time=np.arange(len(frame)))
    with pytest.raises(UsageError, match="holding dates or Unix times"):
        prepare_history(counter, "time", "y", Size(7, "d"), Size(300))
    by_rows = prepare_history(seconds, "time", "y", Size(100), Size(300))  # row counts too
    assert by_rows.time_column == "time" and by_rows.batches == 7
    assert by_rows.boundaries[0] == dated.frame["time"].iloc[300]
    assert by_rows.frame["time"].equals(dated.frame["time"])


def test_infinite_targets_count_as_missing_labels(tmp_path: Path) -> None:
    frame = drifting()
    frame.loc[1500:1509, "y"] = np.inf
    frame.loc[100:120, "x1"] = -np.inf
    path = tmp_path / "inf.csv"
    frame.to_csv(path, index=False)
    document = run_backtest(options(path, tmp_path, policies=("never", "always")))
    for policy in document["policies"]:
        assert policy["unscored"] == 0 and sum(policy["rows"]) == 2200 - 600 - 10
        assert all(math.isfinite(v) for v in policy["per_batch"])


def test_column_names_with_brackets_colons_and_commas_replay(tmp_path: Path) -> None:
    frame = drifting().rename(columns={"x1": "speed [km/h]", "x2": "load: peak, daily",
                                       "site": "site {id}", "time": "time stamp"})
    path = tmp_path / "names.csv"
    frame.to_csv(path, index=False)
    document = run_backtest(options(path, tmp_path, time_column="time stamp",
                                    policies=("never", "always")))
    never, always = document["policies"]
    assert never["unscored"] == 0 and always["unscored"] == 0
    assert always["metric"] < never["metric"]


def test_semicolon_and_tab_separated_files_and_indexed_parquet_are_read(tmp_path: Path) -> None:
    frame = drifting(300)
    for name, separator in (("semi.csv", ";"), ("tabs.tsv.gz", "\t")):
        path = tmp_path / name
        frame.to_csv(path, sep=separator, index=False)
        read = read_history(path)
        assert list(read.columns) == list(frame.columns) and len(read) == 300
    indexed = tmp_path / "indexed.parquet"
    frame.set_index("time").to_parquet(indexed)
    assert "time" in read_history(indexed).columns
    unnamed = tmp_path / "unnamed.parquet"  # times as an index without a name: still a clock
    frame.set_index("time").rename_axis(None).to_parquet(unnamed)
    read = read_history(unnamed)
    assert find_time(read, "y") == ("index", "index") and len(read.columns) == len(frame.columns)
    frame.to_parquet(unnamed)  # a plain row number is no column
    assert list(read_history(unnamed).columns) == list(frame.columns)


def test_european_csv_with_latin_1_text_and_decimal_commas_is_read(tmp_path: Path) -> None:
    frame = drifting(300).assign(site=lambda f: f["site"].map({"a": "Zürich", "b": "Genève"}))
    path = tmp_path / "eu.csv"
    frame.to_csv(path, sep=";", decimal=",", index=False, encoding="latin-1")
    read = read_history(path)
    assert set(read["site"]) == {"Zürich", "Genève"}
    for column in ("x1", "x2", "y"):  # 1,5 read as one and a half, not as a category
        assert read[column].dtype == np.float64
        np.testing.assert_allclose(read[column], frame[column])
    commas = tmp_path / "commas.csv"  # a comma-separated file keeps its decimal points
    frame.to_csv(commas, index=False)
    np.testing.assert_allclose(read_history(commas)["y"], frame["y"])


def test_numbers_with_thousands_separators_are_read_as_numbers(tmp_path: Path) -> None:
    """A spreadsheet's export: amounts written 1,234.50 (quoted in the CSV), which would
    otherwise be text with a value per row, left out as an identifier."""
    frame = drifting(300)
    amounts = np.random.default_rng(0).uniform(0, 2_000_000, len(frame)).round(2)
    written = frame.assign(amount=[f"{value:,.2f}" for value in amounts],
                           note=[f"{i}, {i + 1}" for i in range(len(frame))])  # not numbers
    path = tmp_path / "grouped.csv"
    written.to_csv(path, index=False)
    assert '"1,' in path.read_text()  # the commas are in the file, quoted
    read = read_history(path)
    assert read["amount"].dtype == np.float64
    np.testing.assert_allclose(read["amount"], amounts)
    assert read["note"].iloc[0] == "0, 1"


def test_shares_of_always_follow_the_metric_direction() -> None:
    def policy(name: str, metric: float, retrains: int) -> dict[str, object]:
        return {"name": name, "metric": metric, "retrains": retrains}

    rmse = [policy("never", 10.0, 0), policy("always", 6.0, 40), policy("auto", 7.0, 10)]
    assert shares_of_always(rmse, False)["auto"] == (0.75, 0.25)
    accuracy = [policy("never", 0.6, 0), policy("always", 0.8, 40), policy("auto", 0.79, 8)]
    of_gain, of_retrains = shares_of_always(accuracy, True)["auto"]
    assert math.isclose(of_gain or 0, 0.95) and of_retrains == 0.2
    assert shares_of_always(rmse, False)["never"] == (0.0, 0.0)
    assert shares_of_always(rmse[1:], False) == {}  # no never: no gain to share
    # always no better than never: nothing to share, whatever the other policies did
    worse = [policy("never", 0.7, 0), policy("always", 0.69, 40), policy("auto", 0.68, 8)]
    assert shares_of_always(worse, True)["auto"] == (None, 0.2)
    assert shares_of_always([*rmse, policy("broken", math.nan, 3)], False)["broken"][0] is None


def test_task_inference_and_weighted_metric() -> None:
    assert infer_task(pd.Series([0, 1, 1, 0])).value == "classification"
    assert infer_task(pd.Series(["x", "y"])).value == "classification"
    assert infer_task(pd.Series(np.linspace(0, 1, 50))).value == "regression"
    assert weighted_metric([1.0, None, 3.0], [1, 5, 3]) == pytest.approx(2.5)


def test_cli_runs_and_reports_bad_input_with_exit_code_2(
        history_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runner = CliRunner()
    out = tmp_path / "cli"
    result = runner.invoke(app, ["backtest", str(history_csv), "--target", "y",
                                 "--time-column", "time", "--batch", "400", "--initial", "600",
                                 "--policies", "never,periodic:2,always", "--workers", "1",
                                 "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "100%" in result.output  # always's shares of its own gain and retrains
    document = json.loads((out / "backtest.json").read_text())
    assert [p["name"] for p in document["policies"]] == ["never", "periodic:2", "always"]
    assert document["policies"][1]["trainings"] == 2  # the initial one, then every 2 batches

    from retrainer.cli.app import main

    missing = str(tmp_path / "missing.csv")
    nothing_left = tmp_path / "nothing_left.csv"  # an identifier and the target renamed
    frame = pd.read_csv(history_csv)
    pd.DataFrame({"time": frame["time"], "y": frame["y"],
                  "ref": [f"r{i}" for i in range(len(frame))],
                  "y_again": frame["y"] * 2 + 1}).to_csv(nothing_left, index=False)
    for data, args, message in (
        (str(history_csv), ["--target", "nope"], "no column 'nope'"),
        (str(nothing_left), ["--target", "y"], "no column is left to learn from (ref: an "
                                              "identifier"),
        (str(history_csv), ["--target", "y", "--policies", "sometimes"], "unknown policy"),
        (missing, ["--target", "y"], "no such file"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            import sys

            sys.argv = ["retrainer", "backtest", data, *args]
            main()
        assert exit_info.value.code == 2, message
        error = " ".join(capsys.readouterr().err.split())  # the console wraps long lines
        assert message in error and "━" not in error  # no progress bars before the checks


def test_rows_sharing_a_date_count_as_the_hours_they_are() -> None:
    # hourly rows dated by their day (bike sharing's dteday): 30 rows are 30 hours, not 30 days
    frame = drifting(24 * 60)
    hourly = pd.date_range("2024-01-01", periods=len(frame), freq="h", tz="UTC")
    by_hour = prepare_history(frame.assign(time=hourly), "time", "y", Size(7, "d"), Size(14, "d"))
    by_day = prepare_history(frame.assign(time=hourly.floor("D")), "time", "y",
                             Size(7, "d"), Size(14, "d"))
    assert by_hour.duration(Size(30)) == timedelta(hours=30)
    assert abs(by_day.duration(Size(30)) - timedelta(hours=30)) < timedelta(minutes=30)
    from retrainer.backtest.policies import base_model

    settings = [base_model(options(Path("x.csv"), Path("."), batch="7D", initial="14D"),
                           history, "replay", Size(7, "d"))
                for history in (by_hour, by_day)]
    assert [s.monitoring_window for s in settings] == [timedelta(days=7)] * 2
    assert [s.training_window for s in settings] == [timedelta(days=28)] * 2
