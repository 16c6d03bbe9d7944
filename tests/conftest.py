"""Shared fixtures. Tests never read ../shared: the demo data ships inside the package."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

POSTGRES_URL = os.environ.get("RETRAINER_TEST_DATABASE_URL")


def pm25_model(
    trainer: str = "lightgbm",
    task: str = "regression",
    target: str = "pm",
    params: dict[str, Any] | None = None,
    validation: dict[str, Any] | None = None,
    **training: Any,
) -> Any:
    """A ModelConfig for the Beijing frame ('high' and 'level' are derived label columns)."""
    from retrainer.config import ModelConfig

    return ModelConfig(
        name="pm25",
        source={"kind": "csv", "path": "unused.csv"},
        time_column="time",
        target=target,
        task=task,
        categorical=["cbwd"],
        exclude=["pm", "high", "level"],
        training={"trainer": trainer, "params": params or {}, **training},
        validation=validation or {},
    )


@pytest.fixture(scope="session")
def beijing() -> pd.DataFrame:
    """The bundled hourly Beijing PM2.5 frame (43,824 rows, UTC ``time`` column)."""
    from retrainer.demo.dataset import load_beijing

    return load_beijing()


def _postgres_schema_url(base: str) -> Iterator[str]:
    """A fresh schema per test, so tests can run in parallel against one database."""
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture()
def postgres_schema_url() -> Iterator[str]:
    """A PostgreSQL URL in a fresh schema (tests using it skip without the env variable)."""
    assert POSTGRES_URL is not None
    yield from _postgres_schema_url(POSTGRES_URL)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(
                    POSTGRES_URL is None, reason="RETRAINER_TEST_DATABASE_URL is not set"
                ),
            ],
        ),
    ]
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A state store URL: a SQLite file, and PostgreSQL when RETRAINER_TEST_DATABASE_URL is set."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
    else:
        assert POSTGRES_URL is not None
        yield from _postgres_schema_url(POSTGRES_URL)
