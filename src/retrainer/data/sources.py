"""Data sources: rows of one model's data inside a time window.

The contract (``DataSource``): ``load(window)`` returns the rows with
``window.start <= time < window.end``, sorted by time (stable), with a fresh 0..n-1 index
and the time column as tz-aware UTC timestamps. Naive timestamps are taken as UTC; rows
whose time is null belong to no window and are dropped. Every failure a user can cause
(missing or empty file, missing or unparseable time column, a failing query) raises
``DataError`` with a message that names the file or query.

Built-ins (``make_source`` picks one from the model's config):

* ``CsvSource``: ``pandas.read_csv`` with the config's ``options``. The parsed, sorted file
  is cached per process, keyed by (path, mtime, size, options), because a replay asks for
  dozens of windows of one file; callers get slices they cannot use to change the cache.
* ``ParquetSource``: PyArrow with the window pushed down as a filter on the time column,
  so only matching row groups and rows are read. Only the dataset's metadata is cached.
* ``SqlSource``: SQLAlchemy ``text(query)`` with ``:start`` / ``:end`` bound to the window
  when the query uses them. The window is applied in pandas as well, so a query without
  them, or a database that compares timestamps loosely, still yields exactly the window.

>>> import tempfile
>>> from datetime import datetime, timezone
>>> folder = Path(tempfile.mkdtemp())
>>> _ = (folder / "d.csv").write_text("time,x\\n2024-01-02,2\\n2024-01-01,1\\n2024-01-03,3\\n")
>>> source = CsvSource(folder / "d.csv", time_column="time")
>>> utc = timezone.utc
>>> source.load(Window(datetime(2024, 1, 1, tzinfo=utc), datetime(2024, 1, 3, tzinfo=utc)))
                       time  x
0 2024-01-01 00:00:00+00:00  1
1 2024-01-02 00:00:00+00:00  2
"""

from __future__ import annotations

import json
import re
import threading
import warnings
from collections import OrderedDict
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pandas as pd
from pandas.tseries.api import guess_datetime_format

from retrainer.config import ModelConfig, resolve_url
from retrainer.domain.windows import Window
from retrainer.exceptions import DataError, MissingTimeColumnError

__all__ = ["CsvSource", "DataSource", "ParquetSource", "SqlSource", "make_source", "to_utc"]

#: parsed files kept per process (least recently used are evicted)
CACHE_SIZE = 8
_COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3


@runtime_checkable
class DataSource(Protocol):
    def load(self, window: Window) -> pd.DataFrame:
        """Rows with ``window.start <= time < window.end``, sorted by time, time in UTC."""
        ...

    def columns(self) -> list[str]:
        """The columns ``load`` returns."""
        ...


def make_source(model: ModelConfig, root: Path) -> DataSource:
    """The source ``model.source`` describes, with ``model.labels`` joined in when set;
    relative paths resolve against ``root``."""
    rows = _source(model.source, model.time_column, root)
    if model.labels is None:
        return rows
    from retrainer.data.labels import LabelledSource

    assert model.id_column is not None  # the config requires it with labels
    labels = _source(model.labels.source, model.labels.time_column or model.time_column, root)
    return LabelledSource(rows, labels, model.id_column, model.target, model.labels.label_column)


def _source(spec: Any, time_column: str, root: Path) -> DataSource:
    if spec.kind == "replay":
        from retrainer.data.replay import replay_source

        return replay_source(spec.name)
    if spec.kind == "sql":
        return SqlSource(resolve_url(spec.url, root), spec.query, time_column)
    path = Path(spec.path).expanduser()
    path = path if path.is_absolute() else root / path
    if spec.kind == "csv":
        return CsvSource(path, time_column, spec.options)
    return ParquetSource(path, time_column)


# --- time handling ---------------------------------------------------------------------------


#: placeholders for a missing number that pandas does not know (its own list has "", NA,
#: N/A, null, NaN, None and more): UCI files write "?", spreadsheets "-" or "#VALUE!"
MISSING_MARKERS = frozenset({"?", "-", "--", ".", "na", "n.a.", "none", "missing", "unknown",
                             "#value!", "#div/0!", "#ref!", "#num!"})


