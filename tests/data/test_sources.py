from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from retrainer.config import ModelConfig
from retrainer.data import sources
from retrainer.data.sources import CsvSource, ParquetSource, SqlSource, make_source
from retrainer.domain import Window
from retrainer.exceptions import DataError

JAN1 = datetime(2024, 1, 1, tzinfo=UTC)
JAN2 = datetime(2024, 1, 2, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    sources.clear_cache()


def _hours(n: int = 48) -> pd.DataFrame:
    """Hourly rows from 2023-12-31 12:00 UTC, in shuffled order."""
    frame = pd.DataFrame({
        "time": pd.date_range("2023-12-31 12:00", periods=n, freq="h"),
        "x": range(n),
        "c": ["a", "b", "c"] * (n // 3),
    })
    return frame.sample(frac=1.0, random_state=0).reset_index(drop=True)


def _check_day(frame: pd.DataFrame) -> None:
    """Exactly the 24 hours of 2024-01-01 UTC, sorted, half-open, tz-aware UTC."""
    assert len(frame) == 24
    assert str(frame["time"].dt.tz) == "UTC"
    assert frame["time"].iloc[0] == pd.Timestamp(JAN1)  # start included
    assert frame["time"].iloc[-1] == pd.Timestamp("2024-01-01 23:00", tz="UTC")  # end excluded
    assert frame["time"].is_monotonic_increasing
    assert list(frame.index) == list(range(24))
    assert frame["x"].tolist() == list(range(12, 36))


def _model(source: dict, **extra: object) -> ModelConfig:
    return ModelConfig.model_validate({"name": "m", "source": source, "time_column": "time",
                                       "target": "x", "task": "regression", **extra})


# --- CSV -------------------------------------------------------------------------------------


def test_csv_window_is_half_open_sorted_and_utc(tmp_path: Path) -> None:
    _hours().to_csv(tmp_path / "d.csv", index=False)
    source = CsvSource(tmp_path / "d.csv", "time")
    _check_day(source.load(Window(JAN1, JAN2)))
    assert source.columns() == ["time", "x", "c"]
    # naive window bounds are UTC too
    _check_day(source.load(Window(JAN1.replace(tzinfo=None), JAN2.replace(tzinfo=None))))
    assert len(source.load(Window(JAN2, JAN2))) == 0


def test_csv_options_pass_through_and_offsets_convert_to_utc(tmp_path: Path) -> None:
    text = ("when;value\n"
            "2024-01-01T08:00:00+08:00;1\n"  # = 2024-01-01 00:00 UTC
            "2024-01-01 00:30:00;2\n"  # naive: UTC
            "2023-12-31T23:59:59Z;3\n")
    (tmp_path / "d.csv").write_text(text)
    source = CsvSource(tmp_path / "d.csv", "when", {"sep": ";"})
    frame = source.load(Window(JAN1, JAN2))
    assert frame["value"].tolist() == [1, 2]
    assert frame["when"].tolist() == [pd.Timestamp("2024-01-01 00:00", tz="UTC"),
                                      pd.Timestamp("2024-01-01 00:30", tz="UTC")]


def test_numbers_with_placeholders_for_missing_values_read_as_numbers(tmp_path: Path) -> None:
    from retrainer.backtest import read_history

    text = ("time,reading,excel,code,note\n"
            "2024-01-01 00:00,1.5,3,A1,ok\n"
            "2024-01-01 01:00,?,#VALUE!,?,?\n"
            "2024-01-01 02:00,2, - ,7,fine\n")
    (tmp_path / "d.csv").write_text(text)
    live = CsvSource(tmp_path / "d.csv", "time").load(Window(JAN1, JAN2))
    replayed = read_history(tmp_path / "d.csv")
    for frame in (live, replayed):
        assert frame["reading"].tolist()[::2] == [1.5, 2.0] and pd.isna(frame["reading"][1])
        assert frame["excel"].tolist()[0] == 3.0 and frame["excel"].isna().sum() == 2
        # a code or a word is not a number: those columns keep their text
        assert frame["code"].tolist() == ["A1", "?", "7"]
        assert frame["note"].tolist() == ["ok", "?", "fine"]


def test_rows_without_a_time_are_dropped(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("time,x\n2024-01-01 01:00,1\n,2\n2024-01-01 02:00,3\n")
    frame = CsvSource(tmp_path / "d.csv", "time").load(Window(JAN1, JAN2))
    assert frame["x"].tolist() == [1, 3]


def test_csv_is_parsed_once_and_reparsed_when_the_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "d.csv"
    _hours().to_csv(path, index=False)
    calls = []
    real = pd.read_csv

    def counting(*args: object, **kwargs: object) -> pd.DataFrame:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(pd, "read_csv", counting)
    source = CsvSource(path, "time")
    for _ in range(3):
        source.load(Window(JAN1, JAN2))
    CsvSource(path, "time").load(Window(JAN1, JAN2))  # a new source object shares the cache
    assert len(calls) == 1

    _hours(72).to_csv(path, index=False)  # different size
    assert len(source.load(Window(JAN1, datetime(2024, 1, 3, tzinfo=UTC)))) == 48
    assert len(calls) == 2

    frame = _hours(72)
    frame["c"] = frame["c"].str.upper()  # same width: same size, new mtime
    size = path.stat().st_size
    frame.to_csv(path, index=False)
    assert path.stat().st_size == size
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert set(source.load(Window(JAN1, JAN2))["c"]) == {"A", "B", "C"}
    assert len(calls) == 3


def test_callers_cannot_corrupt_the_cache(tmp_path: Path) -> None:
    _hours().to_csv(tmp_path / "d.csv", index=False)
    source = CsvSource(tmp_path / "d.csv", "time")
    first = source.load(Window(JAN1, JAN2))
    first.loc[0, "x"] = -1
    first["x"] = first["x"] * 0
    first.drop(columns=["c"], inplace=True)
    _check_day(source.load(Window(JAN1, JAN2)))


@pytest.mark.parametrize(
    ("content", "time_column", "options", "message"),
    [
        (None, "time", {}, "data file not found"),
        ("", "time", {}, "data file is empty"),
        ("a,b\n1,2\n", "time", {}, r"time column 'time' not found in .*d\.csv \(columns: a, b\)"),
        ("time,x\n2024-01-01,1\nyesterday,2\n", "time", {},
         r"time column 'time' in .* could not be parsed .* e\.g\. 'yesterday'"),
        ("time,x\n1704067200,1\n", "time", {}, "holds numbers"),
        ("time,x\n2024-01-01,1\n", "time", {"no_such_option": 1}, "invalid csv options"),
        ('time,x\n"2024-01-01,1\n', "time", {"engine": "c"}, "could not read CSV file"),
    ],
)
def test_csv_errors(
    tmp_path: Path, content: str | None, time_column: str, options: dict, message: str
) -> None:
    path = tmp_path / "d.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(DataError, match=message):
        CsvSource(path, time_column, options).load(Window(JAN1, JAN2))


def test_header_only_csv_is_an_empty_window(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("time,x\n")
    frame = CsvSource(tmp_path / "d.csv", "time").load(Window(JAN1, JAN2))
    assert len(frame) == 0 and list(frame.columns) == ["time", "x"]


# --- Parquet ---------------------------------------------------------------------------------


@pytest.mark.parametrize("tz", [None, "UTC", "Asia/Shanghai"])
@pytest.mark.parametrize("unit", ["s", "ns"])
def test_parquet_window(tmp_path: Path, tz: str | None, unit: str) -> None:
    frame = _hours()
    times = frame["time"].dt.tz_localize("UTC")
    frame["time"] = times if tz is None else times.dt.tz_convert(tz)
    if tz is None:
        frame["time"] = frame["time"].dt.tz_localize(None)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.set_column(0, "time", table["time"].cast(pa.timestamp(unit, tz=tz)))
    pq.write_table(table, tmp_path / "d.parquet", row_group_size=6)
    source = ParquetSource(tmp_path / "d.parquet", "time")
    _check_day(source.load(Window(JAN1, JAN2)))
    assert source.columns() == ["time", "x", "c"]


def test_parquet_filter_is_pushed_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    frame = _hours().sort_values("time")
    frame["time"] = frame["time"].dt.tz_localize("UTC")
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "d.parquet")
    source = ParquetSource(tmp_path / "d.parquet", "time")
    dataset = source._dataset()
    seen = []

    class Spy:
        schema = dataset.schema

        def to_table(self, **kwargs: object) -> pa.Table:
            table = dataset.to_table(**kwargs)
            seen.append((kwargs.get("filter"), table.num_rows))
            return table

    monkeypatch.setattr(source, "_dataset", Spy)
    _check_day(source.load(Window(JAN1, JAN2)))
    assert seen[0][0] is not None and seen[0][1] == 24  # only the window left PyArrow


def test_parquet_with_text_times_is_filtered_in_pandas(tmp_path: Path) -> None:
    frame = _hours()
    frame["time"] = frame["time"].dt.strftime("%Y-%m-%d %H:%M:%S")
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "d.parquet")
    _check_day(ParquetSource(tmp_path / "d.parquet", "time").load(Window(JAN1, JAN2)))


def test_parquet_errors(tmp_path: Path) -> None:
    window = Window(JAN1, JAN2)
    with pytest.raises(DataError, match="data file not found"):
        ParquetSource(tmp_path / "missing.parquet", "time").load(window)
    (tmp_path / "empty.parquet").write_bytes(b"")
    with pytest.raises(DataError, match="data file is empty"):
        ParquetSource(tmp_path / "empty.parquet", "time").load(window)
    (tmp_path / "junk.parquet").write_bytes(b"this is not parquet at all")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        ParquetSource(tmp_path / "junk.parquet", "time").load(window)
    pq.write_table(pa.table({"when": [1, 2]}), tmp_path / "d.parquet")
    with pytest.raises(DataError, match=r"time column 'time' not found .*\(columns: when\)"):
        ParquetSource(tmp_path / "d.parquet", "time").load(window)


# --- SQL -------------------------------------------------------------------------------------


def _sqlite(path: Path) -> None:
    frame = _hours()
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE obs (time TEXT, x INTEGER, c TEXT)")
        connection.executemany(
            "INSERT INTO obs VALUES (?, ?, ?)",
            [(t.strftime("%Y-%m-%d %H:%M:%S"), int(x), c)
             for t, x, c in frame.itertuples(index=False)],
        )


def test_sql_binds_the_window(tmp_path: Path) -> None:
    _sqlite(tmp_path / "d.db")
    url = f"sqlite:///{tmp_path / 'd.db'}"
    query = "SELECT time, x, c FROM obs WHERE time >= :start AND time < :end;"
    source = SqlSource(url, query, "time")
    _check_day(source.load(Window(JAN1, JAN2)))
    assert source.columns() == ["time", "x", "c"]


def test_sql_without_bounds_is_filtered_in_pandas(tmp_path: Path) -> None:
    _sqlite(tmp_path / "d.db")
    source = SqlSource(f"sqlite:///{tmp_path / 'd.db'}", "SELECT * FROM obs", "time")
    _check_day(source.load(Window(JAN1, JAN2)))


def test_sql_errors(tmp_path: Path) -> None:
    window = Window(JAN1, JAN2)
    _sqlite(tmp_path / "d.db")
    url = f"sqlite:///{tmp_path / 'd.db'}"
    with pytest.raises(DataError, match=r"SQL source query failed .*no such table: nope"):
        SqlSource(url, "SELECT * FROM nope", "time").load(window)
    with pytest.raises(DataError, match="SQL source query failed"):
        SqlSource(url, "SELECT * FROM nope", "time").columns()
    with pytest.raises(DataError, match="time column 'when' not found in the result"):
        SqlSource(url, "SELECT * FROM obs", "when").load(window)
    with pytest.raises(DataError, match="SQLite database not found"):
        SqlSource(f"sqlite:///{tmp_path / 'absent.db'}", "SELECT 1", "time").load(window)
    assert not (tmp_path / "absent.db").exists()
    with pytest.raises(DataError, match="invalid SQL source URL"):
        SqlSource("nosuchdriver://x/y", "SELECT 1", "time").load(window)


# --- make_source -----------------------------------------------------------------------------


def test_make_source_resolves_relative_paths_against_the_config_directory(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    _hours().to_csv(tmp_path / "data" / "d.csv", index=False)
    frame = _hours()
    frame["time"] = frame["time"].dt.tz_localize("UTC")
    frame.to_parquet(tmp_path / "data" / "d.parquet")
    _sqlite(tmp_path / "data" / "d.db")

    csv = make_source(_model({"kind": "csv", "path": "data/d.csv"}), tmp_path)
    parquet = make_source(_model({"kind": "parquet", "path": "data/d.parquet"}), tmp_path)
    sql = make_source(_model({"kind": "sql", "url": "sqlite:///data/d.db",
                              "query": "SELECT * FROM obs"}), tmp_path)
    assert isinstance(csv, CsvSource) and isinstance(parquet, ParquetSource)
    assert isinstance(sql, SqlSource) and isinstance(sql, sources.DataSource)
    for source in (csv, parquet, sql):
        _check_day(source.load(Window(JAN1, JAN2)))
    absolute = make_source(_model({"kind": "csv", "path": str(tmp_path / "data" / "d.csv")}),
                           Path("/nonexistent"))
    _check_day(absolute.load(Window(JAN1, JAN2)))


def test_beijing_month_through_a_csv_source(tmp_path: Path, beijing: pd.DataFrame) -> None:
    path = tmp_path / "beijing.csv"
    beijing.to_csv(path, index=False)
    source = CsvSource(path, "time")
    july = source.load(Window(datetime(2013, 7, 1, tzinfo=UTC), datetime(2013, 8, 1, tzinfo=UTC)))
    assert len(july) == 31 * 24
    assert july["TEMP"].mean() > 20 and set(july["cbwd"]) <= {"NE", "NW", "SE", "cv"}


POSTGRES_URL = os.environ.get("RETRAINER_TEST_DATABASE_URL")


@pytest.mark.postgres
@pytest.mark.skipif(POSTGRES_URL is None, reason="RETRAINER_TEST_DATABASE_URL is not set")
@pytest.mark.parametrize("column_type", ["timestamptz", "timestamp"])
def test_sql_on_postgres(column_type: str) -> None:
    import uuid

    from sqlalchemy import create_engine, text

    assert POSTGRES_URL is not None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    frame = _hours()
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
            connection.execute(text(
                f'CREATE TABLE "{schema}".obs (time {column_type}, x integer, c text)'))
            connection.execute(
                text(f'INSERT INTO "{schema}".obs VALUES (:t, :x, :c)'),
                [{"t": t.tz_localize("UTC").to_pydatetime()
                  if column_type == "timestamptz" else t.to_pydatetime(), "x": int(x), "c": c}
                 for t, x, c in frame.itertuples(index=False)],
            )
        query = (f'SELECT time, x, c FROM "{schema}".obs '
                 "WHERE time >= :start AND time < :end")
        # a session time zone other than UTC must not shift naive timestamps
        sep = "&" if "?" in POSTGRES_URL else "?"
        shanghai = f"{POSTGRES_URL}{sep}options=-c%20timezone%3DAsia/Shanghai"
        source = SqlSource(shanghai, query, "time")
        _check_day(source.load(Window(JAN1, JAN2)))
        assert source.columns() == ["time", "x", "c"]
        with pytest.raises(DataError, match="SQL source query failed"):
            SqlSource(POSTGRES_URL, f'SELECT nope FROM "{schema}".obs', "time").load(
                Window(JAN1, JAN2))
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.mark.parametrize(("values", "days"), [
    (["01/02/2020 10:00", "13/02/2020 11:00", "05/03/2020"],
     ["2020-02-01", "2020-02-13", "2020-03-05"]),
    (["n/a", "01/02/2020", "13/02/2020"], [None, "2020-02-01", "2020-02-13"]),
    (["01/02/2020", "02/13/2020", "05/03/2020"], ["2020-01-02", "2020-02-13", "2020-05-03"]),
    (["01.02.2020", "13.03.2020"], ["2020-02-01", "2020-03-13"]),
    (["01/02/2020", "13/02/2020", "2020-03-01"], ["2020-02-01", "2020-02-13", "2020-03-01"]),
    (["2020-01-02", "2020-01-13 10:00", "2020-01-14T07:00+01:00"],
     ["2020-01-02", "2020-01-13", "2020-01-14"]),
    (["2020/01/02", "2020/01/05", "junk"], ["2020-01-02", "2020-01-05", None]),
])
def test_day_first_or_month_first_is_read_from_the_column(
    values: list[str], days: list[str | None]
) -> None:
    parsed = sources.parse_timestamps(pd.Series(values, name="t"), "x.csv")
    assert [None if pd.isna(t) else t.date().isoformat() for t in parsed] == days


def test_dates_that_read_two_ways_are_refused_not_guessed(tmp_path: Path) -> None:
    path = tmp_path / "eu.csv"
    path.write_text("t,x\n01/02/2020,1\n05/03/2020,2\n")
    source = CsvSource(path, "t")
    with pytest.raises(DataError, match="'01/02/2020' read as different days"):
        source.load(Window(datetime(2020, 1, 1, tzinfo=UTC), datetime(2021, 1, 1, tzinfo=UTC)))


def test_parquet_numbers_as_text_or_decimals_are_numbers(tmp_path: Path) -> None:
    import decimal

    frame = _hours()
    frame["time"] = frame["time"].dt.tz_localize("UTC")
    frame["text"] = frame["x"].astype(str)
    frame["price"] = [decimal.Decimal(f"{v}.25") for v in frame["x"]]
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "d.parquet")
    loaded = ParquetSource(tmp_path / "d.parquet", "time").load(Window(JAN1, JAN2))
    assert loaded["text"].dtype == "int64" and loaded["price"].dtype == "float64"
    assert (loaded["price"] - loaded["x"]).eq(0.25).all() and loaded["c"].dtype != "float64"
