"""Synthetic histories of the issue's speed size (45,000 half-hourly rows, 130 weekly
batches) in shapes the real datasets lack, to time `retrainer backtest` on them and to check
that it runs on data written by no one here:

* ``wide``: 40 numeric features (five of them drifting, a seasonal concept on a third of
  the weights, 3% nulls in one), two string categories (one 33% null) and a row id, binary
  labels ``up`` / ``down``, time as Unix seconds;
* ``multiclass``: 20 numeric features and a 10-class label whose weights move linearly from
  one random concept to another, time as ``YYYY-MM-DD HH:MM`` text;
* ``columns200``: 200 float32 normals, ten of them drifting, the first twenty carrying a
  binary concept that turns around halfway (write it as ``.parquet``: the CSV is 160 MB).

    .venv/bin/python benchmarks/backtest/synthetic.py wide wide.csv.gz
    .venv/bin/retrainer backtest wide.csv.gz --target label --time-column ts --output bt-wide
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

ROWS = 45_000
TIMES = pd.date_range("2021-03-01", periods=ROWS, freq="30min")


def wide(rng: np.random.Generator) -> pd.DataFrame:
    k = 40
    x = rng.normal(size=(ROWS, k))
    x[:, :5] += np.linspace(0, 3, ROWS)[:, None] * rng.normal(size=5)
    season = np.sin(np.arange(ROWS) / (48 * 30))
    weights = rng.normal(size=k)[None, :] * (1 + 0.8 * season[:, None] * (np.arange(k) % 3 == 0))
    logit = 2 * (x * weights).sum(1) / np.sqrt(k)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(k)])
    frame.loc[rng.random(ROWS) < 0.03, "f7"] = np.nan
    frame["cat_a"] = rng.choice(list("abcdefgh"), ROWS)
    frame["cat_b"] = pd.Series(rng.choice(["x", "y", None], ROWS), dtype=object)
    frame["order_id"] = [f"o{i:06d}" for i in range(ROWS)]
    frame["ts"] = (TIMES - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)
    frame["label"] = np.where(rng.random(ROWS) < 1 / (1 + np.exp(-logit)), "up", "down")
    return frame


def multiclass(rng: np.random.Generator) -> pd.DataFrame:
    k, classes = 20, 10
    x = rng.normal(size=(ROWS, k))
    phase = (np.arange(ROWS) / ROWS)[:, None, None]
    start, end = rng.normal(size=(k, classes)), rng.normal(size=(k, classes))
    logits = np.einsum("nk,nkc->nc", x, (1 - phase) * start + phase * end)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(k)])
    frame["when"] = TIMES.strftime("%Y-%m-%d %H:%M")
    frame["kind"] = (p.cumsum(1) > rng.random(ROWS)[:, None]).argmax(1)
    return frame


def columns200(rng: np.random.Generator) -> pd.DataFrame:
    k = 200
    x = rng.normal(size=(ROWS, k)).astype(np.float32)
    x[:, :10] += (np.linspace(0, 2, ROWS)[:, None] * rng.normal(size=10)).astype(np.float32)
    turn = np.where(np.arange(ROWS) < ROWS // 2, 1.0, -1.0)
    weights = rng.normal(size=20)
    logit = turn * (x[:, :20] @ weights) / np.sqrt(20) * 2
    frame = pd.DataFrame(x, columns=[f"c{i:03d}" for i in range(k)])
    frame["ts"] = TIMES
    frame["label"] = (rng.random(ROWS) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def main(kind: str, target: str) -> None:
    makers = {"wide": wide, "multiclass": multiclass, "columns200": columns200}
    if kind not in makers:
        sys.exit(f"unknown kind {kind!r}: {', '.join(makers)}")
    frame = makers[kind](np.random.default_rng(7))
    if target.endswith(".parquet"):
        frame.to_parquet(target, index=False)
    else:
        frame.to_csv(target, index=False)
    print(f"{target}: {len(frame):,} rows x {frame.shape[1]} columns")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: synthetic.py wide|multiclass|columns200 OUT.csv[.gz]|OUT.parquet")
    main(sys.argv[1], sys.argv[2])
