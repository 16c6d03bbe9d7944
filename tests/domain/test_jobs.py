"""The job state machine's shape and the RetryPolicy value (pure: no store)."""

from __future__ import annotations

import random

import pytest

from retrainer.domain.jobs import (
    ACTIVE_STATES,
    FINAL_STATES,
    TRANSITIONS,
    JobState,
    RetryPolicy,
    can_transition,
)

# --- RetryPolicy ---------------------------------------------------------------------------


def test_delays_grow_exponentially_without_jitter() -> None:
    policy = RetryPolicy(max_retries=4, base_delay_seconds=5, backoff=3.0, jitter=0.0)
    assert [policy.next_delay(n) for n in (1, 2, 3, 4)] == [5.0, 15.0, 45.0, 135.0]
    assert all(isinstance(policy.next_delay(n), float) for n in (1, 2))


def test_constant_delay_with_backoff_one() -> None:
    policy = RetryPolicy(max_retries=3, base_delay_seconds=7, backoff=1.0, jitter=0.0)
    assert [policy.next_delay(n) for n in (1, 2, 3)] == [7.0, 7.0, 7.0]


def test_delays_are_capped() -> None:
    policy = RetryPolicy(max_retries=6, base_delay_seconds=100, backoff=10.0, jitter=0.0,
                         max_delay_seconds=500)
    assert [policy.next_delay(n) for n in (1, 2, 3, 6)] == [100.0, 500.0, 500.0, 500.0]


def test_none_once_retries_are_used_up() -> None:
    policy = RetryPolicy(max_retries=2, jitter=0.0)
    assert policy.next_delay(2) is not None
    assert policy.next_delay(3) is None and policy.next_delay(10) is None
    assert RetryPolicy(max_retries=0).next_delay(1) is None


@pytest.mark.parametrize(("attempt", "nominal"), [(1, 10.0), (2, 20.0), (5, 60.0)])
def test_jitter_stays_within_its_bounds_and_spreads(attempt: int, nominal: float) -> None:
    """The factor is drawn from [1 - jitter, 1 + jitter] around the (capped) delay."""
    policy = RetryPolicy(max_retries=5, base_delay_seconds=10, backoff=2.0, jitter=0.25,
                         max_delay_seconds=60)
    rng = random.Random(7)
    delays = [policy.next_delay(attempt, rng) for _ in range(2000)]
    assert all(d is not None for d in delays)
    values = [d for d in delays if d is not None]
    low, high = nominal * 0.75, nominal * 1.25
    assert low <= min(values) and max(values) <= high
    # the whole range is used, roughly evenly: jitter actually de-synchronises retries
    assert min(values) < low + 0.02 * nominal and max(values) > high - 0.02 * nominal
    assert abs(sum(values) / len(values) - nominal) < 0.02 * nominal


def test_jitter_is_reproducible_with_a_seeded_rng() -> None:
    policy = RetryPolicy(jitter=0.5)
    first = [policy.next_delay(1, random.Random(3)) for _ in range(3)]
    assert len(set(first)) == 1
    assert policy.next_delay(1, random.Random(4)) != first[0]


def test_policy_is_a_frozen_value() -> None:
    policy = RetryPolicy()
    with pytest.raises(AttributeError):
        policy.max_retries = 5  # type: ignore[misc]
    assert policy == RetryPolicy() and hash(policy) == hash(RetryPolicy())


# --- the state machine ---------------------------------------------------------------------


def test_every_state_has_its_transitions_listed() -> None:
    assert set(TRANSITIONS) == set(JobState)
    for source, targets in TRANSITIONS.items():
        assert source not in targets, f"{source} -> itself"
        for target in JobState:
            assert can_transition(source, target) is (target in targets)


def _reachable(start: JobState) -> set[JobState]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in TRANSITIONS[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_every_state_is_reachable_from_queued() -> None:
    assert _reachable(JobState.QUEUED) == set(JobState)


def test_every_job_can_finish() -> None:
    for state in JobState:
        assert _reachable(state) & FINAL_STATES, f"{state} can never finish"


def test_a_finished_job_never_runs_again() -> None:
    for state in FINAL_STATES:
        assert not _reachable(state) & (ACTIVE_STATES | {JobState.QUEUED}), state


def test_active_states_are_exactly_the_unfinished_ones() -> None:
    """A job that is not final holds its model: no second job starts meanwhile."""
    assert set(JobState) - FINAL_STATES == ACTIVE_STATES
    assert {JobState.QUEUED, JobState.RUNNING, JobState.SUCCEEDED} == ACTIVE_STATES


def test_only_a_running_job_is_retried() -> None:
    assert [s for s in JobState if can_transition(s, JobState.QUEUED)] == [JobState.RUNNING]
    assert [s for s in JobState if can_transition(s, JobState.RUNNING)] == [JobState.QUEUED]
