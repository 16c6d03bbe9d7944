"""The drift check a monitor runs at every tick: a week of rows against its model's training
rows, many columns, where every KS p-value is exact (both samples under 10,000 values, as
in SciPy's ``ks_2samp(method="auto")``, which Evidently and NannyML call per column).

Times, on the same samples, retrainer's drift check against the version's stored profile
(``detect_drift``, what a monitor runs: PSI, JS, KS and its exact p-value, Wasserstein, ...
per column, KS from the profile's sketch of the reference), its check against the raw
reference rows (``compare_frames``, what ``retrainer drift`` runs: the same statistics,
KS from the raw samples) and SciPy's ``ks_2samp`` alone per column (the peers' KS engine,
nothing else); checks that the raw check's KS p-values equal SciPy's, and prints the ratios.

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
    from retrainer.monitoring.drift import compare_frames, detect_drift
    from retrainer.monitoring.profile import build_profile

    rng = np.random.default_rng(0)
    names = [f"c{i:03d}" for i in range(columns)]
    rules = DriftMonitorConfig()
    seconds: dict[str, list[float]] = {"profile": [], "raw": [], "scipy": []}
    gap, checks = 0.0, 5
    for check in range(checks):
        reference = pd.DataFrame(rng.normal(size=(reference_rows, columns)), columns=names)
        shifts = np.where(np.arange(columns) % 10 == 0, 0.3, 0.0)  # a tenth of them drift
        current = pd.DataFrame(rng.normal(shifts, size=(current_rows, columns)), columns=names)
        profile = build_profile(reference, numeric=names, categorical=[])
        started = time.perf_counter()
        detect_drift(profile, current, rules)
        seconds["profile"].append(time.perf_counter() - started)
        started = time.perf_counter()
        report = compare_frames(reference, current, names, [], rules)
        seconds["raw"].append(time.perf_counter() - started)
        started = time.perf_counter()
        expected = [stats.ks_2samp(reference[name], current[name]).pvalue for name in names]
        seconds["scipy"].append(time.perf_counter() - started)
        got = [report.columns[name].stats["ks_pvalue"] for name in names]
        gap = max(gap, float(np.max(np.abs(np.subtract(got, expected)))))
        print(f"check {check + 1}: " + ", ".join(f"{key} {values[-1] * 1000:.0f} ms"
                                                 for key, values in seconds.items()), flush=True)
    ms = {key: 1000 * float(np.median(values)) for key, values in seconds.items()}
    print(f"{columns} columns, {reference_rows} reference rows against {current_rows}, median "
          f"of {checks} checks: retrainer against the profile {ms['profile']:.0f} ms, against "
          f"the raw rows {ms['raw']:.0f} ms; SciPy's KS test alone {ms['scipy']:.0f} ms "
          f"({ms['scipy'] / ms['profile']:.2f}x and {ms['scipy'] / ms['raw']:.2f}x "
          f"retrainer's); largest KS p-value difference, raw check against SciPy: {gap:.1e}")


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:]))
