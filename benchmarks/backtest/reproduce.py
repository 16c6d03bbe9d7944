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
         {"never": ("99.90", 0), "always": ("69.82", 256), "periodic:4": ("71.63", 64),
          "drift": ("69.82", 256), "performance": ("72.91", 28), "auto": ("71.01", 40)}),
    Case("bike", BIKE,
         ("--target", "cnt", "--time-column", "dteday", "--batch", "7D",
          "--config", "bike_sharing.yaml"),
         {"never": ("182.47", 0), "always": ("61.87", 100), "periodic:4": ("65.28", 25),
          "drift": ("63.73", 45), "performance": ("65.80", 37), "auto": ("64.11", 24)}),
    Case("elec2", "{work}/elec2.csv",
         ("--target", "class", "--time-column", "time", "--batch", "7D",
          "--config", "elec2.yaml"),
         {"never": ("0.5761", 0), "always": ("0.7682", 130), "periodic:4": ("0.7437", 32),
          "drift": ("0.7657", 129), "performance": ("0.7397", 18), "auto": ("0.7436", 24)},
         derive=("fetch_elec2.py",)),
    Case("elec2-openml", "{work}/elec2_openml.csv", ("--target", "class", "--batch", "336"),
         {"never": ("0.6272", 0), "always": ("0.7603", 130), "periodic:4": ("0.7688", 32),
          "drift": ("0.7603", 130), "performance": ("0.7385", 21), "auto": ("0.7643", 25)},
         derive=("fetch_elec2.py", "--openml")),
    Case("busy", "{work}/bike_busy.csv",
         ("--target", "busy", "--time-column", "dteday", "--batch", "7D",
          "--config", "bike_busy.yaml",
          "--policies", "never,always,periodic:4,periodic:5,periodic:6,auto"),
         {"never": ("0.6089", 0), "always": ("0.8954", 100), "periodic:4": ("0.8868", 25),
          "periodic:5": ("0.8739", 20), "periodic:6": ("0.8813", 16), "auto": ("0.8854", 19)},
         derive=("derive_busy.py", BIKE)),
    Case("late-labels", BIKE,
         ("--target", "cnt", "--time-column", "dteday", "--batch", "7D", "--label-delay", "14D",
          "--config", "bike_sharing.yaml", "--policies", "never,always,periodic:4,periodic:5,auto"),
         {"never": ("193.49", 0), "always": ("68.30", 100), "periodic:4": ("73.23", 25),
          "periodic:5": ("75.75", 20), "auto": ("72.55", 27)}),
    Case("daily", "{work}/bike_day.csv", ("--target", "cnt", "--time-column", "dteday"),
         {"never": ("3479", 0), "always": ("1066", 100), "periodic:4": ("1187", 25),
          "drift": ("1064", 96), "performance": ("1099", 45), "auto": ("1158", 25)},
         derive=("derive_daily.py", BIKE)),
    Case("covtype", "{work}/covtype.csv", ("--target", "Cover_Type", "--batch", "336"),
         {"never": ("0.6141", 0), "always": ("0.7843", 129), "periodic:4": ("0.7157", 32),
          "drift": ("0.7821", 114), "performance": ("0.7243", 30), "auto": ("0.7357", 31)},
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
