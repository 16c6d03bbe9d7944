"""Expanding-window folds: scikit-learn's TimeSeriesSplit layout, on timestamps."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import TimeSeriesSplit

from retrainer.exceptions import DataError
from retrainer.training.cv import expanding_folds


@pytest.mark.parametrize(("n", "k"), [(100, 3), (101, 4), (37, 2)])
def test_same_layout_as_sklearn_time_series_split(n, k):
    times = pd.Series(pd.date_range("2024-01-01", periods=n, freq="h"))
    ours = expanding_folds(times, k)
    ref = list(TimeSeriesSplit(n_splits=k).split(np.zeros(n)))
    assert len(ours) == k
    for fold, (train, test) in zip(ours, ref, strict=True):
        np.testing.assert_array_equal(fold.train, train)
        np.testing.assert_array_equal(fold.test, test)


def test_gap_drops_training_rows_close_to_the_test_block():
    times = pd.Series(pd.date_range("2024-01-01", periods=200, freq="h"))
    for fold in expanding_folds(times, 3, timedelta(hours=24)):
        gap = times.iloc[fold.test[0]] - times.iloc[fold.train[-1]]
        assert gap > timedelta(hours=24) - timedelta(hours=1)
        assert gap <= timedelta(hours=25)


def test_ties_never_straddle_a_fold_boundary():
    times = pd.Series(pd.to_datetime(["2024-01-01"] * 3 + ["2024-01-02"] * 3
                                     + ["2024-01-03"] * 3 + ["2024-01-04"] * 3))
    for fold in expanding_folds(times, 3):
        assert times.iloc[fold.train].max() < times.iloc[fold.test].min()


def test_too_few_rows_or_unsorted_times():
    with pytest.raises(DataError, match="too few"):
        expanding_folds(pd.Series(pd.date_range("2024", periods=3, freq="h")), 5)
    with pytest.raises(DataError, match="no training rows"):
        expanding_folds(pd.Series(pd.date_range("2024", periods=30, freq="h")), 2,
                        timedelta(days=5))
    with pytest.raises(ValueError, match="sorted"):
        expanding_folds(pd.Series(pd.to_datetime(["2024-01-02", "2024-01-01"] * 5)), 2)
