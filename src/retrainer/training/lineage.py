"""What is recorded with every registered version: lineage (store + ``lineage.json``) and
the ``retrainer.*`` tags on the MLflow version.

Lineage holds the training date, the data window, row counts and data hash, the features and
their types, the hyperparameters (and how they were chosen: tuning, warm start), the holdout
metrics with bootstrap intervals, the dependency versions, the artifact and model digests and
the semantic version. The reference profile is stored beside it.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import metadata
from typing import Any

import pandas as pd

from retrainer import __version__

PACKAGES = ("lightgbm", "xgboost", "scikit-learn", "pandas", "numpy", "scipy", "mlflow",
            "optuna")


def frame_sha256(frame: pd.DataFrame) -> str:
    """Order-sensitive digest of a frame's values and column names (training-data lineage)."""
    digest = hashlib.sha256(",".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


@lru_cache(maxsize=64)  # read once per process: metadata lookups scan every installed package
def installed_version(name: str) -> str | None:
    """The installed version of distribution ``name``, or None."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def package_versions() -> dict[str, str]:
    """Installed versions of retrainer and the libraries a version was trained with."""
    versions = {"retrainer": __version__}
    for name in PACKAGES:
        if (found := installed_version(name)) is not None:
            versions[name] = found
    return versions


def version_tags(lineage: dict[str, Any], *, passed: bool) -> dict[str, str]:
    """The ``retrainer.*`` tags of a registered version (the semver is added once known)."""
    tags = {
        "retrainer.job_id": str(lineage["job_id"]),
        "retrainer.attempt": str(lineage["attempt"]),
        "retrainer.trigger": lineage["trigger"],
        "retrainer.reason": str(lineage["reason"])[:500],
        "retrainer.as_of": lineage["as_of"],
        "retrainer.trained_at": lineage["trained_at"],
        "retrainer.data_start": lineage["data_start"],
        "retrainer.data_end": lineage["data_end"],
        "retrainer.rows": str(lineage["rows"]),
        "retrainer.data_hash": lineage["data_sha256"],
        "retrainer.trainer": lineage["trainer"],
        "retrainer.training_mode": lineage["training_mode"],
        "retrainer.model_sha256": lineage["model_sha256"],
        "retrainer.version": __version__,
        "retrainer.validation_passed": str(passed).lower(),
    }
    tuning = lineage.get("tuning") or {}
    if tuning.get("study_name"):
        tags["retrainer.tuning_study"] = tuning["study_name"]
        tags["retrainer.tuning_trials"] = str(sum(tuning.get("trials", {}).values()))
    return tags
