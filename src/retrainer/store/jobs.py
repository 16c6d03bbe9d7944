"""Jobs: creating and listing them, and the compare-and-set that moves one between states."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from retrainer.clock import wall_now
from retrainer.domain import Job, JobState, can_transition
from retrainer.domain.jobs import ACTIVE_STATES
from retrainer.exceptions import IllegalTransitionError, NotFoundError, StoreError, UsageError
from retrainer.store.audit import write_audit
from retrainer.store.base import StoreBase
from retrainer.store.records import to_job
from retrainer.store.schema import JobRow


class ActiveJobExistsError(UsageError):
    """A model already has a job queued, running or awaiting its decision."""

    def __init__(self, model: str, job_id: int | None):
        self.job_id = job_id
        super().__init__(f"model {model!r} already has an active job (#{job_id})")


def job_row(session: Session, job_id: int) -> JobRow:
    """The job's row. Raises NotFoundError if there is none."""
    row = session.get(JobRow, job_id)
    if row is None:
        raise NotFoundError(f"no job #{job_id}")
    return row


def transition_in(
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
    """``Store.transition`` inside ``session``; ``only_if`` adds conditions to the
    compare-and-set. Writes the ``job.<state>`` audit row."""
    row = job_row(session, job_id)
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
    write_audit(
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


class JobsMixin(StoreBase):
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
                write_audit(
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
            return to_job(job_row(session, job_id))

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
            row = transition_in(session, job_id, target, reason=reason, attempt=attempt,
                                actor=actor, as_of=as_of, **fields)
            return to_job(row)
