"""Label-free performance estimates for classifiers (confidence-based, after CBPE).

Before labels arrive, a classifier's accuracy and ROC AUC on a window can be estimated from
its own predicted probabilities, provided they are calibrated: if ``P(y = 1 | score) = p``
then each row is correctly classified with probability ``p`` (predicted 1) or ``1 - p``
(predicted 0), and the expected confusion matrix at every threshold gives an expected ROC
curve. ``fit_estimator`` learns the calibration map on a labelled reference (isotonic
regression of the label on the score, as NannyML's CBPE does), so the estimates hold while
the relation between score and outcome stays what it was (covariate shift), and they miss
concept drift by construction: compare them with the realised values once labels exist.
Scores outside the reference's range get the calibrated probability of its extremes, so when
much of a window lies far beyond the reference the estimates turn optimistic.

* ``estimated accuracy = mean(p_i if y_pred_i = 1 else 1 - p_i)``, with its standard error
  ``sqrt(sum q_i (1 - q_i)) / n`` (``q_i`` the probability that row i is right);
* ``estimated ROC AUC``: the area under the expected ROC curve, whose points at each
  distinct score are ``(sum of 1 - p, sum of p)`` over the rows scored at least that high,
  each over its total.

With more than two classes the map calibrates the model's confidence instead, its largest
class probability, to the chance that the predicted class is right (``kind="confidence"``):
``estimated accuracy = mean(P(right | confidence_i))``, with the same standard error; other
metrics are not estimated there.

Alert thresholds come from the reference cut into chunks of the same size: the realised
metric's mean minus three standard deviations across those chunks.

>>> rng = np.random.default_rng(0)
>>> score = rng.uniform(size=20_000)
>>> label = (rng.uniform(size=score.size) < score).astype(int)  # calibrated by construction
>>> est = fit_estimator(label, score, (score > 0.5).astype(int))
>>> result = est.estimate(score, (score > 0.5).astype(int))
>>> round(result["accuracy"], 2), round(result["roc_auc"], 2)
(0.75, 0.84)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from retrainer.exceptions import DataError

__all__ = ["ConfidenceEstimator", "accuracy", "estimate_chunks", "expected_metrics",
           "fit_estimator", "reference_estimator", "roc_auc"]

METRICS = ("accuracy", "roc_auc")


@dataclass(frozen=True)
class ConfidenceEstimator:
    """A fitted calibration map (isotonic steps) and the reference's realised metrics."""

    knots_x: np.ndarray
    knots_y: np.ndarray
    reference: dict[str, float]
    reference_rows: int
    kind: str = "binary"  # binary: P(y = 1 | score); confidence: P(right | largest probability)

    def to_dict(self) -> dict[str, Any]:
        """JSON form, stored in a version's reference profile under ``estimator``."""
        return {"knots_x": self.knots_x.tolist(), "knots_y": self.knots_y.tolist(),
                "reference": self.reference, "reference_rows": self.reference_rows,
                "kind": self.kind}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConfidenceEstimator:
        return cls(np.asarray(data["knots_x"], dtype=np.float64),
                   np.asarray(data["knots_y"], dtype=np.float64),
                   dict(data["reference"]), int(data["reference_rows"]),
                   str(data.get("kind", "binary")))

    def calibrated(self, proba: np.ndarray) -> np.ndarray:
        """``P(y = 1 | score)`` under the reference's calibration."""
        return np.interp(proba, self.knots_x, self.knots_y)

    def estimate(self, proba: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
        """Estimated accuracy (with ``accuracy_std``) and ROC AUC of one chunk."""
        p = self.calibrated(np.asarray(proba, dtype=np.float64))
        right = np.where(np.asarray(predicted) == 1, p, 1.0 - p)
        n = right.size
        return {
            "accuracy": float(right.mean()) if n else math.nan,
            "accuracy_std": float(math.sqrt(np.sum(right * (1 - right))) / n) if n else math.nan,
            "roc_auc": _expected_auc(np.asarray(proba, dtype=np.float64), p),
        }


def fit_estimator(y_true: np.ndarray, proba: np.ndarray, predicted: np.ndarray
                  ) -> ConfidenceEstimator:
    """Calibrate on a labelled reference. Raises ``DataError`` when it has a single class."""
    from sklearn.isotonic import IsotonicRegression

    y = np.asarray(y_true, dtype=np.float64)
    if np.unique(y).size < 2:
        raise DataError("the reference needs both classes to calibrate the estimator")
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    iso.fit(np.asarray(proba, dtype=np.float64), y)
    reference = {"accuracy": accuracy(y, predicted), "roc_auc": roc_auc(y, proba)}
    return ConfidenceEstimator(np.asarray(iso.X_thresholds_, dtype=np.float64),
                               np.asarray(iso.y_thresholds_, dtype=np.float64),
                               reference, int(y.size))


def reference_estimator(y_true: np.ndarray, proba: np.ndarray, classes: list[Any] | None
                        ) -> ConfidenceEstimator | None:
    """The estimator of a classifier, calibrated on its holdout (``proba`` one column per
    class, in ``classes`` order): binary, or of its confidence with more classes. None for
    other models, and for a holdout with one class (or, with more, all right or all wrong)."""
    if classes is None or len(classes) < 2:
        return None
    scores = np.asarray(proba, dtype=np.float64)
    if len(classes) > 2:
        return _confidence_estimator(np.asarray(y_true), scores, classes)
    positive = scores[:, 1] if scores.ndim == 2 else scores
    y = (np.asarray(y_true) == classes[1]).astype(np.float64)
    try:
        return fit_estimator(y, positive, (positive >= 0.5).astype(int))
    except DataError:
        return None


def _confidence_estimator(y_true: np.ndarray, proba: np.ndarray, classes: list[Any]
                          ) -> ConfidenceEstimator | None:
    from sklearn.isotonic import IsotonicRegression

    predicted = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
    right = (predicted == np.asarray(y_true, dtype=object)).astype(np.float64)
    if np.unique(right).size < 2:
        return None
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    iso.fit(proba.max(axis=1), right)
    return ConfidenceEstimator(np.asarray(iso.X_thresholds_, dtype=np.float64),
                               np.asarray(iso.y_thresholds_, dtype=np.float64),
                               {"accuracy": float(right.mean())}, int(right.size),
                               "confidence")


def expected_metrics(estimator: ConfidenceEstimator, scores: np.ndarray) -> dict[str, float]:
    """Estimated metrics of unlabelled rows from the model's ``scores`` (one column per
    class, or P(classes[1]) alone). Binary: accuracy and ROC AUC, and the expected log loss
    and Brier score: each row's label is 1 with the calibrated probability ``p``, so its
    expected log loss is ``-p log q - (1 - p) log(1 - q)`` and its expected Brier
    ``p (1 - q)^2 + (1 - p) q^2``. More classes: accuracy alone (``kind="confidence"``).

    >>> est = ConfidenceEstimator(np.array([0.0, 1.0]), np.array([0.0, 1.0]), {}, 2)
    >>> {k: round(v, 3) for k, v in expected_metrics(est, np.array([0.8, 0.3])).items()}
    {'accuracy': 0.75, 'accuracy_std': 0.304, 'roc_auc': 0.753, 'log_loss': 0.556, 'brier': 0.185}
    >>> sure = ConfidenceEstimator(np.array([0.3, 1.0]), np.array([0.1, 0.9]), {}, 2, "confidence")
    >>> round(expected_metrics(sure, np.array([[0.3, 0.3, 0.4], [0.0, 1.0, 0.0]]))["accuracy"], 3)
    0.557
    """
    scores = np.asarray(scores, dtype=np.float64)
    if estimator.kind == "confidence":
        right = estimator.calibrated(scores.max(axis=1))
        n = right.size
        return {"accuracy": float(right.mean()) if n else math.nan,
                "accuracy_std": float(math.sqrt(np.sum(right * (1 - right))) / n)
                if n else math.nan}
    positive = scores[:, 1] if scores.ndim == 2 else scores
    q = np.clip(positive, 1e-15, 1 - 1e-15)
    metrics = estimator.estimate(q, (q >= 0.5).astype(int))
    p = estimator.calibrated(q)
    metrics["log_loss"] = float(np.mean(-p * np.log(q) - (1 - p) * np.log(1 - q)))
    metrics["brier"] = float(np.mean(p * (1 - q) ** 2 + (1 - p) * q ** 2))
    return metrics


def accuracy(y_true: np.ndarray, predicted: np.ndarray) -> float:
    """Share of rows with ``predicted == y_true``."""
    y = np.asarray(y_true)
    return float(np.mean(np.asarray(predicted) == y)) if y.size else math.nan


def roc_auc(y_true: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC by ranks (ties count one half); NaN unless both classes are present.

    >>> roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.75
    """
    y = np.asarray(y_true) == 1
    positives = int(y.sum())
    negatives = y.size - positives
    if positives == 0 or negatives == 0:
        return math.nan
    order = np.argsort(score, kind="mergesort")
    ranked = np.asarray(score)[order]
    starts = np.flatnonzero(np.concatenate([[True], ranked[1:] != ranked[:-1]]))
    ends = np.append(starts[1:], ranked.size)
    average = (starts + ends + 1) / 2.0  # mean 1-based rank of each tie group
    ranks = np.repeat(average, ends - starts)
    rank_sum = float(ranks[y[order]].sum())
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def _expected_auc(score: np.ndarray, p: np.ndarray) -> float:
    """Area under the expected ROC curve (tie groups of scores are one step)."""
    if score.size == 0:
        return math.nan
    order = np.argsort(-score, kind="mergesort")
    ranked, prob = score[order], p[order]
    tp, fp = np.cumsum(prob), np.cumsum(1.0 - prob)
    if tp[-1] <= 0 or fp[-1] <= 0:
        return math.nan
    last = np.append(ranked[1:] != ranked[:-1], True)
    tpr = np.concatenate([[0.0], tp[last] / tp[-1]])
    fpr = np.concatenate([[0.0], fp[last] / fp[-1]])
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def estimate_chunks(
    estimator: ConfidenceEstimator,
    reference: tuple[np.ndarray, np.ndarray, np.ndarray],
    proba: np.ndarray,
    predicted: np.ndarray,
    y_true: np.ndarray | None = None,
    chunk_size: int | None = None,
) -> list[dict[str, Any]]:
    """Estimated (and, where labels exist, realised) metrics per chunk of an analysis set.

    ``reference`` is ``(y_true, proba, predicted)`` of the labelled reference, used for the
    alert thresholds. ``y_true`` may hold NaN for rows whose labels have not arrived; a
    chunk's realised metrics use its labelled rows. ``chunk_size`` defaults to a tenth of
    the rows. Each chunk: ``start``, ``end`` (exclusive), ``rows``, ``estimated``,
    ``realised`` (None without labels), ``thresholds`` and ``alerts``.
    """
    n = int(np.asarray(proba).size)
    size = chunk_size or max(1, math.ceil(n / 10))
    if size < 1:
        raise ValueError(f"chunk_size must be positive, got {size}")
    lower = _lower_thresholds(*reference, size)
    chunks = []
    for start in range(0, n, size):
        end = min(start + size, n)
        estimated = estimator.estimate(proba[start:end], predicted[start:end])
        realised = None
        if y_true is not None:
            labels = np.asarray(y_true[start:end], dtype=np.float64)
            known = ~np.isnan(labels)
            if known.any():
                realised = {"accuracy": accuracy(labels[known], predicted[start:end][known]),
                            "roc_auc": roc_auc(labels[known], proba[start:end][known]),
                            "labelled_rows": float(known.sum())}
        alerts = [m for m in METRICS if _below(estimated[m], lower[m])]
        chunks.append({"start": start, "end": end, "rows": end - start,
                       "estimated": estimated, "realised": realised,
                       "thresholds": {m: {"lower": lower[m]} for m in METRICS},
                       "alerts": alerts})
    return chunks


def _below(value: float, limit: float | None) -> bool:
    return limit is not None and not math.isnan(value) and value < limit


def _lower_thresholds(y_true: np.ndarray, proba: np.ndarray, predicted: np.ndarray,
                      size: int) -> dict[str, float | None]:
    """Mean minus three standard deviations of each realised metric over reference chunks
    of ``size`` rows (None with fewer than two chunks)."""
    values: dict[str, list[float]] = {m: [] for m in METRICS}
    for start in range(0, int(np.asarray(y_true).size) - size + 1, size):
        part = slice(start, start + size)
        values["accuracy"].append(accuracy(y_true[part], predicted[part]))
        values["roc_auc"].append(roc_auc(y_true[part], proba[part]))
    lower: dict[str, float | None] = {}
    for metric, found in values.items():
        finite = np.array([v for v in found if v == v])
        lower[metric] = (float(finite.mean() - 3 * finite.std(ddof=1))
                         if finite.size >= 2 else None)
    return lower
