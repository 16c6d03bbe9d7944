"""``retrainer drift`` and ``retrainer estimate``: monitoring on files, no project needed.

Heavy imports (pandas, NumPy, the monitoring engine) happen inside the commands so that
``retrainer --help`` stays fast; nothing here imports MLflow.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from retrainer.cli.common import console, err_console, output_file, print_json, state
from retrainer.exceptions import DataError, UsageError

if TYPE_CHECKING:
    import pandas as pd

    from retrainer.config import DriftMonitorConfig
    from retrainer.monitoring.columns import ColumnDrift
    from retrainer.monitoring.drift import DriftReport

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
#: a current Parquet file with more values than this is streamed in batches (auto mode)
STREAM_VALUES = 50_000_000


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise UsageError("give column names separated by commas, e.g. --columns a,b")
    return names


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn(
        "{task.completed:,.0f}/{task.total:,.0f}"), TimeElapsedColumn(), console=err_console,
        transient=True)


def drift(
    ctx: typer.Context,
    reference: Annotated[Path, typer.Argument(
        help="Reference data (.csv, .parquet) or a profile saved with --save-profile.")],
    current: Annotated[Path, typer.Argument(help="Current data (.csv, .parquet).")],
    columns: Annotated[str | None, typer.Option(
        "--columns", help="Columns to compare, e.g. a,b (default: those both files have).")
    ] = None,
    categorical: Annotated[str | None, typer.Option(
        "--categorical", help="Columns to treat as categorical (default: non-numeric ones).")
    ] = None,
    target: Annotated[str | None, typer.Option(
        "--target", help="The label column: its drift (label shift) is reported apart and "
        "not counted in the dataset verdict.")] = None,
    as_json: Json = False,
    html: Annotated[Path | None, typer.Option(
        "--html", help="Write an HTML report with histograms to this file.")] = None,
    model: Annotated[str | None, typer.Option(
        "--model", help="Use this model's monitors.drift rules from retrainer.yaml, its "
        "features (never its time column) and its target, reported apart.")] = None,
    calibrate: Annotated[bool, typer.Option(
        "--calibrate", help="Calibrate thresholds to a false-alarm budget for this size.")
    ] = False,
    budget: Annotated[float | None, typer.Option(
        "--budget", min=0.0001, max=0.5, help="False-alarm budget with --calibrate.")] = None,
    weights: Annotated[Path | None, typer.Option(
        "--weights", help="JSON {column: importance} for the weighted verdict.")] = None,
    save_profile: Annotated[Path | None, typer.Option(
        "--save-profile", help="Also write the reference profile (JSON) to this file.")
    ] = None,
    stream: Annotated[bool | None, typer.Option(
        "--stream/--no-stream", help="Stream CURRENT (Parquet) in batches; default: when "
        "it holds more than 50 million values.", show_default=False)] = None,
    batch_rows: Annotated[int | None, typer.Option(
        "--batch-rows", min=1000, help="Rows per streamed batch (default: about 25 million "
        "values per batch).")] = None,
) -> None:
    """Drift of CURRENT against REFERENCE per column, and the dataset verdict.

    Against raw reference data every statistic is exact; against a saved profile (or with
    --calibrate / --stream) KS and Wasserstein come from the profile's quantile sketch.
    With --target, the label column's labelled rows are compared the same way (as categorical
    when non-numeric or listed in --categorical) but kept out of the dataset verdict.
    """
    from retrainer.monitoring.files import file_kind

    rules = _rules(ctx, model, calibrate, budget)
    ref_kind = file_kind(reference, "REFERENCE")
    if file_kind(current, "CURRENT") == "json":
        raise UsageError("CURRENT must be a .csv or .parquet file")
    importance = _weights(weights)
    if model is not None and ref_kind != "json":
        columns, target = _model_columns(state(ctx).config().model(model), reference, current,
                                         columns, target)
    report, target_drift = _compare(reference, ref_kind, current, rules, _split(columns),
                                    _split(categorical), importance, bool(html), save_profile,
                                    stream, batch_rows, target)
    empty = [n for n, c in report.columns.items() if c.stats.get("n") == 0 and report.rows]
    if empty:
        raise DataError(f"CURRENT {current}: columns {empty} hold no values (all missing); "
                        "leave them out with --columns")
    if html is not None:
        from retrainer.reports import write_drift_html

        html = output_file(html, "--html")
        write_drift_html(report, html, title=f"Drift: {current.name} vs {reference.name}",
                         reference=str(reference), current=str(current), target=target_drift)
        err_console.print(f"wrote {html}")
    if as_json:
        print_json(_drift_json(report, target_drift))
        return
    _print_drift(report, target_drift)


def _rules(ctx: typer.Context, model: str | None, calibrate: bool, budget: float | None
           ) -> DriftMonitorConfig:
    from retrainer.config import DriftMonitorConfig

    rules = (state(ctx).config().model(model).monitors.drift if model is not None
             else DriftMonitorConfig())
    if calibrate or budget is not None:
        update: dict[str, Any] = {"enabled": True}
        if budget is not None:
            update["budget"] = budget
        rules = rules.model_copy(update={
            "calibration": rules.calibration.model_copy(update=update)})
    return rules


def _weights(path: Path | None) -> dict[str, float] | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UsageError(f"--weights {path}: {error}") from None
    if not isinstance(data, dict) or not all(
            isinstance(v, int | float) and v >= 0 for v in data.values()):
        raise UsageError(f"--weights {path} must hold an object of non-negative numbers")
    return {str(k): float(v) for k, v in data.items()}


def _check_weights(importance: dict[str, float] | None, names: list[str]) -> None:
    """Weights of columns not compared do nothing: a warning, and a usage error when no
    compared column has one (the verdict would quietly weigh every column the same)."""
    if importance is None:
        return
    unused = [name for name in importance if name not in names]
    if len(unused) == len(importance):
        raise UsageError(f"--weights names none of the compared columns (columns: {names})")
    if unused:
        err_console.print(f"[yellow]--weights names {escape(str(unused))}, which are not "
                          "compared; their weights are ignored[/]", highlight=False)


def _check_target(target: str, columns: list[str] | None, reference: Path,
                  profile: dict[str, Any] | None, current: Path) -> None:
    """Raise ``UsageError`` unless REFERENCE (its columns, or the target reference of the
    profile it holds) and CURRENT have ``target``, and --columns does not also list it."""
    from retrainer.monitoring.files import read_columns

    if columns is not None and target in columns:
        raise UsageError(f"--target {target} is also listed in --columns; the target is "
                         "compared apart from the feature columns")
    if profile is not None:
        saved = profile.get("target")
        if saved is None:
            raise UsageError(f"the profile {reference} holds no target reference; save one "
                             f"with --save-profile and --target {target}")
        if saved["column"] != target:
            raise UsageError(f"the profile {reference} holds the target reference of "
                             f"{saved['column']!r}, not {target!r}")
    files = {"CURRENT": current} if profile is not None else {"REFERENCE": reference,
                                                               "CURRENT": current}
    for label, path in files.items():
        available = read_columns(path, label)
        if target not in available:
            raise UsageError(f"--target {target}: {label} {path} has no such column "
                             f"(it has {available})")


def _compare(reference: Path, ref_kind: str, current: Path, rules: DriftMonitorConfig,
             columns: list[str] | None, categorical: list[str] | None,
             importance: dict[str, float] | None, histograms: bool,
             save_profile: Path | None, stream: bool | None, batch_rows: int | None,
             target: str | None = None) -> tuple[DriftReport, ColumnDrift | None]:
    """The features' report, and the target's drift (None without ``target``)."""
    from retrainer.monitoring.calibration import calibrate
    from retrainer.monitoring.drift import compare_frames, detect_drift
    from retrainer.monitoring.files import file_kind, file_rows, read_columns, read_frame
    from retrainer.monitoring.stream import stream_drift

    profile = _load_profile(reference, columns) if ref_kind == "json" else None
    if target is not None:
        _check_target(target, columns, reference, profile, current)
    names = (list(profile["columns"]) if profile is not None
             else _column_names(reference, current, columns, read_columns, target))
    if profile is not None:
        _check_weights(importance, names)
    if categorical:
        unknown = [c for c in categorical if c not in names and c != target]
        if unknown:
            raise UsageError(f"--categorical names {unknown}, which are not compared "
                             f"(columns: {names})")
    rows = file_rows(current, "CURRENT")
    if stream is None:
        stream = rows is not None and rows * len(names) > STREAM_VALUES
    if stream and file_kind(current, "CURRENT") != "parquet":
        raise UsageError("--stream needs a Parquet CURRENT file")
    wanted = [*names, target] if target is not None else names
    cur_frame = None if stream else read_frame(current, wanted, "CURRENT")
    if profile is None:
        ref_frame = read_frame(reference, wanted, "REFERENCE")
        if columns is None:  # dates are new in every window: they would always drift
            from retrainer.data.columns import unusable_columns

            dates = [c for c, why in unusable_columns(ref_frame[names], set(categorical or ())
                                                      ).items() if why == "dates"]
            if dates and len(dates) < len(names):
                err_console.print(f"[dim]not compared, dates: {', '.join(dates)} "
                                  "(--columns compares them)[/]", highlight=False)
                names = [n for n in names if n not in dates]
        _check_weights(importance, names)
        numeric, cats = _kinds(ref_frame, names, categorical)
        _no_empty_columns(ref_frame, "REFERENCE", reference)
        if cur_frame is not None:
            _no_empty_columns(cur_frame, "CURRENT", current)
        needs_profile = stream or rules.calibration.enabled or save_profile is not None
        if not needs_profile:
            assert cur_frame is not None
            with err_console.status(f"comparing {len(names)} columns"):
                report = compare_frames(ref_frame, cur_frame, numeric, cats, rules,
                                        importance=importance, histograms=histograms)
                return report, (None if target is None else _exact_target(
                    ref_frame, cur_frame, target, categorical, rules, histograms))
        from retrainer.monitoring.profile import build_profile, target_reference

        profile = build_profile(ref_frame, numeric, cats, bins=rules.numeric.bins,
                                sketch_size=rules.numeric.sketch_size)
        if target is not None:  # stored as a trained version's profile stores it
            profile["target"] = target_reference(
                ref_frame[target].dropna(),
                categorical=_target_categorical(ref_frame, target, categorical),
                bins=rules.numeric.bins, sketch_size=rules.numeric.sketch_size)
        del ref_frame
    if save_profile is not None:
        output_file(save_profile, "--save-profile").write_text(json.dumps(profile),
                                                               encoding="utf-8")
        err_console.print(f"wrote {save_profile}")
    window = rows if rows is not None else (len(cur_frame) if cur_frame is not None else 0)
    calibration = (calibrate(profile, max(window, 1), rules)
                   if rules.calibration.enabled else None)
    if stream:
        with _progress() as bar:
            task = bar.add_task(f"streaming {current.name}", total=rows or 0)
            report = stream_drift(
                profile, current, rules, batch_rows=batch_rows, importance=importance,
                calibration=calibration, histograms=histograms,
                on_progress=lambda done, total: bar.update(task, completed=done, total=total))
    else:
        assert cur_frame is not None
        report = detect_drift(profile, cur_frame, rules, importance=importance,
                              calibration=calibration, histograms=histograms)
    if target is None:
        return report, None
    # streaming reads the target alone: one column in memory, as profile_parquet does
    labels = cur_frame if cur_frame is not None else read_frame(current, [target], "CURRENT")
    return report, _profile_target(profile, labels, target, rules, histograms, current)


def _exact_target(reference: pd.DataFrame, current: pd.DataFrame, target: str,
                  categorical: list[str] | None, rules: DriftMonitorConfig, histograms: bool
                  ) -> ColumnDrift:
    """The target's drift on the labelled rows of both frames, exactly (``compare_frames``)."""
    from retrainer.monitoring.drift import compare_frames
    from retrainer.monitoring.profile import label_values

    ref, cur = reference[target].dropna(), current[target].dropna()
    if _target_categorical(reference, target, categorical):
        ref, cur = label_values(ref), label_values(cur)  # as the monitor keys class labels
        kinds: tuple[list[str], list[str]] = [], [target]
    else:
        kinds = [target], []
    report = compare_frames(ref.to_frame(), cur.to_frame(), *kinds, rules,
                            histograms=histograms)
    return report.columns[target]


