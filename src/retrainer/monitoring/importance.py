"""Feature importance of a trained model, and the column weights of the dataset verdict.

The dataset drifts when the drifted columns carry at least ``drift.dataset_share`` of the
weight. With ``weighting: importance`` (the default) a column's weight is the model's
importance of that feature, so a shift in a feature the model ignores does not trigger a
retrain by itself; columns the model does not use weigh nothing. A column's ``weight``
override replaces its importance. Without importances (an old profile) or with
``weighting: uniform`` every column weighs the same, and the weighted share is the share of
drifted columns.

>>> from retrainer.config import DriftMonitorConfig
>>> column_weights(["a", "b", "c"], {"a": 3.0, "b": 1.0}, DriftMonitorConfig())
({'a': 0.75, 'b': 0.25, 'c': 0.0}, 'importance')
>>> column_weights(["a", "b"], None, DriftMonitorConfig())
({'a': 0.5, 'b': 0.5}, 'uniform')
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from retrainer.config import DriftMonitorConfig

if TYPE_CHECKING:
    from retrainer.training.bundle import ModelBundle

__all__ = ["column_weights", "feature_importance"]


def column_weights(
    names: list[str], importance: dict[str, float] | None, rules: DriftMonitorConfig
) -> tuple[dict[str, float], str]:
    """Normalised weights (summing to 1) of ``names`` and how they were chosen:
    ``importance``, ``uniform`` or ``custom`` (only per-column ``weight`` overrides)."""
    overrides = {name: rules.columns[name].weight for name in names
                 if name in rules.columns and rules.columns[name].weight is not None}
    use_importance = rules.weighting == "importance" and bool(importance)
    raw: dict[str, float] = {}
    for name in names:
        if name in overrides:
            raw[name] = float(overrides[name] or 0.0)
        elif use_importance:
            assert importance is not None
            raw[name] = max(float(importance.get(name, 0.0)), 0.0)
        else:
            raw[name] = 1.0
    total = sum(raw.values())
    if total <= 0:
        return ({name: 1.0 / len(names) for name in names} if names else {}), "uniform"
    how = "importance" if use_importance else ("custom" if overrides else "uniform")
    return {name: value / total for name, value in raw.items()}, how


def feature_importance(bundle: ModelBundle) -> dict[str, float]:
    """Each of ``bundle.features`` with its share of the model's importance (sum 1).

    LightGBM and XGBoost boosters: total split gain. scikit-learn estimators (inside
    retrainer's preprocessing pipeline): ``feature_importances_``, else ``|coef_|`` on the
    standardised inputs, one-hot columns summed back to their feature. Estimators with
    neither, or a model without any gain, give every feature the same share.
    """
    features = list(bundle.features)
    if not features:
        return {}
    found = _raw_importance(bundle)
    values = np.array([max(float((found or {}).get(name, 0.0)), 0.0) for name in features])
    if found is None or values.sum() <= 0:
        values = np.ones(len(features))
    return {name: float(v) for name, v in zip(features, values / values.sum(), strict=True)}


def _raw_importance(bundle: ModelBundle) -> dict[str, float] | None:
    """Importance by feature name (boosters list features in ``bundle.features`` order)."""
    estimator = bundle.estimator
    if bundle.trainer == "lightgbm":
        gains = estimator.feature_importance(importance_type="gain")
        if len(gains) != len(bundle.features):
            return None
        return dict(zip(bundle.features, map(float, gains), strict=True))
    if bundle.trainer == "xgboost":
        scores = estimator.get_score(importance_type="total_gain")
        names = estimator.feature_names or [f"f{i}" for i in range(len(bundle.features))]
        if len(names) != len(bundle.features):
            return None
        return {f: float(scores.get(n, 0.0)) for f, n in zip(bundle.features, names, strict=True)}
    return _pipeline_importance(estimator, list(bundle.features))


def _pipeline_importance(estimator: Any, features: list[str]) -> dict[str, float] | None:
    """Importances of a (possibly wrapped) scikit-learn estimator, per input column."""
    steps = getattr(estimator, "steps", None)
    final = steps[-1][1] if steps else estimator
    values = getattr(final, "feature_importances_", None)
    if values is None:
        coef = getattr(final, "coef_", None)
        if coef is None:
            return None
        values = np.abs(np.atleast_2d(np.asarray(coef, dtype=float))).sum(axis=0)
    values = np.asarray(values, dtype=float).reshape(-1)
    if not steps or len(steps) < 2:
        if values.size != len(features):
            return None
        return dict(zip(features, map(float, values), strict=True))
    owners: list[str] = []
    order: list[str] = []
    for name, transformer, columns in getattr(steps[0][1], "transformers_", []):
        if name == "remainder" or isinstance(transformer, str):
            continue
        columns = list(columns)
        order += columns
        if hasattr(transformer, "categories_"):
            for column, categories in zip(columns, transformer.categories_, strict=True):
                owners += [column] * len(categories)
        else:
            owners += columns
    if len(owners) != values.size:
        return None
    totals = {column: 0.0 for column in order}
    for owner, value in zip(owners, values, strict=True):  # model inputs, not rows
        totals[owner] += float(value)
    return totals
