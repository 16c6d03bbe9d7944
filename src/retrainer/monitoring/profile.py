"""Reference profiles: what a model version's training data looked like, as plain JSON.

A profile is built once, when a version is trained, and stored with the version. Drift
monitoring (``monitoring.drift``) compares a new window against the profile alone; the
reference data is never needed again.

Format 2 (``PROFILE_FORMAT``; format 1 profiles are still read)::

    {"format": 2, "rows": int, "bins": int, "sketch_size": int, "columns": {name: column},
     "importance": {name: float},          # optional, see monitoring.importance
     "target": {"column": name, "spec": column}}   # optional, see target_reference

    numeric column:     {"kind": "numeric", "null_share", "n", "edges", "counts",
                         "mean", "var", "min", "max", "kurtosis",
                         "sketch": {"points": [...], "below": [...], "at": [...]}}
    categorical column: {"kind": "categorical", "null_share", "n", "frequencies"}

``edges`` are the inner quantile edges of the non-null values (deduplicated, so a constant
column yields one edge); the ``len(edges) + 1`` bins are ``(-inf, e0), [e0, e1), ...,
[e_last, +inf)`` and ``counts`` holds the reference rows in each (PSI and JS use them).
``var`` uses ddof=1; ``kurtosis`` is ``m4 / m2**2`` (3 for a normal distribution).

The ``sketch`` is the reference's empirical CDF at up to ``sketch_size + 1`` quantile points
(the minimum, the maximum, the edges and the values at ranks ``i * (n - 1) / sketch_size``):
``below[j]`` reference values lie below ``points[j]`` and ``at[j]`` equal it. A column with
at most ``sketch_size`` distinct values keeps all of them, so its CDF is exact; otherwise
each gap between neighbouring points holds at most ~``1/sketch_size`` of the reference.
``monitoring.stats`` turns this into KS and Wasserstein bounds: with the default 500 points
KS from a profile is within 0.002 of KS from the raw reference (plus the share of the
window that falls inside one gap), and Wasserstein within a few thousandths of a standard
deviation for smooth distributions (exact for discrete ones).

Statistics that cannot be computed (no values; ``var`` with fewer than two) are ``None``.
Non-finite numbers (NaN, +-inf) count as null. Categories are keyed by ``str(value)``.
New statistics are added under new keys; a change that alters the meaning of an existing
key bumps ``PROFILE_FORMAT``.

>>> frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, None], "c": ["a", "b", "a", "a"]})
>>> profile = build_profile(frame, numeric=["x"], categorical=["c"], bins=2)
>>> profile["rows"], profile["columns"]["x"]["edges"], profile["columns"]["x"]["counts"]
(4, [2.0], [1, 2])
>>> profile["columns"]["x"]["sketch"]
{'points': [1.0, 2.0, 3.0], 'below': [0, 1, 2], 'at': [1, 1, 1]}
>>> profile["columns"]["x"]["null_share"], profile["columns"]["c"]["frequencies"]
(0.25, {'a': 3, 'b': 1})
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from retrainer.exceptions import DataError
from retrainer.monitoring.stats import Summary, finite_part

PROFILE_FORMAT = 2
READABLE_FORMATS = (1, 2)
DEFAULT_SKETCH_SIZE = 500

T = TypeVar("T")
R = TypeVar("R")


def build_profile(
    frame: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    bins: int = 10,
    sketch_size: int = DEFAULT_SKETCH_SIZE,
    importance: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Profile ``numeric`` and ``categorical`` columns of ``frame`` (see the module docstring).

    Columns are profiled in parallel threads. The result holds only JSON types (no NaN).
    ``importance`` (feature -> weight, e.g. ``monitoring.importance.feature_importance``) is
    stored for the importance-weighted dataset verdict. Raises ``DataError`` when a column is
    missing or a numeric column holds values that are not numbers, and ``ValueError`` when a
    column is listed as both numeric and categorical, ``bins`` < 2 or ``sketch_size`` < 2.
    """
    if bins < 2:
        raise ValueError(f"bins must be at least 2, got {bins}")
    if sketch_size < 2:
        raise ValueError(f"sketch_size must be at least 2, got {sketch_size}")
    both = sorted(set(numeric) & set(categorical))
    if both:
        raise ValueError(f"columns {both} are listed as both numeric and categorical")
    missing = [c for c in [*numeric, *categorical] if c not in frame.columns]
    if missing:
        raise DataError(f"cannot profile missing columns {missing}")
    rows = len(frame)

    def one(name: str) -> dict[str, Any]:
        if name in categorical:
            return categorical_profile(frame[name])
        return numeric_profile(numeric_values(frame[name]), rows, bins, sketch_size)

    names = [*numeric, *categorical]
    columns = dict(zip(names, parallel_map(one, names, rows * len(names)), strict=True))
    profile: dict[str, Any] = {"format": PROFILE_FORMAT, "rows": rows, "bins": bins,
                               "sketch_size": sketch_size, "columns": columns}
    if importance is not None:
        profile["importance"] = {str(k): float(v) for k, v in importance.items()}
    return profile


