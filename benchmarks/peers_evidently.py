"""Evidently's side of the drift benchmark (run with benchmarks/.venv-evidently).

    peers_evidently.py REFERENCE.parquet CURRENT.parquet

Runs ``Report([DataDriftPreset()])`` with its defaults and prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
import warnings


def main(reference_path: str, current_path: str) -> dict:
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    warnings.filterwarnings("ignore")
    started = time.perf_counter()
    reference, current = pd.read_parquet(reference_path), pd.read_parquet(current_path)
    loaded = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
    result = snapshot.dict()
    seconds = time.perf_counter() - loaded
    drifted, values = [], {}
    for metric in result["metrics"]:
        config = metric["config"]
        if config.get("type", "").endswith("ValueDrift"):
            values[config["column"]] = metric["value"]
            if metric["value"] >= config["threshold"]:
                drifted.append(config["column"])
    return {"rows": len(current), "columns": current.shape[1], "seconds": seconds,
            "load_seconds": loaded - started, "drifted": sorted(drifted),
            "wasserstein": values}


if __name__ == "__main__":
    import evidently

    print(json.dumps({"tool": f"evidently {evidently.__version__}", "mode": "DataDriftPreset",
                      **main(*sys.argv[1:])}))
