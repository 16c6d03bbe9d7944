"""Runs jobs one after another in the calling process.

For replays (``retrainer backtest``), where a job is a fraction of a second and a worker
process would cost more than the job, and for callers that already run inside a worker of
their own (an Airflow or Prefect task). There is no timeout and no dead-worker detection: a
job that hangs hangs its caller, and a caller that dies leaves the attempt to the reaper.
"""

from __future__ import annotations

import os

from retrainer.config import ExecutorConfig
from retrainer.executors.base import EventCallback
from retrainer.store import Store
from retrainer.store.store import worker_name


class InlineExecutor:
    def __init__(self, store: Store, config: ExecutorConfig, *,
                 on_event: EventCallback | None = None, n_jobs: int | None = None):
        self.store = store
        self.config = config
        self.on_event = on_event or (lambda job_id, what, detail: None)
        self.n_jobs = n_jobs or os.cpu_count() or 1
        self._pending: list[int] = []

    def submit(self, job_id: int) -> None:
        if job_id not in self._pending:
            self._pending.append(job_id)

    def cancel(self, job_id: int) -> None:
        if job_id in self._pending:
            self._pending.remove(job_id)

    def wait(self, timeout: float | None = None) -> list[int]:
        from retrainer.training.run import record_failure, run_job

        finished = []
        while self._pending:
            job_id = self._pending.pop(0)
            attempt = self.store.claim(job_id, worker=f"inline:{worker_name()}")
            if attempt is None:
                self.on_event(job_id, "skipped", "claimed elsewhere, not queued or not due")
                continue
            self.on_event(job_id, "started", f"attempt {attempt.number}, in process")
            try:
                run_job(self.store, job_id, attempt.number, self.n_jobs)
            except Exception as error:  # recorded like a worker's failure, never raised
                record_failure(self.store, job_id, attempt.number, error)
            self.on_event(job_id, "finished", self.store.get_job(job_id).state.value)
            finished.append(job_id)
        return finished
