"""Reading the CSV and Parquet files the monitoring commands take, with clear errors.

A path that does not exist or has another extension is a ``UsageError`` (exit code 2); a
file that is empty, unreadable or lacks a requested column is a ``DataError`` (exit code 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from retrainer.exceptions import DataError, UsageError

CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")

__all__ = ["file_kind", "file_rows", "read_columns", "read_frame"]


def file_kind(path: Path, label: str = "file") -> str:
    """``csv``, ``parquet`` or ``json`` (a stored reference profile) by extension.

    Raises ``UsageError`` when the path is missing or the extension unknown.
    """
    if not path.exists():
        raise UsageError(f"{label} {path} does not exist")
    if path.is_dir():
        raise UsageError(f"{label} {path} is a directory; give a .csv or .parquet file")
    name = path.name.lower()
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(".json"):
        return "json"
    raise UsageError(f"{label} {path}: unsupported file type; use .csv or .parquet")


def read_columns(path: Path, label: str = "file") -> list[str]:
    """The column names of a CSV or Parquet file (its header / schema only)."""
    kind = file_kind(path, label)
    if kind == "parquet":
        from retrainer.monitoring.stream import parquet_file

        return list(parquet_file(path, label).schema_arrow.names)
    return list(_read_csv(path, label, nrows=0).columns)


def file_rows(path: Path, label: str = "file") -> int | None:
    """Rows of a Parquet file from its metadata (None for CSV: unknown without reading)."""
    if file_kind(path, label) != "parquet":
        return None
    from retrainer.monitoring.stream import parquet_file

    return int(parquet_file(path, label).metadata.num_rows)


def read_frame(path: Path, columns: list[str] | None = None, label: str = "file"
               ) -> pd.DataFrame:
    """Read ``columns`` (all when None) of a CSV or Parquet file.

    Raises ``DataError`` when the file is empty, has no rows, cannot be parsed or lacks a
    requested column (naming the missing ones and what the file has).
    """
    kind = file_kind(path, label)
    if columns is not None:
        available = read_columns(path, label)
        missing = [c for c in columns if c not in available]
        if missing:
            raise DataError(f"{label} {path} lacks columns {missing}; it has {available}")
    if kind == "parquet":
        import pyarrow as pa

        try:
            frame = pd.read_parquet(path, columns=columns)
        except (pa.ArrowException, OSError, ValueError) as error:
            raise DataError(f"{label} {path} is not a readable Parquet file: {error}") from None
    else:
        frame = _read_csv(path, label, usecols=columns)
    if len(frame) == 0:
        raise DataError(f"{label} {path} has no rows")
    return frame


def _read_csv(path: Path, label: str, **options: Any) -> pd.DataFrame:
    separator = "\t" if path.name.lower().endswith(".tsv") else ","
    try:
        return pd.read_csv(path, sep=separator, **options)
    except pd.errors.EmptyDataError:
        raise DataError(f"{label} {path} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise DataError(f"{label} {path} is not a readable CSV file: {error}") from None
