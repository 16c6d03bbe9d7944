"""The state store: jobs and their state machine, readings, decisions, versions, champions.

Invariants the store keeps, on SQLite and PostgreSQL alike:

- A job changes state only along ``domain.jobs.TRANSITIONS``, by compare-and-set on its
  current state (and attempt number for a running job): two workers can never both claim,
  finish or fail the same attempt. An attempt owns its job only while the job is running
  with that attempt number; once reaped (or reclaimed) it can change nothing.
- At most one job per model is queued, running or awaiting its promotion decision
  (a partial unique index).
- One champion per model (the ``champions`` primary key), changed by compare-and-set on
  the expected current champion, and only to a version the store knows.
- Retries are decided in one place, ``fail_attempt``, by the job's ``RetryPolicy`` within
  its ``max_attempts``; ``claim`` and ``due_jobs`` honour the retry delay (``not_before``).
- Every job state change, whichever method makes it, writes a ``job.<state>`` audit row.
- Datetimes come back timezone-aware UTC; JSON evidence stores NaN/±inf as null, on
  SQLite and PostgreSQL alike.

Every method raises ``StoreError`` for backend failures, ``NotFoundError`` for missing
rows and ``IllegalTransitionError`` for a refused state change.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from retrainer.clock import wall_now
from retrainer.domain import (
    Attempt,
    GateOutcome,
    Job,
    JobState,
    ModelVersion,
    MonitorReading,
    Promotion,
    RetryPolicy,
    TriggerDecision,
    ValidationReport,
    can_transition,
)
from retrainer.domain.jobs import ACTIVE_STATES
from retrainer.exceptions import (
    IllegalTransitionError,
    NotFoundError,
    RetrainerError,
    StoreError,
    UsageError,
)
from retrainer.store import migrate
from retrainer.store.engine import make_engine, worker_name
from retrainer.store.records import (
    to_attempt,
    to_decision,
    to_job,
    to_promotion,
    to_reading,
    to_version,
)
from retrainer.store.schema import (
    AttemptRow,
    AuditRow,
    ChampionRow,
    DecisionRow,
    JobRow,
    PromotionRow,
    ReadingRow,
    ReportRow,
    VersionRow,
)


class ActiveJobExistsError(UsageError):
    """A model already has a job queued, running or awaiting its decision."""

    def __init__(self, model: str, job_id: int | None):
        self.job_id = job_id
        super().__init__(f"model {model!r} already has an active job (#{job_id})")


class Store:
    """SQLAlchemy-backed state store. ``migrate=True`` brings the schema to head first."""

    def __init__(self, url: str, *, migrate_schema: bool = True):
        self.url = url
        try:
            self.engine = make_engine(url)
            if migrate_schema:
                migrate.upgrade(self.engine)
        except SQLAlchemyError as error:
            raise StoreError(f"cannot open state store {self.safe_url}: {error}") from error
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def safe_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
            session.commit()
        except RetrainerError:
            session.rollback()
            raise
        except SQLAlchemyError as error:
            session.rollback()
            raise StoreError(f"state store error: {error}") from error
        finally:
            session.close()

    # --- audit -------------------------------------------------------------------------

    def _audit(
        self,
        session: Session,
        action: str,
        *,
        model: str | None = None,
        job_id: int | None = None,
        as_of: datetime | None = None,
        actor: str = "retrainer",
        details: dict[str, Any] | None = None,
    ) -> None:
        session.add(
            AuditRow(
                recorded_at=wall_now(),
                as_of=as_of,
                actor=actor,
                action=action,
                model=model,
                job_id=job_id,
                details=details or {},
            )
        )

    def audit(self, action: str, **kwargs: Any) -> None:
        with self.session() as session:
            self._audit(session, action, **kwargs)

    def audit_log(self, model: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        with self.session() as session:
            query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
            if model:
                query = query.where(AuditRow.model == model)
            return [
                {
                    "id": r.id,
                    "recorded_at": r.recorded_at.isoformat(),
                    "as_of": r.as_of.isoformat() if r.as_of else None,
                    "actor": r.actor,
                    "action": r.action,
                    "model": r.model,
                    "job_id": r.job_id,
                    "details": r.details,
                }
                for r in session.scalars(query)
            ]

    # --- jobs --------------------------------------------------------------------------

    def create_job(
        self,
        model: str,
        *,
        trigger: str,
        reason: str,
        as_of: datetime,
        config: dict[str, Any],
        max_attempts: int,
        evidence: dict[str, Any] | None = None,
        actor: str = "retrainer",
    ) -> Job:
        """Queue a job. Raises ActiveJobExistsError if the model already has an active job."""
        now = wall_now()
        row = JobRow(
            model=model,
            state=JobState.QUEUED.value,
            trigger=trigger,
            reason=reason,
            as_of=as_of,
            attempts=0,
            max_attempts=max_attempts,
            evidence=evidence or {},
            config=config,
            created_at=now,
            updated_at=now,
        )
        try:
            with self.session() as session:
                session.add(row)
                session.flush()
                self._audit(
                    session,
                    "job.created",
                    model=model,
                    job_id=row.id,
                    as_of=as_of,
                    actor=actor,
                    details={"trigger": trigger, "reason": reason},
                )
        except StoreError as error:
            if isinstance(error.__cause__, IntegrityError):
                active = self.active_job(model)
                raise ActiveJobExistsError(model, active.id if active else None) from None
            raise
        return to_job(row)

    def get_job(self, job_id: int) -> Job:
        with self.session() as session:
            row = session.get(JobRow, job_id)
            if row is None:
                raise NotFoundError(f"no job #{job_id}")
            return to_job(row)

    def list_jobs(
        self,
        model: str | None = None,
        states: set[JobState] | None = None,
        limit: int = 50,
    ) -> list[Job]:
        with self.session() as session:
            query = select(JobRow).order_by(JobRow.id.desc()).limit(limit)
            if model:
                query = query.where(JobRow.model == model)
            if states:
                query = query.where(JobRow.state.in_([s.value for s in states]))
            return [to_job(r) for r in session.scalars(query)]

    def active_job(self, model: str) -> Job | None:
        jobs = self.list_jobs(model, set(ACTIVE_STATES), limit=1)
        return jobs[0] if jobs else None

    def count_jobs(
        self, model: str, start: datetime, end: datetime, exclude: set[JobState] | None = None
    ) -> int:
        """Jobs created for ``model`` with ``start <= as_of < end`` (budgets)."""
        with self.session() as session:
            query = select(func.count(JobRow.id)).where(
                JobRow.model == model, JobRow.as_of >= start, JobRow.as_of < end
            )
            if exclude:
                query = query.where(JobRow.state.not_in([s.value for s in exclude]))
            return int(session.scalar(query) or 0)

    def last_job_as_of(self, model: str, exclude: set[JobState] | None = None) -> datetime | None:
        with self.session() as session:
            query = select(func.max(JobRow.as_of)).where(JobRow.model == model)
            if exclude:
                query = query.where(JobRow.state.not_in([s.value for s in exclude]))
            return session.scalar(query)

    def transition(
        self,
        job_id: int,
        target: JobState,
        *,
        reason: str | None = None,
        attempt: int | None = None,
        actor: str = "retrainer",
        as_of: datetime | None = None,
        **fields: Any,
    ) -> Job:
        """Move a job to ``target`` if its state allows it (compare-and-set).

        ``attempt``, when given, must be the attempt that owns the job: the job is running
        and that is its current attempt number. A worker that lost its lease (reaped, and
        perhaps reclaimed by another worker) cannot change the job any more.
        """
        with self.session() as session:
            row = self._transition(session, job_id, target, reason=reason, attempt=attempt,
                                   actor=actor, as_of=as_of, **fields)
            return to_job(row)

    def _transition(
        self,
        session: Session,
        job_id: int,
        target: JobState,
        *,
        reason: str | None,
        attempt: int | None = None,
        actor: str = "retrainer",
        as_of: datetime | None = None,
        only_if: tuple[Any, ...] = (),
        **fields: Any,
    ) -> JobRow:
        """``transition`` inside ``session``; ``only_if`` adds conditions to the compare-and-set."""
        row = session.get(JobRow, job_id)
        if row is None:
            raise NotFoundError(f"no job #{job_id}")
        current = JobState(row.state)
        if not can_transition(current, target):
            raise IllegalTransitionError(
                f"job #{job_id} cannot go from {current.value} to {target.value}"
            )
        if attempt is not None and (current is not JobState.RUNNING or row.attempts != attempt):
            raise IllegalTransitionError(
                f"attempt {attempt} no longer owns job #{job_id} ({current.value}, "
                f"attempt {row.attempts})"
            )
        conditions = [JobRow.id == job_id, JobRow.state == current.value, *only_if]
        if attempt is not None:
            conditions.append(JobRow.attempts == attempt)
        values: dict[str, Any] = {
            "state": target.value,
            "updated_at": wall_now(),
            "state_reason": reason,
            **fields,
        }
        result = session.execute(update(JobRow).where(*conditions).values(**values))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise IllegalTransitionError(
                f"job #{job_id} changed under us (expected {current.value}"
                + (f", attempt {attempt})" if attempt is not None else ")")
            )
        self._audit(
            session,
            f"job.{target.value}",
            model=row.model,
            job_id=job_id,
            as_of=as_of,
            actor=actor,
            details={"from": current.value, "reason": reason},
        )
        session.flush()
        session.refresh(row)
        return row

    def claim(self, job_id: int, worker: str | None = None) -> Attempt | None:
        """queued -> running for a due job, opening attempt N+1.

        None if someone else won, or the job is not queued, or its retry delay
        (``not_before``) has not passed yet.
        """
        now = wall_now()
        with self.session() as session:
            row = session.get(JobRow, job_id)
            if row is None:
                raise NotFoundError(f"no job #{job_id}")
            if row.state != JobState.QUEUED.value:
                return None
            if row.not_before is not None and row.not_before > now:
                return None
            number = row.attempts + 1
            result = session.execute(
                update(JobRow)
                .where(
                    JobRow.id == job_id,
                    JobRow.state == JobState.QUEUED.value,
                    JobRow.attempts == row.attempts,
                    JobRow.not_before.is_(None) | (JobRow.not_before <= now),
                )
                .values(
                    state=JobState.RUNNING.value,
                    attempts=number,
                    heartbeat_at=now,
                    not_before=None,
                    updated_at=now,
                    state_reason=None,
                )
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            attempt = AttemptRow(
                job_id=job_id, number=number, started_at=now, worker=worker or worker_name()
            )
            session.add(attempt)
            self._audit(
                session,
                "job.running",
                model=row.model,
                job_id=job_id,
                details={"attempt": number, "worker": attempt.worker},
            )
            return to_attempt(attempt)

    def set_attempt_worker(self, job_id: int, attempt: int, worker: str) -> None:
        with self.session() as session:
            session.execute(
                update(AttemptRow)
                .where(AttemptRow.job_id == job_id, AttemptRow.number == attempt)
                .values(worker=worker)
            )

    def heartbeat(self, job_id: int, attempt: int) -> bool:
        """Refresh a running attempt's heartbeat. False if the attempt no longer owns the job."""
        with self.session() as session:
            result = session.execute(
                update(JobRow)
                .where(
                    JobRow.id == job_id,
                    JobRow.state == JobState.RUNNING.value,
                    JobRow.attempts == attempt,
                )
                .values(heartbeat_at=wall_now())
            )
            return result.rowcount == 1  # type: ignore[attr-defined]

    def _close_attempt(
        self, session: Session, job_id: int, attempt: int, outcome: str, error: str | None
    ) -> None:
        session.execute(
            update(AttemptRow)
            .where(AttemptRow.job_id == job_id, AttemptRow.number == attempt)
            .values(finished_at=wall_now(), outcome=outcome, error=error)
        )

    def complete_attempt(self, job_id: int, attempt: int, candidate_version: str) -> Job:
        """running -> succeeded: the candidate is trained, registered and validated.

        Raises IllegalTransitionError if ``attempt`` no longer owns the job.
        """
        with self.session() as session:
            row = self._transition(
                session,
                job_id,
                JobState.SUCCEEDED,
                attempt=attempt,
                reason="candidate trained and validated",
                candidate_version=candidate_version,
            )
            self._close_attempt(session, job_id, attempt, "succeeded", None)
            return to_job(row)

    def fail_attempt(
        self,
        job_id: int,
        attempt: int,
        *,
        outcome: str,
        error: str,
        policy: RetryPolicy,
    ) -> Job | None:
        """Close a failed attempt and apply the retry policy: running -> queued or failed.

        The job is retried while ``policy`` gives a delay and the job has attempts left
        (``max_attempts``); it is queued with ``not_before`` = now + delay. Returns None (and
        changes nothing) if the attempt no longer owns the job.
        """
        return self._fail_attempt(job_id, attempt, outcome=outcome, error=error, policy=policy)

    def _fail_attempt(
        self,
        job_id: int,
        attempt: int,
        *,
        outcome: str,
        error: str,
        policy: RetryPolicy,
        stale_before: datetime | None = None,
    ) -> Job | None:
        """``fail_attempt``; with ``stale_before``, only if the heartbeat is still older."""
        delay = policy.next_delay(attempt)
        now = wall_now()
        only_if = () if stale_before is None else (JobRow.heartbeat_at < stale_before,)
        try:
            with self.session() as session:
                row = session.get(JobRow, job_id)
                if row is None:
                    raise NotFoundError(f"no job #{job_id}")
                retry = delay is not None and attempt < row.max_attempts
                fields: dict[str, Any] = {"heartbeat_at": None}
                reason = f"attempt {attempt} {outcome}: {error}"
                if retry:
                    assert delay is not None
                    fields["not_before"] = now + timedelta(seconds=delay)
                    reason += f"; retry in {delay:.1f}s"
                target = JobState.QUEUED if retry else JobState.FAILED
                row = self._transition(session, job_id, target, attempt=attempt,
                                       reason=reason, only_if=only_if, **fields)
                self._close_attempt(session, job_id, attempt, outcome, error[-4000:])
                return to_job(row)
        except IllegalTransitionError:
            return None

    def stale_jobs(self, stale_after: timedelta) -> list[Job]:
        cutoff = wall_now() - stale_after
        with self.session() as session:
            query = select(JobRow).where(
                JobRow.state == JobState.RUNNING.value, JobRow.heartbeat_at < cutoff
            )
            return [to_job(r) for r in session.scalars(query)]

    def reap_stale(
        self,
        stale_after: timedelta,
        policy: RetryPolicy | Callable[[Job], RetryPolicy],
    ) -> list[Job]:
        """Fail the attempts of running jobs whose heartbeat stopped; retry them per policy.

        ``policy`` is one RetryPolicy or a function giving each job's own. A job whose
        worker heartbeats between the scan and the reaping is left alone.
        """
        cutoff = wall_now() - stale_after
        reaped = []
        for job in self.stale_jobs(stale_after):
            age = (wall_now() - job.heartbeat_at).total_seconds() if job.heartbeat_at else None
            result = self._fail_attempt(
                job.id,
                job.attempts,
                outcome="stale",
                error=f"no heartbeat for {age:.0f}s: the worker died" if age else "no heartbeat",
                policy=policy if isinstance(policy, RetryPolicy) else policy(job),
                stale_before=cutoff,
            )
            if result is not None:
                reaped.append(result)
        return reaped

    def due_jobs(self, limit: int = 100) -> list[Job]:
        """Queued jobs whose retry delay (if any) has passed, oldest first."""
        now = wall_now()
        with self.session() as session:
            query = (
                select(JobRow)
                .where(
                    JobRow.state == JobState.QUEUED.value,
                    (JobRow.not_before.is_(None)) | (JobRow.not_before <= now),
                )
                .order_by(JobRow.id)
                .limit(limit)
            )
            return [to_job(r) for r in session.scalars(query)]

    def attempts(self, job_id: int) -> list[Attempt]:
        with self.session() as session:
            query = (
                select(AttemptRow).where(AttemptRow.job_id == job_id).order_by(AttemptRow.number)
            )
            return [to_attempt(r) for r in session.scalars(query)]

    # --- readings and decisions --------------------------------------------------------

    def add_reading(self, reading: MonitorReading) -> int:
        with self.session() as session:
            row = ReadingRow(
                model=reading.model,
                monitor=reading.monitor,
                as_of=reading.as_of,
                window_start=reading.window_start,
                window_end=reading.window_end,
                rows=reading.rows,
                # SQLite stores NaN in a REAL column as NULL: do the same everywhere
                score=None if reading.score is not None and math.isnan(reading.score)
                else reading.score,
                severity=reading.severity.value,
                alert=reading.alert,
                summary=reading.summary,
                details=reading.details,
                champion_version=reading.champion_version,
                recorded_at=wall_now(),
            )
            session.add(row)
            session.flush()
            return row.id

    def readings(
        self, model: str, monitor: str | None = None, limit: int = 50
    ) -> list[MonitorReading]:
        with self.session() as session:
            query = select(ReadingRow).where(ReadingRow.model == model)
            if monitor:
                query = query.where(ReadingRow.monitor == monitor)
            query = query.order_by(ReadingRow.as_of.desc(), ReadingRow.id.desc()).limit(limit)
            return [to_reading(r) for r in session.scalars(query)]

    def add_decision(self, decision: TriggerDecision) -> int:
        with self.session() as session:
            row = DecisionRow(
                model=decision.model,
                trigger=decision.trigger,
                as_of=decision.as_of,
                condition_met=decision.condition_met,
                fired=decision.fired,
                reason=decision.reason,
                evidence=decision.evidence,
                job_id=decision.job_id,
                recorded_at=wall_now(),
            )
            session.add(row)
            session.flush()
            return row.id

    def link_decisions(self, decision_ids: list[int], job_id: int) -> None:
        with self.session() as session:
            session.execute(
                update(DecisionRow).where(DecisionRow.id.in_(decision_ids)).values(job_id=job_id)
            )

    def decisions(
        self,
        model: str,
        trigger: str | None = None,
        limit: int = 50,
        before: datetime | None = None,
    ) -> list[TriggerDecision]:
        """Newest first."""
        with self.session() as session:
            query = select(DecisionRow).where(DecisionRow.model == model)
            if trigger:
                query = query.where(DecisionRow.trigger == trigger)
            if before is not None:
                query = query.where(DecisionRow.as_of < before)
            query = query.order_by(DecisionRow.as_of.desc(), DecisionRow.id.desc()).limit(limit)
            return [to_decision(r) for r in session.scalars(query)]

    # --- validation reports ------------------------------------------------------------

    def save_report(self, job_id: int, report: ValidationReport) -> None:
        with self.session() as session:
            session.merge(
                ReportRow(
                    job_id=job_id,
                    passed=report.passed,
                    report=report.to_dict(),
                    recorded_at=wall_now(),
                )
            )

    def report(self, job_id: int) -> ValidationReport | None:
        with self.session() as session:
            row = session.get(ReportRow, job_id)
            return ValidationReport.from_dict(row.report) if row else None

    def gate_outcomes(self, model: str, limit: int = 500) -> list[GateOutcome]:
        """The newest ``limit`` validations of ``model``, oldest first, each with the time
        its production model was trained (the auto trigger learns what staleness costs)."""
        with self.session() as session:
            rows = session.execute(
                select(JobRow.as_of, ReportRow.report)
                .join(ReportRow, ReportRow.job_id == JobRow.id)
                .where(JobRow.model == model)
                .order_by(JobRow.as_of.desc())
                .limit(limit)
            ).all()
            trained = dict(session.execute(
                select(VersionRow.version, JobRow.as_of)
                .join(JobRow, JobRow.id == VersionRow.job_id)
                .where(VersionRow.model == model)
            ).tuples().all())
        return [
            GateOutcome(as_of, trained.get(report.get("champion_version")),
                        report.get("relative_improvement"))
            for as_of, report in reversed(rows)
        ]

    # --- versions and champions --------------------------------------------------------

    def add_version(self, version: ModelVersion) -> None:
        with self.session() as session:
            session.add(
                VersionRow(
                    model=version.model,
                    version=version.version,
                    job_id=version.job_id,
                    run_id=version.run_id,
                    artifact_uri=version.artifact_uri,
                    artifact_sha256=version.artifact_sha256,
                    status=version.status,
                    metrics=version.metrics,
                    lineage=version.lineage,
                    profile=version.profile,
                    created_at=version.created_at,
                    semver=version.semver,
                )
            )

    def get_version(self, model: str, version: str) -> ModelVersion:
        with self.session() as session:
            row = session.scalar(
                select(VersionRow).where(VersionRow.model == model, VersionRow.version == version)
            )
            if row is None:
                raise NotFoundError(f"model {model!r} has no version {version!r} in the store")
            return to_version(row)

    def versions(self, model: str) -> list[ModelVersion]:
        with self.session() as session:
            query = select(VersionRow).where(VersionRow.model == model).order_by(VersionRow.id)
            return [to_version(r) for r in session.scalars(query)]

    def set_version_semver(self, model: str, version: str, semver: str) -> None:
        """Record ``version``'s semantic version. Raises NotFoundError for an unknown version."""
        with self.session() as session:
            result = session.execute(
                update(VersionRow)
                .where(VersionRow.model == model, VersionRow.version == version)
                .values(semver=semver)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise NotFoundError(f"model {model!r} has no version {version!r} in the store")

    def set_version_status(self, model: str, version: str, status: str) -> None:
        with self.session() as session:
            session.execute(
                update(VersionRow)
                .where(VersionRow.model == model, VersionRow.version == version)
                .values(status=status)
            )

    def champion(self, model: str) -> ModelVersion | None:
        with self.session() as session:
            row = session.get(ChampionRow, model)
            if row is None:
                return None
            version = session.scalar(
                select(VersionRow).where(
                    VersionRow.model == model, VersionRow.version == row.version
                )
            )
            return to_version(version) if version else None

    def champion_pointer(self, model: str) -> tuple[str, str | None] | None:
        """(champion version, previous version) or None."""
        with self.session() as session:
            row = session.get(ChampionRow, model)
            return (row.version, row.previous_version) if row else None

    def promote(
        self,
        model: str,
        version: str,
        *,
        expected_current: str | None,
        job_id: int | None,
        reason: str,
        as_of: datetime,
        actor: str = "retrainer",
        semver: str | None = None,
    ) -> Promotion:
        """Make ``version`` the champion if the champion is still ``expected_current``.

        The job (if any) goes succeeded -> promoted in the same transaction, and ``semver``
        (when given) becomes the version's semantic version in it too. Raises
        NotFoundError for a version the store does not know, IllegalTransitionError if the
        champion is no longer ``expected_current``, ``version`` already is the champion or
        the job is not awaiting its decision; nothing changes then.
        """
        if version == expected_current:
            raise IllegalTransitionError(f"version {version} already is the champion of {model!r}")
        with self.session() as session:
            known = session.scalar(
                select(VersionRow.id).where(
                    VersionRow.model == model, VersionRow.version == version
                )
            )
            if known is None:
                raise NotFoundError(f"model {model!r} has no version {version!r} in the store")
            promotion = PromotionRow(
                model=model,
                kind="promote",
                from_version=expected_current,
                to_version=version,
                job_id=job_id,
                reason=reason,
                as_of=as_of,
                recorded_at=wall_now(),
            )
            session.add(promotion)
            session.flush()
            self._swap_champion(session, model, expected_current, version, expected_current,
                                promotion.id, as_of)
            if expected_current:
                self._set_status(session, model, expected_current, "retired")
            self._set_status(session, model, version, "champion")
            if semver is not None:
                session.execute(
                    update(VersionRow)
                    .where(VersionRow.model == model, VersionRow.version == version)
                    .values(semver=semver)
                )
            if job_id is not None:
                self._transition(session, job_id, JobState.PROMOTED, reason=reason,
                                 actor=actor, as_of=as_of)
            self._audit(
                session,
                "model.promoted",
                model=model,
                job_id=job_id,
                as_of=as_of,
                actor=actor,
                details={"from": expected_current, "to": version, "reason": reason},
            )
            return to_promotion(promotion)

    def rollback(self, model: str, *, reason: str, as_of: datetime, actor: str) -> Promotion:
        """Restore the version the current champion replaced. Walks back on repeated calls."""
        with self.session() as session:
            pointer = session.get(ChampionRow, model)
            if pointer is None:
                raise UsageError(f"model {model!r} has no champion to roll back")
            if pointer.previous_version is None:
                raise UsageError(
                    f"model {model!r} has no previous champion to roll back to "
                    f"(champion is version {pointer.version})"
                )
            bad, target = pointer.version, pointer.previous_version
            # the champion before `target` is the one `target` replaced when it was installed
            installed = session.scalar(
                select(PromotionRow)
                .where(PromotionRow.model == model, PromotionRow.to_version == target,
                       PromotionRow.kind == "promote")
                .order_by(PromotionRow.id.desc())
                .limit(1)
            )
            new_previous = installed.from_version if installed else None
            if new_previous == bad:
                new_previous = None
            promotion = PromotionRow(
                model=model,
                kind="rollback",
                from_version=bad,
                to_version=target,
                job_id=None,
                reason=reason,
                as_of=as_of,
                recorded_at=wall_now(),
            )
            session.add(promotion)
            session.flush()
            self._swap_champion(session, model, bad, target, new_previous, promotion.id, as_of)
            self._set_status(session, model, bad, "rolled_back")
            self._set_status(session, model, target, "champion")
            bad_row = session.scalar(
                select(VersionRow).where(VersionRow.model == model, VersionRow.version == bad)
            )
            bad_job = session.get(JobRow, bad_row.job_id) if bad_row and bad_row.job_id else None
            if bad_job is not None and bad_job.state == JobState.PROMOTED.value:
                self._transition(session, bad_job.id, JobState.ROLLED_BACK, reason=reason,
                                 actor=actor, as_of=as_of)
            self._audit(
                session,
                "model.rolled_back",
                model=model,
                job_id=bad_job.id if bad_job else None,
                as_of=as_of,
                actor=actor,
                details={"from": bad, "to": target, "previous": new_previous, "reason": reason},
            )
            return to_promotion(promotion)

    def _swap_champion(
        self,
        session: Session,
        model: str,
        expected: str | None,
        version: str,
        previous: str | None,
        promotion_id: int,
        as_of: datetime,
    ) -> None:
        if expected is None:
            if session.get(ChampionRow, model) is not None:
                raise IllegalTransitionError(f"model {model!r} already has a champion")
            session.add(ChampionRow(model=model, version=version, previous_version=previous,
                                    promotion_id=promotion_id, as_of=as_of))
            try:
                session.flush()
            except IntegrityError:
                raise IllegalTransitionError(f"model {model!r} already has a champion") from None
            return
        result = session.execute(
            update(ChampionRow)
            .where(ChampionRow.model == model, ChampionRow.version == expected)
            .values(version=version, previous_version=previous, promotion_id=promotion_id,
                    as_of=as_of)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise IllegalTransitionError(
                f"the champion of {model!r} is no longer version {expected}"
            )

    def _set_status(self, session: Session, model: str, version: str, status: str) -> None:
        session.execute(
            update(VersionRow)
            .where(VersionRow.model == model, VersionRow.version == version)
            .values(status=status)
        )

    def promotions(self, model: str, limit: int = 50) -> list[Promotion]:
        with self.session() as session:
            query = (
                select(PromotionRow)
                .where(PromotionRow.model == model)
                .order_by(PromotionRow.id.desc())
                .limit(limit)
            )
            return [to_promotion(r) for r in session.scalars(query)]

    def unmirrored_models(self) -> list[str]:
        with self.session() as session:
            query = select(PromotionRow.model).where(PromotionRow.mirrored_at.is_(None)).distinct()
            return list(session.scalars(query))

    def mark_mirrored(self, model: str, version: str | None = None) -> None:
        """Record that the registry's aliases now show ``model``'s champion.

        Pass the champion ``version`` the mirror read and wrote: promotions recorded after
        the one that installed it stay unmirrored, so a promotion that lands while the
        mirror runs is mirrored on the next pass. Without ``version``, marks every one.
        """
        with self.session() as session:
            query = update(PromotionRow).where(
                PromotionRow.model == model, PromotionRow.mirrored_at.is_(None)
            )
            if version is not None:
                installed = session.scalar(
                    select(func.max(PromotionRow.id)).where(
                        PromotionRow.model == model, PromotionRow.to_version == version
                    )
                )
                if installed is None:
                    return
                query = query.where(PromotionRow.id <= installed)
            session.execute(query.values(mirrored_at=wall_now()))

    def models_seen(self) -> list[str]:
        with self.session() as session:
            names = set(session.scalars(select(JobRow.model).distinct()))
            names |= set(session.scalars(select(ChampionRow.model)))
            return sorted(names)
