"""One column's drift: statistics from the reference and current summaries, then the verdict.

``numeric_column`` takes two ``stats.Summary`` on one grid (a profile's sketch, or a coarse
grid plus exact KS/W1 from raw data, via ``ks_and_w1``); ``categorical_column`` takes the
window's category counts. Both are shared by ``drift.detect_drift``, ``drift.compare_frames`` and
``stream.stream_drift``. The statistics are listed in ``monitoring.drift``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from retrainer.config import DriftMonitorConfig
from retrainer.domain.readings import Severity
from retrainer.monitoring.ks import ks_2samp_pvalues
from retrainer.monitoring.rules import NO_OVERRIDE, judge
from retrainer.monitoring.stats import (
    Summary,
    bin_counts_from_grid,
    cdf_at,
    chi2_homogeneity,
    js_distance,
    ks_statistic,
    psi,
    wasserstein_distance,
)

if TYPE_CHECKING:
    from retrainer.monitoring.calibration import Calibration

HISTOGRAM_BINS = 30

__all__ = ["ColumnDrift", "categorical_column", "numeric_column", "with_range"]


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    kind: str  # numeric | categorical
    method: str  # headline method (the most violated, else the closest to its threshold)
    score: float
    threshold: float
    drifted: bool
    severity: Severity  # Severity.NONE when not drifted
    stats: dict[str, float | None]  # finite numbers or None (not computable / infinite)
    reasons: list[str]
    thresholds: dict[str, dict[str, Any]] = field(default_factory=dict)  # per method
    histogram: dict[str, Any] | None = None  # for reports: reference vs current shares

    def to_json(self) -> dict[str, Any]:
        """JSON-safe: non-finite numbers become ``None``."""
        return {
            "column": self.column,
            "kind": self.kind,
            "method": self.method,
            "score": _finite(self.score),
            "threshold": _finite(self.threshold),
            "drifted": self.drifted,
            "severity": self.severity.value,
            "stats": {k: _finite(v) for k, v in self.stats.items()},
            "thresholds": {m: {k: _json_threshold(v) for k, v in t.items()}
                           for m, t in self.thresholds.items()},
            "reasons": list(self.reasons),
        }


def with_range(reference: Summary, spec: dict[str, Any]) -> Summary:
    """A format 1 grid (edges only) with the reference's min and max added, so the share of
    values outside the reference range can be counted."""
    if spec["min"] is None:
        return reference
    points = np.unique(np.concatenate([[spec["min"]], reference.points, [spec["max"]]]))
    below = np.interp(points, reference.points, reference.below) if reference.points.size \
        else np.zeros(points.size)
    below = np.where(points <= spec["min"], 0, np.where(points >= spec["max"], reference.n,
                                                          below)).astype(np.int64)
    return replace(reference, points=points, below=below, at=np.zeros(points.size, np.int64))


def ks_and_w1(pairs: list[tuple[Summary, Summary, tuple[float, float] | None]]
              ) -> list[tuple[float, float, float] | None]:
    """``(KS statistic, its p-value, W1 distance)`` of each ``(reference, current, exact)``
    pair of summaries on one grid, None where either has no values. ``exact`` holds KS and
    W1 computed from the raw samples, else they come from the grid. The p-values are
    computed together, so the exact counts of columns with the same sizes are one sweep."""
    distances: list[tuple[float, float] | None] = []
    for reference, current, exact in pairs:
        n, n_ref = current.n, reference.n
        if not n or not n_ref:
            distances.append(None)
        elif exact is not None:
            distances.append(exact)
        else:
            d = float(ks_statistic(reference.below, reference.at, n_ref,
                                   current.below, current.at, n))
            tails = (reference.tail_low / n_ref + current.tail_low / n,
                     reference.tail_high / n_ref + current.tail_high / n)
            distances.append((d, float(wasserstein_distance(
                reference.points, reference.below, reference.at, n_ref,
                current.below, current.at, n, tails))))
    tests = [(found[0], reference.n, current.n)
             for found, (reference, current, _) in zip(distances, pairs, strict=True)
             if found is not None]
    pvalues = iter(ks_2samp_pvalues(tests))
    return [None if found is None else (*next(pvalues), found[1]) for found in distances]


def numeric_column(
    name: str, spec: dict[str, Any], reference: Summary, current: Summary, rows: int,
    rules: DriftMonitorConfig, *, sketched: bool, edges: np.ndarray | None = None,
    tested: tuple[float, float, float] | None = None, calibration: Calibration | None = None,
    histograms: bool = False,
) -> ColumnDrift:
    """Statistics and verdict of one numeric column from the two summaries on one grid;
    ``tested`` is what ``ks_and_w1`` gave for the pair when the caller ran it for many
    columns (with KS and W1 from the raw samples, say), else KS and W1 come from the grid."""
    n, n_ref = current.n, reference.n
    null_share = (rows - n) / rows if rows else None
    stats: dict[str, float | None] = {
        "n": float(n), "reference_n": float(n_ref), "null_share": null_share,
        "null_share_change": None if null_share is None else null_share - spec["null_share"],
    }
    special = _emptiness(rows, n, n_ref)
    if special is not None:
        return _column(name, "numeric", stats, None, rules, special)
    grid = reference.points
    cut = edges if edges is not None else np.asarray(spec["edges"], dtype=np.float64)
    index = np.searchsorted(grid, cut)
    ref_bins = bin_counts_from_grid(reference.below, n_ref, index)
    cur_bins = bin_counts_from_grid(current.below, n, index)
    stats["psi"] = psi(ref_bins, cur_bins)
    stats["js"] = float(js_distance(ref_bins, cur_bins))
    ref_std = math.sqrt(reference.var) if n_ref > 1 else 0.0
    stats.update(ks=None, ks_pvalue=None, wasserstein=None, wasserstein_distance=None)
    if sketched:
        found = tested or ks_and_w1([(reference, current, None)])[0]
        assert found is not None  # both have values (_emptiness)
        stats["ks"], stats["ks_pvalue"], distance = found
        stats["wasserstein"] = _ratio(distance, ref_std)
        stats["wasserstein_distance"] = distance
    mean, ref_mean = current.mean, reference.mean
    scale = max(abs(ref_mean), ref_std)
    stats.update(mean=mean, reference_mean=ref_mean,
                 mean_shift=_ratio(abs(mean - ref_mean), scale))
    var = current.var
    stats["variance_ratio"] = (None if math.isnan(var) or n_ref < 2
                               else _ratio(var, reference.var, same=1.0))
    low_i, high_i = np.searchsorted(grid, [reference.minimum, reference.maximum])
    outside = current.below[low_i] + (n - current.below[high_i] - current.at[high_i])
    stats["out_of_range_share"] = float(outside) / n
    histogram = _numeric_histogram(reference, current) if histograms else None
    return _column(name, "numeric", stats, calibration, rules, None, histogram)


def categorical_column(
    name: str, spec: dict[str, Any], keys: list[str], counts: np.ndarray, rows: int,
    rules: DriftMonitorConfig, calibration: Calibration | None = None,
    histograms: bool = False,
) -> ColumnDrift:
    """Statistics and verdict of one categorical column from the window's category counts."""
    n = int(counts.sum())
    null_share = (rows - n) / rows if rows else None
    stats: dict[str, float | None] = {
        "n": float(n), "reference_n": float(spec["n"]), "null_share": null_share,
        "null_share_change": None if null_share is None else null_share - spec["null_share"],
    }
    special = _emptiness(rows, n, spec["n"])
    if special is not None:
        return _column(name, "categorical", stats, None, rules, special)
    frequencies: dict[str, int] = spec["frequencies"]
    position = {key: i for i, key in enumerate(frequencies)}
    current = np.zeros(len(frequencies), dtype=np.float64)
    unseen: list[tuple[str, int]] = []
    for key, count in zip(keys, counts, strict=True):  # distinct categories, not rows
        if key in position:
            current[position[key]] = count
        else:
            unseen.append((key, int(count)))
    reference = np.asarray(list(frequencies.values()), dtype=np.float64)
    unseen_total = float(sum(c for _, c in unseen))
    ref_bucketed, cur_bucketed = np.append(reference, 0.0), np.append(current, unseen_total)
    statistic, p_value, dof = chi2_homogeneity(
        np.concatenate([reference, np.zeros(len(unseen))]),
        np.concatenate([current, [c for _, c in unseen]]),
    )
    stats.update(psi=psi(ref_bucketed, cur_bucketed),
                 js=float(js_distance(ref_bucketed, cur_bucketed)), chi2=statistic,
                 chi2_pvalue=p_value, chi2_dof=float(dof), unseen_share=unseen_total / n)
    histogram = None
    if histograms:
        shown = list(frequencies)[:HISTOGRAM_BINS] + [f"{k} (unseen)" for k, _ in unseen[:5]]
        ref_all = [*reference[:HISTOGRAM_BINS], *[0.0] * min(len(unseen), 5)]
        cur_all = [*current[:HISTOGRAM_BINS], *[float(c) for _, c in unseen[:5]]]
        histogram = {"categories": shown,
                     "reference": (np.asarray(ref_all) / reference.sum()).tolist(),
                     "current": (np.asarray(cur_all) / n).tolist()}
    drift = _column(name, "categorical", stats, calibration, rules, None, histogram)
    if unseen and drift.drifted:
        shown_keys = ", ".join(repr(k) for k, _ in unseen[:5])
        more = f" and {len(unseen) - 5} more" if len(unseen) > 5 else ""
        note = (f"{unseen_total / n:.1%} of values are categories unseen in the "
                f"reference: {shown_keys}{more}")
        drift = replace(drift, reasons=[*drift.reasons, note])
    return drift


