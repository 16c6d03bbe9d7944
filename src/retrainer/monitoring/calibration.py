"""Calibrated thresholds: keep false alarms within a budget for a given window size.

``calibrate(profile, window_rows, rules)`` bootstraps the reference into pseudo-windows of
``window_rows`` rows and measures every statistic a column's methods use on each of them,
then sets each (column, method) threshold so that on at most ``budget`` of same-distribution
windows ANY column fires (a Westfall-Young "min-p" adjustment: the per-test tail level
``level`` is chosen on the joint null distribution, not split evenly). Detection then uses,
per method, the larger of the configured and the calibrated threshold, so the budget holds
and the configured effect size still says what size of change matters.

How a pseudo-window is drawn, from the profile alone (no reference data needed):

* numeric columns: resampling ``n`` rows from the reference and counting them on the
  sketch's cells (points and the gaps between them) is a multinomial draw over the cells;
  so is the reference itself, redrawn each round so the statistic's null spread includes
  the reference's own sampling noise. KS, Wasserstein, PSI and JS are computed from these
  counts exactly as for a real window. Mean and variance follow their normal limits
  (``var * (1/n + 1/n_ref)``; the log variance ratio has variance
  ``(kurtosis - 1) * (1/n + 1/n_ref)``).
* categorical columns: multinomial draws over the reference frequencies (chi2, PSI, JS).
* missing shares: binomial draws.

Columns are drawn independently (the profile keeps marginals only). Drift statistics of
positively dependent columns exceed their thresholds together more often than independent
ones, so the realised false-alarm rate is at most the budget in that common case.

>>> import numpy as np, pandas as pd
>>> from retrainer.config import DriftMonitorConfig
>>> from retrainer.monitoring.profile import build_profile
>>> rng = np.random.default_rng(0)
>>> profile = build_profile(pd.DataFrame({"x": rng.normal(size=20_000)}), ["x"], [])
>>> cal = calibrate(profile, 200, DriftMonitorConfig(), budget=0.05, windows=400)
>>> sorted(cal.thresholds["x"]), 0 < cal.achieved <= 0.05
(['ks', 'null_share'], True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from retrainer.config import DriftMonitorConfig
from retrainer.monitoring.profile import parallel_map, reference_summary
from retrainer.monitoring.rules import methods_for
from retrainer.monitoring.stats import (
    bin_counts_from_grid,
    chi2_statistic,
    js_distance,
    ks_statistic,
    psi_many,
    wasserstein_distance,
)

__all__ = ["Calibration", "calibrate"]

_BATCH = 250  # pseudo-windows drawn at once per column (bounds memory)


@dataclass(frozen=True)
class Calibration:
    """Calibrated thresholds (in score units; ``variance_ratio``: ``|log ratio|``)."""

    thresholds: dict[str, dict[str, float]]  # column -> method -> threshold
    window_rows: int
    budget: float
    windows: int
    level: float  # per-test tail share that keeps the family within the budget
    achieved: float  # share of the pseudo-windows on which some column fired
    seed: int

    def threshold(self, column: str, method: str) -> float | None:
        return self.thresholds.get(column, {}).get(method)

    def summary(self) -> dict[str, Any]:
        return {"window_rows": self.window_rows, "budget": self.budget,
                "windows": self.windows, "level": self.level, "achieved": self.achieved,
                "seed": self.seed}

    def to_json(self) -> dict[str, Any]:
        return {**self.summary(), "thresholds": self.thresholds}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        return cls(thresholds=data["thresholds"], window_rows=int(data["window_rows"]),
                   budget=float(data["budget"]), windows=int(data["windows"]),
                   level=float(data["level"]), achieved=float(data["achieved"]),
                   seed=int(data["seed"]))


def calibrate(
    profile: dict[str, Any],
    window_rows: int,
    rules: DriftMonitorConfig,
    *,
    budget: float | None = None,
    windows: int | None = None,
    seed: int | None = None,
) -> Calibration:
    """Thresholds for windows of ``window_rows`` rows (defaults: ``rules.calibration``).

    Deterministic for a given seed (one independent stream per column). Raises
    ``ValueError`` when ``window_rows`` < 1 and ``DataError`` for an unreadable profile.
    """
    from retrainer.monitoring.drift import checked_columns

    if window_rows < 1:
        raise ValueError(f"window_rows must be at least 1, got {window_rows}")
    budget = rules.calibration.budget if budget is None else budget
    windows = rules.calibration.windows if windows is None else windows
    seed = rules.calibration.seed if seed is None else seed
    checked = checked_columns(profile, rules)
    names = list(checked)
    streams = np.random.SeedSequence(seed).spawn(len(names))
    rows_ref = int(profile.get("rows", 0))

    def one(item: tuple[str, np.random.SeedSequence]) -> dict[str, np.ndarray]:
        name, stream = item
        return _null_statistics(name, checked[name], window_rows, rows_ref, rules, windows,
                                np.random.default_rng(stream))

    nulls = dict(zip(names, parallel_map(one, list(zip(names, streams, strict=True))),
                     strict=True))
    tests = [(name, method, values) for name, found in nulls.items()
             for method, values in found.items()]
    if not tests:
        return Calibration({}, window_rows, budget, windows, 0.0, 0.0, seed)
    # empirical p-value of every test on every pseudo-window: share of windows at least as large
    pvalues = np.vstack([_upper_share(values) for _, _, values in tests])
    smallest = np.sort(pvalues.min(axis=0))
    rank = math.floor(budget * (windows + 1))
    level = float(smallest[rank - 1]) if rank >= 1 else 0.0
    k = round(level * windows)
    thresholds: dict[str, dict[str, float]] = {}
    for name, method, values in tests:
        ordered = np.sort(values)[::-1]
        thresholds.setdefault(name, {})[method] = (
            float(ordered[k - 1]) if k >= 1 else float(np.inf))
    achieved = float(np.mean(pvalues.min(axis=0) < level)) if k >= 1 else 0.0
    return Calibration(thresholds, window_rows, budget, windows, level, achieved, seed)


def _upper_share(values: np.ndarray) -> np.ndarray:
    """For each value, the share of ``values`` at least as large (its empirical p-value)."""
    ordered = np.sort(values)
    return (values.size - np.searchsorted(ordered, values, side="left")) / values.size


def _null_statistics(
    name: str, spec: dict[str, Any], window_rows: int, rows_ref: int,
    rules: DriftMonitorConfig, windows: int, rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Each calibrated method's statistic on ``windows`` same-distribution windows."""
    n_ref = int(spec["n"])
    if n_ref == 0:
        return {}
    null_share = float(spec["null_share"])
    n_cur = max(1, round(window_rows * (1.0 - null_share)))
    methods = methods_for(name, spec["kind"], n_cur, rules)
    out: dict[str, list[np.ndarray]] = {m: [] for m in methods}
    for start in range(0, windows, _BATCH):
        size = min(_BATCH, windows - start)
        found = (_numeric_batch(spec, n_ref, n_cur, methods, size, rng)
                 if spec["kind"] == "numeric"
                 else _categorical_batch(spec, n_ref, n_cur, methods, size, rng))
        if "null_share" in methods:
            nulls_cur = rng.binomial(window_rows, null_share, size) / window_rows
            nulls_ref = rng.binomial(max(rows_ref, 1), null_share, size) / max(rows_ref, 1)
            found["null_share"] = np.abs(nulls_cur - nulls_ref)
        for method, values in found.items():
            out[method].append(values)
    return {m: np.concatenate(v) for m, v in out.items() if v}


