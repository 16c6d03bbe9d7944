"""How sure a replay is: block bootstrap intervals over the batches and who pays most."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.test_backtest import drifting
from typer.testing import CliRunner

from retrainer.backtest.certainty import block_length, certainty, verdict
from retrainer.backtest.report import backtest_html
from retrainer.cli.app import app
from retrainer.validation.bootstrap import block_indices


def ar(n: int, phi: float, rng: np.random.Generator) -> np.ndarray:
    """An AR(1) series: how a model's advantage persists over the batches it serves."""
    x, shocks = np.zeros(n), rng.normal(size=n)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + shocks[t]
    return x


def policy(name: str, per_batch: Any, retrains: int = 0, rows: int = 336) -> dict[str, Any]:
    values = [None if v is None else float(v) for v in per_batch]
    return {"name": name, "per_batch": values, "rows": [rows] * len(values),
            "retrains": retrains}


def test_block_length_follows_the_dependence() -> None:
    rng = np.random.default_rng(2)
    independent = [block_length(rng.normal(size=130)) for _ in range(20)]
    slow = [block_length(ar(130, 0.9, rng)) for _ in range(20)]
    assert max(independent) <= 6 and np.median(independent) <= 3
    assert min(slow) > max(np.median(independent), 4)
    assert block_length(np.ones(50)) == 1 and block_length(np.arange(5.0)) == 1
    assert max(slow) <= 130 / 3  # never longer than a third of the series


def test_circular_blocks_wrap_around_and_draw_every_batch_alike() -> None:
    picks = block_indices(10, 4000, 4, np.random.default_rng(3), circular=True)
    assert picks.shape == (4000, 10) and picks.max() == 9
    for draw in picks[:50]:
        for start in (0, 4):  # whole blocks: each index follows the last, mod 10
            block = draw[start:start + 4]
            assert all((b - a) % 10 == 1 for a, b in itertools.pairwise(block))
    counts = np.bincount(picks.ravel(), minlength=10) / picks.size
    assert counts.max() - counts.min() < 0.01  # the ends are drawn as often as the middle
    plain = np.bincount(block_indices(10, 4000, 4, np.random.default_rng(3)).ravel()) / picks.size
    assert plain[0] < 0.05 < plain[4]  # the moving-block bootstrap under-draws its ends


def test_the_difference_is_the_replays_and_follows_the_metric_direction() -> None:
    rng = np.random.default_rng(4)
    auto = 0.75 + 0.02 * rng.normal(size=60)
    worse = auto - 0.05 + 0.01 * rng.normal(size=60)
    rows = rng.integers(100, 400, size=60)
    policies = [
        {**policy("worse", worse), "rows": [int(r) for r in rows]},
        {**policy("auto", auto), "rows": [int(r) for r in rows]},
        {**policy("same", auto + 0.02 * rng.normal(size=60)), "rows": [int(r) for r in rows]},
    ]
    found = certainty(policies, higher_is_better=True)
    assert found is not None and found["reference"] == "auto" and found["batches"] == 60
    by_name = {entry["name"]: entry for entry in found["versus"]}
    expected = np.average(auto, weights=rows) - np.average(worse, weights=rows)
    assert by_name["worse"]["difference"] == pytest.approx(expected)
    assert by_name["worse"]["low"] <= expected <= by_name["worse"]["high"]
    assert verdict(by_name["worse"]) == "better"  # auto is better than "worse"
    assert verdict(by_name["same"]) == "not told apart"
    assert found["pays_most_share"] is None  # no never: nothing to price
    # an error metric: lower is better, so the same numbers read the other way round
    flipped = certainty(policies, higher_is_better=False)
    assert flipped is not None
    loser = {entry["name"]: entry for entry in flipped["versus"]}["worse"]
    assert loser["difference"] == pytest.approx(-expected) and verdict(loser) == "worse"