def _numeric_histogram(reference: Summary, current: Summary) -> dict[str, Any]:
    """Equal-width display bins over the central 99% of both samples (the outer half
    percent on each side is folded into the end bins)."""
    probe = np.linspace(min(reference.minimum, current.minimum),
                        max(reference.maximum, current.maximum), 2001)
    cdfs = [cdf_at(reference, probe), cdf_at(current, probe)]
    low = min(float(probe[int(np.searchsorted(c, 0.005))]) for c in cdfs)
    high = max(float(probe[min(int(np.searchsorted(c, 0.995)), probe.size - 1)]) for c in cdfs)
    if high <= low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, HISTOGRAM_BINS + 1)
    shares = []
    for summary in (reference, current):
        cdf = cdf_at(summary, edges)
        cdf[0], cdf[-1] = 0.0, 1.0
        shares.append(np.diff(cdf).tolist())
    return {"edges": edges.tolist(), "reference": shares[0], "current": shares[1]}


def _emptiness(rows: int, n: int, reference_n: int) -> tuple[bool, str] | None:
    """``(drifted, reason)`` when a column cannot be compared, else None."""
    if rows == 0:
        return False, "the window has no rows"
    if reference_n == 0:
        return False, "the reference has no values for this column"
    if n == 0:
        return True, f"all {rows} values are null (the reference had {reference_n} values)"
    return None


