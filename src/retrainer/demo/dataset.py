"""The bundled Beijing PM2.5 data (UCI, CC BY 4.0; see data/README.md), prepared for the demo.

>>> frame = load_beijing()
>>> len(frame), str(frame["time"].dt.tz)
(43824, 'UTC')
>>> sorted(set(frame.columns) - {"time"})[:4]
['DEWP', 'Ir', 'Is', 'Iws']
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

RAW_FILE = "beijing_pm25_2010_2014.csv.gz"
FEATURES = ["hour", "month", "DEWP", "TEMP", "PRES", "cbwd", "Iws", "Is", "Ir",
            "pm_lag1", "pm_lag24"]
CATEGORICAL = ["cbwd"]
TARGET = "pm"


def load_beijing() -> pd.DataFrame:
    """Hourly rows with a UTC ``time`` column and the previous hour's / day's PM2.5 as lags.

    The lags are what an hourly nowcast has at prediction time: the last measured values.
    """
    with resources.files("retrainer.demo").joinpath("data", RAW_FILE).open("rb") as handle:
        raw = pd.read_csv(handle, compression="gzip")
    frame = raw.drop(columns=["No"])
    frame.insert(
        0, "time", pd.to_datetime(frame[["year", "month", "day", "hour"]]).dt.tz_localize("UTC")
    )
    frame = frame.drop(columns=["year", "day"])
    frame["pm_lag1"] = frame["pm"].shift(1)
    frame["pm_lag24"] = frame["pm"].shift(24)
    return frame[["time", *FEATURES, TARGET]]
