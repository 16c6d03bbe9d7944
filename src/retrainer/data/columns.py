"""Columns no model should learn from: text dates, text identifiers and integer row counters.

The backtest leaves them out when it picks features itself; readiness fails a window whose
implied features (no ``features`` list in the config) include one.
"""

from __future__ import annotations

import pandas as pd

from retrainer.data.sources import NUMERIC_DATE

__all__ = ["unusable_columns"]


def unusable_columns(frame: pd.DataFrame, skip: set[str]) -> dict[str, str]:
    """Columns of ``frame`` (but ``skip``) no model should learn from, and why. Text dates and
    identifiers, as categories, take a new value in every batch that no tree has seen; a row
    counter (bike sharing's ``instant``, Beijing's ``No``) only tells a tree how late a row
    is, and every later row falls past the end of what it was trained on.

    >>> frame = pd.DataFrame({"id": [f"o{i}" for i in range(200)], "colour": ["red"] * 200,
    ...                       "day": ["2024-01-02"] * 200, "No": range(1, 201)})
    >>> unusable_columns(frame, set())  # doctest: +NORMALIZE_WHITESPACE
    {'id': 'an identifier (a different value on almost every row)', 'day': 'dates',
     'No': 'a row counter (a different, increasing whole number on every row)'}
    """
    found = {}
    for column in frame.columns:
        series = frame[column]
        if column in skip or len(series.dropna()) < 100:
            continue
        if pd.api.types.is_integer_dtype(series) and not pd.api.types.is_bool_dtype(series):
            if series.is_monotonic_increasing and series.is_unique:
                found[str(column)] = ("a row counter (a different, increasing whole number on "
                                      "every row)")
            continue
        if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
            continue
        values = series.dropna().astype(str)
        if values.str.match(NUMERIC_DATE).mean() >= 0.99:
            found[str(column)] = "dates"
        elif values.nunique() >= 0.9 * len(values):
            found[str(column)] = "an identifier (a different value on almost every row)"
    return found
