"""``retrainer backtest``: compare retraining policies by replaying history through the loop."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from retrainer.cli.common import console, err_console
from retrainer.data.columns import by_reason
from retrainer.domain.metrics import Task


def backtest(
    data: Annotated[Path, typer.Argument(
        help="History: CSV (gzip allowed; comma, semicolon, tab or | separated) or Parquet.")],
    target: Annotated[str, typer.Option("--target", help="The column to predict.")],
    time_column: Annotated[str | None, typer.Option(
        "--time-column",
        help="Event time (dates or Unix times; other numbers only order the rows). "
             "Without it, the config's time_column; without either, the "
             "data's own clock when it runs in row order (year, month, day and hour columns, "
             "or the only column of dates); else row order is time.")] = None,
    task: Annotated[Task | None, typer.Option(
        "--task", help="Inferred from the target when absent; must match the config's.")]
    = None,
    metric: Annotated[str | None, typer.Option(
        "--metric", help="Default: accuracy (classification), rmse (regression).")] = None,
    batch: Annotated[str | None, typer.Option(
        "--batch", help="Rows (1000) or, with a date time column, a period (30min, 12H, 7D, "
        "2W, 1M, 1Y; m alone is refused: min or M). Default 7D (longer for rows dated "
        "further apart: 1M for monthly snapshots), or 1000 rows.")] = None,
    initial: Annotated[str | None, typer.Option(
        "--initial", help="History before the first batch. Default: the window. A comma "
        "list (21D,28D,35D) replays every policy from each start and compares them.")] = None,
    window: Annotated[str | None, typer.Option(
        "--window", help="Training window. Default: the config's, else 4 batches "
        "(at least 200 rows' worth), plus --label-delay.")] = None,
    label_delay: Annotated[str | None, typer.Option(
        "--label-delay", help="How long after its row a label arrives. Default: none.")] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", help="retrainer.yaml whose model (same target, else the first) sets "
        "features, training, the gate and the 'config' policy.")] = None,
    policies: Annotated[str, typer.Option(
        "--policies", help="Comma list of never, always, periodic:K, drift, performance, "
        "auto, config, and periodic:auto (the schedule with as many retrains as auto).")]
    = "never,always,periodic:4,drift,performance,auto",
    registry: Annotated[str, typer.Option(
        "--registry", help="memory (fast) or mlflow (real MLflow under DIR/mlflow).")]
    = "memory",
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="Directory for backtest.json and report.html.")]
    = Path("backtest"),
    workers: Annotated[int | None, typer.Option(
        "--workers", min=1, help="Policies replayed side by side. Default: one per core.")]
    = None,
) -> None:
    """Replay history through the real loop once per retraining policy: quality against cost.

    Each batch is scored by production, then its labels arrive, then the policy ticks.
    Cost is the number of retrains; net value (with never) prices gain and retrains.
    How sure: auto against each policy, with 95% intervals over resampled batches."""
    from retrainer.backtest import (
        BacktestOptions,
        parse_policies,
        run_backtest,
        shares_of_always,
        undefined_batches,
    )

    options = BacktestOptions(
        data=data, target=target, time_column=time_column, task=task, metric=metric,
        batch=batch, initial=initial, window=window, label_delay=label_delay, config=config,
        policies=parse_policies(policies), registry=registry, output=output, workers=workers,
    )
    progress = Progress(TextColumn("{task.fields[policy]:>18}"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), console=err_console)
    bars: dict[str, TaskID] = {}

    def show(name: str, done: int, total: int) -> None:
        if not progress.live.is_started:  # not before the options and data are checked
            progress.start()
        if name not in bars:
            bars[name] = progress.add_task("", total=total, policy=name)
        progress.update(bars[name], completed=done, total=total)

    try:
        document = run_backtest(options, on_progress=show, on_note=lambda note: err_console.print(
            f"[yellow]note: {escape(note)}[/]", highlight=False))
    finally:
        progress.stop()
    left_out = document.get("left_out", document.get("settings", {}).get("left_out"))
    if left_out:
        hint = "" if time_column else " (the time? give it as --time-column)"
        err_console.print(
            "[yellow]not used as features (no config): " + "; ".join(
                f"{escape(names)}, {escape(why)}" + (hint if why == "dates" else "")
                for names, why in by_reason(left_out))
            + ". A config's features or exclude decide otherwise.[/]", highlight=False)
    about = document.get("settings", document)  # one start's settings, or the summary
    source, column = about.get("time_found_in"), str(about.get("time_column"))
    if source:
        found = (f"{escape(column)}, the only column of dates" if source == column else
                 f"{escape(column)}, assembled from {escape(source)}")
        console.print(f"[dim]time: {found}, in row order (no --time-column given)[/]",
                      highlight=False)
    if "starts" in document:
        _show_starts(document, output)
        if not any(row["metric"] == row["metric"] for row in document["policies"]):  # all NaN
            why = next(((row["name"], entry["initial"], entry["unscored_reason"])
                        for row in document["policies"] for entry in row["per_start"]
                        if entry.get("unscored_reason")), None)
            err_console.print("[red]no policy scored a batch from any start" + (
                f"; the last job that left {why[0]} without a model from {why[1]}: "
                f"{escape(why[2])}" if why else "") + "[/]", highlight=False)
            raise typer.Exit(1)
        return
    settings = document["settings"]
    console.print(
        f"[dim]{settings['task']}; batches of {settings['batch']}, training window "
        f"{settings['training_window']}, labels "
        + (f"{settings['label_delay']} late" if settings["label_delay"] != "0" else "on time")
        + ("" if settings["config"] else " (no config: --window, --label-delay or --config "
           "change these)") + "[/]", highlight=False)
    shares = shares_of_always(document["policies"], document["higher_is_better"])
    priced = _priced(document)
    batches = document["batches"]
    table = _policy_table(document, f"{batches} batch" + ("" if batches == 1 else "es"),
                          [document["metric"], "retrains", "promoted", "rejected", "train s",
                           *(["net"] if priced else [])], bool(shares))
    for row in document["policies"]:
        table.add_row(row["name"], _number(row["metric"]), str(row["retrains"]),
                      str(row["promotions"]), str(row["rejections"]),
                      f"{row['train_seconds']:.1f}",
                      *([_value(row.get("net_value"))] if priced else []),
                      *(_share(share) for share in shares.get(row["name"], ())))
    console.print(table)
    _show_matched(document)
    _show_value(document)
    _show_certainty(document)
    _show_run_notes(document["policies"], document["batches"], document["metric"],
                    max(undefined_batches(row) for row in document["policies"]))
    unlabelled = sum(rows == 0 for rows in document["policies"][0]["rows"])
    if batches == 1:
        err_console.print("[yellow]one batch to replay: every policy scores it with the first "
                          "model, so they cannot differ; give a shorter --initial or --batch, "
                          "or more history[/]", highlight=False)
    if 0 < unlabelled < document["batches"]:  # all: the error below says so
        err_console.print(
            f"[yellow]{unlabelled} of {document['batches']} batches have no labelled rows: "
            f"every policy's {document['metric']} is over the other "
            f"{document['batches'] - unlabelled}[/]", highlight=False)
    console.print(f"{document['seconds']:.0f} s; wrote {output / 'backtest.json'} and "
                  f"{output / 'report.html'}", highlight=False)
    if not any(value is not None and value == value
               for row in document["policies"] for value in row["per_batch"]):
        labelled = any(rows for row in document["policies"] for rows in row["rows"])
        reason = next((row.get("untrained_reason") for row in document["policies"]
                       if row.get("untrained_reason")), None)
        err_console.print(
            "[red]no policy scored a batch: " + (
                "no model could be trained (above)" if labelled else
                "no batch after the initial period has labels")
            + (f"; {escape(reason)}" if reason and not labelled else "") + "[/]",
            highlight=False)
        raise typer.Exit(1)


def _show_run_notes(rows: list[dict[str, Any]], batches: int, metric: str, undefined: int,
                    start: str | None = None) -> None:
    """What one replay of the policies (``rows``: name, unscored, untrained and their reasons)
    left undone: batches no production model scored, jobs that trained nothing, batches with
    no defined metric; with several starts, briefly, after the ``start`` they concern."""
    for row in rows:
        name = f"from {start}, {row['name']}" if start else row["name"]
        if row["unscored"]:
            err_console.print(
                f"[yellow]{escape(name)}: {row['unscored']} of {batches} batches not scored, "
                "no production model" + ("" if start else "; the last job that left it without "
                                         "one") + f": {escape(row['unscored_reason'])}[/]",
                highlight=False)
        elif row.get("untrained"):
            err_console.print(
                f"[yellow]{escape(name)}: {row['untrained']} of its jobs trained nothing"
                + ("" if start else ", so its retrains are fewer than it asked for")
                + f"; the newest: {escape(row['untrained_reason'])}[/]", highlight=False)
    if undefined > 0:
        err_console.print(
            f"[yellow]{f'from {escape(start)}: ' if start else ''}{undefined} of {batches} "
            f"batches have no defined {metric}" + (
                "" if start else " (ROC AUC of a batch with one class, say): they are left out "
                "of the metric and the intervals") + "[/]", highlight=False)


def _show_matched(document: dict[str, Any]) -> None:
    """Which schedule ``periodic:auto`` replayed, against auto: the bar's "no worse than the
    schedule of the same cost"."""
    by_name = {row["name"]: row for row in document["policies"]}
    matched, auto = by_name.get("periodic:auto"), by_name.get("auto")
    if not matched or not auto or not matched.get("period"):
        return
    metric = document["metric"]
    console.print(
        f"periodic:auto replayed periodic:{matched['period']}, {matched['retrains']} retrains "
        f"against auto's {auto['retrains']}: {metric} {_number(matched['metric'])} against "
        f"{_number(auto['metric'])}", highlight=False)


