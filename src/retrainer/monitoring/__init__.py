"""Monitoring: reference profiles, drift against them, and performance degradation.

Everything here is pure computation on frames and metric dicts; loading windows and storing
readings is the orchestrator's job.
"""

from __future__ import annotations

from retrainer.monitoring.drift import ColumnDrift, DriftReport, chi2_homogeneity, detect_drift, psi
from retrainer.monitoring.performance import (
    PerformanceReport,
    evaluate_performance,
    relative_degradation,
)
from retrainer.monitoring.profile import PROFILE_FORMAT, build_profile

__all__ = [
    "PROFILE_FORMAT",
    "ColumnDrift",
    "DriftReport",
    "PerformanceReport",
    "build_profile",
    "chi2_homogeneity",
    "detect_drift",
    "evaluate_performance",
    "psi",
    "relative_degradation",
]
