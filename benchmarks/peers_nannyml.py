"""NannyML's side of the drift benchmark (run with benchmarks/.venv-nannyml and
``NML_DISABLE_USAGE_LOGGING=1``).

    peers_nannyml.py REFERENCE.parquet CURRENT.parquet METHODS

``METHODS``: comma-separated continuous methods, e.g. ``jensen_shannon`` (NannyML's
default) or ``kolmogorov_smirnov,jensen_shannon,wasserstein``. The whole current file is one
chunk, as retrainer's window is. Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings


def main(reference_path: str, current_path: str, methods: str) -> dict:
    import nannyml as nml
    import pandas as pd

    warnings.filterwarnings("ignore")
    started = time.perf_counter()
    reference, current = pd.read_parquet(reference_path), pd.read_parquet(current_path)
    loaded = time.perf_counter()
    calculator = nml.UnivariateDriftCalculator(
        column_names=list(reference.columns), continuous_methods=methods.split(","),
        chunk_number=1)
    calculator.fit(reference)
    result = calculator.calculate(current).filter(period="analysis").to_df()
    seconds = time.perf_counter() - loaded
    return {"rows": len(current), "columns": current.shape[1], "seconds": seconds,
            "load_seconds": loaded - started, "methods": methods,
            "result_columns": len(result.columns)}


if __name__ == "__main__":
    if os.environ.get("NML_DISABLE_USAGE_LOGGING") != "1":
        raise SystemExit("set NML_DISABLE_USAGE_LOGGING=1")
    import nannyml

    print(json.dumps({"tool": f"nannyml {nannyml.__version__}", "mode": sys.argv[3],
                      **main(*sys.argv[1:])}))
