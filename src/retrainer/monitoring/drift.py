"""Drift of a window against a version's reference profile (``monitoring.profile``).

Numeric columns (a column drifts when ANY enabled rule is violated):

* ``psi`` over the profile's quantile bins. Bin shares are floored at ``PSI_EPSILON``
  (0.01%) on both sides so an empty bin gives a large but finite term.
* ``mean_shift``: ``|mean - ref_mean| / max(|ref_mean|, ref_std)``. Relative to the mean,
  as configured, for columns whose mean is large against their spread (pressure in hPa);
  relative to the standard deviation for columns centred near zero (temperature in C,
  dew point), where ``|ref_mean|`` alone would make any wiggle an "infinite" shift. With
  the default 0.25 such a column drifts when its mean moves a quarter of a standard
  deviation. A constant reference column centred on 0 has scale 0: any move is ``inf``.
* ``variance_ratio``: ``var / ref_var`` (ddof=1) outside ``[low, high]``.

Categorical columns use one headline method (``psi`` or ``chi2``, per column overridable);
both statistics are always reported.

* ``psi`` over the reference categories plus one "unseen" bucket for categories the
  reference never had.
* ``chi2``: Pearson's chi-squared test of homogeneity on the 2 x k table of reference and
  current counts (unseen categories are their own columns). The reference is a sample
  too; a goodness-of-fit test against its proportions would treat them as exact and flag
  same-distribution windows too often, and would need a pseudo-count for unseen
  categories. The headline score is the statistic, the threshold its critical value at
  ``chi2_alpha``, so ``score > threshold`` means drift for every method; the p-value is
  in ``stats["chi2_pvalue"]``.

A column with values in the reference but none (all null) in a non-empty window drifts
regardless of the rules: its reason says so. ``rules.enabled`` is the caller's business;
``detect_drift`` always computes.

>>> import numpy as np
>>> from retrainer.config import DriftMonitorConfig
>>> from retrainer.monitoring.profile import build_profile
>>> rng = np.random.default_rng(0)
>>> reference = pd.DataFrame({"x": rng.normal(0, 1, 5000)})
>>> profile = build_profile(reference, numeric=["x"], categorical=[])
>>> report = detect_drift(profile, pd.DataFrame({"x": rng.normal(1, 1, 5000)}),
...                       DriftMonitorConfig())
>>> report.drifted_columns(), report.columns["x"].method
(['x'], 'psi')
>>> report.columns["x"].reasons
['psi 0.956 > 0.25', 'mean shift 1.03 > 0.25 (mean 1.017 vs reference -0.004532)']
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import chdtrc, chdtri

from retrainer.config import ColumnDriftOverride, DriftMonitorConfig
from retrainer.domain.readings import Severity
from retrainer.exceptions import DataError
from retrainer.monitoring.profile import (
    PROFILE_FORMAT,
    bin_counts,
    category_counts,
    finite_values,
    numeric_values,
)

PSI_EPSILON = 1e-4
NO_OVERRIDE = ColumnDriftOverride.model_validate({})

__all__ = ["PSI_EPSILON", "ColumnDrift", "DriftReport", "chi2_homogeneity", "detect_drift", "psi"]


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    kind: str  # numeric | categorical
    method: str  # headline method: psi | mean_shift | variance_ratio | chi2 | none
    score: float
    threshold: float
    drifted: bool
    severity: Severity  # Severity.NONE when not drifted
    stats: dict[str, float | None]  # finite numbers or None (not computable / infinite)
    reasons: list[str]

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
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class DriftReport:
    columns: dict[str, ColumnDrift]
    rows: int
    drifted_share: float  # drifted columns / checked columns (0.0 when none were checked)

    def drifted_columns(self) -> list[str]:
        return [name for name, col in self.columns.items() if col.drifted]

    def max_severity(self) -> Severity:
        return max((c.severity for c in self.columns.values()), key=lambda s: s.rank,
                   default=Severity.NONE)

    def to_json(self) -> dict[str, Any]:
        """Evidence for the store: ``columns`` by name, plus the drifted ones and the summary."""
        return {
            "rows": self.rows,
            "drifted_share": self.drifted_share,
            "drifted_columns": self.drifted_columns(),
            "max_severity": self.max_severity().value,
            "columns": {name: col.to_json() for name, col in self.columns.items()},
        }


def psi(reference: np.ndarray, current: np.ndarray, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index between two count vectors over the same buckets.

    Shares are floored at ``epsilon``. NaN when either side has no counts.

    >>> round(psi(np.array([90, 10]), np.array([50, 50])), 4)
    0.8789
    >>> psi(np.array([3, 0, 7]), np.array([30, 0, 70]))
    0.0
    """
    ref_total, cur_total = reference.sum(), current.sum()
    if ref_total <= 0 or cur_total <= 0:
        return math.nan
    p = np.maximum(reference / ref_total, epsilon)
    q = np.maximum(current / cur_total, epsilon)
    return float(np.sum((q - p) * np.log(q / p)))


