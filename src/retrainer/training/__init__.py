"""Training: the trainer contract (scikit-learn's), the model bundle and candidate fitting.

``run.py`` (the job runner) is imported on its own; importing this package does not load it.
"""

from __future__ import annotations

from retrainer.training.bundle import ModelBundle
from retrainer.training.fit import FitResult, fit_candidate, time_split
from retrainer.training.trainers import make_estimator

__all__ = ["FitResult", "ModelBundle", "fit_candidate", "make_estimator", "time_split"]
