"""``retrainer rollback``, ``retrainer cancel`` and ``retrainer db upgrade``."""

from __future__ import annotations

from typing import Annotated

import typer

from retrainer.cli.common import actor, console, print_json, state

db_app = typer.Typer(help="State store administration.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create or migrate the state store schema to the latest revision."""
    from retrainer.config import resolve_url
    from retrainer.store import Store
    from retrainer.store.migrate import current_revision, head_revision, upgrade

    cli = state(ctx)
    config = cli.config()
    url = resolve_url(cli.settings().state_store_url or config.project.state_store_url,
                      config.root)
    store = Store(url, migrate_schema=False)
    before = current_revision(store.engine)
    upgrade(store.engine)
    after = current_revision(store.engine)
    if as_json:
        print_json({"state_store_url": store.safe_url, "before": before, "after": after,
                    "head": head_revision()})
    else:
        change = "already at" if before == after else f"upgraded {before or 'empty'} →"
        console.print(f"{store.safe_url}: {change} revision {after}")
    store.close()


def rollback(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Model name.")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (audit log).")] = (
        "manual rollback"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Restore the previous production version (store first, then MLflow aliases)."""
    from retrainer import orchestrator

    rt = state(ctx).runtime()
    promotion = orchestrator.rollback(rt, model, reason=reason, actor=actor())
    if as_json:
        print_json({"model": model, "from_version": promotion.from_version,
                    "to_version": promotion.to_version, "reason": reason})
    else:
        console.print(f"{model}: rolled back from version {promotion.from_version} to "
                      f"[green]{promotion.to_version}[/] (champion alias moved in MLflow)")


def cancel(
    ctx: typer.Context,
    job_id: Annotated[int, typer.Argument(help="Job id (retrainer history).")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (audit log).")] = (
        "cancelled by hand"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Cancel a queued job (one waiting for its first attempt or a retry): it fails, and
    its model may retrain again."""
    from retrainer.domain import JobState
    from retrainer.exceptions import UsageError

    store = state(ctx).runtime().store
    job = store.get_job(job_id)
    if job.state is not JobState.QUEUED:
        why = {JobState.RUNNING: "a worker is running it; a job whose worker stopped is "
                                 "reaped and retried or failed by the next tick",
               JobState.SUCCEEDED: "its candidate is trained and awaits the promotion "
                                   "decision of the next tick"}
        raise UsageError(f"job #{job_id} ({job.model}) is {job.state.value}, not queued: "
                         + why.get(job.state, "it has ended"))
    cancelled = store.transition(job_id, JobState.FAILED, reason=f"cancelled: {reason}",
                                 actor=actor())
    if as_json:
        print_json({"job": job_id, "model": job.model, "state": cancelled.state.value,
                    "reason": cancelled.state_reason})
    else:
        console.print(f"job #{job_id} ({job.model}): cancelled, now {cancelled.state.value} "
                      f"({cancelled.state_reason})")
