"""``retrainer demo``: the whole loop on the bundled Beijing PM2.5 data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from retrainer.cli.common import console, err_console, print_json
from retrainer.exceptions import UsageError


def demo(
    output: Annotated[Path, typer.Option("--output", "-o", help="Project directory to create.")]
    = Path("retrainer-demo"),
    until: Annotated[str | None, typer.Option(
        "--until", help="Stop the replay before this month (YYYY-MM; default 2015-01).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Replay 2010-2014 Beijing PM2.5 month by month through the real loop (about a minute)."""
    from retrainer.cli.common import parse_as_of
    from retrainer.demo.runner import END, START, MonthRow, run_demo

    end = parse_as_of(f"{until}-01") if until else END
    if end is None or end <= START:
        raise UsageError(f"--until must be a month after {START:%Y-%m}")

    table = Table(title="pm25: one tick per month (simulated clock)")
    for column, justify in (("month", "left"), ("production", "right"), ("RMSE", "right"),
                            ("drift", "right"), ("decision", "left"), ("result", "left")):
        table.add_column(column, justify=justify, overflow="fold")  # type: ignore[arg-type]
    progress = Progress(TextColumn("replaying"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.description}"), TimeElapsedColumn(),
                        console=err_console, transient=True)

    with progress:
        task = progress.add_task("", total=None)

        def on_month(row: MonthRow, done: int, total: int) -> None:
            progress.update(task, completed=done, total=total,
                            description=f"{row.as_of:%Y-%m} production v{row.version_after}")
            table.add_row(
                f"{row.as_of:%Y-%m}",
                f"v{row.production}" if row.production else "-",
                "-" if row.production_rmse is None else f"{row.production_rmse:.1f}",
                "-" if row.drift_share is None else f"{row.drift_share:.0%}",
                row.decision,
                row.outcome,
            )

        summary = run_demo(output, end=end, on_month=on_month)
    if as_json:
        print_json({k: v for k, v in summary.items() if k != "months"})
        return
    console.print(table)
    console.print(
        f"\n[bold]{summary['ticks']}[/] ticks, [bold]{summary['triggers_fired']}[/] triggers "
        f"fired, jobs {summary['jobs']}, [green]{summary['promotions']} promoted[/], "
        f"[yellow]{summary['rejections']} rejected[/]; production is version "
        f"[bold]{summary['champion_version']}[/] ({summary['seconds']} s)"
    )
    console.print(f"state store: {summary['state_store_url']}")
    console.print(f"MLflow:      {summary['mlflow_tracking_uri']}")
    console.print(f"summary:     {output / 'summary.json'}")
    console.print(f"\nnext: cd {output} && retrainer status && retrainer history && "
                  "retrainer models pm25 && retrainer rollback pm25")
