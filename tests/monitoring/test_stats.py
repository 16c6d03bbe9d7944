"""Grid statistics: exact where SciPy computes the same thing, bounded where they are not."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from retrainer.monitoring.profile import numeric_profile, reference_summary
from retrainer.monitoring.stats import (
    PSI_EPSILON,
    bin_counts_from_grid,
    cdf_at,
    chi2_homogeneity,
    exact_ks_wasserstein,
    js_distance,
    ks_statistic,
    psi,
    summarise,
    wasserstein_distance,
)


def _samples(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    return [
        (rng.normal(0, 1, 3000), rng.normal(0.1, 1.2, 2000)),
        (rng.gamma(2, 3, 10_000), rng.gamma(2.5, 3, 7000)),
        (rng.integers(0, 10, 5000).astype(float), rng.integers(0, 12, 4000).astype(float)),
        (np.round(rng.normal(0, 1, 800), 1), np.round(rng.normal(0, 1, 900), 1)),
        (rng.standard_t(2, 500), rng.standard_t(2, 50)),
    ]


def test_exact_ks_and_wasserstein_equal_scipy() -> None:
    rng = np.random.default_rng(0)
    for a, b in _samples(rng):
        ks, w = exact_ks_wasserstein(np.sort(a), np.sort(b))
        assert ks == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)
        assert w == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-9, abs=1e-12)


def test_grid_statistics_are_exact_on_a_grid_of_every_value() -> None:
    rng = np.random.default_rng(1)
    for a, b in _samples(rng):
        grid = np.unique(np.concatenate([a, b]))
        ref, cur = summarise(a, grid), summarise(b, grid)
        ks = ks_statistic(ref.below, ref.at, ref.n, cur.below, cur.at, cur.n)
        w = wasserstein_distance(grid, ref.below, ref.at, ref.n, cur.below, cur.at, cur.n)
        assert float(ks) == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)
        assert float(w) == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-9)


def test_sketch_statistics_stay_within_their_stated_bounds() -> None:
    rng = np.random.default_rng(2)
    for a, b in _samples(rng):
        spec = numeric_profile(a, a.size, bins=10, sketch_size=200)
        ref, _ = reference_summary(spec)
        cur = summarise(b, ref.points, ref.pivot)
        ks_true = stats.ks_2samp(a, b).statistic
        w_true = stats.wasserstein_distance(a, b)
        ks = float(ks_statistic(ref.below, ref.at, ref.n, cur.below, cur.at, cur.n))
        tails = (cur.tail_low / cur.n, cur.tail_high / cur.n)
        w = float(wasserstein_distance(ref.points, ref.below, ref.at, ref.n, cur.below,
                                       cur.at, cur.n, tails))
        gaps_ref = (ref.below[1:] - ref.below[:-1] - ref.at[:-1]) / ref.n
        gaps_cur = (cur.below[1:] - cur.below[:-1] - cur.at[:-1]) / cur.n
        assert ks <= ks_true + 1e-12
        assert ks_true <= ks + np.max(np.minimum(gaps_ref, gaps_cur), initial=0.0) + 1e-12
        bound = float(np.sum(np.diff(ref.points) * (gaps_ref + gaps_cur)))
        assert abs(w - w_true) <= bound + 1e-9
        assert abs(w - w_true) <= 0.02 * np.std(a) + 1e-12  # and small in practice


def test_discrete_columns_are_exact_from_the_sketch() -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(0, 24, 20_000).astype(float)
    b = rng.integers(0, 26, 9000).astype(float)
    ref, _ = reference_summary(numeric_profile(a, a.size, bins=10, sketch_size=100))
    cur = summarise(b, ref.points, ref.pivot)
    ks = float(ks_statistic(ref.below, ref.at, ref.n, cur.below, cur.at, cur.n))
    w = float(wasserstein_distance(ref.points, ref.below, ref.at, ref.n, cur.below, cur.at,
                                   cur.n, (cur.tail_low / cur.n, cur.tail_high / cur.n)))
    assert ks == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)
    assert w == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-9)


def test_js_distance_matches_scipy_on_the_same_bins() -> None:
    rng = np.random.default_rng(5)
    for _ in range(20):
        p, q = rng.integers(0, 50, 12), rng.integers(0, 50, 12)
        p[rng.integers(0, 12)] = 0
        expected = jensenshannon(p, q, base=2)
        assert float(js_distance(p, q)) == pytest.approx(expected, abs=1e-12)
    stacked = rng.integers(1, 9, (4, 6))
    assert js_distance(stacked, stacked[::-1]).shape == (4,)


def _hand_psi(expected: list[float], actual: list[float]) -> float:
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, PSI_EPSILON), max(a, PSI_EPSILON)
        total += (a - e) * math.log(a / e)
    return total


def test_psi_on_a_tiny_example() -> None:
    expected = (0.5 - 0.9) * math.log(0.5 / 0.9) + (0.5 - 0.1) * math.log(0.5 / 0.1)
    assert psi(np.array([9.0, 1.0]), np.array([5.0, 5.0])) == pytest.approx(expected)
    value = psi(np.array([10.0, 0.0]), np.array([5.0, 5.0]))
    assert value == pytest.approx(_hand_psi([1.0, 0.0], [0.5, 0.5])) and math.isfinite(value)
    assert math.isnan(psi(np.array([0.0, 0.0]), np.array([1.0, 1.0])))


def test_chi2_matches_scipy_contingency() -> None:
    rng = np.random.default_rng(6)
    for _ in range(10):
        a, b = rng.integers(5, 200, 6), rng.integers(5, 200, 6)
        statistic, p, dof = chi2_homogeneity(a, b)
        expected = stats.chi2_contingency(np.vstack([a, b]), correction=False)
        assert statistic == pytest.approx(expected.statistic, rel=1e-12)
        assert p == pytest.approx(expected.pvalue, abs=1e-12)
        assert dof == expected.dof
    assert chi2_homogeneity(np.array([10.0]), np.array([5.0])) == (0.0, 1.0, 0)


def test_summaries_of_chunks_add_up() -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(100, 5, 30_000)
    points = np.sort(rng.normal(100, 5, 50))
    whole = summarise(values, points, pivot=100.0)
    parts = [summarise(chunk, points, pivot=100.0) for chunk in np.array_split(values, 7)]
    merged = parts[0]
    for part in parts[1:]:
        merged = merged.merge(part)
    assert (merged.below == whole.below).all() and (merged.at == whole.at).all()
    assert merged.n == whole.n and merged.minimum == whole.minimum
    assert merged.mean == pytest.approx(values.mean(), rel=1e-12)
    assert merged.var == pytest.approx(values.var(ddof=1), rel=1e-10)
    assert merged.tail_low == pytest.approx(whole.tail_low)


def test_bins_and_cdf_from_a_grid() -> None:
    values = np.array([0.0, 1.0, 1.5, 2.0, 9.0])
    grid = np.array([1.0, 2.0])
    summary = summarise(values, grid)
    assert bin_counts_from_grid(summary.below, summary.n, np.array([0, 1])).tolist() == [1, 2, 2]
    cdf = cdf_at(summary, np.array([-1.0, 0.0, 1.0, 2.0, 9.0, 10.0]))
    assert cdf[0] == 0.0 and cdf[2] == pytest.approx(0.4) and cdf[3] == pytest.approx(0.8)
    assert cdf[-1] == 1.0 and np.all(np.diff(cdf) >= 0)
