"""The configs the benchmark commands in benchmarks/README.md pass to `retrainer backtest`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from retrainer.config import load_config

CONFIGS = sorted((Path(__file__).parents[2] / "benchmarks" / "backtest").glob("*.yaml"))
BEIJING = Path(__file__).parents[2] / "src/retrainer/demo/data/beijing_pm25_2010_2014.csv.gz"


def test_the_benchmark_configs_are_there() -> None:
    names = {path.stem for path in CONFIGS}
    assert {"beijing", "bike_sharing", "elec2", "bike_casual", "beijing_temp"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.stem)
def test_every_benchmark_config_is_valid(path: Path) -> None:
    (model,) = load_config(path).models
    assert model.target not in model.exclude
    assert model.validation.metric_ci is False  # replays do not need the bootstrap


@pytest.mark.parametrize("stem", ["beijing", "beijing_temp"])
def test_beijing_configs_name_columns_of_the_bundled_file(stem: str) -> None:
    (model,) = load_config(CONFIGS[[p.stem for p in CONFIGS].index(stem)]).models
    columns = set(pd.read_csv(BEIJING, nrows=5).columns)
    assert model.target in columns
    assert set(model.exclude) - {model.target} <= columns
