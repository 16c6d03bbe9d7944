"""The state store's contract: the invariants of ``retrainer.store`` as a pytest test class.

Run it against a database by subclassing :class:`StoreContract` in a test module and
providing a ``store_url`` fixture that yields the URL of a fresh, empty database (or
schema) per test::

    import pytest
    from retrainer.testing.store_contract import StoreContract

    class TestMyDatabase(StoreContract):
        @pytest.fixture
        def store_url(self):
            yield "mysql+pymysql://user@host/fresh_db"

``store_factory`` turns a URL into a store (default: :class:`retrainer.store.Store`).
Override it to test a subclass, as ``store_factory = staticmethod(MyStore)`` or a module-level
function of an importable module: the multi-process tests pickle it for their children.

Concurrency is tested for real: threads and processes, each with its own store on the same
URL, race through a barrier. The suite needs nothing but the URL and takes a few seconds.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import queue
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, Table, inspect, update

from retrainer.domain import (
    GateResult,
    Job,
    JobState,
    ModelVersion,
    MonitorReading,
    RetryPolicy,
    Severity,
    StatTestResult,
    TriggerDecision,
    ValidationReport,
    can_transition,
)
from retrainer.domain.jobs import ACTIVE_STATES
from retrainer.exceptions import (
    IllegalTransitionError,
    NotFoundError,
    StoreError,
    UsageError,
)
from retrainer.store import ActiveJobExistsError, Store, migrate
from retrainer.store.engine import make_engine
from retrainer.store.schema import Base, JobRow

T0 = datetime(2024, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
IST = timezone(timedelta(hours=5, minutes=30))
NO_RETRY = RetryPolicy(max_retries=0, jitter=0.0)
RETRY_NOW = RetryPolicy(max_retries=5, base_delay_seconds=0.0, jitter=0.0)
RETRY_LATER = RetryPolicy(max_retries=2, base_delay_seconds=60.0, backoff=2.0, jitter=0.0)
TIMEOUT = 60.0  # seconds any race may take before the test calls it a hang


# --- helpers -------------------------------------------------------------------------------


def new_job(store: Store, model: str = "m", **overrides: Any) -> Job:
    args: dict[str, Any] = {
        "trigger": "drift",
        "reason": "psi above 0.2",
        "as_of": T0,
        "config": {"model": model, "params": {"n_estimators": 10}},
        "max_attempts": 10,
        "evidence": {"psi": 0.31, "features": ["a", "b"]},
    }
    args.update(overrides)
    return store.create_job(model, **args)


def job_in_state(store: Store, state: JobState, model: str = "m") -> Job:
    """A job of ``model`` driven to ``state`` through the store's public methods."""
    job = new_job(store, model)
    if state is JobState.QUEUED:
        return job
    if state is JobState.SKIPPED:
        return store.transition(job.id, JobState.SKIPPED, reason="data not ready")
    attempt = store.claim(job.id, worker="contract")
    assert attempt is not None and attempt.number == 1
    if state is JobState.RUNNING:
        return store.get_job(job.id)
    if state is JobState.FAILED:
        failed = store.fail_attempt(job.id, 1, outcome="failed", error="boom", policy=NO_RETRY)
        assert failed is not None
        return failed
    store.complete_attempt(job.id, 1, "7")
    if state is JobState.SUCCEEDED:
        return store.get_job(job.id)
    if state is JobState.REJECTED:
        return store.transition(job.id, JobState.REJECTED, reason="gate")
    store.transition(job.id, JobState.PROMOTED, reason="better")
    if state is JobState.PROMOTED:
        return store.get_job(job.id)
    assert state is JobState.ROLLED_BACK
    return store.transition(job.id, JobState.ROLLED_BACK, reason="unhealthy")


def version(model: str, number: str, job_id: int | None = None) -> ModelVersion:
    return ModelVersion(
        model=model,
        version=number,
        job_id=job_id,
        run_id=f"run-{number}",
        artifact_uri=f"mlflow-artifacts:/{model}/{number}",
        artifact_sha256=f"{int(number):064x}",
        status="candidate",
        metrics={"rmse": 10.0 / int(number)},
        created_at=T0 + timedelta(days=int(number)),
        lineage={"data_window": {"start": "2024-01-01", "end": "2024-02-01"}},
        profile={"columns": {"a": {"mean": 1.5}}} if number == "1" else None,
    )


def trained_version(store: Store, model: str, number: str) -> Job:
    """A succeeded job whose candidate is version ``number`` (added to the store)."""
    job = new_job(store, model)
    attempt = store.claim(job.id)
    assert attempt is not None
    store.add_version(version(model, number, job.id))
    return store.complete_attempt(job.id, attempt.number, number)


def promote_trained(store: Store, model: str, number: str, expected: str | None) -> Job:
    job = trained_version(store, model, number)
    store.promote(model, number, expected_current=expected, job_id=job.id,
                  reason=f"promote {number}", as_of=T0)
    return store.get_job(job.id)


def report(passed: bool = True, with_test: bool = True) -> ValidationReport:
    return ValidationReport(
        metric="rmse",
        greater_is_better=False,
        candidate_metrics={"rmse": 9.5, "mae": 7.25},
        champion_metrics={"rmse": 10.0, "mae": 8.0} if with_test else None,
        champion_version="3" if with_test else None,
        improvement=0.5 if with_test else None,
        relative_improvement=0.05 if with_test else None,
        min_improvement=0.01,
        min_improvement_relative=True,
        test=StatTestResult("paired_t", 2.31, 0.012, 0.05, True, 720, 0.5) if with_test else None,
        gates=[GateResult("max_rmse", "rmse", 9.5, 30.0, True)],
        holdout_rows=720,
        holdout_start="2024-02-01T00:00:00+00:00",
        holdout_end="2024-03-01T00:00:00+00:00",
        passed=passed,
        reasons=["rmse improved by 5.0%"] if passed else ["not better"],
        extra={"per_hour": [1.0, 2.5], "note": "ünïcode"},
    )


