"""Runs jobs in local worker processes: bounded concurrency, timeouts, dead-worker detection.

Workers start from a fork server that has already imported the training stack, so each
job pays for a fork, not for importing LightGBM, pandas and MLflow again.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess

from retrainer.config import ExecutorConfig
from retrainer.executors.base import EventCallback
from retrainer.store import Store
from retrainer.store.store import worker_name

log = logging.getLogger(__name__)

PRELOAD = ["retrainer.training.run"]
_context: ForkServerContext | SpawnContext | None = None


def process_context() -> ForkServerContext | SpawnContext:
    """A fork server with the training stack preloaded (spawn where fork servers don't exist)."""
    global _context
    if _context is None:
        if "forkserver" in multiprocessing.get_all_start_methods():
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(PRELOAD)
            _context = ctx
        else:
            _context = multiprocessing.get_context("spawn")
    return _context


def threads_per_job(max_concurrency: int) -> int:
    """Threads each job's booster may use so concurrent jobs don't oversubscribe the cores."""
    return max(1, (os.cpu_count() or 1) // max_concurrency)


@dataclass
class _Running:
    process: BaseProcess
    attempt: int
    started: float


class LocalExecutor:
    def __init__(
        self,
        store: Store,
        config: ExecutorConfig,
        *,
        on_event: EventCallback | None = None,
        poll_seconds: float = 0.05,
    ):
        self.store = store
        self.config = config
        self.on_event = on_event or (lambda job_id, what, detail: None)
        self.poll_seconds = poll_seconds
        self._pending: deque[int] = deque()
        self._running: dict[int, _Running] = {}
        self._finished: list[int] = []

    def submit(self, job_id: int) -> None:
        if job_id not in self._pending and job_id not in self._running:
            self._pending.append(job_id)

    def cancel(self, job_id: int) -> None:
        if job_id in self._pending:
            self._pending.remove(job_id)
        running = self._running.pop(job_id, None)
        if running is not None:
            self._stop(running.process)
            self._record_death(job_id, running.attempt, "cancelled", "cancelled by the executor")

    def wait(self, timeout: float | None = None) -> list[int]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._pending or self._running:
            self._start_what_fits()
            self._reap_finished()
            if deadline is not None and time.monotonic() > deadline:
                break
            if self._running:
                time.sleep(self.poll_seconds)
        finished, self._finished = self._finished, []
        return finished

    # --- internals -------------------------------------------------------------------

    def _start_what_fits(self) -> None:
        while self._pending and len(self._running) < self.config.max_concurrency:
            job_id = self._pending.popleft()
            attempt = self.store.claim(job_id, worker=f"local:{worker_name()}")
            if attempt is None:
                self.on_event(job_id, "skipped", "claimed elsewhere, not queued or not due")
                continue
            from retrainer.training.run import run_job_entry

            process = process_context().Process(
                target=run_job_entry,
                args=(
                    job_id,
                    attempt.number,
                    self.store.url,
                    threads_per_job(self.config.max_concurrency),
                    self.config.heartbeat_seconds,
                ),
                name=f"retrainer-job-{job_id}",
            )
            process.start()
            self.store.set_attempt_worker(job_id, attempt.number, f"{worker_name()}>{process.pid}")
            self._running[job_id] = _Running(process, attempt.number, time.monotonic())
            self.on_event(job_id, "started", f"attempt {attempt.number}, pid {process.pid}")

    def _reap_finished(self) -> None:
        for job_id, running in list(self._running.items()):
            process = running.process
            if process.exitcode is None:
                if time.monotonic() - running.started > self.config.timeout_seconds:
                    self._stop(process)
                    self._running.pop(job_id)
                    self._record_death(
                        job_id,
                        running.attempt,
                        "timeout",
                        f"timed out after {self.config.timeout_seconds:.0f}s",
                    )
                    self._finished.append(job_id)
                continue
            self._running.pop(job_id)
            process.join()
            if process.exitcode != 0:
                code = process.exitcode or 0
                why = (
                    f"worker killed by signal {signal.Signals(-code).name}"
                    if code < 0
                    else f"worker exited with code {code}"
                )
                self._record_death(job_id, running.attempt, "died", why)
            else:
                self.on_event(job_id, "finished", self.store.get_job(job_id).state.value)
            self._finished.append(job_id)

    def _record_death(self, job_id: int, attempt: int, outcome: str, why: str) -> None:
        from retrainer.training.run import retry_policy_for

        job = self.store.get_job(job_id)
        result = self.store.fail_attempt(
            job_id, attempt, outcome=outcome, error=why, policy=retry_policy_for(job)
        )
        state = result.state.value if result else job.state.value
        log.warning("job #%s attempt %s %s: %s (now %s)", job_id, attempt, outcome, why, state)
        self.on_event(job_id, outcome, why)

    @staticmethod
    def _stop(process: BaseProcess) -> None:
        process.terminate()
        process.join(5)
        if process.exitcode is None:
            process.kill()
            process.join(5)