def _profile_target(profile: dict[str, Any], frame: pd.DataFrame, target: str,
                    rules: DriftMonitorConfig, histograms: bool, current: Path) -> ColumnDrift:
    """The target's drift on ``frame``'s labelled rows against ``profile["target"]``
    (``detect_target_drift``, with a calibration of its own as the monitor does)."""
    from retrainer.monitoring.calibration import calibrate
    from retrainer.monitoring.drift import detect_target_drift
    from retrainer.monitoring.profile import target_profile

    labelled = int(frame[target].notna().sum())
    reference = target_profile(profile)
    calibration = (calibrate(reference, labelled, rules)
                   if reference is not None and labelled and rules.calibration.enabled else None)
    drift = detect_target_drift(profile, frame, rules, calibration=calibration,
                                histograms=histograms)
    if drift is None:
        raise DataError(f"CURRENT {current}: the target {target!r} holds no labels (all "
                        "missing), or monitors.drift.columns marks it ignore")
    return drift


def _target_categorical(frame: pd.DataFrame, target: str, categorical: list[str] | None
                        ) -> bool:
    """Classification targets: listed in --categorical, or not numeric."""
    return target in (categorical or []) or not _kinds(frame, [target], None)[0]


def _load_profile(path: Path, columns: list[str] | None) -> dict[str, Any]:
    try:
        profile = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DataError(f"REFERENCE {path} is not a readable profile: {error}") from None
    if not isinstance(profile, dict) or "columns" not in profile:
        raise DataError(f"REFERENCE {path} is not a reference profile (no 'columns')")
    if columns is not None:
        unknown = [c for c in columns if c not in profile["columns"]]
        if unknown:
            raise DataError(f"the profile {path} lacks columns {unknown}")
        profile = {**profile, "columns": {c: profile["columns"][c] for c in columns}}
    empty = [n for n, spec in profile["columns"].items() if spec.get("n") == 0]
    if empty:
        raise DataError(f"REFERENCE {path}: columns {empty} hold no values (all missing)")
    return dict(profile)


