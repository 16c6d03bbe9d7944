"""Names and directions of the metrics retrainer knows. Implementations: validation/metrics.py.

>>> METRICS["rmse"].greater_is_better, METRICS["roc_auc"].greater_is_better
(False, True)
>>> default_metric(Task.REGRESSION)
'rmse'
>>> METRICS["rmse"].window_loss({"rmse": 3.0}), METRICS["f1"].window_loss({"accuracy": 0.75})
(9.0, 0.25)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class Task(StrEnum):
    CLASSIFICATION = "classification"
    REGRESSION = "regression"


@dataclass(frozen=True)
class MetricSpec:
    name: str
    task: Task
    greater_is_better: bool
    #: per-row loss the paired tests compare for this metric (see validation/metrics.py)
    row_loss: str

    def better(self, candidate: float, reference: float) -> float:
        """Improvement of ``candidate`` over ``reference`` in the metric's good direction."""
        return candidate - reference if self.greater_is_better else reference - candidate

    def window_loss(self, metrics: dict[str, float]) -> float | None:
        """A window's mean per-row loss (``row_loss``) from its metrics, or None if they
        lack it. Unlike ROC AUC or RMSE, it averages over rows and windows."""
        source, to_loss = ROW_LOSS_FROM_METRIC[self.row_loss]
        value = metrics.get(source)
        return None if value is None else to_loss(value)


METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec("rmse", Task.REGRESSION, False, "squared_error"),
        MetricSpec("mae", Task.REGRESSION, False, "absolute_error"),
        MetricSpec("r2", Task.REGRESSION, True, "squared_error"),
        # share of rows predicted within 20% of the actual value (|p - y| <= 0.2 |y|)
        MetricSpec("accuracy_within_20pct", Task.REGRESSION, True, "outside_20pct"),
        MetricSpec("accuracy", Task.CLASSIFICATION, True, "zero_one"),
        MetricSpec("roc_auc", Task.CLASSIFICATION, True, "log_loss"),
        MetricSpec("log_loss", Task.CLASSIFICATION, False, "log_loss"),
        MetricSpec("f1", Task.CLASSIFICATION, True, "zero_one"),
        MetricSpec("brier", Task.CLASSIFICATION, False, "brier"),
    )
}


#: row loss -> (the metric it is read from, metric value -> mean row loss)
ROW_LOSS_FROM_METRIC: dict[str, tuple[str, Callable[[float], float]]] = {
    "squared_error": ("rmse", lambda rmse: rmse * rmse),
    "absolute_error": ("mae", lambda mae: mae),
    "outside_20pct": ("accuracy_within_20pct", lambda share: 1.0 - share),
    "zero_one": ("accuracy", lambda accuracy: 1.0 - accuracy),
    "log_loss": ("log_loss", lambda loss: loss),
    "brier": ("brier", lambda brier: brier),
}


def default_metric(task: Task) -> str:
    return "rmse" if task is Task.REGRESSION else "roc_auc"


def metrics_for(task: Task) -> list[str]:
    return [name for name, spec in METRICS.items() if spec.task is task]
