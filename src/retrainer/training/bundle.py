"""The fitted model together with its preprocessing, saved in native formats.

Production scoring and retraining both go through :meth:`ModelBundle.prepare`: columns are
selected and ordered by ``features``, numeric columns become float64, categorical columns
become pandas ``category`` columns with the levels learned at fit time (unseen levels become
missing). A bundle directory holds ``bundle.json`` (everything but the estimator) and the
estimator in its native format: LightGBM booster text, XGBoost UBJSON, or joblib for other
scikit-learn estimators (never a pickle for a booster).

>>> import pandas as pd
>>> from retrainer.domain.metrics import Task
>>> bundle = ModelBundle(Task.REGRESSION, features=["x", "colour"], categorical=["colour"],
...                      categories={"colour": ["blue", "red"]}, classes=None,
...                      trainer="lightgbm", estimator=None)
>>> frame = pd.DataFrame({"colour": ["red", "green"], "x": [1, 2], "extra": [0, 0]})
>>> prepared = bundle.prepare(frame)
>>> list(prepared.columns), prepared["colour"].tolist(), prepared["x"].dtype.name
(['x', 'colour'], ['red', nan], 'float64')
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from retrainer.domain.metrics import Task
from retrainer.exceptions import DataError, TrainingError, UsageError
from retrainer.training.lineage import installed_version

FORMAT_VERSION = 1
#: characters LightGBM (JSON: " , : [ ] { }) or XGBoost ([ ] <) refuse in feature names
_UNSAFE_IN_NAMES = re.compile(r'[",:\[\]{}<>]')
BUNDLE_FILE = "bundle.json"
#: rows whose predictions a bundle remembers (about 25 MB with ten classes and 20 features)
_REMEMBERED_ROWS = 50_000
_FILES = {"lightgbm": "model.lgb.txt", "xgboost": "model.xgb.ubj", "joblib": "estimator.joblib"}


@functools.lru_cache(maxsize=64)
def booster_names(features: tuple[str, ...]) -> tuple[str, ...]:
    """The names a booster sees for ``features``: characters it refuses become ``_``,
    and a name that then repeats an earlier one gets ``_2``, ``_3``... Identity when no
    name holds such a character, as in every booster saved before this existed.

    >>> booster_names(("temp[C]", "wind:speed", "temp_C_", "x y"))
    ('temp_C_', 'wind_speed', 'temp_C__2', 'x y')
    """
    names: list[str] = []
    for feature in features:
        base = _UNSAFE_IN_NAMES.sub("_", str(feature))
        name, n = base, 1
        while name in names:
            n += 1
            name = f"{base}_{n}"
        names.append(name)
    return tuple(names)


def category_labels(series: pd.Series) -> pd.Series:
    """A column's values as strings for category matching; missing stays missing.

    Integral floats are written without a decimal part, so a level ``3`` matches whether the
    column arrives as int64 or (because of a missing value) as float64.

    >>> category_labels(pd.Series([3.0, None, 1.5])).tolist()
    ['3', <NA>, '1.5']
    """
    if pd.api.types.is_float_dtype(series.dtype):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        text = [
            None if np.isnan(v) else str(int(v)) if float(v).is_integer() else str(v)
            for v in values
        ]
        return pd.Series(text, index=series.index, dtype="string")
    return series.astype("string")


def learn_levels(series: pd.Series) -> list[str]:
    """The sorted distinct category labels of a training column."""
    return sorted(str(v) for v in category_labels(series).dropna().unique())


def _is_number(dtype: Any) -> bool:
    return pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype)


def _numeric(series: pd.Series, column: str) -> pd.Series:
    if _is_number(series.dtype):
        return series.astype("float64")
    try:
        return pd.to_numeric(series, errors="raise").astype("float64")
    except (TypeError, ValueError):
        raise DataError(
            f"feature column {column!r} is not numeric (dtype {series.dtype}); "
            "declare it in 'categorical' or fix the data"
        ) from None


@dataclass(eq=False)
class ModelBundle:
    """A fitted model and everything needed to score a raw frame with it.

    ``estimator`` is the fitted predictor: a ``lightgbm.Booster`` / ``xgboost.Booster`` for
    the built-in trainers (their native, file-backed form) or a fitted scikit-learn estimator.
    Classifiers are fitted on labels encoded as ``0..k-1``; ``classes`` maps them back.
    ``n_jobs`` caps prediction threads for boosters; it is a runtime setting, not saved.
    """

    task: Task
    features: list[str]
    categorical: list[str]
    categories: dict[str, list[str]]
    classes: list[Any] | None
    trainer: str
    estimator: Any
    n_jobs: int | None = None
    info: dict[str, Any] = field(default_factory=dict)
    # predictions by the bytes of a prepared row (``_remembered``): not saved, not compared
    _rows: dict[str, dict[bytes, np.ndarray]] = field(default_factory=dict, init=False,
                                                      repr=False)
    _rows_of: Any = field(default=None, init=False, repr=False)  # the estimator they are of

    # --- preprocessing ----------------------------------------------------------------------

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The model's input: ``features`` in order (under ``booster_names`` for boosters),
        categories mapped to the learned levels.

        Raises DataError naming every feature column the frame lacks.
        """
        missing = [c for c in self.features if c not in frame.columns]
        if missing:
            raise DataError(f"missing feature column(s) {missing}; the model uses {self.features}")
        names = (booster_names(tuple(self.features))
                 if _estimator_format(self.trainer) != "joblib" else self.features)
        dtypes = frame.dtypes
        if not self.categories and all(_is_number(dtypes[c]) for c in self.features):
            # one float64 block: a tenth of the time of a column-by-column frame at 200 columns
            values = frame[self.features].to_numpy(dtype="float64", na_value=np.nan)
            return pd.DataFrame(values, columns=list(names), index=frame.index)
        columns: dict[str, Any] = {}
        for column, name in zip(self.features, names, strict=True):
            series = frame[column]
            if column in self.categories:
                levels = self.categories[column]
                labels = category_labels(series)
                labels = labels.where(labels.isin(levels))
                dtype = pd.CategoricalDtype(levels)
                columns[name] = pd.Categorical(labels, dtype=dtype)
            else:
                columns[name] = _numeric(series, column).to_numpy()
        return pd.DataFrame(columns, index=frame.index)

    # --- prediction -------------------------------------------------------------------------

    def _raw(self, prepared: pd.DataFrame, proba: bool) -> np.ndarray:
        kind = _estimator_format(self.trainer)
        if kind == "lightgbm":
            return self._remembered(prepared, self._lightgbm, "predictions")
        if kind == "xgboost":
            return np.asarray(self.estimator.inplace_predict(prepared), dtype="float64")
        if proba:
            return np.asarray(self.estimator.predict_proba(prepared), dtype="float64")
        return np.asarray(self.estimator.predict(prepared), dtype="float64")

    def _lightgbm(self, prepared: pd.DataFrame, **options: Any) -> np.ndarray:
        extra = {"num_threads": self.n_jobs} if self.n_jobs else {}
        return np.asarray(self.estimator.predict(prepared, **options, **extra), dtype="float64")

    def raw_scores(self, prepared: pd.DataFrame) -> np.ndarray:
        """A LightGBM booster's raw scores of ``prepared`` rows with every round, as LightGBM
        computes them for a fit that continues from it (``init_model``): shape (n,), or
        (n, classes) with more than two classes. Remembered by row like predictions."""
        return self._remembered(
            prepared, lambda rows: self._lightgbm(rows, raw_score=True, num_iteration=-1), "raw")

    def _remembered(self, prepared: pd.DataFrame,
                    predict: Callable[[pd.DataFrame], np.ndarray], kind: str) -> np.ndarray:
        """``predict(prepared)``, reusing what this bundle's estimator already predicted
        (``kind``: predictions or raw scores) for the same rows.

        A booster scores each row on its own, so a row's prediction depends only on its
        values: rows are known by the bytes of their float64 features (numeric features only;
        a frame with categories is predicted whole). A backtest scores the newest batch, then
        monitoring and the validation gate score production on the same rows. At most
        ``_REMEMBERED_ROWS`` rows are kept, then the memory starts again; a new estimator
        starts it again too.
        """
        if self.categories or len(prepared) == 0:
            return predict(prepared)
        if self._rows_of is not self.estimator:
            self._rows, self._rows_of = {}, self.estimator
        memo = self._rows.setdefault(kind, {})
        values = np.ascontiguousarray(prepared.to_numpy(dtype="float64"))
        keys = [row.tobytes() for row in values]
        found = [memo.get(key) for key in keys]
        missing = [i for i, row in enumerate(found) if row is None]
        known = [i for i, row in enumerate(found) if row is not None]
        rows = [row for row in found if row is not None]  # in the order of ``known``
        if not missing:
            return np.stack(rows)
        fresh = predict(prepared if not known else prepared.iloc[missing])
        if len(memo) + len(missing) > _REMEMBERED_ROWS:
            memo.clear()
        for i, row in zip(missing, fresh, strict=True):
            memo[keys[i]] = row
        if not known:
            return fresh
        out = np.empty((len(keys), *fresh.shape[1:]), dtype=fresh.dtype)
        out[missing] = fresh
        out[known] = np.stack(rows)
        return out

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Class probabilities, shape (n, len(classes)), columns in ``classes`` order."""
        if self.task is not Task.CLASSIFICATION or self.classes is None:
            raise UsageError("predict_proba is only defined for classification models")
        raw = self._raw(self.prepare(frame), proba=True)
        if raw.ndim == 1:  # binary boosters return P(classes[1])
            raw = np.column_stack([1.0 - raw, raw])
        return raw

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Regression: 1-D predictions. Classification: the most probable class labels."""
        if self.task is Task.CLASSIFICATION:
            assert self.classes is not None
            return np.asarray(self.classes)[np.argmax(self.predict_proba(frame), axis=1)]
        return self._raw(self.prepare(frame), proba=False).reshape(-1)

    def prediction(self, frame: pd.DataFrame) -> np.ndarray:
        """What the metrics take: regression predictions or the probability matrix."""
        if self.task is Task.CLASSIFICATION:
            return self.predict_proba(frame)
        return self.predict(frame)

    # --- storage ----------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Write ``bundle.json`` and the estimator's native file into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        kind = _estimator_format(self.trainer)
        target = directory / _FILES[kind]
        if kind in ("lightgbm", "xgboost"):  # booster text / UBJSON, both exact
            self.estimator.save_model(str(target))
        else:
            import joblib

            joblib.dump(self.estimator, target)
        meta = {
            "format_version": FORMAT_VERSION,
            "task": str(self.task),
            "trainer": self.trainer,
            "features": self.features,
            "categorical": self.categorical,
            "categories": self.categories,
            "classes": self.classes,
            "estimator_format": kind,
            "estimator_file": target.name,
            "info": self.info,
            "library_versions": library_versions(self.trainer),
        }
        (directory / BUNDLE_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, directory: Path, *, n_jobs: int | None = None) -> ModelBundle:
        """Rebuild a bundle saved by :meth:`save`. Raises TrainingError if it is unreadable."""
        directory = Path(directory)
        try:
            meta = json.loads((directory / BUNDLE_FILE).read_text())
            kind = meta["estimator_format"]
            path = directory / meta["estimator_file"]
            if kind == "lightgbm":
                import lightgbm as lgb

                estimator: Any = lgb.Booster(model_file=str(path))
            elif kind == "xgboost":
                import xgboost as xgb

                estimator = xgb.Booster()
                estimator.load_model(str(path))
                if n_jobs:
                    estimator.set_param({"nthread": n_jobs})
            else:
                import joblib

                estimator = joblib.load(path)
            return cls(
                task=Task(meta["task"]),
                features=list(meta["features"]),
                categorical=list(meta["categorical"]),
                categories={k: list(v) for k, v in meta["categories"].items()},
                classes=meta["classes"],
                trainer=meta["trainer"],
                estimator=estimator,
                n_jobs=n_jobs,
                info=dict(meta.get("info", {})),
            )
        except Exception as error:  # any reader error (LightGBMError, XGBoostError, ...)
            raise TrainingError(f"cannot load the model bundle in {directory}: {error}") from error


def _estimator_format(trainer: str) -> str:
    return trainer if trainer in ("lightgbm", "xgboost") else "joblib"


def library_versions(trainer: str) -> dict[str, str]:
    """Installed versions of the libraries a bundle of this trainer needs to load."""
    names = ["retrainer", "numpy", "pandas", "scikit-learn"]
    if trainer in ("lightgbm", "xgboost"):
        names.append(trainer)
    else:  # the estimator's distribution, when it is named like its top-level module
        top = trainer.split(":", 1)[0].split(".", 1)[0]
        names += ["joblib", top, top.replace("_", "-")]
    found = {name: installed_version(name) for name in dict.fromkeys(names)}
    return {name: version for name, version in found.items() if version is not None}
