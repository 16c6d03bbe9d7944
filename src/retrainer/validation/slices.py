"""Per-slice check: no slice (station, segment, ...) may regress by more than a margin.

For every value of a configured column with at least ``min_rows`` holdout rows, candidate
and champion are scored by the validation metric on that slice's rows. A slice fails when
the candidate is worse than the champion by more than ``max_regression`` (metric units, or a
percentage of the champion's value on the slice). Smaller slices, and slices where the
metric is undefined, are reported but not judged.

>>> from retrainer.config import SliceCheck
>>> y = np.array([10.0, 12.0, 11.0, 50.0, 52.0, 51.0])
>>> values = np.array(["a", "a", "a", "b", "b", "b"])
>>> champion, candidate = y + 1.0, np.r_[y[:3] + 0.5, y[3:] + 3.0]
>>> [(s.value, s.passed) for s in check_slices(SliceCheck(column="site", max_regression="50%",
...     min_rows=3), values, "rmse", y, candidate, champion)]
[('a', True), ('b', False)]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from retrainer.config import SliceCheck, amount_value
from retrainer.domain.metrics import METRICS
from retrainer.domain.validation import SliceResult
from retrainer.validation.metrics import compute_metrics


def _label(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "<missing>"
    return str(value)


def check_slices(
    check: SliceCheck,
    values: Any,
    metric: str,
    y: Any,
    candidate_prediction: Any,
    champion_prediction: Any,
    classes: Any = None,
) -> list[SliceResult]:
    """One result per distinct value of the slice column (sorted by label)."""
    spec = METRICS[metric]
    labels = np.array([_label(v) for v in np.asarray(values, dtype=object)])
    y = np.asarray(y)
    candidate = np.asarray(candidate_prediction)
    champion = np.asarray(champion_prediction)
    margin, relative = amount_value(check.max_regression)
    results = []
    for label in sorted(set(labels.tolist())):
        mask = labels == label
        rows = int(mask.sum())
        cand = champ = regression = limit = None
        judged = False
        if rows >= max(check.min_rows, 2):
            cand = compute_metrics(spec.task, y[mask], candidate[mask], classes)[metric]
            champ = compute_metrics(spec.task, y[mask], champion[mask], classes)[metric]
            if math.isfinite(cand) and math.isfinite(champ):
                regression = -spec.better(cand, champ)
                limit = margin * abs(champ) if relative else margin
                judged = True
        passed = not judged or (regression is not None and limit is not None
                                and regression <= limit)
        results.append(SliceResult(check.column, label, rows, cand, champ, regression, limit,
                                   judged, passed))
    return results
