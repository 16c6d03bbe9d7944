"""The history a backtest replays: sizes (row counts or periods), reading the file, the
task it implies, and the batches it is cut into."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from retrainer.data.columns import unusable_columns
from retrainer.data.replay import naive_utc
from retrainer.data.sources import arrow_frame, is_parquet, numbers_with_markers, parse_timestamps
from retrainer.domain.metrics import Task
from retrainer.exceptions import DataError, UsageError

SYNTHETIC_TIME = "__row_time__"
#: what one batch spans on the synthetic clock when row order is time: configured durations
#: (windows, cooldowns, ``auto``'s intervals and its value per metric-point-day) are set for
#: weekly batches, so a batch of rows reads as a week whatever the rows' real spacing
BATCH_SPAN = timedelta(weeks=1)
_SIZE = re.compile(r"^\s*(\d+)\s*([a-zA-Z]*)\s*$")
_EPOCH_1990, _EPOCH_2100 = 631_152_000, 4_102_444_800  # Unix seconds
_PERIODS = {"min": "minutes", "h": "hours", "d": "days", "w": "weeks", "m": "months",
            "y": "years"}


@dataclass(frozen=True)
class Size:
    """A row count (``unit`` None) or a calendar period (``30min``, ``7D``, ``2W``, ``1M``);
    units in either case but ``m``, which is ``min`` (minutes) or ``M`` (months) to others."""

    count: int
    unit: str | None = None

    @classmethod
    def parse(cls, text: str | int, what: str) -> Size:
        match = _SIZE.match(str(text))
        if not match or int(match.group(1)) <= 0:
            raise UsageError(f"--{what}: {text!r} is not a row count (1000) or a period "
                             "(30min, 12H, 7D, 2W, 1M, 1Y)")
        if match.group(2) == "m":
            raise UsageError(f"--{what}: {text!r} is ambiguous; write min for minutes "
                             f"({match.group(1)}min) or M for months ({match.group(1)}M)")
        unit = match.group(2).lower() or None
        if unit is not None and unit not in _PERIODS:
            raise UsageError(f"--{what}: unknown unit in {text!r}; use min, H, D, W, M or Y")
        return cls(int(match.group(1)), unit)

    def offset(self) -> pd.DateOffset:
        assert self.unit is not None
        return pd.DateOffset(**{_PERIODS[self.unit]: self.count})

    @property
    def text(self) -> str:
        """As the command line takes it: ``7D`` or ``1000``."""
        return f"{self.count}{self.unit if self.unit == 'min' else (self.unit or '').upper()}"

    def __str__(self) -> str:
        return self.text if self.unit else f"{self.count} rows"


def read_history(path: Path) -> pd.DataFrame:
    """A Parquet file (known by its first bytes, whatever its name; a named index, or one of
    times, becoming a column; decimals as floats, durations as seconds) or a CSV (gzip
    allowed; separated by commas, or by ``;``, tabs or ``|`` when the header says so; UTF-8,
    else Windows-1252 or Latin-1; with ``;``, decimal commas where they make more columns
    numeric; numbers with placeholders such as ``?`` for missing values read as numbers;
    names without the spaces around them), whole. Raises
    UsageError when there is no such file and DataError on anything unreadable."""
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    try:
        if is_parquet(path):
            import pyarrow.parquet as pq

            twice = _twice(pq.read_schema(path).names)
            if twice:  # pyarrow's own error dumps the whole schema
                raise DataError(f"{path}: columns named twice: {', '.join(twice)}; a "
                                "history's columns need distinct names")
            frame = arrow_frame(pq.read_table(path))
            if any(name is not None for name in frame.index.names) or isinstance(
                    frame.index, pd.DatetimeIndex):  # a named index or times: a column here
                frame = frame.reset_index()
            spans = [c for c, dtype in frame.dtypes.items()
                     if pd.api.types.is_timedelta64_dtype(dtype)]
            if spans:  # durations as seconds: else a category per distinct duration
                frame = frame.assign(**{str(c): frame[c].dt.total_seconds() for c in spans})
        else:
            frame = _read_csv(path)
            header = str(frame.columns[0]) if len(frame.columns) == 1 else ""
            separator = next((s for s in ";\t|" if s in header), None)
            if separator:  # one column named "a;b;c": the file is not comma-separated
                frame = _read_csv(path, sep=separator)
            if separator == ";":  # the European layout: 1,5 is one and a half
                decimal = _read_csv(path, sep=separator, decimal=",")
                if _numeric_columns(decimal) > _numeric_columns(frame):
                    frame = decimal
            frame = numbers_with_markers(frame)
            stripped = [str(c).strip() for c in frame.columns]
            if len(set(stripped)) == len(stripped):  # "a, b, c": the names are a, b and c
                frame.columns = pd.Index(stripped)
            # pandas reads a second "temp" as "temp.1": which name became which
            names = [n.strip() if isinstance(n, str) else n for n in _read_csv(
                path, header=None, nrows=1, dtype=str,
                **({"sep": separator} if separator else {})).iloc[0].tolist()]
            if len(names) == len(frame.columns) and _twice(names):
                frame.attrs["named_twice"] = {
                    name: [str(read) for given, read in zip(names, frame.columns, strict=True)
                           if given == name] for name in _twice(names)}
    except DataError:
        raise
    except Exception as error:  # pandas/pyarrow raise many kinds for a bad file
        raise DataError(f"{path}: cannot read it ({error})") from error
    if frame.empty:
        raise DataError(f"{path}: the file has no rows")
    return frame


def _twice(names: list[Any]) -> list[str]:
    """The names given to more than one column, in order (an empty header cell is none)."""
    seen = [str(n) for n in names if isinstance(n, str)]
    return list(dict.fromkeys(n for n in seen if seen.count(n) > 1))


def _read_csv(path: Path, **options: Any) -> pd.DataFrame:
    for encoding in ("utf-8", "cp1252"):
        try:
            return pd.read_csv(path, compression="infer", encoding=encoding, **options)
        except UnicodeDecodeError:
            continue
    return pd.read_csv(path, compression="infer", encoding="latin-1", **options)


def _numeric_columns(frame: pd.DataFrame) -> int:
    return sum(pd.api.types.is_numeric_dtype(dtype) for dtype in frame.dtypes)


def infer_task(target: pd.Series) -> Task:
    """Classification for non-numeric, boolean or few-valued integer targets."""
    return inferred_task(target)[0]


def inferred_task(target: pd.Series) -> tuple[Task, str]:
    """``infer_task`` and what it was told by, for a message that names the task it chose.

    >>> inferred_task(pd.Series([3, 3, 4]))
    (<Task.CLASSIFICATION: 'classification'>, 'whole numbers, 2 different values')
    """
    values = target.dropna()
    if pd.api.types.is_bool_dtype(values):
        return Task.CLASSIFICATION, "true and false"
    if not pd.api.types.is_numeric_dtype(values):
        return Task.CLASSIFICATION, "not numbers"
    numbers = values.to_numpy(dtype=float)
    numbers = numbers[np.isfinite(numbers)]
    integral = bool(np.all(np.equal(np.mod(numbers, 1), 0)))
    distinct = values.nunique()
    if integral and distinct <= 20:
        return Task.CLASSIFICATION, (f"whole numbers, {distinct} different value"
                                     + ("" if distinct == 1 else "s"))
    return Task.REGRESSION, "numbers" + ("" if integral else " with fractions") + (
        f", {distinct:,} different values" if integral else "")


@dataclass
class History:
    """The dataset, sorted by time, with the batch boundaries of the replay."""

    frame: pd.DataFrame
    time_column: str
    boundaries: list[pd.Timestamp]  # boundaries[0] ends the initial period; then one per batch
    start: pd.Timestamp
    row_step: timedelta  # mean spacing of rows, to turn row counts into durations
    dropped: int = 0  # rows left out because their time is missing or cannot be read

    @property
    def batches(self) -> int:
        return len(self.boundaries) - 1

    def empty_batches(self) -> tuple[int, pd.Timestamp | None, pd.Timestamp | None]:
        """How many batches hold no rows, and the start and end of the longest run of them."""
        empty = self._rows_per_batch() == 0
        longest, run, span = 0, 0, (None, None)
        for index, none in enumerate(empty):
            run = run + 1 if none else 0
            if run > longest:
                longest, span = run, (self.boundaries[index + 1 - run], self.boundaries[index + 1])
        return int(empty.sum()), span[0], span[1]

    def days_with_rows(self) -> float:
        """The days of the batches that hold rows: a stretch with none (the history stops
        for a year) served no predictions, so a policy's gain there is worth nothing."""
        held = self._rows_per_batch() > 0
        if held.all():
            return (self.boundaries[-1] - self.boundaries[0]).total_seconds() / 86400
        lengths = pd.Series(self.boundaries).diff().iloc[1:] / pd.Timedelta(days=1)
        return float(lengths[held].sum())

    def _rows_per_batch(self) -> np.ndarray:
        times = naive_utc(self.frame[self.time_column])
        edges = np.searchsorted(times, [naive_utc(b) for b in self.boundaries], "left")
        return np.diff(edges)

    def duration(self, size: Size, what: str = "") -> timedelta:
        """``size`` on the replay's clock; a period on a clock of row order (a batch a week,
        ours, not the data's) is a usage error of option ``what``."""
        if size.unit is None:
            return size.count * self.row_step
        if self.time_column == SYNTHETIC_TIME:
            raise UsageError(f"--{what}: a period ({size.text}) needs a --time-column holding "
                             "dates or Unix times; give it as a row count")
        anchor = self.boundaries[0]
        return (anchor + size.offset()).to_pydatetime() - anchor.to_pydatetime()

    def span_text(self, span: timedelta) -> str:
        """A duration as the user gave sizes: in rows when row order is time (the replay's
        clock, a batch a week, is ours, not theirs), else ``duration_text``."""
        if self.time_column != SYNTHETIC_TIME or span == timedelta(0):
            return duration_text(span)
        return f"{round(span / self.row_step):,} rows"


