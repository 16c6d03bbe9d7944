"""The preprocessing a fit learns from its training rows: features, categories, classes.

A template is an unfitted :class:`ModelBundle`; fitting fills in its estimator. A warm start
reuses the production bundle's template instead, so category codes line up with the trees it
continues.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retrainer.config import ModelConfig
from retrainer.domain.metrics import Task
from retrainer.exceptions import DataError, TrainingError
from retrainer.training.bundle import ModelBundle, learn_levels


def check_training_frame(train: pd.DataFrame, model: ModelConfig) -> None:
    """Raise DataError unless ``train`` has rows, the target and time columns, no missing target."""
    for column in (model.target, model.time_column):
        if column not in train.columns:
            raise DataError(f"column {column!r} is not in the training data")
    if train[model.target].isna().any():
        raise DataError(
            f"target {model.target!r} has {int(train[model.target].isna().sum())} missing "
            "values; drop those rows before fitting"
        )
    if train.empty:
        raise DataError("no training rows")


def learn_template(train: pd.DataFrame, model: ModelConfig) -> ModelBundle:
    """An unfitted bundle carrying the preprocessing learned from ``train``.

    String, object and category feature columns are categorical even when not declared.
    Raises DataError for missing feature columns or mixed label types, TrainingError for a
    classification target with fewer than two classes.
    """
    features = model.feature_columns(list(train.columns))
    missing = [c for c in features if c not in train.columns]
    if missing:
        raise DataError(f"missing feature column(s) {missing} in the training data")
    categorical = [c for c in features if c in model.categorical]
    categorical += [c for c in features if c not in categorical and _is_label_column(train[c])]
    classes = None
    if model.task is Task.CLASSIFICATION:
        try:
            values = np.unique(train[model.target].to_numpy())
        except TypeError as error:
            raise DataError(f"target {model.target!r} mixes label types: {error}") from None
        if len(values) < 2:
            raise TrainingError(
                f"classification needs at least two classes; the training data has {len(values)}"
            )
        classes = [v.item() if isinstance(v, np.generic) else v for v in values]
    return ModelBundle(
        task=model.task,
        features=features,
        categorical=categorical,
        categories={c: learn_levels(train[c]) for c in categorical},
        classes=classes,
        trainer=model.training.trainer,
        estimator=None,
    )


def copy_template(bundle: ModelBundle) -> ModelBundle:
    """An unfitted bundle with ``bundle``'s preprocessing (for a warm start)."""
    return ModelBundle(
        task=bundle.task,
        features=list(bundle.features),
        categorical=list(bundle.categorical),
        categories={k: list(v) for k, v in bundle.categories.items()},
        classes=None if bundle.classes is None else list(bundle.classes),
        trainer=bundle.trainer,
        estimator=None,
    )


def _is_label_column(series: pd.Series) -> bool:
    """Strings and pandas categories are categorical even when not declared."""
    dtype = series.dtype
    return bool(
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_string_dtype(dtype)
        or pd.api.types.is_object_dtype(dtype)
    )


def encode_target(target: pd.Series, template: ModelBundle) -> np.ndarray:
    """Regression: float64 values. Classification: labels as indices into ``classes``."""
    if template.classes is None:
        return target.to_numpy(dtype="float64")
    classes = np.asarray(template.classes)
    codes = np.searchsorted(classes, target.to_numpy())
    return codes.astype("int64")
