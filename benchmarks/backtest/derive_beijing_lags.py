"""Write the demo's Beijing frame (UTC time column, weather, and the previous hour's and
day's PM2.5 as lags: what an hourly nowcast knows) for ``retrainer backtest``.

    .venv/bin/python benchmarks/backtest/derive_beijing_lags.py beijing_lags.csv.gz
"""

from __future__ import annotations

import sys

from retrainer.demo.dataset import load_beijing


def main(target: str) -> None:
    frame = load_beijing()
    frame.to_csv(target, index=False)
    print(f"{target}: {len(frame):,} rows, columns {', '.join(frame.columns)}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: derive_beijing_lags.py OUT.csv[.gz]")
    main(sys.argv[1])