def _model_columns(config: Any, reference: Path, current: Path, columns: str | None,
                   target: str | None) -> tuple[str | None, str | None]:
    """With --model: by default its features that both files hold (never its time or id
    column), and its target, when both files hold it, reported apart as with --target."""
    from retrainer.monitoring.files import read_columns

    shared = [c for c in read_columns(reference, "REFERENCE")
              if c in set(read_columns(current, "CURRENT"))]
    if target is None and config.target in shared:
        target = config.target
    if columns is None:
        features = [c for c in config.feature_columns(shared) if c != target]
        columns = ",".join(features) if features else None
    return columns, target


def _column_names(reference: Path, current: Path, columns: list[str] | None,
                  read_columns: Any, target: str | None = None) -> list[str]:
    if columns is not None:
        return columns
    ref_columns = read_columns(reference, "REFERENCE")
    cur_columns = set(read_columns(current, "CURRENT"))
    names = [c for c in ref_columns if c in cur_columns and c != target]
    if not names:
        raise DataError(f"REFERENCE and CURRENT have no column in common"
                        f"{' besides the target' if target else ''} (REFERENCE has {ref_columns})")
    return names


def _kinds(frame: pd.DataFrame, names: list[str], categorical: list[str] | None
           ) -> tuple[list[str], list[str]]:
    import pandas as pd

    if categorical is not None:
        return [n for n in names if n not in categorical], [c for c in categorical if c in names]
    numeric = [n for n in names if pd.api.types.is_numeric_dtype(frame[n].dtype)
               and not pd.api.types.is_bool_dtype(frame[n].dtype)]
    return numeric, [n for n in names if n not in numeric]