def epoch_unit(column: pd.Series) -> str | None:
    """``s``, ``ms``, ``us`` or ``ns`` when every value of a numeric column, or all but 1%,
    reads as a Unix time of that unit between 1990 and 2100, else None (a row counter, say).
    The others (a placeholder 0 for a missing time) are times that cannot be read:
    ``epoch_times`` leaves them out.

    >>> epoch_unit(pd.Series([1_700_000_000, 1_700_003_600])), epoch_unit(pd.Series([0, 1]))
    ('s', None)
    >>> epoch_unit(pd.Series([1.7e12])), epoch_unit(pd.Series([0] + [1_700_000_000] * 99))
    ('ms', 's')
    """
    values = column.dropna()
    if values.empty or pd.api.types.is_bool_dtype(column):
        return None
    numbers = values.to_numpy(dtype=float)
    for unit, per_second in (("s", 1), ("ms", 1e3), ("us", 1e6), ("ns", 1e9)):
        if _epoch_range(numbers, per_second).mean() >= 0.99:
            return unit
    return None


def epoch_times(column: pd.Series, unit: str) -> pd.Series:
    """A numeric column of Unix times in ``unit`` (``epoch_unit``) as UTC timestamps, NaT
    where a value is not one between 1990 and 2100.

    >>> [str(t) for t in epoch_times(pd.Series([0, 1_700_000_000]), "s")]
    ['NaT', '2023-11-14 22:13:20+00:00']
    """
    per_second = {"s": 1, "ms": 1e3, "us": 1e6, "ns": 1e9}[unit]
    inside = _epoch_range(column.to_numpy(dtype=float, na_value=np.nan), per_second)
    return pd.to_datetime(column.where(inside), unit=unit, utc=True)


