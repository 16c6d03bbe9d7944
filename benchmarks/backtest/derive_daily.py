"""Derive daily rows from the UCI bike sharing hours: one row per day with the day's
calendar, its worst weather, mean temperature, humidity and wind, and the day's rentals
(``cnt``). 731 rows: weekly batches of seven rows, the sparse end of what a backtest sees.

    .venv/bin/python benchmarks/backtest/derive_daily.py \
        ../shared/data/bike_sharing_hour.csv bike_day.csv
"""

from __future__ import annotations

import sys

import pandas as pd


def main(source: str, target: str) -> None:
    hours = pd.read_csv(source)
    days = hours.groupby("dteday").agg(
        season=("season", "first"), mnth=("mnth", "first"), holiday=("holiday", "first"),
        weekday=("weekday", "first"), workingday=("workingday", "first"),
        weathersit=("weathersit", "max"), temp=("temp", "mean"), atemp=("atemp", "mean"),
        hum=("hum", "mean"), windspeed=("windspeed", "mean"), cnt=("cnt", "sum"),
    ).reset_index()
    days.to_csv(target, index=False)
    print(f"{target}: {len(days):,} days")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: derive_daily.py BIKE_SHARING_HOUR.csv OUT.csv")
    main(sys.argv[1], sys.argv[2])