def _priced(result: dict[str, Any]) -> bool:
    """Whether the table has a net value column: a policy has one, or ``value``'s ``note``
    says why none has (its cells are then ``-``, and the note is printed under the table)."""
    return (any(row.get("net_value") is not None for row in result["policies"])
            or bool((result.get("value") or {}).get("note")))


def _show_value(result: dict[str, Any]) -> None:
    from retrainer.backtest.report import value_sentence

    sentence = value_sentence(result)
    if sentence:
        console.print(sentence, highlight=False)


def _show_certainty(document: dict[str, Any]) -> None:
    """The reference policy against each other one, resampled over the batches: the
    difference, its interval and whether they are told apart; and how often each pays most."""
    from retrainer.backtest.certainty import signed, verdict

    found = document.get("certainty")
    if not found:
        return
    reference, shares = found["reference"], found["pays_most_share"]
    of_gain = found.get("share_of_gain")
    table = Table(title=f"How sure: {reference} against each policy, {found['batches']} "
                        f"batches resampled {found['draws']:,} times",
                  caption=f"difference: how much better {reference}'s {document['metric']} is "
                          f"(< 0: worse); {found['level']:.0%} interval of a circular block "
                          "bootstrap"
                  + ("; pays: share of resamples in which it pays most (highest net value)"
                     if shares else "")
                  + ("; gain: interval of its share of always's gain over never"
                     if of_gain else ""),
                  box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)
    for column in ("policy", "difference", "interval", "verdict",
                   *(["pays"] if shares else []), *(["gain"] if of_gain else [])):
        table.add_column(column, justify="left" if column in ("policy", "verdict") else "right",
                         no_wrap=column != "verdict")
    versus = {entry["name"]: entry for entry in found["versus"]}
    for row in document["policies"]:
        entry = versus.get(row["name"])
        cells = (["-", "-", "(reference)"] if entry is None else
                 [signed(entry["difference"], 3),
                  f"{signed(entry['low'], 2)}..{signed(entry['high'], 2)}", verdict(entry)])
        span = of_gain.get(row["name"]) if of_gain else None
        table.add_row(row["name"], *cells,
                      *([_share(shares.get(row["name"]))] if shares else []),
                      *([f"{span[0] * 100:.0f}..{span[1]:.0%}" if span else "-"]
                        if of_gain else []))
    console.print(table)


