"""Paired tests against SciPy and an independent hand-worked Diebold-Mariano computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import signal
from scipy import stats as sps

from retrainer.exceptions import ValidationError
from retrainer.validation.stats import diebold_mariano, paired_t, run_test, wilcoxon


def _losses(seed: int, n: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    champion = rng.gamma(2.0, 1.0, n)
    candidate = champion - shift + rng.normal(0, 1.0, n)
    return champion, candidate


def _ar1(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    return signal.lfilter([1.0], [1.0, -phi], rng.normal(size=n))


def _dm_by_hand(d: list[float], lags: int, h: int) -> tuple[float, float]:
    """Textbook DM with Bartlett-weighted autocovariances, written with plain loops."""
    n = len(d)
    mean = sum(d) / n
    gamma = []
    for k in range(lags + 1):
        gamma.append(sum((d[t] - mean) * (d[t - k] - mean) for t in range(k, n)) / n)
    lrv = gamma[0] + 2 * sum((1 - k / (lags + 1)) * gamma[k] for k in range(1, lags + 1))
    dm = mean / math.sqrt(lrv / n)
    hln = dm * math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    return hln, float(sps.t.sf(hln, df=n - 1))


def test_paired_t_agrees_with_scipy():
    champion, candidate = _losses(1, 120, 0.2)
    ours = paired_t(champion, candidate, alpha=0.05)
    ref = sps.ttest_rel(champion, candidate, alternative="greater")
    assert ours.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    assert ours.rejected_null == (ref.pvalue < 0.05)
    assert ours.mean_loss_difference == pytest.approx(np.mean(champion - candidate))
    assert ours.n == 120 and ours.name == "paired_t"


def test_wilcoxon_agrees_with_scipy():
    champion, candidate = _losses(2, 80, 0.3)
    ours = wilcoxon(champion, candidate, alpha=0.05)
    ref = sps.wilcoxon(champion - candidate, alternative="greater")
    assert ours.statistic == pytest.approx(ref.statistic)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-10)


@pytest.mark.parametrize(("lags", "horizon"), [(None, 1), (0, 1), (3, 1), (5, 3)])
def test_diebold_mariano_matches_a_hand_worked_computation(lags, horizon):
    rng = np.random.default_rng(7)
    d = 0.1 + _ar1(rng, 150, 0.5)
    expected_lags = math.floor(150 ** (1 / 3)) if lags is None else lags
    statistic, p_value = _dm_by_hand(d.tolist(), expected_lags, horizon)
    ours = diebold_mariano(d, np.zeros_like(d), 0.05, horizon=horizon, max_lag=lags)
    assert ours.statistic == pytest.approx(statistic, rel=1e-10)
    assert ours.p_value == pytest.approx(p_value, rel=1e-9)


def test_diebold_mariano_with_no_lags_equals_the_paired_t_test_on_iid_losses():
    champion, candidate = _losses(3, 200, 0.1)
    dm = diebold_mariano(champion, candidate, 0.05, max_lag=0)
    t = paired_t(champion, candidate, 0.05)
    assert dm.statistic == pytest.approx(t.statistic, rel=1e-10)
    assert dm.p_value == pytest.approx(t.p_value, rel=1e-9)
    default = diebold_mariano(champion, candidate, 0.05)  # a few lags: still close when iid
    assert default.p_value == pytest.approx(t.p_value, abs=0.05)


def test_autocorrelated_losses_fool_the_t_test_more_than_diebold_mariano():
    """Under H0 (no real difference) with AR(1) losses, count false 'improvements'."""
    rng = np.random.default_rng(11)
    runs, n = 300, 400
    t_rejections = dm_rejections = 0
    for _ in range(runs):
        d = _ar1(rng, n, 0.8)
        zeros = np.zeros(n)
        t_rejections += paired_t(d, zeros, 0.05).rejected_null
        dm_rejections += diebold_mariano(d, zeros, 0.05).rejected_null
    assert t_rejections / runs > 0.2  # nominal 5%: the t-test overstates significance
    assert dm_rejections < 0.5 * t_rejections


@pytest.mark.parametrize("name", ["diebold_mariano", "paired_t", "wilcoxon"])
def test_degenerate_inputs_never_give_nan(name):
    same = run_test(name, [1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0], 0.05)
    assert same.p_value == 1.0 and not same.rejected_null
    short = run_test(name, [5.0, 5.0], [1.0, 1.0], 0.05)
    assert short.p_value == 1.0 and not short.rejected_null and short.n == 2
    constant_gain = run_test(name, [3.0] * 10, [2.0] * 10, 0.05)
    assert constant_gain.p_value == 0.0 and constant_gain.rejected_null
    assert constant_gain.statistic is None
    constant_loss = run_test(name, [2.0] * 10, [3.0] * 10, 0.05)
    assert constant_loss.p_value == 1.0 and not constant_loss.rejected_null


def test_a_worse_candidate_is_never_significant():
    champion, candidate = _losses(5, 300, -0.5)  # candidate loses 0.5 per row
    for name in ("diebold_mariano", "paired_t", "wilcoxon"):
        result = run_test(name, champion, candidate, 0.05)
        assert result.p_value > 0.5 and not result.rejected_null


def test_run_test_none_and_errors():
    none = run_test("none", [1.0, 2.0, 3.0], [0.5, 1.0, 2.0], 0.05)
    assert none.p_value is None and none.statistic is None and not none.rejected_null
    assert none.mean_loss_difference == pytest.approx(0.8333333333)
    with pytest.raises(ValidationError, match="unknown statistical test"):
        run_test("t_test", [1.0], [1.0], 0.05)
    with pytest.raises(ValidationError, match="equal lengths"):
        run_test("paired_t", [1.0, 2.0], [1.0], 0.05)
    with pytest.raises(ValidationError, match="finite"):
        run_test("paired_t", [1.0, np.nan, 2.0], [1.0, 1.0, 1.0], 0.05)


# --- CV-fold paired t-test and non-inferiority shifts ----------------------------------------


def test_cv_paired_t_without_correction_is_scipys_ttest_rel():
    from retrainer.validation.stats import cv_paired_t

    champion = [24.1, 22.8, 25.6, 21.9, 23.3]  # RMSE per fold: lower is better
    candidate = [23.0, 22.1, 24.2, 21.5, 22.0]
    ours = cv_paired_t(champion, candidate, 0.05, greater_is_better=False)
    ref = sps.ttest_rel(champion, candidate, alternative="greater")
    assert ours.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    assert ours.estimate == pytest.approx(np.mean(np.subtract(champion, candidate)))
    auc = cv_paired_t([0.80, 0.82, 0.79], [0.83, 0.85, 0.80], 0.05, greater_is_better=True)
    ref = sps.ttest_rel([0.83, 0.85, 0.80], [0.80, 0.82, 0.79], alternative="greater")
    assert auc.p_value == pytest.approx(ref.pvalue, rel=1e-10)


def test_cv_paired_t_nadeau_bengio_correction_by_hand():
    """Nadeau & Bengio (2003), eq. for the corrected resampled t: var * (1/k + n2/n1)."""
    from retrainer.validation.stats import cv_paired_t

    champion, candidate = [24.1, 22.8, 25.6, 21.9], [23.0, 22.1, 24.2, 21.5]
    d = np.subtract(champion, candidate)
    k, ratio = len(d), 0.5
    t = d.mean() / math.sqrt((1 / k + ratio) * d.var(ddof=1))
    ours = cv_paired_t(champion, candidate, 0.05, greater_is_better=False,
                       test_train_ratio=ratio)
    assert ours.statistic == pytest.approx(t, rel=1e-12)
    assert ours.p_value == pytest.approx(sps.t.sf(t, k - 1), rel=1e-10)
    plain = cv_paired_t(champion, candidate, 0.05, greater_is_better=False)
    assert ours.p_value > plain.p_value  # the correction only ever widens
    with pytest.raises(ValidationError, match=">= 2 folds"):
        cv_paired_t([1.0], [1.0], 0.05, greater_is_better=False)


@pytest.mark.parametrize("name", ["diebold_mariano", "paired_t", "wilcoxon"])
def test_a_shift_tests_non_inferiority(name):
    champion, candidate = _losses(9, 400, 0.0)  # equally good
    assert not run_test(name, champion, candidate, 0.05).rejected_null
    shifted = run_test(name, champion, candidate, 0.05, shift=0.5)
    assert shifted.rejected_null and shifted.margin == 0.5
    assert shifted.mean_loss_difference == pytest.approx(np.mean(champion - candidate))
    ref = sps.ttest_rel(champion + 0.5, candidate, alternative="greater")
    if name == "paired_t":
        assert shifted.p_value == pytest.approx(ref.pvalue, rel=1e-10)
