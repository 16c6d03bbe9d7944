"""Monitoring: reference profiles, drift against them, calibration, the dataset verdict,
performance degradation, fairness, latency and label-free performance estimates.

Everything here is pure computation on frames, arrays and metric dicts (plus Parquet
streaming in ``stream``); loading windows and storing readings is the orchestrator's job
(``window`` turns one window into readings). Modules:

* ``profile``: the reference profile stored with each version (quantile sketch included);
* ``stats``, ``ks``: the statistics (KS p-values ported from SciPy, no ``scipy.stats``);
* ``rules``: methods, thresholds and sample-size-aware defaults;
* ``columns``, ``drift``: per-column results, the report with its dataset verdict, and
  the target's drift (label shift), kept out of that verdict;
* ``calibration``: thresholds at a false-alarm budget; ``importance``: verdict weights;
* ``stream``: Parquet larger than memory; ``files``: reading CSV/Parquet for the CLI;
* ``performance``, ``fairness``, ``latency``, ``estimation``.
"""

from __future__ import annotations

from retrainer.monitoring.calibration import Calibration, calibrate
from retrainer.monitoring.drift import (
    ColumnDrift,
    DriftReport,
    chi2_homogeneity,
    compare_frames,
    detect_drift,
    detect_target_drift,
    psi,
)
from retrainer.monitoring.importance import column_weights, feature_importance
from retrainer.monitoring.performance import (
    PerformanceReport,
    evaluate_performance,
    join_labels,
    relative_degradation,
)
from retrainer.monitoring.profile import PROFILE_FORMAT, build_profile, target_reference

__all__ = [
    "PROFILE_FORMAT",
    "Calibration",
    "ColumnDrift",
    "DriftReport",
    "PerformanceReport",
    "build_profile",
    "calibrate",
    "chi2_homogeneity",
    "column_weights",
    "compare_frames",
    "detect_drift",
    "detect_target_drift",
    "evaluate_performance",
    "feature_importance",
    "join_labels",
    "psi",
    "relative_degradation",
    "target_reference",
]
