"""The registry contract, and ``open_registry``: MLflow for real use, memory for replays.

A tracking URI ``memory://NAME`` opens a registry that lives in this process (backtests run
hundreds of versions and need no MLflow round trips); any other URI opens MLflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from retrainer.training.bundle import ModelBundle

MEMORY_SCHEME = "memory://"


@dataclass(frozen=True)
class RegisteredVersion:
    model: str
    version: str
    run_id: str
    artifact_uri: str  # where the registered model's files live
    sha256: str  # digest of the bundle directory (see registry/digest.py)


class ModelRegistry(Protocol):
    tracking_uri: str

    def open(self) -> None: ...

    def job_run(self, model: str, job_id: int, tags: dict[str, str]) -> str: ...

    def log_trials(self, model: str, parent_run_id: str,
                   trials: list[dict[str, Any]]) -> int: ...

    def register(self, *, model: str, bundle_dir: Path, params: dict[str, Any],
                 metrics: dict[str, float], tags: dict[str, str],
                 extra_artifacts: dict[str, dict[str, Any]] | None = None,
                 run_id: str | None = None) -> RegisteredVersion: ...

    def sync_aliases(self, model: str, champion: str | None, previous: str | None) -> None: ...

    def set_version_tags(self, model: str, version: str, tags: dict[str, str]) -> None: ...

    def load_bundle(self, model: str, version: str, expected_sha256: str, *,
                    n_jobs: int | None = None) -> ModelBundle: ...

    def verify(self, model: str, version: str, expected_sha256: str) -> None: ...

    def list_versions(self, model: str) -> list[dict[str, Any]]: ...


def is_memory_uri(tracking_uri: str) -> bool:
    return tracking_uri.startswith(MEMORY_SCHEME)


def open_registry(tracking_uri: str, artifact_location: str) -> ModelRegistry:
    """The registry at ``tracking_uri`` (MLflow is imported only when it is needed)."""
    if is_memory_uri(tracking_uri):
        from retrainer.registry.memory import memory_registry

        return memory_registry(tracking_uri)
    from retrainer.registry.mlflow_registry import Registry

    return Registry(tracking_uri, artifact_location)
