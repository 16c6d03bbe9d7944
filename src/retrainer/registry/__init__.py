"""Model registries (MLflow, or memory for replays) and artifact digests.

``Registry`` (MLflow) is imported lazily, so importing this package does not import MLflow
(which takes over a second).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from retrainer.registry.base import ModelRegistry, RegisteredVersion, open_registry
from retrainer.registry.digest import directory_sha256, file_sha256

if TYPE_CHECKING:
    from retrainer.registry.mlflow_registry import Registry

__all__ = ["ModelRegistry", "RegisteredVersion", "Registry", "directory_sha256", "file_sha256",
           "open_registry"]


def __getattr__(name: str) -> Any:
    if name == "Registry":
        from retrainer.registry import mlflow_registry

        return mlflow_registry.Registry
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
