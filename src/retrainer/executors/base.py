"""The executor contract: executors decide only *where* ``run_job`` runs.

State lives in the store; the executor claims a job (queued -> running), runs it, and
reports a worker that died or timed out through ``Store.fail_attempt`` (which applies the
job's retry policy). Everything else a job does, it records itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

#: called as on_event(job_id, what, detail) for progress displays
EventCallback = Callable[[int, str, str], None]


class Executor(Protocol):
    def submit(self, job_id: int) -> None:
        """Queue a job for running. Returns at once."""
        ...

    def cancel(self, job_id: int) -> None:
        """Stop a job if it is waiting or running here."""
        ...

    def wait(self, timeout: float | None = None) -> list[int]:
        """Block until every submitted job has finished its attempt; return their ids."""
        ...
