"""Late labels joined by id, through the data source every stage of the loop uses."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from retrainer.config import parse_config
from retrainer.data.sources import make_source
from retrainer.domain import Window
from retrainer.exceptions import ConfigError


def _model(labels: dict[str, object] | None, id_column: str | None = "id"):  # type: ignore[no-untyped-def]
    model: dict[str, object] = {
        "name": "m", "source": {"kind": "csv", "path": "rows.csv"}, "time_column": "t",
        "target": "y", "task": "regression", "id_column": id_column,
    }
    if labels is not None:
        model["labels"] = labels
    return parse_config({"models": [model]}).models[0]


def test_labels_that_arrived_later_fill_the_target(tmp_path: Path) -> None:
    times = pd.date_range("2024-01-01", periods=6, freq="h", tz="UTC")
    pd.DataFrame({"id": range(6), "t": times, "x": range(6), "y": [1.0, None, None, None, None,
                                                                      None]}).to_csv(
        tmp_path / "rows.csv", index=False)
    # labels for ids 1, 2 and (twice, the last wins) 4; id 3 is still unlabelled
    pd.DataFrame({"id": [1, 2, 4, 4], "t": times[[1, 2, 4, 4]],
                  "label": [10.0, 20.0, 40.0, 41.0]}).to_parquet(tmp_path / "labels.parquet")
    model = _model({"source": {"kind": "parquet", "path": "labels.parquet"},
                    "label_column": "label"})
    window = Window(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, 5, tzinfo=UTC))
    frame = make_source(model, tmp_path).load(window)
    assert frame["y"].tolist()[:5] == pytest.approx([1.0, 10.0, 20.0, float("nan"), 41.0],
                                                    nan_ok=True)
    assert frame["id"].tolist() == [0, 1, 2, 3, 4]


def test_labels_need_an_id_column() -> None:
    with pytest.raises(ConfigError, match="labels need id_column"):
        _model({"source": {"kind": "csv", "path": "l.csv"}}, id_column=None)


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_labels_without_the_time_column_say_which_setting_names_it(tmp_path: Path,
                                                                   kind: str) -> None:
    from retrainer.exceptions import DataError

    times = pd.date_range("2024-01-01", periods=3, freq="h", tz="UTC")
    pd.DataFrame({"id": range(3), "t": times, "y": None}).to_csv(tmp_path / "rows.csv",
                                                                  index=False)
    labels = pd.DataFrame({"id": range(3), "labelled_at": times, "y": [1.0, 2.0, 3.0]})
    path = tmp_path / f"labels.{kind}"
    labels.to_csv(path, index=False) if kind == "csv" else labels.to_parquet(path)
    model = _model({"source": {"kind": kind, "path": path.name}})
    window = Window(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC))
    with pytest.raises(DataError, match=r"labels: time column 't' not found in .*labels\."
                                        rf"{kind} \(columns: id, labelled_at, y\); "
                                        r"labels\.time_column names the column"):
        make_source(model, tmp_path).load(window)
    fixed = _model({"source": {"kind": kind, "path": path.name}, "time_column": "labelled_at"})
    assert make_source(fixed, tmp_path).load(window)["y"].tolist() == [1.0, 2.0, 3.0]