def _epoch_range(numbers: np.ndarray, per_second: float) -> np.ndarray:
    return (numbers >= _EPOCH_1990 * per_second) & (numbers <= _EPOCH_2100 * per_second)


#: columns a clock may be spread over, in order: year, month and day at least
TIME_PARTS = ("year", "month", "day", "hour", "minute")
#: a text column of times of day (17:24, 17:24:00.5), the other half of a date column
TIME_OF_DAY = r"^\s*\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*$"


def find_time(frame: pd.DataFrame, target: str) -> tuple[str, str] | None:
    """``(time column, the columns it was found in)`` when a history given without a time column
    or a config holds its own clock, running in row order: ``year``, ``month``, ``day``
    (``hour``, ``minute``) columns, or the only text column of dates with the only text column
    of times of day, assembled into a new ``time`` column of ``frame``; or the only column
    of dates (text, or typed as Parquet stores them). None otherwise: row order is then time
    on a synthetic clock. Either way row order stays the order of the replay.

    >>> parts = pd.DataFrame({"Year": [2014, 2014], "month": [12, 12], "day": [31, 31],
    ...                       "hour": [22, 23], "pm": [80, 75]})
    >>> find_time(parts, "pm"), str(parts["time"].iloc[1])
    (('time', 'Year, month, day, hour'), '2014-12-31 23:00:00+00:00')
    """
    named = {str(c).lower(): c for c in frame.columns if c != target}
    parts = [named[p] for p in TIME_PARTS[:3]] if all(p in named for p in TIME_PARTS[:3]) else []
    for part in TIME_PARTS[3:]:
        if parts and part in named:
            parts.append(named[part])
        else:
            break
    if parts:
        pieces = frame[parts].set_axis([str(p).lower() for p in parts], axis=1)
        numeric = pieces.apply(pd.to_numeric, errors="coerce")
        numeric["year"] = numeric["year"].where(numeric["year"].between(1000, 9999))
        assembled = pd.to_datetime(numeric, errors="coerce", utc=True)
        if _runs_in_row_order(assembled):
            return _add_time(frame, assembled), ", ".join(str(p) for p in parts)
    dates = [c for c, why in unusable_columns(frame, {target}).items() if why == "dates"]
    if len(dates) != 1:
        return None
    date = dates[0]
    if pd.api.types.is_datetime64_any_dtype(frame[date]):  # typed, as Parquet stores times
        typed = pd.to_datetime(frame[date], utc=True)
        return (str(date), str(date)) if _runs_in_row_order(typed) else None
    clocks = [c for c in frame.columns if c not in (target, date) and _times_of_day(frame[c])]
    if len(clocks) == 1:  # a Date and a Time column (16/12/2006 and 17:24:00)
        both = frame[date].astype(str) + " " + frame[clocks[0]].astype(str)
        combined = _parsed(both.where(frame[date].notna() & frame[clocks[0]].notna()))
        if combined is not None and _runs_in_row_order(combined):
            return _add_time(frame, combined), f"{date}, {clocks[0]}"
    parsed = _parsed(frame[date])
    if parsed is not None and _runs_in_row_order(parsed):
        return str(date), str(date)
    return None


