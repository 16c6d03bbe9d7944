"""The MLflow-backed model registry: register versions with lineage, aliases, digests.

Each model gets an experiment ``retrainer/<model>`` (created on first use, artifacts under
``<artifact_location>/<model>``) and a registered model of the same name as the config. A
version's bundle is logged as a pyfunc model from code (``registry/pyfunc_model.py``), so
``mlflow.pyfunc.load_model("models:/<model>@champion")`` works for anyone; retrainer itself
loads the bundle only after its SHA-256 matches the digest recorded at registration.

Importing this module imports MLflow (over a second): import it only where it is needed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import Model

from retrainer.exceptions import DigestMismatchError, NotFoundError, RegistryError
from retrainer.registry.base import RegisteredVersion
from retrainer.registry.digest import directory_sha256
from retrainer.training.bundle import BUNDLE_FILE, ModelBundle

logging.getLogger("mlflow").setLevel(logging.WARNING)
logging.getLogger("alembic").setLevel(logging.WARNING)

PYFUNC_CODE = Path(__file__).with_name("pyfunc_model.py")
MODEL_NAME = "model"  # the logged model's name inside its run
BUNDLE_PATH = "artifacts/bundle"  # where pyfunc stores the staged "bundle" artifact
DIGEST_TAG = "retrainer.artifact_sha256"
ALIASES = ("champion", "previous")


@contextmanager
def _quiet() -> Iterator[None]:
    """Hide MLflow's advice while logging (no signature, environment notes): the CLI reports."""
    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


@contextmanager
def _mlflow_errors(what: str) -> Iterator[None]:
    try:
        yield
    except MlflowException as error:
        if error.error_code == "RESOURCE_DOES_NOT_EXIST":
            raise NotFoundError(f"{what}: {error.message}") from error
        raise RegistryError(f"{what}: {error.message}") from error


def _artifact_root(location: str) -> str:
    """A URI for ``location``; plain paths become absolute ``file://`` URIs."""
    if "://" in location:
        return location.rstrip("/")
    return Path(location).expanduser().resolve().as_uri()


def _param_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:6000]


def pip_requirements(bundle_dir: Path) -> list[str]:
    """Pinned requirements for serving the bundle, from the versions it recorded at save."""
    meta = json.loads((Path(bundle_dir) / BUNDLE_FILE).read_text())
    pins = dict(meta.get("library_versions", {}))
    pins["mlflow"] = mlflow.__version__
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


