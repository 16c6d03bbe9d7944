"""Drift statistics from counts on a shared grid of points.

A numeric sample is summarised on a sorted grid ``points`` by ``below[j]`` (values
``< points[j]``) and ``at[j]`` (values ``== points[j]``): its empirical CDF is then known
exactly at every point, from the left and from the right. Between two neighbouring points
the mass of the open cell is taken as spread uniformly (the CDF is linear there). Two
samples summarised on the same grid give:

* ``ks``: the largest CDF gap over the points (right values and left limits). Exact when
  every open cell is empty in one of the samples; otherwise the true statistic lies in
  ``[ks, ks + max_j min(open_ref_j, open_cur_j)]`` (shares of the open cell j).
* ``wasserstein``: the integral of ``|F_ref - F_cur|`` with both CDFs linear inside open
  cells, plus the exact tails outside the grid (from sums of distances). Exact when open
  cells are empty in both samples; otherwise off by at most
  ``sum_j width_j * (open_ref_j + open_cur_j)``.

When the grid holds every distinct value of both samples all open cells are empty and both
statistics equal SciPy's ``ks_2samp`` / ``wasserstein_distance``; ``exact_ks_wasserstein``
computes that case directly from the raw samples with one merge. A reference profile keeps
a quantile sketch as its grid (``monitoring.profile``): every reference value then sits on a
point or in an open cell holding at most ``1/sketch_size`` of the reference, which bounds
the errors above.

``psi``, ``js_distance`` and ``chi2_homogeneity`` take count vectors over the same buckets.
Every function accepts a stack of samples along the leading axes (used by the calibration).

>>> points = np.array([1.0, 2.0, 3.0])
>>> ref = summarise(np.array([1.0, 2.0, 2.0, 3.0]), points)
>>> cur = summarise(np.array([2.0, 3.0, 3.0, 3.0]), points)
>>> float(ks_statistic(ref.below, ref.at, ref.n, cur.below, cur.at, cur.n))
0.5
>>> float(wasserstein_distance(points, ref.below, ref.at, ref.n, cur.below, cur.at, cur.n))
0.75
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import chdtrc, rel_entr

PSI_EPSILON = 1e-4

__all__ = [
    "PSI_EPSILON",
    "Summary",
    "bin_counts_from_grid",
    "chi2_homogeneity",
    "exact_ks_wasserstein",
    "finite_part",
    "js_distance",
    "ks_statistic",
    "psi",
    "summarise",
    "wasserstein_distance",
]


@dataclass(frozen=True)
class Summary:
    """One numeric sample on a grid; every field is additive over chunks but min/max.

    ``s1``/``s2`` are sums of ``x - pivot`` and its square (the pivot keeps the variance
    accurate); ``tail_low``/``tail_high`` are the summed distances of values outside the grid
    to its first/last point.
    """

    points: np.ndarray
    below: np.ndarray  # int64, values < points[j]
    at: np.ndarray  # int64, values == points[j]
    n: int
    pivot: float
    s1: float
    s2: float
    minimum: float
    maximum: float
    tail_low: float
    tail_high: float

    @property
    def mean(self) -> float:
        return self.pivot + self.s1 / self.n if self.n else math.nan

    @property
    def var(self) -> float:
        """Sample variance (ddof=1); NaN below two values."""
        if self.n < 2:
            return math.nan
        return max(self.s2 - self.s1 * self.s1 / self.n, 0.0) / (self.n - 1)

    def merge(self, other: Summary) -> Summary:
        """The summary of both samples (same grid and pivot)."""
        return Summary(
            self.points, self.below + other.below, self.at + other.at, self.n + other.n,
            self.pivot, self.s1 + other.s1, self.s2 + other.s2,
            min(self.minimum, other.minimum), max(self.maximum, other.maximum),
            self.tail_low + other.tail_low, self.tail_high + other.tail_high,
        )


def finite_part(ordered: np.ndarray) -> np.ndarray:
    """The finite values of a sorted float array, as a view: NumPy sorts -inf first and
    +inf, then NaN, last.

    >>> finite_part(np.sort(np.array([np.nan, 2.0, -np.inf, 1.0, np.inf]))).tolist()
    [1.0, 2.0]
    """
    low = int(np.searchsorted(ordered, -np.inf, side="right"))
    high = int(np.searchsorted(ordered, np.inf, side="left"))
    return ordered[low:high]


def summarise(values: np.ndarray, points: np.ndarray, pivot: float = 0.0,
              presorted: bool = False) -> Summary:
    """Summarise float values (NaN and +-inf are left out) on ``points`` (sorted, unique).

    One sort, into a copy that is then reused for the moments: no other pass allocates.
    ``presorted`` values are read, never modified.

    >>> s = summarise(np.array([0.5, 1.0, np.nan, 1.0, 4.0]), np.array([1.0, 2.0]))
    >>> s.n, s.below.tolist(), s.at.tolist(), s.tail_low, s.tail_high
    (4, [1, 3], [2, 0], 0.5, 2.0)
    """
    ordered = finite_part(values if presorted else np.sort(values))
    below = np.searchsorted(ordered, points, side="left").astype(np.int64)
    at = np.searchsorted(ordered, points, side="right").astype(np.int64) - below
    n = int(ordered.size)
    if n == 0:
        return Summary(points, below, at, 0, pivot, 0.0, 0.0, math.inf, -math.inf, 0.0, 0.0)
    low = ordered[: below[0]] if points.size else ordered[:0]
    high = ordered[below[-1] + at[-1]:] if points.size else ordered[:0]
    tail_low = float(np.sum(points[0] - low)) if low.size else 0.0
    tail_high = float(np.sum(high - points[-1])) if high.size else 0.0
    minimum, maximum = float(ordered[0]), float(ordered[-1])
    # our own sorted copy is centred in place; a caller's array is left alone
    centred = ordered - pivot if presorted else np.subtract(ordered, pivot, out=ordered)
    return Summary(points, below, at, n, pivot, float(centred.sum()),
                   float(np.dot(centred, centred)), minimum, maximum, tail_low, tail_high)


def exact_ks_wasserstein(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """KS statistic and W1 of two sorted samples, exactly as ``scipy.stats.ks_2samp`` and
    ``scipy.stats.wasserstein_distance`` compute them: one merge of the two sorted runs.

    >>> exact_ks_wasserstein(np.array([1.0, 2.0, 2.0, 3.0]), np.array([2.0, 3.0, 3.0, 3.0]))
    (0.5, 0.75)
    """
    n1, n2 = reference.size, current.size
    merged = np.concatenate([reference, current])
    order = np.argsort(merged, kind="stable")  # a merge: the input is two sorted runs
    values = merged[order]
    last = np.empty(values.size, dtype=bool)  # last position of each distinct value
    np.not_equal(values[1:], values[:-1], out=last[:-1])
    last[-1] = True
    cum_ref = np.cumsum(order < n1)[last]
    cum_cur = np.flatnonzero(last) + 1 - cum_ref
    gap = cum_ref / n1 - cum_cur / n2
    np.abs(gap, out=gap)
    return float(gap.max()), float(np.dot(gap[:-1], np.diff(values[last])))


def _cdfs(below: np.ndarray, at: np.ndarray, n: np.ndarray | float) -> tuple[np.ndarray, ...]:
    total = np.asarray(n, dtype=np.float64)
    left = below / total
    right = (below + at) / total
    return left, right


def ks_statistic(
    ref_below: np.ndarray, ref_at: np.ndarray, ref_n: np.ndarray | float,
    cur_below: np.ndarray, cur_at: np.ndarray, cur_n: np.ndarray | float,
) -> np.ndarray:
    """Largest gap between the two CDFs at the grid points (see the module docstring)."""
    ref_left, ref_right = _cdfs(ref_below, ref_at, ref_n)
    cur_left, cur_right = _cdfs(cur_below, cur_at, cur_n)
    gap_right = np.max(np.abs(ref_right - cur_right), axis=-1)
    gap_left = np.max(np.abs(ref_left - cur_left), axis=-1)
    return np.maximum(gap_right, gap_left)


def wasserstein_distance(
    points: np.ndarray,
    ref_below: np.ndarray, ref_at: np.ndarray, ref_n: np.ndarray | float,
    cur_below: np.ndarray, cur_at: np.ndarray, cur_n: np.ndarray | float,
    tails: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """W1 between the samples: CDFs linear inside open cells; ``tails`` adds the integral
    outside the grid (``tail_low / n + tail_high / n`` of the one sample that has values there).
    """
    ref_left, ref_right = _cdfs(ref_below, ref_at, ref_n)
    cur_left, cur_right = _cdfs(cur_below, cur_at, cur_n)
    start = (ref_right - cur_right)[..., :-1]  # just right of points[j - 1]
    end = (ref_left - cur_left)[..., 1:]  # just left of points[j]
    width = np.diff(points)
    same_sign = start * end >= 0
    a, b = np.abs(start), np.abs(end)
    with np.errstate(invalid="ignore", divide="ignore"):
        crossing = (start * start + end * end) / (2 * (a + b))
    area = np.where(same_sign, (a + b) / 2, crossing)
    return np.sum(area * width, axis=-1) + tails[0] + tails[1]


def bin_counts_from_grid(below: np.ndarray, n: np.ndarray | int, edge_index: np.ndarray
                         ) -> np.ndarray:
    """Counts in the bins ``(-inf, e0), [e0, e1), ..., [e_last, inf)`` whose edges are the
    grid points ``edge_index``.

    >>> bin_counts_from_grid(np.array([1, 3, 3]), 5, np.array([0, 2])).tolist()
    [1, 2, 2]
    """
    cut = below[..., edge_index]
    total = np.broadcast_to(np.asarray(n, dtype=np.int64), (*cut.shape[:-1], 1))
    zero = np.zeros((*cut.shape[:-1], 1), dtype=np.int64)
    return np.diff(np.concatenate([zero, cut, total], axis=-1), axis=-1)


def psi(reference: np.ndarray, current: np.ndarray, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index between two count vectors over the same buckets.

    Shares are floored at ``epsilon``. NaN when either side has no counts.

    >>> round(psi(np.array([90, 10]), np.array([50, 50])), 4)
    0.8789
    >>> psi(np.array([3, 0, 7]), np.array([30, 0, 70]))
    0.0
    """
    return float(psi_many(reference, current, epsilon))


