"""``retrainer init`` and ``retrainer validate-config``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from retrainer.cli.common import console, output_file, print_json, state
from retrainer.cli.template import EXAMPLE_CONFIG
from retrainer.exceptions import ConfigError, UsageError


def init(
    path: Annotated[Path, typer.Argument(help="Where to write the example.")] = Path(
        "retrainer.yaml"
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented example retrainer.yaml."""
    if path.exists() and not force:
        raise UsageError(f"{path} already exists (use --force to overwrite it)")
    output_file(path, "init").write_text(EXAMPLE_CONFIG, encoding="utf-8")
    console.print(f"wrote {path}; edit it, then run [bold]retrainer validate-config {path}[/]")


def validate_config(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Argument(help="Config file (default: --config).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check a config file: every problem with its field path and reason (exit code 2),
    trainers included (imported and built for their task and parameters)."""
    from retrainer.config import load_config
    from retrainer.training.checks import check_trainers

    path = file or state(ctx).settings().config
    try:
        config = load_config(path)
        check_trainers(config, str(path))
    except ConfigError as error:
        if as_json:
            print_json({"valid": False, "file": str(path),
                        "problems": [{"path": p.path, "reason": p.reason}
                                     for p in error.problems]})
            raise typer.Exit(2) from None
        raise
    names = [m.name for m in config.models]
    if as_json:
        print_json({"valid": True, "file": str(path), "models": names})
    else:
        console.print(f"[green]valid[/]: {path} ({len(names)} model(s): {', '.join(names)})")
