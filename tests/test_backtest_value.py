"""Which policy pays: net values under auto's cost model, in the JSON, the table and the
report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from tests.test_backtest import drifting
from typer.testing import CliRunner

from retrainer.backtest import BacktestOptions, run_backtest
from retrainer.backtest.value import best_policy, net_values, points_over_never
from retrainer.cli.app import app


def policy(name: str, metric: float, retrains: int) -> dict[str, object]:
    return {"name": name, "metric": metric, "retrains": retrains}


def test_points_follow_the_metric_direction() -> None:
    rmse = [policy("never", 200.0, 0), policy("always", 50.0, 100), policy("worse", 210.0, 3)]
    assert points_over_never(rmse, False) == {"never": 0.0, "always": 75.0, "worse": -5.0}
    accuracy = [policy("never", 0.5, 0), policy("always", 0.6, 10)]
    assert points_over_never(accuracy, True)["always"] == pytest.approx(20.0)
    assert points_over_never(rmse[1:], False) == {}  # no never: nothing to gain over
    assert points_over_never([*rmse, policy("broken", math.nan, 1)], False).keys() == {
        "never", "always", "worse"}


def test_a_point_of_r2_is_a_hundredth_of_it() -> None:
    """R² has no floor at zero: 1% of a ``never`` at -0.35 (or 0.001) is no unit. A point is
    then 0.01 of R², and which policy pays does not depend on how bad ``never`` was."""
    for never in (-0.35, 0.001, 0.5):
        rows = [policy("never", never, 0), policy("always", 0.9, 100),
                policy("auto", 0.88, 20)]
        points = points_over_never(rows, True, "r2")
        assert points["always"] == pytest.approx((0.9 - never) * 100)
        assert points["always"] - points["auto"] == pytest.approx(2.0)
        assert best_policy(rows, True, cost=1.0, value=0.004, days=700, metric="r2")[0] == "auto"
    # rmse keeps its relative point
    assert points_over_never([policy("never", 4.0, 0), policy("auto", 3.0, 9)], False,
                             "rmse")["auto"] == pytest.approx(25.0)


def test_net_value_prices_the_gain_and_the_retrains() -> None:
    rows = [policy("never", 200.0, 0), policy("always", 50.0, 100), policy("auto", 60.0, 20)]
    net = net_values(rows, False, cost=2.0, value=0.01, days=100)
    # always: 75 points x 100 days x 0.01 = 75, less 100 retrains at 2
    assert net == pytest.approx({"never": 0.0, "always": 75 - 200, "auto": 70 - 40})
    winner, low, high = best_policy(rows, False, cost=2.0, value=0.01, days=100)
    # auto stays ahead of always while 5 points' worth (5) costs more than 80 retrains,
    # and of never while its 70 is worth more than its 20 retrains
    assert (winner, low, high) == ("auto", pytest.approx(5 / 80), pytest.approx(70 / 20))
    assert net_values(rows, False, cost=5 / 80, value=0.01, days=100)["auto"] == pytest.approx(
        net_values(rows, False, cost=5 / 80, value=0.01, days=100)["always"])
    # free retrains: the policy that gains most pays most, at any cost below the crossing
    assert best_policy(rows, False, cost=0.01, value=0.01, days=100) == (
        "always", 0.0, pytest.approx(5 / 80))
    # dear retrains: never, at any cost above never's crossing with auto
    assert best_policy(rows, False, cost=10.0, value=0.01, days=100) == (
        "never", pytest.approx(70 / 20), math.inf)
    # a tie goes to the policy with fewer retrains
    tied = [policy("never", 1.0, 0), policy("a", 2.0, 10), policy("b", 2.0, 5)]
    assert best_policy(tied, True, cost=0.0, value=1.0, days=1)[0] == "b"
    assert best_policy(rows[1:], False, cost=1.0, value=0.01, days=100) is None


def test_backtest_reports_which_policy_pays(tmp_path: Path) -> None:
    data = tmp_path / "history.csv"
    drifting(2000, seed=1).to_csv(data, index=False)
    config = tmp_path / "retrainer.yaml"  # a retrain that costs more than any gain is worth
    config.write_text(
        "models:\n  - name: flip\n    source: {kind: csv, path: history.csv}\n"
        "    time_column: time\n    target: y\n    task: regression\n    min_rows: 100\n"
        "    triggers: {auto: {cost_per_retrain: 1000}}\n")
    settings = dict(data=data, target="y", time_column="time", batch="200", initial="600",
                    policies=("never", "always"), workers=1)
    document = run_backtest(BacktestOptions(output=tmp_path / "out", **settings))  # type: ignore[arg-type]
    never, always = document["policies"]
    days = document["batches"] * 200 / 24  # hourly rows
    value = document["value"]
    assert value["days"] == pytest.approx(days, abs=1e-3)
    assert (value["cost_per_retrain"], value["value_per_metric_point"]) == (1.0, 0.004)
    points = (never["metric"] - always["metric"]) / never["metric"] * 100
    assert points > 20  # the flip makes the first model useless: retraining pays here
    assert never["net_value"] == 0.0
    assert always["net_value"] == pytest.approx(0.004 * points * days - always["retrains"])
    assert value["pays_most"] == "always"
    low, high = value["pays_most_for_costs"]
    assert low == 0.0 and high == pytest.approx(0.004 * points * days / always["retrains"])
    written = json.loads((tmp_path / "out" / "backtest.json").read_text())
    assert written["value"] == value and written["policies"][1]["net_value"] == pytest.approx(
        always["net_value"])
    report = (tmp_path / "out" / "report.html").read_text()
    assert "<th>net value</th>" in report and "always pays most" in report

    dear = run_backtest(BacktestOptions(output=tmp_path / "dear", config=config, **settings))  # type: ignore[arg-type]
    assert dear["value"]["cost_per_retrain"] == 1000
    assert dear["value"]["pays_most"] == "never"
    assert dear["value"]["pays_most_for_costs"][1] is None  # dearer still: never all the more

    shown = CliRunner().invoke(app, [
        "backtest", str(data), "--target", "y", "--time-column", "time", "--batch", "200",
        "--initial", "600,800", "--policies", "never,always", "--output", str(tmp_path / "cli"),
        "--workers", "1"])
    assert shown.exit_code == 0, shown.output
    words = " ".join(shown.output.split())  # the console wraps long lines
    assert "Net value (net)" in words and "always pays most on average over the starts" in words
    summary = json.loads((tmp_path / "cli" / "starts.json").read_text())
    nets = [start["net_value"] for start in summary["policies"][1]["per_start"]]
    assert summary["policies"][1]["net_value"] == pytest.approx(sum(nets) / 2)
    assert summary["value"]["pays_most"] == "always"
    # the mean net value is linear in the cost too: always pays while its mean gain does
    mean = summary["policies"][1]
    worth = mean["net_value"] + mean["retrains"]  # at the default cost of 1
    assert summary["value"]["pays_most_for_costs"] == [0.0, pytest.approx(worth / mean["retrains"])]
    assert "on average over the starts; it would for a retrain costing up to" in words


def test_the_sentence_says_what_a_point_of_r2_is() -> None:
    """A point of R² is 0.01 of it (value.point_of), not 1% of never's R²."""
    from retrainer.backtest.report import value_sentence

    value = {"pays_most": "auto", "pays_most_for_costs": [0.2, 3.0],
             "value_per_metric_point": 0.004, "cost_per_retrain": 1.0}
    assert "a point is 0.01 of r2)" in value_sentence({"metric": "r2", "value": value})
    assert "a point is 1% of never's rmse)" in value_sentence({"metric": "rmse", "value": value})