def psi_many(reference: np.ndarray, current: np.ndarray, epsilon: float = PSI_EPSILON
             ) -> np.ndarray:
    """``psi`` along the last axis of stacked count arrays."""
    ref_total = np.sum(reference, axis=-1, keepdims=True)
    cur_total = np.sum(current, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.maximum(reference / ref_total, epsilon)
        q = np.maximum(current / cur_total, epsilon)
        value = np.sum((q - p) * np.log(q / p), axis=-1)
    empty = (ref_total[..., 0] <= 0) | (cur_total[..., 0] <= 0)
    return np.where(empty, np.nan, value)


def js_distance(reference: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Jensen-Shannon distance (base 2, in [0, 1]) between count vectors along the last
    axis, as ``scipy.spatial.distance.jensenshannon(p, q, base=2)``.

    >>> float(js_distance(np.array([1, 0]), np.array([0, 1])))
    1.0
    """
    p = reference / np.sum(reference, axis=-1, keepdims=True)
    q = current / np.sum(current, axis=-1, keepdims=True)
    m = (p + q) / 2.0
    divergence = np.sum(rel_entr(p, m), axis=-1) + np.sum(rel_entr(q, m), axis=-1)
    return np.sqrt(np.maximum(divergence / math.log(2.0), 0.0) / 2.0)


def chi2_homogeneity(reference: np.ndarray, current: np.ndarray) -> tuple[float, float, int]:
    """Pearson's chi-squared test that two count vectors come from one distribution.

    Returns ``(statistic, p_value, dof)``; buckets empty on both sides are dropped and fewer
    than two buckets give ``(0.0, 1.0, 0)``. No continuity correction. The p-value comes
    from ``scipy.special.chdtrc`` (the chi2 survival function) rather than ``scipy.stats``,
    which costs ~0.8 s to import on the ``retrainer drift`` start-up path.

    >>> stat, p, dof = chi2_homogeneity(np.array([50, 50]), np.array([50, 50]))
    >>> stat, p, dof
    (0.0, 1.0, 1)
    """
    keep = (reference + current) > 0
    table = np.vstack([reference[keep], current[keep]]).astype(np.float64)
    dof = table.shape[1] - 1
    if dof < 1 or table[0].sum() == 0 or table[1].sum() == 0:
        return 0.0, 1.0, 0
    statistic = float(chi2_statistic(table[0], table[1]))
    return statistic, float(chdtrc(dof, statistic)), dof


def chi2_statistic(reference: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Pearson's statistic of the 2 x k table along the last axis (empty buckets add 0)."""
    ref_total = np.sum(reference, axis=-1, keepdims=True)
    cur_total = np.sum(current, axis=-1, keepdims=True)
    both = reference + current
    total = ref_total + cur_total
    with np.errstate(invalid="ignore", divide="ignore"):
        e_ref = ref_total * both / total
        e_cur = cur_total * both / total
        terms = np.where(both > 0, (reference - e_ref) ** 2 / e_ref
                         + (current - e_cur) ** 2 / e_cur, 0.0)
    return np.sum(terms, axis=-1)


def cdf_at(summary: Summary, x: np.ndarray) -> np.ndarray:
    """The summary's CDF (a share) at ``x`` under the cell model: exact at grid points, linear
    inside cells; values outside the grid are spread evenly up to the sample's min / max.

    >>> s = summarise(np.array([1.0, 2.0, 2.0, 3.0]), np.array([1.0, 3.0]))
    >>> cdf_at(s, np.array([0.0, 1.0, 2.0, 3.0])).tolist()
    [0.0, 0.25, 0.5, 1.0]
    """
    p, n = summary.points, summary.n
    if n == 0:
        return np.zeros(x.shape)
    if p.size == 0:
        return np.clip((x - summary.minimum) / max(summary.maximum - summary.minimum, 1e-300),
                       0.0, 1.0)
    right = (summary.below + summary.at).astype(np.float64)
    j = np.searchsorted(p, x, side="right") - 1
    inner = np.clip(j, 0, p.size - 1)
    nxt = np.clip(j + 1, 0, p.size - 1)
    gap = np.where(nxt > inner, p[nxt] - p[inner], 1.0)
    value = right[inner] + (x - p[inner]) / gap * (summary.below[nxt] - right[inner])
    low_span = max(p[0] - summary.minimum, 1e-300)
    low = np.clip((x - summary.minimum) / low_span, 0.0, 1.0) * summary.below[0]
    high_span = max(summary.maximum - p[-1], 1e-300)
    high = right[-1] + np.clip((x - p[-1]) / high_span, 0.0, 1.0) * (n - right[-1])
    value = np.where(j < 0, low, np.where(j >= p.size - 1, high, value))
    return np.asarray(value / n, dtype=np.float64)
