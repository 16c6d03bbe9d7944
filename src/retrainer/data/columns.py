"""Columns no model should learn from: dates, text identifiers and integer row counters
(``unusable_columns``), and columns known only once the target is (``target_leaks``): parts
of it, relabellings of it, and roundings, thresholds or rescalings of it.

The backtest leaves them out when it picks features itself; readiness fails a window whose
implied features (no ``features`` list in the config) include one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from retrainer.data.sources import NUMERIC_DATE

__all__ = ["by_reason", "target_leaks", "unusable_columns"]

#: rows the leak checks read (evenly spaced over the frame): an identity holds on every row
LEAK_SAMPLE_ROWS = 20_000
#: an identity's residual, relative to the target's spread, below which it is exact (float
#: sums of parts leave ~1e-15; a real model's noise is many orders above)
EXACT = 1e-9


#: dates not written as three numbers: a month (2020-01), a quarter (2020Q1), or with the
#: month's name (Jan 2020, 12 Jan 2020, January 5, 2020); pandas reads each of them
WORDED_DATE = (r"(?i)^\s*(\d{4}[-/.](0?[1-9]|1[0-2])|\d{4}\s*-?\s*Q[1-4]|(\d{1,2}\s+)?"
               r"(jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|"
               r"sept?(ember)?|oct(ober)?|nov(ember)?|dec(ember)?)\.?\s+(\d{1,2},?\s+)?"
               r"\d{4})\s*$")


def unusable_columns(frame: pd.DataFrame, skip: set[str]) -> dict[str, str]:
    """Columns of ``frame`` (but ``skip``) no model should learn from, and why. Nested values
    (Parquet lists and structs) no model reads; dates (text or typed) and text identifiers,
    as categories, take a new value in every batch that no tree has seen; a row counter
    (bike sharing's ``instant``, Beijing's ``No``) only tells a tree how late a row is, and
    every later row falls past the end of what it was trained on.

    >>> frame = pd.DataFrame({"id": [f"o{i}" for i in range(200)], "colour": ["red"] * 200,
    ...                       "day": ["2024-01-02"] * 200, "No": range(1, 201)})
    >>> unusable_columns(frame, set())  # doctest: +NORMALIZE_WHITESPACE
    {'id': 'an identifier (a different value on almost every row)', 'day': 'dates',
     'No': 'a row counter (a different, increasing whole number on every row)'}
    >>> months = pd.DataFrame({"ym": ["2020-01", "2020-12"] * 50, "named": ["Jan 2020"] * 100,
    ...                        "size": ["XL 2020"] * 100})
    >>> unusable_columns(months, set())
    {'ym': 'dates', 'named': 'dates'}
    """
    found = {}
    present = frame.notna().sum()
    for column, dtype in frame.dtypes.items():
        # the common case first: a float or boolean column is none of these
        if column in skip or pd.api.types.is_float_dtype(dtype) or pd.api.types.is_bool_dtype(
                dtype) or present[column] < 100:
            continue
        series = frame[column]
        if pd.api.types.is_datetime64_any_dtype(dtype):
            found[str(column)] = "dates"
            continue
        if pd.api.types.is_integer_dtype(dtype):
            if series.is_monotonic_increasing and series.is_unique:
                found[str(column)] = ("a row counter (a different, increasing whole number on "
                                      "every row)")
            continue
        if not (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)):
            continue
        values = series.dropna()
        if not all(pd.api.types.is_scalar(v) for v in values.head(100)):
            found[str(column)] = "nested values (lists or records), which no model reads"
            continue
        values = values.astype(str)
        if (values.str.match(NUMERIC_DATE).mean() >= 0.99
                or values.str.match(WORDED_DATE).mean() >= 0.99):
            found[str(column)] = "dates"
        elif values.nunique() >= 0.9 * len(values):
            found[str(column)] = "an identifier (a different value on almost every row)"
    return found


def by_reason(columns: dict[str, str]) -> list[tuple[str, str]]:
    """``(names, why)`` with the columns that share a reason named together, in order.

    >>> by_reason({"casual": "part of cnt", "No": "a row counter", "registered": "part of cnt"})
    [('casual, registered', 'part of cnt'), ('No', 'a row counter')]
    """
    grouped: dict[str, list[str]] = {}
    for name, why in columns.items():
        grouped.setdefault(why, []).append(str(name))
    return [(", ".join(names), why) for why, names in grouped.items()]


def target_leaks(frame: pd.DataFrame, target: str, features: Sequence[str]) -> dict[str, str]:
    """Features that hold the target itself, and why: a numeric target that numeric features
    reproduce exactly, on every row, as a weighted sum (bike sharing's ``casual`` and
    ``registered`` add up to ``cnt``), a feature that relabels the target one to one (the
    class under another name), or a feature computed from the target (a count rounded to tens,
    or a flag for high counts, next to the count; ``_derived``). Such columns exist
    only once the target is known: a model learns the identity, scores perfectly on every
    holdout and cannot predict.

    >>> frame = pd.DataFrame({"casual": range(0, 300, 3), "registered": [i % 7 for i in range(100)],
    ...                       "temp": [i % 11 for i in range(100)]})
    >>> frame["cnt"] = frame["casual"] + frame["registered"]
    >>> frame["level"] = np.where(frame["cnt"] > 150, "high", "low")
    >>> target_leaks(frame, "cnt", ["casual", "registered", "temp", "level"])
    {'casual': 'part of the target (cnt = casual + registered on every row)', \
'registered': 'part of the target (cnt = casual + registered on every row)', \
'level': "the target in another form (one value of it for each value of cnt, in cnt's \
order: a rounding, threshold or rescaling of it)"}
    >>> target_leaks(frame.assign(hi=frame["level"] == "high"), "level", ["temp", "hi"])
    {'hi': 'the target under another name (one value of it for each value of level)'}
    """
    if target not in frame.columns:
        return {}
    present = [c for c in features if c in frame.columns and c != target]
    labelled = np.flatnonzero(frame[target].notna().to_numpy())
    if len(labelled) > LEAK_SAMPLE_ROWS:
        labelled = labelled[np.linspace(0, len(labelled) - 1, LEAK_SAMPLE_ROWS).astype(int)]
    rows = frame.iloc[labelled][[*present, target]]
    found: dict[str, str] = {}
    # a sparse column would leave too few complete rows to test the others on
    null_shares, dtypes = rows.isna().mean().to_dict(), rows.dtypes.to_dict()
    numeric = [c for c in present if _is_number(dtypes[c]) and null_shares[c] <= 0.1]
    if _is_number(dtypes[target]) and numeric:
        found.update(_sum_of_parts(rows[[*numeric, target]].dropna(), target, numeric))
    found.update(_relabellings(rows, target, [c for c in present if c not in found]))
    found.update(_derived(rows, target, [c for c in present if c not in found],
                          numeric=set(numeric)))
    return found


def _is_number(dtype: object) -> bool:
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _relabellings(rows: pd.DataFrame, target: str, features: Sequence[str]) -> dict[str, str]:
    """Features with a value for each value of the target and the other way round, when the
    target repeats its values (a target unique to each row pairs with any identifier) on rows
    that differ: a file that holds every row twice repeats every value, and then any column
    with a value per row, a measurement as much as an identifier, would pair with it."""
    codes, labels = pd.factorize(rows[target])
    seen = codes >= 0
    if len(labels) < 2 or len(labels) > 0.5 * seen.sum():
        return {}
    # many values: do they repeat, or do whole rows?
    if len(labels) > 0.05 * seen.sum() and len(labels) > 0.5 * len(rows[seen].drop_duplicates()):
        return {}
    found = {}
    for column in _may_relabel(rows, codes, features):
        values, kinds = pd.factorize(rows[column])
        both = seen & (values >= 0)
        if len(kinds) != len(labels) or both.sum() < 0.99 * seen.sum():
            continue
        pairs = np.unique(values[both].astype(np.int64) * len(labels) + codes[both])
        if len(pairs) == len(labels):
            found[str(column)] = (f"the target under another name (one value of it for each "
                                  f"value of {target})")
    return found


def _may_relabel(rows: pd.DataFrame, codes: np.ndarray, features: Sequence[str]) -> list[str]:
    """``features`` less the numeric ones that cannot relabel the target: on any rows where
    both are present, a one-to-one relabelling takes exactly as many values as the target.
    One sort of a small sample of labelled rows settles most numeric columns at once, where
    factorising each whole column cost 0.4 ms (80 ms a job on 200 columns)."""
    dtypes = rows.dtypes.to_dict()
    numeric = [c for c in features if _is_number(dtypes[c])]
    if len(numeric) < 2:
        return list(features)
    labelled = np.flatnonzero(codes >= 0)
    sample = labelled[np.linspace(0, len(labelled) - 1, min(len(labelled), 256)).astype(int)]
    block = np.sort(rows.iloc[sample][numeric].to_numpy(dtype=float, na_value=np.nan), axis=0)
    distinct = 1 + (block[1:] != block[:-1]).sum(axis=0)
    judged = ~np.isnan(block).any(axis=0)  # a null in the sample: the full check decides
    target_distinct = len(np.unique(codes[sample]))
    ruled_out = {c for c, d, ok in zip(numeric, distinct, judged, strict=True)
                 if ok and d != target_distinct}
    return [c for c in features if c not in ruled_out]


def _derived(rows: pd.DataFrame, target: str, features: Sequence[str], numeric: set[str]
             ) -> dict[str, str]:
    """Features computed from the target: on every labelled row, each value of the target
    comes with one value of the feature, which for a numeric target also follows its order
    (a count rounded to tens, a 0/1 flag for high values, a log or any rescaling; a text
    feature: each of its values holds one unbroken range of the target, as "high" and
    "low"); for classes, a grouping of them. A measurement that predicts the target, however
    well, varies among rows of one target value. The other way round (a class cut from a
    measurement by a threshold) is not flagged: a label set by a rule on a feature is a task,
    not a leak. A sample of rows screens every column at once: what holds on all rows holds
    on any few."""
    codes = pd.factorize(rows[target])[0]
    labelled = np.flatnonzero(codes >= 0)
    values = (rows[target].to_numpy(dtype=float, na_value=np.nan)
              if _is_number(rows.dtypes[target]) else None)
    if values is not None:
        labelled = labelled[np.isfinite(values[labelled])]
    kinds = int((np.bincount(codes[labelled]) > 0).sum()) if len(labelled) else 0
    if len(labelled) < 100 or not features or kinds < 2:
        return {}
    if values is None and not (kinds <= 0.05 * len(labelled) or kinds <= 0.5 * len(
            rows.iloc[labelled].drop_duplicates())):
        return {}  # classes that hardly repeat (but with whole rows) fix any column
    key = codes.astype(float) if values is None else values
    numbers = [c for c in features if c in numeric]
    texts = [c for c in features if c not in numeric]
    sample = labelled[np.linspace(0, len(labelled) - 1, min(len(labelled), 256)).astype(int)]
    found = {}
    for names, how in ((numbers, "order"), (texts, "runs")):
        if not names:
            continue
        how = how if values is not None else "any"
        block = _as_numbers(rows.iloc[sample][names])
        screened = _fixed_by(key[sample], block, how, most=0.5)
        screened |= np.isnan(block).any(axis=0)  # a gap in the sample: check every row
        for index in (int(i) for i in np.flatnonzero(screened)):
            column = _as_numbers(rows[[names[index]]])[labelled, 0]
            present = ~np.isnan(column)
            if present.sum() < 0.99 * len(column):
                continue
            if _fixed_by(key[labelled][present], column[present, None], how)[0]:
                found[str(names[index])] = (
                    f"a grouping of the target (one value of it for each value of {target})"
                    if values is None else
                    f"the target in another form (one value of it for each value of {target}, "
                    f"in {target}'s order: a rounding, threshold or rescaling of it)")
    return found


def _as_numbers(frame: pd.DataFrame) -> np.ndarray:
    """Numeric columns as floats, others as the codes of their values; missing: NaN."""
    columns = []
    for name, dtype in frame.dtypes.items():
        if _is_number(dtype):
            columns.append(frame[name].to_numpy(dtype=float, na_value=np.nan))
        else:
            codes = pd.factorize(frame[name])[0].astype(float)
            columns.append(np.where(codes < 0, np.nan, codes))
    return np.column_stack(columns)


def _fixed_by(key: np.ndarray, block: np.ndarray, how: str, most: float = 0.05
              ) -> np.ndarray:
    """Per column of ``block`` (rows without gaps): does ``key`` (the target) fix it, with
    at least two values, and ``how``: ``order`` (in ``key``'s order), ``runs`` (each value
    of the column in one unbroken range of ``key``, with at most ``most`` of the rows' count
    of values) or ``any``?"""
    order = np.argsort(key, kind="stable")
    same_key = (key[order][1:] == key[order][:-1])[:, None]
    steps = np.diff(block[order], axis=0)
    moves = steps != 0
    fixed = ~(same_key & moves).any(axis=0) & moves.any(axis=0)
    if how == "order":
        fixed &= (steps >= 0).all(axis=0) | (steps <= 0).all(axis=0)
    elif how == "runs":
        distinct = 1 + (np.diff(np.sort(block, axis=0), axis=0) != 0).sum(axis=0)
        # a value per row (an identifier, or per pair of rows in a file that holds each row
        # twice) is a range of its own anywhere: a grouping has far fewer values than rows
        fixed &= (moves.sum(axis=0) == distinct - 1) & (distinct <= most * len(block))
    return fixed


def _exact_fit(x: np.ndarray, y: np.ndarray, spread: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(weights of the standardised varying columns, every column's scale, which vary) of a
    least-squares fit of ``y`` that leaves no residual beyond ``spread``, or None."""
    centred = x - x.mean(axis=0)
    scales = centred.std(axis=0)
    varying = scales > 0
    standard = centred[:, varying] / scales[varying]
    weights = np.linalg.lstsq(standard, y - y.mean(), rcond=None)[0]
    residual = y - y.mean() - standard @ weights
    if float(np.sqrt(np.mean(residual ** 2))) > spread:
        return None
    return weights, scales, varying


