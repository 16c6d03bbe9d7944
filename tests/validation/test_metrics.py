"""compute_metrics and row_losses against scikit-learn and hand-worked numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from retrainer.domain.metrics import METRICS, Task, metrics_for
from retrainer.exceptions import ValidationError
from retrainer.validation.metrics import compute_metrics, row_losses


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(42)


def _proba(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    raw = rng.gamma(1.0, size=(n, k))
    return raw / raw.sum(axis=1, keepdims=True)


def test_regression_metrics_by_hand():
    result = compute_metrics(Task.REGRESSION, [1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 6.0])
    assert result["rmse"] == pytest.approx(1.0)  # sqrt(4 / 4)
    assert result["mae"] == pytest.approx(0.5)
    assert result["r2"] == pytest.approx(1 - 4 / 5)  # SSE 4, SST 5
    assert set(result) == set(metrics_for(Task.REGRESSION))


def test_binary_metrics_match_scikit_learn(rng):
    y = rng.integers(0, 2, 300)
    p1 = np.clip(0.3 * y + 0.7 * rng.random(300), 0, 1)
    proba = np.column_stack([1 - p1, p1])
    result = compute_metrics(Task.CLASSIFICATION, y, proba, classes=[0, 1])
    assert set(result) == set(metrics_for(Task.CLASSIFICATION))
    assert result["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p1))
    assert result["log_loss"] == pytest.approx(skm.log_loss(y, p1))
    assert result["brier"] == pytest.approx(np.mean((p1 - y) ** 2))
    assert result["accuracy"] == pytest.approx(np.mean((p1 > 0.5) == y))
    assert result["f1"] == pytest.approx(skm.f1_score(y, (p1 > 0.5).astype(int)))
    one_d = compute_metrics(Task.CLASSIFICATION, y, p1, classes=[0, 1])
    assert one_d == pytest.approx(result)


def test_multiclass_metrics_match_scikit_learn_and_hand_brier(rng):
    classes = ["high", "low", "mid"]
    y = rng.choice(classes, 400)
    proba = _proba(rng, 400, 3)
    result = compute_metrics(Task.CLASSIFICATION, y, proba, classes=classes)
    index = np.searchsorted(classes, y)
    onehot = np.eye(3)[index]
    predicted = np.asarray(classes)[proba.argmax(axis=1)]
    assert result["brier"] == pytest.approx(np.mean(((proba - onehot) ** 2).sum(axis=1)))
    assert result["roc_auc"] == pytest.approx(
        skm.roc_auc_score(y, proba, multi_class="ovr", labels=classes)
    )
    assert result["log_loss"] == pytest.approx(skm.log_loss(y, proba, labels=classes))
    assert result["f1"] == pytest.approx(skm.f1_score(y, predicted, average="macro"))
    assert result["accuracy"] == pytest.approx(skm.accuracy_score(y, predicted))


def test_class_order_follows_the_classes_argument(rng):
    y = rng.choice(["a", "b", "c"], 200)
    proba = _proba(rng, 200, 3)
    order = [2, 0, 1]
    permuted = compute_metrics(
        Task.CLASSIFICATION, y, proba[:, order], classes=[["a", "b", "c"][i] for i in order]
    )
    assert permuted == pytest.approx(compute_metrics(Task.CLASSIFICATION, y, proba))


@pytest.mark.parametrize("k", [2, 4])
def test_row_losses_average_to_their_metrics(rng, k):
    y = rng.integers(0, k, 250)
    proba = _proba(rng, 250, k)
    metrics = compute_metrics(Task.CLASSIFICATION, y, proba, classes=list(range(k)))
    losses = {
        kind: row_losses(kind, y, proba, list(range(k)))
        for kind in ("zero_one", "log_loss", "brier")
    }
    assert losses["zero_one"].mean() == pytest.approx(1 - metrics["accuracy"])
    assert losses["log_loss"].mean() == pytest.approx(metrics["log_loss"])
    assert losses["brier"].mean() == pytest.approx(metrics["brier"])

    truth, pred = rng.normal(size=100), rng.normal(size=100)
    reg = compute_metrics(Task.REGRESSION, truth, pred)
    assert row_losses("squared_error", truth, pred).mean() == pytest.approx(reg["rmse"] ** 2)
    assert row_losses("absolute_error", truth, pred).mean() == pytest.approx(reg["mae"])


def test_every_metric_names_a_known_row_loss(rng):
    y = rng.integers(0, 2, 50)
    proba = _proba(rng, 50, 2)
    for spec in METRICS.values():
        if spec.task is Task.CLASSIFICATION:
            assert len(row_losses(spec.row_loss, y, proba, [0, 1])) == 50
        else:
            assert len(row_losses(spec.row_loss, y.astype(float), proba[:, 1])) == 50


def test_log_loss_row_clips_like_scikit_learn():
    losses = row_losses("log_loss", [1, 0], [[1.0, 0.0], [1.0, 0.0]], [0, 1])
    assert losses[0] == pytest.approx(-np.log(np.finfo(float).eps))  # P(true)=0 is clipped
    assert losses[1] == pytest.approx(0.0, abs=1e-12)
    assert losses.mean() == pytest.approx(skm.log_loss([1, 0], [[1.0, 0.0], [1.0, 0.0]]))


def test_single_class_holdout_leaves_auc_undefined_but_the_rest_finite():
    result = compute_metrics(
        Task.CLASSIFICATION, [1, 1, 1], [[0.2, 0.8], [0.6, 0.4], [0.1, 0.9]], classes=[0, 1]
    )
    assert math.isnan(result["roc_auc"])
    assert all(math.isfinite(v) for k, v in result.items() if k != "roc_auc")


def test_multiclass_auc_averages_the_classes_present(rng):
    y = rng.choice([0, 1], 100)  # class 2 absent from this holdout
    proba = _proba(rng, 100, 3)
    expected = np.mean([skm.roc_auc_score(y == c, proba[:, c]) for c in (0, 1)])
    result = compute_metrics(Task.CLASSIFICATION, y, proba, classes=[0, 1, 2])
    assert result["roc_auc"] == pytest.approx(expected)


def test_a_label_the_model_never_saw_is_scored_at_probability_zero():
    y = ["a", "b", "z", "a"]
    proba = [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]]
    widened = [[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.6, 0.4, 0.0], [0.7, 0.3, 0.0]]
    result = compute_metrics(Task.CLASSIFICATION, y, proba, classes=["a", "b"])
    assert result == compute_metrics(Task.CLASSIFICATION, y, widened, classes=["a", "b", "z"])
    assert result["accuracy"] == 0.75  # the "z" row is wrong
    assert result["log_loss"] > 8  # and costs the clipped log of 0
    assert row_losses("zero_one", y, proba, ["a", "b"]).tolist() == [0.0, 0.0, 1.0, 0.0]


def test_bad_inputs_raise_validation_error():
    with pytest.raises(ValidationError, match="3 columns"):
        compute_metrics(Task.CLASSIFICATION, [0], [[0.5, 0.5]], classes=[0, 1, 2])
    with pytest.raises(ValidationError, match="2 targets but 1 predictions"):
        compute_metrics(Task.REGRESSION, [1.0, 2.0], [1.0])
    with pytest.raises(ValidationError, match="finite"):
        compute_metrics(Task.REGRESSION, [1.0, np.nan], [1.0, 2.0])
    with pytest.raises(ValidationError, match="unknown row loss"):
        row_losses("hinge", [0], [[0.5, 0.5]], [0, 1])


@pytest.mark.parametrize("k", [2, 3, 7, 10])
def test_numpy_metrics_equal_scikit_learns_on_random_holdouts(k):
    """The NumPy formulas against scikit-learn itself: small and large holdouts, tied
    scores, classes absent from the labels or never predicted."""
    rng = np.random.default_rng(k)
    for n in (2, 7, 30, 336, 2000):
        proba = _proba(rng, n, k)
        if n % 2:  # coarse scores: many ties
            proba = np.round(proba, 1) + 1e-3
            proba /= proba.sum(axis=1, keepdims=True)
        y = rng.integers(0, max(2, k - 1), n)  # the last class is never labelled
        labels = np.arange(k)
        predicted = proba.argmax(axis=1)
        result = compute_metrics(Task.CLASSIFICATION, y, proba, classes=list(labels))
        present = np.unique(y)
        expected = {
            "accuracy": skm.accuracy_score(y, predicted),
            "log_loss": skm.log_loss(y, proba, labels=labels),
            "brier": skm.brier_score_loss(y, proba, labels=labels),
            "f1": skm.f1_score(y, predicted, average="binary", zero_division=0.0) if k == 2
            else skm.f1_score(y, predicted, average="macro", labels=labels, zero_division=0.0),
            "roc_auc": math.nan if len(present) < 2 else skm.roc_auc_score(y, proba[:, 1])
            if k == 2 else np.mean([skm.roc_auc_score(y == c, proba[:, c]) for c in present]),
        }
        assert result == pytest.approx(expected, rel=1e-12, abs=1e-12, nan_ok=True), (k, n)

    for n in (2, 5, 168):
        truth = rng.gamma(2.0, 30.0, n)
        for guess in (truth + rng.normal(0, 10, n), np.full(n, truth.mean()), truth.copy()):
            result = compute_metrics(Task.REGRESSION, truth, guess)
            assert result["rmse"] == pytest.approx(skm.root_mean_squared_error(truth, guess),
                                                   rel=1e-12, abs=1e-12)
            assert result["mae"] == pytest.approx(skm.mean_absolute_error(truth, guess),
                                                  rel=1e-12, abs=1e-12)
            assert result["r2"] == pytest.approx(skm.r2_score(truth, guess), rel=1e-12,
                                                 abs=1e-12)
    flat = compute_metrics(Task.REGRESSION, [3.0, 3.0, 3.0], [3.0, 3.0, 4.0])
    assert flat["r2"] == skm.r2_score([3.0, 3.0, 3.0], [3.0, 3.0, 4.0]) == 0.0