def _numeric_batch(spec: dict[str, Any], n_ref: int, n_cur: int, methods: list[str],
                   size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    reference, sketched = reference_summary(spec)
    points = reference.points
    # cells: point 0, gap 1, point 1, ..., point m (counts of the reference)
    gaps = reference.below[1:] - reference.below[:-1] - reference.at[:-1]
    cells = np.empty(2 * points.size - 1, dtype=np.float64)
    cells[0::2], cells[1::2] = reference.at, gaps
    if not sketched:  # format 1: PSI bins only; mass sits in the gaps
        cells = np.asarray(spec["counts"], dtype=np.float64)
    shares = cells / cells.sum()
    ref_draw = rng.multinomial(n_ref, shares, size=size)
    cur_draw = rng.multinomial(n_cur, shares, size=size)
    found: dict[str, np.ndarray] = {}
    std = math.sqrt(spec["var"]) if spec.get("var") else 0.0
    if sketched:
        ref_below, ref_at = _below_at(ref_draw)
        cur_below, cur_at = _below_at(cur_draw)
        edge_index = np.searchsorted(points, np.asarray(spec["edges"], dtype=np.float64))
        ref_bins = bin_counts_from_grid(ref_below, n_ref, edge_index)
        cur_bins = bin_counts_from_grid(cur_below, n_cur, edge_index)
        if "ks" in methods:
            found["ks"] = ks_statistic(ref_below, ref_at, n_ref, cur_below, cur_at, n_cur)
        if "wasserstein" in methods and std > 0:
            found["wasserstein"] = wasserstein_distance(
                points, ref_below, ref_at, n_ref, cur_below, cur_at, n_cur) / std
    else:
        ref_bins, cur_bins = ref_draw, cur_draw
    if "psi" in methods:
        found["psi"] = psi_many(ref_bins, cur_bins)
    if "js" in methods:
        found["js"] = js_distance(ref_bins, cur_bins)
    spread = 1.0 / n_cur + 1.0 / n_ref
    if "mean_shift" in methods:
        scale = max(abs(spec["mean"]), std)
        if scale > 0:
            found["mean_shift"] = np.abs(rng.normal(0.0, std * math.sqrt(spread), size)) / scale
    if "variance_ratio" in methods and std > 0:
        kurtosis = spec.get("kurtosis") or 3.0
        found["variance_ratio"] = np.abs(
            rng.normal(0.0, math.sqrt(max(kurtosis - 1.0, 0.0) * spread), size))
    return found


def _below_at(draw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-point ``below`` and ``at`` counts from cell counts ``[point, gap, point, ...]``."""
    at = draw[..., 0::2]
    below = np.cumsum(draw, axis=-1)[..., 0::2] - at
    return below, at


def _categorical_batch(spec: dict[str, Any], n_ref: int, n_cur: int, methods: list[str],
                       size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    counts = np.asarray(list(spec["frequencies"].values()), dtype=np.float64)
    shares = counts / counts.sum()
    ref_draw = rng.multinomial(n_ref, shares, size=size).astype(np.float64)
    cur_draw = rng.multinomial(n_cur, shares, size=size).astype(np.float64)
    found: dict[str, np.ndarray] = {}
    if "chi2" in methods:
        found["chi2"] = chi2_statistic(ref_draw, cur_draw)
    if "psi" in methods:  # with the (empty under the null) unseen bucket, as in detection
        zero = np.zeros((size, 1))
        found["psi"] = psi_many(np.hstack([ref_draw, zero]), np.hstack([cur_draw, zero]))
    if "js" in methods:
        found["js"] = js_distance(ref_draw, cur_draw)
    return found
