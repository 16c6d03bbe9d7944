"""Fetch the Electricity (Elec2) stream, the issue's reference data for the backtest.

Elec2 is 45,312 half-hourly records of the New South Wales electricity market from 7 May
1996 to 6 December 1998 (M. Harries, "SPLICE-2 Comparative Evaluation: Electricity
Pricing", UNSW, 1999; normalised by J. Gama and A. Bifet, as MOA's elecNormNew and
OpenML dataset 151). The task: does the NSW price go UP or DOWN against the moving
average of the last 24 hours? We take the copy that scikit-multiflow 0.1-0.4 shipped in
its PyPI release (3-clause BSD) and check its hash, so only PyPI has to be reachable.

That copy lacks the ``date`` and ``day`` columns. Its rows are complete days of 48 periods
in time order, so both come back exactly: ``time`` (timestamp of the half hour, for
``--time-column``) and ``day`` (day of the week, 1 = Monday, as in elecNormNew).

    .venv/bin/python benchmarks/backtest/fetch_elec2.py elec2.csv

With ``--openml`` the file has OpenML's layout instead: no ``time``, and first a ``date``
column, the day normalised to 0..1 and the same for a day's 48 rows. OpenML normalises the
raw yymmdd dates, which jump at month ends; this is the day's index over the last one. The
order of the values is the same, and a tree splits on order only.

    .venv/bin/python benchmarks/backtest/fetch_elec2.py --openml elec2_openml.csv
"""

from __future__ import annotations

import hashlib
import io
import sys
import tarfile
import urllib.request

import pandas as pd

SDIST = ("https://files.pythonhosted.org/packages/57/53/1c90bc05e4fbf2cb768ed140d7a9bce301"
         "d671cce7bdc15b82522ede1b3e/scikit-multiflow-0.4.1.tar.gz")
SDIST_SHA256 = "ed4f791107cb7f789f0bb0620c50e743a4d397905146a4d06c62eb98607aa101"
MEMBER = "scikit-multiflow-0.4.1/src/skmultiflow/data/datasets/elec.csv"
COLUMNS = ["period", "nswprice", "nswdemand", "vicprice", "vicdemand", "transfer"]
FIRST_DAY = pd.Timestamp("1996-05-07")  # a Tuesday
PERIODS = 48  # half hours a day


def fetch(url: str, sha256: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as response:
        payload = response.read()
    if hashlib.sha256(payload).hexdigest() != sha256:
        sys.exit(f"{url}: unexpected sha256; not the file this script knows")
    return payload


def main(out: str, openml: bool = False) -> None:
    with tarfile.open(fileobj=io.BytesIO(fetch(SDIST, SDIST_SHA256))) as archive:
        member = archive.extractfile(MEMBER)
        assert member is not None
        raw = pd.read_csv(member)
    frame = raw.set_axis([*COLUMNS, "target"], axis=1).round(6)
    day_index = pd.Series(range(len(frame))) // PERIODS
    # period is the half hour normalised to 0..1; a row out of place would show here
    if not ((frame["period"] * (PERIODS - 1)).round() == frame.index % PERIODS).all():
        sys.exit("rows are not complete days of 48 half hours in order")
    frame.insert(0, "time", FIRST_DAY + pd.to_timedelta(day_index, "D")
                 + pd.to_timedelta(frame.index % PERIODS * 30, "min"))
    frame.insert(1, "day", frame["time"].dt.day_of_week + 1)
    frame["class"] = frame.pop("target").map({1: "UP", 0: "DOWN"})
    if openml:
        frame.insert(0, "date", (day_index / day_index.iloc[-1]).round(6))
        frame = frame.drop(columns=["time"])
    frame.to_csv(out, index=False)
    print(f"{out}: {len(frame):,} rows, {FIRST_DAY:%Y-%m-%d} to "
          f"{FIRST_DAY + pd.Timedelta(days=int(day_index.iloc[-1])):%Y-%m-%d}, "
          f"{(frame['class'] == 'UP').mean():.1%} UP")


if __name__ == "__main__":
    arguments = sys.argv[1:]
    openml = arguments[:1] == ["--openml"]
    if len(arguments) != 1 + openml:
        sys.exit("usage: fetch_elec2.py [--openml] OUT.csv")
    main(arguments[-1], openml)