SHARES_CAPTION = "gain: share of always's gain over never; cost: share of always's retrains"


def _show_starts(summary: dict[str, Any], output: Path) -> None:
    """One row per policy: its mean over the starts, their range, and (means over the starts)
    its retrains and shares of always's gain and retrains when never and always ran."""
    shares = any("share_of_gain" in row for row in summary["policies"])
    priced = _priced(summary)
    reference = summary.get("reference")
    told = f"{reference} vs it" if reference else None
    table = _policy_table(summary, f"starts {', '.join(summary['starts'])}",
                          [summary["metric"], "range", "retrains",
                           *(["net"] if priced else []), *([told] if told else [])], shares)
    for row in summary["policies"]:
        verdicts = row.get("verdicts")
        table.add_row(row["name"], _number(row["metric"]),
                      f"{_number(row['metric_min'])}..{_number(row['metric_max'])}",
                      f"{row['retrains']:.1f}",
                      *([_value(row.get("net_value"))] if priced else []),
                      *([" ".join(f"{n}{mark}" for mark, n in zip(
                          "+=-", verdicts.values(), strict=True)) if verdicts else "-"]
                        if told else []),
                      *((_share(row.get("share_of_gain")), _share(row.get("share_of_retrains")))
                        if shares else ()))
    console.print(table)
    if told:
        console.print(f"{told}: the starts from which {reference} is better (+), not told "
                      "apart (=) or worse (-), by the 95% interval of each start's difference "
                      "(backtest.json's certainty)", highlight=False)
    _show_value(summary)
    for index, start in enumerate(summary["starts"]):  # what each start's replays left undone
        runs = [{"name": row["name"], **row["per_start"][index]} for row in summary["policies"]]
        _show_run_notes(runs, runs[0]["batches"], summary["metric"],
                        max(run["undefined"] for run in runs), start)
    console.print(f"{summary['seconds']:.0f} s; wrote {output / 'starts.json'} and, per start, "
                  f"{output / 'initial-SIZE'}/backtest.json and report.html", highlight=False)


def _policy_table(result: dict[str, Any], scope: str, columns: list[str],
                  shares: bool) -> Table:
    """An empty table of one row per policy: the name, ``columns`` and, with ``shares``, the
    gain and cost columns (explained in the caption)."""
    higher = result["higher_is_better"]
    table = Table(title=f"{result['dataset']}: {result['rows']:,} rows, {scope}, "
                        f"{result['metric']} ({'higher' if higher else 'lower'} is better)",
                  caption=SHARES_CAPTION if shares else None, box=box.SIMPLE_HEAD,
                  collapse_padding=True, pad_edge=False)
    table.add_column("policy", no_wrap=True,
                     min_width=max(len(row["name"]) for row in result["policies"]))
    for column in [*columns, *(("gain", "cost") if shares else ())]:
        table.add_column(column, justify="right", min_width=len(column))
    return table


def _number(value: float | None) -> str:
    return "-" if value is None or value != value else f"{value:.4g}"


def _value(value: float | None) -> str:
    """A net value to one decimal, never ``-0.0`` (a loss of 0.04 rounds to nothing).

    >>> _value(-0.04), _value(12.345), _value(None)
    ('0.0', '12.3', '-')
    """
    return "-" if value is None else f"{round(value, 1) + 0.0:.1f}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"
