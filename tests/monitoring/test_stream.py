"""Streaming a Parquet window in batches gives the in-memory answer with bounded memory."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from retrainer.config import DriftMonitorConfig
from retrainer.exceptions import DataError
from retrainer.monitoring.drift import detect_drift
from retrainer.monitoring.profile import build_profile
from retrainer.monitoring.stream import profile_parquet, stream_drift

RULES = DriftMonitorConfig()


def _frame(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    values = rng.normal(shift, 1, n)
    values[rng.uniform(size=n) < 0.05] = np.nan
    return pd.DataFrame({
        "x": values,
        "k": rng.integers(0, 9, n),
        "g": rng.gamma(2, 2, n),
        "c": rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1]),
    })


def test_streaming_equals_reading_the_whole_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(30)
    profile = build_profile(_frame(rng, 50_000), ["x", "k", "g"], ["c"],
                            importance={"x": 2.0, "k": 1.0, "g": 1.0, "c": 0.0})
    current = _frame(rng, 120_000, shift=0.3)
    path = tmp_path / "window.parquet"
    current.to_parquet(path, row_group_size=25_000)
    whole = detect_drift(profile, current, RULES)
    seen: list[tuple[int, int]] = []
    streamed = stream_drift(profile, path, RULES, batch_rows=7_000,
                            on_progress=lambda done, total: seen.append((done, total)))
    assert streamed.rows == whole.rows == 120_000
    assert seen[0] == (0, 120_000) and seen[-1] == (120_000, 120_000) and len(seen) > 10
    assert streamed.drifted_columns() == whole.drifted_columns() == ["x"]
    assert streamed.weighted_share == whole.weighted_share
    for name in whole.columns:
        a, b = streamed.columns[name].stats, whole.columns[name].stats
        assert a.keys() == b.keys()
        for key in a:
            if a[key] is None:
                assert b[key] is None
            else:
                assert a[key] == pytest.approx(b[key], rel=1e-9, abs=1e-12), (name, key)


def test_memory_is_bounded_by_the_batch_not_the_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(31)
    n, columns = 400_000, 10
    table = pa.table({f"x{i}": rng.normal(i, 1, n) for i in range(columns)})
    path = tmp_path / "big.parquet"
    pq.write_table(table, path, row_group_size=20_000)
    profile = build_profile(table.slice(0, 50_000).to_pandas(), table.column_names, [])
    del table
    tracemalloc.start()
    report = stream_drift(profile, path, RULES, batch_rows=20_000)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert report.rows == n
    data_bytes = n * columns * 8  # 32 MB as float64
    assert peak < data_bytes / 4, f"peak {peak / 1e6:.1f} MB"


def test_profile_parquet_equals_build_profile(tmp_path: Path) -> None:
    rng = np.random.default_rng(32)
    frame = _frame(rng, 30_000)
    path = tmp_path / "reference.parquet"
    frame.to_parquet(path)
    expected = build_profile(frame, ["x", "k", "g"], ["c"])
    found = profile_parquet(path, ["x", "k", "g"], ["c"])
    assert found["rows"] == expected["rows"]
    for name in ("k", "c"):
        assert found["columns"][name] == expected["columns"][name]
    for key, value in expected["columns"]["x"].items():
        if isinstance(value, int | float):
            assert found["columns"]["x"][key] == pytest.approx(value, rel=1e-12), key
        else:
            assert found["columns"]["x"][key] == value, key


def test_bad_files_and_columns(tmp_path: Path) -> None:
    rng = np.random.default_rng(33)
    profile = build_profile(_frame(rng, 1000), ["x"], ["c"])
    wrong = tmp_path / "wrong.parquet"
    pd.DataFrame({"x": ["1.5", "oops"], "c": ["a", "b"]}).to_parquet(wrong)
    with pytest.raises(DataError, match=r"'x' should be numeric .* 'oops'"):
        stream_drift(profile, wrong, RULES)
    lacking = tmp_path / "lacking.parquet"
    pd.DataFrame({"x": [1.0]}).to_parquet(lacking)
    with pytest.raises(DataError, match=r"lacks columns .*\['c'\]"):
        stream_drift(profile, lacking, RULES)
    text = tmp_path / "text.parquet"
    text.write_text("not parquet")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        stream_drift(profile, text, RULES)
