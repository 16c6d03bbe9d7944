"""The in-process registry keeps MLflow's contract: versions, aliases, tags, digest checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrainer.domain.metrics import Task
from retrainer.exceptions import DigestMismatchError, NotFoundError
from retrainer.registry import open_registry
from retrainer.registry.memory import MemoryRegistry, drop_memory_registry
from retrainer.training.bundle import ModelBundle


@pytest.fixture()
def fitted_bundle() -> ModelBundle:
    import numpy as np
    from sklearn.linear_model import LinearRegression

    estimator = LinearRegression().fit(np.array([[0.0], [1.0], [2.0]]), np.array([1.0, 3, 5]))
    return ModelBundle(task=Task.REGRESSION, features=["x"], categorical=[], categories={},
                       classes=None, trainer="sklearn.linear_model:LinearRegression",
                       estimator=estimator)


@pytest.fixture()
def registry() -> MemoryRegistry:
    uri = "memory://test-registry"
    drop_memory_registry(uri)
    opened = open_registry(uri, "")
    assert isinstance(opened, MemoryRegistry) and open_registry(uri, "") is opened
    return opened


def test_register_load_alias_and_refuse_tampering(registry: MemoryRegistry, tmp_path: Path,
                                                 fitted_bundle: ModelBundle) -> None:
    bundle_dir = tmp_path / "bundle"
    fitted_bundle.save(bundle_dir)
    first = registry.register(model="m", bundle_dir=bundle_dir, params={"a": 1}, metrics={},
                              tags={"retrainer.job_id": "1"})
    second = registry.register(model="m", bundle_dir=bundle_dir, params={}, metrics={}, tags={})
    assert (first.version, second.version) == ("1", "2") and first.sha256 == second.sha256
    loaded = registry.load_bundle("m", "1", first.sha256)
    assert loaded.features == fitted_bundle.features
    registry.sync_aliases("m", "2", "1")
    registry.set_version_tags("m", "2", {"retrainer.status": "champion"})
    rows = registry.list_versions("m")
    assert [(r["version"], r["aliases"]) for r in rows] == [
        ("2", ["champion"]), ("1", ["previous"])]
    assert rows[0]["tags"]["retrainer.status"] == "champion"

    registry._version("m", "2").files["bundle.json"] += b" "  # the stored bytes changed
    with pytest.raises(DigestMismatchError, match="digest mismatch"):
        registry.verify("m", "2", second.sha256)
    with pytest.raises(DigestMismatchError):
        registry.load_bundle("m", "2", second.sha256)
    with pytest.raises(NotFoundError):
        registry.load_bundle("m", "9", second.sha256)


def test_trials_are_logged_once_per_number(registry: MemoryRegistry) -> None:
    run = registry.job_run("m", 7, {})
    assert registry.job_run("m", 7, {}) == run
    trials = [{"number": 0, "params": {}, "metrics": {}, "state": "complete"}]
    assert registry.log_trials("m", run, trials) == 1
    assert registry.log_trials("m", run, trials) == 0
