"""Prediction latency from a prediction log: p50 / p95 / p99 and limits on them.

Percentiles are NumPy's default (linear interpolation between order statistics, as
``numpy.percentile``); non-finite and negative values are dropped and counted.

>>> report = latency_percentiles(np.array([10.0, 12.0, 11.0, 250.0, 13.0]), {"p99": 200.0})
>>> report.p50, report.alert, report.violations
(12.0, True, ['p99 240.5 ms > 200 ms'])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from retrainer.exceptions import DataError

__all__ = ["LatencyReport", "latency_by", "latency_percentiles"]

PERCENTILES = {"p50": 50.0, "p95": 95.0, "p99": 99.0}


@dataclass(frozen=True)
class LatencyReport:
    count: int
    dropped: int  # missing, infinite or negative values
    p50: float | None
    p95: float | None
    p99: float | None
    mean: float | None
    maximum: float | None
    violations: list[str] = field(default_factory=list)

    @property
    def alert(self) -> bool:
        return bool(self.violations)

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "dropped": self.dropped, "p50": self.p50,
                "p95": self.p95, "p99": self.p99, "mean": self.mean, "max": self.maximum,
                "alert": self.alert, "violations": list(self.violations)}


def latency_percentiles(values: np.ndarray, limits: dict[str, float] | None = None
                        ) -> LatencyReport:
    """Percentiles of latencies (any unit; messages say ms). ``limits`` maps ``p50``/``p95``/
    ``p99`` to the largest acceptable value. Raises ``ValueError`` for unknown limit names."""
    unknown = sorted(set(limits or {}) - set(PERCENTILES))
    if unknown:
        raise ValueError(f"unknown latency limits {unknown}; use {sorted(PERCENTILES)}")
    data = np.asarray(values, dtype=np.float64)
    kept = data[np.isfinite(data) & (data >= 0)]
    if kept.size == 0:
        return LatencyReport(0, int(data.size), None, None, None, None, None)
    found = np.percentile(kept, list(PERCENTILES.values()))
    result = dict(zip(PERCENTILES, map(float, found), strict=True))
    violations = [f"{name} {result[name]:.4g} ms > {limit:g} ms"
                  for name, limit in (limits or {}).items() if result[name] > limit]
    return LatencyReport(int(kept.size), int(data.size - kept.size), result["p50"],
                         result["p95"], result["p99"], float(kept.mean()), float(kept.max()),
                         violations)


def latency_by(log: pd.DataFrame, column: str, by: str | None = None,
               limits: dict[str, float] | None = None) -> dict[str, LatencyReport]:
    """``latency_percentiles`` of a prediction log, overall (key ``"all"``) and per value of
    ``by`` (e.g. the model version). Raises ``DataError`` for missing or non-numeric columns."""
    missing = [c for c in [column, by] if c is not None and c not in log.columns]
    if missing:
        raise DataError(f"the prediction log lacks columns {missing}")
    values = pd.to_numeric(log[column], errors="coerce")
    if values.isna().all() and log[column].notna().any():
        raise DataError(f"latency column {column!r} holds no numbers")
    reports = {"all": latency_percentiles(values.to_numpy(dtype="float64", na_value=np.nan),
                                          limits)}
    if by is not None:
        for key, part in values.groupby(log[by].astype("string"), dropna=True):
            reports[str(key)] = latency_percentiles(
                part.to_numpy(dtype="float64", na_value=np.nan), limits)
    return reports
