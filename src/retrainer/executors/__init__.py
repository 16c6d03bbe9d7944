"""Executors: where jobs run (local process pool, or inline in the caller; Celery later)."""

from __future__ import annotations

from retrainer.executors.base import EventCallback, Executor
from retrainer.executors.inline import InlineExecutor
from retrainer.executors.local import LocalExecutor

__all__ = ["EventCallback", "Executor", "InlineExecutor", "LocalExecutor"]
