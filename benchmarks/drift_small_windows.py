"""The drift check a monitor runs at every tick: a week of rows against its model's training
rows, many columns, where every KS p-value is exact (both samples under 10,000 values, as
in SciPy's ``ks_2samp(method="auto")``, which Evidently and NannyML call per column).

Times, on the same samples, retrainer's whole drift check against the version's stored
profile (``detect_drift``: PSI, JS, KS and its exact p-value, Wasserstein, ... per column)
and SciPy's ``ks_2samp`` alone per column (the peer's KS engine, nothing else), checks that
the p-values agree, and prints the ratio.

    .venv/bin/python benchmarks/drift_small_windows.py [COLUMNS] [REFERENCE_ROWS] [CURRENT_ROWS]
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd


def main(columns: int = 200, reference_rows: int = 1075, current_rows: int = 336) -> None:
    from scipy import stats

    from retrainer.config import DriftMonitorConfig
    from retrainer.monitoring.drift import detect_drift
    from retrainer.monitoring.profile import build_profile

    rng = np.random.default_rng(0)
    names = [f"c{i:03d}" for i in range(columns)]
    rules = DriftMonitorConfig()
    ours, peer, gap, checks = [], [], 0.0, 5
    for check in range(checks):
        reference = pd.DataFrame(rng.normal(size=(reference_rows, columns)), columns=names)
        shifts = np.where(np.arange(columns) % 10 == 0, 0.3, 0.0)  # a tenth of them drift
        current = pd.DataFrame(rng.normal(shifts, size=(current_rows, columns)), columns=names)
        profile = build_profile(reference, numeric=names, categorical=[])
        started = time.perf_counter()
        report = detect_drift(profile, current, rules)
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        expected = [stats.ks_2samp(reference[name], current[name]).pvalue for name in names]
        peer.append(time.perf_counter() - started)
        got = [report.columns[name].stats["ks_pvalue"] for name in names]
        gap = max(gap, float(np.max(np.abs(np.subtract(got, expected)))))
        print(f"check {check + 1}: retrainer {ours[-1] * 1000:.0f} ms, "
              f"scipy ks_2samp {peer[-1] * 1000:.0f} ms", flush=True)
    ours_ms, peer_ms = 1000 * float(np.median(ours)), 1000 * float(np.median(peer))
    print(f"{columns} columns, {reference_rows} reference rows against {current_rows}, median "
          f"of {checks}: retrainer's drift check {ours_ms:.0f} ms, SciPy's KS test alone "
          f"{peer_ms:.0f} ms ({peer_ms / ours_ms:.1f}x); largest p-value difference {gap:.1e}")


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:]))
