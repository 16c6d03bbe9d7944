"""The MLflow registry, for real: SQLite tracking store and local artifacts in a temp dir."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from tests.conftest import pm25_model

from retrainer.config import ModelConfig
from retrainer.exceptions import DigestMismatchError, NotFoundError
from retrainer.registry.digest import directory_sha256
from retrainer.registry.mlflow_registry import DIGEST_TAG, Registry
from retrainer.training.fit import fit_candidate

TAGS = {"retrainer.job_id": "7", "retrainer.trigger": "drift", "retrainer.data_hash": "abc123"}


def _model(trainer: str, task: str = "regression", target: str = "pm") -> ModelConfig:
    return pm25_model(trainer, task, target, params={"n_estimators": 60})


@pytest.fixture(scope="module")
def frames(beijing: pd.DataFrame):
    frame = beijing.dropna(subset=["pm"])
    frame = frame[(frame["time"] >= "2013-01-01") & (frame["time"] < "2013-03-01")]
    frame = frame.assign(high=(frame["pm"] > 100).astype("int64"))
    return frame.iloc[:-200], frame.iloc[-200:]


@pytest.fixture(scope="module")
def bundles(frames, tmp_path_factory):
    """Saved bundles: LightGBM regression and XGBoost binary classification."""
    train, _ = frames
    root = tmp_path_factory.mktemp("bundles")
    out = {}
    for key, model in {
        "lgb": _model("lightgbm"),
        "xgb": _model("xgboost", "classification", "high"),
    }.items():
        bundle = fit_candidate(train, model).bundle
        bundle.save(root / key)
        out[key] = (bundle, root / key)
    return out


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Registry:
    root = tmp_path_factory.mktemp("mlflow")
    return Registry(f"sqlite:///{root / 'mlflow.db'}", str(root / "artifacts"))


def _register(registry: Registry, model: str, bundle_dir: Path, **extra):
    return registry.register(
        model=model,
        bundle_dir=bundle_dir,
        params={"n_estimators": 60, "learning_rate": 0.05, "objective": None},
        metrics={"holdout_rmse": 21.5, "holdout_mae": 14.0},
        tags=TAGS,
        **extra,
    )


def test_register_logs_run_and_version_with_lineage_and_digest(registry, bundles):
    bundle_dir = bundles["lgb"][1]
    report = {"passed": True, "reasons": ["rmse 21.3 vs 24.9"]}
    first = _register(
        registry,
        "reg-a",
        bundle_dir,
        extra_artifacts={"validation_report.json": report, "reference_profile": {"columns": {}}},
    )
    second = _register(registry, "reg-a", bundle_dir)
    assert (first.version, second.version) == ("1", "2")
    assert first.sha256 == directory_sha256(bundle_dir) and first.model == "reg-a"

    client = registry.client
    version = client.get_model_version("reg-a", "1")
    assert version.tags == {**TAGS, DIGEST_TAG: first.sha256}
    run = client.get_run(first.run_id)
    assert run.data.params["n_estimators"] == "60" and run.data.params["objective"] == "null"
    assert run.data.metrics == {"holdout_rmse": 21.5, "holdout_mae": 14.0}
    assert run.data.tags["retrainer.trigger"] == "drift"
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "retrainer/reg-a"
    assert experiment.artifact_location.endswith("/artifacts/reg-a")
    names = {a.path for a in client.list_artifacts(first.run_id)}
    assert {"validation_report.json", "reference_profile.json"} <= names
    local = mlflow.artifacts.download_artifacts(
        run_id=first.run_id,
        artifact_path="validation_report.json",
        tracking_uri=registry.tracking_uri,
    )
    assert '"rmse 21.3 vs 24.9"' in Path(local).read_text()

    rows = registry.list_versions("reg-a")
    assert [r["version"] for r in rows] == ["2", "1"]
    assert rows[1]["tags"][DIGEST_TAG] == first.sha256 and rows[1]["run_id"] == first.run_id
    assert rows[0]["created"].endswith("+00:00") and rows[0]["source"]
    assert registry.list_versions("never-registered") == []


def test_aliases_are_synced_idempotently(registry, bundles):
    for _ in range(3):
        _register(registry, "reg-b", bundles["lgb"][1])

    def aliases() -> dict[str, str]:
        found = registry.client.get_registered_model("reg-b").aliases
        return {alias: str(version) for alias, version in found.items()}

    registry.sync_aliases("reg-b", "2", "1")
    assert aliases() == {"champion": "2", "previous": "1"}
    registry.sync_aliases("reg-b", "2", "1")  # again: nothing changes, nothing fails
    assert aliases() == {"champion": "2", "previous": "1"}
    registry.sync_aliases("reg-b", "3", "2")  # promotion moves both
    assert aliases() == {"champion": "3", "previous": "2"}
    rows = {r["version"]: r["aliases"] for r in registry.list_versions("reg-b")}
    assert rows == {"3": ["champion"], "2": ["previous"], "1": []}
    registry.sync_aliases("reg-b", "2", None)  # rollback: previous removed
    assert aliases() == {"champion": "2"}
    registry.sync_aliases("reg-b", None, None)
    registry.sync_aliases("reg-b", None, None)
    assert aliases() == {}


def test_set_version_tags(registry, bundles):
    registered = _register(registry, "reg-c", bundles["lgb"][1])
    registry.set_version_tags("reg-c", registered.version, {"retrainer.status": "champion"})
    tags = registry.client.get_model_version("reg-c", registered.version).tags
    assert tags["retrainer.status"] == "champion" and tags[DIGEST_TAG] == registered.sha256


@pytest.mark.parametrize("key", ["lgb", "xgb"])
def test_pyfunc_champion_predicts_like_the_bundle(registry, bundles, frames, key):
    bundle, bundle_dir = bundles[key]
    _, holdout = frames
    name = f"reg-pyfunc-{key}"
    registered = _register(registry, name, bundle_dir)
    registry.sync_aliases(name, registered.version, None)
    mlflow.set_registry_uri(registry.tracking_uri)
    served = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    expected = bundle.prediction(holdout)
    np.testing.assert_allclose(np.asarray(served.predict(holdout)), expected, atol=1e-9)
    loaded = registry.load_bundle(name, registered.version, registered.sha256)
    np.testing.assert_allclose(loaded.prediction(holdout), expected, atol=1e-9)
    if key == "xgb":
        assert expected.shape == (len(holdout), 2)


def _stored_bundle(registry: Registry, model: str, version: str) -> Path:
    uri = registry.client.get_model_version_download_uri(model, version)
    assert uri.startswith("file://")
    return Path(uri.removeprefix("file://")) / "artifacts" / "bundle"


def test_tampered_booster_is_refused(registry, bundles):
    registered = _register(registry, "reg-tamper", bundles["lgb"][1])
    stored = _stored_bundle(registry, "reg-tamper", registered.version)
    with (stored / "model.lgb.txt").open("ab") as handle:
        handle.write(b" ")
    with pytest.raises(DigestMismatchError, match="digest mismatch") as caught:
        registry.load_bundle("reg-tamper", registered.version, registered.sha256)
    assert caught.value.expected == registered.sha256
    assert caught.value.actual == directory_sha256(stored)


def test_digest_is_checked_before_anything_is_loaded(registry, bundles):
    registered = _register(registry, "reg-garbage", bundles["lgb"][1])
    stored = _stored_bundle(registry, "reg-garbage", registered.version)
    (stored / "bundle.json").write_text("not json at all")  # loading it would fail differently
    with pytest.raises(DigestMismatchError):
        registry.load_bundle("reg-garbage", registered.version, registered.sha256)


def test_unknown_version_is_not_found(registry, bundles):
    _register(registry, "reg-d", bundles["lgb"][1])
    with pytest.raises(NotFoundError):
        registry.load_bundle("reg-d", "99", "0" * 64)