def _sum_of_parts(rows: pd.DataFrame, target: str, numeric: Sequence[str]) -> dict[str, str]:
    """The numeric features of an exact linear identity with the target, if one holds."""
    rows = rows[np.isfinite(rows[target].to_numpy(dtype=float))]  # infinite: no label
    y = rows[target].to_numpy(dtype=float)
    x = rows[list(numeric)].to_numpy(dtype=float)
    spread = float(y.std())
    # exact to the precision the data is stored in: float32 parts add up to 1e-7 or so
    floats = [np.dtype(getattr(d, "numpy_dtype", d)) for d in rows.dtypes
              if pd.api.types.is_float_dtype(d)]
    allowed = max([EXACT, *(16 * float(np.finfo(d).eps) for d in floats)]) * spread
    enough = 2 * len(numeric) + 30
    if len(rows) < enough or spread == 0 or not np.isfinite(x).all():
        return {}
    if len(rows) > 2 * enough:  # an identity of every row holds on any few of them: screen
        few = np.linspace(0, len(rows) - 1, enough).astype(int)
        if _exact_fit(x[few], y[few], allowed) is None:
            return {}
    fitted = _exact_fit(x, y, allowed)
    if fitted is None:
        return {}
    weights, scales, varying = fitted
    names = [c for c, v in zip(numeric, varying, strict=True) if v]
    coefficients = weights / scales[varying]
    parts = [(name, coefficient) for name, coefficient, weight
             in zip(names, coefficients, weights, strict=True) if abs(weight) > 1e-6 * spread]
    if not parts:
        return {}
    offset = float(y.mean() - sum(c * rows[name].mean() for name, c in parts))
    terms = [(c, name if round(abs(c), 6) == 1 else f"{abs(c):.6g}·{name}")
             for name, c in sorted(parts, key=lambda part: part[1] < 0)]  # a + b - c
    if abs(offset) > 1e-6 * spread:
        terms.append((offset, f"{abs(offset):.6g}"))
    identity = ("-" if terms[0][0] < 0 else "") + terms[0][1] + "".join(
        f" {'-' if c < 0 else '+'} {text}" for c, text in terms[1:])
    return {name: f"part of the target ({target} = {identity} on every row)" for name, _ in parts}
