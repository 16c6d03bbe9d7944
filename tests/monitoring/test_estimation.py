"""Label-free estimates track the realised metrics under covariate shift."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from retrainer.exceptions import DataError
from retrainer.monitoring.estimation import (
    ConfidenceEstimator,
    accuracy,
    estimate_chunks,
    expected_metrics,
    fit_estimator,
    reference_estimator,
    roc_auc,
)


def _population(rng: np.random.Generator, n: int, centre: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x ~ N(centre, 1); P(y = 1 | x) = sigmoid(2x); the model is miscalibrated (it
    reports sigmoid(3x)), so the estimator must learn the calibration."""
    x = rng.normal(centre, 1.0, n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-2 * x))).astype(float)
    proba = 1 / (1 + np.exp(-3 * x))
    return y, proba, (proba > 0.5).astype(float)


def test_estimates_follow_the_realised_metrics_under_covariate_shift() -> None:
    rng = np.random.default_rng(40)
    reference = _population(rng, 50_000, 0.0)
    estimator = fit_estimator(*reference)
    for centre in (0.0, 0.7, 1.4):  # up to 1.4 sd: most rows still inside the reference range
        y, proba, predicted = _population(rng, 40_000, centre)
        estimated = estimator.estimate(proba, predicted)
        assert estimated["accuracy"] == pytest.approx(accuracy(y, predicted), abs=0.012)
        assert estimated["roc_auc"] == pytest.approx(roc_auc(y, proba), abs=0.012)
        assert estimated["accuracy_std"] < 0.003


def _three_classes(rng: np.random.Generator, n: int, centre: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Two features around ``centre``; the true class probabilities are a softmax of
    (x1, x2, 0) and the model, overconfident, reports the softmax of twice that."""
    x = rng.normal(centre, 1.0, (n, 2))
    logits = np.column_stack([x, np.zeros(n)])
    truth = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array(["a", "b", "c"])[(rng.uniform(size=(n, 1)) > truth.cumsum(axis=1)).sum(axis=1)]
    reported = np.exp(2 * logits) / np.exp(2 * logits).sum(axis=1, keepdims=True)
    return y, reported


def test_a_multiclass_models_accuracy_is_estimated_from_its_calibrated_confidence() -> None:
    rng = np.random.default_rng(41)
    estimator = reference_estimator(*_three_classes(rng, 50_000, 0.0), ["a", "b", "c"])
    assert estimator is not None and estimator.kind == "confidence"
    restored = ConfidenceEstimator.from_dict(estimator.to_dict())
    for centre in (0.0, 0.8, -0.8):  # covariate shift: the classes' shares move
        y, proba = _three_classes(rng, 40_000, centre)
        realised = accuracy(y, np.array(["a", "b", "c"])[proba.argmax(axis=1)])
        estimated = expected_metrics(restored, proba)
        assert set(estimated) == {"accuracy", "accuracy_std"}
        assert estimated["accuracy"] == pytest.approx(realised, abs=0.012)
        # overconfident: the raw confidence would overstate the accuracy
        assert proba.max(axis=1).mean() > realised + 0.05
    stored = estimator.to_dict()
    del stored["kind"]  # profiles stored before multiclass estimates: binary
    assert ConfidenceEstimator.from_dict(stored).kind == "binary"
    always_right = np.eye(3)[np.arange(30) % 3]
    assert reference_estimator(np.array(list("abc") * 10), always_right, list("abc")) is None


def test_roc_auc_matches_scikit_learn_with_ties() -> None:
    rng = np.random.default_rng(41)
    for _ in range(10):
        y = rng.integers(0, 2, 500)
        score = np.round(rng.uniform(size=500), 1)  # many ties
        assert roc_auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert math.isnan(roc_auc(np.ones(5), np.arange(5.0)))


def test_chunks_with_partial_labels_and_alerts() -> None:
    rng = np.random.default_rng(42)
    reference = _population(rng, 20_000, 0.0)
    estimator = fit_estimator(*reference)
    y, proba, predicted = _population(rng, 10_000, 0.0)
    _, proba2, predicted2 = _population(rng, 5_000, 0.0)
    proba2 = np.full_like(proba2, 0.5)  # the model turns unsure: accuracy must drop
    labels = np.concatenate([y, np.full(5_000, np.nan)])
    chunks = estimate_chunks(estimator, reference, np.concatenate([proba, proba2]),
                             np.concatenate([predicted, predicted2]), labels, chunk_size=2500)
    assert [(c["start"], c["end"]) for c in chunks] == [(i, i + 2500) for i in range(0, 15_000,
                                                                                       2500)]
    assert all(c["realised"] is not None for c in chunks[:4])
    assert all(c["realised"] is None for c in chunks[4:])
    assert chunks[0]["alerts"] == [] and "accuracy" in chunks[-1]["alerts"]
    lower = chunks[0]["thresholds"]["accuracy"]["lower"]
    assert 0.5 < lower < estimator.reference["accuracy"]


def test_a_single_class_reference_cannot_calibrate() -> None:
    with pytest.raises(DataError, match="both classes"):
        fit_estimator(np.ones(10), np.linspace(0, 1, 10), np.ones(10))
