"""Fixtures for the end-to-end tests (see harness.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from tests.e2e.harness import Hook, Project, project_config


@pytest.fixture(scope="session")
def pm25_2010(beijing: pd.DataFrame) -> pd.DataFrame:
    """2010-01 to 2011-02 hourly rows: summer, autumn and a winter."""
    mask = (beijing["time"] >= "2010-01-01") & (beijing["time"] < "2011-03-01")
    return beijing.loc[mask].reset_index(drop=True)


@pytest.fixture()
def project(tmp_path: Path, pm25_2010: pd.DataFrame) -> Project:
    (tmp_path / "data").mkdir()
    pm25_2010.to_csv(tmp_path / "data" / "pm25.csv", index=False)
    proj = Project(tmp_path)
    proj.write_config(project_config())
    return proj


@pytest.fixture()
def hook() -> Iterator[Hook]:
    server = Hook()
    yield server
    server.server.shutdown()
