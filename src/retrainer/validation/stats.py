"""Paired one-sided tests on per-row losses: is the candidate's loss lower than the champion's?

Every test works on d = champion_loss - candidate_loss + shift; H0: E[d] <= 0, H1: E[d] > 0.
With ``shift = 0`` that is "the candidate is better"; a non-inferiority margin δ in loss
units is ``shift = δ`` (H0: the candidate is worse by at least δ). ``rejected_null`` is True
when H0 is rejected at ``alpha``. Degenerate
inputs (fewer than 3 rows, all differences zero) give p_value 1.0 and never NaN; a constant
positive difference gives p_value 0.0 with ``statistic`` None (the statistic is infinite).

Diebold-Mariano is the default because hourly losses are autocorrelated: its Newey-West
long-run variance widens the standard error where a plain paired t-test would overstate
significance.

>>> champion = [3.0, 2.5, 4.0, 3.5, 3.2, 2.9]
>>> candidate = [2.0, 2.4, 3.1, 3.0, 2.2, 2.8]
>>> result = run_test("diebold_mariano", champion, candidate, alpha=0.05)
>>> result.rejected_null, round(result.mean_loss_difference, 3)
(True, 0.6)
>>> run_test("paired_t", [1.0, 2.0], [1.0, 2.0], alpha=0.05).p_value
1.0
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats as sps

from retrainer.domain.validation import StatTestResult
from retrainer.exceptions import ValidationError

TESTS = ("diebold_mariano", "paired_t", "wilcoxon", "none")
ROW_LOSS_TESTS = ("diebold_mariano", "paired_t", "wilcoxon")
MIN_ROWS = 3


def _differences(champion_loss: Any, candidate_loss: Any, shift: float = 0.0) -> np.ndarray:
    champion = np.asarray(champion_loss, dtype="float64").reshape(-1)
    candidate = np.asarray(candidate_loss, dtype="float64").reshape(-1)
    if champion.shape != candidate.shape:
        raise ValidationError(
            f"paired tests need equal lengths: {len(champion)} champion vs "
            f"{len(candidate)} candidate losses"
        )
    d = champion - candidate + shift
    if not np.isfinite(d).all():
        raise ValidationError("losses must be finite")
    return d


def _result(
    name: str, d: np.ndarray, statistic: float | None, p_value: float, alpha: float,
    shift: float = 0.0,
) -> StatTestResult:
    p = float(min(max(p_value, 0.0), 1.0))
    stat = None if statistic is None or not math.isfinite(statistic) else float(statistic)
    mean = float(d.mean()) - shift if len(d) else None
    return StatTestResult(
        name=name,
        statistic=stat,
        p_value=p,
        alpha=alpha,
        rejected_null=p < alpha,
        n=len(d),
        mean_loss_difference=mean,
        margin=shift or None,
        estimate=mean,
    )


def _degenerate(name: str, d: np.ndarray, alpha: float, shift: float = 0.0
                ) -> StatTestResult | None:
    """The result for inputs where the statistic is undefined, else None."""
    if len(d) < MIN_ROWS or not d.any():
        return _result(name, d, None, 1.0, alpha, shift)
    if np.ptp(d) == 0.0:  # constant difference: zero variance
        return _result(name, d, None, 0.0 if d[0] > 0 else 1.0, alpha, shift)
    return None


def paired_t(champion_loss: Any, candidate_loss: Any, alpha: float, shift: float = 0.0
             ) -> StatTestResult:
    """One-sided paired t-test, as ``scipy.stats.ttest_rel(..., alternative="greater")``."""
    d = _differences(champion_loss, candidate_loss, shift)
    if (early := _degenerate("paired_t", d, alpha, shift)) is not None:
        return early
    res = sps.ttest_rel(d, np.zeros_like(d), alternative="greater")
    return _result("paired_t", d, float(res.statistic), float(res.pvalue), alpha, shift)


def wilcoxon(champion_loss: Any, candidate_loss: Any, alpha: float, shift: float = 0.0
             ) -> StatTestResult:
    """One-sided Wilcoxon signed-rank test (``scipy.stats.wilcoxon``, zero differences dropped)."""
    d = _differences(champion_loss, candidate_loss, shift)
    if (early := _degenerate("wilcoxon", d, alpha, shift)) is not None:
        return early
    res = sps.wilcoxon(d, alternative="greater")
    return _result("wilcoxon", d, float(res.statistic), float(res.pvalue), alpha, shift)


def newey_west_variance(d: np.ndarray, max_lag: int) -> float:
    """Long-run variance of ``d`` with Bartlett weights 1 - k/(max_lag+1) (never negative)."""
    centred = d - d.mean()
    n = len(d)
    variance = float(centred @ centred) / n
    for k in range(1, min(max_lag, n - 1) + 1):
        gamma = float(centred[k:] @ centred[:-k]) / n
        variance += 2.0 * (1.0 - k / (max_lag + 1)) * gamma
    return variance


def diebold_mariano(
    champion_loss: Any,
    candidate_loss: Any,
    alpha: float,
    horizon: int = 1,
    max_lag: int | None = None,
    shift: float = 0.0,
) -> StatTestResult:
    """Diebold-Mariano test with a Newey-West HAC variance and the HLN small-sample correction.

    DM = mean(d) / sqrt(LRV / n), LRV the Bartlett-weighted long-run variance with
    ``max_lag`` lags (default floor(n^(1/3))); the Harvey-Leybourne-Newbold statistic is
    DM * sqrt((n + 1 - 2h + h(h - 1)/n) / n), compared with Student's t on n - 1 d.o.f.
    With ``max_lag=0`` and ``horizon=1`` it equals the paired t statistic exactly.
    """
    if horizon < 1:
        raise ValidationError(f"horizon must be >= 1, got {horizon}")
    d = _differences(champion_loss, candidate_loss, shift)
    if (early := _degenerate("diebold_mariano", d, alpha, shift)) is not None:
        return early
    n = len(d)
    lags = math.floor(n ** (1.0 / 3.0)) if max_lag is None else max_lag
    if lags < 0:
        raise ValidationError(f"max_lag must be >= 0, got {max_lag}")
    variance = newey_west_variance(d, lags)
    if variance <= 0.0:
        return _result("diebold_mariano", d, None, 0.0 if d.mean() > 0 else 1.0, alpha, shift)
    dm = d.mean() / math.sqrt(variance / n)
    correction = math.sqrt((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n)
    statistic = dm * correction
    p = float(sps.t.sf(statistic, n - 1))
    return _result("diebold_mariano", d, statistic, p, alpha, shift)


def cv_paired_t(
    champion_scores: Any,
    candidate_scores: Any,
    alpha: float,
    *,
    greater_is_better: bool,
    test_train_ratio: float | None = None,
    margin: float = 0.0,
) -> StatTestResult:
    """One-sided paired t-test over CV folds of the candidate's improvement (metric units).

    d_k = improvement on fold k (+ ``margin``); t = mean(d) / sqrt(c · var(d)) on k - 1 d.o.f.
    with c = 1/k, which is ``scipy.stats.ttest_rel``. Folds share training rows, so that
    variance is too small; with ``test_train_ratio`` (n_test / n_train) the Nadeau & Bengio
    (2003, "Inference for the generalization error", Machine Learning 52) correction
    c = 1/k + n_test/n_train widens it. Needs at least 2 folds.
    """
    champion = np.asarray(champion_scores, dtype="float64").reshape(-1)
    candidate = np.asarray(candidate_scores, dtype="float64").reshape(-1)
    if champion.shape != candidate.shape or len(champion) < 2:
        raise ValidationError(
            f"cv_paired_t needs the same >= 2 folds for both ({len(champion)} vs {len(candidate)})"
        )
    improvement = candidate - champion if greater_is_better else champion - candidate
    d = improvement + margin
    if not np.isfinite(d).all():
        raise ValidationError("a CV fold score is undefined (NaN)")
    k = len(d)
    details = {"champion_folds": champion.tolist(), "candidate_folds": candidate.tolist(),
               "correction": "nadeau_bengio" if test_train_ratio else None,
               "test_train_ratio": test_train_ratio}
    factor = 1.0 / k + (test_train_ratio or 0.0)
    variance = float(np.var(d, ddof=1)) * factor
    estimate = float(improvement.mean())
    if variance <= 0.0:
        p = 0.0 if d.mean() > 0 else 1.0
        return StatTestResult("cv_paired_t", None, p, alpha, p < alpha, k, None,
                              margin=margin or None, estimate=estimate, details=details)
    se = math.sqrt(variance)
    t = float(d.mean() / se)
    p = float(sps.t.sf(t, k - 1))
    half = float(sps.t.ppf(1 - alpha, k - 1)) * se
    return StatTestResult("cv_paired_t", t, p, alpha, p < alpha, k, None, margin=margin or None,
                          estimate=estimate, ci_low=estimate - half, ci_high=estimate + half,
                          confidence=1 - alpha, details=details)


def run_test(name: str, champion_loss: Any, candidate_loss: Any, alpha: float,
             shift: float = 0.0) -> StatTestResult:
    """Run the row-loss test called ``name`` (``shift``: see the module docstring).
    ``"none"`` runs nothing: p_value None, rejected_null False (the gate does not consult
    it). Raises ValidationError for an unknown name.
    """
    if name == "diebold_mariano":
        return diebold_mariano(champion_loss, candidate_loss, alpha, shift=shift)
    if name == "paired_t":
        return paired_t(champion_loss, candidate_loss, alpha, shift)
    if name == "wilcoxon":
        return wilcoxon(champion_loss, candidate_loss, alpha, shift)
    if name == "none":
        d = _differences(champion_loss, candidate_loss)
        mean = float(d.mean()) if len(d) else None
        return StatTestResult("none", None, None, alpha, False, len(d), mean)
    raise ValidationError(f"unknown statistical test {name!r}; use one of {', '.join(TESTS)}")
