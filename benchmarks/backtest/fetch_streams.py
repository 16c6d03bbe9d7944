"""Fetch two drifting streams the policies were never tuned on, from the same hash-checked
scikit-multiflow 0.4.1 release on PyPI that ``fetch_elec2.py`` reads:

* ``covtype``: the first 45,000 rows of Forest Covertype (Blackard and Dean, UCI, CC BY
  4.0), 54 cartographic columns, 7 forest cover types; in file order the mix of types moves
  from one area to the next, a standard concept-drift benchmark. No time column: row order.
* ``weather``: 18,159 days of NOAA weather at Offutt Air Force Base, Nebraska, 1949-1999
  (Elwell and Polikar, 2011; US government data): will it rain (``target`` 1)? Eight
  anonymised daily readings. No time column: a row is a day.

    .venv/bin/python benchmarks/backtest/fetch_streams.py covtype covtype.csv
    .venv/bin/python benchmarks/backtest/fetch_streams.py weather weather.csv
"""

from __future__ import annotations

import io
import sys
import tarfile

import pandas as pd
from fetch_elec2 import SDIST, SDIST_SHA256, fetch

MEMBERS = {
    "covtype": "scikit-multiflow-0.4.1/src/skmultiflow/data/datasets/covtype.csv",
    "weather": "scikit-multiflow-0.4.1/src/skmultiflow/data/datasets/weather.csv",
}
COVTYPE_ROWS = 45_000  # the speed size


def main(name: str, out: str) -> None:
    with tarfile.open(fileobj=io.BytesIO(fetch(SDIST, SDIST_SHA256))) as archive:
        member = archive.extractfile(MEMBERS[name])
        assert member is not None
        frame = pd.read_csv(member, nrows=COVTYPE_ROWS if name == "covtype" else None)
    frame.to_csv(out, index=False)
    target = frame.columns[-1]
    print(f"{out}: {len(frame):,} rows x {frame.shape[1]} columns, target {target!r} "
          f"({frame[target].nunique()} classes)")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in MEMBERS:
        sys.exit("usage: fetch_streams.py covtype|weather OUT.csv")
    main(sys.argv[1], sys.argv[2])
