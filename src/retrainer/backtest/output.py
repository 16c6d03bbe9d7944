"""The ``--output`` folder of a backtest: it holds one run's outputs, never a mix of runs.

A run with several starts writes ``initial-SIZE/`` folders and ``starts.json``; one start
writes ``backtest.json``, ``report.html`` and ``state/POLICY/`` (``mlflow/POLICY/`` with
``--registry mlflow``). A later run into the same folder with other starts or policies
would leave the earlier run's folders beside its own, so a reader would mix two runs: each
run first removes what an earlier backtest wrote there, and only that (by name), never a
file of the user's.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from retrainer.exceptions import UsageError

#: what a backtest writes in its folder; ``initial-SIZE`` folders too (``is_ours``)
WRITTEN = ("backtest.json", "report.html", "starts.json", "state", "mlflow")
#: a backtest's folder holds one of these: an earlier backtest finished there
FINISHED = ("backtest.json", "starts.json")


def is_ours(name: str) -> bool:
    """Whether a backtest writes an entry of this name in its ``--output`` folder.

    >>> is_ours("state"), is_ours("initial-28D"), is_ours("notes.txt")
    (True, True, False)
    """
    return name in WRITTEN or name.startswith("initial-")


def earlier_outputs(output: Path) -> list[Path]:
    """What earlier backtests left in ``output``, to remove before this run writes there
    (``clear_outputs``). Raises UsageError (``--output``) when ``output`` is a file, or holds
    names a backtest writes (``state``, ``mlflow``, ``initial-*``) beside other files and no
    ``backtest.json`` or ``starts.json``: those may be the user's own, and a backtest would
    replace them."""
    if not output.exists():
        return []
    if not output.is_dir():
        raise UsageError(f"--output {output}: a file; name a folder for backtest.json "
                         "and report.html")
    entries = sorted(output.iterdir())
    ours = [entry for entry in entries if is_ours(entry.name)]
    others = [entry for entry in entries if not is_ours(entry.name)]
    finished = any((output / name).is_file() for name in FINISHED)
    if ours and others and not finished:
        raise UsageError(
            f"--output {output}: holds {', '.join(e.name for e in ours)}, names a backtest "
            f"writes, beside other files ({', '.join(e.name for e in others[:3])}"
            f"{', ...' if len(others) > 3 else ''}) and no backtest.json or starts.json, so "
            "they may not be a backtest's; a backtest replaces them: name a new folder, or "
            "an earlier backtest's")
    return ours


def clear_outputs(entries: list[Path]) -> None:
    """Remove ``entries`` (``earlier_outputs``): files, folders and links (a link only, not
    what it points to)."""
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink(missing_ok=True)