def race(n: int, fn: Callable[[int], Any]) -> list[tuple[str, Any]]:
    """Run ``fn(0..n-1)`` in ``n`` threads released together. [("ok", value) | ("error", exc)]."""
    barrier = threading.Barrier(n)
    results: list[tuple[str, Any]] = [("missing", None)] * n

    def run(i: int) -> None:
        try:
            barrier.wait(TIMEOUT)
            results[i] = ("ok", fn(i))
        except Exception as error:
            results[i] = ("error", error)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a racing thread hung"
    return results


def _claim(stores: list[Store], job_id: int, i: int) -> Any:
    return stores[i].claim(job_id, worker=f"thread-{i}")


def _promote(stores: list[Store], candidates: list[str], expected: str | None, i: int) -> Any:
    return stores[i].promote("m", candidates[i], expected_current=expected, job_id=None,
                             reason=f"candidate {i}", as_of=T0)


def backdate_heartbeat(store: Store, job_id: int, seconds: float) -> None:
    """Pretend the job's worker last heartbeated ``seconds`` ago (the worker died)."""
    with store.session() as session:
        session.execute(
            update(JobRow)
            .where(JobRow.id == job_id)
            .values(heartbeat_at=datetime.now(UTC) - timedelta(seconds=seconds))
        )


def assert_utc(when: datetime | None) -> None:
    assert when is not None and when.tzinfo is not None
    assert when.utcoffset() == timedelta(0), when


# child processes (spawned: module-level functions only) ------------------------------------


def _open_in_child(
    factory: Callable[[str], Store], url: str, threads: int, barrier: Any, out: Any
) -> None:
    """Open ``threads`` stores at once from threads of this process."""
    try:
        barrier.wait(TIMEOUT)
        results = race(threads, lambda _: factory(url))
        for kind, value in results:
            if kind == "ok":
                value.close()
        out.put(("ok", [repr(v) for kind, v in results if kind != "ok"]))
    except BaseException as error:
        barrier.abort()
        out.put(("error", repr(error)))


def _claim_in_child(
    factory: Callable[[str], Store], url: str, job_ids: list[int], barrier: Any, out: Any
) -> None:
    try:
        store = factory(url)
        try:
            for job_id in job_ids:
                barrier.wait(TIMEOUT)
                attempt = store.claim(job_id, worker=f"child-{os.getpid()}")
                out.put(("ok", (job_id, os.getpid(), attempt.number if attempt else None)))
        finally:
            store.close()
    except Exception as error:
        barrier.abort()  # release the other children at once
        out.put(("error", repr(error)))


