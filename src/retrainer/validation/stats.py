"""Paired one-sided tests on per-row losses: is the candidate's loss lower than the champion's?

Every test works on d = champion_loss - candidate_loss; H0: E[d] <= 0, H1: E[d] > 0 (the
candidate is better). ``rejected_null`` is True when H0 is rejected at ``alpha``. Degenerate
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
MIN_ROWS = 3


def _differences(champion_loss: Any, candidate_loss: Any) -> np.ndarray:
    champion = np.asarray(champion_loss, dtype="float64").reshape(-1)
    candidate = np.asarray(candidate_loss, dtype="float64").reshape(-1)
    if champion.shape != candidate.shape:
        raise ValidationError(
            f"paired tests need equal lengths: {len(champion)} champion vs "
            f"{len(candidate)} candidate losses"
        )
    d = champion - candidate
    if not np.isfinite(d).all():
        raise ValidationError("losses must be finite")
    return d


def _result(
    name: str, d: np.ndarray, statistic: float | None, p_value: float, alpha: float
) -> StatTestResult:
    p = float(min(max(p_value, 0.0), 1.0))
    stat = None if statistic is None or not math.isfinite(statistic) else float(statistic)
    return StatTestResult(
        name=name,
        statistic=stat,
        p_value=p,
        alpha=alpha,
        rejected_null=p < alpha,
        n=len(d),
        mean_loss_difference=float(d.mean()) if len(d) else None,
    )


def _degenerate(name: str, d: np.ndarray, alpha: float) -> StatTestResult | None:
    """The result for inputs where the statistic is undefined, else None."""
    if len(d) < MIN_ROWS or not d.any():
        return _result(name, d, None, 1.0, alpha)
    if np.ptp(d) == 0.0:  # constant difference: zero variance
        return _result(name, d, None, 0.0 if d[0] > 0 else 1.0, alpha)
    return None


def paired_t(champion_loss: Any, candidate_loss: Any, alpha: float) -> StatTestResult:
    """One-sided paired t-test, as ``scipy.stats.ttest_rel(..., alternative="greater")``."""
    d = _differences(champion_loss, candidate_loss)
    if (early := _degenerate("paired_t", d, alpha)) is not None:
        return early
    res = sps.ttest_rel(d, np.zeros_like(d), alternative="greater")
    return _result("paired_t", d, float(res.statistic), float(res.pvalue), alpha)


def wilcoxon(champion_loss: Any, candidate_loss: Any, alpha: float) -> StatTestResult:
    """One-sided Wilcoxon signed-rank test (``scipy.stats.wilcoxon``, zero differences dropped)."""
    d = _differences(champion_loss, candidate_loss)
    if (early := _degenerate("wilcoxon", d, alpha)) is not None:
        return early
    res = sps.wilcoxon(d, alternative="greater")
    return _result("wilcoxon", d, float(res.statistic), float(res.pvalue), alpha)


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
) -> StatTestResult:
    """Diebold-Mariano test with a Newey-West HAC variance and the HLN small-sample correction.

    DM = mean(d) / sqrt(LRV / n), LRV the Bartlett-weighted long-run variance with
    ``max_lag`` lags (default floor(n^(1/3))); the Harvey-Leybourne-Newbold statistic is
    DM * sqrt((n + 1 - 2h + h(h - 1)/n) / n), compared with Student's t on n - 1 d.o.f.
    With ``max_lag=0`` and ``horizon=1`` it equals the paired t statistic exactly.
    """
    if horizon < 1:
        raise ValidationError(f"horizon must be >= 1, got {horizon}")
    d = _differences(champion_loss, candidate_loss)
    if (early := _degenerate("diebold_mariano", d, alpha)) is not None:
        return early
    n = len(d)
    lags = math.floor(n ** (1.0 / 3.0)) if max_lag is None else max_lag
    if lags < 0:
        raise ValidationError(f"max_lag must be >= 0, got {max_lag}")
    variance = newey_west_variance(d, lags)
    if variance <= 0.0:
        return _result("diebold_mariano", d, None, 0.0 if d.mean() > 0 else 1.0, alpha)
    dm = d.mean() / math.sqrt(variance / n)
    correction = math.sqrt((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n)
    statistic = dm * correction
    return _result("diebold_mariano", d, statistic, float(sps.t.sf(statistic, n - 1)), alpha)


def run_test(name: str, champion_loss: Any, candidate_loss: Any, alpha: float) -> StatTestResult:
    """Run the test called ``name``. ``"none"`` runs nothing: p_value None, rejected_null False
    (the gate does not consult it). Raises ValidationError for an unknown name.
    """
    if name == "diebold_mariano":
        return diebold_mariano(champion_loss, candidate_loss, alpha)
    if name == "paired_t":
        return paired_t(champion_loss, candidate_loss, alpha)
    if name == "wilcoxon":
        return wilcoxon(champion_loss, candidate_loss, alpha)
    if name == "none":
        d = _differences(champion_loss, candidate_loss)
        mean = float(d.mean()) if len(d) else None
        return StatTestResult("none", None, None, alpha, False, len(d), mean)
    raise ValidationError(f"unknown statistical test {name!r}; use one of {', '.join(TESTS)}")