def _no_empty_columns(frame: pd.DataFrame, label: str, path: Path) -> None:
    empty = [c for c in frame.columns if frame[c].isna().all()]
    if empty:
        raise DataError(f"{label} {path}: columns {empty} hold no values (all missing); "
                        "leave them out with --columns")


def _drift_json(report: DriftReport, target: ColumnDrift | None = None) -> dict[str, Any]:
    document = report.to_json()
    for column in document["columns"].values():
        column.pop("column", None)
    document["target"] = target.to_json() if target is not None else None
    return _clean(document)


def _print_drift(report: DriftReport, target: ColumnDrift | None = None) -> None:
    table = Table(title=f"drift ({'exact' if report.exact else 'against the profile'}, "
                        f"{report.rows:,} rows)")
    for heading in ("column", "method", "score", "threshold", "drifted", "weight", "why"):
        table.add_column(heading, overflow="fold",
                         justify="right" if heading in ("score", "threshold", "weight") else "left")
    for name, col in report.columns.items():
        table.add_row(name, col.method, _fmt(col.score), _fmt(col.threshold),
                      "[bold red]yes[/]" if col.drifted else "no",
                      f"{report.weights.get(name, 0.0):.0%}", "; ".join(col.reasons)[:160])
    console.print(table)
    verdict = "[bold red]dataset drift[/]" if report.dataset_drift else "[green]no dataset drift[/]"
    console.print(f"{verdict}: {len(report.drifted_columns())}/{len(report.columns)} columns "
                  f"drifted ({report.drifted_share:.0%}); {report.weighting}-weighted share "
                  f"{report.weighted_share:.0%} (threshold {report.dataset_share:.0%})")
    if target is not None:
        state = (f"[bold red]drifted[/]: {'; '.join(target.reasons)[:160]}" if target.drifted
                 else f"[green]stable[/] ({target.method} {_fmt(target.score)}, threshold "
                      f"{_fmt(target.threshold)})")
        console.print(f"target {target.column} {state}")


