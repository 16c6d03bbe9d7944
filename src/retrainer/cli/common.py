"""What every command shares: the consoles, the --config option, the runtime, JSON output."""

from __future__ import annotations

import getpass
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from retrainer.clock import as_utc
from retrainer.domain.windows import EARLIEST, LATEST
from retrainer.exceptions import UsageError

if TYPE_CHECKING:
    from retrainer.config import RetrainerConfig
    from retrainer.executors import EventCallback
    from retrainer.runtime import Runtime


def _console(stderr: bool = False) -> Console:
    """A terminal's own width; into a file or a pipe (CI logs), 120 columns rather than
    Rich's 80, which cut a backtest's table of seven policies (COLUMNS still decides)."""
    found = Console(stderr=stderr)
    if found.is_terminal or os.environ.get("COLUMNS"):
        return found
    return Console(stderr=stderr, width=120)


console = _console()
err_console = _console(stderr=True)


def output_file(path: Path, option: str) -> Path:
    """``path``, a file to write, with its folder created; UsageError when it is a folder."""
    if path.is_dir():
        raise UsageError(f"{option} {path}: a folder; name a file")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class CliState:
    config_path: Path | None = None
    _runtime: Runtime | None = field(default=None, repr=False)

    def settings(self) -> Any:
        from retrainer.config import Settings

        settings = Settings()
        if self.config_path is not None:
            settings = settings.model_copy(update={"config": self.config_path})
        return settings

    def config(self) -> RetrainerConfig:
        from retrainer.config import load_config

        return load_config(self.settings().config)

    def runtime(self) -> Runtime:
        if self._runtime is None:
            from retrainer.runtime import build_runtime

            self._runtime = build_runtime(self.config(), self.settings())
        return self._runtime


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    if not isinstance(obj, CliState):
        obj = CliState()
        ctx.find_root().obj = obj
    return obj


#: hour 24 with nothing past it (T24, T24:00, T24:00:00.000), then an offset or the end
_END_OF_DAY = re.compile(r"^(\d{4}-?\d\d-?\d\d[T ])24((?::?00){0,2}(?:[.,]0+)?)(?=$|Z|[+-])")


def parse_as_of(value: str | None) -> datetime | None:
    """--as-of accepts ISO 8601 ('2014-03-01', '2014-03-01T06:00:00+08:00'); naive means UTC.
    A day's end, T24:00, is the next day's 00:00."""
    if value is None:
        return None
    text, end_of_day = _END_OF_DAY.subn(r"\g<1>00\g<2>", value.strip().upper())
    out_of_range = UsageError(f"--as-of {value!r}: give a time from {EARLIEST.year} to "
                              f"{LATEST.year - 1}")
    try:
        found = as_utc(datetime.fromisoformat(text)) + timedelta(days=end_of_day)
    except ValueError:
        raise UsageError(f"--as-of {value!r} is not an ISO 8601 date or time") from None
    except OverflowError:  # past the year 9999
        raise out_of_range from None
    if not EARLIEST <= found < LATEST:  # pandas holds times from 1677 to 2262 only
        raise out_of_range
    return found


def actor() -> str:
    try:
        return os.environ.get("RETRAINER_ACTOR") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "value"):
        return value.value
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


@contextmanager
def job_progress(enabled: bool = True) -> Iterator[EventCallback]:
    """A spinner per running job on stderr; yields the executor's on_event callback."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not enabled,
    )
    tasks: dict[int, Any] = {}

    def on_event(job_id: int, what: str, detail: str) -> None:
        if what == "started":
            tasks[job_id] = progress.add_task(f"job #{job_id} training ({detail})", total=None)
        elif job_id in tasks:
            progress.update(tasks.pop(job_id), description=f"job #{job_id} {what}: {detail}",
                            visible=False)

    with progress:
        yield on_event


def fmt_time(value: datetime | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.strftime("%Y-%m-%d %H:%M")
