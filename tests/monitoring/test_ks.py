"""The ported KS p-values against SciPy itself, across the exact and asymptotic regimes."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from retrainer.monitoring.ks import (
    MAX_EXACT_N,
    kolmogorov_sf,
    ks_2samp_pvalue,
    ks_2samp_pvalues,
    ks_critical_value,
)
from retrainer.monitoring.ks_paths import (
    outside_band_columns,
    outside_band_diagonals,
    outside_bands,
)

SIZES = [(5, 7), (20, 20), (50, 80), (137, 211), (999, 1001), (1000, 1000), (3000, 7000),
         (MAX_EXACT_N, MAX_EXACT_N - 1), (MAX_EXACT_N + 1, 300), (20_000, 150),
         (50_000, 50_000), (200_000, 30_000), (300, 12_000), (10, 20_000),
         (8760, 168), (168, 5000), (9000, 31)]


@pytest.mark.parametrize(("n1", "n2"), SIZES)
def test_p_values_match_scipy_ks_2samp(n1: int, n2: int) -> None:
    rng = np.random.default_rng(n1 * 7 + n2)
    for shift in (0.0, 0.05, 0.2, 1.0):
        a, b = rng.normal(0, 1, n1), rng.normal(shift, 1, n2)
        expected = stats.ks_2samp(a, b)
        statistic = stats.ks_2samp(a, b, method="asymp").statistic  # the raw statistic
        d, p = ks_2samp_pvalue(float(statistic), n1, n2)
        assert d == pytest.approx(float(expected.statistic), abs=1e-12)
        assert p == pytest.approx(float(expected.pvalue), abs=1e-9, rel=1e-9), (n1, n2, shift)


def test_both_exact_sweeps_agree() -> None:
    """The column sweep (one sample far smaller) against the diagonal one, across the band."""
    rng = np.random.default_rng(11)
    checked = 0
    while checked < 200:
        m, n = int(rng.integers(40, 3000)), int(rng.integers(2, 300))
        g = math.gcd(m, n)
        h = round(float(rng.uniform(0.005, 0.5)) * (m // g) * n)
        if m == n or h == 0:
            continue
        diagonals = outside_band_diagonals(m, n, g, h)
        columns = outside_band_columns(max(m, n), min(m, n), g, h)
        assert columns == pytest.approx(diagonals, rel=1e-9, abs=1e-15), (m, n, h)
        checked += 1


def test_one_sweep_for_many_statistics_equals_one_at_a_time() -> None:
    """The bands of many statistics swept side by side, in groups of similar widths: every
    share as the single-band sweep gives it, from a band that holds almost every path to
    one no path stays in, across size ratios and shared factors."""
    rng = np.random.default_rng(5)
    for m, n in ((1075, 336), (1344, 336), (6300, 168), (60, 30), (2000, 900), (999, 3)):
        g = math.gcd(m, n)
        lcm = (m // g) * n
        hs = sorted({max(1, round(float(d) * lcm))
                     for d in [*rng.uniform(0.001, 0.3, 60), 0.5, 0.9, 1.0]})
        swept = outside_bands(m, n, g, hs)
        alone = [outside_band_columns(m, n, g, h) for h in hs]
        assert swept.tolist() == pytest.approx(alone, rel=1e-12, abs=1e-300), (m, n)
        assert swept.max() == pytest.approx(1.0, abs=1e-9) and swept.min() < 1e-6, (m, n)


def test_p_values_of_many_columns_at_once_match_scipy() -> None:
    """A drift check's columns: most share the window's sizes, some have nulls, one is far
    in the tail, one identical; each p-value as SciPy gives it alone."""
    rng = np.random.default_rng(8)
    samples = []
    for column in range(40):
        n1, n2 = (1075, 336) if column % 5 else (1075 - column, 300 + column)
        shift = 0.0 if column % 7 else 0.3
        samples.append((rng.normal(0, 1, n1), rng.normal(shift, 1, n2)))
    samples.append((rng.normal(0, 1, 1075), rng.normal(3, 1, 336)))
    same = rng.normal(size=336)
    samples.append((np.concatenate([same, same, same, same[:67]]), same))
    tests = [(float(stats.ks_2samp(a, b, method="asymp").statistic), a.size, b.size)
             for a, b in samples]
    together = ks_2samp_pvalues(tests)
    for (a, b), (d, p), test in zip(samples, together, tests, strict=True):
        expected = stats.ks_2samp(a, b)
        assert d == pytest.approx(float(expected.statistic), abs=1e-12)
        assert p == pytest.approx(float(expected.pvalue), abs=1e-9, rel=1e-9)
        assert (d, p) == ks_2samp_pvalue(*test)


def test_ties_and_discrete_data_match_scipy() -> None:
    rng = np.random.default_rng(4)
    for n1, n2 in ((40, 60), (4000, 4000), (30_000, 25_000)):
        a, b = rng.integers(0, 6, n1), rng.integers(0, 7, n2)
        expected = stats.ks_2samp(a, b)
        _, p = ks_2samp_pvalue(float(expected.statistic), n1, n2)
        assert p == pytest.approx(float(expected.pvalue), abs=1e-9)


@pytest.mark.parametrize("n", [1, 2, 5, 50, 140, 141, 1000, 5000, 100_000, 1_000_000])
def test_kolmogorov_sf_matches_scipy_kstwo(n: int) -> None:
    for x in np.linspace(1e-4, 0.999, 61):
        assert kolmogorov_sf(n, float(x)) == pytest.approx(
            float(stats.kstwo.sf(x, n)), abs=1e-9, rel=1e-9), (n, x)


def test_critical_value_inverts_the_asymptotic_p_value() -> None:
    for n1, n2, alpha in ((1000, 1000, 0.05), (500, 20_000, 0.01), (10**6, 10**6, 0.01),
                          (40, 60, 0.1)):
        critical = ks_critical_value(alpha, n1, n2)
        en = int(np.round(n1 * n2 / (n1 + n2)))
        assert float(stats.kstwo.sf(critical, en)) == pytest.approx(alpha, rel=1e-6)


def test_bad_sizes_raise() -> None:
    with pytest.raises(ValueError, match="positive"):
        ks_2samp_pvalue(0.1, 0, 5)


def test_the_drift_engine_does_not_import_scipy_stats() -> None:
    code = ("import sys, retrainer.monitoring.drift, retrainer.monitoring.calibration, "
            "retrainer.monitoring.stream; print('scipy.stats' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
