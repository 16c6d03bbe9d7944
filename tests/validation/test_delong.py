"""DeLong's test against the literature, SciPy and a brute-force reference.

References:
* Hanley & McNeil (1982), "The meaning and use of the area under a receiver operating
  characteristic (ROC) curve", Radiology 143:29-36, Table I: 109 CT images rated 1-5;
  published area 0.893 with standard error 0.032 (their exponential approximation).
* DeLong, DeLong & Clarke-Pearson (1988), Biometrics 44:837-845: the placement values
  V10/V01 and the covariance S10/m + S01/n, written out below with plain double loops.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from retrainer.exceptions import ValidationError
from retrainer.validation.delong import delong_covariance, delong_test

NORMAL = [33, 6, 6, 11, 2]  # Hanley & McNeil Table I: ratings 1..5 of the 58 normal images
ABNORMAL = [3, 2, 2, 11, 33]  # and of the 51 abnormal ones


def _hanley_mcneil_table() -> tuple[np.ndarray, np.ndarray]:
    ratings = np.arange(1, 6)
    y = np.r_[np.zeros(sum(NORMAL)), np.ones(sum(ABNORMAL))].astype(int)
    return y, np.r_[np.repeat(ratings, NORMAL), np.repeat(ratings, ABNORMAL)].astype(float)


def _brute_force(y: np.ndarray, *scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong et al. (1988) section 2, literally: psi(X, Y) = 1, 1/2, 0."""
    pos = [np.asarray(s)[y == 1] for s in scores]
    neg = [np.asarray(s)[y == 0] for s in scores]
    m, n = len(pos[0]), len(neg[0])

    def psi(x: float, z: float) -> float:
        return 1.0 if x > z else 0.5 if x == z else 0.0

    v10 = [[sum(psi(p[i], q[j]) for j in range(n)) / n for i in range(m)]
           for p, q in zip(pos, neg, strict=True)]
    v01 = [[sum(psi(p[i], q[j]) for i in range(m)) / m for j in range(n)]
           for p, q in zip(pos, neg, strict=True)]
    aucs = np.array([np.mean(v) for v in v10])
    k = len(scores)
    s10 = np.array([[sum((v10[a][i] - aucs[a]) * (v10[b][i] - aucs[b]) for i in range(m))
                     / (m - 1) for b in range(k)] for a in range(k)])
    s01 = np.array([[sum((v01[a][j] - aucs[a]) * (v01[b][j] - aucs[b]) for j in range(n))
                     / (n - 1) for b in range(k)] for a in range(k)])
    return aucs, s10 / m + s01 / n


def test_auc_of_the_hanley_mcneil_worked_example():
    y, ratings = _hanley_mcneil_table()
    aucs, cov = delong_covariance(y, ratings)
    assert aucs[0] == pytest.approx(0.893, abs=5e-4)  # as published
    # their SE (0.032) is an approximation; DeLong's exact nonparametric SE is close to it
    assert math.sqrt(cov[0, 0]) == pytest.approx(0.032, abs=0.003)


def test_auc_equals_scipy_mann_whitney_u():
    rng = np.random.default_rng(3)
    y = (rng.random(300) < 0.35).astype(int)
    score = np.round(rng.normal(y * 0.8, 1.0), 1)  # rounded: many ties
    aucs, _ = delong_covariance(y, score)
    u = sps.mannwhitneyu(score[y == 1], score[y == 0]).statistic
    assert aucs[0] == pytest.approx(u / ((y == 1).sum() * (y == 0).sum()), rel=1e-12)


@pytest.mark.parametrize("ties", [False, True])
def test_covariance_matches_the_1988_definitions(ties):
    rng = np.random.default_rng(5)
    y = (rng.random(120) < 0.4).astype(int)
    a = rng.normal(y * 1.0, 1.0)
    b = a * 0.6 + rng.normal(y * 0.5, 1.0)
    if ties:
        a, b = np.round(a), np.round(b)
    fast_aucs, fast_cov = delong_covariance(y, a, b)
    ref_aucs, ref_cov = _brute_force(y, a, b)
    np.testing.assert_allclose(fast_aucs, ref_aucs, rtol=1e-12)
    np.testing.assert_allclose(fast_cov, ref_cov, rtol=1e-10)


def test_the_test_statistic_is_the_auc_difference_over_its_standard_error():
    rng = np.random.default_rng(8)
    y = (rng.random(400) < 0.3).astype(int)
    champion = rng.normal(y * 0.7, 1.0)
    candidate = champion + rng.normal(y * 0.5, 0.8)
    result = delong_test(y, champion, candidate, alpha=0.05)
    aucs, cov = _brute_force(y, champion, candidate)
    se = math.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    z = (aucs[1] - aucs[0]) / se
    assert result.statistic == pytest.approx(z, rel=1e-9)
    assert result.p_value == pytest.approx(sps.norm.sf(z), rel=1e-9)
    assert result.ci_low == pytest.approx(aucs[1] - aucs[0] - sps.norm.ppf(0.95) * se)
    assert result.rejected_null and result.estimate > 0.02


def test_noise_is_rejected_about_alpha_of_the_time():
    """Two equally good scores (independent noise): the one-sided test fires ~5% of runs."""
    rng = np.random.default_rng(13)
    runs, fired = 400, 0
    for _ in range(runs):
        y = (rng.random(300) < 0.4).astype(int)
        signal = y * 1.0
        fired += delong_test(y, signal + rng.normal(0, 1, 300),
                             signal + rng.normal(0, 1, 300), 0.05).rejected_null
    assert 0.02 * runs <= fired <= 0.09 * runs


def test_non_inferiority_margin_shifts_the_null():
    rng = np.random.default_rng(21)
    y = (rng.random(2000) < 0.4).astype(int)
    champion = rng.normal(y * 1.2, 1.0)
    same = champion + rng.normal(0, 0.05, 2000)  # as good, not better
    assert not delong_test(y, champion, same, 0.05).rejected_null
    not_worse = delong_test(y, champion, same, 0.05, margin=0.01)
    assert not_worse.rejected_null and not_worse.margin == 0.01


def test_degenerate_inputs():
    with pytest.raises(ValidationError, match="binary"):
        delong_test([0, 1, 2, 1], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4], 0.05)
    with pytest.raises(ValidationError, match="two rows of each class"):
        delong_test([0, 1, 1, 1], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4], 0.05)
    same = delong_test([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4], 0.05)
    assert same.p_value == 1.0 and not same.rejected_null
