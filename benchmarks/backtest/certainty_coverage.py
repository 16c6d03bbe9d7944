"""How often the backtest's 95% intervals hold the true difference between two policies.

Two policies' per-batch scores are simulated with no true difference: each is a constant
plus AR(1) noise, the way a model's advantage persists over the batches it serves. For each
strength of that persistence (phi), the share of simulated replays whose interval holds zero
is printed for retrainer's interval (backtest/certainty.py: circular block bootstrap, block
length chosen from the data) and, side by side, for the ordinary bootstrap that resamples
batches one by one (what a bootstrap that ignores time order gives). 95% is the target.

    .venv/bin/python benchmarks/backtest/certainty_coverage.py [--trials 400] [--batches 130]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from retrainer.backtest.certainty import certainty
from retrainer.validation.bootstrap import block_indices


def ar(n: int, phi: float, rng: np.random.Generator) -> np.ndarray:
    x, shocks = np.zeros(n), rng.normal(size=n)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + shocks[t]
    return x


def covered(batches: int, phi: float, trials: int, seed: int) -> tuple[float, float, float]:
    """(share covered by retrainer's interval, by the one-batch bootstrap, mean block)."""
    rng = np.random.default_rng(seed)
    ours = plain = 0
    blocks = []
    for _ in range(trials):
        a, b = 0.02 * ar(batches, phi, rng), 0.02 * ar(batches, phi, rng)
        rows = [336] * batches
        found = certainty([{"name": "auto", "per_batch": list(0.7 + a), "rows": rows,
                            "retrains": 0},
                           {"name": "other", "per_batch": list(0.7 + b), "rows": rows,
                            "retrains": 0}], higher_is_better=True)
        assert found is not None
        entry = found["versus"][0]
        ours += entry["low"] <= 0 <= entry["high"]
        blocks.append(entry["block"])
        picks = block_indices(batches, 2000, 1, rng)
        low, high = np.percentile((a - b)[picks].mean(axis=1), [2.5, 97.5])
        plain += low <= 0 <= high
    return ours / trials, plain / trials, float(np.mean(blocks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=400)
    parser.add_argument("--batches", type=int, default=130)
    args = parser.parse_args()
    began = time.monotonic()
    print(f"{args.batches} batches, {args.trials} simulated replays a row, 95% intervals")
    print(f"{'phi':>5} {'retrainer':>10} {'one batch':>10} {'mean block':>11}")
    for phi in (0.0, 0.3, 0.5, 0.7, 0.8, 0.9):
        ours, plain, block = covered(args.batches, phi, args.trials, seed=int(phi * 10))
        print(f"{phi:>5.1f} {ours:>10.1%} {plain:>10.1%} {block:>11.1f}")
    print(f"{time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()
