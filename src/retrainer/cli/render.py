"""Records to JSON-ready dicts and Rich tables, shared by the read and loop commands."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from rich.table import Table

from retrainer.cli.common import fmt_time
from retrainer.domain import Job, MonitorReading, TriggerDecision, ValidationReport

STATE_STYLE = {
    "promoted": "green",
    "rejected": "yellow",
    "failed": "red",
    "skipped": "magenta",
    "running": "cyan",
    "queued": "cyan",
    "succeeded": "cyan",
    "rolled_back": "red",
}


def job_json(job: Job, *, with_config: bool = False) -> dict[str, Any]:
    data = asdict(job)
    data["state"] = job.state.value
    if not with_config:
        data.pop("config")
    return data


def reading_json(reading: MonitorReading, *, details: bool = False) -> dict[str, Any]:
    data = asdict(reading)
    data["severity"] = reading.severity.value
    if not details:
        data.pop("details")
    return data


def decision_json(decision: TriggerDecision) -> dict[str, Any]:
    return asdict(decision)


def styled_state(state: str) -> str:
    style = STATE_STYLE.get(state)
    return f"[{style}]{state}[/]" if style else state


def jobs_table(jobs: list[Job], title: str = "jobs") -> Table:
    table = Table(title=title)
    for column in ("job", "model", "as of", "trigger", "state", "attempts", "version", "why"):
        table.add_column(column, overflow="fold")
    for job in jobs:
        table.add_row(
            f"#{job.id}",
            job.model,
            fmt_time(job.as_of),
            job.trigger,
            styled_state(job.state.value),
            str(job.attempts),
            job.candidate_version or "-",
            (job.state_reason or job.reason)[:160],
        )
    return table


def report_table(report: ValidationReport) -> Table:
    table = Table(title=f"validation ({'passed' if report.passed else 'failed'})")
    table.add_column("metric")
    table.add_column("candidate", justify="right")
    table.add_column("production", justify="right")
    champion = report.champion_metrics or {}
    for name, value in report.candidate_metrics.items():
        other = champion.get(name)
        table.add_row(name, f"{value:.4g}", "-" if other is None else f"{other:.4g}")
    return table