def unordered_dates(frame: pd.DataFrame, column: str) -> str:
    """Why the only column of dates, ``column``, was not taken for the clock: its dates do
    not run in row order, read two ways, or too few of them are dates.

    >>> unordered_dates(pd.DataFrame({"d": ["2024-01-02", "2024-01-01"]}), "d")
    'they do not run in row order'
    """
    values = frame[column]
    times = (pd.to_datetime(values, utc=True) if pd.api.types.is_datetime64_any_dtype(values)
             else _parsed(values))
    if times is None:
        return "they read two ways, month or day first"
    if times.notna().mean() < 0.99:
        return f"{times.isna().mean():.0%} of them are missing or not dates"
    return ("they do not run in row order" if times.nunique() > 1
            else "they are all the same time")


def _parsed(text: pd.Series) -> pd.Series | None:
    try:
        return parse_timestamps(text, "the data")
    except DataError:  # dates that read two ways: not a clock to guess at
        return None


def _times_of_day(column: pd.Series) -> bool:
    if not (pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)):
        return False
    values = column.dropna().astype(str)
    return len(values) > 0 and values.str.match(TIME_OF_DAY).mean() >= 0.99


def _add_time(frame: pd.DataFrame, times: pd.Series) -> str:
    name = next(n for n in ("time", "time_", "__time__") if n not in frame.columns)
    frame[name] = times
    return name


