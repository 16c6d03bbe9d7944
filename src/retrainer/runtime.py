"""``build_runtime``: the one place retrainer's collaborators are built from config + settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrainer.clock import Clock, SystemClock
from retrainer.config import ModelConfig, RetrainerConfig, Settings, load_config, resolve_url
from retrainer.exceptions import UsageError
from retrainer.executors import EventCallback, Executor, InlineExecutor, LocalExecutor
from retrainer.notify import Notifier, build_notifier
from retrainer.registry.base import is_memory_uri
from retrainer.store import Store

if TYPE_CHECKING:
    from retrainer.domain import ModelVersion
    from retrainer.registry import ModelRegistry
    from retrainer.training.bundle import ModelBundle
    from retrainer.training.run import JobSnapshot


@dataclass
class Runtime:
    config: RetrainerConfig
    store: Store
    notifier: Notifier
    tracking_uri: str
    artifact_location: str
    clock: Clock = field(default_factory=SystemClock)
    threads: int | None = None  # booster threads of inline jobs (default: every core)
    _registry: ModelRegistry | None = None
    _bundles: dict[tuple[str, str], Any] = field(default_factory=dict)

    @property
    def registry(self) -> ModelRegistry:
        """The registry, opened on first use (importing MLflow costs ~1.5 s)."""
        if self._registry is None:
            from retrainer.registry import open_registry

            self._registry = open_registry(self.tracking_uri, self.artifact_location)
        return self._registry

    def executor(self, on_event: EventCallback | None = None) -> Executor:
        if self.config.executor.kind == "inline":
            return InlineExecutor(self.store, self.config.executor, on_event=on_event,
                                  n_jobs=self.threads)
        if is_memory_uri(self.tracking_uri):
            raise UsageError("a memory:// registry lives in one process: use executor kind "
                             "'inline' with it")
        return LocalExecutor(self.store, self.config.executor, on_event=on_event)

    def snapshot(self, model: ModelConfig) -> JobSnapshot:
        from retrainer.training.run import JobSnapshot

        return JobSnapshot(
            model=model,
            executor=self.config.executor,
            root=self.config.root,
            tracking_uri=self.tracking_uri,
            artifact_location=self.artifact_location,
        )

    def bundle(self, version: ModelVersion) -> ModelBundle:
        """A registered version's model, digest-checked, cached for this runtime."""
        key = (version.model, version.version)
        if key not in self._bundles:
            self._bundles[key] = self.registry.load_bundle(
                version.model, version.version, version.artifact_sha256
            )
        return self._bundles[key]

    def close(self) -> None:
        self.store.close()


def resolve_locations(config: RetrainerConfig, settings: Settings) -> tuple[str, str, str]:
    """(state store URL, MLflow tracking URI, artifact location), env settings winning."""
    root = config.root
    project = config.project
    store_url = resolve_url(settings.state_store_url or project.state_store_url, root)
    tracking_uri = resolve_url(settings.mlflow_tracking_uri or project.mlflow_tracking_uri, root)
    artifacts = Path(project.mlflow_artifact_location).expanduser()
    if "://" not in project.mlflow_artifact_location and not artifacts.is_absolute():
        artifacts = (root / artifacts).resolve()
    return store_url, tracking_uri, str(artifacts)


def build_runtime(
    config: RetrainerConfig | None = None,
    settings: Settings | None = None,
    clock: Clock | None = None,
) -> Runtime:
    """Load what is missing, open (and migrate) the store, wire notifications."""
    settings = settings or Settings()
    config = config or load_config(settings.config)
    store_url, tracking_uri, artifacts = resolve_locations(config, settings)
    return Runtime(
        config=config,
        store=Store(store_url),
        notifier=build_notifier(config.project),
        tracking_uri=tracking_uri,
        artifact_location=artifacts,
        clock=clock or SystemClock(),
    )
