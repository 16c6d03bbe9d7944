"""benchmarks/backtest/hindsight.py: the best schedule with hindsight is found exactly."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pandas as pd

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "backtest" / "hindsight.py"


def load():
    spec = importlib.util.spec_from_file_location("hindsight", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def brute_force(loss: np.ndarray, start: int, budget: int) -> float:
    count = loss.shape[0]
    best = float("inf")
    for k in range(budget + 1):
        for retrains in itertools.combinations(range(start + 1, count), k):
            serving, total = start, 0.0
            for s in range(start, count):
                if s in retrains:
                    serving = s
                total += loss[serving, s]
            best = min(best, total)
    return best


def test_best_with_budget_matches_brute_force():
    hindsight = load()
    rng = np.random.default_rng(7)
    for _ in range(20):
        count, start = 9, 2
        loss = np.triu(rng.gamma(2.0, 1.0, (count, count)))
        for budget in range(4):
            assert np.isclose(hindsight.best_with_budget(loss, start, budget),
                              brute_force(loss, start, budget))


def test_loss_table_scores_each_model_on_later_batches_only():
    hindsight = load()
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"x": rng.normal(size=600)})
    frame["y"] = (frame["x"] + rng.normal(scale=0.5, size=600) > 0).astype(int)
    batches = np.arange(600) // 100
    loss, rows = hindsight.loss_table(frame, "y", batches, window=2, classification=True)
    assert rows.tolist() == [100] * 6
    assert not loss[:2].any()  # no model before the first full window
    assert not np.tril(loss, -1).any()  # no model scored on a batch it was fitted on
    assert (loss[2:, 2:][np.triu_indices(4)] < 40).all()  # errors, learned: far below chance


def test_staleness_is_the_excess_loss_of_older_models():
    hindsight = load()
    loss = np.triu(np.full((5, 5), 10.0))
    loss[np.arange(5), np.arange(5)] = 5.0  # each model is at its best on its own batch
    loss[1, 3] = 30.0  # one model ages badly
    rows = np.full(5, 100.0)
    curve = hindsight.staleness(loss, rows, start=1, ages=[0, 1, 2])
    assert curve[0] == 0.0
    assert np.isclose(curve[1], 1.0)  # 10 against 5 errors on every batch: +100%
    # age 2: models 1 and 2 on batches 3 and 4 lose 30 and 10 against 5 and 5
    assert np.isclose(curve[2], ((30 - 5) + (10 - 5)) / 200 / (5 / 100))