def _runs_in_row_order(times: pd.Series) -> bool:
    present = times.dropna()
    return (len(present) >= 0.99 * len(times) and present.nunique() > 1
            and present.is_monotonic_increasing)


#: longer batches for rows whose times come further apart than a week, shortest first
_SPARSE_BATCHES = (Size(2, "w"), Size(1, "m"), Size(3, "m"), Size(6, "m"), Size(1, "y"))


def default_batch(frame: pd.DataFrame, time_column: str) -> tuple[Size, float | None]:
    """The batch when ``--batch`` is not given and ``time_column`` holds dates or Unix times:
    ``7D``, or when its distinct times come further apart than a week (monthly snapshots),
    the shortest of 2W, 1M, 3M, 6M and 1Y that spans the median gap between them, so that
    batches are not mostly empty and a training window holds more than one time. Returns the
    batch and, when it is not 7D, that median gap in days.

    >>> months = pd.DataFrame({"t": pd.date_range("2020-01-01", periods=12, freq="MS")})
    >>> default_batch(months, "t")[0].text, default_batch(months.head(0), "t")[0].text
    ('1M', '7D')
    """
    week = Size(7, "d")
    column = frame[time_column]
    if pd.api.types.is_numeric_dtype(column):
        unit = epoch_unit(column)
        times = epoch_times(column, unit) if unit else None
    else:
        times = parse_timestamps(column, "the data")
    if times is None:
        return week, None
    distinct = times.dropna().drop_duplicates().sort_values()
    gap = distinct.diff().dropna().median() / pd.Timedelta(days=1) if len(distinct) > 2 else 0
    if not gap > 7:
        return week, None
    nominal = {"w": 7, "m": 365.25 / 12, "y": 365.25}
    fits = [s for s in _SPARSE_BATCHES if s.count * nominal[str(s.unit)] >= 0.9 * gap]
    return (fits[0] if fits else Size(math.ceil(gap / 365.25), "y")), float(gap)


