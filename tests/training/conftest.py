"""Fixtures for training tests: a few months of the Beijing data and model configs."""

from __future__ import annotations

import pandas as pd
import pytest
from tests.conftest import pm25_model

build_model = pm25_model


@pytest.fixture(scope="session")
def pm_frame(beijing: pd.DataFrame) -> pd.DataFrame:
    """Jan-Apr 2013 with a target, plus binary ('high') and 3-class ('level') labels."""
    frame = beijing[(beijing["time"] >= "2013-01-01") & (beijing["time"] < "2013-05-01")]
    frame = frame.dropna(subset=["pm"]).reset_index(drop=True)
    frame["high"] = (frame["pm"] > 100).astype("int64")
    frame["level"] = pd.cut(frame["pm"], [-1, 50, 150, 10_000], labels=["low", "mid", "high"])
    frame["level"] = frame["level"].astype(str)
    return frame


@pytest.fixture(scope="session")
def train_test(pm_frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train: Jan-Mar 2013. Test: April 2013."""
    cut = pd.Timestamp("2013-04-01", tz="UTC")
    return pm_frame[pm_frame["time"] < cut], pm_frame[pm_frame["time"] >= cut]


@pytest.fixture(scope="session")
def make_model():
    """``make_model(trainer, task, target, params, **training)`` -> ModelConfig."""
    return build_model
