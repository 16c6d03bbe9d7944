"""Semantic versions ``vMAJOR.MINOR.PATCH`` on top of MLflow's version numbers.

Rules (``candidate_semver`` at registration, ``release`` at promotion):

* the first version of a model is ``v1.0.0``;
* **MAJOR**: the feature set or schema (features, their order, numeric vs categorical)
  differs from production's: one more than the highest released major;
* **MINOR**: a retrain with production's schema: one more than the highest released minor of
  production's major. It is assigned when the retrain is *promoted*: until then the candidate
  carries a pre-release ``-rc.N`` (N = its MLflow version), and a rejected candidate keeps it;
* **PATCH**: a re-registration with no model change (the same estimator bytes and
  preprocessing as production): production's major.minor with the next free patch, at once.

Numbering counts every released version, rolled back or not, so a number is never reused.

>>> schema = {"x": "numeric"}
>>> prod = Production("v1.2.0", schema, "aaa")
>>> candidate_semver(["v1.0.0", "v1.1.0", "v1.2.0"], prod, schema, "bbb", "7")
'v1.3.0-rc.7'
>>> candidate_semver(["v1.2.0"], prod, {"x": "numeric", "y": "numeric"}, "bbb", "8")
'v2.0.0-rc.8'
>>> candidate_semver(["v1.2.0", "v1.2.1"], prod, schema, "aaa", "9")
'v1.2.2'
>>> release("v1.3.0-rc.7", ["v1.2.0", "v1.3.0-rc.6"])
'v1.3.0'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_PATTERN = re.compile(r"^v(\d+)\.(\d+)\.(\d+)(?:-rc\.(\d+))?$")


@dataclass(frozen=True, order=True)
class SemVer:
    major: int
    minor: int
    patch: int
    rc: int | None = None  # pre-release number; None: released

    @classmethod
    def parse(cls, text: str) -> SemVer:
        """Parse ``v1.2.3`` or ``v1.2.3-rc.4``. Raises ValueError otherwise."""
        match = _PATTERN.match(text.strip())
        if match is None:
            raise ValueError(f"{text!r} is not a version such as v1.2.3 or v1.2.3-rc.4")
        major, minor, patch, rc = match.groups()
        return cls(int(major), int(minor), int(patch), None if rc is None else int(rc))

    @property
    def released(self) -> bool:
        return self.rc is None

    @property
    def base(self) -> SemVer:
        return SemVer(self.major, self.minor, self.patch)

    def __str__(self) -> str:
        text = f"v{self.major}.{self.minor}.{self.patch}"
        return text if self.rc is None else f"{text}-rc.{self.rc}"


@dataclass(frozen=True)
class Production:
    """What the numbering needs to know about the production version."""

    semver: str | None
    schema: dict[str, Any] | None  # feature -> numeric | categorical, in feature order
    model_sha256: str | None  # see registry/digest.model_sha256


def is_semver(text: str) -> bool:
    return _PATTERN.match(text.strip()) is not None


def _released(existing: Iterable[str | None]) -> list[SemVer]:
    out = []
    for text in existing:
        if text and is_semver(text):
            version = SemVer.parse(text)
            if version.released:
                out.append(version)
    return out


def _same_schema(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    return a is not None and b is not None and list(a.items()) == list(b.items())


def candidate_semver(
    existing: Iterable[str | None],
    production: Production | None,
    schema: dict[str, Any],
    model_sha256: str,
    mlflow_version: str,
) -> str:
    """The semantic version a newly registered candidate gets (see the module docstring)."""
    released = _released(existing)
    if not released:
        return str(SemVer(1, 0, 0, int(mlflow_version)))
    prod = None
    if production is not None and production.semver and is_semver(production.semver):
        prod = SemVer.parse(production.semver)
    if production is not None and prod is not None:
        if production.model_sha256 and production.model_sha256 == model_sha256:
            patches = [v.patch for v in released if (v.major, v.minor) == (prod.major, prod.minor)]
            return str(SemVer(prod.major, prod.minor, max([prod.patch, *patches]) + 1))
        if _same_schema(production.schema, schema):
            minors = [v.minor for v in released if v.major == prod.major]
            return str(SemVer(prod.major, max([prod.minor, *minors]) + 1, 0, int(mlflow_version)))
    top = max(released)
    return str(SemVer(top.major + 1, 0, 0, int(mlflow_version)))


def release(candidate: str, existing: Iterable[str | None]) -> str:
    """The released form of a candidate's version at promotion: its ``-rc.N`` dropped (the
    next free minor of its major if that number was released meanwhile). Released versions
    (patches) are returned unchanged.
    """
    version = SemVer.parse(candidate)
    if version.released:
        return str(version)
    taken = set(_released(existing))
    target = version.base
    while target in taken:
        target = SemVer(target.major, target.minor + 1, 0)
    return str(target)
