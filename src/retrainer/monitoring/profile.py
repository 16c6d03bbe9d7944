"""Reference profiles: what a model version's training data looked like, as plain JSON.

A profile is built once, when a version is trained, and stored with the version. Drift
monitoring (``monitoring.drift``) compares a new window against the profile alone; the
reference data is never needed again.

Format 1 (``PROFILE_FORMAT``)::

    {"format": 1, "rows": int, "bins": int, "columns": {name: column}}

    numeric column:     {"kind": "numeric", "null_share", "n", "edges", "counts",
                         "mean", "var", "min", "max"}
    categorical column: {"kind": "categorical", "null_share", "n", "frequencies"}

``edges`` are the inner quantile edges of the non-null values (deduplicated, so a constant
column yields one edge); the ``len(edges) + 1`` bins are ``(-inf, e0), [e0, e1), ...,
[e_last, +inf)`` and ``counts`` holds the reference rows in each. ``var`` uses ddof=1.
Statistics that cannot be computed (no values; ``var`` with fewer than two) are ``None``.
Non-finite numbers (NaN, +-inf) count as null. Categories are keyed by ``str(value)``.

New statistics are added under new keys; a change that alters the meaning of an existing
key bumps ``PROFILE_FORMAT``.

>>> frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, None], "c": ["a", "b", "a", "a"]})
>>> profile = build_profile(frame, numeric=["x"], categorical=["c"], bins=2)
>>> profile["rows"], profile["columns"]["x"]["edges"], profile["columns"]["x"]["counts"]
(4, [2.0], [1, 2])
>>> profile["columns"]["x"]["null_share"], profile["columns"]["c"]["frequencies"]
(0.25, {'a': 3, 'b': 1})
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from retrainer.exceptions import DataError

PROFILE_FORMAT = 1


def build_profile(
    frame: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    bins: int = 10,
) -> dict[str, Any]:
    """Profile ``numeric`` and ``categorical`` columns of ``frame`` (see the module docstring).

    The result holds only JSON types (no NaN). Raises ``DataError`` when a column is missing
    or a numeric column holds values that are not numbers, and ``ValueError`` when a column
    is listed as both numeric and categorical or ``bins`` < 2.
    """
    if bins < 2:
        raise ValueError(f"bins must be at least 2, got {bins}")
    both = sorted(set(numeric) & set(categorical))
    if both:
        raise ValueError(f"columns {both} are listed as both numeric and categorical")
    missing = [c for c in [*numeric, *categorical] if c not in frame.columns]
    if missing:
        raise DataError(f"cannot profile missing columns {missing}")
    rows = len(frame)
    columns: dict[str, Any] = {}
    for name in numeric:
        columns[name] = numeric_profile(numeric_values(frame[name]), rows, bins)
    for name in categorical:
        columns[name] = categorical_profile(frame[name])
    return {"format": PROFILE_FORMAT, "rows": rows, "bins": bins, "columns": columns}


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


def numeric_profile(values: np.ndarray, rows: int, bins: int) -> dict[str, Any]:
    """The numeric column entry of a profile for float ``values`` (NaN = null)."""
    finite = finite_values(values)
    n = int(finite.size)
    null_share = (rows - n) / rows if rows else 0.0
    if n == 0:
        return {
            "kind": "numeric", "null_share": float(null_share), "n": 0, "edges": [],
            "counts": [0], "mean": None, "var": None, "min": None, "max": None,
        }
    edges = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    counts = bin_counts(finite, edges)
    return {
        "kind": "numeric",
        "null_share": float(null_share),
        "n": n,
        "edges": [float(e) for e in edges],
        "counts": [int(c) for c in counts],
        "mean": float(finite.mean()),
        "var": float(finite.var(ddof=1)) if n > 1 else None,
        "min": float(finite.min()),
        "max": float(finite.max()),
    }


def finite_values(values: np.ndarray) -> np.ndarray:
    """``values`` without NaN and +-inf (no copy when all are finite)."""
    mask = np.isfinite(values)
    return values if mask.all() else values[mask]


def bin_counts(finite: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin ``(-inf, e0), [e0, e1), ..., [e_last, +inf)`` of finite values.

    One vectorised ``count_nonzero(values < edge)`` pass per edge: with at most ~100 edges
    this streams memory at full speed and is ~10x faster than ``searchsorted`` + ``bincount``
    on unsorted data (branch mispredictions).

    >>> bin_counts(np.array([0.0, 1.0, 1.5, 2.0, 9.0]), np.array([1.0, 2.0])).tolist()
    [1, 2, 2]
    """
    below = [np.count_nonzero(finite < edge) for edge in edges]  # loops over edges, not rows
    return np.diff(np.array([0, *below, finite.size], dtype=np.int64))


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