def _column(
    name: str, kind: str, stats: dict[str, float | None], calibration: Calibration | None,
    rules: DriftMonitorConfig, special: tuple[bool, str] | None,
    histogram: dict[str, Any] | None = None,
) -> ColumnDrift:
    override = rules.columns.get(name, NO_OVERRIDE)
    severity = override.severity or rules.severity
    clean = {key: _finite(value) for key, value in stats.items()}
    if special is not None:
        drifted, reason = special
        return ColumnDrift(name, kind, "none", math.nan, math.nan, drifted,
                           severity if drifted else Severity.NONE, clean, [reason])
    verdict, notes = judge(name, kind, stats, int(stats["n"] or 0), rules, calibration)
    head = verdict.headline
    if head is None:
        return ColumnDrift(name, kind, "none", math.nan, math.nan, False, Severity.NONE, clean,
                           notes or ["no drift rule is enabled for this column"],
                           histogram=histogram)
    return ColumnDrift(
        column=name, kind=kind, method=head.method, score=float(head.score),
        threshold=float(head.threshold), drifted=verdict.drifted,
        severity=severity if verdict.drifted else Severity.NONE, stats=clean,
        reasons=[c.reason for c in verdict.checks if c.violated],
        thresholds=verdict.thresholds(), histogram=histogram,
    )


def _ratio(value: float, scale: float, same: float = 0.0) -> float:
    """``value / scale``; a zero scale gives ``same`` for a zero value, else inf."""
    if scale > 0:
        return value / scale
    return same if value == 0 else math.inf


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _json_threshold(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_finite(v) for v in value]
    return _finite(value) if isinstance(value, int | float) else value
