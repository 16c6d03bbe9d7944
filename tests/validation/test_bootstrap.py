"""The paired block bootstrap against SciPy's bootstrap and direct metric computation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal
from scipy import stats as sps

from retrainer.domain.metrics import METRICS, Task
from retrainer.validation.bootstrap import (
    _Scorer,
    block_indices,
    default_block_length,
    metric_intervals,
    paired_bootstrap,
)
from retrainer.validation.metrics import compute_metrics


def _pair(seed: int, n: int, candidate_noise: float, champion_noise: float = 10.0):
    rng = np.random.default_rng(seed)
    y = rng.normal(100, 30, n)
    return y, y + rng.normal(0, candidate_noise, n), y + rng.normal(0, champion_noise, n)


def test_iid_interval_agrees_with_scipy_paired_bootstrap():
    y, candidate, champion = _pair(1, 400, 9.0)

    def improvement(yy, cand, champ, axis=-1):
        rmse = lambda p: np.sqrt(np.mean((yy - p) ** 2, axis=axis))  # noqa: E731
        return rmse(champ) - rmse(cand)

    ref = sps.bootstrap((y, candidate, champion), improvement, paired=True, vectorized=True,
                        n_resamples=20_000, confidence_level=0.90, method="percentile",
                        random_state=np.random.default_rng(0))
    ours = paired_bootstrap("rmse", y, candidate, champion, alpha=0.05, resamples=20_000,
                            block_length=1, seed=0)
    width = ref.confidence_interval.high - ref.confidence_interval.low
    assert ours.ci_low == pytest.approx(ref.confidence_interval.low, abs=0.03 * width)
    assert ours.ci_high == pytest.approx(ref.confidence_interval.high, abs=0.03 * width)
    assert ours.estimate == pytest.approx(improvement(y, candidate, champion))


def test_block_indices_are_runs_of_consecutive_rows():
    rows = block_indices(100, 50, 7, np.random.default_rng(0))
    assert rows.shape == (50, 100) and rows.min() >= 0 and rows.max() < 100
    steps = np.diff(rows, axis=1)
    block_starts = np.arange(7, 100, 7) - 1  # positions where a new block may begin
    inside = np.ones(99, dtype=bool)
    inside[block_starts] = False
    assert (steps[:, inside] == 1).all()
    assert default_block_length(1728) == 12 and default_block_length(1) == 1


@pytest.mark.parametrize("metric", [m for m, s in METRICS.items() if s.task is Task.REGRESSION])
def test_vectorised_regression_scores_equal_compute_metrics(metric):
    y, candidate, _ = _pair(2, 60, 8.0)
    rows = np.random.default_rng(1).integers(0, 60, (4, 60))
    values = _Scorer(metric, y, candidate, None)(rows)
    for r, v in zip(rows, values, strict=True):
        assert v == pytest.approx(compute_metrics(Task.REGRESSION, y[r], candidate[r])[metric])


@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("metric", [m for m, s in METRICS.items()
                                    if s.task is Task.CLASSIFICATION])
def test_vectorised_classification_scores_equal_compute_metrics(metric, k):
    rng = np.random.default_rng(4)
    labels = rng.integers(0, k, 120)
    proba = rng.dirichlet(np.ones(k), 120)
    proba[np.arange(120), labels] += 0.5
    proba /= proba.sum(axis=1, keepdims=True)
    classes = list(range(k))
    rows = rng.integers(0, 120, (4, 120))
    values = _Scorer(metric, labels, proba, classes)(rows)
    for r, v in zip(rows, values, strict=True):
        expected = compute_metrics(Task.CLASSIFICATION, labels[r], proba[r], classes)[metric]
        assert v == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("metric", ["roc_auc", "f1"])
def test_multiclass_resamples_missing_classes_score_like_compute_metrics(metric):
    rng = np.random.default_rng(5)
    labels = np.array([0] * 30 + [1] * 30 + [2] * 3 + [3] * 2)
    proba = rng.dirichlet(np.ones(4), len(labels))
    proba[np.arange(len(labels)), labels] += 0.3
    proba /= proba.sum(axis=1, keepdims=True)
    classes = [0, 1, 2, 3]
    rows = np.vstack([
        rng.integers(0, 60, (3, 65)),  # classes 0 and 1 only
        np.r_[np.arange(60), 60, 61, 62, 63, 64][None, :],  # every class
        np.zeros((1, 65), dtype=int),  # class 0 only: AUC undefined
    ])
    values = _Scorer(metric, labels, proba, classes)(rows)
    for r, v in zip(rows, values, strict=True):
        expected = compute_metrics(Task.CLASSIFICATION, labels[r], proba[r], classes)[metric]
        assert v == pytest.approx(expected, rel=1e-9, nan_ok=True)
    assert (metric == "roc_auc") == bool(np.isnan(values[-1]))


def test_blocks_widen_the_interval_for_autocorrelated_errors():
    rng = np.random.default_rng(6)
    n = 1500
    y = rng.normal(0, 1, n)
    ar = signal.lfilter([1.0], [1.0, -0.95], rng.normal(size=n))
    candidate = y + ar / ar.std()  # slow error swings: losses come in long runs
    champion = y + rng.normal(size=n)
    iid = paired_bootstrap("mae", y, candidate, champion, alpha=0.05, block_length=1)
    blocks = paired_bootstrap("mae", y, candidate, champion, alpha=0.05, block_length=50)
    assert (blocks.ci_high - blocks.ci_low) > 1.3 * (iid.ci_high - iid.ci_low)


def test_noise_is_rejected_and_a_clear_improvement_passes():
    runs, fired = 150, 0
    for seed in range(runs):
        y, candidate, champion = _pair(seed, 300, 10.0)
        fired += paired_bootstrap("rmse", y, candidate, champion, alpha=0.05,
                                  resamples=300, seed=seed).rejected_null
    assert fired <= 0.1 * runs  # nominal 5%; percentile bootstraps run a little liberal
    y, candidate, champion = _pair(0, 300, 7.0)
    better = paired_bootstrap("rmse", y, candidate, champion, alpha=0.05)
    assert better.rejected_null and better.ci_low > 0 and better.p_value < 0.01


def test_non_inferiority_margin_and_metric_intervals():
    y, candidate, champion = _pair(3, 800, 10.0, 10.0)
    superior = paired_bootstrap("mae", y, candidate, champion, alpha=0.05)
    not_worse = paired_bootstrap("mae", y, candidate, champion, alpha=0.05, margin=1.0)
    assert not superior.rejected_null and not_worse.rejected_null
    assert not_worse.margin == 1.0 and not_worse.ci_low > -1.0
    intervals = metric_intervals(Task.REGRESSION, y, candidate)
    rmse = compute_metrics(Task.REGRESSION, y, candidate)["rmse"]
    assert intervals["rmse"][0] < rmse < intervals["rmse"][1]
    assert set(intervals) == {"rmse", "mae", "r2", "accuracy_within_20pct"}