def test_intervals_cover_a_zero_difference_as_often_as_they_claim() -> None:
    """With no true difference, the interval should hold zero about 95% of the time; with the
    batches' dependence ignored (blocks of one batch) it holds it far less often."""
    rng = np.random.default_rng(5)
    covered = {"chosen": 0, "one batch": 0}
    trials = 150
    for _ in range(trials):
        a, b = 0.02 * ar(130, 0.7, rng), 0.02 * ar(130, 0.7, rng)
        found = certainty([policy("auto", 0.7 + a), policy("other", 0.7 + b)], True)
        assert found is not None
        entry = found["versus"][0]
        covered["chosen"] += entry["low"] <= 0 <= entry["high"]
        picks = block_indices(130, 2000, 1, rng)
        differences = (a - b)[picks].mean(axis=1)
        low, high = np.percentile(differences, [2.5, 97.5])
        covered["one batch"] += low <= 0 <= high
    assert covered["chosen"] / trials >= 0.8
    assert covered["one batch"] / trials < covered["chosen"] / trials - 0.1


def test_an_interval_stays_within_what_the_resamples_gave() -> None:
    """A concept shift: ``never`` ties ``auto`` for five batches, then loses every batch, by
    more and more. With 26 batches in blocks of about seven, Student's t on two or three
    degrees of freedom reached below zero, past every resample: "not told apart"."""
    auto = np.full(26, 1.0)
    never = auto + np.r_[np.zeros(5), np.linspace(0.13, 5.4, 21)]  # rmse: lower is better
    found = certainty([policy("never", never), policy("auto", auto)], higher_is_better=False)
    assert found is not None
    entry = found["versus"][0]
    assert entry["low"] > 0 and verdict(entry) == "better"
    assert entry["low"] <= entry["difference"] <= entry["high"] <= 5.4


def test_who_pays_most_across_resamples() -> None:
    rng = np.random.default_rng(6)
    never = 0.6 + 0.02 * rng.normal(size=40)
    cheap = never + 0.10 + 0.01 * rng.normal(size=40)
    dear = never + 0.11 + 0.01 * rng.normal(size=40)
    policies = [policy("never", never), policy("auto", cheap, retrains=5),
                policy("always", dear, retrains=40)]
    found = certainty(policies, True, cost=1.0, value=0.004, days=280)
    assert found is not None
    shares = found["pays_most_share"]
    assert sum(shares.values()) == pytest.approx(1.0)
    # ~17 points over never for 280 days at 0.004 is ~19: 5 retrains pay, 40 do not
    assert shares["auto"] > 0.95 and shares["never"] == 0.0
    free = certainty(policies, True, cost=0.0, value=0.004, days=280)
    assert free is not None and free["pays_most_share"]["always"] > 0.9


def test_share_of_always_gain_has_an_interval() -> None:
    rng = np.random.default_rng(7)
    never = 0.6 + 0.02 * ar(60, 0.5, rng)
    always = never + 0.10 + 0.005 * rng.normal(size=60)
    half = never + 0.05 + 0.02 * ar(60, 0.5, rng)
    policies = [policy("never", never), policy("always", always, retrains=60),
                policy("auto", half, retrains=10)]
    found = certainty(policies, True)
    assert found is not None and found["pays_most_share"] is None  # no cost model given
    spans = found["share_of_gain"]
    assert spans["never"] == [0.0, 0.0] and spans["always"] == pytest.approx([1.0, 1.0])
    share = np.mean(half - never) / np.mean(always - never)
    low, high = spans["auto"]
    assert low < share < high and high - low < 0.5
    # an error metric: the shares are the same, the gains being read the other way round
    errors = [policy(p["name"], -np.array(p["per_batch"]), p["retrains"]) for p in policies]
    flipped = certainty(errors, False)
    assert flipped is not None
    assert flipped["share_of_gain"]["auto"] == pytest.approx(spans["auto"])
    # always no better than never: there is no gain to share
    level = [policy("never", never), policy("always", never + 0.001 * rng.normal(size=60)),
             policy("auto", half)]
    unshared = certainty(level, True)
    assert unshared is not None and unshared["share_of_gain"] is None


