"""History replayed as a live system would have seen it (``retrainer backtest``).

A ``ReplaySource`` holds a whole dataset in memory and answers every window as of its
clock's time: rows after "now" do not exist yet, and a row's label exists only once it is
``label_delay`` old. Monitors, readiness checks and training jobs all load through it, so
no model can see a label before the replay clock has passed its arrival.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from retrainer.clock import Clock
from retrainer.domain import Window
from retrainer.exceptions import UsageError

_sources: dict[str, ReplaySource] = {}


def naive_utc(when: Any) -> Any:
    """UTC instants as naive ``datetime64[ns]`` (a Series becomes an array): the form NumPy
    can binary-search."""
    if isinstance(when, pd.Series):
        return when.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]")
    stamp = pd.Timestamp(when)
    stamp = stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo else stamp
    return stamp.to_datetime64().astype("datetime64[ns]")


class ReplaySource:
    def __init__(self, frame: pd.DataFrame, time_column: str, target: str, clock: Clock,
                 label_delay: timedelta = timedelta(0)):
        times = pd.to_datetime(frame[time_column], utc=True)
        order = np.argsort(times.to_numpy(), kind="stable")
        self.frame = frame.iloc[order].reset_index(drop=True)
        self.frame[time_column] = times.iloc[order].to_numpy()
        self._times = naive_utc(self.frame[time_column])
        self.time_column, self.target = time_column, target
        self.clock, self.label_delay = clock, label_delay

    def _index(self, when: object) -> int:
        return int(np.searchsorted(self._times, naive_utc(when), "left"))

    def load(self, window: Window) -> pd.DataFrame:
        now = self.clock.now()
        start, end = self._index(window.start), self._index(min(window.end, now))
        rows = self.frame.iloc[start:max(start, end)].reset_index(drop=True)
        labelled_until = self._index(now - self.label_delay) - start
        if labelled_until < len(rows):
            numeric = pd.api.types.is_numeric_dtype(rows[self.target])
            rows[self.target] = rows[self.target].astype("float64" if numeric else object)
            rows.loc[max(0, labelled_until):, self.target] = np.nan if numeric else None
        return rows

    def columns(self) -> list[str]:
        return list(self.frame.columns)


def register_replay(name: str, source: ReplaySource) -> None:
    _sources[name] = source


def drop_replay(name: str) -> None:
    _sources.pop(name, None)


def replay_source(name: str) -> ReplaySource:
    if name not in _sources:
        raise UsageError(f"source kind 'replay' ({name!r}) exists only inside a backtest; "
                          "use csv, parquet or sql")
    return _sources[name]
