"""Paired moving-block bootstrap of a metric difference, and bootstrap metric intervals.

Each resample draws ``ceil(n / L)`` blocks of ``L`` consecutive holdout rows (start positions
uniform over ``0..n-L``) and keeps the first ``n`` rows; ``L = 1`` is the ordinary iid
bootstrap, a larger ``L`` keeps the autocorrelation of time-ordered rows inside each block
(Künsch, 1989). Candidate and champion are scored on the *same* resampled rows, so the
difference keeps their pairing. The default ``L`` is ``round(n ** (1/3))``.

Test (one-sided): H0: improvement <= -margin. The p-value is the bootstrap share of
improvements at or below ``-margin``, ``(1 + #{imp* <= -margin}) / (B + 1)``; the interval is
the percentile interval ``[q(alpha), q(1 - alpha)]`` of the resampled improvements.

>>> y = np.arange(1.0, 101.0)
>>> result = paired_bootstrap("rmse", y, y + 1.0, y + 3.0, alpha=0.05, resamples=200)
>>> result.rejected_null, round(result.estimate, 6), result.p_value < 0.01
(True, 2.0, True)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats as sps

from retrainer.domain.metrics import METRICS, Task
from retrainer.domain.validation import StatTestResult
from retrainer.exceptions import ValidationError
from retrainer.validation.metrics import _classification, compute_metrics, row_losses

CHUNK = 250  # resamples scored at once (bounds the index matrix's memory)


def default_block_length(n: int) -> int:
    """round(n ** (1/3)), at least 1: the usual rate for moving-block bootstraps of means."""
    return max(1, round(n ** (1.0 / 3.0)))


def block_indices(n: int, resamples: int, block_length: int, rng: np.random.Generator,
                  circular: bool = False) -> np.ndarray:
    """(resamples, n) row indices of moving-block resamples of ``n`` time-ordered rows; with
    ``circular``, blocks may start anywhere and wrap around the end (Politis & Romano 1992),
    so every row is drawn equally often and the resampled mean centres on the sample's."""
    length = max(1, min(block_length, n))
    blocks = math.ceil(n / length)
    starts = rng.integers(0, n if circular else n - length + 1, size=(resamples, blocks))
    rows = (starts[:, :, None] + np.arange(length)[None, None, :]).reshape(resamples, -1)
    return rows[:, :n] % n


