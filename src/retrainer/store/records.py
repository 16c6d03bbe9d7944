"""ORM rows -> the frozen domain records the store hands out."""

from __future__ import annotations

from datetime import datetime
from typing import Any, overload

from retrainer.clock import as_utc
from retrainer.domain import (
    Attempt,
    Job,
    JobState,
    ModelVersion,
    MonitorReading,
    Promotion,
    Severity,
    TriggerDecision,
)
from retrainer.store.schema import (
    AttemptRow,
    DecisionRow,
    JobRow,
    PromotionRow,
    ReadingRow,
    VersionRow,
)

FROM_ROW: Any = object()  # to_version: take the profile from the row


@overload
def utc(when: datetime) -> datetime: ...
@overload
def utc(when: None) -> None: ...
def utc(when: datetime | None) -> datetime | None:
    """Aware UTC, as rows read back from the database are (naive values are UTC)."""
    return None if when is None else as_utc(when)


def to_job(row: JobRow) -> Job:
    return Job(
        id=row.id,
        model=row.model,
        state=JobState(row.state),
        trigger=row.trigger,
        reason=row.reason,
        as_of=utc(row.as_of),
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
        not_before=utc(row.not_before),
        heartbeat_at=utc(row.heartbeat_at),
        candidate_version=row.candidate_version,
        state_reason=row.state_reason,
        evidence=row.evidence or {},
        config=row.config or {},
    )


def to_attempt(row: AttemptRow) -> Attempt:
    return Attempt(
        job_id=row.job_id,
        number=row.number,
        started_at=utc(row.started_at),
        finished_at=utc(row.finished_at),
        outcome=row.outcome,
        error=row.error,
        worker=row.worker,
    )


def to_reading(row: ReadingRow | Any, details: dict[str, Any] | None = None) -> MonitorReading:
    """``row``: a reading, or a row of its columns; ``details``: instead of the row's (which
    may then be left out)."""
    return MonitorReading(
        model=row.model,
        monitor=row.monitor,
        as_of=row.as_of,
        window_start=row.window_start,
        window_end=row.window_end,
        rows=row.rows,
        score=row.score,
        severity=Severity(row.severity),
        alert=row.alert,
        summary=row.summary,
        details=(row.details or {}) if details is None else details,
        champion_version=row.champion_version,
    )


def to_decision(row: DecisionRow) -> TriggerDecision:
    return TriggerDecision(
        model=row.model,
        trigger=row.trigger,
        as_of=row.as_of,
        condition_met=row.condition_met,
        fired=row.fired,
        reason=row.reason,
        evidence=row.evidence or {},
        job_id=row.job_id,
    )


def to_version(row: VersionRow, profile: Any = FROM_ROW) -> ModelVersion:
    """The domain version of ``row``; ``profile``, when given, instead of the row's (which
    may then be left unloaded)."""
    return ModelVersion(
        model=row.model,
        version=row.version,
        job_id=row.job_id,
        run_id=row.run_id,
        artifact_uri=row.artifact_uri,
        artifact_sha256=row.artifact_sha256,
        status=row.status,
        metrics=row.metrics or {},
        created_at=row.created_at,
        lineage=row.lineage or {},
        profile=row.profile if profile is FROM_ROW else profile,
        semver=row.semver,
    )


def to_promotion(row: PromotionRow) -> Promotion:
    return Promotion(
        id=row.id,
        model=row.model,
        kind=row.kind,
        from_version=row.from_version,
        to_version=row.to_version,
        job_id=row.job_id,
        reason=row.reason,
        as_of=utc(row.as_of),
        mirrored=row.mirrored_at is not None,
    )
