"""Metrics named in ``domain.metrics.METRICS`` and the per-row losses the paired tests compare.

Regression predictions are 1-D; classification predictions are probability matrices with one
column per class, in ``classes`` order (a 1-D array is read as P(classes[1]) for binary).
Binary f1 is the f1 of ``classes[1]``; multiclass f1 is macro-averaged, ROC AUC is
one-vs-rest (macro over the classes present), and Brier is the mean squared distance to the
one-hot label (halved for binary, which gives the usual mean of (p - y)^2). The mean of each
row loss equals its metric:
squared_error -> rmse², absolute_error -> mae, zero_one -> 1 - accuracy, log_loss, brier,
outside_20pct -> 1 - accuracy_within_20pct.

>>> compute_metrics(Task.REGRESSION, [1.0, 2.0, 3.0], [1.0, 2.0, 5.0])["mae"]
0.6666666666666666
>>> row_losses("zero_one", ["a", "b"], [[0.9, 0.1], [0.8, 0.2]], classes=["a", "b"]).tolist()
[0.0, 1.0]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from retrainer.domain.metrics import Task
from retrainer.exceptions import ValidationError

ROW_LOSSES = ("squared_error", "absolute_error", "outside_20pct", "zero_one", "log_loss", "brier")
WITHIN = 0.2  # accuracy_within_20pct: |prediction - actual| <= 20% of |actual|


def _regression(y_true: Any, prediction: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype="float64").reshape(-1)
    p = np.asarray(prediction, dtype="float64").reshape(-1)
    if len(y) != len(p):
        raise ValidationError(f"{len(y)} targets but {len(p)} predictions")
    if len(y) == 0:
        raise ValidationError("no rows to score")
    if not (np.isfinite(y).all() and np.isfinite(p).all()):
        raise ValidationError("targets and predictions must be finite (drop missing targets)")
    return y, p


def _classification(
    y_true: Any, prediction: Any, classes: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(labels, probability matrix, classes, label indices into classes)."""
    y = np.asarray(y_true).reshape(-1)
    proba = np.asarray(prediction, dtype="float64")
    cls = np.unique(y) if classes is None else np.asarray(classes)
    if proba.ndim == 1:
        proba = np.column_stack([1.0 - proba, proba])
    if proba.ndim != 2 or proba.shape[1] != len(cls):
        raise ValidationError(
            f"expected a probability matrix with {len(cls)} columns (classes {cls.tolist()}), "
            f"got shape {proba.shape}"
        )
    if len(y) != len(proba):
        raise ValidationError(f"{len(y)} labels but {len(proba)} predictions")
    if len(y) == 0:
        raise ValidationError("no rows to score")
    if not np.isfinite(proba).all():
        raise ValidationError("probabilities must be finite")
    known = cls.tolist()
    known_set = set(known)
    unseen = [value for value in dict.fromkeys(y.tolist()) if value not in known_set]
    if unseen:  # a class the model never saw: it gave it probability 0 and is scored so
        cls = np.asarray([*known, *unseen], dtype=object)
        proba = widen(proba, known, cls.tolist())
    lookup = {value: i for i, value in enumerate(cls.tolist())}
    index = np.fromiter((lookup[v] for v in y.tolist()), dtype="int64", count=len(y))
    return y, proba, cls, index


def widen(proba: Any, known: Sequence[Any], classes: Sequence[Any]) -> np.ndarray:
    """A probability matrix over ``known`` classes laid out over ``classes`` (a superset):
    the classes the model does not know get probability 0.

    >>> widen([[0.2, 0.8]], ["no", "yes"], ["maybe", "no", "yes"]).tolist()
    [[0.0, 0.2, 0.8]]
    """
    proba = np.asarray(proba, dtype="float64")
    if proba.ndim == 1:
        proba = np.column_stack([1.0 - proba, proba])
    if list(known) == list(classes):
        return proba
    laid_out = set(classes)
    missing = [c for c in known if c not in laid_out]
    if missing:
        raise ValidationError(f"classes {missing} are not among {list(classes)}")
    out = np.zeros((len(proba), len(classes)))
    position = {c: i for i, c in enumerate(classes)}
    for column, c in enumerate(known):
        out[:, position[c]] = proba[:, column]
    return out


