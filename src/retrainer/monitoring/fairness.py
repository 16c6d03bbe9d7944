"""Fairness of a classifier's decisions across the groups of sensitive columns.

Per sensitive column and group: the selection rate ``P(pred = positive)``, and with labels
the true-positive rate ``P(pred = positive | y = positive)`` and false-positive rate
``P(pred = positive | y != positive)``. Per column:

* demographic-parity gap: largest minus smallest selection rate across groups;
* equalised-odds gap: the larger of the TPR gap and the FPR gap (groups lacking either
  class are left out of the respective rate);
* disparate-impact ratio: smallest over largest selection rate.

Groups with fewer than ``min_group_rows`` rows are reported but left out of the gaps (their
rates are noise); missing values of a sensitive column form no group.

>>> frame = pd.DataFrame({"sex": ["f", "f", "m", "m"], "pred": [1, 0, 1, 1],
...                       "y": [1, 1, 0, 1]})
>>> report = fairness_gaps(frame, ["sex"], "pred", "y", min_group_rows=1)
>>> gaps = report.columns["sex"]
>>> gaps.parity_gap, gaps.odds_gap, gaps.disparate_impact
(0.5, 0.5, 0.5)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from retrainer.exceptions import DataError

__all__ = ["ColumnFairness", "FairnessReport", "fairness_gaps"]


@dataclass(frozen=True)
class ColumnFairness:
    column: str
    groups: dict[str, dict[str, float | None]]  # group -> rows, selection_rate, tpr, fpr
    parity_gap: float | None
    odds_gap: float | None
    disparate_impact: float | None
    violations: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FairnessReport:
    columns: dict[str, ColumnFairness]
    rows: int

    @property
    def alert(self) -> bool:
        return any(c.violations for c in self.columns.values())

    @property
    def max_parity_gap(self) -> float | None:
        return _max(c.parity_gap for c in self.columns.values())

    @property
    def max_odds_gap(self) -> float | None:
        return _max(c.odds_gap for c in self.columns.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "alert": self.alert,
            "max_parity_gap": self.max_parity_gap,
            "max_odds_gap": self.max_odds_gap,
            "columns": {name: {"groups": c.groups, "parity_gap": c.parity_gap,
                               "odds_gap": c.odds_gap, "disparate_impact": c.disparate_impact,
                               "violations": c.violations}
                        for name, c in self.columns.items()},
        }


def fairness_gaps(
    frame: pd.DataFrame,
    sensitive: list[str],
    prediction: str,
    label: str | None = None,
    *,
    positive: Any = 1,
    min_group_rows: int = 30,
    max_parity_gap: float | None = None,
    max_odds_gap: float | None = None,
) -> FairnessReport:
    """Gaps per sensitive column; ``max_*`` limits add violations. Rows without a label are
    left out of TPR/FPR. Raises ``DataError`` for missing columns."""
    needed = [*sensitive, prediction, *([label] if label else [])]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DataError(f"fairness needs columns {missing} that the data lacks")
    chosen = (frame[prediction] == positive).to_numpy()
    actual = None if label is None else frame[label]
    known = None if actual is None else actual.notna().to_numpy()
    truth = None if actual is None else (actual == positive).to_numpy()
    columns = {}
    for column in sensitive:  # loops over columns and groups, never rows
        parts = pd.DataFrame({"g": frame[column].astype("string"), "sel": chosen})
        if truth is not None and known is not None:
            parts["tp"] = chosen & truth & known
            parts["pos"] = truth & known
            parts["fp"] = chosen & ~truth & known
            parts["neg"] = ~truth & known
        sums = parts.groupby("g", dropna=True, observed=True).agg(["sum", "count"])
        groups: dict[str, dict[str, float | None]] = {}
        for group, row in sums.iterrows():
            rows = int(row[("sel", "count")])
            stats: dict[str, float | None] = {
                "rows": float(rows), "selection_rate": row[("sel", "sum")] / rows,
                "tpr": None, "fpr": None}
            if truth is not None:
                pos, neg = row[("pos", "sum")], row[("neg", "sum")]
                stats["tpr"] = float(row[("tp", "sum")] / pos) if pos else None
                stats["fpr"] = float(row[("fp", "sum")] / neg) if neg else None
            groups[str(group)] = {k: (float(v) if v is not None else None)
                                  for k, v in stats.items()}
        columns[column] = _gaps(column, groups, min_group_rows, max_parity_gap, max_odds_gap)
    return FairnessReport(columns, len(frame))


def _gaps(column: str, groups: dict[str, dict[str, float | None]], min_rows: int,
          max_parity: float | None, max_odds: float | None) -> ColumnFairness:
    counted = [g for g in groups.values() if (g["rows"] or 0) >= min_rows]

    def spread(key: str) -> float | None:
        values = [g[key] for g in counted if g[key] is not None]
        return float(max(values) - min(values)) if len(values) >= 2 else None  # type: ignore

    parity = spread("selection_rate")
    tpr_gap, fpr_gap = spread("tpr"), spread("fpr")
    odds = _max([tpr_gap, fpr_gap])
    rates = [float(g["selection_rate"] or 0.0) for g in counted]
    impact = (min(rates) / max(rates) if len(rates) >= 2 and max(rates) > 0 else None)
    violations = []
    if max_parity is not None and parity is not None and parity > max_parity:
        violations.append(f"{column}: demographic-parity gap {parity:.3f} > {max_parity:g}")
    if max_odds is not None and odds is not None and odds > max_odds:
        violations.append(f"{column}: equalised-odds gap {odds:.3f} > {max_odds:g}")
    return ColumnFairness(column, groups, parity, odds, impact, violations)


def _max(values: Any) -> float | None:
    found = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.max(found)) if found else None
