"""The ``retrainer`` command. Errors retrainer raises on purpose become a message and an exit
code (1: the operation failed, 2: usage or configuration); never a traceback."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from retrainer import __version__
from retrainer.cli import admin, backtest_cmd, config_cmds, demo, loop, monitor_cmds, predict, read
from retrainer.cli.common import CliState, err_console
from retrainer.exceptions import ConfigError, RetrainerError

app = typer.Typer(
    name="retrainer",
    help="Keep production models fresh: monitor, trigger, retrain, validate, promote, roll back.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"retrainer {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Config file (env RETRAINER_CONFIG; "
                     "default ./retrainer.yaml).", show_default=False),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version.")] = False,
) -> None:
    ctx.obj = CliState(config_path=config)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("alembic", "mlflow", "urllib3", "httpx"):
        logging.getLogger(noisy).setLevel(logging.INFO if verbose else logging.WARNING)


app.command("init")(config_cmds.init)
app.command("validate-config")(config_cmds.validate_config)
app.add_typer(admin.db_app, name="db")
app.command("tick")(loop.tick)
app.command("retrain")(loop.retrain)
app.command("status")(read.status)
app.command("history")(read.history)
app.command("models")(read.models)
app.command("rollback")(admin.rollback)
app.command("cancel")(admin.cancel)
app.command("demo")(demo.demo)
app.command("drift")(monitor_cmds.drift)
app.command("estimate")(monitor_cmds.estimate)
app.command("predict")(predict.predict)
app.command("backtest")(backtest_cmd.backtest)


def main() -> None:
    try:
        app()
    except ConfigError as error:
        err_console.print(f"[red]error:[/] invalid configuration in {error.source}:",
                          highlight=False)
        for problem in error.problems:
            err_console.print(f"  - [bold]{problem.path or '(file)'}[/]: {problem.reason}",
                              highlight=False, markup=True)
        sys.exit(error.exit_code)
    except RetrainerError as error:
        err_console.print(f"[red]error:[/] {error}", highlight=False, markup=True)
        sys.exit(error.exit_code)


if __name__ == "__main__":
    main()
