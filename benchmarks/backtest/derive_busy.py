"""Derive a binary classification task from the UCI bike sharing data: is the hour busy
(more than 200 rentals)? The share of busy hours grows as the scheme grows, so the task
drifts. Writes the hourly rows without the counts, with a ``busy`` column (0/1).

    .venv/bin/python benchmarks/backtest/derive_busy.py \
        ../shared/data/bike_sharing_hour.csv bike_busy.csv
"""

from __future__ import annotations

import sys

import pandas as pd

BUSY = 200  # rentals in the hour


def main(source: str, target: str) -> None:
    frame = pd.read_csv(source)
    frame["busy"] = (frame["cnt"] > BUSY).astype(int)
    frame.drop(columns=["cnt", "casual", "registered"]).to_csv(target, index=False)
    print(f"{target}: {len(frame):,} rows, {frame['busy'].mean():.1%} busy")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: derive_busy.py BIKE_SHARING_HOUR.csv OUT.csv")
    main(sys.argv[1], sys.argv[2])
