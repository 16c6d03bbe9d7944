"""The MLflow-backed registry and artifact digests.

``Registry`` and ``RegisteredVersion`` are imported lazily, so importing this package does
not import MLflow (which takes over a second).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from retrainer.registry.digest import directory_sha256, file_sha256

if TYPE_CHECKING:
    from retrainer.registry.mlflow_registry import RegisteredVersion, Registry

__all__ = ["RegisteredVersion", "Registry", "directory_sha256", "file_sha256"]


def __getattr__(name: str) -> Any:
    if name in ("Registry", "RegisteredVersion"):
        from retrainer.registry import mlflow_registry

        return getattr(mlflow_registry, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
