"""Which statistical comparison the gate runs, and non-inferiority margins in its units.

* row-loss tests (``diebold_mariano``, ``paired_t``, ``wilcoxon``) compare per-row losses on
  the holdout; a margin in metric units becomes a margin in loss units (``loss_margin``);
* ``bootstrap`` resamples the holdout and tests the metric difference itself;
* ``delong`` tests the ROC AUC difference (binary classification);
* ``cv_paired_t`` tests the fold-by-fold difference of candidate and champion recipes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from retrainer.config import ROW_LOSS_TESTS, ModelConfig
from retrainer.domain.metrics import METRICS
from retrainer.domain.validation import StatTestResult
from retrainer.exceptions import ValidationError
from retrainer.validation.bootstrap import paired_bootstrap
from retrainer.validation.delong import delong_test
from retrainer.validation.metrics import row_losses
from retrainer.validation.stats import cv_paired_t, run_test

MEAN_LOSS_METRICS = ("mae", "accuracy", "log_loss", "brier", "accuracy_within_20pct")


def loss_margin(metric: str, margin: float, champion_value: float, y: Any) -> float:
    """A margin in ``metric`` units as a margin on the mean row loss the metric is built on.

    Metrics that are a mean row loss (or 1 - one) keep it; RMSE: (rmse + m)² - rmse²
    (the champion's observed RMSE plugged in); R²: m · var(y), since R² = 1 - MSE / var(y).
    Raises ValidationError for metrics whose row loss is only a proxy (roc_auc, f1).

    >>> loss_margin("rmse", 1.0, 10.0, [0.0]), loss_margin("mae", 0.5, 3.0, [0.0])
    (21.0, 0.5)
    """
    if margin == 0.0:
        return 0.0
    if metric in MEAN_LOSS_METRICS:
        return margin
    if metric == "rmse":
        return (champion_value + margin) ** 2 - champion_value**2
    if metric == "r2":
        return margin * float(np.var(np.asarray(y, dtype="float64")))
    raise ValidationError(
        f"a non-inferiority margin on {metric} cannot be tested on row losses; "
        "use validation.test: bootstrap" + (" or delong" if metric == "roc_auc" else "")
    )


def tested_loss(model: ModelConfig) -> str:
    """The row loss a row-loss test compares: ``validation.test_loss`` or the metric's own."""
    chosen = model.validation.test_loss
    return METRICS[model.metric].row_loss if chosen == "metric" else chosen


def compare(
    model: ModelConfig,
    y: Any,
    candidate_prediction: Any,
    champion_prediction: Any,
    champion_value: float,
    *,
    margin: float,
    classes: Any = None,
    cv: dict[str, Any] | None = None,
) -> StatTestResult:
    """Run ``validation.test`` for the candidate against the champion (``margin``: 0 for
    superiority, the non-inferiority margin in metric units otherwise).

    Raises ValidationError when the configured test does not fit the data (DeLong on a
    multiclass model, cv_paired_t without CV scores, a margin that row losses cannot carry).
    """
    cfg = model.validation
    spec = METRICS[model.metric]
    if cfg.test in ROW_LOSS_TESTS or cfg.test == "none":
        shift = loss_margin(model.metric, margin, champion_value, y) if cfg.test != "none" else 0
        kind = tested_loss(model)
        return run_test(
            cfg.test,
            row_losses(kind, y, champion_prediction, classes),
            row_losses(kind, y, candidate_prediction, classes),
            cfg.alpha,
            shift,
        )
    if cfg.test == "bootstrap":
        boot = cfg.bootstrap
        return paired_bootstrap(model.metric, y, candidate_prediction, champion_prediction,
                                alpha=cfg.alpha, resamples=boot.resamples,
                                block_length=boot.block_length, seed=boot.seed,
                                margin=margin, classes=classes)
    if cfg.test == "delong":
        labels = list(classes) if classes is not None else sorted(set(np.asarray(y).tolist()))
        champion = np.asarray(champion_prediction, dtype="float64")
        candidate = np.asarray(candidate_prediction, dtype="float64")
        if len(labels) != 2:
            raise ValidationError(f"DeLong's test is for binary models; this one has "
                                  f"{len(labels)} classes (use bootstrap)")
        positive = (np.asarray(y) == labels[1]).astype("int64")
        champ = champion[:, 1] if champion.ndim == 2 else champion
        cand = candidate[:, 1] if candidate.ndim == 2 else candidate
        return delong_test(positive, champ, cand, cfg.alpha, margin)
    if cfg.test == "cv_paired_t":
        if not cv:
            raise ValidationError("cv_paired_t needs candidate and champion scores on CV folds")
        return cv_paired_t(cv["champion"], cv["candidate"], cfg.alpha,
                           greater_is_better=spec.greater_is_better,
                           test_train_ratio=cv.get("test_train_ratio"), margin=margin)
    raise ValidationError(f"unknown statistical test {cfg.test!r}")