def run_children(target: Callable[..., None], args_for: list[tuple[Any, ...]],
                 expected_messages: int) -> list[tuple[str, Any]]:
    """Spawn one process per args tuple (each gets a shared barrier and queue appended)."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(args_for))
    out = ctx.Queue()
    processes = [ctx.Process(target=target, args=(*args, barrier, out), daemon=True)
                 for args in args_for]
    for process in processes:
        process.start()
    messages = []
    try:
        for _ in range(expected_messages):
            messages.append(out.get(timeout=TIMEOUT))
            if messages[-1][0] == "error":
                break
    except queue.Empty:
        pytest.fail(f"child processes stopped answering; got {messages}")
    finally:
        for process in processes:
            process.join(TIMEOUT)
            if process.is_alive():
                process.kill()
    return messages


# --- the contract --------------------------------------------------------------------------


class StoreContract:
    """Invariants of the state store. Subclass it and provide a ``store_url`` fixture."""

    @staticmethod
    def store_factory(url: str) -> Store:
        """The store under test, opened on ``url`` (and migrated)."""
        return Store(url)

    @pytest.fixture
    def store(self, store_url: str) -> Iterator[Store]:
        store = self.store_factory(store_url)
        try:
            yield store
        finally:
            store.close()

    @contextmanager
    def more_stores(self, url: str, n: int) -> Iterator[list[Store]]:
        """``n`` independent stores (own engine, own connections) on the same database."""
        stores = [self.store_factory(url) for _ in range(n)]
        try:
            yield stores
        finally:
            for store in stores:
                store.close()

    # --- migrations ------------------------------------------------------------------------

    def test_fresh_database_upgrades_to_head(self, store_url: str) -> None:
        engine = make_engine(store_url)
        try:
            assert migrate.current_revision(engine) is None
            before, after = migrate.upgrade(engine)
            assert (before, after) == (None, migrate.head_revision())
            assert migrate.current_revision(engine) == migrate.head_revision()
            tables = set(inspect(engine).get_table_names())
            assert set(Base.metadata.tables) | {migrate.VERSION_TABLE} <= tables
        finally:
            engine.dispose()

    def test_upgrading_twice_is_a_no_op(self, store: Store) -> None:
        job = new_job(store)
        head = migrate.head_revision()
        assert migrate.upgrade(store.engine) == (head, head)
        assert migrate.current_revision(store.engine) == head
        reopened = self.store_factory(store.url)
        try:
            assert reopened.get_job(job.id) == store.get_job(job.id)
        finally:
            reopened.close()

    def test_opening_without_migrating_leaves_the_database_alone(self, store_url: str) -> None:
        store = Store(store_url, migrate_schema=False)
        try:
            assert migrate.current_revision(store.engine) is None
            assert "jobs" not in inspect(store.engine).get_table_names()
        finally:
            store.close()

    def test_orm_metadata_matches_the_migrations(self, store: Store) -> None:
        """schema.py and the Alembic revisions describe the same tables: no unreleased change."""
        with store.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={
                "compare_type": True,
                "version_table": migrate.VERSION_TABLE,
                "include_name": migrate.ours,
            })
            assert compare_metadata(context, Base.metadata) == []
            # the comparison does look at our tables: a column added without a revision shows
            changed = MetaData()
            for table in Base.metadata.sorted_tables:
                table.to_metadata(changed)
            Table("jobs", changed, Column("priority", Integer), extend_existing=True)
            diffs = compare_metadata(context, changed)
            assert [d[0] for d in diffs] == ["add_column"] and diffs[0][3].name == "priority"

    def test_concurrent_first_opens_migrate_once(self, store_url: str) -> None:
        """Processes, and threads within them, opening a fresh database at once all succeed.

        (The threads race inside child processes so that a regression, which can leave
        connections hanging in a lock, is killed with its process instead of hanging here.)
        """
        factory = type(self).store_factory
        messages = run_children(_open_in_child, [(factory, store_url, 2)] * 2, 2)
        assert messages == [("ok", []), ("ok", [])], messages
        engine = make_engine(store_url)
        try:
            assert migrate.current_revision(engine) == migrate.head_revision()
        finally:
            engine.dispose()

    def test_the_active_job_index_covers_exactly_the_active_states(self, store: Store) -> None:
        """schema.py, the migration and ``domain.jobs.ACTIVE_STATES`` name the same states.

        (Alembic's comparison does not look at partial-index predicates.)
        """
        declared = next(i for i in Base.metadata.tables["jobs"].indexes
                        if i.name == "uq_jobs_one_active_per_model")
        predicates = {"declared": str(declared.dialect_options[store.engine.dialect.name]
                                      ["where"])}
        reflected = next(i for i in inspect(store.engine).get_indexes("jobs")
                         if i["name"] == "uq_jobs_one_active_per_model")
        assert reflected["unique"] and reflected["column_names"] == ["model"]
        where = reflected.get("dialect_options", {}).get(
            f"{store.engine.dialect.name}_where")
        if where is None:
            pytest.skip(f"{store.engine.dialect.name} does not reflect index predicates")
        predicates["migrated"] = str(where)
        states = {s.value for s in ACTIVE_STATES}
        for source, predicate in predicates.items():
            assert set(re.findall(r"'(\w+)'", predicate)) == states, (source, predicate)

    # --- jobs: records and queries ---------------------------------------------------------

    def test_create_job_round_trips(self, store: Store) -> None:
        job = new_job(store, as_of=T0.astimezone(IST))
        assert job.state is JobState.QUEUED and job.attempts == 0 and job.max_attempts == 10
        assert job.evidence == {"psi": 0.31, "features": ["a", "b"]}
        assert job.config == {"model": "m", "params": {"n_estimators": 10}}
        stored = store.get_job(job.id)
        assert stored == job
        for when in (job.as_of, job.created_at, job.updated_at, stored.as_of, stored.created_at):
            assert_utc(when)
        assert stored.as_of == T0
        with pytest.raises(NotFoundError):
            store.get_job(job.id + 1000)

    def test_naive_datetimes_are_taken_as_utc(self, store: Store) -> None:
        job = new_job(store, as_of=T0.replace(tzinfo=None))
        assert job.as_of == T0 and store.get_job(job.id).as_of == T0
        assert_utc(job.as_of)

    def test_job_queries(self, store: Store) -> None:
        first = job_in_state(store, JobState.FAILED, "a")
        second = new_job(store, "a", as_of=T0 + timedelta(days=2))
        other = new_job(store, "b", as_of=T0 + timedelta(days=1))
        assert [j.id for j in store.list_jobs()] == [other.id, second.id, first.id]
        assert [j.id for j in store.list_jobs("a")] == [second.id, first.id]
        assert [j.id for j in store.list_jobs("a", {JobState.FAILED})] == [first.id]
        assert [j.id for j in store.list_jobs(limit=1)] == [other.id]
        assert store.active_job("a") == second and store.active_job("c") is None
        assert store.count_jobs("a", T0, T0 + timedelta(days=2)) == 1  # end is exclusive
        assert store.count_jobs("a", T0, T0 + timedelta(days=3)) == 2
        assert store.count_jobs("a", T0, T0 + timedelta(days=3), exclude={JobState.FAILED}) == 1
        last = store.last_job_as_of("a")
        assert last == T0 + timedelta(days=2)
        assert_utc(last)
        assert store.last_job_as_of("a", exclude={JobState.QUEUED}) == T0
        assert store.last_job_as_of("zzz") is None
        assert store.models_seen() == ["a", "b"]

    # --- jobs: the state machine -----------------------------------------------------------

    def test_state_machine_allows_exactly_the_listed_transitions(self, store: Store) -> None:
        wrong = []
        for source in JobState:
            for target in JobState:
                job = job_in_state(store, source, model=f"{source.value}-{target.value}")
                allowed = can_transition(source, target)
                try:
                    moved = store.transition(job.id, target, reason="table", actor="tester")
                except IllegalTransitionError:
                    if allowed:
                        wrong.append(f"{source} -> {target} refused")
                    elif store.get_job(job.id).state is not source:
                        wrong.append(f"{source} -> {target} refused but changed the state")
                    continue
                if not allowed:
                    wrong.append(f"{source} -> {target} allowed")
                    continue
                stored = store.get_job(job.id)
                if moved.state is not target or stored.state is not target:
                    wrong.append(f"{source} -> {target} left {moved.state}/{stored.state}")
                last = store.audit_log(job.model, limit=1)[0]
                expected = {"action": f"job.{target.value}", "job_id": job.id, "actor": "tester"}
                if {k: last[k] for k in expected} != expected or last["details"].get(
                    "from"
                ) != source.value:
                    wrong.append(f"{source} -> {target} audit row {last}")
        assert wrong == []

    def test_transition_records_reason_fields_and_audit(self, store: Store) -> None:
        job = new_job(store)
        skipped = store.transition(job.id, JobState.SKIPPED, reason="not enough rows",
                                   as_of=T0, actor="scheduler")
        assert skipped.state_reason == "not enough rows" and skipped.updated_at >= job.updated_at
        actions = [(a["action"], a["actor"]) for a in reversed(store.audit_log("m"))]
        assert actions == [("job.created", "retrainer"), ("job.skipped", "scheduler")]
        assert store.audit_log("m", limit=1)[0]["as_of"] == T0.isoformat()
        with pytest.raises(NotFoundError):
            store.transition(job.id + 1000, JobState.SKIPPED)

    # --- jobs: one active job per model ----------------------------------------------------

    @pytest.mark.parametrize("state", list(JobState))
    def test_one_active_job_per_model(self, store: Store, state: JobState) -> None:
        first = job_in_state(store, state)
        if state in ACTIVE_STATES:
            with pytest.raises(ActiveJobExistsError) as caught:
                new_job(store)
            assert caught.value.job_id == first.id
            assert [j.id for j in store.list_jobs("m")] == [first.id]
        else:
            second = new_job(store)
            assert store.active_job("m") == second
        assert new_job(store, "other").state is JobState.QUEUED

    def test_concurrent_creates_leave_one_active_job(self, store: Store) -> None:
        with self.more_stores(store.url, 3) as stores:
            results = race(3, lambda i: new_job(stores[i], "m"))
        kinds = sorted(kind for kind, _ in results)
        assert kinds == ["error", "error", "ok"], results
        assert all(isinstance(v, ActiveJobExistsError) for k, v in results if k == "error")
        assert len(store.list_jobs("m")) == 1

    # --- jobs: claims, leases, heartbeats ----------------------------------------------------

    def test_claim_opens_numbered_attempts(self, store: Store) -> None:
        job = new_job(store)
        attempt = store.claim(job.id, worker="w1")
        assert attempt is not None and (attempt.number, attempt.worker) == (1, "w1")
        assert store.claim(job.id, worker="w2") is None
        running = store.get_job(job.id)
        assert running.state is JobState.RUNNING and running.attempts == 1
        assert_utc(running.heartbeat_at)
        assert store.fail_attempt(job.id, 1, outcome="failed", error="e1", policy=RETRY_NOW)
        second = store.claim(job.id, worker="w3")
        assert second is not None and second.number == 2
        store.set_attempt_worker(job.id, 2, "w3>123")
        attempts = store.attempts(job.id)
        assert [(a.number, a.outcome, a.worker) for a in attempts] == [
            (1, "failed", "w1"), (2, None, "w3>123")]
        assert attempts[0].error == "e1" and attempts[0].finished_at is not None
        assert_utc(attempts[0].started_at)
        with pytest.raises(NotFoundError):
            store.claim(job.id + 1000)

    def test_claim_race_between_threads_has_one_winner(self, store: Store) -> None:
        with self.more_stores(store.url, 3) as stores:
            for round_ in range(4):
                job = new_job(store, f"m{round_}")
                for expected in (1, 2):
                    results = race(3, functools.partial(_claim, stores, job.id))
                    assert all(kind == "ok" for kind, _ in results), results
                    won = [a for _, a in results if a is not None]
                    assert [a.number for a in won] == [expected], results
                    assert len(store.attempts(job.id)) == expected
                    assert store.fail_attempt(job.id, expected, outcome="failed", error="x",
                                              policy=RETRY_NOW) is not None

    def test_claim_race_between_processes_has_one_winner(self, store: Store) -> None:
        jobs = [new_job(store, f"m{i}").id for i in range(5)]
        factory = type(self).store_factory
        messages = run_children(_claim_in_child, [(factory, store.url, jobs)] * 2, 2 * len(jobs))
        assert all(kind == "ok" for kind, _ in messages), messages
        for job_id in jobs:
            numbers = [n for kind, (j, _, n) in messages if j == job_id]
            assert sorted(numbers, key=str) == [1, None], (job_id, messages)
            assert store.get_job(job_id).attempts == 1
            assert len(store.attempts(job_id)) == 1

    def test_heartbeat_only_for_the_owning_attempt(self, store: Store) -> None:
        job = new_job(store)
        assert store.heartbeat(job.id, 1) is False  # queued: nobody owns it
        store.claim(job.id)
        before = store.get_job(job.id).heartbeat_at
        assert store.heartbeat(job.id, 1) is True
        after = store.get_job(job.id).heartbeat_at
        assert before is not None and after is not None and after >= before
        assert store.heartbeat(job.id, 2) is False
        backdate_heartbeat(store, job.id, 3600)
        assert [j.id for j in store.reap_stale(timedelta(minutes=10), RETRY_NOW)] == [job.id]
        assert store.heartbeat(job.id, 1) is False  # reaped: back in the queue
        store.claim(job.id)
        assert store.heartbeat(job.id, 1) is False  # someone else's attempt now
        assert store.heartbeat(job.id, 2) is True
        store.complete_attempt(job.id, 2, "7")
        assert store.heartbeat(job.id, 2) is False

    def test_stale_attempt_cannot_finish_a_reaped_job(self, store: Store) -> None:
        job = new_job(store)
        store.claim(job.id)
        backdate_heartbeat(store, job.id, 3600)
        store.reap_stale(timedelta(minutes=10), RETRY_NOW)
        # reaped and queued again; the old worker wakes up and reports
        with pytest.raises(IllegalTransitionError):
            store.complete_attempt(job.id, 1, "9")
        for policy in (RETRY_NOW, NO_RETRY):
            assert store.fail_attempt(job.id, 1, outcome="failed", error="late",
                                      policy=policy) is None
        with pytest.raises(IllegalTransitionError):
            store.transition(job.id, JobState.FAILED, attempt=1)
        queued = store.get_job(job.id)
        assert queued.state is JobState.QUEUED and queued.attempts == 1
        # reclaimed by another worker: the old attempt still cannot touch it
        store.claim(job.id)
        with pytest.raises(IllegalTransitionError):
            store.complete_attempt(job.id, 1, "9")
        assert store.fail_attempt(job.id, 1, outcome="failed", error="late",
                                  policy=NO_RETRY) is None
        running = store.get_job(job.id)
        assert running.state is JobState.RUNNING and running.attempts == 2
        assert [a.outcome for a in store.attempts(job.id)] == ["stale", None]
        done = store.complete_attempt(job.id, 2, "9")
        assert done.state is JobState.SUCCEEDED and done.candidate_version == "9"
        assert [a.outcome for a in store.attempts(job.id)] == ["stale", "succeeded"]

    # --- jobs: retries -----------------------------------------------------------------------

    def test_failed_attempt_is_requeued_after_the_policy_delay(self, store: Store) -> None:
        job = new_job(store)
        store.claim(job.id)
        start = datetime.now(UTC)
        requeued = store.fail_attempt(job.id, 1, outcome="timeout", error="took too long",
                                      policy=RETRY_LATER)
        end = datetime.now(UTC)
        assert requeued is not None and requeued.state is JobState.QUEUED
        assert requeued.not_before is not None and requeued.heartbeat_at is None
        assert start + timedelta(seconds=60) <= requeued.not_before <= end + timedelta(seconds=60)
        assert "timeout" in (requeued.state_reason or "")
        assert [(a.outcome, a.error) for a in store.attempts(job.id)] == [
            ("timeout", "took too long")]
        assert store.due_jobs() == []
        assert store.claim(job.id) is None  # not due yet
        assert store.get_job(job.id).state is JobState.QUEUED

    def test_retries_end_in_failed(self, store: Store) -> None:
        job = new_job(store)
        policy = RetryPolicy(max_retries=2, base_delay_seconds=0.0, jitter=0.0)
        states = []
        for number in (1, 2, 3):
            assert [j.id for j in store.due_jobs()] == [job.id]
            attempt = store.claim(job.id)
            assert attempt is not None and attempt.number == number
            result = store.fail_attempt(job.id, number, outcome="failed", error=f"e{number}",
                                        policy=policy)
            assert result is not None
            states.append(result.state)
        assert states == [JobState.QUEUED, JobState.QUEUED, JobState.FAILED]
        assert store.due_jobs() == [] and store.claim(job.id) is None
        assert [a.outcome for a in store.attempts(job.id)] == ["failed"] * 3

    def test_retries_never_exceed_the_jobs_max_attempts(self, store: Store) -> None:
        job = new_job(store, max_attempts=2)
        for number, state in ((1, JobState.QUEUED), (2, JobState.FAILED)):
            store.claim(job.id)
            result = store.fail_attempt(job.id, number, outcome="failed", error="e",
                                        policy=RETRY_NOW)
            assert result is not None and result.state is state

    def test_due_jobs_respect_not_before(self, store: Store) -> None:
        waiting = new_job(store, "waiting")
        store.claim(waiting.id)
        store.fail_attempt(waiting.id, 1, outcome="failed", error="e", policy=RETRY_LATER)
        ready = [new_job(store, f"ready{i}") for i in range(3)]
        retried = new_job(store, "retried")
        store.claim(retried.id)
        store.fail_attempt(retried.id, 1, outcome="failed", error="e", policy=RETRY_NOW)
        job_in_state(store, JobState.RUNNING, "running")
        assert [j.id for j in store.due_jobs()] == [j.id for j in ready] + [retried.id]
        assert [j.id for j in store.due_jobs(limit=2)] == [j.id for j in ready[:2]]

    def test_reap_stale_retries_dead_workers_only(self, store: Store) -> None:
        dead, alive, exhausted = (new_job(store, name, max_attempts=2)
                                  for name in ("dead", "alive", "exhausted"))
        for job in (dead, alive, exhausted):
            store.claim(job.id)
        store.fail_attempt(exhausted.id, 1, outcome="failed", error="e", policy=RETRY_NOW)
        store.claim(exhausted.id)
        backdate_heartbeat(store, dead.id, 3600)
        backdate_heartbeat(store, exhausted.id, 3600)
        backdate_heartbeat(store, alive.id, 60)
        assert {j.id for j in store.stale_jobs(timedelta(minutes=10))} == {dead.id, exhausted.id}
        reaped = {j.id: j for j in store.reap_stale(timedelta(minutes=10), RETRY_NOW)}
        assert set(reaped) == {dead.id, exhausted.id}
        assert reaped[dead.id].state is JobState.QUEUED
        assert reaped[exhausted.id].state is JobState.FAILED  # its second of two attempts
        assert store.get_job(alive.id).state is JobState.RUNNING
        assert store.attempts(dead.id)[0].outcome == "stale"
        assert store.reap_stale(timedelta(minutes=10), RETRY_NOW) == []

    def test_reaper_spares_a_worker_that_heartbeats_during_the_scan(
        self, store: Store, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        job = new_job(store)
        store.claim(job.id)
        backdate_heartbeat(store, job.id, 3600)
        scan = store.stale_jobs

        def scan_then_heartbeat(stale_after: timedelta) -> list[Job]:
            found = scan(stale_after)
            assert store.heartbeat(job.id, 1)  # the worker was only slow
            return found

        monkeypatch.setattr(store, "stale_jobs", scan_then_heartbeat)
        assert store.reap_stale(timedelta(minutes=10), RETRY_NOW) == []
        assert store.get_job(job.id).state is JobState.RUNNING
        assert store.heartbeat(job.id, 1) is True

    # --- readings and decisions ------------------------------------------------------------

    def test_readings_round_trip(self, store: Store) -> None:
        details = {"psi": {"a": 0.25, "b": 0.01}, "drifted": ["a"], "n": 2**40,
                   "ok": False, "none": None, "text": "ünïcode ✓", "nested": [[1, 2], {"x": []}]}
        reading = MonitorReading(
            model="m", monitor="drift", as_of=T0.astimezone(IST),
            window_start=(T0 - timedelta(days=7)).replace(tzinfo=None),
            window_end=T0, rows=168, score=0.5, severity=Severity.HIGH, alert=True,
            summary="1 of 2 features drifted", details=details, champion_version="3",
        )
        assert isinstance(store.add_reading(reading), int)
        (stored,) = store.readings("m")
        assert stored.details == details and stored.severity is Severity.HIGH
        assert (stored.as_of, stored.window_start, stored.window_end) == (
            T0, T0 - timedelta(days=7), T0)
        for when in (stored.as_of, stored.window_start, stored.window_end):
            assert_utc(when)
        assert stored == MonitorReading(**{**reading.__dict__, "as_of": T0,
                                           "window_start": T0 - timedelta(days=7)})

    def test_readings_are_newest_first_and_filtered(self, store: Store) -> None:
        for hours, monitor in ((0, "drift"), (2, "performance"), (1, "drift")):
            store.add_reading(MonitorReading(
                "m", monitor, T0 + timedelta(hours=hours), T0, T0, 1, None, Severity.NONE,
                False, f"{monitor}@{hours}"))
        store.add_reading(MonitorReading("other", "drift", T0, T0, T0, 1, None, Severity.NONE,
                                         False, "other"))
        assert [r.summary for r in store.readings("m")] == [
            "performance@2", "drift@1", "drift@0"]
        assert [r.summary for r in store.readings("m", "drift", limit=1)] == ["drift@1"]

    def test_verdict_readings_hold_a_drift_readings_verdict_only(self, store: Store) -> None:
        columns = {f"c{i}": {"psi": 0.1 * i, "drifted": i % 2 == 0} for i in range(50)}
        for hours, monitor, details in (
                (0, "drift", {"dataset_drift": True, "weighted_share": 0.4, "columns": columns}),
                (1, "performance", {"metric": "rmse", "metrics": {"rmse": 2.5, "mae": None},
                                    "rules": [{"limit": 0.1}], "baseline": 2.0}),
                (2, "drift", {"dataset_drift": False, "weighted_share": 0, "columns": {}}),
                (3, "latency", {"p95_ms": 12.0}),
                (4, "drift", {"columns": {}})):  # stored without a verdict: nulls
            store.add_reading(MonitorReading(
                "m", monitor, T0 + timedelta(hours=hours), T0, T0, 10, 0.5, Severity.NONE,
                False, f"{monitor}@{hours}", details, "3"))
        store.add_reading(MonitorReading("other", "drift", T0 + timedelta(hours=9), T0, T0, 1,
                                         None, Severity.NONE, False, "other",
                                         {"dataset_drift": True}))
        found = store.verdict_readings("m", ("performance", "drift"), limit=10)
        assert [r.summary for r in found] == ["drift@4", "drift@2", "performance@1", "drift@0"]
        assert [r.details for r in found] == [
            {"dataset_drift": None, "weighted_share": None},
            {"dataset_drift": False, "weighted_share": 0.0},
            {"metric": "rmse", "metrics": {"rmse": 2.5, "mae": None}},
            {"dataset_drift": True, "weighted_share": 0.4}]
        stored = {r.summary: r for r in store.readings("m")}
        for slim, whole in ((found[2], "performance@1"), (found[3], "drift@0")):
            assert replace(slim, details=stored[whole].details) == stored[whole]
            assert_utc(slim.as_of)
            assert_utc(slim.window_start)
        assert store.verdict_readings("m", ("latency",))[0] == stored["latency@3"]  # whole
        assert [r.summary for r in store.verdict_readings("m", ("drift", "performance"),
                                                          limit=2)] == ["drift@4", "drift@2"]
        assert [r.summary for r in store.verdict_readings("m", ("latency",))] == ["latency@3"]
        after_one = T0 + timedelta(hours=1)  # strictly after: the reading at 1 h is left out
        assert [r.summary for r in store.verdict_readings(
            "m", ("drift", "performance", "latency"), since=after_one)] == [
            "drift@4", "latency@3", "drift@2"]

    def test_non_finite_numbers_are_stored_alike_on_every_backend(self, store: Store) -> None:
        """NaN/inf in JSON evidence become null; a NaN score becomes None (SQLite's REAL)."""
        details = {"psi": float("nan"), "ks": [float("inf"), 1.0], "x": {"y": float("-inf")}}
        store.add_reading(MonitorReading("m", "drift", T0, T0, T0, 0, float("nan"),
                                         Severity.NONE, False, "empty window", details))
        (stored,) = store.readings("m")
        assert stored.score is None
        assert stored.details == {"psi": None, "ks": [None, 1.0], "x": {"y": None}}
        decision = TriggerDecision("m", "drift", T0, False, False, "nan", {"psi": float("nan")})
        store.add_decision(decision)
        assert store.decisions("m")[0].evidence == {"psi": None}

    def test_decisions_round_trip(self, store: Store) -> None:
        job = new_job(store)
        ids = []
        for hours, trigger, fired in ((0, "drift", False), (1, "schedule", True),
                                      (2, "drift", True)):
            ids.append(store.add_decision(TriggerDecision(
                "m", trigger, (T0 + timedelta(hours=hours)).astimezone(IST), fired, fired,
                f"{trigger}@{hours}", {"hours": hours, "list": [1.5, None]})))
        store.link_decisions(ids[1:], job.id)
        stored = store.decisions("m")
        assert [(d.reason, d.job_id) for d in stored] == [
            ("drift@2", job.id), ("schedule@1", job.id), ("drift@0", None)]
        assert stored[0].as_of == T0 + timedelta(hours=2) and stored[0].evidence == {
            "hours": 2, "list": [1.5, None]}
        assert_utc(stored[0].as_of)
        assert [d.reason for d in store.decisions("m", "drift")] == ["drift@2", "drift@0"]
        assert [d.reason for d in store.decisions("m", before=T0 + timedelta(hours=2))] == [
            "schedule@1", "drift@0"]
        assert store.decisions("other") == []

    # --- validation reports ----------------------------------------------------------------

    def test_validation_reports_round_trip(self, store: Store) -> None:
        job = new_job(store)
        assert store.report(job.id) is None
        store.save_report(job.id, report(passed=False, with_test=False))
        assert store.report(job.id) == report(passed=False, with_test=False)
        store.save_report(job.id, report())  # a second save replaces the first
        assert store.report(job.id) == report()

    def test_gate_outcomes_carry_the_production_models_training_time(self, store: Store) -> None:
        trained = trained_version(store, "m", "3")  # the production model of report()
        store.transition(trained.id, JobState.PROMOTED, reason="first")
        later = new_job(store, as_of=T0 + timedelta(days=10))
        store.save_report(later.id, report())
        unknown = new_job(store, "other", as_of=T0 + timedelta(days=12))
        store.save_report(unknown.id, report())
        store.transition(later.id, JobState.SKIPPED, reason="next one")
        first = new_job(store, as_of=T0 + timedelta(days=11))  # no production model to beat
        store.save_report(first.id, report(with_test=False))
        outcomes = store.gate_outcomes("m")
        assert [(o.as_of, o.champion_trained, o.relative_improvement) for o in outcomes] == [
            (T0 + timedelta(days=10), T0, 0.05), (T0 + timedelta(days=11), None, None)]
        assert store.gate_outcomes("other")[0].champion_trained is None  # no version 3 there

    # --- versions, champions, promotions ---------------------------------------------------

    def test_latest_version_and_semvers(self, store: Store) -> None:
        assert store.latest_version("m") is None and store.semvers("m") == []
        store.add_version(version("m", "1"))
        store.add_version(version("m", "2"))
        store.add_version(version("other", "3"))
        assert store.latest_version("m") == version("m", "2")
        store.set_version_semver("m", "1", "v1.0.0")
        assert store.semvers("m") == ["v1.0.0", None]

    def test_versions_round_trip(self, store: Store) -> None:
        store.add_version(version("m", "1"))
        store.add_version(version("m", "2"))
        assert store.get_version("m", "1") == version("m", "1")
        assert [v.version for v in store.versions("m")] == ["1", "2"]
        assert_utc(store.get_version("m", "2").created_at)
        store.set_version_status("m", "2", "rejected")
        assert store.get_version("m", "2").status == "rejected"
        with pytest.raises(NotFoundError):
            store.get_version("m", "3")
        with pytest.raises(StoreError):
            store.add_version(version("m", "1"))

    def test_each_version_reads_back_its_own_profile_again_and_again(self, store: Store
                                                                      ) -> None:
        """Single-version reads take the profile from a per-store cache: it must never hand
        one version's profile to another, nor lose a status change."""
        for number in ("1", "2", "3"):
            store.add_version(replace(version("m", number),
                                      profile={"columns": {"a": {"mean": float(number)}}}))
        for _ in range(2):  # the second round comes from the cache
            for number in ("1", "2", "3"):
                found = store.get_version("m", number)
                assert found.profile == {"columns": {"a": {"mean": float(number)}}}
            assert store.latest_version("m") == store.get_version("m", "3")
        store.set_version_status("m", "3", "rejected")
        latest = store.latest_version("m")
        assert latest is not None and latest.status == "rejected"
        assert latest.profile == {"columns": {"a": {"mean": 3.0}}}
        assert store.versions("m")[1].profile == {"columns": {"a": {"mean": 2.0}}}

    def test_first_promotion(self, store: Store) -> None:
        job = trained_version(store, "m", "1")
        assert store.champion("m") is None and store.champion_pointer("m") is None
        promotion = store.promote("m", "1", expected_current=None, job_id=job.id,
                                  reason="first", as_of=T0, actor="tester")
        assert (promotion.kind, promotion.from_version, promotion.to_version) == (
            "promote", None, "1")
        assert promotion.job_id == job.id and not promotion.mirrored and promotion.as_of == T0
        assert store.promotions("m") == [promotion]
        champion = store.champion("m")
        assert champion is not None and (champion.version, champion.status) == ("1", "champion")
        assert store.champion_pointer("m") == ("1", None)
        assert store.get_job(job.id).state is JobState.PROMOTED
        actions = [a["action"] for a in store.audit_log("m", limit=2)]
        assert set(actions) == {"job.promoted", "model.promoted"}
        assert {a["job_id"] for a in store.audit_log("m", limit=2)} == {job.id}
        # a second "first" promotion finds a champion in place
        store.add_version(version("m", "2"))
        with pytest.raises(IllegalTransitionError):
            store.promote("m", "2", expected_current=None, job_id=None, reason="r", as_of=T0)

    def test_promotion_against_a_stale_champion_changes_nothing(self, store: Store) -> None:
        promote_trained(store, "m", "1", None)
        job = trained_version(store, "m", "2")
        before = (store.champion_pointer("m"), store.versions("m"), store.promotions("m"),
                  store.audit_log("m"), store.get_job(job.id))
        for expected in ("2", "9"):
            with pytest.raises((IllegalTransitionError, NotFoundError)):
                store.promote("m", "2", expected_current=expected, job_id=job.id,
                              reason="r", as_of=T0)
        with pytest.raises(NotFoundError):  # an unknown version is never champion
            store.promote("m", "9", expected_current="1", job_id=None, reason="r", as_of=T0)
        after = (store.champion_pointer("m"), store.versions("m"), store.promotions("m"),
                 store.audit_log("m"), store.get_job(job.id))
        assert after == before
        assert store.unmirrored_models() == ["m"]

    def test_promotion_needs_a_job_awaiting_its_decision(self, store: Store) -> None:
        promote_trained(store, "m", "1", None)
        store.add_version(version("m", "2"))
        running = job_in_state(store, JobState.RUNNING)
        with pytest.raises(IllegalTransitionError):
            store.promote("m", "2", expected_current="1", job_id=running.id, reason="r",
                          as_of=T0)
        assert store.champion_pointer("m") == ("1", None)
        assert store.get_version("m", "2").status == "candidate"
        assert store.get_job(running.id).state is JobState.RUNNING
        assert len(store.promotions("m")) == 1

    def test_concurrent_promotions_have_one_winner(self, store: Store) -> None:
        for number in range(1, 9):
            store.add_version(version("m", str(number)))
        expected: str | None = None
        with self.more_stores(store.url, 2) as stores:
            for round_ in range(4):
                candidates = [str(2 * round_ + 1), str(2 * round_ + 2)]
                results = race(2, functools.partial(_promote, stores, candidates, expected))
                won = [c for c, (kind, _) in zip(candidates, results, strict=True)
                       if kind == "ok"]
                lost = [v for kind, v in results if kind == "error"]
                assert len(won) == 1 and len(lost) == 1, results
                assert isinstance(lost[0], IllegalTransitionError), results
                assert store.champion_pointer("m") == (won[0], expected)
                assert len(store.promotions("m")) == round_ + 1
                loser = next(c for c in candidates if c != won[0])
                assert store.get_version("m", loser).status == "candidate"
                expected = won[0]

    def test_rollback_walks_back_through_history(self, store: Store) -> None:
        jobs = {n: promote_trained(store, "m", n, e) for n, e in (("1", None), ("2", "1"),
                                                                  ("3", "2"))}
        assert store.champion_pointer("m") == ("3", "2")
        assert [v.status for v in store.versions("m")] == ["retired", "retired", "champion"]
        store.mark_mirrored("m")
        first = store.rollback("m", reason="unhealthy", as_of=T0, actor="ops")
        assert (first.kind, first.from_version, first.to_version) == ("rollback", "3", "2")
        assert store.champion_pointer("m") == ("2", "1")
        assert store.get_version("m", "3").status == "rolled_back"
        assert store.get_version("m", "2").status == "champion"
        assert store.get_job(jobs["3"].id).state is JobState.ROLLED_BACK
        assert store.get_job(jobs["2"].id).state is JobState.PROMOTED
        audit = store.audit_log("m", limit=2)
        model_row = next(a for a in audit if a["action"] == "model.rolled_back")
        assert model_row["actor"] == "ops" and model_row["details"]["from"] == "3"
        assert model_row["details"]["to"] == "2"
        assert any(a["action"] == "job.rolled_back" and a["job_id"] == jobs["3"].id
                   for a in audit)
        assert store.unmirrored_models() == ["m"]
        second = store.rollback("m", reason="still bad", as_of=T0, actor="ops")
        assert (second.from_version, second.to_version) == ("2", "1")
        assert store.champion_pointer("m") == ("1", None)
        assert store.get_job(jobs["2"].id).state is JobState.ROLLED_BACK
        with pytest.raises(UsageError, match="no previous"):
            store.rollback("m", reason="again", as_of=T0, actor="ops")
        assert store.champion_pointer("m") == ("1", None)
        assert [p.kind for p in store.promotions("m")] == ["rollback", "rollback", "promote",
                                                           "promote", "promote"]
        with pytest.raises(UsageError):
            store.rollback("nothing", reason="r", as_of=T0, actor="ops")

    def test_rollback_never_returns_to_a_rolled_back_version(self, store: Store) -> None:
        promote_trained(store, "m", "1", None)
        promote_trained(store, "m", "2", "1")
        store.rollback("m", reason="bad", as_of=T0, actor="ops")  # 2 -> 1
        promote_trained(store, "m", "3", "1")
        assert store.champion_pointer("m") == ("3", "1")
        assert store.rollback("m", reason="bad", as_of=T0, actor="ops").to_version == "1"
        assert store.champion_pointer("m") == ("1", None)

    def test_mirroring_marks(self, store: Store) -> None:
        assert store.unmirrored_models() == []
        promote_trained(store, "a", "1", None)
        promote_trained(store, "b", "1", None)
        assert sorted(store.unmirrored_models()) == ["a", "b"]
        store.mark_mirrored("a")
        assert store.unmirrored_models() == ["b"]
        assert [p.mirrored for p in store.promotions("a")] == [True]
        store.mark_mirrored("a")  # idempotent
        assert store.unmirrored_models() == ["b"]

    def test_a_promotion_after_the_mirror_read_stays_unmirrored(self, store: Store) -> None:
        promote_trained(store, "m", "1", None)
        seen = store.champion_pointer("m")  # the mirror reads the champion ...
        assert seen is not None
        promote_trained(store, "m", "2", "1")  # ... a promotion lands meanwhile ...
        store.mark_mirrored("m", seen[0])  # ... and the mirror reports what it mirrored
        assert store.unmirrored_models() == ["m"]
        assert [p.mirrored for p in store.promotions("m")] == [False, True]
        store.mark_mirrored("m", "2")
        assert store.unmirrored_models() == []
