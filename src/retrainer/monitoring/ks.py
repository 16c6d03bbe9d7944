"""Two-sample Kolmogorov-Smirnov p-values, computed the way ``scipy.stats.ks_2samp`` does.

``scipy.stats`` costs ~0.8 s to import, which ``retrainer drift`` must not pay, so the
algorithms are ported here from SciPy 1.17 (BSD-3-Clause, (c) the SciPy developers) and
checked against it in ``tests/monitoring/test_ks.py`` to 1e-9. Like ``method="auto"``:

* both samples of at most ``MAX_EXACT_N`` values: the exact null distribution, by counting
  lattice paths (``ks_paths``). Equal sizes use the closed alternating sum, unequal ones an
  anti-diagonal sweep of the same recursion SciPy runs column by column (same arithmetic,
  vectorised along the diagonal), or, when one sample is at least twice the other, a sweep
  over the smaller one's columns counting paths (scaled cumulative sums; the two agree to
  1e-10), for all the tests of ``ks_2samp_pvalues`` that share their sizes at once;
* otherwise the one-sample distribution ``kstwo`` at the effective size
  ``round(n1 * n2 / (n1 + n2))`` (Simard & L'Ecuyer 2011: Durbin matrix, Pomeranz,
  Pelz-Good and the Smirnov tail, chosen by size as in SciPy).

>>> statistic, p = ks_2samp_pvalue(0.3, 20, 20)
>>> round(p, 6)
0.335591
>>> round(ks_2samp_pvalue(0.005, 200_000, 300_000)[1], 6)
0.004941
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from contextlib import suppress
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from scipy.special import gammaln, kolmogi, smirnov

from retrainer.monitoring.ks_paths import outside_band, outside_bands, outside_square

__all__ = ["MAX_EXACT_N", "kolmogorov_sf", "ks_2samp_pvalue", "ks_2samp_pvalues",
           "ks_critical_value"]

MAX_EXACT_N = 10_000
#: below this bound on the asymptotic p-value the exact count is skipped (both are < 1e-12 apart)
_NEGLIGIBLE = 1e-13
_SCALE = 2.0**128
_LOG_2PI = math.log(2 * math.pi)
_SQRT2PI = math.sqrt(2 * math.pi)
_SQRT3 = math.sqrt(3)
_PI2, _PI4, _PI6 = math.pi**2, math.pi**4, math.pi**6
_MIN_LOG = -708
_STIRLING = [-2.955065359477124183e-2, 6.4102564102564102564e-3, -1.9175269175269175269e-3,
             8.4175084175084175084e-4, -5.952380952380952381e-4, 7.9365079365079365079e-4,
             -2.7777777777777777778e-3, 8.3333333333333333333e-2]


def ks_2samp_pvalue(d: float, n1: int, n2: int) -> tuple[float, float]:
    """``(statistic, p_value)`` of the two-sided test for statistic ``d`` and sizes n1, n2.

    In the exact regime the statistic is snapped to the lattice ``h / lcm(n1, n2)`` as
    SciPy does (a change below 1e-12). Raises ``ValueError`` when a size is not positive.
    """
    return ks_2samp_pvalues([(d, n1, n2)])[0]


def ks_2samp_pvalues(tests: Sequence[tuple[float, int, int]]) -> list[tuple[float, float]]:
    """``ks_2samp_pvalue`` of each ``(d, n1, n2)``. The exact counts of tests that share
    their sizes (a drift check's columns) are swept together (``ks_paths.outside_bands``).
    Raises ``ValueError`` when a size is not positive."""
    plans = [_plan(d, n1, n2) for d, n1, n2 in tests]
    shared: dict[tuple[int, int, int], list[int]] = defaultdict(list)
    for plan, (_, n1, n2) in zip(plans, tests, strict=True):
        if plan.p is None and n1 != n2:
            shared[(n1, n2, plan.g)].append(plan.h)
    for (n1, n2, g), hs in shared.items():
        if len(hs) > 1:
            # on overflow each is counted alone below, where a failure falls back alone
            with np.errstate(invalid="raise", over="raise"), \
                    suppress(FloatingPointError, OverflowError):
                outside_bands(n1, n2, g, hs)
    return [_finish(plan, n1, n2) for plan, (_, n1, n2) in zip(plans, tests, strict=True)]


class _Plan(NamedTuple):
    d: float  # snapped to the lattice in the exact regime
    p: float | None  # None: an exact count is needed
    h: int = 0
    g: int = 1
    en: int = 0  # the effective size of the asymptotic distribution


def _plan(d: float, n1: int, n2: int) -> _Plan:
    if n1 <= 0 or n2 <= 0:
        raise ValueError(f"sample sizes must be positive, got {n1} and {n2}")
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = int(np.round(m * n / (m + n)))
    if max(n1, n2) > MAX_EXACT_N:
        return _Plan(d, kolmogorov_sf(en, d))
    g = math.gcd(n1, n2)
    lcm = (n1 // g) * n2
    h = int(np.round(d * lcm))
    d = h / lcm
    if h == 0:
        return _Plan(d, 1.0)
    # far in the tail exact and asymptotic agree; Massart's bound on the asymptotic tail,
    # P(D_n > d) <= 2 exp(-2 n d^2), tells where without computing it (Pomeranz's recursion,
    # for n <= 140, costs as much as the exact count)
    if 2.0 * math.exp(-2.0 * en * d * d) < _NEGLIGIBLE:
        return _Plan(d, kolmogorov_sf(en, d))
    return _Plan(d, None, h, g, en)


def _finish(plan: _Plan, n1: int, n2: int) -> tuple[float, float]:
    if plan.p is not None:
        return plan.d, plan.p
    with np.errstate(invalid="raise", over="raise"):
        try:
            p = (outside_square(n1, plan.h) if n1 == n2
                 else outside_band(n1, n2, plan.g, plan.h))
        except (FloatingPointError, OverflowError):
            p = math.nan
    if 0 <= p <= 1:
        return plan.d, float(p)
    return plan.d, kolmogorov_sf(plan.en, plan.d)


def ks_critical_value(alpha: float, n1: int, n2: int) -> float:
    """The statistic at which the asymptotic (``kstwo``) p-value equals ``alpha``.

    Used to show a threshold next to the statistic; the decision itself compares the
    p-value (exact for small samples) with ``alpha``. Relative precision 1e-9; cached per
    ``(alpha, effective size)``.

    >>> round(ks_critical_value(0.05, 1000, 1000), 4)
    0.0604
    """
    return _critical(float(alpha), int(np.round(n1 * n2 / (n1 + n2))))


@lru_cache(maxsize=4096)
def _critical(alpha: float, en: int) -> float:
    guess = float(kolmogi(alpha)) / math.sqrt(en)  # the limiting distribution's quantile
    low, high = max(0.5 / en, guess / 2), min(1.0, guess * 2)
    if kolmogorov_sf(en, low) <= alpha:
        low = 0.5 / en
    if kolmogorov_sf(en, high) > alpha:
        high = 1.0

    def gap(d: float) -> float:  # decreasing in d; zero at the critical value
        return math.log(max(kolmogorov_sf(en, d), 1e-300)) - math.log(alpha)

    g_low, g_high, side = gap(low), gap(high), 0
    for _ in range(60):  # regula falsi, Illinois variant: a bracket that shrinks fast
        if high - low <= 1e-9 * high:
            break
        mid = high - g_high * (high - low) / (g_high - g_low)
        if not low < mid < high:
            mid = (low + high) / 2
        g_mid = gap(mid)
        if g_mid > 0:
            low, g_low = mid, g_mid
            g_high, side = (g_high / 2, -1) if side == -1 else (g_high, -1)
        else:
            high, g_high = mid, g_mid
            g_low, side = (g_low / 2, 1) if side == 1 else (g_low, 1)
    return high


def kolmogorov_sf(n: int, x: float) -> float:
    """``P(D_n > x)`` for the one-sample two-sided statistic (``scipy.stats.kstwo.sf``)."""
    if n <= 0:
        return math.nan
    if x >= 1.0:
        return 0.0
    if x <= 0.0:
        return 1.0
    t = n * x
    if t <= 1.0:
        if t <= 0.5:
            return 1.0
        if n <= 140:
            cdf = float(np.prod(np.arange(1, n + 1) * (1.0 / n) * (2 * t - 1)))
        else:
            cdf = math.exp(_log_factorial_over_power(n) + n * math.log(2 * t - 1))
        return _clip(1.0 - cdf)
    if t >= n - 1:
        return _clip(2 * (1.0 - x) ** n)
    if x >= 0.5:
        return _clip(2 * _smirnov(n, x))
    nx2 = t * x
    if n <= 140:
        if nx2 <= 0.754693:
            return _clip(1.0 - _durbin(n, x))
        if nx2 <= 4:
            return _clip(1.0 - _pomeranz(n, x))
        return _clip(2 * _smirnov(n, x))
    if nx2 >= 370.0:
        return 0.0
    if nx2 >= 2.2:
        return _clip(2 * _smirnov(n, x))
    if nx2 >= 18.0:
        cdf = 1.0
    elif n <= 100_000 and n * x**1.5 <= 1.4:
        cdf = _durbin(n, x)
    else:
        cdf = _pelz_good(n, x)
    return _clip(1.0 - cdf)


def _smirnov(n: int, x: float) -> float:
    """One-sided ``P(D_n^+ >= x)``: SciPy's ``smirnov`` for small n; for large n the same
    Birnbaum-Tingey sum vectorised in log space over its non-negligible terms (SciPy's loop
    takes ~1 s at n = 10**6; the two agree to ~1e-9 relative)."""
    if n <= MAX_EXACT_N:
        return float(smirnov(n, x))
    last = math.floor(n * (1 - x))
    stride = max(1, (last + 1) // 4096)
    coarse = _smirnov_log_terms(n, x, np.arange(0, last + 1, stride, dtype=np.float64))
    keep = np.flatnonzero(coarse > np.max(coarse) - 60)  # e**-60: below float resolution
    low = max(int(keep[0]) * stride - stride, 0)
    high = min(int(keep[-1]) * stride + stride, last)
    terms = _smirnov_log_terms(n, x, np.arange(low, high + 1, dtype=np.float64))
    top = float(np.max(terms))
    return float(x * math.exp(top) * np.sum(np.exp(terms - top)))


def _smirnov_log_terms(n: int, x: float, j: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(gammaln(n + 1) - gammaln(j + 1) - gammaln(n - j + 1)
                          + (n - j) * np.log1p(-x - j / n) + (j - 1) * np.log(x + j / n))


def _clip(p: float) -> float:
    return float(min(max(p, 0.0), 1.0))


def _log_factorial_over_power(n: int) -> float:
    """log(n! / n**n) by Stirling's series."""
    rn = 1.0 / n
    return float(np.log(n) / 2 - n + _LOG_2PI / 2 + rn * np.polyval(_STIRLING, rn / n))


def _durbin(n: int, d: float) -> float:
    """P(D_n <= d) by the Durbin matrix (Marsaglia, Tsang & Wang 2003)."""
    nd = n * d
    if nd <= 0.5:
        return 0.0
    k = int(np.ceil(nd))
    h = k - nd
    m = 2 * k - 1
    H = np.zeros([m, m])
    steps = np.arange(1, m + 1)
    v = 1.0 - h**steps
    w = np.empty(m)
    fac = 1.0
    for j in steps:
        w[j - 1] = fac
        fac /= j
        v[j - 1] *= fac
    tt = max(2 * h - 1.0, 0) ** m - 2 * h**m
    v[-1] = (1.0 + tt) * fac
    for i in range(1, m):
        H[i - 1:, i] = w[: m - i + 1]
    H[:, 0] = v
    H[-1, :] = np.flip(v, axis=0)
    power = np.eye(m)
    nn, exponent, h_exponent = n, 0, 0
    while nn > 0:
        if nn % 2:
            power = np.matmul(power, H)
            exponent += h_exponent
        H = np.matmul(H, H)
        h_exponent *= 2
        if np.abs(H[k - 1, k - 1]) > _SCALE:
            H /= _SCALE
            h_exponent += 128
        nn //= 2
    p = power[k - 1, k - 1]
    for i in range(1, n + 1):
        p = i * p / n
        if np.abs(p) < 1.0 / _SCALE:
            p *= _SCALE
            exponent -= 128
    if exponent != 0:
        p = np.ldexp(p, exponent)
    return _clip(float(p))


def _pomeranz_bounds(i: int, n: int, ll: int, ceilf: int, roundf: int) -> tuple[int, int]:
    if i == 0:
        j1, j2 = -ll - ceilf - 1, ll + ceilf - 1
    else:
        half, odd = divmod(i + 1, 2)
        if odd == 0:
            if half == n + 1:
                j1, j2 = n - ll - ceilf - 1, n + ll + ceilf - 1
            else:
                j1, j2 = half - 1 - ll - roundf - 1, half + ll - 1 + ceilf - 1
        else:
            j1, j2 = half - 1 - ll - 1, half + ll + roundf - 1
    return max(j1 + 2, 0), min(j2, n)


def _pomeranz(n: int, x: float) -> float:
    """P(D_n <= x) by the Pomeranz (1974) recursion (used for n <= 140)."""
    t = n * x
    ll = int(np.floor(t))
    f = 1.0 * (t - ll)
    g = min(f, 1.0 - f)
    ceilf, roundf = (1 if f > 0 else 0), (1 if f > 0.5 else 0)
    npwrs = 2 * (ll + 1)
    gpower, twogpower, onem2gpower = np.empty(npwrs), np.empty(npwrs), np.empty(npwrs)
    gpower[0] = twogpower[0] = onem2gpower[0] = 1.0
    exponent = 0
    for k in range(1, npwrs):
        gpower[k] = gpower[k - 1] * (g / n) / k
        twogpower[k] = twogpower[k - 1] * (2 * g / n) / k
        onem2gpower[k] = onem2gpower[k - 1] * ((1 - 2 * g) / n) / k
    V0, V1 = np.zeros([npwrs]), np.zeros([npwrs])
    V1[0] = 1
    V0s = V1s = 0
    j1, j2 = _pomeranz_bounds(0, n, ll, ceilf, roundf)
    for i in range(1, 2 * n + 2):
        k1 = j1
        V0, V1 = V1, V0
        V0s, V1s = V1s, V0s
        V1.fill(0.0)
        j1, j2 = _pomeranz_bounds(i, n, ll, ceilf, roundf)
        pwrs = gpower if i in (1, 2 * n + 1) else (twogpower if i % 2 else onem2gpower)
        ln2 = j2 - k1 + 1
        if ln2 > 0:
            conv = np.convolve(V0[k1 - V0s:k1 - V0s + ln2], pwrs[:ln2])
            start, length = j1 - k1, j2 - j1 + 1
            V1[:length] = conv[start:start + length]
            if 0 < np.max(V1) < 1.0 / _SCALE:
                V1 *= _SCALE
                exponent -= 128
            V1s = V0s + j1 - k1
    answer = V1[n - V1s]
    for k in range(1, n + 1):
        if np.abs(answer) > _SCALE:
            answer *= 1.0 / _SCALE
            exponent += 128
        answer *= k
    if exponent != 0:
        answer = np.ldexp(answer, exponent)
    return _clip(float(answer))


def _pelz_good(n: int, x: float) -> float:
    """P(D_n <= x) by the Pelz-Good (1976) asymptotic series."""
    z = np.sqrt(n) * x
    z2, z3, z4, z6 = z**2, z**3, z**4, z**6
    qlog = -_PI2 / 8 / z2
    if qlog < _MIN_LOG:
        return 0.0
    q = np.exp(qlog)
    k1a, k1b = -z2, _PI2 / 4
    k2a, k2b, k2c = 6 * z6 + 2 * z4, (2 * z4 - 5 * z2) * _PI2 / 4, _PI4 * (1 - 2 * z2) / 16
    k3d = _PI6 * (5 - 30 * z2) / 64
    k3c = _PI4 * (-60 * z2 + 212 * z4) / 16
    k3b = _PI2 * (135 * z4 - 96 * z6) / 4
    k3a = -30 * z6 - 90 * z**8
    terms = np.zeros(4)
    maxk = int(np.ceil(16 * z / np.pi))
    for k in range(maxk, 0, -1):
        m = 2 * k - 1
        m2, m4, m6 = m**2, m**4, m**6
        coeffs = np.array([1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4,
                           k3a + k3b * m2 + k3c * m4 + k3d * m6])
        terms *= np.power(q, 8 * k)
        terms += coeffs
    terms *= q
    terms *= _SQRT2PI
    terms /= np.array([z, 6 * z4, 72 * z**7, 6480 * z**10])
    q = np.exp(-_PI2 / 2 / z2)
    ks = np.arange(maxk, 0, -1)
    k2 = ks**2
    kpi = np.pi * ks
    qpowers = q**k2
    terms[2] += np.sum(k2 * qpowers) * _PI2 * _SQRT2PI / (-36 * z3)
    terms[3] += (np.sum((_SQRT3 * z + kpi) * (_SQRT3 * z - kpi) * k2 * qpowers)
                 * _PI2 * _SQRT2PI / (216 * z6))
    terms /= np.power(n * 1.0, np.arange(4) / 2.0)
    return float(sum(terms))
