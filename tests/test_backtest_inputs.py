"""``retrainer backtest`` on inputs a user may well have: Parquet as databases export it,
numeric time columns, columns that look different inside one window than over the whole
history, histories without labels, and mistakes that must give a clear error."""

from __future__ import annotations

import decimal
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from retrainer.backtest import BacktestOptions, read_history, run_backtest
from retrainer.cli.app import app
from retrainer.config import load_config
from retrainer.exceptions import RetrainerError, UsageError
from retrainer.store import Store


def hourly(rows: int = 1500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    time = pd.date_range("2024-01-01", periods=rows, freq="h")
    x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
    return pd.DataFrame({"ts": time, "x1": x1, "x2": x2,
                         "y": x1 + np.linspace(0, 2, rows) * x2})


def options(data: Path, tmp_path: Path, **overrides: object) -> BacktestOptions:
    settings: dict[str, object] = dict(
        data=data, target="y", time_column=None, batch="200", initial="600",
        policies=("never", "always"), output=tmp_path / "out", workers=1)
    settings.update(overrides)
    return BacktestOptions(**settings)  # type: ignore[arg-type]


def backtest(*args: str) -> tuple[int, str]:
    """The command's exit code and what it printed, its error as ``main`` prints it."""
    shown = CliRunner().invoke(app, ["backtest", *args])
    if isinstance(shown.exception, RetrainerError):
        return shown.exception.exit_code, f"{shown.output}error: {shown.exception}"
    return shown.exit_code, shown.output


def test_parquet_is_known_by_its_bytes_and_its_decimals_are_numbers(tmp_path: Path) -> None:
    frame = hourly(300)
    frame["price"] = [decimal.Decimal(f"{v:.3f}") for v in frame["x1"]]  # NUMERIC from SQL
    frame["tags"] = [[1, 2]] * len(frame)  # a Parquet list
    path = tmp_path / "export.PQ"
    frame.to_parquet(path)
    read = read_history(path)
    assert read["price"].dtype == "float64"
    assert read["price"].tolist() == pytest.approx(frame["x1"].round(3).tolist())
    document = run_backtest(options(path, tmp_path, time_column="ts", batch="50", initial="100"))
    left_out = document["settings"]["left_out"]
    assert "nested" in left_out["tags"] and "price" not in left_out
    always = document["policies"][1]
    assert always["untrained"] == 0 and always["retrains"] == document["batches"] - 1


def test_unix_times_with_row_counts_are_the_clock_and_never_a_feature(tmp_path: Path) -> None:
    frame = hourly()
    epoch = frame.assign(ts=(frame["ts"] - pd.Timestamp("1970-01-01")) // pd.Timedelta("1s"))
    path = tmp_path / "epoch.csv"
    epoch.to_csv(path, index=False)
    document = run_backtest(options(path, tmp_path, time_column="ts"))
    assert document["settings"]["batch_starts"][0].startswith("2024-01-26T00:00")  # row 600
    always = document["policies"][1]
    assert always["untrained"] == 0 and always["retrains"] == document["batches"] - 1


def test_a_numeric_time_column_that_is_no_time_orders_the_rows_only(tmp_path: Path) -> None:
    frame = hourly()
    frame["step"] = np.arange(len(frame)) * 3  # a step counter, not Unix time
    path = tmp_path / "steps.csv"
    frame.sample(frac=1, random_state=0).to_csv(path, index=False)
    document = run_backtest(options(path, tmp_path, time_column="step"))
    assert "neither dates nor Unix times" in document["settings"]["left_out"]["step"]
    in_order = run_backtest(options(path, tmp_path, time_column="ts", output=tmp_path / "ts"))
    assert [p["metric"] for p in document["policies"]] == pytest.approx(
        [p["metric"] for p in in_order["policies"]])
    with pytest.raises(UsageError, match="'y' is the target"):
        run_backtest(options(path, tmp_path, time_column="y"))


def test_columns_are_judged_on_the_history_not_again_on_each_window(tmp_path: Path) -> None:
    """Inside a window of daily rows the day of the year counts up like a row counter; over
    the history it is a season, and every job of ``always`` trains."""
    days = pd.date_range("2021-01-01", periods=500, freq="D")
    noise = np.random.default_rng(1).normal(size=len(days))
    frame = pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "day_of_year": days.day_of_year,
                          "x1": noise, "y": noise + np.sin(days.day_of_year / 58)})
    path = tmp_path / "daily.csv"
    frame.to_csv(path, index=False)
    document = run_backtest(options(path, tmp_path, batch="14D", initial="56D"))
    assert "day_of_year" not in document["settings"]["left_out"]
    always = document["policies"][1]
    assert always["untrained"] == 0 and always["retrains"] == document["batches"] - 1


