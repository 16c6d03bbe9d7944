"""``retrainer tick`` and ``retrainer retrain``: one pass of the loop, and the manual trigger."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from retrainer.cli.common import (
    actor,
    console,
    fmt_time,
    job_progress,
    parse_as_of,
    print_json,
    state,
)
from retrainer.cli.render import decision_json, job_json, reading_json, styled_state
from retrainer.domain import JobState

AsOf = Annotated[
    str | None,
    typer.Option("--as-of", help="Logical time of this run (ISO 8601; default now), "
                 "e.g. an orchestrator's data interval end."),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def tick_json(report: Any) -> dict[str, Any]:
    return {
        "as_of": report.as_of.isoformat(),
        "reaped": report.reaped,
        "models": [
            {
                "model": m.model,
                "champion": m.champion,
                "challenger": None if m.challenger is None else {
                    "version": m.challenger.to_version, "replaced": m.challenger.from_version,
                    "job_id": m.challenger.job_id, "reason": m.challenger.reason},
                "readings": {k: reading_json(r) for k, r in m.readings.items()},
                "fired": bool(m.evaluation and m.evaluation.fire),
                "trigger": m.evaluation.trigger if m.evaluation else None,
                "reason": m.evaluation.reason if m.evaluation else None,
                "decisions": [decision_json(d) for d in (m.evaluation.decisions
                                                          if m.evaluation else [])],
                "job": job_json(m.job) if m.job else None,
                "readiness": [c.__dict__ for c in m.readiness],
                "error": m.error,
            }
            for m in report.models
        ],
        "outcomes": [
            {"job_id": o.job_id, "model": o.model, "state": o.state.value,
             "version": o.version, "reason": o.reason}
            for o in report.outcomes
        ],
    }


def tick_table(report: Any) -> Table:
    table = Table(title=f"tick at {fmt_time(report.as_of)}")
    for column in ("model", "production", "drift", "performance", "decision", "job"):
        table.add_column(column, overflow="fold")
    for m in report.models:
        drift = m.readings.get("drift") or m.readings.get("data")  # data: could not be read
        perf = m.readings.get("performance")
        outcome = report.outcome_for(m.model)
        job = "-"
        if outcome:
            job = f"#{outcome.job_id} {styled_state(outcome.state.value)}"
            if outcome.version:
                job += f" v{outcome.version}"
        elif m.job:
            job = f"#{m.job.id} {styled_state(m.job.state.value)}"
        decision = (f"[red]failed: {escape(m.error)}[/]" if m.error else
                    m.evaluation.reason if m.evaluation else "-")
        table.add_row(
            m.model,
            (m.champion or "-") + (" (challenger promoted)" if m.challenger else ""),
            drift.summary if drift else "-",
            perf.summary if perf else "-",
            ("[bold]fired[/] " if m.evaluation and m.evaluation.fire else "") + decision,
            job,
        )
    return table


def tick(
    ctx: typer.Context,
    model: Annotated[list[str] | None, typer.Option("--model", "-m",
                                                   help="Only these models.")] = None,
    as_of: AsOf = None,
    as_json: Json = False,
) -> None:
    """Run one pass of the loop for every model: monitor, trigger, train, validate, promote."""
    from retrainer import orchestrator

    rt = state(ctx).runtime()
    with job_progress(not as_json) as on_event:
        report = orchestrator.tick(rt, as_of=parse_as_of(as_of), models=model, on_event=on_event)
    if as_json:
        print_json(tick_json(report))
    else:
        console.print(tick_table(report))
        for outcome in report.outcomes:
            console.print(f"job #{outcome.job_id} {styled_state(outcome.state.value)}: "
                          f"{outcome.reason}")
    if any(o.state is JobState.FAILED for o in report.outcomes) or any(
            m.error for m in report.models):
        raise typer.Exit(1)


def retrain(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Model name from retrainer.yaml.")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (kept in the audit log).")],
    force: Annotated[bool, typer.Option("--force", help="Ignore the retrain budget.")] = False,
    as_of: AsOf = None,
    as_json: Json = False,
) -> None:
    """Request a retrain now (the manual trigger) and wait for its decision."""
    from retrainer import orchestrator

    rt = state(ctx).runtime()
    with job_progress(not as_json) as on_event:
        job, outcomes = orchestrator.request_retrain(
            rt, model, reason=reason, actor=actor(), as_of=parse_as_of(as_of), force=force,
            on_event=on_event,
        )
    if as_json:
        print_json({"job": job_json(job), "outcomes": [
            {"job_id": o.job_id, "state": o.state.value, "version": o.version, "reason": o.reason}
            for o in outcomes]})
    else:
        console.print(f"job #{job.id} {styled_state(job.state.value)}"
                      + (f" (version {job.candidate_version})" if job.candidate_version else "")
                      + f": {job.state_reason or job.reason}")
    # queued again: its attempt failed and a later tick retries it; no decision yet
    if job.state in (JobState.FAILED, JobState.SKIPPED, JobState.QUEUED):
        raise typer.Exit(1)
