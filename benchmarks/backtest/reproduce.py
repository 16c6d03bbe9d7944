"""Replay the backtest tables of ``benchmarks/README.md`` and compare them with what is
written there: every policy's metric, to the digits the table shows, and its retrains.

The tables are the evidence for the policies; a change that moves them by accident (a
setting derived from the data, say) shows here before it reaches a release. From the
repository root, after ``make install`` (``make reproduce``):

    .venv/bin/python benchmarks/backtest/reproduce.py [--data ../shared/data] [CASE ...]

Cases: see ``CASES`` (all by default). Elec2 is fetched from PyPI on first use (see
``fetch_elec2.py``); a case whose data is missing is skipped and said so. Exit code 1 when a
figure differs. About 10 minutes on 2 cores for all eight.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Case:
    name: str
    data: str  # {shared}/file, {work}/file or a path in the repository
    args: tuple[str, ...]
    expected: dict[str, tuple[str, int]]  # policy: (metric as the table prints it, retrains)
    # a script in this folder that writes the data, then its arguments before the output:
    # paths (with {shared} or {work}) that must exist, or words passed as they are
    derive: tuple[str, ...] = ()


BIKE = "{shared}/bike_sharing_hour.csv"
CASES = [
    Case("beijing", "src/retrainer/demo/data/beijing_pm25_2010_2014.csv.gz",
         ("--target", "pm", "--batch", "168", "--initial", "672", "--config", "beijing.yaml"),
         {"never": ("100.41", 0), "always": ("68.95", 256), "periodic:4": ("71.33", 64),
          "drift": ("68.95", 256), "performance": ("73.34", 31), "auto": ("68.86", 45)}),
    Case("bike", BIKE,
         ("--target", "cnt", "--time-column", "dteday", "--batch", "7D",
          "--config", "bike_sharing.yaml"),
         {"never": ("183.04", 0), "always": ("61.90", 100), "periodic:4": ("65.23", 25),
          "drift": ("63.81", 42), "performance": ("63.59", 28), "auto": ("64.71", 24)}),
    Case("elec2", "{work}/elec2.csv",
         ("--target", "class", "--time-column", "time", "--batch", "7D",
          "--config", "elec2.yaml"),
         {"never": ("0.6052", 0), "always": ("0.7664", 130), "periodic:4": ("0.7509", 32),
          "drift": ("0.7664", 130), "performance": ("0.7475", 26), "auto": ("0.7433", 25)},
         derive=("fetch_elec2.py",)),
    Case("elec2-openml", "{work}/elec2_openml.csv", ("--target", "class", "--batch", "336"),
         {"never": ("0.6463", 0), "always": ("0.7730", 130), "periodic:4": ("0.7594", 32),
          "drift": ("0.7730", 130), "performance": ("0.7633", 19), "auto": ("0.7651", 25)},
         derive=("fetch_elec2.py", "--openml")),
    Case("busy", "{work}/bike_busy.csv",
         ("--target", "busy", "--time-column", "dteday", "--batch", "7D",
          "--config", "bike_busy.yaml",
          "--policies", "never,always,periodic:4,periodic:5,periodic:6,auto"),
         {"never": ("0.6093", 0), "always": ("0.8969", 100), "periodic:4": ("0.8841", 25),
          "periodic:5": ("0.8801", 20), "periodic:6": ("0.8825", 16), "auto": ("0.8842", 20)},
         derive=("derive_busy.py", BIKE)),
    Case("late-labels", BIKE,
         ("--target", "cnt", "--time-column", "dteday", "--batch", "7D", "--label-delay", "14D",
          "--config", "bike_sharing.yaml", "--policies", "never,always,periodic:4,periodic:5,auto"),
         {"never": ("199.74", 0), "always": ("68.56", 100), "periodic:4": ("73.61", 25),
          "periodic:5": ("75.41", 20), "auto": ("70.53", 27)}),
    Case("daily", "{work}/bike_day.csv", ("--target", "cnt", "--time-column", "dteday"),
         {"never": ("3479", 0), "always": ("1042", 100), "periodic:4": ("1141", 25),
          "drift": ("1038", 97), "performance": ("1327", 28), "auto": ("1099", 20)},
         derive=("derive_daily.py", BIKE)),
    Case("covtype", "{work}/covtype.csv", ("--target", "Cover_Type", "--batch", "336"),
         {"never": ("0.6201", 0), "always": ("0.7817", 129), "periodic:4": ("0.7237", 32),
          "drift": ("0.7803", 115), "performance": ("0.7334", 37), "auto": ("0.7375", 39)},
         derive=("fetch_streams.py", "covtype")),
]


def same(measured: float, printed: str) -> bool:
    """``measured`` shows as ``printed`` at the table's precision."""
    decimals = len(printed.partition(".")[2])
    return f"{measured:.{decimals}f}" == printed


def run_case(case: Case, shared: Path, work: Path) -> list[tuple[str, str, str, bool]] | str:
    """(policy, documented, measured, equal) rows, or why the case was skipped."""
    places = {"shared": str(shared), "work": str(work)}
    data = Path(case.data.format(**places))
    data = data if data.is_absolute() else ROOT / data
    if not data.exists() and case.derive:
        script, *inputs = case.derive
        arguments = [item.format(**places) for item in inputs]
        if all(Path(a).exists() for a, item in zip(arguments, inputs, strict=True) if "{" in item):
            subprocess.run([str(BIN / "python"), str(HERE / script), *arguments, str(data)],
                           check=True)
    if not data.exists():
        return f"no {data}"
    args = [str(HERE / a) if a.endswith(".yaml") else a for a in case.args]
    output = work / f"bt-{case.name}"
    subprocess.run([str(BIN / "retrainer"), "backtest", str(data), *args, "--output", str(output)],
                   check=True, stdout=subprocess.DEVNULL)
    found = {p["name"]: p for p in json.loads((output / "backtest.json").read_text())["policies"]}
    rows = []
    for policy, (printed, retrains) in case.expected.items():
        got = found[policy]
        measured = f"{got['metric']:.{len(printed.partition('.')[2])}f} ({got['retrains']})"
        rows.append((policy, f"{printed} ({retrains})", measured,
                     same(got["metric"], printed) and got["retrains"] == retrains))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="*", help=", ".join(c.name for c in CASES))
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data",
                        help="folder holding bike_sharing_hour.csv")
    parser.add_argument("--work", type=Path, default=ROOT / "bt-reproduce",
                        help="derived data and outputs")
    options = parser.parse_args()
    unknown = set(options.cases) - {c.name for c in CASES}
    if unknown:
        parser.error(f"unknown case(s): {', '.join(sorted(unknown))}")
    options.work.mkdir(parents=True, exist_ok=True)
    differing = 0
    for case in CASES:
        if options.cases and case.name not in options.cases:
            continue
        began = time.monotonic()
        result = run_case(case, options.data.resolve(), options.work.resolve())
        if isinstance(result, str):
            print(f"{case.name}: skipped, {result}")
            continue
        print(f"{case.name} ({time.monotonic() - began:.0f} s)")
        for policy, documented, measured, equal in result:
            differing += not equal
            print(f"  {policy:<12} {documented:>16} {measured:>16}  {'ok' if equal else 'DIFFERS'}")
    print("every figure as documented" if not differing else f"{differing} figure(s) differ")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
