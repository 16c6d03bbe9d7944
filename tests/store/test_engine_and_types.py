"""Pieces of the SQLAlchemy store that need no database: the UTC type and the JSON encoder."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from retrainer.store.engine import json_dumps, make_engine
from retrainer.store.schema import UTCDateTime

EST = timezone(timedelta(hours=-5))


def test_utc_datetime_binds_naive_utc() -> None:
    column = UTCDateTime()
    aware = datetime(2024, 1, 1, 7, 0, tzinfo=EST)
    assert column.process_bind_param(aware, None) == datetime(2024, 1, 1, 12, 0)
    assert column.process_bind_param(datetime(2024, 1, 1, 12), None) == datetime(2024, 1, 1, 12)
    assert column.process_bind_param(None, None) is None


def test_utc_datetime_returns_aware_utc() -> None:
    column = UTCDateTime()
    naive = column.process_result_value(datetime(2024, 1, 1, 12), None)
    assert naive == datetime(2024, 1, 1, 12, tzinfo=UTC) and naive.tzinfo is UTC
    # a driver that hands back aware values (timestamptz) is converted, not relabelled
    aware = column.process_result_value(datetime(2024, 1, 1, 7, tzinfo=EST), None)
    assert aware == datetime(2024, 1, 1, 12, tzinfo=UTC) and aware.tzinfo is UTC
    assert column.process_result_value(None, None) is None


def test_json_dumps_keeps_finite_values_and_nulls_the_rest() -> None:
    plain = {"a": [1, 2.5, "x", None, True], "b": {"c": -0.0}}
    assert json_dumps(plain) == json.dumps(plain)
    odd = {"nan": math.nan, "deep": [{"inf": math.inf}, (-math.inf, 1.0)], "ok": 2.0}
    assert json.loads(json_dumps(odd)) == {"nan": None, "deep": [{"inf": None}, [None, 1.0]],
                                           "ok": 2.0}
    assert math.isnan(odd["nan"])  # the caller's evidence is left alone


def test_sqlite_engine_creates_its_directory(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "state.db"
    engine = make_engine(f"sqlite:///{target}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert target.exists()
    finally:
        engine.dispose()


def test_numpy_values_in_evidence_are_stored_as_plain_json() -> None:
    import json

    import numpy as np

    from retrainer.store.engine import json_dumps

    value = {"n": np.int64(3), "x": np.float32(0.5), "a": np.array([1.0, np.nan]),
             "bad": np.float64("inf")}
    assert json.loads(json_dumps(value)) == {"n": 3, "x": 0.5, "a": [1.0, None], "bad": None}