class Registry:
    """retrainer's view of an MLflow tracking server + model registry.

    Methods raise NotFoundError for unknown models/versions and RegistryError for other
    MLflow failures. ``register`` sets MLflow's process-wide tracking and registry URIs
    (``mlflow.pyfunc.log_model`` only logs to the active run of the global tracking URI).
    """

    def __init__(self, tracking_uri: str, artifact_location: str):
        self.tracking_uri = tracking_uri
        self.artifact_location = _artifact_root(artifact_location)
        self._client: MlflowClient | None = None

    @property
    def client(self) -> MlflowClient:
        """The MLflow client, opened on first use (a SQLite store takes ~1 s to open)."""
        if self._client is None:
            with _mlflow_errors(f"cannot open the MLflow store at {self.tracking_uri}"):
                self._client = MlflowClient(self.tracking_uri, registry_uri=self.tracking_uri)
        return self._client

    def open(self) -> None:
        """Open the store now (on a fresh SQLite database this runs MLflow's migrations)."""
        _ = self.client

    # --- writing ---------------------------------------------------------------------------

    def job_run(self, model: str, job_id: int, tags: dict[str, str]) -> str:
        """The job's run id (registry/tracking.py), created if no attempt made one yet."""
        from retrainer.registry import tracking

        return tracking.job_run(self, model, job_id, tags)

    def log_trials(self, model: str, parent_run_id: str, trials: list[dict[str, Any]]) -> int:
        """Log tuning trials as child runs of the job's run; returns how many were new."""
        from retrainer.registry import tracking

        return tracking.log_trials(self, model, parent_run_id, trials)

    def _experiment_id(self, model: str) -> str:
        name = f"retrainer/{model}"
        with _mlflow_errors(f"cannot create the MLflow experiment {name!r}"):
            experiment = self.client.get_experiment_by_name(name)
            if experiment is None:
                try:
                    return self.client.create_experiment(
                        name, artifact_location=f"{self.artifact_location}/{model}"
                    )
                except MlflowException:  # created concurrently by another process
                    experiment = self.client.get_experiment_by_name(name)
                    if experiment is None:
                        raise
            if experiment.lifecycle_stage == "deleted":
                self.client.restore_experiment(experiment.experiment_id)
            return experiment.experiment_id

    def _ensure_registered_model(self, model: str) -> None:
        try:
            self.client.get_registered_model(model)
        except MlflowException as error:
            if error.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            try:
                self.client.create_registered_model(model)
            except MlflowException as race:
                if race.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise

    def register(
        self,
        *,
        model: str,
        bundle_dir: Path,
        params: dict[str, Any],
        metrics: dict[str, float],
        tags: dict[str, str],
        extra_artifacts: dict[str, dict[str, Any]] | None = None,
        run_id: str | None = None,
    ) -> RegisteredVersion:
        """Log one run (params, metrics, tags, JSON artifacts, the pyfunc model) and register
        it as a new version of ``model`` tagged with ``tags`` plus the bundle's digest.

        ``run_id`` continues an existing run (the job's, which holds the tuning trials as
        child runs) instead of starting one; params it already has are not logged again
        (MLflow params are immutable; ``lineage.json`` holds the values of this attempt).
        """
        bundle_dir = Path(bundle_dir)
        sha256 = directory_sha256(bundle_dir)
        experiment_id = self._experiment_id(model)
        all_tags = {**tags, DIGEST_TAG: sha256}
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        with _mlflow_errors(f"cannot register a version of {model!r}"), _quiet():
            logged = set(self.client.get_run(run_id).data.params) if run_id else set()
            run_context = (mlflow.start_run(run_id=run_id) if run_id
                           else mlflow.start_run(experiment_id=experiment_id))
            with run_context as run:
                fresh = {k: _param_value(v) for k, v in params.items() if k not in logged}
                if fresh:
                    mlflow.log_params(fresh)
                if metrics:
                    mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
                mlflow.set_tags(all_tags)
                self._log_json(extra_artifacts or {})
                with tempfile.TemporaryDirectory(prefix="retrainer-stage-") as stage:
                    # pyfunc stores an artifact directory under its own name: call it "bundle"
                    staged = shutil.copytree(bundle_dir, Path(stage) / "bundle")
                    info = mlflow.pyfunc.log_model(
                        name=MODEL_NAME,
                        python_model=str(PYFUNC_CODE),
                        artifacts={"bundle": str(staged)},
                        pip_requirements=pip_requirements(bundle_dir),
                    )
            self._ensure_registered_model(model)
            version = self.client.create_model_version(
                model,
                info.model_uri,
                run_id=run.info.run_id,
                tags=all_tags,
                model_id=info.model_id,
            )
            uri = self.client.get_model_version_download_uri(model, version.version)
        return RegisteredVersion(model, str(version.version), run.info.run_id, uri, sha256)

    @staticmethod
    def _log_json(artifacts: dict[str, dict[str, Any]]) -> None:
        if not artifacts:
            return
        with tempfile.TemporaryDirectory(prefix="retrainer-artifacts-") as tmp:
            for name, data in artifacts.items():
                file = Path(tmp) / (name if name.endswith(".json") else f"{name}.json")
                file.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
            mlflow.log_artifacts(tmp)

    def sync_aliases(self, model: str, champion: str | None, previous: str | None) -> None:
        """Make aliases 'champion' and 'previous' point exactly at the given versions
        (None deletes the alias). Idempotent: only differences are written.
        """
        with _mlflow_errors(f"cannot update the aliases of {model!r}"):
            current = dict(self.client.get_registered_model(model).aliases)
            for alias, wanted in zip(ALIASES, (champion, previous), strict=True):
                have = current.get(alias)
                if wanted is None and have is not None:
                    self.client.delete_registered_model_alias(model, alias)
                elif wanted is not None and str(have) != str(wanted):
                    self.client.set_registered_model_alias(model, alias, str(wanted))

    def set_version_tags(self, model: str, version: str, tags: dict[str, str]) -> None:
        """Set (add or overwrite) tags on one model version."""
        with _mlflow_errors(f"cannot tag {model!r} version {version}"):
            for key, value in tags.items():
                self.client.set_model_version_tag(model, str(version), key, str(value))

    # --- reading ---------------------------------------------------------------------------

    def load_bundle(
        self, model: str, version: str, expected_sha256: str, *, n_jobs: int | None = None
    ) -> ModelBundle:
        """Download a version's bundle, verify its SHA-256, then (only then) load it.

        ``n_jobs`` caps the loaded booster's prediction threads. Raises DigestMismatchError
        when the files differ from the registered digest, NotFoundError for an unknown version.
        """
        with tempfile.TemporaryDirectory(prefix="retrainer-download-") as tmp:
            local = self._verified_download(model, version, expected_sha256, tmp)
            return ModelBundle.load(local, n_jobs=n_jobs)

    def verify(self, model: str, version: str, expected_sha256: str) -> None:
        """Check a version's stored bundle against its registered digest without loading it.

        Raises DigestMismatchError on a mismatch, NotFoundError for an unknown version.
        """
        with tempfile.TemporaryDirectory(prefix="retrainer-verify-") as tmp:
            self._verified_download(model, version, expected_sha256, tmp)

    def _verified_download(self, model: str, version: str, expected: str, tmp: str) -> Path:
        with _mlflow_errors(f"cannot fetch {model!r} version {version}"):
            uri = self.client.get_model_version_download_uri(model, str(version))
        with _mlflow_errors(f"cannot download {model!r} version {version}"):
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=f"{uri.rstrip('/')}/{self._bundle_path(uri, tmp)}",
                dst_path=tmp,
                tracking_uri=self.tracking_uri,
            )
        actual = directory_sha256(Path(local))
        if actual != expected:
            raise DigestMismatchError(f"{model} version {version}", expected, actual)
        return Path(local)

    def _bundle_path(self, model_uri: str, tmp: str) -> str:
        """Where the logged model keeps the bundle, as its MLmodel file says."""
        mlmodel = mlflow.artifacts.download_artifacts(
            artifact_uri=f"{model_uri.rstrip('/')}/MLmodel",
            dst_path=str(Path(tmp) / "meta"),
            tracking_uri=self.tracking_uri,
        )
        flavor = Model.load(mlmodel).flavors.get("python_function", {})
        return str(flavor.get("artifacts", {}).get("bundle", {}).get("path", BUNDLE_PATH))

    def list_versions(self, model: str) -> list[dict[str, Any]]:
        """Every version of ``model``, newest first (an unknown model has none)."""
        with _mlflow_errors(f"cannot list the versions of {model!r}"):
            try:
                aliases = dict(self.client.get_registered_model(model).aliases)
            except MlflowException as error:
                if error.error_code == "RESOURCE_DOES_NOT_EXIST":
                    return []
                raise
            found = self.client.search_model_versions(f"name = '{model}'")
        by_version: dict[str, list[str]] = {}
        for alias, version in aliases.items():
            by_version.setdefault(str(version), []).append(alias)
        rows = [
            {
                "version": str(mv.version),
                "aliases": sorted(by_version.get(str(mv.version), [])),
                "tags": dict(mv.tags),
                "run_id": mv.run_id,
                "created": datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC).isoformat(),
                "source": mv.source,
            }
            for mv in found
        ]
        return sorted(rows, key=lambda row: int(row["version"]), reverse=True)
