"""Windows and references larger than memory: Parquet read in batches with PyArrow.

``stream_drift(profile, path, rules)`` reads ``batch_rows`` rows at a time (only the profiled
columns), summarises each numeric column of the batch on the profile's grid and counts each
categorical column's values; the summaries add up (``stats.Summary.merge``), so the result
equals ``detect_drift`` on the whole file read at once (up to floating-point summation
order). Peak memory is about two batches (``batch_rows`` x columns x 8 bytes: the decoded
batch and Arrow's read buffers) plus one sorted column copy per core, whatever the file's
length; by default a batch holds ``BATCH_VALUES`` values (10,000,000 x 50 streams in about
1 GB).

``profile_parquet(path, numeric, categorical)`` builds a reference profile one column at a
time (Parquet is columnar), so its memory is one column, not the table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from retrainer.config import DriftMonitorConfig
from retrainer.exceptions import DataError
from retrainer.monitoring.drift import (
    DriftReport,
    assemble,
    categorical_column,
    checked_columns,
    numeric_column,
)
from retrainer.monitoring.profile import (
    DEFAULT_SKETCH_SIZE,
    PROFILE_FORMAT,
    categorical_profile,
    numeric_profile,
    numeric_values,
    ordered_counts,
    parallel_map,
    reference_summary,
)
from retrainer.monitoring.stats import Summary, summarise

if TYPE_CHECKING:
    from retrainer.monitoring.calibration import Calibration

Progress = Callable[[int, int], None]  # (rows done, rows in total)
#: values per batch when ``batch_rows`` is not given (~200 MB of float64)
BATCH_VALUES = 25_000_000

__all__ = ["parquet_file", "profile_parquet", "stream_drift"]


def parquet_file(path: Path, label: str = "file") -> Any:
    """``pyarrow.parquet.ParquetFile`` for ``path``; ``DataError`` when it is not Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        # pre_buffer caches every row group it has read for the file's lifetime: memory would
        # grow with the file; a plain buffered reader keeps it flat
        return pq.ParquetFile(path, pre_buffer=False, buffer_size=8 << 20)
    except (pa.ArrowException, OSError) as error:
        raise DataError(f"{label} {path} is not a readable Parquet file: {error}") from None


def stream_drift(
    profile: dict[str, Any],
    path: Path,
    rules: DriftMonitorConfig,
    *,
    batch_rows: int | None = None,
    importance: dict[str, float] | None = None,
    calibration: Calibration | None = None,
    histograms: bool = False,
    on_progress: Progress | None = None,
) -> DriftReport:
    """``detect_drift`` of a Parquet file against ``profile``, in batches of ``batch_rows``
    (default: ``BATCH_VALUES`` values per batch, between 10,000 and 1,000,000 rows).

    Raises ``DataError`` when the file is unreadable, lacks profiled columns, or a numeric
    column holds values that are not numbers; ``ValueError`` for ``batch_rows`` < 1.
    """
    if batch_rows is not None and batch_rows < 1:
        raise ValueError(f"batch_rows must be positive, got {batch_rows}")
    checked = checked_columns(profile, rules)
    if batch_rows is None:
        batch_rows = min(max(BATCH_VALUES // max(len(checked), 1), 10_000), 1_000_000)
    source = parquet_file(path)
    missing = [name for name in checked if name not in source.schema_arrow.names]
    if missing:
        raise DataError(f"{path} lacks columns the reference profile has: {missing}")
    total = source.metadata.num_rows
    references = {name: reference_summary(spec) for name, spec in checked.items()
                  if spec["kind"] == "numeric"}
    summaries: dict[str, Summary | None] = {name: None for name in references}
    counts: dict[str, dict[str, int]] = {name: {} for name in checked if name not in references}
    rows = 0
    if on_progress is not None:
        on_progress(0, total)
    for batch in source.iter_batches(batch_size=batch_rows, columns=list(checked)):

        def one(name: str, batch: Any = batch) -> None:
            column = batch.column(name)
            if name in references:
                reference = references[name][0]
                part = summarise(_floats(column, name), reference.points, reference.pivot)
                before = summaries[name]
                summaries[name] = part if before is None else before.merge(part)
            else:
                _count_into(counts[name], column)

        parallel_map(one, list(checked), batch.num_rows * len(checked))
        rows += batch.num_rows
        if on_progress is not None:
            on_progress(rows, total)
    columns = {}
    for name, spec in checked.items():
        if name in references:
            reference, sketched = references[name]
            current = summaries[name] or summarise(np.empty(0), reference.points,
                                                   reference.pivot)
            columns[name] = numeric_column(name, spec, reference, current, rows, rules,
                                           sketched=sketched, calibration=calibration,
                                           histograms=histograms)
        else:
            keys, values = ordered_counts(counts[name])
            columns[name] = categorical_column(name, spec, keys, values, rows, rules,
                                               calibration, histograms)
    weights = importance if importance is not None else profile.get("importance")
    return assemble(columns, rows, rules, weights, exact=False, calibration=calibration)


def profile_parquet(
    path: Path,
    numeric: Sequence[str],
    categorical: Sequence[str],
    *,
    bins: int = 10,
    sketch_size: int = DEFAULT_SKETCH_SIZE,
    importance: dict[str, float] | None = None,
    on_progress: Progress | None = None,
) -> dict[str, Any]:
    """``build_profile`` of a Parquet file, reading one column at a time.

    Raises ``DataError`` for unreadable files, missing columns or non-numeric values.
    """
    import pandas as pd

    source = parquet_file(path)
    missing = [c for c in [*numeric, *categorical] if c not in source.schema_arrow.names]
    if missing:
        raise DataError(f"cannot profile missing columns {missing}")
    rows = source.metadata.num_rows
    columns: dict[str, Any] = {}
    names = [*numeric, *categorical]
    for done, name in enumerate(names):
        table = source.read(columns=[name])
        column = table.column(name)
        if name in categorical:
            columns[name] = categorical_profile(pd.Series(column.to_pandas(), name=name))
        else:
            columns[name] = numeric_profile(_floats(column, name), rows, bins, sketch_size)
        del table, column
        if on_progress is not None:
            on_progress(done + 1, len(names))
    profile: dict[str, Any] = {"format": PROFILE_FORMAT, "rows": rows, "bins": bins,
                               "sketch_size": sketch_size, "columns": columns}
    if importance is not None:
        profile["importance"] = {str(k): float(v) for k, v in importance.items()}
    return profile


def _floats(column: Any, name: str) -> np.ndarray:
    """An Arrow column as float64 with NaN for nulls."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        import pandas as pd

        values = numeric_values(pd.Series(column.to_pandas(), name=name))
    else:
        try:
            values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
            raise DataError(f"column {name!r} should be numeric but holds "
                            f"{column.type} values: {error}") from None
        values = np.asarray(values, dtype=np.float64)
    return values


def _count_into(counts: dict[str, int], column: Any) -> None:
    """Add a batch's category counts (keys as ``str``; nulls skipped), one entry per
    distinct value."""
    import pyarrow.compute as pc

    found = pc.value_counts(column)
    values = found.field("values").to_pylist()
    numbers = found.field("counts").to_pylist()
    for value, count in zip(values, numbers, strict=True):
        if value is not None:
            key = _category_key(value)
            counts[key] = counts.get(key, 0) + int(count)


def _category_key(value: Any) -> str:
    """The key pandas-based profiling uses for a value (``str`` of the value)."""
    return str(value)