def test_nothing_to_resample() -> None:
    assert certainty([policy("auto", [0.7] * 20)], True) is None  # one policy
    short = [policy("auto", [0.7] * 7), policy("never", [0.6] * 7)]
    assert certainty(short, True) is None  # fewer than eight batches
    # batches a policy could not score are left out of every policy's resamples
    gaps = [policy("auto", [None, *[0.7] * 9]), policy("never", [*[0.6] * 9, None])]
    found = certainty(gaps, True)
    assert found is not None and found["batches"] == 8
    assert found["versus"][0]["difference"] == pytest.approx(0.1)


def test_a_replay_says_how_sure_it_is(tmp_path: Path) -> None:
    data = tmp_path / "history.csv"
    drifting(2400, seed=2).to_csv(data, index=False)
    shown = CliRunner().invoke(app, [
        "backtest", str(data), "--target", "y", "--time-column", "time", "--batch", "200",
        "--initial", "600", "--policies", "never,always,auto", "--output",
        str(tmp_path / "out"), "--workers", "1"])
    assert shown.exit_code == 0, shown.output
    document = json.loads((tmp_path / "out" / "backtest.json").read_text())
    found = document["certainty"]
    assert found["reference"] == "auto" and found["batches"] == document["batches"]
    metrics = {p["name"]: p["metric"] for p in document["policies"]}
    for entry in found["versus"]:  # lower RMSE is better: the other's minus auto's
        assert entry["difference"] == pytest.approx(metrics[entry["name"]] - metrics["auto"])
        assert entry["low"] <= entry["difference"] <= entry["high"]
    assert sum(found["pays_most_share"].values()) == pytest.approx(1.0)
    assert found["share_of_gain"]["always"] == pytest.approx([1.0, 1.0])
    words = " ".join(shown.output.split())
    assert "gain: interval of its share of always's gain over never" in words
    assert "How sure: auto against each policy" in words
    never = next(e for e in found["versus"] if e["name"] == "never")
    assert verdict(never) in words
    page = (tmp_path / "out" / "report.html").read_text()
    assert "<h2>How sure: auto against each policy</h2>" in page
    assert "<th>share of always's gain</th>" in page
    assert "How sure" not in backtest_html({**document, "certainty": None})


def test_starts_count_how_often_auto_is_told_apart(tmp_path: Path) -> None:
    data = tmp_path / "history.csv"
    drifting(2400, seed=3).to_csv(data, index=False)
    shown = CliRunner().invoke(app, [
        "backtest", str(data), "--target", "y", "--time-column", "time", "--batch", "200",
        "--initial", "600,800", "--policies", "never,auto", "--output", str(tmp_path / "out"),
        "--workers", "1"])
    assert shown.exit_code == 0, shown.output
    summary = json.loads((tmp_path / "out" / "starts.json").read_text())
    assert summary["reference"] == "auto"
    never = summary["policies"][0]
    for start, size in zip(never["per_start"], ("600", "800"), strict=True):
        document = json.loads((tmp_path / "out" / f"initial-{size}" / "backtest.json").read_text())
        entry = document["certainty"]["versus"][0]
        assert start["versus_reference"] == {k: entry[k] for k in ("difference", "low", "high")}
    expected = [verdict(start["versus_reference"]) for start in never["per_start"]]
    assert never["verdicts"] == {word: expected.count(word)
                                 for word in ("better", "not told apart", "worse")}
    assert "verdicts" not in summary["policies"][1]  # auto is not compared with itself
    words = " ".join(shown.output.split())
    assert "auto vs it: the starts from which auto is better (+)" in words
    marks = f"{expected.count('better')}+ {expected.count('not told apart')}= " \
            f"{expected.count('worse')}-"
    assert marks in words


def test_a_difference_of_zero_reads_as_plus_zero() -> None:
    """Lower-is-better differences negate: a resample with no difference is -0.0, which read
    as "-0..+45", as if the interval reached below zero."""
    from retrainer.backtest.certainty import signed

    assert signed(-0.0, 2) == signed(0.0, 2) == "+0"
