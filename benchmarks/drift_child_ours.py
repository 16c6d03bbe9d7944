"""retrainer's side of the drift benchmark; run by ``drift_vs_evidently.py`` in its own
process with retrainer's virtualenv. Prints one JSON line.

    drift_child_ours.py profile REFERENCE.parquet PROFILE.json
    drift_child_ours.py detect PROFILE.json CURRENT.parquet
    drift_child_ours.py exact REFERENCE.parquet CURRENT.parquet
    drift_child_ours.py stream PROFILE.json CURRENT.parquet [BATCH_ROWS]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(mode: str, first: str, second: str, *rest: str) -> dict:
    import pandas as pd

    from retrainer.config import DriftMonitorConfig
    from retrainer.monitoring.drift import compare_frames, detect_drift
    from retrainer.monitoring.profile import build_profile
    from retrainer.monitoring.stream import stream_drift

    rules = DriftMonitorConfig()
    started = time.perf_counter()
    if mode == "profile":
        reference = pd.read_parquet(first)
        loaded = time.perf_counter()
        profile = build_profile(reference, list(reference.columns), [])
        seconds = time.perf_counter() - loaded
        Path(second).write_text(json.dumps(profile))
        return {"rows": len(reference), "columns": reference.shape[1], "seconds": seconds,
                "load_seconds": loaded - started, "profile_bytes": Path(second).stat().st_size}
    if mode == "stream":
        profile = json.loads(Path(first).read_text())
        loaded = time.perf_counter()
        batch = int(rest[0]) if rest else None
        report = stream_drift(profile, Path(second), rules, batch_rows=batch)
        seconds = time.perf_counter() - loaded
        return {"rows": report.rows, "columns": len(report.columns), "seconds": seconds,
                "load_seconds": loaded - started, "drifted": report.drifted_columns()}
    if mode == "detect":
        profile = json.loads(Path(first).read_text())
        current = pd.read_parquet(second)
        loaded = time.perf_counter()
        report = detect_drift(profile, current, rules)
    else:
        reference, current = pd.read_parquet(first), pd.read_parquet(second)
        loaded = time.perf_counter()
        report = compare_frames(reference, current, list(reference.columns), [], rules)
    seconds = time.perf_counter() - loaded
    return {"rows": report.rows, "columns": len(report.columns), "seconds": seconds,
            "load_seconds": loaded - started, "drifted": report.drifted_columns(),
            "wasserstein": {n: c.stats["wasserstein"] for n, c in report.columns.items()}}


if __name__ == "__main__":
    print(json.dumps({"tool": "retrainer", "mode": sys.argv[1], **main(*sys.argv[1:])}))