#: below this many values in total, threads cost more than they save
PARALLEL_VALUES = 200_000


def parallel_map(function: Callable[[T], R], items: Sequence[T],
                 values: int | None = None) -> list[R]:
    """``[function(i) for i in items]`` on up to one thread per core (NumPy sorts and
    reductions release the GIL); in this thread when the work (``values``, if given) is
    small. Exceptions propagate; the order is kept."""
    workers = min(os.cpu_count() or 1, len(items))
    if workers <= 1 or (values is not None and values < PARALLEL_VALUES):
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(function, items))


def numeric_values(series: pd.Series) -> np.ndarray:
    """A column as float64 with NaN for nulls. Raises ``DataError`` on non-numeric values.

    >>> numeric_values(pd.Series(["1.5", None, "2"])).tolist()
    [1.5, nan, 2.0]
    """
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype="float64", na_value=np.nan)
    converted = pd.to_numeric(series, errors="coerce")
    bad = series.notna() & converted.isna()
    if bad.any():
        example = series[bad].iloc[0]
        raise DataError(
            f"column {series.name!r} should be numeric but holds {int(bad.sum())} "
            f"non-numeric values such as {example!r}"
        )
    return converted.to_numpy(dtype="float64", na_value=np.nan)


def numeric_profile(values: np.ndarray, rows: int, bins: int,
                    sketch_size: int = DEFAULT_SKETCH_SIZE) -> dict[str, Any]:
    """The numeric column entry of a profile for float ``values`` (NaN = null)."""
    ordered = finite_part(np.sort(values))
    n = int(ordered.size)
    null_share = (rows - n) / rows if rows else 0.0
    if n == 0:
        return {
            "kind": "numeric", "null_share": float(null_share), "n": 0, "edges": [],
            "counts": [0], "mean": None, "var": None, "min": None, "max": None,
            "kurtosis": None, "sketch": {"points": [], "below": [], "at": []},
        }
    edges = np.unique(np.quantile(ordered, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    below_edges = np.searchsorted(ordered, edges, side="left")
    counts = np.diff(np.concatenate([[0], below_edges, [n]]))
    points = sketch_points(ordered, sketch_size, edges)
    below = np.searchsorted(ordered, points, side="left")
    at = np.searchsorted(ordered, points, side="right") - below
    mean = float(ordered.mean())
    low, high = float(ordered[0]), float(ordered[-1])
    centred = np.subtract(ordered, mean, out=ordered)  # our own copy: no further allocation
    m2 = float(np.dot(centred, centred)) / n
    squares = np.multiply(centred, centred, out=centred)
    kurtosis = float(np.dot(squares, squares) / n / (m2 * m2)) if m2 > 0 else None
    return {
        "kind": "numeric",
        "null_share": float(null_share),
        "n": n,
        "edges": [float(e) for e in edges],
        "counts": [int(c) for c in counts],
        "mean": mean,
        "var": m2 * n / (n - 1) if n > 1 else None,
        "min": low,
        "max": high,
        "kurtosis": kurtosis,
        "sketch": {"points": points.tolist(), "below": below.tolist(), "at": at.tolist()},
    }


def sketch_points(ordered: np.ndarray, sketch_size: int, edges: np.ndarray) -> np.ndarray:
    """Grid points for sorted values: all distinct values when there are at most
    ``sketch_size`` of them, else the values at ``sketch_size + 1`` evenly spaced ranks;
    always with ``edges``.

    >>> sketch_points(np.arange(10.0), 3, np.array([4.5])).tolist()
    [0.0, 3.0, 4.5, 6.0, 9.0]
    """
    distinct = ordered[np.concatenate([[True], ordered[1:] != ordered[:-1]])]
    if distinct.size <= sketch_size:
        chosen = distinct
    else:
        ranks = np.round(np.linspace(0, ordered.size - 1, sketch_size + 1)).astype(np.int64)
        chosen = ordered[ranks]
    return np.unique(np.concatenate([chosen, edges]))


def reference_summary(spec: dict[str, Any]) -> tuple[Summary, bool]:
    """A profile's numeric column as a ``Summary`` on its grid, and whether it has a sketch.

    Format 1 columns (no sketch) give a grid of the PSI edges only: enough for ``psi`` and
    ``js``, not for ``ks`` and ``wasserstein``.
    """
    n = int(spec["n"])
    mean = spec["mean"] if spec["mean"] is not None else 0.0
    var = spec["var"] if spec["var"] is not None else 0.0
    low = spec["min"] if spec["min"] is not None else np.inf
    high = spec["max"] if spec["max"] is not None else -np.inf
    sketch = spec.get("sketch")
    if sketch is not None:
        points = np.asarray(sketch["points"], dtype=np.float64)
        below = np.asarray(sketch["below"], dtype=np.int64)
        at = np.asarray(sketch["at"], dtype=np.int64)
    else:
        points = np.asarray(spec["edges"], dtype=np.float64)
        below = np.cumsum(np.asarray(spec["counts"], dtype=np.int64))[:-1]
        at = np.zeros(points.size, dtype=np.int64)
    s2 = var * (n - 1) if n > 1 else 0.0
    summary = Summary(points, below, at, n, float(mean), 0.0, float(s2), float(low),
                      float(high), 0.0, 0.0)
    return summary, sketch is not None


def target_reference(series: pd.Series, categorical: bool, bins: int = 10,
                     sketch_size: int = DEFAULT_SKETCH_SIZE) -> dict[str, Any]:
    """The ``profile["target"]`` entry for a version's labelled training target: the column's
    name and its profile entry (categorical for classifiers, numeric for regressors), against
    which target drift (label shift) is judged like a feature's.

    >>> target_reference(pd.Series([0, 1, 1], name="y"), categorical=True)
    {'column': 'y', 'spec': {'kind': 'categorical', 'null_share': 0.0, 'n': 3, \
'frequencies': {'1': 2, '0': 1}}}
    """
    if categorical:
        spec = categorical_profile(label_values(series))
    else:
        spec = numeric_profile(numeric_values(series), len(series), bins, sketch_size)
    return {"column": str(series.name), "spec": spec}


def target_profile(profile: dict[str, Any]) -> dict[str, Any] | None:
    """A one-column profile of the version's target (``detect_drift`` reads it like any
    profile), or None when the version was profiled without its target."""
    target = profile.get("target")
    if target is None:
        return None
    return {key: value for key, value in profile.items()
            if key not in ("columns", "importance", "target", "estimator")} | {
        "columns": {target["column"]: target["spec"]}}


def label_values(series: pd.Series) -> pd.Series:
    """Class labels keyed as the reference keys them: booleans, and floats that are whole
    numbers (integer labels that gained a NaN while labels were missing), as integers.

    >>> label_values(pd.Series([1.0, 0.0, None])).dropna().tolist()
    [1, 0]
    """
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype("int64")
    if pd.api.types.is_float_dtype(series.dtype):
        values = series.dropna()
        if len(values) and bool(np.all(np.isfinite(values)) and np.all(values == np.round(values))):
            return series.astype("Int64")
    return series


def category_counts(series: pd.Series) -> tuple[list[str], np.ndarray]:
    """Distinct non-null values as ``str`` with their counts, most frequent first.

    Values whose ``str`` coincide (``1`` and ``"1"``) are merged. Loops run over distinct
    categories, never over rows.

    >>> category_counts(pd.Series(["b", "a", None, "b"]))
    (['b', 'a'], array([2, 1]))
    """
    counts = series.value_counts(dropna=True, sort=False)
    merged: dict[str, int] = {}
    for value, count in zip(counts.index, counts.to_numpy(), strict=True):
        if count:
            key = str(value)
            merged[key] = merged.get(key, 0) + int(count)
    return ordered_counts(merged)


def ordered_counts(merged: dict[str, int]) -> tuple[list[str], np.ndarray]:
    """Keys and counts, most frequent first (ties by key)."""
    ordered = sorted(merged.items(), key=lambda item: (-item[1], item[0]))
    return [k for k, _ in ordered], np.array([c for _, c in ordered], dtype=np.int64)


def categorical_profile(series: pd.Series) -> dict[str, Any]:
    """The categorical column entry of a profile."""
    rows = len(series)
    keys, counts = category_counts(series)
    n = int(counts.sum())
    return {
        "kind": "categorical",
        "null_share": float((rows - n) / rows) if rows else 0.0,
        "n": n,
        "frequencies": {k: int(c) for k, c in zip(keys, counts, strict=True)},
    }