def test_a_history_whose_batches_have_no_labels_exits_1_and_says_so(tmp_path: Path) -> None:
    frame = hourly()
    frame.loc[100:, "y"] = np.nan
    path = tmp_path / "unlabelled.csv"
    frame.to_csv(path, index=False)
    code, output = backtest(str(path), "--target", "y", "--time-column", "ts", "--batch", "200",
                            "--policies", "never,always", "-o", str(tmp_path / "out"))
    assert code == 1
    assert "no batch after the initial period has labels" in output
    assert "labelled rows" in output  # the readiness check's own reason
    report = (tmp_path / "out" / "report.html").read_text()
    assert re.search(r"always: [1-9]\d* of its jobs trained nothing", report)


def test_mistakes_give_exit_2_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    hourly().drop(columns="ts").to_csv(path, index=False)
    (tmp_path / "afile").write_text("kept\n")
    code, output = backtest(str(path), "--target", "y", "-o", str(tmp_path / "afile"))
    assert code == 2 and "a file; name a folder" in output
    assert (tmp_path / "afile").read_text() == "kept\n"
    code, output = backtest(str(path), "--target", "y", "--batch", "500",
                            "-o", str(tmp_path / "out"))
    assert code == 2
    assert "by default the training window (2000 rows" in output
    assert "give it as --time-column" in output  # no clock was found: the hint


