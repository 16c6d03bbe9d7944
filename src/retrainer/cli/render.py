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


def _ci(report: ValidationReport, metric: str, who: str) -> str:
    low_high = report.metric_ci.get(metric, {}).get(who)
    return "-" if not low_high else f"{low_high[0]:.4g}..{low_high[1]:.4g}"


def report_table(report: ValidationReport) -> Table:
    """Holdout metrics of both models with their 95% bootstrap intervals."""
    mode = "" if report.mode == "superiority" else f", {report.mode.replace('_', '-')}"
    table = Table(title=f"validation ({'passed' if report.passed else 'failed'}{mode}) on "
                  f"{report.holdout_rows} holdout rows {fmt_time(report.holdout_start)} → "
                  f"{fmt_time(report.holdout_end)}")
    table.add_column("metric")
    table.add_column("candidate", justify="right")
    table.add_column("95% CI", justify="right")
    table.add_column("production", justify="right")
    table.add_column("95% CI", justify="right")
    champion = report.champion_metrics or {}
    for name, value in report.candidate_metrics.items():
        other = champion.get(name)
        marker = "*" if name == report.metric else ""
        table.add_row(f"{name}{marker}", f"{value:.4g}", _ci(report, name, "candidate"),
                      "-" if other is None else f"{other:.4g}", _ci(report, name, "champion"))
    return table


def test_lines(report: ValidationReport) -> list[str]:
    """The statistical test, CV folds and slices behind the decision, one fact a line."""
    lines = []
    test = report.test
    if test is not None and test.p_value is not None:
        text = f"test {test.name}: p={test.p_value:.3g} (alpha {test.alpha:g}, n={test.n})"
        if test.statistic is not None:
            text += f", statistic {test.statistic:.4g}"
        if test.mean_loss_difference is not None:
            loss = report.extra.get("row_loss", "loss")
            text += f", mean {loss} difference {test.mean_loss_difference:.4g}"
        elif test.estimate is not None:
            text += f", improvement in {report.metric} {test.estimate:.4g}"
        if test.ci_low is not None and test.ci_high is not None:
            text += f", interval [{test.ci_low:.4g}, {test.ci_high:.4g}]"
        if test.margin is not None:
            text += f", margin {test.margin:.4g}"
        lines.append(text)
    if report.cv:
        cand = ", ".join(f"{v:.4g}" for v in report.cv.get("candidate", []))
        champ = ", ".join(f"{v:.4g}" for v in report.cv.get("champion", []))
        lines.append(f"CV folds {report.metric}: candidate [{cand}] vs production [{champ}]")
    for s in report.slices:
        if s.judged:
            lines.append(f"slice {s.column}={s.value} ({s.rows} rows): {s.candidate:.4g} vs "
                         f"{s.champion:.4g}, regression {s.regression:.3g} / allowed "
                         f"{s.limit:.3g} {'ok' if s.passed else 'FAILED'}")
        else:
            lines.append(f"slice {s.column}={s.value} ({s.rows} rows): not judged")
    return lines