def prepare_history(frame: pd.DataFrame, time_column: str | None, target: str, batch: Size,
                    initial: Size) -> History:
    """Sort by time and cut the batches. A numeric time column is read as Unix time when its
    values fit one unit. Without a datetime time column, row order (by a numeric time column
    that is not Unix time, when given) is time and the rows get evenly spaced synthetic
    timestamps, a batch of them spanning ``BATCH_SPAN``."""
    if target not in frame.columns:
        raise UsageError(f"--target: no column {target!r}{_near(frame, target)} (columns: "
                         f"{', '.join(map(str, frame.columns))})")
    if frame[target].isna().all():
        raise DataError(f"the target column {target!r} has no values")
    if unusable_columns(frame[[target]], set()).get(target) == "dates":
        raise UsageError(f"--target: {target!r} is a column of dates or times, and a target "
                         "cannot be dates or times (the time? give it as --time-column)")
    frame = frame.copy()
    is_datetime = False
    dropped = 0
    offsets: pd.Series | None = None  # each row's offset from UTC, when they are local times
    if time_column is not None:
        if time_column not in frame.columns:
            raise UsageError(f"--time-column: no column {time_column!r}"
                             f"{_near(frame, time_column)}")
        if time_column == target:
            raise UsageError(f"--time-column: {time_column!r} is the target")
        column = frame[time_column]
        if not pd.api.types.is_numeric_dtype(column):
            parsed = parse_timestamps(column, "the data")
            if parsed.isna().mean() > 0.01:
                raise DataError(f"time column {time_column!r} holds values that are not dates")
            offsets = utc_offsets(column, parsed)
            frame[time_column] = parsed
            is_datetime = True
        elif (unit := epoch_unit(column)) is not None:
            frame[time_column] = epoch_times(column, unit)
            is_datetime = True
        timed = frame.dropna(subset=[time_column])
        dropped, frame = len(frame) - len(timed), timed
        frame = frame.sort_values(time_column, kind="stable")
        if offsets is not None:
            offsets = offsets.loc[frame.index]
        frame = frame.reset_index(drop=True)
    if not is_datetime:
        if batch.unit or initial.unit:
            raise UsageError("periods (7D, 1M) need a --time-column holding dates or Unix times; "
                             "give --batch and --initial as row counts")
        epoch = pd.Timestamp("2000-01-01", tz=UTC)
        spacing = pd.Timedelta(BATCH_SPAN) / batch.count
        frame[SYNTHETIC_TIME] = epoch + np.arange(len(frame)) * spacing
        time_column = SYNTHETIC_TIME
    assert time_column is not None
    times = frame[time_column]
    gaps = times.diff().dropna()
    positive = gaps[gaps > pd.Timedelta(0)]
    step = positive.median().to_pytimedelta() if len(positive) else BATCH_SPAN
    start, last = times.iloc[0], times.iloc[-1]
    # a row's worth of time on average: hourly rows dated by their day share a timestamp 24
    # at a time, so the gaps between timestamps (a day) would make 30 rows a month. A gap
    # over a quarter of the history and a hundred usual gaps (the history stops for years,
    # or a few rows carry a placeholder date) is no spacing of rows: counted, it would
    # stretch every row count and the default window. (Not a batch: rows that come in
    # daily bursts are a day apart, a batch of 1D or less, and that is their spacing.)
    stops = positive[positive > max((last - start) / 4, 100 * pd.Timedelta(step))]
    row_step = ((last - start - stops.sum()) / (len(frame) - 1 - len(stops))).to_pytimedelta(
    ) if last > start else step
    calendar = _Calendar(times, offsets) if offsets is not None else None
    if initial.unit:
        first = calendar.add(start, initial) if calendar else start + initial.offset()
    elif initial.count < len(frame):
        first = times.iloc[initial.count]
    else:
        first = last + step
    if first > last:
        span = "" if time_column == SYNTHETIC_TIME else (
            f" spanning {(last - start) / pd.Timedelta(days=1):.3g} days")
        raise UsageError(f"--initial {initial} leaves no rows to replay ({len(frame)} rows"
                         f"{span}); give a shorter --initial (and --window, --batch)")
    boundaries = [first]
    if batch.unit:
        while boundaries[-1] <= last:
            boundaries.append(calendar.add(boundaries[-1], batch) if calendar else
                              boundaries[-1] + batch.offset())
    else:
        position = int(np.searchsorted(naive_utc(times), naive_utc(first), "left"))
        for index in range(position + batch.count, len(frame), batch.count):
            if times.iloc[index] > boundaries[-1]:
                boundaries.append(times.iloc[index])
        boundaries.append(last + step)
    return History(frame, time_column, boundaries, start, row_step, dropped)


def _near(frame: pd.DataFrame, name: str) -> str:
    """``; did you mean 'Cnt'?`` when a column has ``name`` in other case, else nothing."""
    near = [str(c) for c in frame.columns if str(c).strip().lower() == name.strip().lower()]
    return f"; did you mean {' or '.join(map(repr, near))}?" if near else ""


#: a UTC offset after a time of day written as text: Z, +02:00, -0530, +05 (not a date's -30)
_OFFSET = r"\d:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(Z|([+-])(\d{2}):?(\d{2})?)\s*$"