def estimate(
    reference: Annotated[Path, typer.Argument(help="Labelled reference (.csv, .parquet).")],
    analysis: Annotated[Path, typer.Argument(help="Data to estimate on (.csv, .parquet).")],
    y_pred_proba: Annotated[str, typer.Option("--y-pred-proba", help="Column of P(y = 1).")],
    y_pred: Annotated[str, typer.Option("--y-pred", help="Column of predicted labels (0/1).")],
    y_true: Annotated[str, typer.Option("--y-true", help="Label column (0/1); in ANALYSIS "
                                        "it may be missing or partly empty.")],
    chunk_size: Annotated[int | None, typer.Option(
        "--chunk-size", min=1, help="Rows per chunk (default: a tenth of ANALYSIS).")] = None,
    as_json: Json = False,
) -> None:
    """Label-free estimate of accuracy and ROC AUC per chunk of ANALYSIS (binary
    classifiers), calibrated on REFERENCE; realised values where ANALYSIS has labels."""
    from retrainer.monitoring.estimation import estimate_chunks, fit_estimator
    from retrainer.monitoring.files import read_columns, read_frame

    ref = read_frame(reference, [y_true, y_pred_proba, y_pred], "REFERENCE")
    has_labels = y_true in read_columns(analysis, "ANALYSIS")
    wanted = [y_pred_proba, y_pred] + ([y_true] if has_labels else [])
    data = read_frame(analysis, wanted, "ANALYSIS")
    ref = ref[ref[y_true].notna()]
    if len(ref) == 0:
        raise DataError(f"REFERENCE {reference}: column {y_true!r} has no labels")
    ref_y = _binary(ref[y_true], "REFERENCE", y_true)
    ref_p = _probability(ref[y_pred_proba], "REFERENCE", y_pred_proba)
    ref_pred = _binary(ref[y_pred], "REFERENCE", y_pred)
    proba = _probability(data[y_pred_proba], "ANALYSIS", y_pred_proba)
    predicted = _binary(data[y_pred], "ANALYSIS", y_pred)
    labels = _binary(data[y_true], "ANALYSIS", y_true, allow_missing=True) if has_labels else None
    estimator = fit_estimator(ref_y, ref_p, ref_pred)
    chunks = estimate_chunks(estimator, (ref_y, ref_p, ref_pred), proba, predicted, labels,
                             chunk_size)
    document = {"reference": {"rows": estimator.reference_rows, **estimator.reference},
                "chunk_size": chunks[0]["rows"] if chunks else chunk_size, "chunks": chunks}
    if as_json:
        print_json(_clean(document))
        return
    table = Table(title=f"estimated performance of {analysis.name} (reference accuracy "
                        f"{_fmt(estimator.reference['accuracy'])}, ROC AUC "
                        f"{_fmt(estimator.reference['roc_auc'])})")
    for heading in ("rows", "accuracy est.", "accuracy", "ROC AUC est.", "ROC AUC", "alerts"):
        table.add_column(heading, justify="left" if heading in ("rows", "alerts") else "right")
    for chunk in chunks:
        real = chunk["realised"] or {}
        table.add_row(f"{chunk['start']}-{chunk['end']}", _fmt(chunk["estimated"]["accuracy"]),
                      _fmt(real.get("accuracy")), _fmt(chunk["estimated"]["roc_auc"]),
                      _fmt(real.get("roc_auc")), ", ".join(chunk["alerts"]) or "-")
    console.print(table)


def _probability(series: pd.Series, label: str, name: str) -> Any:
    from retrainer.monitoring.profile import numeric_values

    values = numeric_values(series)
    missing = int((~(values == values)).sum())
    if missing == len(values):
        raise DataError(f"{label}: column {name!r} holds no values (all missing)")
    if missing:
        raise DataError(f"{label}: column {name!r} lacks a probability on {missing} rows")
    if ((values < 0) | (values > 1)).any():
        raise DataError(f"{label}: column {name!r} must hold probabilities in [0, 1]")
    return values


def _binary(series: pd.Series, label: str, name: str, allow_missing: bool = False) -> Any:
    import numpy as np

    from retrainer.monitoring.profile import numeric_values

    try:
        values = numeric_values(series)
    except DataError:
        raise DataError(f"{label}: column {name!r} must hold 0/1 labels "
                        f"(found {series.dropna().unique()[:5].tolist()})") from None
    known = values[~np.isnan(values)]
    if known.size == 0 and not allow_missing:
        raise DataError(f"{label}: column {name!r} holds no values (all missing)")
    if known.size < values.size and not allow_missing:
        raise DataError(f"{label}: column {name!r} is missing on {values.size - known.size} rows")
    if not np.isin(known, (0.0, 1.0)).all():
        raise DataError(f"{label}: column {name!r} must hold 0/1 labels "
                        f"(found {np.unique(known)[:5].tolist()})")
    return values


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null, NumPy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
