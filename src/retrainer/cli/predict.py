"""``retrainer predict``: batch scoring with the production model or a given version.

The model is loaded exactly as the loop loads it (``Runtime.bundle`` ->
``Registry.load_bundle``): downloaded from MLflow, its SHA-256 compared with the digest the
state store recorded at registration, and only then read. A mismatch exits 1 naming both
digests, and nothing is loaded.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from retrainer.cli.common import err_console, output_file, state
from retrainer.exceptions import DataError, NotFoundError, UsageError

if TYPE_CHECKING:
    import pandas as pd

    from retrainer.domain import ModelVersion
    from retrainer.runtime import Runtime

READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def resolve_version(rt: Runtime, model: str, version: str | None) -> ModelVersion:
    """The stored version ``version`` names: None or 'champion' (production), 'previous',
    an MLflow version number, or a semantic version (v1.2.0, v1.3.0-rc.7).

    Raises NotFoundError when there is no such version (or no production version yet).
    """
    store = rt.store
    if version in (None, "champion", "previous"):
        pointer = store.champion_pointer(model)
        wanted = None if pointer is None else pointer[0 if version != "previous" else 1]
        if wanted is None:
            what = "previous production version" if version == "previous" else \
                "production version"
            raise NotFoundError(f"model {model!r} has no {what}; pass --version")
        return store.get_version(model, wanted)
    assert version is not None
    if re.fullmatch(r"\d+\.\d+\.\d+.*", version):  # 1.2.0 is v1.2.0
        version = f"v{version}"
    if version.startswith("v"):
        for stored in store.versions(model):
            if stored.semver == version:
                return stored
        raise NotFoundError(f"model {model!r} has no version {version}")
    return store.get_version(model, version)


def read_frame(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file. UsageError for a missing file or another format."""
    import pandas as pd

    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise UsageError(f"{path}: give a .csv or .parquet file")
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    try:
        frame = pd.read_csv(path) if kind == "csv" else pd.read_parquet(path)
    except (OSError, ValueError) as error:
        raise DataError(f"cannot read {path}: {error}") from error
    if frame.empty:
        raise DataError(f"{path} has no rows to score")
    return frame


def score(bundle: Any, frame: pd.DataFrame, keep: list[str]) -> pd.DataFrame:
    """``keep`` columns of ``frame``, then ``prediction`` (and ``proba_<class>`` columns for
    classifiers). Raises DataError when the frame lacks a feature."""
    import pandas as pd

    out = frame[[c for c in keep if c in frame.columns]].copy()
    if bundle.classes is not None:
        proba = bundle.predict_proba(frame)
        out["prediction"] = [bundle.classes[i] for i in proba.argmax(axis=1)]
        for i, label in enumerate(bundle.classes):
            out[f"proba_{label}"] = proba[:, i]
    else:
        out["prediction"] = bundle.predict(frame)
    return pd.DataFrame(out)


def predict(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Model name from retrainer.yaml.")],
    data: Annotated[Path, typer.Argument(help="CSV or Parquet file with the feature columns.")],
    version: Annotated[str | None, typer.Option(
        "--version", help="MLflow version number, semantic version (v1.2.0), 'champion' or "
        "'previous' (default: production).")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write predictions here (.csv or .parquet; default: CSV on "
        "stdout).")] = None,
) -> None:
    """Score a file with the production model (or --version); probabilities for classifiers."""
    if output is not None and output.suffix.lower() not in READERS:
        raise UsageError(f"--output {output}: give a .csv or .parquet file")
    rt = state(ctx).runtime()
    config = rt.config.model(model)
    frame = read_frame(data)
    stored = resolve_version(rt, model, version)
    bundle = rt.bundle(stored)  # digest checked before anything is loaded
    keep = [c for c in (config.id_column, config.time_column) if c]
    result = score(bundle, frame, keep)
    label = f"{model} version {stored.version}" + (f" ({stored.semver})" if stored.semver else "")
    if output is None:
        result.to_csv(sys.stdout, index=False)
    else:
        output_file(output, "--output")
        if READERS[output.suffix.lower()] == "csv":
            result.to_csv(output, index=False)
        else:
            result.to_parquet(output, index=False)
        err_console.print(f"scored {len(result)} rows with {label} -> {output}", highlight=False)
