"""A registry held in this process's memory, for backtests (``memory://NAME``).

It keeps what MLflow keeps for retrainer — each version's bundle files, tags, params,
metrics, JSON artifacts and the two aliases — and applies the same digest check before a
bundle is loaded. It is shared by every runtime of the process with the same URI, and gone
when the process ends; jobs must therefore run in this process (the inline executor).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrainer.exceptions import DigestMismatchError, NotFoundError
from retrainer.registry.base import MEMORY_SCHEME, RegisteredVersion
from retrainer.registry.digest import directory_sha256
from retrainer.training.bundle import ModelBundle

_registries: dict[str, MemoryRegistry] = {}


def memory_registry(tracking_uri: str) -> MemoryRegistry:
    """The process's registry for ``tracking_uri``, created on first use."""
    if tracking_uri not in _registries:
        _registries[tracking_uri] = MemoryRegistry(tracking_uri)
    return _registries[tracking_uri]


def drop_memory_registry(tracking_uri: str) -> None:
    _registries.pop(tracking_uri, None)


@dataclass
class _Version:
    files: dict[str, bytes]
    sha256: str
    run_id: str
    tags: dict[str, str]
    params: dict[str, Any]
    metrics: dict[str, float]
    artifacts: dict[str, dict[str, Any]]
    bundle: ModelBundle | None = None  # loaded once, after its digest was checked


@dataclass
class _Model:
    versions: dict[str, _Version] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)


class MemoryRegistry:
    def __init__(self, tracking_uri: str):
        self.tracking_uri = tracking_uri
        self._models: dict[str, _Model] = {}
        self._runs: dict[str, dict[str, Any]] = {}

    def open(self) -> None:
        return None

    def job_run(self, model: str, job_id: int, tags: dict[str, str]) -> str:
        run_id = f"{model}-job-{job_id}"
        self._runs.setdefault(run_id, {"tags": dict(tags), "trials": {}})
        return run_id

    def log_trials(self, model: str, parent_run_id: str, trials: list[dict[str, Any]]) -> int:
        logged = self._runs.setdefault(parent_run_id, {"tags": {}, "trials": {}})["trials"]
        fresh = [t for t in trials if t["number"] not in logged]
        for trial in fresh:
            logged[trial["number"]] = trial
        return len(fresh)

    def register(self, *, model: str, bundle_dir: Path, params: dict[str, Any],
                 metrics: dict[str, float], tags: dict[str, str],
                 extra_artifacts: dict[str, dict[str, Any]] | None = None,
                 run_id: str | None = None) -> RegisteredVersion:
        root = Path(bundle_dir)
        files = {p.relative_to(root).as_posix(): p.read_bytes()
                 for p in root.rglob("*") if p.is_file()}
        sha256 = directory_sha256(root)
        entry = self._models.setdefault(model, _Model())
        version = str(len(entry.versions) + 1)
        run = run_id or f"{model}-run-{version}"
        entry.versions[version] = _Version(
            files, sha256, run, {**tags, "retrainer.artifact_sha256": sha256}, dict(params),
            dict(metrics), dict(extra_artifacts or {}))
        uri = f"{self.tracking_uri}/{model}/{version}"
        return RegisteredVersion(model, version, run, uri, sha256)

    def sync_aliases(self, model: str, champion: str | None, previous: str | None) -> None:
        aliases = self._model(model).aliases
        for alias, wanted in (("champion", champion), ("previous", previous)):
            if wanted is None:
                aliases.pop(alias, None)
            else:
                aliases[alias] = str(wanted)

    def set_version_tags(self, model: str, version: str, tags: dict[str, str]) -> None:
        self._version(model, version).tags.update({k: str(v) for k, v in tags.items()})

    def load_bundle(self, model: str, version: str, expected_sha256: str, *,
                    n_jobs: int | None = None) -> ModelBundle:
        entry = self._version(model, version)
        if entry.bundle is None:
            with tempfile.TemporaryDirectory(prefix="retrainer-memory-") as tmp:
                self._check(model, version, expected_sha256, Path(tmp))
                entry.bundle = ModelBundle.load(Path(tmp), n_jobs=n_jobs)
        elif entry.sha256 != expected_sha256:
            raise DigestMismatchError(f"{model} version {version}", expected_sha256,
                                      entry.sha256)
        return entry.bundle

    def verify(self, model: str, version: str, expected_sha256: str) -> None:
        with tempfile.TemporaryDirectory(prefix="retrainer-memory-") as tmp:
            self._check(model, version, expected_sha256, Path(tmp))

    def list_versions(self, model: str) -> list[dict[str, Any]]:
        entry = self._models.get(model)
        if entry is None:
            return []
        by_version: dict[str, list[str]] = {}
        for alias, version in entry.aliases.items():
            by_version.setdefault(version, []).append(alias)
        return [
            {"version": number, "aliases": sorted(by_version.get(number, [])),
             "tags": dict(item.tags), "run_id": item.run_id, "created": None,
             "source": f"{self.tracking_uri}/{model}/{number}"}
            for number, item in sorted(entry.versions.items(), key=lambda kv: -int(kv[0]))
        ]

    # --- internals ---------------------------------------------------------------------

    def _check(self, model: str, version: str, expected: str, directory: Path) -> None:
        """Write the version's files into ``directory`` and check their digest."""
        for name, data in self._version(model, version).files.items():
            target = directory / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        actual = directory_sha256(directory)
        if actual != expected:
            raise DigestMismatchError(f"{model} version {version}", expected, actual)

    def _model(self, model: str) -> _Model:
        if model not in self._models:
            raise NotFoundError(f"no registered model {model!r} in {self.tracking_uri}: a memory "
                                "registry lives only in the process that wrote it (a backtest's "
                                "ends with it; --registry mlflow keeps its models)")
        return self._models[model]

    def _version(self, model: str, version: str) -> _Version:
        entry = self._model(model).versions.get(str(version))
        if entry is None:
            raise NotFoundError(f"{model!r} has no version {version} in {self.tracking_uri}")
        return entry


__all__ = ["MEMORY_SCHEME", "MemoryRegistry", "drop_memory_registry", "memory_registry"]
