"""Performance degradation of the production model on a labelled window.

Metrics are computed elsewhere (``validation.metrics``); this module only compares them
with the version's baseline under the configured rules. Degradation is relative and
direction-aware (``domain.metrics.METRICS``): ``> 0`` is worse, so RMSE 20 -> 24 and
AUC 0.80 -> 0.68 both degrade by 0.20 and 0.15. A rule is violated when the degradation
is strictly greater than its limit; the report's severity is the highest violated rule's.

>>> import pandas as pd

from retrainer.config import PerformanceMonitorConfig
>>> report = evaluate_performance({"rmse": 24.0}, {"rmse": 20.0}, PerformanceMonitorConfig(),
...                               default_metric="rmse", rows=500)
>>> report.degradation, report.severity.value, report.alert
(0.2, 'high', True)
>>> report.reasons
['rmse 24 vs baseline 20: 20.0% worse > 15% (high)']
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from retrainer.config import PerformanceMonitorConfig
from retrainer.data.labels import join_labels
from retrainer.domain.metrics import METRICS
from retrainer.domain.readings import Severity

__all__ = ["PerformanceReport", "evaluate_performance", "join_labels", "relative_degradation"]


@dataclass(frozen=True)
class PerformanceReport:
    metric: str  # the headline metric: the most severe violated rule's, else the default
    value: float  # NaN when the metric could not be computed (also in ``metrics``)
    baseline: float
    degradation: float  # relative worsening, > 0 is worse
    severity: Severity
    alert: bool
    rows: int
    metrics: dict[str, float]  # every current metric
    reasons: list[str]
    baseline_metrics: dict[str, float] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)  # one per rule

    def to_json(self) -> dict[str, Any]:
        """JSON-safe evidence: non-finite numbers become ``None``."""
        return {
            "metric": self.metric,
            "value": _finite(self.value),
            "baseline": _finite(self.baseline),
            "degradation": _finite(self.degradation),
            "severity": self.severity.value,
            "alert": self.alert,
            "rows": self.rows,
            "metrics": {k: _finite(v) for k, v in self.metrics.items()},
            "baseline_metrics": {k: _finite(v) for k, v in self.baseline_metrics.items()},
            "reasons": list(self.reasons),
            "checks": [
                {k: _finite(v) if isinstance(v, float) else v for k, v in check.items()}
                for check in self.checks
            ],
        }


def relative_degradation(metric: str, value: float, baseline: float) -> float:
    """How much worse ``value`` is than ``baseline``, relative to ``|baseline|``.

    Rounded to 12 decimals, so a change of exactly a rule's limit (0.8 -> 0.68 is 15%)
    compares as written rather than as 0.15000000000000002. A zero baseline gives 0.0 when
    unchanged and +-inf otherwise. Raises ``KeyError`` for an unknown metric.

    >>> relative_degradation("rmse", 24.0, 20.0), relative_degradation("roc_auc", 0.68, 0.8)
    (0.2, 0.15)
    >>> relative_degradation("accuracy", 0.9, 0.8)
    -0.125
    """
    worse = -METRICS[metric].better(value, baseline)
    if baseline == 0:
        return 0.0 if worse == 0 else math.copysign(math.inf, worse)
    return round(worse / abs(baseline), 12)


def evaluate_performance(
    current: dict[str, float],
    baseline: dict[str, float],
    rules: PerformanceMonitorConfig,
    default_metric: str,
    rows: int,
) -> PerformanceReport:
    """Check every rule of ``rules`` (``rules.enabled`` is the caller's business).

    A rule whose metric is missing or not finite on either side is skipped with a reason.
    Raises ``ValueError`` when a rule names (or ``default_metric`` is) an unknown metric.
    """
    checks: list[dict[str, Any]] = []
    reasons: list[str] = []
    for rule in rules.rules:
        metric = rule.metric or default_metric
        _known(metric)
        value, base = _number(current, metric), _number(baseline, metric)
        check: dict[str, Any] = {
            "metric": metric, "value": value, "baseline": base, "limit": float(rule.degradation),
            "severity": rule.severity.value, "degradation": None, "violated": False,
        }
        checks.append(check)
        if math.isnan(value) or math.isnan(base):
            side = "this window" if math.isnan(value) else "the baseline"
            reasons.append(f"rule on {metric} skipped: no value for {side}")
            continue
        degradation = relative_degradation(metric, value, base)
        check["degradation"] = degradation
        if degradation > rule.degradation:
            check["violated"] = True
            reasons.append(
                f"{metric} {value:.4g} vs baseline {base:.4g}: {degradation:.1%} worse "
                f"> {rule.degradation:.0%} ({rule.severity.value})"
            )
    violated = [c for c in checks if c["violated"]]
    if violated:
        head = max(violated, key=lambda c: (Severity(c["severity"]).rank, c["degradation"]))
        metric, severity = head["metric"], Severity(head["severity"])
    else:
        metric, severity = _known(default_metric), Severity.NONE
    value, base = _number(current, metric), _number(baseline, metric)
    degradation = (
        math.nan if math.isnan(value) or math.isnan(base)
        else relative_degradation(metric, value, base)
    )
    return PerformanceReport(
        metric=metric,
        value=value,
        baseline=base,
        degradation=degradation,
        severity=severity,
        alert=bool(violated),
        rows=rows,
        metrics={k: _number(current, k) for k in current},
        reasons=reasons,
        baseline_metrics={k: _number(baseline, k) for k in baseline},
        checks=checks,
    )


def _known(metric: str) -> str:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; known: {sorted(METRICS)}")
    return metric


def _number(values: dict[str, float], metric: str) -> float:
    value = values.get(metric)
    if value is None:
        return math.nan
    value = float(value)
    return value if math.isfinite(value) else math.nan


def _finite(value: Any) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)