#: a number written with thousands separators, as spreadsheets export them: 1,234.5
_GROUPED = re.compile(r"\s*[+-]?\d{1,3}(,\d{3})+(\.\d*)?\s*")


def numbers_with_markers(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns whose every value is a number or a missing-value placeholder become
    numbers, the placeholders missing (one "?" would otherwise make a column of readings a
    category per value). Numbers may group their thousands with commas (``"1,234.5"``) when
    every value with a comma is such a number. Other text columns are left as they are.

    >>> frame = pd.DataFrame({"x": ["1.5", "?", "2"], "y": ["a", "?", "1"],
    ...                       "z": ["1,234.5", "980", "12,000,000"], "w": ["1,5", "2", "3"]})
    >>> read = numbers_with_markers(frame)
    >>> read["x"].tolist(), read["y"].tolist(), read["z"].tolist(), read["w"].tolist()
    ([1.5, nan, 2.0], ['a', '?', '1'], [1234.5, 980.0, 12000000.0], ['1,5', '2', '3'])
    """
    converted = {}
    for column in frame.columns:
        series = frame[column]
        if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
            continue
        series = _without_grouping(series)
        if pd.to_numeric(series.dropna().head(1000), errors="coerce").isna().all():
            continue  # words or dates, as far as the first rows show
        numbers = pd.to_numeric(series, errors="coerce")
        failed = series[series.notna() & numbers.isna()]
        if set(failed.astype(str).str.strip().str.lower()) <= MISSING_MARKERS:
            converted[column] = numbers
    return frame.assign(**converted) if converted else frame


def _without_grouping(series: pd.Series) -> pd.Series:
    """``series`` with the commas of its thousands removed, when every value that has a comma
    is a number grouped that way (else as it is: a list, a decimal comma, a sentence)."""
    text = series.dropna().astype(str)
    with_comma = text[text.str.contains(",", regex=False)]
    if with_comma.empty or not with_comma.str.fullmatch(_GROUPED).all():
        return series
    return series.where(series.isna(), series.astype(str).str.replace(",", "", regex=False))


def utc_timestamp(value: datetime | pd.Timestamp) -> pd.Timestamp:
    """``value`` as a UTC ``Timestamp``; naive values are taken as UTC."""
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


#: numeric dates (31/01/2024, 2024-01-31, 01.31.24) and, of those, the year-first ones,
#: which are never read day first
NUMERIC_DATE = r"^\s*\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}"
_YEAR_FIRST = r"^\s*\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"


def parse_timestamps(series: pd.Series, where: str) -> pd.Series:
    """Text to tz-aware UTC timestamps, NaT where a value is not a time. The format that
    reads the most values (month first or day first, guessed from the first date), else
    each value on its own. Raises ``DataError`` when dates such as 05/03/2020 read as two
    different days month first and day first and nothing in the column settles which: a
    silent guess would reorder the history.

    >>> days = parse_timestamps(pd.Series(["05/03/2020", "13/03/2020"]), "t")
    >>> [t.date().isoformat() for t in days]
    ['2020-03-05', '2020-03-13']
    """
    present = series.notna()
    first = _first_date(series[present])
    either_way = (first is not None and re.match(NUMERIC_DATE, first) is not None
                  and re.match(_YEAR_FIRST, first) is None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pandas' notes on guessing formats
        formats: dict[str, bool] = {}  # format -> read day first
        for day_first in (False, True) if either_way else (False,):
            guessed = guess_datetime_format(first, dayfirst=day_first) if first else None
            if guessed and guessed not in formats:
                formats[guessed] = day_first
        whole = [(pd.to_datetime(series, utc=True, errors="coerce", format=f), day_first)
                 for f, day_first in formats.items()]
        failures = [int((present & parsed.isna()).sum()) for parsed, _ in whole]
        fewest = min(failures, default=int(present.sum()) + 1)
        best = [(parsed, day_first) for (parsed, day_first), failed
                in zip(whole, failures, strict=True) if failed == fewest]
        if len(best) == 2 and not best[0][0].equals(best[1][0]):
            _ambiguous(series, best[0][0], best[1][0], where)
        if fewest == 0:
            return best[0][0]
        # some values in other formats: each on its own, day first where the column settled
        # it (never for year-first dates, which pandas would then read as year-day-month)
        settled = len(formats) == 2 and len(best) == 1
        each = pd.to_datetime(series, utc=True, errors="coerce", format="mixed")
        text = series[present].astype(str)
        rows = series[present][(text.str.match(NUMERIC_DATE)
                                & ~text.str.match(_YEAR_FIRST)).to_numpy()]
        if not rows.empty:
            read_day_first = pd.to_datetime(rows, utc=True, errors="coerce", format="mixed",
                                            dayfirst=True)
            if settled and best[0][1]:
                each[rows.index] = read_day_first
            elif not settled and not each[rows.index].equals(read_day_first):
                _ambiguous(rows, each[rows.index], read_day_first, where)
        if int((present & each.isna()).sum()) >= fewest:
            return best[0][0]
    return each


def _first_date(values: pd.Series) -> str | None:
    """The first value that looks like a numeric date (among the first thousand), else the
    first value, as text; None for no values."""
    head = values.iloc[:1000].astype(str)
    for value in head:
        if re.match(NUMERIC_DATE, value):
            return str(value)
    return str(head.iloc[0]) if len(head) else None


def _ambiguous(series: pd.Series, month_first: pd.Series, day_first: pd.Series,
               where: str) -> None:
    differ = series[(month_first != day_first) & month_first.notna() & day_first.notna()]
    example = repr(differ.iloc[0]) if len(differ) else "?"
    raise DataError(
        f"time column {series.name!r} in {where}: dates such as {example} read as different "
        "days month first and day first; store ISO 8601 times such as '2024-01-31 13:00:00'"
    )


def to_utc(series: pd.Series, where: str) -> pd.Series:
    """Parse a time column to tz-aware UTC (naive = UTC). Raises ``DataError`` naming
    ``where`` and an offending value when the column does not hold timestamps.

    >>> times = to_utc(pd.Series(["2024-01-01 05:00", "2024-01-01T07:00+01:00"]), "t")
    >>> [t.isoformat() for t in times]
    ['2024-01-01T05:00:00+00:00', '2024-01-01T06:00:00+00:00']
    """
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(dtype):
        return series.dt.tz_localize("UTC")
    name = series.name
    if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        raise DataError(
            f"time column {name!r} in {where} holds numbers ({dtype}), not timestamps; "
            "store ISO 8601 times such as '2024-01-31 13:00:00'"
        )
    parsed = parse_timestamps(series, where)
    bad = series[series.notna() & parsed.isna()]
    if bad.empty:
        return parsed
    raise DataError(
        f"time column {name!r} in {where} could not be parsed as timestamps "
        f"({len(bad)} unparseable values, e.g. {bad.iloc[0]!r})"
    )


def prepare(frame: pd.DataFrame, time_column: str, where: str) -> pd.DataFrame:
    """Check and parse the time column, drop rows without a time, sort stably by time."""
    if time_column not in frame.columns:
        raise MissingTimeColumnError(time_column, where, list(frame.columns))
    times = to_utc(frame[time_column], where)
    frame = frame.assign(**{time_column: times})
    frame = frame[times.notna().to_numpy()]
    return frame.sort_values(time_column, kind="stable").reset_index(drop=True)


def window_slice(frame: pd.DataFrame, time_column: str, window: Window) -> pd.DataFrame:
    """The rows of a frame sorted by ``time_column`` inside ``[window.start, window.end)``."""
    times = frame[time_column]
    lo = int(times.searchsorted(utc_timestamp(window.start), side="left"))
    hi = int(times.searchsorted(utc_timestamp(window.end), side="left"))
    part = frame.iloc[lo:max(lo, hi)]
    # pandas >= 3 copies on write, so a slice cannot change the cached frame
    return part.reset_index(drop=True) if _COPY_ON_WRITE else part.reset_index(drop=True).copy()


# --- files -----------------------------------------------------------------------------------

_cache: OrderedDict[tuple[Any, ...], tuple[tuple[int, int], Any]] = OrderedDict()
_cache_lock = threading.Lock()


def _stamp(path: Path) -> tuple[int, int]:
    """(mtime_ns, size) of an existing, non-empty file; ``DataError`` otherwise."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise DataError(f"data file not found: {path}") from None
    except OSError as error:
        raise DataError(f"cannot access data file {path}: {error}") from None
    if path.is_file() and stat.st_size == 0:
        raise DataError(f"data file is empty: {path}")
    return stat.st_mtime_ns, stat.st_size


def _cached(key: tuple[Any, ...], stamp: tuple[int, int], build: Any) -> Any:
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] == stamp:
            _cache.move_to_end(key)
            return hit[1]
    value = build()  # outside the lock: parsing may take a while
    with _cache_lock:
        _cache[key] = (stamp, value)
        _cache.move_to_end(key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return value


def clear_cache() -> None:
    """Forget every cached file (tests, long-lived processes that want memory back)."""
    with _cache_lock:
        _cache.clear()


class CsvSource:
    """A CSV file read with ``pandas.read_csv(path, **options)``; cached per process."""

    def __init__(self, path: Path, time_column: str, options: dict[str, Any] | None = None):
        self.path = Path(path)
        self.time_column = time_column
        self.options = dict(options or {})

    def __repr__(self) -> str:
        return f"CsvSource({str(self.path)!r})"

    def _frame(self) -> pd.DataFrame:
        path = self.path.resolve()
        stamp = _stamp(path)
        options_key = json.dumps(self.options, sort_keys=True, default=str)
        key = ("csv", str(path), options_key, self.time_column)
        return _cached(key, stamp, self._parse)

    def _parse(self) -> pd.DataFrame:
        where = str(self.path)
        try:
            frame = pd.read_csv(self.path, **self.options)
        except pd.errors.EmptyDataError:
            raise DataError(f"data file is empty (no header row): {where}") from None
        except FileNotFoundError:
            raise DataError(f"data file not found: {where}") from None
        except TypeError as error:
            raise DataError(f"invalid csv options {self.options} for {where}: {error}") from None
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as error:
            raise DataError(f"could not read CSV file {where}: {error}") from None
        return prepare(numbers_with_markers(frame), self.time_column, where)

    def load(self, window: Window) -> pd.DataFrame:
        return window_slice(self._frame(), self.time_column, window)

    def columns(self) -> list[str]:
        return [str(c) for c in self._frame().columns]


class ParquetSource:
    """A Parquet file (or directory of files) read with the window pushed down to PyArrow."""

    def __init__(self, path: Path, time_column: str):
        self.path = Path(path)
        self.time_column = time_column

    def __repr__(self) -> str:
        return f"ParquetSource({str(self.path)!r})"

    def _dataset(self) -> Any:
        import pyarrow.dataset as ds

        path = self.path.resolve()
        stamp = _stamp(path)

        def build() -> Any:
            try:
                return ds.dataset(str(path), format="parquet")
            except (OSError, ValueError) as error:  # pa.ArrowInvalid is a ValueError
                raise DataError(f"{self.path} is not a readable Parquet file: {error}") from None

        return _cached(("parquet", str(path)), stamp, build)

    def load(self, window: Window) -> pd.DataFrame:
        import pyarrow as pa
        import pyarrow.dataset as ds

        dataset = self._dataset()
        where = str(self.path)
        names = dataset.schema.names
        if self.time_column not in names:
            raise MissingTimeColumnError(self.time_column, where, names)
        kind = dataset.schema.field(self.time_column).type
        expression = None
        if pa.types.is_timestamp(kind):
            start, end = (utc_timestamp(t) for t in (window.start, window.end))
            if kind.tz is None:  # naive timestamps hold UTC wall time
                start, end = start.tz_localize(None), end.tz_localize(None)
            bound = pa.timestamp("us", tz=kind.tz)
            column = ds.field(self.time_column)
            expression = (column >= pa.scalar(start.to_pydatetime(), type=bound)) & (
                column < pa.scalar(end.to_pydatetime(), type=bound)
            )
        try:
            frame = numbers_with_markers(arrow_frame(dataset.to_table(filter=expression)))
        except (OSError, ValueError) as error:
            raise DataError(f"could not read Parquet data {where}: {error}") from None
        return window_slice(prepare(frame, self.time_column, where), self.time_column, window)

    def columns(self) -> list[str]:
        return list(self._dataset().schema.names)


def arrow_frame(table: Any) -> pd.DataFrame:
    """An Arrow table as pandas, its decimal columns (SQL and Spark exports write NUMERIC as
    Parquet decimals) as float64: pandas would hold them as ``Decimal`` objects, which read as
    text, a category per value."""
    import pyarrow as pa

    for index, field in enumerate(table.schema):
        if pa.types.is_decimal(field.type):
            table = table.set_column(index, field.name, table.column(index).cast(pa.float64()))
    return table.to_pandas()


def is_parquet(path: Path) -> bool:
    """Whether ``path`` is a Parquet file, by its leading magic bytes whatever its name."""
    with open(path, "rb") as handle:
        return handle.read(4) == b"PAR1"


# --- SQL -------------------------------------------------------------------------------------

_engines: dict[str, Any] = {}
_engines_lock = threading.Lock()


class SqlSource:
    """Rows from ``query`` on the database at ``url`` (any SQLAlchemy URL).

    ``:start`` / ``:end`` are bound as tz-aware UTC datetimes (on PostgreSQL the session
    time zone is set to UTC, so naive ``timestamp`` columns are read as UTC), except on
    SQLite, which has
    no timestamp type: there they are UTC text ``'YYYY-MM-DD HH:MM:SS'``, which compares
    correctly with ISO 8601 text written with a space (SQLAlchemy's and pandas' format).
    For other layouts write ``WHERE datetime(time) >= datetime(:start)``.
    """

    def __init__(self, url: str, query: str, time_column: str):
        self.url = url
        self.query = query.strip().rstrip(";").strip()
        self.time_column = time_column

    def __repr__(self) -> str:
        from sqlalchemy.engine import make_url

        return f"SqlSource({make_url(self.url).render_as_string(hide_password=True)!r})"

    def _engine(self) -> Any:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, SQLAlchemyError

        with _engines_lock:
            engine = _engines.get(self.url)
            if engine is not None:
                return engine
            try:
                url = make_url(self.url)
                database = url.database or ""
                if (url.get_backend_name() == "sqlite" and database
                        and database != ":memory:" and not database.startswith("file:")
                        and not Path(database).is_file()):
                    raise DataError(f"SQLite database not found: {database}")
                engine = create_engine(url)
            except (ArgumentError, SQLAlchemyError) as error:
                raise DataError(f"invalid SQL source URL for {self!r}: {error}") from None
            _engines[self.url] = engine
            return engine

    def _params(self, statement: Any, window: Window, dialect: str) -> dict[str, Any]:
        wanted = set(statement.compile().params)
        bounds: dict[str, Any] = {
            "start": utc_timestamp(window.start).to_pydatetime(),
            "end": utc_timestamp(window.end).to_pydatetime(),
        }
        if dialect == "sqlite":
            bounds = {k: v.replace(tzinfo=None).isoformat(sep=" ") for k, v in bounds.items()}
        return {k: v for k, v in bounds.items() if k in wanted}

    def _run(self, sql: str, window: Window) -> pd.DataFrame:
        from sqlalchemy import text
        from sqlalchemy.exc import SQLAlchemyError

        engine = self._engine()
        statement = text(sql)
        try:
            params = self._params(statement, window, engine.dialect.name)
            with engine.connect() as connection:
                if engine.dialect.name == "postgresql":
                    # naive `timestamp` columns compare with the UTC bounds in UTC
                    connection.exec_driver_sql("SET TIME ZONE 'UTC'")
                result = connection.execute(statement, params)
                columns = list(result.keys())
                rows = result.fetchall()
        except SQLAlchemyError as error:
            detail = getattr(error, "orig", None) or error
            raise DataError(f"SQL source query failed on {self!r}: {detail}") from None
        return pd.DataFrame.from_records(rows, columns=columns, coerce_float=True)

    def load(self, window: Window) -> pd.DataFrame:
        frame = self._run(self.query, window)
        where = f"the result of the SQL query on {self!r}"
        return window_slice(prepare(frame, self.time_column, where), self.time_column, window)

    def columns(self) -> list[str]:
        epoch = datetime(1970, 1, 1)
        empty = self._run(
            f"SELECT * FROM ({self.query}) AS retrainer_columns WHERE 1 = 0", Window(epoch, epoch)
        )
        return [str(c) for c in empty.columns]
