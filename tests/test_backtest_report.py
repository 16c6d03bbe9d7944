"""The backtest HTML report (``retrainer.backtest.report.backtest_html``)."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest

from retrainer.backtest.report import _rolling_mean, backtest_html, write_backtest_html

BATCHES = 10


def policy(name: str, metric: float | None, *, retrains: int = 0,
           per_batch: list[float | None] | None = None, trained: list[int] | None = None,
           promoted: list[int] | None = None,
           drift: list[float | None] | None = None) -> dict[str, Any]:
    return {
        "name": name, "metric": metric, "retrains": retrains, "promotions": len(promoted or []),
        "rejections": len(trained or []) - len(promoted or []), "train_seconds": 1.25 * retrains,
        "per_batch": per_batch if per_batch is not None else [metric] * BATCHES,
        "trainings": retrains + 1, "seconds": 2.0, "rows": [100] * BATCHES,
        "trained": trained or [], "promoted": promoted or [],
        "drift": drift if drift is not None else [None] * BATCHES,
    }


def document(policies: list[dict[str, Any]], *, dataset: str = "history.csv",
             metric: str = "roc_auc", higher: bool = True) -> dict[str, Any]:
    return {
        "dataset": dataset, "rows": 1200, "batches": BATCHES, "metric": metric,
        "higher_is_better": higher, "seconds": 12.3,
        "settings": {
            "task": "classification", "time_column": "date", "batch": "7D", "initial": "28D",
            "training_window": "28D", "label_delay": "1D", "registry": "memory",
            "batch_starts": [f"2024-01-{i + 1:02d}T00:00:00+00:00" for i in range(BATCHES)],
            "config": None,
        },
        "policies": policies,
    }


def three_policies(never: float, always: float, drift: float) -> list[dict[str, Any]]:
    return [
        policy("never", never,
               per_batch=[0.71, 0.7, None, 0.69, 0.7, 0.7, None, 0.7, 0.69, 0.71]),
        policy("always", always, retrains=BATCHES, trained=list(range(BATCHES)),
               promoted=[0, 2, 4, 6, 8]),
        policy("drift", drift, retrains=2, trained=[0, 3, 7], promoted=[0, 7],
               drift=[0.0, 0.1, 0.4, None, 0.0, 0.05, 0.2, 0.6, 0.0, 0.1]),
    ]


def table_row(page: str, name: str) -> list[str]:
    """The cells (inner HTML, tags stripped) of the table row of policy ``name``."""
    table = re.search(r"<table>.*?</table>", page, re.S)
    assert table is not None
    row = re.search(rf"<tr><td>{re.escape(name)}</td>.*?</tr>", table.group(0))
    assert row is not None, name
    return [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(0))]


def test_report_holds_every_policy_charts_and_no_script() -> None:
    page = backtest_html(document(three_policies(0.7, 0.8, 0.75)))
    assert page.startswith("<!DOCTYPE html>")
    for name in ("never", "always", "drift"):
        assert f"<td>{name}</td>" in page
    assert page.count("<svg") == 3  # metric, drift score, cost against quality
    assert "<script" not in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "1,200 rows" in page and "10 batches of 7D" in page and "higher is better" in page


def test_gains_and_share_of_always_higher_is_better() -> None:
    never, always, drift = 0.7, 0.8, 0.75
    page = backtest_html(document(three_policies(never, always, drift)))
    header = re.findall(r"<th>(.*?)</th>", page)
    assert "gain vs never" in header and "share of always's gain" in header
    for name, value in (("never", never), ("always", always), ("drift", drift)):
        cells = table_row(page, name)
        assert cells[1] == f"{value:.4g}"
        assert float(cells[6]) == pytest.approx(value - never, abs=1e-9)
        assert float(cells[7].rstrip("%")) == pytest.approx(
            100 * (value - never) / (always - never), abs=0.5)
    assert table_row(page, "drift")[7] == "50%"
    assert "share of always's retrains" in header
    assert [table_row(page, name)[8] for name in ("never", "always", "drift")] == [
        "0%", "100%", "20%"]  # 0, 10 and 2 retrains of always's 10
    assert re.search(r"<td class='best'>0\.8</td>", page)  # always has the best metric


def test_gains_follow_the_direction_when_lower_is_better() -> None:
    never, always, drift = 2.0, 1.5, 1.8
    page = backtest_html(document(three_policies(never, always, drift), metric="rmse",
                                  higher=False))
    assert float(table_row(page, "always")[6]) == pytest.approx(never - always)
    assert float(table_row(page, "drift")[6]) == pytest.approx(never - drift)
    assert table_row(page, "drift")[7] == f"{(never - drift) / (never - always):.0%}"  # 40%
    assert re.search(r"<td class='best'>1\.5</td>", page)
    assert "lower is better" in page


def test_no_share_when_always_did_not_beat_never() -> None:
    page = backtest_html(document(three_policies(0.8, 0.78, 0.77)))
    assert float(table_row(page, "drift")[6]) == pytest.approx(-0.03)
    assert table_row(page, "drift")[7] == "-" and table_row(page, "always")[7] == "-"


def test_without_never_there_is_no_gain_column() -> None:
    page = backtest_html(document([policy("always", 0.8), policy("periodic:4", 0.78)]))
    assert "gain vs never" not in page and "share of always" not in page
    assert len(table_row(page, "periodic:4")) == 6


def test_missing_values_do_not_crash() -> None:
    unscored = policy("always", None, per_batch=[None] * BATCHES)
    nan = policy("never", math.nan, per_batch=[math.nan, *[0.7] * (BATCHES - 1)])
    gappy = policy("auto", 0.74, retrains=1, per_batch=[0.7, None, 0.8] + [None] * 7,
                   trained=[2], promoted=[2], drift=[None, 0.5] + [None] * 8)
    page = backtest_html(document([nan, unscored, gappy]))
    assert table_row(page, "always")[1:2] == ["-"]
    assert table_row(page, "never")[1] == "-"
    # no gain without a scored never, no share of retrains when always made none
    assert table_row(page, "auto")[6:] == ["-", "-", "-"]
    assert "Not scored: never, always." in page
    assert "No drift readings for: never, always." in page
    assert "nan" not in page.lower()


def test_nothing_scored_and_no_batches() -> None:
    page = backtest_html(document([policy("never", None, per_batch=[None] * BATCHES)]))
    assert "<td>never</td>" in page
    empty = document([])
    empty.update(batches=0)
    empty["settings"]["batch_starts"] = []
    assert "<h1>" in backtest_html(empty)


def test_gaps_split_the_lines_and_markers_follow_the_jobs() -> None:
    policies = three_policies(0.7, 0.8, 0.75)
    page = backtest_html(document(policies))
    metric_svg = re.findall(r"<svg.*?</svg>", page, re.S)[0]
    never_paths = re.findall(r"<path d='([^']*)'[^>]*><title>never</title>", metric_svg)
    assert len(never_paths) == 2  # raw (faint) and smoothed
    for path in never_paths:
        assert path.count("M") == 3  # two gaps, three runs of scored batches
    circles = sum(len(p["trained"]) + len(p["promoted"]) for p in policies)
    assert metric_svg.count("<circle") == circles
    assert "2024-01-01" in metric_svg  # dated ticks


def test_rolling_mean_keeps_gaps() -> None:
    assert _rolling_mean([1.0, None, 3.0, 5.0], 3) == [1.0, None, 4.0, 4.0]
    assert _rolling_mean([], 5) == []


def test_text_is_escaped() -> None:
    page = backtest_html(document([policy("never", 0.7), policy("<i>x</i>", 0.6)],
                                  dataset="<b>bad</b>.csv", metric="a&b"))
    assert "<b>" not in page and "<i>" not in page
    assert "&lt;b&gt;bad&lt;/b&gt;.csv" in page
    assert "&lt;i&gt;x&lt;/i&gt;" in page and "a&amp;b" in page


def test_write_backtest_html_writes_the_file(tmp_path: Path) -> None:
    doc = document(three_policies(0.7, 0.8, 0.75), dataset="written.csv")
    target = tmp_path / "report.html"
    write_backtest_html(doc, target)
    text = target.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.endswith("</html>")
    assert "Backtest: written.csv" in text and text.count("<svg") == 3


def test_autos_loss_clock_is_drawn_for_policies_with_an_auto_trigger() -> None:
    auto = policy("auto", 0.78, retrains=2, trained=[0, 4, 8], promoted=[0, 8])
    auto["auto_clock"] = [None, 0.25, 0.5, 0.75, 1.05, 0.3, None, 2.6, 1.0, 0.1]
    page = backtest_html(document([*three_policies(0.7, 0.8, 0.75), auto]))
    assert page.count("<svg") == 4 and "auto&#x27;s loss clock" in page
    clock_svg = re.findall(r"<svg.*?</svg>", page, re.S)[2]
    paths = re.findall(r"<path d='([^']*)'[^>]*><title>(.*?)</title>", clock_svg)
    assert [name for _, name in paths] == ["auto"]  # only the policy with a clock
    assert paths[0][0].count("M") == 2  # the gap at batch 6 splits the line
    assert clock_svg.count("<circle") == 3 + 2  # its trained and promoted markers
    assert ">2</text>" in clock_svg  # values above 2 are drawn at the top
    without = backtest_html(document(three_policies(0.7, 0.8, 0.75)))
    assert "loss clock" not in without


def test_net_value_column_and_sentence_only_when_priced() -> None:
    policies = three_policies(0.70, 0.80, 0.78)
    plain = backtest_html(document(policies))
    assert "net value" not in plain.lower()  # an older document, or no never: nothing priced
    for row, net in zip(policies, [0.0, -3.5, 4.0], strict=True):
        row["net_value"] = net
    priced = document(policies)
    priced["value"] = {"cost_per_retrain": 1.0, "value_per_metric_point": 0.004, "days": 70.0,
                       "pays_most": "drift", "pays_most_for_costs": [0.5, None]}
    page = backtest_html(priced)
    assert "<th>net value</th>" in page
    # after the gain over never, before the shares of always's gain and retrains
    assert [table_row(page, name)[7] for name in ("never", "always", "drift")] == [
        "0.0", "-3.5", "4.0"]
    assert "drift pays most; it would for a retrain costing above 0.5." in page
    # net value against the cost of a retrain: one line per priced policy, gain - cost x n
    assert "net value against the cost of a retrain" in page
    assert "net value against the cost" not in plain
    assert page.count("<line class='net'") == 3
    assert "<title>drift: 6 - cost x 2</title>" in page  # 4.0 net + 1.0 x 2 retrains
    assert "<title>always: 6.5 - cost x 10</title>" in page


def test_a_net_value_that_rounds_to_nothing_is_never_minus_zero() -> None:
    from retrainer.backtest.report import _fmt_value
    from retrainer.cli.backtest_cmd import _value

    assert [_value(-0.04), _fmt_value(-0.04), _value(-0.05), _fmt_value(3.26)] == [
        "0.0", "0.0", "-0.1", "3.3"]