def chi2_homogeneity(reference: np.ndarray, current: np.ndarray) -> tuple[float, float, int]:
    """Pearson's chi-squared test that two count vectors come from one distribution.

    Returns ``(statistic, p_value, dof)``; buckets empty on both sides are dropped and fewer
    than two buckets give ``(0.0, 1.0, 0)``. No continuity correction. The p-value comes
    from ``scipy.special.chdtrc`` (the chi2 survival function) rather than ``scipy.stats``,
    which costs ~0.6 s to import on the ``retrainer drift`` start-up path.

    >>> stat, p, dof = chi2_homogeneity(np.array([50, 50]), np.array([50, 50]))
    >>> stat, p, dof
    (0.0, 1.0, 1)
    """
    keep = (reference + current) > 0
    table = np.vstack([reference[keep], current[keep]]).astype(np.float64)
    dof = table.shape[1] - 1
    if dof < 1 or table[0].sum() == 0 or table[1].sum() == 0:
        return 0.0, 1.0, 0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    return statistic, float(chdtrc(dof, statistic)), dof


def detect_drift(
    profile: dict[str, Any], frame: pd.DataFrame, rules: DriftMonitorConfig
) -> DriftReport:
    """Compare ``frame`` with ``profile`` column by column under ``rules``.

    Columns marked ``ignore`` in ``rules.columns`` are skipped. Raises ``DataError`` when
    the profile's format is unknown, when profiled columns are missing from ``frame``
    (naming them) or when a numeric column holds non-numeric values.
    """
    version = profile.get("format")
    if version != PROFILE_FORMAT:
        raise DataError(
            f"reference profile format {version!r} is not supported (expected {PROFILE_FORMAT})"
        )
    checked = {
        name: spec
        for name, spec in profile["columns"].items()
        if not rules.columns.get(name, NO_OVERRIDE).ignore
    }
    missing = [name for name in checked if name not in frame.columns]
    if missing:
        raise DataError(
            f"the monitoring window lacks columns the reference profile has: {missing}"
        )
    rows = len(frame)
    columns: dict[str, ColumnDrift] = {}
    for name, spec in checked.items():
        override = rules.columns.get(name, NO_OVERRIDE)
        severity = override.severity or rules.severity
        if spec["kind"] == "numeric":
            columns[name] = _numeric(name, spec, frame[name], rules, override, severity)
        elif spec["kind"] == "categorical":
            columns[name] = _categorical(name, spec, frame[name], rules, override, severity)
        else:
            raise DataError(f"reference profile column {name!r} has unknown kind {spec['kind']!r}")
    drifted = sum(col.drifted for col in columns.values())
    share = drifted / len(columns) if columns else 0.0
    return DriftReport(columns=columns, rows=rows, drifted_share=share)


@dataclass(frozen=True)
class _Rule:
    method: str
    score: float
    threshold: float
    violated: bool
    reason: str


def _numeric(
    name: str,
    spec: dict[str, Any],
    series: pd.Series,
    rules: DriftMonitorConfig,
    override: ColumnDriftOverride,
    severity: Severity,
) -> ColumnDrift:
    values = numeric_values(series)
    rows = values.size
    finite = finite_values(values)
    n = finite.size
    null_share = (rows - n) / rows if rows else None
    base: dict[str, float | None] = {
        "null_share": null_share,
        "null_share_change": None if null_share is None else null_share - spec["null_share"],
    }
    special = _emptiness(rows, n, spec["n"])
    if special is not None:
        stats = {**base, "psi": None, "mean": None, "reference_mean": spec["mean"],
                 "mean_shift": None, "variance_ratio": None, "out_of_range_share": None}
        return _column(name, "numeric", stats, [], severity, special)

    edges = np.asarray(spec["edges"], dtype=np.float64)
    psi_value = psi(np.asarray(spec["counts"], dtype=np.float64), bin_counts(finite, edges))
    mean = float(finite.mean())
    ref_mean, ref_var = spec["mean"], spec["var"]
    ref_std = math.sqrt(ref_var) if ref_var is not None else 0.0
    scale = max(abs(ref_mean), ref_std)
    delta = abs(mean - ref_mean)
    shift = delta / scale if scale > 0 else (0.0 if delta == 0 else math.inf)
    var = float(finite.var(ddof=1)) if n > 1 else None
    ratio: float | None = None
    if var is not None and ref_var is not None:
        ratio = var / ref_var if ref_var > 0 else (1.0 if var == 0 else math.inf)
    outside = int(np.count_nonzero((finite < spec["min"]) | (finite > spec["max"])))
    stats = {**base, "psi": psi_value, "mean": mean, "reference_mean": ref_mean,
             "mean_shift": shift, "variance_ratio": ratio, "out_of_range_share": outside / n}

    checks: list[_Rule] = []
    psi_limit = _pick(override.psi, rules.numeric.psi)
    if psi_limit is not None:
        checks.append(_Rule("psi", psi_value, psi_limit, psi_value > psi_limit,
                            f"psi {psi_value:.3g} > {psi_limit:g}"))
    shift_limit = _pick(override.mean_shift, rules.numeric.mean_shift)
    if shift_limit is not None:
        constant = " (constant reference)" if scale == 0 else ""
        checks.append(_Rule(
            "mean_shift", shift, shift_limit, shift > shift_limit,
            f"mean shift {shift:.3g} > {shift_limit:g} "
            f"(mean {mean:.4g} vs reference {ref_mean:.4g}){constant}",
        ))
    bounds = _pick(override.variance_ratio, rules.numeric.variance_ratio)
    if bounds is not None and ratio is not None:
        low, high = bounds
        checks.append(_Rule(
            "variance_ratio", ratio, high if ratio >= 1 else low, not low <= ratio <= high,
            f"variance ratio {ratio:.3g} outside [{low:g}, {high:g}]",
        ))
    return _column(name, "numeric", stats, checks, severity)


