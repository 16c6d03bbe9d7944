"""Engines for the state store: SQLite pragmas, JSON alike on every backend, worker names."""

from __future__ import annotations

import json
import math
import os
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, json_serializer=json_dumps)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            try:
                cursor.execute("PRAGMA busy_timeout=30000")
                cursor.execute("PRAGMA foreign_keys=ON")
                _use_wal(cursor)
            finally:
                cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, json_serializer=json_dumps)


def _use_wal(cursor: Any, patience: float = 30.0) -> None:
    """Switch the database file to WAL (persistent, so once per file).

    The switch needs an exclusive lock and SQLite reports "database is locked" at once,
    without its busy handler, when another connection holds a lock: two processes opening
    a fresh file together. Retry until ``patience`` runs out.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def json_dumps(value: Any) -> str:
    """JSON for evidence columns, alike on every backend: NaN and ±inf become null.

    PostgreSQL's json type refuses NaN/Infinity, which SQLite would store; statistics on an
    empty or constant window do produce them.
    """
    try:
        return json.dumps(value, allow_nan=False, default=_plain)
    except ValueError:
        return json.dumps(finite_json(value), allow_nan=False, default=_plain)


def _plain(value: Any) -> Any:
    """NumPy scalars and arrays (statistics often are) as plain JSON values."""
    if hasattr(value, "tolist"):
        return finite_json(value.tolist())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def finite_json(value: Any) -> Any:
    """``value`` with NumPy values as plain ones and non-finite floats as None (null)."""
    if hasattr(value, "tolist") and not isinstance(value, list | tuple | dict):
        value = value.tolist()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(v) for v in value]
    return value


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"