def utc_offsets(column: pd.Series, parsed: pd.Series) -> pd.Series | None:
    """Each row's offset from UTC (``column`` as read, ``parsed`` its UTC instants), when its
    times are local times that are not all UTC's: a timestamp column with a time zone (as
    Parquet stores one), or text whose every time ends in an offset (ISO 8601, ``+02:00``).
    None for times without a zone (read as UTC) or in UTC: their calendar is UTC's.

    >>> text = pd.Series(["2024-03-30T00:00+01:00", "2024-03-31T00:00+0100", None,
    ...                   "2024-04-01T00:00+02:00"])
    >>> [str(o) for o in utc_offsets(text, pd.to_datetime(text, utc=True, format="ISO8601"))]
    ['0 days 01:00:00', '0 days 01:00:00', 'NaT', '0 days 02:00:00']
    >>> utc_offsets(pd.Series(["2024-03-30 00:00"]), pd.to_datetime(["2024-03-30"], utc=True))
    """
    present = parsed.notna()
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        local = column.dt.tz_localize(None) - column.dt.tz_convert("UTC").dt.tz_localize(None)
        offsets = local.astype("timedelta64[ns]")
    elif pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column):
        found = column.astype("string").str.extract(_OFFSET)
        if not found[0].notna()[present].all():
            return None  # some times without an offset: no calendar to keep
        sign = found[1].map({"+": 1, "-": -1}).fillna(1)
        minutes = (found[2].astype(float).fillna(0) * 60 + found[3].astype(float).fillna(0))
        offsets = pd.to_timedelta(sign * minutes, unit="min").astype("timedelta64[ns]")
    else:
        return None
    offsets = offsets.where(present)
    return None if (offsets[present] == pd.Timedelta(0)).all() else offsets


class _Calendar:
    """Periods on the data's local calendar: a day runs from local midnight to local
    midnight, 23 or 25 hours across a daylight-saving change. From each row's offset from
    UTC: a local time is the instant whose offset is the one of the row at (or next after)
    it; a local time that happens twice is the earlier, one that does not happen (the clocks
    went forward over it) is read with the smaller offset."""

    def __init__(self, times: pd.Series, offsets: pd.Series):
        self._utc = naive_utc(times)
        self._offsets = offsets.to_numpy("timedelta64[ns]")
        # largest first: of two instants with one local time, the earlier
        self._distinct = sorted({pd.Timedelta(o) for o in np.unique(self._offsets)},
                                reverse=True)
        # the local time each instant ``add`` gave stands for: a day after a midnight that
        # did not happen (read as 01:00) is the next midnight, not 01:00 again
        self._walls: dict[pd.Timestamp, pd.Timestamp] = {}

    def add(self, when: pd.Timestamp, size: Size) -> pd.Timestamp:
        """``when`` plus the period ``size``: days, weeks, months and years on the local
        calendar; hours and minutes as they pass (a local hour can be skipped or repeated)."""
        if size.unit in ("min", "h"):
            return when + size.offset()
        utc = when.tz_convert(UTC).tz_localize(None)
        wall = self._walls.get(when, utc + self._offset_at(utc)) + size.offset()
        offset = next((o for o in self._distinct if self._offset_at(wall - o) == o),
                      self._distinct[-1])
        found = (wall - offset).tz_localize(UTC)
        self._walls[found] = wall
        return found

    def _offset_at(self, utc: pd.Timestamp) -> pd.Timedelta:
        """The offset of the row at or next after ``utc`` (naive), else of the last row."""
        index = int(np.searchsorted(self._utc, utc.to_datetime64().astype("datetime64[ns]"),
                                    "left"))
        return pd.Timedelta(self._offsets[min(index, len(self._offsets) - 1)])


def duration_text(span: timedelta) -> str:
    """``28 days``, ``1 day``, ``0`` or, off whole days, timedelta's own ``1 day, 6:00:00``
    (which ``pd.Timedelta`` reads back). Spans of a minute or more are read to the second: a
    row count times an uneven row spacing (a week over 91 rows) is a few microseconds off the
    whole days it means.

    >>> duration_text(timedelta(days=28)), duration_text(timedelta(0))
    ('28 days', '0')
    >>> duration_text(timedelta(days=28) - timedelta(microseconds=56))
    '28 days'
    """
    if span >= timedelta(minutes=1):
        span = timedelta(seconds=round(span.total_seconds()))
    if span == timedelta(0):
        return "0"
    if span % timedelta(days=1) == timedelta(0):
        days = span // timedelta(days=1)
        return f"{days} day" + ("" if days == 1 else "s")
    return str(span)