def _categorical(
    name: str,
    spec: dict[str, Any],
    series: pd.Series,
    rules: DriftMonitorConfig,
    override: ColumnDriftOverride,
    severity: Severity,
) -> ColumnDrift:
    rows = len(series)
    keys, counts = category_counts(series)
    n = int(counts.sum())
    null_share = (rows - n) / rows if rows else None
    base: dict[str, float | None] = {
        "null_share": null_share,
        "null_share_change": None if null_share is None else null_share - spec["null_share"],
    }
    special = _emptiness(rows, n, spec["n"])
    if special is not None:
        stats = {**base, "psi": None, "chi2": None, "chi2_pvalue": None, "chi2_dof": None,
                 "unseen_share": None}
        return _column(name, "categorical", stats, [], severity, special)

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
    psi_value = psi(np.append(reference, 0.0), np.append(current, unseen_total))
    statistic, p_value, dof = chi2_homogeneity(
        np.concatenate([reference, np.zeros(len(unseen))]),
        np.concatenate([current, [c for _, c in unseen]]),
    )
    stats = {**base, "psi": psi_value, "chi2": statistic, "chi2_pvalue": p_value,
             "chi2_dof": float(dof), "unseen_share": unseen_total / n}

    method = override.method or rules.categorical.method
    if method == "psi":
        limit = _pick(override.psi, rules.categorical.psi)
        assert limit is not None  # the categorical psi threshold is never disabled
        check = _Rule("psi", psi_value, limit, psi_value > limit,
                      f"psi {psi_value:.3g} > {limit:g}")
    else:
        alpha = _pick(override.chi2_alpha, rules.categorical.chi2_alpha)
        assert alpha is not None
        critical = float(chdtri(dof, alpha)) if dof else math.inf
        check = _Rule("chi2", statistic, critical, p_value < alpha,
                      f"chi2 {statistic:.4g} > {critical:.4g} (p {p_value:.3g} < alpha {alpha:g})")
    notes = []
    if unseen and check.violated:
        shown = ", ".join(repr(k) for k, _ in unseen[:5])
        more = f" and {len(unseen) - 5} more" if len(unseen) > 5 else ""
        notes.append(f"{unseen_total / n:.1%} of values are categories unseen in the "
                     f"reference: {shown}{more}")
    drift = _column(name, "categorical", stats, [check], severity)
    return replace(drift, reasons=[*drift.reasons, *notes]) if notes else drift


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
    name: str,
    kind: str,
    stats: dict[str, float | None],
    checks: list[_Rule],
    severity: Severity,
    special: tuple[bool, str] | None = None,
) -> ColumnDrift:
    stats = {key: _finite(value) for key, value in stats.items()}
    if special is not None:
        drifted, reason = special
        return ColumnDrift(name, kind, "none", math.nan, math.nan, drifted,
                           severity if drifted else Severity.NONE, stats, [reason])
    violated = [c for c in checks if c.violated]
    if not checks:
        return ColumnDrift(name, kind, "none", math.nan, math.nan, False, Severity.NONE, stats,
                           ["no drift rule is enabled for this column"])
    head = violated[0] if violated else checks[0]
    return ColumnDrift(
        column=name,
        kind=kind,
        method=head.method,
        score=float(head.score),
        threshold=float(head.threshold),
        drifted=bool(violated),
        severity=severity if violated else Severity.NONE,
        stats=stats,
        reasons=[c.reason for c in violated],
    )


def _pick(value: Any, default: Any) -> Any:
    return default if value is None else value


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)

