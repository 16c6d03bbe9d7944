"""Which policy pays: each policy's gain over ``never`` priced by the cost model ``auto`` uses.

A policy's net value is what its gain in quality was worth over the replayed days, less what
its retrains cost, in the units of ``triggers.auto``'s cost model:

    value_per_metric_point x points over never x days - cost_per_retrain x retrains

where a point is 1% of ``never``'s metric (the gate's relative improvement, in points; for
R², whose zero is no floor and can be ``never``'s, 0.01 of R²) and the days are the replay's,
on its clock (a batch of rows counts as a week). The first training is every policy's and
is not counted. Net value is linear in the cost of a retrain, so the range of costs over
which the best policy stays the best follows from the policies' gains and retrains alone.

>>> rows = [{"name": "never", "metric": 0.60, "retrains": 0},
...         {"name": "always", "metric": 0.75, "retrains": 100},
...         {"name": "auto", "metric": 0.74, "retrains": 20}]
>>> found = net_values(rows, higher_is_better=True, cost=1.0, value=0.004, days=700)
>>> [round(found[n], 2) for n in ("never", "always", "auto")]
[0.0, -30.0, 45.33]
>>> name, low, high = best_policy(rows, True, cost=1.0, value=0.004, days=700)
>>> name, round(low, 3), round(high, 3)  # auto pays most for a retrain costing 0.058..3.267
('auto', 0.058, 3.267)
"""

from __future__ import annotations

import math
from typing import Any

from retrainer.triggers.auto import POINTS  # a relative improvement of 0.01 is one point


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


#: metrics whose zero is no floor (R² is 0 for predicting the mean and negative below it): a
#: point is 0.01 of the metric, since 1% of a ``never`` near zero would be no unit at all
ABSOLUTE_POINTS = frozenset({"r2"})


def point_of(metric: str, never: float) -> float:
    """The metric's change that is one point, against ``never``'s metric."""
    return 1.0 / POINTS if metric in ABSOLUTE_POINTS else abs(never) / POINTS


def points_over_never(policies: list[dict[str, Any]], higher_is_better: bool, metric: str = ""
                      ) -> dict[str, float]:
    """Each scored policy's metric over ``never``'s, in points (``point_of``); empty unless
    ``never`` ran and scored (and, for a relative point, is not zero)."""
    never = next((_finite(p.get("metric")) for p in policies if p.get("name") == "never"), None)
    point = None if never is None else point_of(metric, never)
    if never is None or not point:
        return {}
    sign = 1.0 if higher_is_better else -1.0
    return {str(p["name"]): sign * (value - never) / point + 0.0  # no -0
            for p in policies if (value := _finite(p.get("metric"))) is not None}


def unpriced(policies: list[dict[str, Any]], metric: str = "") -> str | None:
    """Why no policy has a net value although ``never`` ran (None when it did not run, or
    when its metric prices a point): a ``never`` with no metric, or one whose metric is 0,
    1% of which is no unit (an accuracy of 0, an F1 of 0 where it never predicts the
    positive class, an RMSE of 0).

    >>> unpriced([{"name": "never", "metric": 0.0}, {"name": "always", "metric": 0.4}], "f1")[:37]
    "never's f1 is 0, and a point is 1% of"
    >>> unpriced([{"name": "never", "metric": 0.0}], "r2") is None  # a point is 0.01 of R²
    True
    """
    row = next((p for p in policies if p.get("name") == "never"), None)
    if row is None:
        return None
    never = _finite(row.get("metric"))
    if never is None:
        return (f"never has no {metric or 'metric'} (it scored no batch, or its metric is "
                "undefined on every batch it scored), so it has no gain to price")
    if point_of(metric, never) == 0:
        return (f"never's {metric or 'metric'} is 0, and a point is 1% of it: a gain over it "
                "has no size in points (another --metric may price it)")
    return None


def priced_gains(policies: list[dict[str, Any]], higher_is_better: bool, value: float,
                 days: float, metric: str = "") -> dict[str, float]:
    """What each scored policy's gain over ``never`` was worth over ``days``; empty unless
    ``never`` scored."""
    return {name: value * points * days
            for name, points in points_over_never(policies, higher_is_better, metric).items()}


def net_values(policies: list[dict[str, Any]], higher_is_better: bool, cost: float,
               value: float, days: float, metric: str = "") -> dict[str, float]:
    """Each scored policy's net value (module docstring); empty unless ``never`` scored."""
    retrains = _retrains(policies)
    return {name: gain - cost * retrains[name]
            for name, gain in priced_gains(policies, higher_is_better, value, days,
                                           metric).items()}


def best_policy(policies: list[dict[str, Any]], higher_is_better: bool, cost: float,
                value: float, days: float, metric: str = "") -> tuple[str, float, float] | None:
    """The policy of highest net value, and the costs of a retrain between which it stays
    the highest, the value of a point held (the upper end may be ``inf``); None unless
    ``never`` scored. A tie goes to the policy with fewer retrains."""
    gains = priced_gains(policies, higher_is_better, value, days, metric)
    return best_of(gains, {name: float(n) for name, n in _retrains(policies).items()}, cost)


def best_of(gains: dict[str, float], retrains: dict[str, float], cost: float
            ) -> tuple[str, float, float] | None:
    """``best_policy`` from each policy's priced gain and retrains (means over starts will
    do: the mean net value is linear in the cost too)."""
    if not gains:
        return None
    winner = max(gains, key=lambda name: (gains[name] - cost * retrains[name], -retrains[name]))
    low, high = 0.0, math.inf
    for name, gain in gains.items():
        more = retrains[name] - retrains[winner]
        if more == 0:
            continue
        crossing = (gain - gains[winner]) / more  # the cost at which the two are worth the same
        if more > 0:
            low = max(low, crossing)
        else:
            high = min(high, crossing)
    return winner, low, high


def _retrains(policies: list[dict[str, Any]]) -> dict[str, int]:
    return {str(p["name"]): int(p["retrains"]) for p in policies}
