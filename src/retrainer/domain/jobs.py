"""Jobs, their state machine, attempts and the retry policy.

The store is the only place that changes a job's state, and it refuses every
transition not listed in ``TRANSITIONS``.

>>> can_transition(JobState.QUEUED, JobState.RUNNING)
True
>>> can_transition(JobState.PROMOTED, JobState.RUNNING)
False
>>> policy = RetryPolicy(max_retries=3, base_delay_seconds=10, backoff=2.0, jitter=0.0)
>>> [policy.next_delay(n) for n in (1, 2, 3)]
[10.0, 20.0, 40.0]
>>> policy.next_delay(4) is None
True
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # trained and validated; the promotion decision is pending
    FAILED = "failed"  # out of retries
    SKIPPED = "skipped"  # data not ready; nothing was trained
    REJECTED = "rejected"  # candidate did not pass the gate; production untouched
    PROMOTED = "promoted"  # candidate became the champion
    ROLLED_BACK = "rolled_back"  # was promoted, later replaced by a rollback


TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.RUNNING, JobState.SKIPPED, JobState.FAILED}),
    # RUNNING -> QUEUED is a retry: only the store's fail_attempt takes it, via RetryPolicy.
    JobState.RUNNING: frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.QUEUED}),
    JobState.SUCCEEDED: frozenset({JobState.PROMOTED, JobState.REJECTED}),
    JobState.PROMOTED: frozenset({JobState.ROLLED_BACK}),
    JobState.FAILED: frozenset(),
    JobState.SKIPPED: frozenset(),
    # a rejected candidate that a later look of the gate promoted (validation.challenger)
    JobState.REJECTED: frozenset({JobState.PROMOTED}),
    JobState.ROLLED_BACK: frozenset(),
}

#: states in which a job still occupies its model (no second job is created meanwhile)
ACTIVE_STATES = frozenset({JobState.QUEUED, JobState.RUNNING, JobState.SUCCEEDED})
FINAL_STATES = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt) | {
    JobState.PROMOTED, JobState.REJECTED}


def can_transition(current: JobState, target: JobState) -> bool:
    return target in TRANSITIONS[current]


@dataclass(frozen=True)
class RetryPolicy:
    """When a failed attempt is retried. ``next_delay`` is pure apart from the jitter draw.

    ``attempt`` is the number of the attempt that just failed (1 for the first).
    ``jitter`` is a fraction: the delay is multiplied by a factor in [1 - jitter, 1 + jitter].
    The cap applies before the jitter, so capped retries still spread out (a delay may exceed
    ``max_delay_seconds`` by the jitter fraction).
    """

    max_retries: int = 2
    base_delay_seconds: float = 30.0
    backoff: float = 2.0
    jitter: float = 0.2
    max_delay_seconds: float = 3600.0

    def next_delay(self, attempt: int, rng: random.Random | None = None) -> float | None:
        """Seconds to wait before the next attempt, or None when retries are used up."""
        if attempt > self.max_retries:
            return None
        delay = min(self.base_delay_seconds * self.backoff ** (attempt - 1), self.max_delay_seconds)
        if self.jitter:
            delay *= (rng or random).uniform(1 - self.jitter, 1 + self.jitter)
        return float(delay)


@dataclass(frozen=True)
class Job:
    id: int
    model: str
    state: JobState
    trigger: str
    reason: str
    as_of: datetime  # logical time the job was created for: the end of its data windows
    attempts: int
    max_attempts: int
    created_at: datetime
    updated_at: datetime
    not_before: datetime | None = None
    heartbeat_at: datetime | None = None
    candidate_version: str | None = None
    state_reason: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)  # snapshot of the model's config


@dataclass(frozen=True)
class Attempt:
    job_id: int
    number: int
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None  # succeeded | failed | timeout | died | stale
    error: str | None
    worker: str | None
