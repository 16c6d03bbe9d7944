"""Time-series cross-validation: expanding-window folds with a gap, never shuffled.

The layout is scikit-learn's ``TimeSeriesSplit(n_splits=k)``: the time-ordered rows are cut
into ``k + 1`` blocks of ``n // (k + 1)`` rows (the first block takes the remainder); fold
``i`` tests on block ``i + 1`` and trains on every row before it. Two differences, both about
time rather than row positions:

* a cut falls on a timestamp: rows that share the cut timestamp all go to the test block, so
  no moment is split between training and test;
* ``gap`` is a duration: training rows less than ``gap`` before the test block's first
  timestamp are dropped (e.g. ``24h`` when features look a day back).

Tuning scores trials on these folds, and the ``cv_paired_t`` gate compares candidate and
production recipes on the same folds. Early stopping inside a fold uses the most recent slice
of that fold's *training* rows, never its test rows.

>>> times = pd.Series(pd.date_range("2024-01-01", periods=8, freq="h"))
>>> [(f.train.tolist(), f.test.tolist()) for f in expanding_folds(times, 3)]
[([0, 1], [2, 3]), ([0, 1, 2, 3], [4, 5]), ([0, 1, 2, 3, 4, 5], [6, 7])]
>>> [f.train.tolist() for f in expanding_folds(times, 3, timedelta(hours=1))]
[[0], [0, 1, 2], [0, 1, 2, 3, 4]]
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from retrainer.exceptions import DataError


@dataclass(frozen=True)
class Fold:
    """Positions (into the time-sorted frame) of one fold's training and test rows."""

    index: int
    train: np.ndarray
    test: np.ndarray
    test_start: pd.Timestamp
    test_end: pd.Timestamp

    def describe(self) -> dict[str, object]:
        """JSON-ready summary for lineage and reports."""
        return {
            "fold": self.index,
            "train_rows": len(self.train),
            "test_rows": len(self.test),
            "test_start": self.test_start.isoformat(),
            "test_end": self.test_end.isoformat(),
        }


def expanding_folds(times: pd.Series, n_folds: int, gap: timedelta = timedelta(0)) -> list[Fold]:
    """Expanding-window folds over ``times``, which must already be sorted ascending.

    Raises ValueError for ``n_folds < 2`` or unsorted times, and DataError when the rows are
    too few (or the gap too wide) for every fold to keep training and test rows.
    """
    if n_folds < 2:
        raise ValueError(f"n_folds must be >= 2, got {n_folds}")
    values = pd.to_datetime(pd.Series(times)).reset_index(drop=True)
    if not values.is_monotonic_increasing:
        raise ValueError("times must be sorted ascending (use time_split or sort first)")
    n = len(values)
    test_size = n // (n_folds + 1)
    if test_size < 1:
        raise DataError(f"{n} rows are too few for {n_folds} cross-validation folds")
    array = values.to_numpy()
    folds = []
    for i in range(n_folds):
        start = n - (n_folds - i) * test_size
        stop = n - (n_folds - i - 1) * test_size
        first = array[start]
        begin = int(np.searchsorted(array, first, side="left"))  # ties join the test block
        end = n if stop >= n else int(np.searchsorted(array, array[stop], side="left"))
        cutoff = first - np.timedelta64(gap)
        train_stop = int(np.searchsorted(array, cutoff, side="left"))
        if train_stop == 0 or end <= begin:
            raise DataError(
                f"cross-validation fold {i + 1} of {n_folds} has no "
                f"{'training' if train_stop == 0 else 'test'} rows ({n} rows, gap {gap}); "
                "use fewer folds, a smaller gap or a wider training window"
            )
        folds.append(
            Fold(
                index=i,
                train=np.arange(train_stop),
                test=np.arange(begin, end),
                test_start=pd.Timestamp(values.iloc[begin]),
                test_end=pd.Timestamp(values.iloc[end - 1]),
            )
        )
    return folds
