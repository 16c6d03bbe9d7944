"""Read commands: ``status``, ``history``, ``models``. All take --json."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

import typer
from rich.table import Table

from retrainer.cli.common import console, fmt_time, print_json, state
from retrainer.cli.render import (
    decision_json,
    job_json,
    jobs_table,
    reading_json,
    report_table,
    styled_state,
    test_lines,
)
from retrainer.exceptions import NotFoundError
from retrainer.registry.base import is_memory_uri

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _model_status(rt: Any, name: str) -> dict[str, Any]:
    store = rt.store
    pointer = store.champion_pointer(name)
    champion = store.champion(name)
    jobs = store.list_jobs(name, limit=1000)
    active = store.active_job(name)
    decisions = store.decisions(name, limit=1)
    readings = {r.monitor: r for r in reversed(store.readings(name, limit=20))}
    auto = store.decisions(name, trigger="auto", limit=1)
    return {
        "model": name,
        "champion": pointer[0] if pointer else None,
        "previous": pointer[1] if pointer else None,
        "champion_metrics": champion.metrics if champion else None,
        "last_tick": decisions[0].as_of.isoformat() if decisions else None,
        "active_job": job_json(active) if active else None,
        "jobs": dict(Counter(job.state.value for job in jobs)),
        "latest_readings": {k: reading_json(r) for k, r in readings.items()},
        "auto": decision_json(auto[0]) if auto else None,  # how near the default policy is
    }


def _auto_progress(decision: dict[str, Any] | None) -> str:
    """'12.3 of 31.6 days' from the newest auto decision, or why it is not counting."""
    if decision is None:
        return "-"
    evidence = decision["evidence"]
    if "clock_days" not in evidence:  # no champion yet, or an interval bound decided
        return decision["reason"]
    held = decision["reason"].partition(" — held: ")[2]  # a guard held a met condition
    verdict = ("fired" if decision["fired"] else f"due, held: {held}" if held
               else "due" if decision["condition_met"] else "not due")
    return (f"{evidence['clock_days']:.1f} of {evidence['due_clock_days']:.1f} loss-weighted "
            f"days on {fmt_time(decision['as_of'])}: {verdict}")


def status(ctx: typer.Context, as_json: Json = False) -> None:
    """Production version, active job and latest readings of every model."""
    rt = state(ctx).runtime()
    rows = [_model_status(rt, model.name) for model in rt.config.models]
    if as_json:
        print_json({"state_store_url": rt.store.safe_url, "mlflow_tracking_uri": rt.tracking_uri,
                    "models": rows})
        return
    table = Table(title="retrainer status")
    for column in ("model", "production", "previous", "last tick", "active job", "jobs",
                   "auto", "latest readings"):
        table.add_column(column, overflow="fold")
    for row in rows:
        active = row["active_job"]
        readings = "; ".join(f"{k}: {r['summary']}" for k, r in row["latest_readings"].items())
        table.add_row(
            row["model"],
            row["champion"] or "-",
            row["previous"] or "-",
            fmt_time(row["last_tick"]),
            f"#{active['id']} {active['state']}" if active else "-",
            ", ".join(f"{k} {v}" for k, v in sorted(row["jobs"].items())) or "-",
            _auto_progress(row["auto"]),
            readings or "-",
        )
    console.print(table)
    console.print(f"state store: {rt.store.safe_url}\nMLflow: {rt.tracking_uri}")


def history(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Argument(help="Only this model.")] = None,
    job: Annotated[int | None, typer.Option("--job", help="Show one job in full.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1)] = 50,
    as_json: Json = False,
) -> None:
    """Jobs and trigger decisions, newest first; --job ID shows one job with its evidence."""
    rt = state(ctx).runtime()
    if job is not None:
        _show_job(rt, job, as_json)
        return
    if model is not None:
        rt.config.model(model)
    jobs = rt.store.list_jobs(model, limit=limit)
    names = [model] if model else [m.name for m in rt.config.models]
    decisions = {n: rt.store.decisions(n, limit=limit) for n in names}
    if as_json:
        print_json({"jobs": [job_json(j) for j in jobs],
                    "decisions": {n: [decision_json(d) for d in ds]
                                  for n, ds in decisions.items()},
                    "audit": rt.store.audit_log(model, limit=limit)})
        return
    console.print(jobs_table(jobs, title="jobs (newest first)"))
    table = Table(title="trigger decisions (newest first)")
    for column in ("as of", "model", "trigger", "fired", "reason", "job"):
        table.add_column(column, overflow="fold")
    merged = sorted((d for ds in decisions.values() for d in ds if d.condition_met or d.fired),
                    key=lambda d: d.as_of, reverse=True)[:limit]
    for d in merged:
        table.add_row(fmt_time(d.as_of), d.model, d.trigger,
                      "[bold green]yes[/]" if d.fired else "no", d.reason[:200],
                      f"#{d.job_id}" if d.job_id else "-")
    console.print(table)


def _show_job(rt: Any, job_id: int, as_json: bool) -> None:
    store = rt.store
    job = store.get_job(job_id)
    attempts = store.attempts(job_id)
    report = store.report(job_id)
    if as_json:
        print_json({
            "job": job_json(job, with_config=True),
            "attempts": [a.__dict__ for a in attempts],
            "validation_report": report.to_dict() if report else None,
        })
        return
    console.print(f"[bold]job #{job.id}[/] {job.model}: {styled_state(job.state.value)}")
    console.print(f"  trigger: {job.trigger} — {job.reason}")
    console.print(f"  as of: {fmt_time(job.as_of)}   attempts: {job.attempts}"
                  f"   version: {job.candidate_version or '-'}")
    if job.state_reason:
        console.print(f"  why: {job.state_reason}")
    for attempt in attempts:
        console.print(f"  attempt {attempt.number}: {attempt.outcome or 'running'} "
                      f"({fmt_time(attempt.started_at)} on {attempt.worker})"
                      + (f" — {attempt.error.splitlines()[0]}" if attempt.error else ""))
    if report:
        console.print(report_table(report))
        for line in test_lines(report):
            console.print(f"  {line}", highlight=False)
        for reason in report.reasons:
            console.print(f"  • {reason}")


def models(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Model name.")],
    as_json: Json = False,
) -> None:
    """Registered versions of a model in MLflow, with aliases, status and lineage."""
    rt = state(ctx).runtime()
    rt.config.model(model)
    stored = {v.version: v for v in rt.store.versions(model)}
    versions = rt.registry.list_versions(model)
    if not versions and stored and is_memory_uri(rt.tracking_uri):
        raise NotFoundError(f"the store knows {len(stored)} versions of {model!r}, but they were "
                            f"kept in {rt.tracking_uri}, a registry that lives only in the "
                            "process that wrote it (a backtest's ends with it; --registry mlflow "
                            "keeps its models); `retrainer history` reads its decisions")
    rows = []
    for entry in versions:
        mine = stored.get(str(entry["version"]))
        rows.append({
            **entry,
            "status": mine.status if mine else entry.get("tags", {}).get("retrainer.status"),
            "job_id": mine.job_id if mine else None,
            "metrics": mine.metrics if mine else {},
        })
    if as_json:
        print_json({"model": model, "mlflow_tracking_uri": rt.tracking_uri, "versions": rows})
        return
    metric = rt.config.model(model).metric
    table = Table(title=f"{model} versions in MLflow ({rt.tracking_uri})")
    for column in ("version", "aliases", "status", "job", "trigger", "data window",
                   f"holdout {metric}", "sha256"):
        table.add_column(column, overflow="fold")
    for row in rows:
        tags = row.get("tags", {})
        value = row["metrics"].get(metric)
        table.add_row(
            str(row["version"]),
            ", ".join(row.get("aliases", [])) or "-",
            styled_state(row["status"] or "-"),
            f"#{row['job_id']}" if row["job_id"] else "-",
            tags.get("retrainer.trigger", "-"),
            f"{fmt_time(tags.get('retrainer.data_start'))} → "
            f"{fmt_time(tags.get('retrainer.data_end'))}",
            "-" if value is None else f"{value:.4g}",
            tags.get("retrainer.artifact_sha256", "-")[:12],
        )
    console.print(table)
