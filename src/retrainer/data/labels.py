"""Late labels: rows are scored when they happen, their labels arrive later, joined by id."""

from __future__ import annotations

import numpy as np
import pandas as pd

from retrainer.data.sources import DataSource
from retrainer.domain import Window
from retrainer.exceptions import DataError, MissingTimeColumnError


def missing(series: pd.Series) -> pd.Series:
    """True where a value is missing: null, or a non-finite number (inf), as profiles count.

    >>> missing(pd.Series([1.0, None, float("inf")])).tolist()
    [False, True, True]
    """
    gone = series.isna()
    if pd.api.types.is_float_dtype(series.dtype):
        gone |= np.isinf(series.to_numpy(dtype="float64", na_value=np.nan))
    return gone


def labelled_rows(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """The rows of ``frame`` whose ``target`` is present (not null, not inf)."""
    return frame[~missing(frame[target])]


def join_labels(
    window: pd.DataFrame,
    labels: pd.DataFrame,
    id_column: str,
    target: str,
    label_column: str | None = None,
) -> tuple[pd.DataFrame, float]:
    """Fill ``target`` in a window from labels that arrived later, joined by ``id_column``.

    ``labels`` holds ``id_column`` and ``label_column`` (default: ``target``); when an id was
    labelled more than once the last row wins. A label already in the window is kept.
    Returns the joined window (same rows and order) and the share of its rows now labelled.
    Raises ``DataError`` when a column is missing.

    >>> window = pd.DataFrame({"id": [1, 2, 3], "y": [None, None, 7.0]})
    >>> late = pd.DataFrame({"id": [2, 1, 2], "y": [5.0, 4.0, 6.0]})
    >>> joined, coverage = join_labels(window, late, "id", "y")
    >>> joined["y"].tolist(), coverage
    ([4.0, 6.0, 7.0], 1.0)
    """
    source = label_column or target
    if id_column not in window.columns:
        raise DataError(f"the window lacks the id column {id_column!r}")
    missing = [c for c in (id_column, source) if c not in labels.columns]
    if missing:
        raise DataError(f"the labels lack columns {missing}")
    latest = labels.drop_duplicates(subset=[id_column], keep="last").set_index(id_column)[source]
    arrived = window[id_column].map(latest)
    joined = window.copy()
    joined[target] = (window[target].where(window[target].notna(), arrived)
                      if target in window.columns else arrived)
    coverage = float(joined[target].notna().mean()) if len(joined) else 0.0
    return joined, coverage


class LabelledSource:
    """A data source whose target is filled from a separate labels source for each window."""

    def __init__(self, rows: DataSource, labels: DataSource, id_column: str, target: str,
                 label_column: str | None = None):
        self.rows, self.labels = rows, labels
        self.id_column, self.target, self.label_column = id_column, target, label_column

    def load(self, window: Window) -> pd.DataFrame:
        frame = self.rows.load(window)
        try:
            labels = self.labels.load(window)
        except MissingTimeColumnError as error:
            raise DataError(f"labels: {error}; labels.time_column names the column that "
                            "dates the labels (default: the model's time_column)") from None
        joined, _ = join_labels(frame, labels, self.id_column, self.target, self.label_column)
        return joined

    def columns(self) -> list[str]:
        names = self.rows.columns()
        return names if self.target in names else [*names, self.target]