class _Scorer:
    """Scores one metric on many resamples of the same rows, vectorised where it can be."""

    def __init__(self, metric: str, y: Any, prediction: Any, classes: Any):
        spec = METRICS[metric]
        self.metric = metric
        self.task = spec.task
        self.y = np.asarray(y)
        self.prediction = np.asarray(prediction, dtype="float64")
        self.classes = classes
        self.losses = None
        if metric in ("rmse", "mae", "accuracy_within_20pct", "accuracy", "log_loss", "brier"):
            self.losses = row_losses(spec.row_loss, self.y, self.prediction, classes)
        elif metric == "r2":
            self.losses = row_losses("squared_error", self.y, self.prediction)
        elif self.task is Task.CLASSIFICATION:
            _, self.proba, _, self.index = _classification(self.y, self.prediction, classes)

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        """The metric on each row of ``rows`` (a (k, n) index matrix)."""
        if self.losses is not None:
            mean = self.losses[rows].mean(axis=1)
            if self.metric == "rmse":
                return np.sqrt(mean)
            if self.metric in ("accuracy", "accuracy_within_20pct"):
                return 1.0 - mean
            if self.metric == "r2":
                y = self.y.astype("float64")[rows]
                total = ((y - y.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
                with np.errstate(divide="ignore", invalid="ignore"):
                    return np.where(total > 0, 1.0 - mean * rows.shape[1] / total, np.nan)
            return mean
        if self.proba.shape[1] == 2:
            return self._binary(rows)
        return self._multiclass(rows)

    def _binary(self, rows: np.ndarray) -> np.ndarray:
        """Binary ROC AUC (Mann-Whitney on midranks) and f1, vectorised over resamples."""
        positive = self.index[rows] == 1
        m = positive.sum(axis=1).astype("float64")
        n = rows.shape[1] - m
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.metric == "roc_auc":
                ranks = sps.rankdata(self.proba[rows, 1], method="average", axis=1)
                auc = ((ranks * positive).sum(axis=1) - m * (m + 1) / 2) / (m * n)
                return np.where((m > 0) & (n > 0), auc, np.nan)
            predicted = (np.argmax(self.proba, axis=1) == 1)[rows]
            tp = (predicted & positive).sum(axis=1)
            wrong = (predicted != positive).sum(axis=1)
            return np.where(2 * tp + wrong > 0, 2 * tp / (2 * tp + wrong), 0.0)

    def _multiclass(self, rows: np.ndarray) -> np.ndarray:
        """Macro one-vs-rest ROC AUC over the classes present in each resample (NaN with
        fewer than two), and macro f1 over every class, vectorised over resamples: the same
        numbers as ``compute_metrics`` on each resample."""
        index = self.index[rows]
        k = self.proba.shape[1]
        if self.metric == "roc_auc":
            per_class = np.full((rows.shape[0], k), np.nan)
            for c in range(k):
                positive = index == c
                m = positive.sum(axis=1).astype("float64")
                n = rows.shape[1] - m
                ranks = sps.rankdata(self.proba[rows, c], method="average", axis=1)
                with np.errstate(divide="ignore", invalid="ignore"):
                    auc = ((ranks * positive).sum(axis=1) - m * (m + 1) / 2) / (m * n)
                per_class[:, c] = np.where(m > 0, auc, np.nan)
            present = np.isfinite(per_class).sum(axis=1)
            with np.errstate(invalid="ignore"):
                mean = np.nansum(per_class, axis=1) / present
            return np.where(present >= 2, mean, np.nan)
        predicted = np.argmax(self.proba, axis=1)[rows]
        f1 = np.zeros((rows.shape[0], k))
        for c in range(k):
            truth, guess = index == c, predicted == c
            tp = (truth & guess).sum(axis=1)
            wrong = (truth != guess).sum(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                f1[:, c] = np.where(2 * tp + wrong > 0, 2 * tp / (2 * tp + wrong), 0.0)
        return f1.mean(axis=1)


def _resampled(scorers: list[_Scorer], n: int, resamples: int, block_length: int,
               seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out: list[list[np.ndarray]] = [[] for _ in scorers]
    for start in range(0, resamples, CHUNK):
        rows = block_indices(n, min(CHUNK, resamples - start), block_length, rng)
        for values, scorer in zip(out, scorers, strict=True):
            values.append(scorer(rows))
    return [np.concatenate(v) for v in out]


def paired_bootstrap(
    metric: str,
    y: Any,
    candidate_prediction: Any,
    champion_prediction: Any,
    *,
    alpha: float,
    resamples: int = 1000,
    block_length: int | None = None,
    seed: int = 0,
    margin: float = 0.0,
    classes: Any = None,
) -> StatTestResult:
    """Bootstrap the candidate's improvement in ``metric`` over the champion (metric units,
    positive = better) on the same resampled rows; test it against ``-margin``.

    Raises ValidationError when there are fewer than 3 rows. Resamples where the metric is
    undefined (e.g. AUC on one class) are dropped and counted in ``details``.
    """
    spec = METRICS[metric]
    n = len(np.asarray(y))
    if n < 3:
        raise ValidationError(f"the bootstrap needs at least 3 rows, got {n}")
    length = block_length or default_block_length(n)
    observed = spec.better(
        compute_metrics(spec.task, y, candidate_prediction, classes)[metric],
        compute_metrics(spec.task, y, champion_prediction, classes)[metric],
    )
    cand, champ = _resampled(
        [_Scorer(metric, y, candidate_prediction, classes),
         _Scorer(metric, y, champion_prediction, classes)], n, resamples, length, seed)
    improvement = cand - champ if spec.greater_is_better else champ - cand
    valid = improvement[np.isfinite(improvement)]
    details = {"resamples": resamples, "block_length": length, "seed": seed,
               "undefined_resamples": int(resamples - len(valid))}
    if len(valid) == 0 or not math.isfinite(observed):
        return StatTestResult("bootstrap", None, 1.0, alpha, False, n, None,
                              margin=margin or None, estimate=None, details=details)
    p = float((1 + np.count_nonzero(valid <= -margin)) / (len(valid) + 1))
    low, high = np.quantile(valid, [alpha, 1 - alpha])
    return StatTestResult(
        "bootstrap", None, p, alpha, p < alpha, n, None, margin=margin or None,
        estimate=float(observed), ci_low=float(low), ci_high=float(high),
        confidence=1 - alpha, details=details,
    )


def metric_intervals(
    task: Task,
    y: Any,
    prediction: Any,
    *,
    classes: Any = None,
    level: float = 0.95,
    resamples: int = 1000,
    block_length: int | None = None,
    seed: int = 0,
) -> dict[str, list[float]]:
    """Two-sided percentile intervals at ``level`` of every metric of ``task`` on the rows
    (moving-block bootstrap). A metric undefined on every resample gets no interval.
    """
    n = len(np.asarray(y))
    if n < 3:
        return {}
    names = [name for name, spec in METRICS.items() if spec.task is task]
    scorers = [_Scorer(name, y, prediction, classes) for name in names]
    values = _resampled(scorers, n, resamples, block_length or default_block_length(n), seed)
    tail = (1.0 - level) / 2.0
    out = {}
    for name, v in zip(names, values, strict=True):
        finite = v[np.isfinite(v)]
        if len(finite):
            low, high = np.quantile(finite, [tail, 1.0 - tail])
            out[name] = [float(low), float(high)]
    return out