def compute_metrics(
    task: Task, y_true: Any, prediction: Any, classes: Any = None
) -> dict[str, float]:
    """Every metric of ``task`` in METRICS, as plain floats.

    ROC AUC is NaN when the rows hold a single class (it is undefined there); every other
    metric is finite (r2 needs two rows). Raises ValidationError when shapes disagree or a
    label is not among ``classes``.

    The formulas are scikit-learn's (``tests/validation/test_metrics.py`` holds them to
    it), in plain NumPy: its input checks cost 12 ms a call on a week of binary labels and
    28 ms with ten classes, and a replay scores every batch of every policy.
    """
    if task is Task.REGRESSION:
        y, p = _regression(y_true, prediction)
        error = y - p
        squared = error**2
        if len(y) > 1:
            residual, total = float(np.sum(squared)), float(np.sum((y - np.mean(y)) ** 2))
            r2 = 1.0 - residual / total if total else (1.0 if residual == 0 else 0.0)
        else:
            r2 = math.nan
        return {
            "rmse": math.sqrt(float(np.mean(squared))),
            "mae": float(np.mean(np.abs(error))),
            "r2": r2,
            "accuracy_within_20pct": float(np.mean(np.abs(error) <= WITHIN * np.abs(y))),
        }
    _, proba, cls, index = _classification(y_true, prediction, classes)
    k = len(cls)
    predicted = np.argmax(proba, axis=1)
    brier = float(np.mean(_squared_distances(proba, index)))
    return {
        "accuracy": float(np.mean(predicted == index)),
        "roc_auc": _roc_auc(index, proba),
        "log_loss": float(np.mean(_log_losses(proba, index))),
        "f1": _f1(index, predicted, k),
        "brier": 0.5 * brier if k == 2 else brier,
    }


def _log_losses(proba: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Each row's -log P(its class), the probability clipped to [eps, 1 - eps]."""
    eps = np.finfo(proba.dtype).eps
    return -np.log(np.clip(proba[np.arange(len(index)), index], eps, 1 - eps))


def _squared_distances(proba: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Each row's squared distance to its one-hot label (Brier, before halving for binary)."""
    onehot = np.zeros_like(proba)
    onehot[np.arange(len(index)), index] = 1.0
    return ((onehot - proba) ** 2).sum(axis=1)


def _f1(index: np.ndarray, predicted: np.ndarray, k: int) -> float:
    """Binary: the f1 of class 1; multiclass: the mean f1 over all ``k`` classes. A class
    neither labelled nor predicted scores 0 (scikit-learn's ``zero_division=0``)."""
    true = np.bincount(index, minlength=k)
    said = np.bincount(predicted, minlength=k)
    hits = np.bincount(index[index == predicted], minlength=k)
    both = (true + said).astype("float64")
    scores = np.divide(2.0 * hits, both, out=np.zeros(k), where=both > 0)
    return float(scores[1]) if k == 2 else float(np.mean(scores))


def _roc_auc(index: np.ndarray, proba: np.ndarray) -> float:
    """Binary AUC of classes[1]; multiclass: macro one-vs-rest over the classes present."""
    present = np.unique(index)
    if len(present) < 2:
        return math.nan
    if proba.shape[1] == 2:
        return _binary_auc(index == 1, proba[:, 1])
    return float(np.mean([_binary_auc(index == c, proba[:, c]) for c in present]))


def _binary_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """The Mann-Whitney form of the area under the ROC curve: the share of (positive,
    negative) pairs the score orders correctly, ties counting half."""
    order = np.argsort(score, kind="mergesort")
    ordered = score[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(ordered)]
    ranks = np.empty(len(score))
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)  # 1-based, ties averaged
    n_pos = int(positive.sum())
    n_neg = len(score) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def row_losses(kind: str, y_true: Any, prediction: Any, classes: Any = None) -> np.ndarray:
    """Per-row losses of one kind (lower is better), 1-D float64.

    Raises ValidationError for an unknown kind or inputs ``compute_metrics`` would reject.
    """
    if kind in ("squared_error", "absolute_error", "outside_20pct"):
        y, p = _regression(y_true, prediction)
        error = y - p
        if kind == "outside_20pct":
            return (np.abs(error) > WITHIN * np.abs(y)).astype("float64")
        return error**2 if kind == "squared_error" else np.abs(error)
    if kind not in ROW_LOSSES:
        raise ValidationError(f"unknown row loss {kind!r}; known: {', '.join(ROW_LOSSES)}")
    _, proba, cls, index = _classification(y_true, prediction, classes)
    if kind == "zero_one":
        return (np.argmax(proba, axis=1) != index).astype("float64")
    if kind == "log_loss":
        return _log_losses(proba, index)
    return (0.5 if len(cls) == 2 else 1.0) * _squared_distances(proba, index)
