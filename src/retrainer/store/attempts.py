"""Attempts: claiming a due job, heartbeats, closing an attempt, retries and reaping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from retrainer.clock import wall_now
from retrainer.domain import Attempt, Job, JobState, RetryPolicy
from retrainer.exceptions import IllegalTransitionError
from retrainer.store.audit import write_audit
from retrainer.store.base import StoreBase
from retrainer.store.engine import worker_name
from retrainer.store.jobs import job_row, transition_in
from retrainer.store.records import to_attempt, to_job
from retrainer.store.schema import AttemptRow, JobRow


def _close_attempt(
    session: Session,
    job_id: int,
    attempt: int,
    target: JobState,
    *,
    reason: str,
    outcome: str,
    error: str | None,
    only_if: tuple[Any, ...] = (),
    **fields: Any,
) -> Job:
    """Move the job ``attempt`` owns to ``target`` and record how the attempt ended.

    Raises IllegalTransitionError (and changes nothing) if ``attempt`` no longer owns the job.
    """
    row = transition_in(session, job_id, target, attempt=attempt, reason=reason,
                        only_if=only_if, **fields)
    session.execute(
        update(AttemptRow)
        .where(AttemptRow.job_id == job_id, AttemptRow.number == attempt)
        .values(finished_at=wall_now(), outcome=outcome, error=error)
    )
    return to_job(row)


class AttemptsMixin(StoreBase):
    def claim(self, job_id: int, worker: str | None = None) -> Attempt | None:
        """queued -> running for a due job, opening attempt N+1.

        None if someone else won, or the job is not queued, or its retry delay
        (``not_before``) has not passed yet.
        """
        now = wall_now()
        with self.session() as session:
            row = job_row(session, job_id)
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
            write_audit(
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

    def complete_attempt(self, job_id: int, attempt: int, candidate_version: str) -> Job:
        """running -> succeeded: the candidate is trained, registered and validated.

        Raises IllegalTransitionError if ``attempt`` no longer owns the job.
        """
        with self.session() as session:
            return _close_attempt(
                session,
                job_id,
                attempt,
                JobState.SUCCEEDED,
                reason="candidate trained and validated",
                outcome="succeeded",
                error=None,
                candidate_version=candidate_version,
            )

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
                row = job_row(session, job_id)
                retry = delay is not None and attempt < row.max_attempts
                fields: dict[str, Any] = {"heartbeat_at": None}
                reason = f"attempt {attempt} {outcome}: {error}"
                if retry:
                    assert delay is not None
                    fields["not_before"] = now + timedelta(seconds=delay)
                    reason += f"; retry in {delay:.1f}s"
                return _close_attempt(
                    session,
                    job_id,
                    attempt,
                    JobState.QUEUED if retry else JobState.FAILED,
                    reason=reason,
                    outcome=outcome,
                    error=error[-4000:],
                    only_if=only_if,
                    **fields,
                )
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
