"""Frozen records and enums shared by every part of retrainer. No I/O lives here."""

from __future__ import annotations

from retrainer.domain.decisions import TriggerDecision
from retrainer.domain.events import Event, EventKind
from retrainer.domain.jobs import Attempt, Job, JobState, RetryPolicy, can_transition
from retrainer.domain.metrics import METRICS, MetricSpec, Task, default_metric
from retrainer.domain.readings import MonitorReading, Severity
from retrainer.domain.validation import GateOutcome, GateResult, StatTestResult, ValidationReport
from retrainer.domain.versions import ModelVersion, Promotion
from retrainer.domain.windows import Window

__all__ = [
    "METRICS",
    "Attempt",
    "Event",
    "EventKind",
    "GateOutcome",
    "GateResult",
    "Job",
    "JobState",
    "MetricSpec",
    "ModelVersion",
    "MonitorReading",
    "Promotion",
    "RetryPolicy",
    "Severity",
    "StatTestResult",
    "Task",
    "TriggerDecision",
    "ValidationReport",
    "Window",
    "can_transition",
    "default_metric",
]
