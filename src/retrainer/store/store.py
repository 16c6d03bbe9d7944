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

The queries live by concern, one mixin each over ``base.StoreBase`` (engine and sessions):
``jobs`` (creating, listing, the state compare-and-set), ``attempts`` (claim, heartbeat,
complete, fail and retry, reap), ``readings`` (monitor readings, trigger decisions),
``reports`` (validation reports, gate outcomes), ``versions`` (versions, champions,
promotions, rollbacks, mirroring) and ``audit``.
"""

from __future__ import annotations

from sqlalchemy import select

from retrainer.store.attempts import AttemptsMixin
from retrainer.store.audit import AuditMixin
from retrainer.store.engine import worker_name
from retrainer.store.jobs import ActiveJobExistsError, JobsMixin
from retrainer.store.readings import ReadingsMixin
from retrainer.store.reports import ReportsMixin
from retrainer.store.schema import ChampionRow, JobRow
from retrainer.store.versions import VersionsMixin

__all__ = ["ActiveJobExistsError", "Store", "worker_name"]


class Store(JobsMixin, AttemptsMixin, ReadingsMixin, ReportsMixin, VersionsMixin, AuditMixin):
    """SQLAlchemy-backed state store. ``migrate_schema=True`` brings the schema to head first."""

    def models_seen(self) -> list[str]:
        """Every model with a job or a champion, sorted."""
        with self.session() as session:
            names = set(session.scalars(select(JobRow.model).distinct()))
            names |= set(session.scalars(select(ChampionRow.model)))
            return sorted(names)