def test_a_never_of_zero_says_why_there_is_no_net_value(tmp_path: Path) -> None:
    """A point is 1% of never's metric: when that is 0 (a level shift at the first batch
    leaves never's predictions within 20% of no row) no gain has a size in points, and the
    table, the JSON and the report say so instead of leaving net value out silently; with
    several starts, from which start."""
    import numpy as np
    import pandas as pd

    from retrainer.backtest.value import unpriced

    rng = np.random.default_rng(0)
    x = rng.normal(size=1200)
    data = tmp_path / "shift.csv"
    pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=1200, freq="h"), "x": x,
                  "y": np.where(np.arange(1200) < 600, 100.0, 1000.0) + 5 * x
                  + rng.normal(size=1200)}).to_csv(data, index=False)
    shown = CliRunner().invoke(app, [
        "backtest", str(data), "--target", "y", "--time-column", "ts", "--batch", "100",
        "--initial", "600", "--metric", "accuracy_within_20pct", "--policies", "never,always",
        "--output", str(tmp_path / "out"), "--workers", "1"])
    assert shown.exit_code == 0, shown.output
    words = " ".join(shown.output.split())
    assert "Net value (net) is not given: never's accuracy_within_20pct is 0, and a point is " \
           "1% of it" in words
    document = json.loads((tmp_path / "out" / "backtest.json").read_text())
    never, always = document["policies"]
    assert never["metric"] == 0 and always["metric"] > 0
    assert never["net_value"] is None and always["net_value"] is None
    assert "never's accuracy_within_20pct is 0" in document["value"]["note"]
    assert "is not given: never&#x27;s accuracy_within_20pct is 0" in (
        tmp_path / "out" / "report.html").read_text()
    summary = run_backtest(BacktestOptions(
        data=data, target="y", time_column="ts", batch="100", initial="600,700",
        metric="accuracy_within_20pct", policies=("never",), output=tmp_path / "starts",
        workers=1))
    assert summary["value"]["note"].startswith("from 600 rows: never's accuracy_within_20pct")
    # priced, or no never: no note
    assert unpriced([policy("never", 0.5, 0), policy("always", 0.6, 3)], "f1") is None
    assert unpriced([policy("always", 0.6, 3)], "f1") is None
    assert "never has no rmse" in str(unpriced([policy("never", math.nan, 0)], "rmse"))