def test_a_target_of_dates_is_exit_2_and_named(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    frame = hourly()
    frame.assign(day=frame["ts"].dt.strftime("%Y-%m-%d")).drop(columns="ts").to_csv(
        path, index=False)
    code, output = backtest(str(path), "--target", "day", "-o", str(tmp_path / "out"))
    assert code == 2
    assert "--target: 'day' is a column of dates" in " ".join(output.split())
    assert "--initial" not in output


def test_a_window_no_longer_than_the_label_delay_is_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    hourly().to_csv(path, index=False)
    for window in ("48", "1D"):  # 48 hourly rows: two days, as long as the delay
        code, output = backtest(str(path), "--target", "y", "--time-column", "ts",
                                "--batch", "200", "--initial", "600", "--window", window,
                                "--label-delay", "2D", "-o", str(tmp_path / "out"))
        assert code == 2 and "the window must be longer than the delay" in " ".join(
            output.split())
    config = tmp_path / "retrainer.yaml"  # a config's window is held to the same
    config.write_text("models:\n  - name: m\n    source: {kind: csv, path: history.csv}\n"
                      "    time_column: ts\n    target: y\n    task: regression\n"
                      "    training_window: 2d\n")
    code, output = backtest(str(path), "--target", "y", "--batch", "200", "--initial", "600",
                            "--label-delay", "2D", "--config", str(config),
                            "-o", str(tmp_path / "out"))
    assert code == 2 and "the config's training_window (2d) is no longer than" in " ".join(
        output.split())


def test_periods_on_a_clock_of_row_order_and_bad_zeros_are_exit_2(tmp_path: Path) -> None:
    """Without dates, a batch counts as a week of our clock, not the data's: a --window or
    --label-delay period would be measured on it without a word."""
    path = tmp_path / "rows.csv"
    hourly().drop(columns="ts").to_csv(path, index=False)
    for option in (("--window", "7D"), ("--label-delay", "2D")):
        code, output = backtest(str(path), "--target", "y", "--batch", "200", "--initial",
                                "600", *option, "-o", str(tmp_path / "out"))
        assert code == 2 and f"{option[0]}: a period ({option[1]}) needs a --time-column" in (
            " ".join(output.split()))
    code, output = backtest(str(path), "--target", "y", "--batch", "200", "--initial", "600",
                            "--label-delay", "0xyz", "-o", str(tmp_path / "out"))
    assert code == 2 and "'0xyz' is not a row count" in output


def test_label_delay_zero_means_labels_on_time(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    hourly().to_csv(path, index=False)
    on_time = run_backtest(options(path, tmp_path, time_column="ts", policies=("never",)))
    for zero in ("0", "0D"):
        document = run_backtest(options(path, tmp_path, time_column="ts", policies=("never",),
                                        label_delay=zero, output=tmp_path / zero))
        assert document["settings"]["label_delay"] == "0"
        assert document["policies"][0]["metric"] == on_time["policies"][0]["metric"]


def test_an_undefined_batch_metric_is_null_in_strict_json(tmp_path: Path) -> None:
    """ROC AUC of a batch with one class is undefined: ``null``, not ``NaN``, which JSON
    parsers other than Python's reject."""
    frame = hourly()
    frame["y"] = np.where(frame["x1"] > 0, "up", "down")
    frame.loc[1000:1199, "y"] = "up"  # one whole batch of one class
    path = tmp_path / "classes.csv"
    frame.to_csv(path, index=False)
    code, output = backtest(str(path), "--target", "y", "--time-column", "ts", "--batch", "200",
                            "--initial", "600", "--metric", "roc_auc", "--policies", "never",
                            "-o", str(tmp_path / "out"))
    assert code == 0 and "1 of 5 batches have no defined roc_auc" in output
    text = (tmp_path / "out" / "backtest.json").read_text()
    document = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    per_batch = document["policies"][0]["per_batch"]
    assert None in per_batch and all(v is None or math.isfinite(v) for v in per_batch)
    code, output = backtest(str(path), "--target", "y", "--time-column", "ts", "--batch", "200",
                            "--initial", "600,1200", "--metric", "roc_auc", "--policies",
                            "never", "-o", str(tmp_path / "starts"))
    output = " ".join(output.split())
    assert code == 0 and "from 600 rows: 1 of 5 batches have no defined roc_auc" in output
    assert "from 1200 rows:" not in output  # its batches start past the one-class batch


def test_a_config_is_held_to_the_data(tmp_path: Path) -> None:
    """A config's features must be in the data (exit 2), and a config that does not set
    ``min_rows`` gets the backtest's, not live operation's 10,000 rows, which no window of a
    few weeks holds."""
    path = tmp_path / "history.csv"
    hourly().to_csv(path, index=False)
    config = tmp_path / "retrainer.yaml"
    config.write_text("models:\n  - name: m\n    source: {kind: csv, path: x.csv}\n"
                      "    time_column: ts\n    target: y\n    task: regression\n")
    document = run_backtest(options(path, tmp_path, config=config, time_column="ts",
                                    window="800"))
    always = document["policies"][1]
    assert always["untrained"] == 0 and always["retrains"] == document["batches"] - 1
    config.write_text(config.read_text() + "    features: [x1, x3]\n")
    code, output = backtest(str(path), "--target", "y", "--config", str(config),
                            "-o", str(tmp_path / "bad"))
    assert code == 2 and "features x3 are not in the data" in output


def test_a_config_whose_trainer_cannot_work_exits_2_before_replaying(tmp_path: Path) -> None:
    """Not a failing job at every batch of every policy: the field path and why, exit 2."""
    path = tmp_path / "history.csv"
    hourly().to_csv(path, index=False)
    config = tmp_path / "retrainer.yaml"
    config.write_text("models:\n  - name: m\n    source: {kind: csv, path: x.csv}\n"
                      "    time_column: ts\n    target: y\n    task: regression\n"
                      "    training: {trainer: 'sklearn.ensemble:Nope'}\n")
    code, output = backtest(str(path), "--target", "y", "--config", str(config),
                            "-o", str(tmp_path / "out"))
    assert code == 2 and "models[0].training.trainer: cannot import trainer" in output
    assert not (tmp_path / "out" / "backtest.json").exists()


def test_a_configs_time_column_is_the_clock_and_must_be_in_the_data(tmp_path: Path) -> None:
    """Without --time-column the config's time_column is the clock, also when the data
    holds it as year, month, day and hour columns (assembled into ``time``); one the data
    does not have is exit 2, not a silent replay in row order. --time-column wins, with a
    note."""
    frame = hourly()
    stamps = frame.pop("ts")
    frame = frame.assign(year=stamps.dt.year, month=stamps.dt.month, day=stamps.dt.day,
                         hour=stamps.dt.hour, step=np.arange(len(frame)))
    path = tmp_path / "parts.csv"
    frame.to_csv(path, index=False)
    config = tmp_path / "c.yaml"
    model = ("models:\n  - name: m\n    source: {kind: csv, path: x.csv}\n"
             "    time_column: TIME\n    target: y\n    task: regression\n    min_rows: 50\n"
             "    features: [x1, x2]\n")
    config.write_text(model.replace("TIME", "time"))
    document = run_backtest(options(path, tmp_path, config=config, batch=None, initial="21D",
                                    policies=("never",)))
    settings = document["settings"]
    assert settings["time_column"] == "time" and settings["batch"] == "7D"
    assert settings["time_found_in"] == "year, month, day, hour"
    assert document["batches"] == 6 and settings["notes"] == []
    config.write_text(model.replace("TIME", "nosuchcol"))
    code, output = backtest(str(path), "--target", "y", "--config", str(config),
                            "-o", str(tmp_path / "bad"))
    assert code == 2 and "Traceback" not in output
    assert (f"time_column 'nosuchcol' ({config}, models[0]) is not in the data (columns: x1, "
            "x2, y, year, month, day, hour, step, time)") in " ".join(output.split())
    code, output = backtest(str(path), "--target", "y", "--config", str(config),
                            "--time-column", "step", "--batch", "200", "--initial", "600",
                            "--policies", "never", "-o", str(tmp_path / "given"))
    assert code == 0, output
    note = f"--time-column step replaces time_column nosuchcol ({config}, models[0])"
    assert f"note: {note}" in " ".join(output.split())
    given = json.loads((tmp_path / "given" / "backtest.json").read_text())["settings"]
    assert given["time_column"] == "step" and given["notes"] == [note]


def test_task_against_the_configs_is_exit_2_and_metric_replacing_its_a_note(
        tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    hourly().to_csv(path, index=False)
    config = tmp_path / "c.yaml"
    config.write_text("models:\n  - name: m\n    source: {kind: csv, path: x.csv}\n"
                      "    time_column: ts\n    target: y\n    task: classification\n")
    code, output = backtest(str(path), "--target", "y", "--config", str(config),
                            "--task", "regression", "-o", str(tmp_path / "task"))
    assert code == 2 and "Traceback" not in output
    assert f"--task regression conflicts with task: classification in {config}" in output
    config.write_text(config.read_text().replace("classification", "regression")
                      + "    min_rows: 50\n    features: [x1, x2]\n"
                      "    validation: {metric: mae, min_improvement: 0.1}\n")
    code, output = backtest(str(path), "--target", "y", "--config", str(config),
                            "--metric", "rmse", "--batch", "200", "--initial", "600",
                            "--policies", "never", "-o", str(tmp_path / "notes"))
    assert code == 0, output
    note = (f"--metric rmse replaces validation.metric mae ({config}, models[0]), in the gate "
            "too; min_improvement stays 0.1")
    assert f"note: {note}" in " ".join(output.split())
    document = json.loads((tmp_path / "notes" / "backtest.json").read_text())
    assert document["metric"] == "rmse" and document["settings"]["notes"] == [note]


def test_the_config_policy_needs_a_config(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    hourly().to_csv(path, index=False)
    code, output = backtest(str(path), "--target", "y", "--policies", "never,config",
                            "-o", str(tmp_path / "out"))
    assert code == 2 and "the config policy needs --config" in output
    assert not (tmp_path / "out").exists()


def test_rows_whose_time_cannot_be_read_are_dropped_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    frame = hourly().astype({"ts": str})
    frame.loc[[10, 700], "ts"] = ["n/a", ""]  # 2 of 1,500: within the 1% a clock may miss
    frame.to_csv(path, index=False)
    told: list[str] = []
    document = run_backtest(options(path, tmp_path, time_column="ts", policies=("never",)),
                            on_note=told.append)
    note = "2 of 1,500 rows dropped: their time ('ts') is missing or cannot be read"
    assert told == [note] and document["settings"]["notes"] == [note]
    assert document["rows"] == 1498


def test_an_output_folder_holds_one_run_and_keeps_the_users_files(tmp_path: Path) -> None:
    """A run into the folder of an earlier one with other starts and policies leaves none of
    the earlier run's outputs beside its own (a reader would mix the runs), and no file of
    the user's is touched."""
    path = tmp_path / "history.csv"
    hourly(1200).to_csv(path, index=False)
    out = tmp_path / "out"
    run_backtest(options(path, tmp_path, time_column="ts", initial="600,800",
                         policies=("never", "always")))
    assert {p.name for p in out.iterdir()} == {"initial-600", "initial-800", "starts.json"}
    (out / "notes.txt").write_text("mine\n")
    run_backtest(options(path, tmp_path, time_column="ts", policies=("never",)))
    assert {p.name for p in out.iterdir()} == {"backtest.json", "report.html", "state",
                                                "notes.txt"}
    assert [p.name for p in (out / "state").iterdir()] == ["never"]
    run_backtest(options(path, tmp_path, time_column="ts", initial="600,800",
                         policies=("always",)))
    assert {p.name for p in out.iterdir()} == {"initial-600", "initial-800", "starts.json",
                                                "notes.txt"}
    assert (out / "notes.txt").read_text() == "mine\n"


def test_an_output_folder_that_may_hold_the_users_own_state_is_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    hourly(1200).to_csv(path, index=False)
    project = tmp_path / "project"
    (project / "mlflow").mkdir(parents=True)
    (project / "mlflow" / "mlflow.db").write_text("theirs")
    (project / "retrainer.yaml").write_text("models: []\n")
    code, output = backtest(str(path), "--target", "y", "--time-column", "ts", "--batch", "200",
                            "--policies", "never", "-o", str(project))
    assert code == 2, output
    assert f"--output {project}: holds mlflow" in output and "retrainer.yaml" in output
    assert (project / "mlflow" / "mlflow.db").read_text() == "theirs"
    # a folder with the data beside it, and no name a backtest writes, is written into
    code, output = backtest(str(path), "--target", "y", "--time-column", "ts", "--batch", "200",
                            "--initial", "600", "--policies", "never", "-o", str(tmp_path))
    assert code == 0, output
    assert path.is_file() and (tmp_path / "backtest.json").is_file()


def test_a_window_that_holds_too_few_rows_or_times_to_train_is_exit_2(tmp_path: Path) -> None:
    """A day of daily rows is one row; a day of hourly rows dated by their day is 24 rows of
    one time, all of which the gate's holdout takes (and a booster's early stopping the next
    newest time's): every job would train nothing, so the command says so before replaying,
    with the window that would do."""
    daily = tmp_path / "daily.csv"
    days = pd.date_range("2024-01-01", periods=200, freq="D")
    x, noise = np.random.default_rng(0).normal(size=(2, len(days)))
    pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "x": x, "y": x + noise}).to_csv(
        daily, index=False)
    code, output = backtest(str(daily), "--target", "y", "--window", "1D", "--batch", "7D",
                            "--initial", "28D", "--policies", "never", "-o", str(tmp_path / "a"))
    assert code == 2, output
    assert "--window 1D holds at most 1 row of this data (a row every 1 day)" in output
    assert "give --window 20D or more" in output
    code, output = backtest(str(daily), "--target", "y", "--window", "21D", "--label-delay",
                            "2D", "--batch", "7D", "--initial", "28D", "--policies", "never",
                            "-o", str(tmp_path / "b"))
    assert code == 2 and "holds at most 19 rows old enough for labels 2 days late" in output
    assert "give --window 22D or more" in output
    hours = hourly(24 * 60)
    dated = tmp_path / "dated-by-day.csv"
    hours.assign(ts=hours["ts"].dt.strftime("%Y-%m-%d")).to_csv(dated, index=False)
    code, output = backtest(str(dated), "--target", "y", "--window", "2D", "--batch", "7D",
                            "--initial", "28D", "--policies", "never", "-o", str(tmp_path / "c"))
    assert code == 2, output
    assert "--window 2D holds rows of at most 2 different times" in output
    assert "give --window 3D or more" in output
    assert not (tmp_path / "c").exists()  # before any replay
    document = run_backtest(options(dated, tmp_path, window="3D", batch="7D", initial="28D",
                                    output=tmp_path / "d"))
    assert document["policies"][1]["untrained"] == 0


def local_history(zone: str, start: str, end: str, seed: int = 0) -> pd.DataFrame:
    time = pd.date_range(start, end, freq="h", tz=zone, inclusive="left")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=len(time))
    return pd.DataFrame({"ts": time, "x": x, "y": x + rng.normal(size=len(time))})


@pytest.mark.parametrize("written", ["iso", "parquet"])
def test_calendar_batches_are_cut_on_the_datas_local_calendar(tmp_path: Path,
                                                              written: str) -> None:
    """Times with a zone (ISO text with offsets, a Parquet timestamp with a time zone) cut
    days at local midnight, across both daylight-saving changes: a day is 23 or 25 hours,
    not a UTC day whose edge sits at 01:00 or 23:00 local time."""
    from retrainer.backtest import Size, prepare_history

    frame = local_history("Europe/Berlin", "2024-03-01", "2024-11-10")
    path = tmp_path / "berlin.data"
    if written == "iso":
        frame.assign(ts=[t.isoformat() for t in frame["ts"]]).to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    history = prepare_history(read_history(path), "ts", "y", Size(1, "d"), Size(28, "d"))
    local = [b.tz_convert("Europe/Berlin") for b in history.boundaries]
    assert all((t.hour, t.minute) == (0, 0) for t in local)
    assert [t.date() for t in local] == list(pd.date_range(
        "2024-03-29", periods=len(local), freq="D").date)
    hours = {(b - a) / pd.Timedelta(hours=1) for a, b in zip(
        history.boundaries, history.boundaries[1:], strict=False)}
    assert hours == {23.0, 24.0, 25.0}
    weeks = prepare_history(read_history(path), "ts", "y", Size(1, "w"), Size(1, "m"))
    assert all((b.tz_convert("Europe/Berlin").hour, b.tz_convert("Europe/Berlin").weekday())
               == (0, 0) for b in weeks.boundaries)  # Mondays at midnight, from April 1st
    hourly_batches = prepare_history(read_history(path), "ts", "y", Size(3, "h"),
                                     Size(28, "d"))  # hours pass as on a stopwatch
    assert {b - a for a, b in zip(hourly_batches.boundaries, hourly_batches.boundaries[1:],
                                  strict=False)} == {pd.Timedelta(hours=3)}
    short = tmp_path / "short.csv"  # the replay runs on those batches
    frame.iloc[:24 * 45].assign(ts=[t.isoformat() for t in frame["ts"].iloc[:24 * 45]]).to_csv(
        short, index=False)
    document = run_backtest(options(short, tmp_path, time_column="ts", batch="2D",
                                    initial="28D", window="14D"))
    assert document["settings"]["batch_starts"][1:3] == ["2024-03-30T23:00:00+00:00",
                                                         "2024-04-01T22:00:00+00:00"]
    assert document["policies"][1]["untrained"] == 0


def test_times_without_a_zone_or_in_utc_keep_utc_days(tmp_path: Path) -> None:
    """Naive times and UTC ones (``Z``, ``+00:00``) are cut as before: a day is 24 hours
    from the first row's time."""
    from retrainer.backtest import Size, prepare_history

    frame = local_history("UTC", "2024-03-01 05:00", "2024-05-01")
    for text in (frame["ts"].dt.strftime("%Y-%m-%d %H:%M"),
                 frame["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
                 pd.Series([t.isoformat() for t in frame["ts"]])):
        history = prepare_history(frame.assign(ts=text), "ts", "y", Size(1, "d"), Size(28, "d"))
        first = pd.Timestamp("2024-03-29 05:00", tz="UTC")
        assert history.boundaries == [first + pd.Timedelta(days=k)
                                      for k in range(len(history.boundaries))]
        assert history.boundaries[-1] > pd.Timestamp("2024-04-30 23:00", tz="UTC")


def test_a_local_midnight_that_does_not_happen_is_the_next_instant(tmp_path: Path) -> None:
    """Havana's clocks go from 23:59 to 01:00 on 10 March 2024: that day's batch starts at
    01:00, and the next ones at midnight again."""
    from retrainer.backtest import Size, prepare_history

    frame = local_history("America/Havana", "2024-02-01", "2024-03-20")
    text = frame.assign(ts=[t.isoformat() for t in frame["ts"]])
    history = prepare_history(text, "ts", "y", Size(1, "d"), Size(28, "d"))
    local = [str(b.tz_convert("America/Havana")) for b in history.boundaries]
    assert local[9:12] == ["2024-03-09 00:00:00-05:00", "2024-03-10 01:00:00-04:00",
                           "2024-03-11 00:00:00-04:00"]


def monthly(months: int = 12, rows: int = 60, seed: int = 0) -> pd.DataFrame:
    """Snapshots: every row of a month dated its first day."""
    rng = np.random.default_rng(seed)
    parts = []
    for index, month in enumerate(pd.date_range("2020-01-01", periods=months, freq="MS")):
        x, z = rng.normal(size=rows), rng.normal(size=rows)
        parts.append(pd.DataFrame({"month": month, "x": x, "z": z,
                                   "y": x + 0.2 * index * z + rng.normal(size=rows) * 0.1}))
    return pd.concat(parts, ignore_index=True)


def test_rows_dated_a_month_apart_get_monthly_batches_by_default(tmp_path: Path) -> None:
    path = tmp_path / "snapshots.csv"
    monthly().to_csv(path, index=False)
    told: list[str] = []
    document = run_backtest(options(path, tmp_path, batch=None, initial=None),
                            on_note=told.append)  # weekly batches would be mostly empty
    assert document["settings"]["batch"] == "1M" and document["batches"] == 8
    assert told == ["batches of 1M, not 7D: the times in 'month' come 31 days apart (the "
                    "median gap); --batch sets them"] == document["settings"]["notes"]
    always = document["policies"][1]
    assert always["unscored"] == 0 and always["untrained"] == 0 and always["retrains"] == 7


def test_a_window_whose_rows_share_one_time_is_not_ready_rather_than_failed(
        tmp_path: Path) -> None:
    # daily rows, then one snapshot of 100 rows dated one day alone in its window, then daily
    # rows again: the window suits the data (no exit 2 up front), that one window does not
    rng = np.random.default_rng(0)
    days = [*pd.date_range("2020-01-01", periods=120, freq="D"),
            *[pd.Timestamp("2020-06-29")] * 100, *pd.date_range("2020-07-19", periods=60)]
    x, z = rng.normal(size=len(days)), rng.normal(size=len(days))
    path = tmp_path / "snapshot.csv"
    noise = rng.normal(size=len(days)) * 0.1  # else x and z add up to y: no feature left
    pd.DataFrame({"day": days, "x": x, "z": z, "y": x + 0.3 * z + noise}).to_csv(path, index=False)
    document = run_backtest(options(path, tmp_path, time_column="day", batch="7D",
                                    initial="60D", window="20D", policies=("always",)))
    always = document["policies"][0]
    assert always["untrained"] > 0 and "failed" not in json.dumps(document)
    store = Store(f"sqlite:///{tmp_path / 'out' / 'state' / 'always' / 'state.db'}")
    reasons = {job.state_reason for job in store.list_jobs("backtest", limit=1000)}
    assert any("100 labelled rows, all at one time (2020-06-29)" in reason and
               "none is older than the holdout to train on" in reason for reason in reasons)


def test_a_history_that_stops_for_years_is_priced_and_sized_on_its_rows(
        tmp_path: Path) -> None:
    frame = hourly()
    frame.loc[1000:, "ts"] += pd.DateOffset(years=3)  # the sensor was off for three years
    path = tmp_path / "gap.csv"
    frame.to_csv(path, index=False)
    told: list[str] = []
    document = run_backtest(options(path, tmp_path, time_column="ts", batch=None, initial=None),
                            on_note=told.append)
    settings = document["settings"]
    # four weekly batches of hourly rows, as without the gap (not 200 rows of ~5 days each)
    assert settings["training_window"] == "28 days" and settings["monitoring_window"] == "7 days"
    assert document["value"]["days"] < 70  # the days of batches with rows, not 3 years
    assert told == settings["notes"] and len(told) == 1
    assert re.fullmatch(r"1\d\d of 1\d\d batches hold no rows \(the longest run from 2024-02-\d\d"
                        r" to 2027-02-\d\d\): jobs there find too few rows, and net values "
                        r"count only the days of batches with rows", told[0])


def test_a_metric_of_the_other_task_names_the_task_inferred_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "levels.csv"
    hourly().assign(y=lambda f: (f["x1"] > 0).astype(int) + (f["x2"] > 1)).to_csv(
        path, index=False)
    code, output = backtest(str(path), "--target", "y", "--metric", "mae",
                            "-o", str(tmp_path / "out"))
    assert code == 2
    assert ("'mae' is not a classification metric (accuracy, roc_auc, log_loss, f1, brier); "
            "classification was inferred from 'y' (whole numbers, 3 different values): --task "
            "regression if it is one") in " ".join(output.split())
    assert not (tmp_path / "out" / "backtest.json").exists()


def test_a_class_target_of_one_value_stops_before_replaying(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    hourly().assign(y="ok").to_csv(path, index=False)
    code, output = backtest(str(path), "--target", "y", "--time-column", "ts",
                            "-o", str(tmp_path / "out"))
    assert code == 1  # bad data, as a target with no values: not a job failing at every batch
    assert ("classification: the target 'y' holds one value (ok) on every labelled row; a "
            "classifier needs two classes to learn from") in " ".join(output.split())
    assert not (tmp_path / "out" / "state").exists()


def test_a_label_delay_past_the_last_batch_is_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    hourly().to_csv(path, index=False)  # 1,500 hours: the last 200-row batch starts at 1,400
    code, output = backtest(str(path), "--target", "y", "--time-column", "ts", "--batch", "200",
                            "--initial", "600", "--label-delay", "60D",
                            "-o", str(tmp_path / "out"))
    assert code == 2
    assert ("--label-delay 60D: no label arrives before the replay ends (its last batch starts "
            "58 days, 8:00:00 after the first row), so no model could be trained; give a "
            "shorter delay") in " ".join(output.split())
    assert not (tmp_path / "out" / "state").exists()


def test_batches_without_labels_are_counted_under_the_table(tmp_path: Path) -> None:
    frame = hourly()
    frame.loc[1000:, "y"] = np.nan  # labels stop two batches into the replay
    path = tmp_path / "history.csv"
    frame.to_csv(path, index=False)
    code, output = backtest(str(path), "--target", "y", "--time-column", "ts", "--batch", "200",
                            "--initial", "600", "--policies", "never",
                            "-o", str(tmp_path / "out"))
    assert code == 0
    assert ("3 of 5 batches have no labelled rows: every policy's rmse is over the other 2"
            in " ".join(output.split()))


def test_columns_named_twice_are_named_and_never_silently_the_target(tmp_path: Path) -> None:
    frame = hourly(300).assign(x3=lambda f: f["x1"] * 2, y2=lambda f: f["x2"] * 3)
    path = tmp_path / "twice.csv"
    frame.set_axis(["ts", "x1", "x2", "y", "x1", "y"], axis=1).to_csv(path, index=False)
    code, output = backtest(str(path), "--target", "y", "-o", str(tmp_path / "out"))
    assert code == 2
    assert ("--target: 2 columns of twice.csv are named 'y', read as y, y.1: give one of those, "
            "or rename the columns") in " ".join(output.split())
    told: list[str] = []
    document = run_backtest(options(path, tmp_path, time_column="ts", batch="50", initial="100",
                                    target="y.1", policies=("never",)), on_note=told.append)
    assert told == ["columns named twice in twice.csv, read as x1, x1.1; y, y.1"]
    assert document["settings"]["notes"] == told
    pd.DataFrame({"a": [1, 2], "b": [3, 4]}).to_parquet(tmp_path / "twice.parquet")
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "twice.parquet")
    pq.write_table(pa.Table.from_arrays(table.columns, names=["a", "a"]),
                   tmp_path / "twice.parquet")
    with pytest.raises(RetrainerError, match=r"columns named twice: a; a history's columns need "
                                             r"distinct names$"):
        read_history(tmp_path / "twice.parquet")


def test_dates_not_taken_for_the_clock_are_named_with_why(tmp_path: Path) -> None:
    frame = hourly(1200)
    path = tmp_path / "shuffled.csv"
    frame.sample(frac=1, random_state=0).to_csv(path, index=False)  # as a query returns rows
    told: list[str] = []
    document = run_backtest(options(path, tmp_path, policies=("never",)), on_note=told.append)
    assert told == ["'ts' holds dates, but they do not run in row order, so row order is "
                    "time; --time-column ts sorts the rows by them"]
    assert document["settings"]["notes"] == told
    frame.assign(day=frame["ts"].dt.date).to_csv(path, index=False)
    told.clear()
    run_backtest(options(path, tmp_path, policies=("never",)), on_note=told.append)
    assert told == ["2 columns hold dates (ts, day), so row order is time; --time-column names "
                    "the clock"]


def test_rows_in_daily_bursts_keep_their_spacing_with_daily_batches(tmp_path: Path) -> None:
    """A burst of rows a second apart once a day (a second later each day): the day between
    bursts is the rows' spacing, not a stop of the history, though it outlasts a batch."""
    frame = hourly(1200)
    frame["ts"] = frame["ts"].dt.floor("D") + pd.to_timedelta(np.arange(1200), unit="s")
    path = tmp_path / "bursts.csv"
    frame.to_csv(path, index=False)
    document = run_backtest(options(path, tmp_path, time_column="ts", batch="1D",
                                    initial="10D", policies=("always",)))
    assert pd.Timedelta(document["settings"]["training_window"]) > pd.Timedelta(days=8)
    always = document["policies"][0]  # min_rows was 86,400 (a second a row) and no job ran
    assert always["untrained"] == 0 and always["unscored"] == 0


def test_unix_times_with_a_few_zeros_for_missing_are_still_the_clock(tmp_path: Path) -> None:
    frame = hourly()
    frame["ts"] = (frame["ts"] - pd.Timestamp("1970-01-01")) // pd.Timedelta("1s")
    frame.loc[[10, 900], "ts"] = 0  # an export's placeholder for a missing time
    path = tmp_path / "epoch.csv"
    frame.to_csv(path, index=False)
    told: list[str] = []
    document = run_backtest(options(path, tmp_path, time_column="ts", batch="7D",
                                    initial="14D", policies=("never",)), on_note=told.append)
    assert told == ["2 of 1,500 rows dropped: their time ('ts') is missing or cannot be read"]
    assert document["rows"] == 1498 and document["settings"]["batch"] == "7D"
    assert "ts" not in document["settings"]["left_out"]  # the clock, not a step counter


def test_a_history_of_one_batch_says_the_policies_cannot_differ(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    hourly(700).to_csv(path, index=False)  # four weeks and 28 hours: one batch after them
    code, output = backtest(str(path), "--target", "y", "--time-column", "ts",
                            "--policies", "never,always", "-o", str(tmp_path / "out"))
    flat = " ".join(output.split())
    assert code == 0 and "700 rows, 1 batch, rmse" in flat
    assert ("one batch to replay: every policy scores it with the first model, so they cannot "
            "differ; give a shorter --initial or --batch, or more history") in flat


@pytest.mark.parametrize("written", ["%Y-%m", "%b %Y", "%B %d, %Y"])
def test_dates_written_with_words_or_as_months_are_the_clock_not_a_category(
        tmp_path: Path, written: str) -> None:
    path = tmp_path / "snapshots.csv"
    frame = monthly(months=8, rows=30)
    frame.assign(month=frame["month"].dt.strftime(written)).to_csv(path, index=False)
    document = run_backtest(options(path, tmp_path, batch=None, initial=None,
                                    policies=("never",)))
    settings = document["settings"]
    assert settings["time_found_in"] == "month" and settings["batch"] == "1M"
    assert document["batches"] == 4 and "month" not in settings["left_out"]


def test_parquet_durations_are_seconds_not_a_category_each(tmp_path: Path) -> None:
    frame = hourly(300)
    frame["wait"] = pd.to_timedelta((frame["x2"].abs() * 600).round(), unit="s")
    path = tmp_path / "durations.parquet"
    frame.to_parquet(path)
    read = read_history(path)
    assert read["wait"].dtype == "float64"
    assert read["wait"].tolist() == (frame["x2"].abs() * 600).round().tolist()
    document = run_backtest(options(path, tmp_path, time_column="ts", batch="50", initial="100",
                                    policies=("never",)))
    model = load_config(tmp_path / "out" / "state" / "never" / "retrainer.yaml").models[0]
    assert "wait" in (model.features or []) and "wait" not in model.categorical
    assert document["batches"] == 4


def test_a_header_with_spaces_after_its_commas_names_the_columns_without_them(
        tmp_path: Path) -> None:
    path = tmp_path / "spaced.csv"
    path.write_text(hourly(300).to_csv(index=False).replace(",", ", "))
    read = read_history(path)
    assert list(read.columns) == ["ts", "x1", "x2", "y"] and read["y"].dtype == "float64"
    document = run_backtest(options(path, tmp_path, time_column="ts", batch="50", initial="100",
                                    policies=("never",)))
    assert document["batches"] == 4 and document["settings"]["left_out"] == {}


def test_a_name_in_the_wrong_case_is_exit_2_with_the_columns_it_may_mean(
        tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    hourly(300).rename(columns={"y": "Sales"}).to_csv(path, index=False)
    code, output = backtest(str(path), "--target", "sales", "-o", str(tmp_path / "out"))
    assert code == 2 and "--target: no column 'sales'; did you mean 'Sales'?" in output
    code, output = backtest(str(path), "--target", "Sales", "--time-column", "TS",
                            "-o", str(tmp_path / "out"))
    assert code == 2 and "--time-column: no column 'TS'; did you mean 'ts'?" in output
