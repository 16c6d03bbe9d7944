"""Validation: metrics, paired statistical tests on row losses, and the promotion gate."""

from __future__ import annotations

from retrainer.validation.gate import check_gates, evaluate_candidate
from retrainer.validation.metrics import compute_metrics, row_losses
from retrainer.validation.stats import diebold_mariano, paired_t, run_test, wilcoxon

__all__ = [
    "check_gates",
    "compute_metrics",
    "diebold_mariano",
    "evaluate_candidate",
    "paired_t",
    "row_losses",
    "run_test",
    "wilcoxon",
]
