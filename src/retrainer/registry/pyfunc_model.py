"""MLflow pyfunc wrapper around a retrainer ModelBundle (logged as models-from-code).

MLflow copies this file into every logged model and executes it when the model is loaded, so
``mlflow.pyfunc.load_model("models:/<model>@champion").predict(frame)`` returns
``ModelBundle.prediction(frame)``: regression predictions, or the class-probability matrix
(columns in the order of ``bundle.json``'s ``classes``) for classification.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from retrainer.training.bundle import ModelBundle


class BundleModel(PythonModel):
    """Loads the bundle from the ``bundle`` artifact and scores frames with it."""

    bundle: ModelBundle

    def load_context(self, context: Any) -> None:
        self.bundle = ModelBundle.load(Path(context.artifacts["bundle"]))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> np.ndarray:
        return self.bundle.prediction(model_input)


mlflow.models.set_model(BundleModel())
