"""Registered model versions and promotions as retrainer's store sees them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ModelVersion:
    model: str
    version: str  # MLflow's version number, as a string
    job_id: int | None
    run_id: str | None
    artifact_uri: str
    artifact_sha256: str
    status: str  # candidate | champion | retired | rejected | rolled_back
    metrics: dict[str, float]
    created_at: datetime
    lineage: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, Any] | None = None  # reference profile for drift monitoring
    # vMAJOR.MINOR.PATCH on top of MLflow's number (see registry/semver.py); candidates carry
    # a pre-release suffix (-rc.N) until they are promoted
    semver: str | None = None


@dataclass(frozen=True)
class Promotion:
    id: int
    model: str
    kind: str  # promote | rollback
    from_version: str | None
    to_version: str
    job_id: int | None
    reason: str
    as_of: datetime
    mirrored: bool
