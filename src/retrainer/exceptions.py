"""One exception hierarchy. Translated to exit codes / HTTP codes only at the edges."""

from __future__ import annotations

from dataclasses import dataclass


class RetrainerError(Exception):
    """Base of every error retrainer raises on purpose. ``exit_code`` is what the CLI returns."""

    exit_code = 1


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in a configuration file: where (dotted field path) and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


class ConfigError(RetrainerError):
    """The configuration is invalid. Carries every problem found, not just the first."""

    exit_code = 2

    def __init__(self, source: str, problems: list[ConfigProblem]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid configuration in {source}:\n{lines}")


class UsageError(RetrainerError):
    """The user asked for something that cannot be done as asked (unknown model, bad flag)."""

    exit_code = 2


class NotFoundError(RetrainerError):
    """A model, job or version that was asked for does not exist."""

    exit_code = 1


class DataError(RetrainerError):
    """Data could not be loaded or does not have the promised shape."""


class MissingTimeColumnError(DataError):
    """A source's data lacks the time column its config names."""

    def __init__(self, column: str, where: str, columns: list[str]):
        self.column, self.where, self.columns = column, where, columns
        shown = ", ".join(map(str, columns[:20])) + (
            f" and {len(columns) - 20} more" if len(columns) > 20 else "")
        super().__init__(f"time column {column!r} not found in {where} (columns: {shown})")


class IllegalTransitionError(RetrainerError):
    """A job was asked to move to a state its current state does not allow."""


class StoreError(RetrainerError):
    """The state store failed (connection, migration, constraint)."""


class RegistryError(RetrainerError):
    """The model registry (MLflow) failed or holds something unexpected."""


class DigestMismatchError(RegistryError):
    """An artifact's SHA-256 does not match the digest recorded when it was registered."""

    def __init__(self, what: str, expected: str, actual: str):
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"refusing to load {what}: artifact digest mismatch "
            f"(registered sha256 {expected}, found {actual})"
        )


class TrainingError(RetrainerError):
    """Training a candidate failed."""


class TrainerConfigError(TrainingError):
    """The configured trainer cannot be built (not importable, params it rejects, not an
    estimator, not one for the task): a retry with the same config cannot fix it. ``field``
    is where under ``training`` the problem lies (``trainer``, ``params``)."""

    def __init__(self, message: str, field: str = "trainer"):
        super().__init__(message)
        self.field = field


class ValidationError(RetrainerError):
    """Validating a candidate could not be carried out (not: the candidate failed the gate)."""
