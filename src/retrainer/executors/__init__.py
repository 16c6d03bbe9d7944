"""Executors: where jobs run (local process pool now; Celery later)."""

from __future__ import annotations

from retrainer.executors.base import EventCallback, Executor
from retrainer.executors.local import LocalExecutor

__all__ = ["EventCallback", "Executor", "LocalExecutor"]
