"""Estimators the end-to-end tests plug in by 'module:Class', as a user would."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import Ridge


class SlowRidge(RegressorMixin, BaseEstimator):
    """A Ridge regression that takes ``seconds`` to fit: time enough to kill its worker."""

    def __init__(self, seconds: float = 5.0, alpha: float = 1.0):
        self.seconds = seconds
        self.alpha = alpha

    def fit(self, X: Any, y: Any) -> SlowRidge:
        time.sleep(self.seconds)
        self.model_ = Ridge(alpha=self.alpha).fit(X, y)
        return self

    def predict(self, X: Any) -> np.ndarray:
        return self.model_.predict(X)


class FailingRidge(SlowRidge):
    """A Ridge regression whose fit fails as a full disk or a lost connection would."""

    def fit(self, X: Any, y: Any) -> FailingRidge:
        raise OSError("no space left on device")
