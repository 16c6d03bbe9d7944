"""Turn one monitoring window into stored readings: drift against the production version's
reference profile, and its performance on the window's labelled rows.

The drift reading's ``score`` is the share of drifted columns (the drift trigger fires on
the dataset verdict, or compares the weighted share with ``min_drifted_share``). Its
``details`` is ``DriftReport.to_json()``: per column ``severity``, ``method``, ``score``,
``threshold``, ``stats`` and ``thresholds``, plus ``drifted_columns`` and the dataset
verdict (``dataset_drift``, ``weighted_share``, ``dataset_share``, ``weights``). When the
version's profile holds a target reference and the window has at least ``MIN_LABELLED_ROWS``
labelled rows, ``details["target"]`` holds the target's drift (label shift) as one column's
JSON (``monitors.drift.target`` turns it off); it never moves the shares or the verdict. With
``monitors.drift.calibration.enabled`` the thresholds are calibrated for the window's size
(rounded down to two significant digits, which errs towards fewer alarms) and cached per
process and model version.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from datetime import datetime
from threading import Lock
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from retrainer.config import DriftMonitorConfig, ModelConfig
from retrainer.data.labels import labelled_rows
from retrainer.domain import ModelVersion, MonitorReading, Severity, Window
from retrainer.monitoring.calibration import Calibration, calibrate
from retrainer.monitoring.columns import ColumnDrift
from retrainer.monitoring.drift import DriftReport, detect_drift, detect_target_drift
from retrainer.monitoring.estimation import ConfidenceEstimator, expected_metrics
from retrainer.monitoring.performance import evaluate_performance
from retrainer.monitoring.profile import target_profile
from retrainer.validation.metrics import compute_metrics

if TYPE_CHECKING:
    from retrainer.training.bundle import ModelBundle

#: fewer labelled rows than this give no performance reading (the metric would be noise)
MIN_LABELLED_ROWS = 30
_CALIBRATIONS: OrderedDict[tuple[str, ...], Calibration] = OrderedDict()
_CALIBRATIONS_LOCK = Lock()
_CACHED = 32



def _reading(model: ModelConfig, monitor: str, window: Window, as_of: datetime,
             **fields: Any) -> MonitorReading:
    """A reading of ``monitor`` for ``model`` over ``window``; ``fields`` fill the rest."""
    return MonitorReading(model=model.name, monitor=monitor, as_of=as_of,
                          window_start=window.start, window_end=window.end, **fields)

def window_rows_bucket(rows: int) -> int:
    """``rows`` rounded down to two significant digits (at least 1).

    >>> window_rows_bucket(723), window_rows_bucket(50_123), window_rows_bucket(7)
    (720, 50000, 7)
    """
    if rows < 100:
        return max(rows, 1)
    step = 10 ** (int(math.log10(rows)) - 1)
    return rows // step * step


def calibration_for(champion: ModelVersion, rows: int, rules: DriftMonitorConfig,
                    target: bool = False) -> Calibration:
    """The calibration of the champion's profile (``target``: of its target reference, with
    its own false-alarm budget) for windows of about ``rows`` rows."""
    assert champion.profile is not None
    profile = target_profile(champion.profile) if target else champion.profile
    assert profile is not None
    bucket = window_rows_bucket(rows)
    key = (champion.model, champion.version, champion.artifact_sha256, str(bucket),
           json.dumps(rules.model_dump(mode="json"), sort_keys=True), str(target))
    with _CALIBRATIONS_LOCK:
        found = _CALIBRATIONS.get(key)
        if found is not None:
            _CALIBRATIONS.move_to_end(key)
            return found
    result = calibrate(profile, bucket, rules)
    with _CALIBRATIONS_LOCK:
        _CALIBRATIONS[key] = result
        while len(_CALIBRATIONS) > _CACHED:
            _CALIBRATIONS.popitem(last=False)
    return result


def drift_reading(
    model: ModelConfig,
    champion: ModelVersion,
    frame: pd.DataFrame,
    window: Window,
    as_of: datetime,
) -> MonitorReading:
    assert champion.profile is not None
    rules = model.monitors.drift
    calibration = (calibration_for(champion, len(frame), rules)
                   if rules.calibration.enabled and len(frame) else None)
    report: DriftReport = detect_drift(champion.profile, frame, rules, calibration=calibration)
    target = target_drift(model, champion, frame)
    drifted = report.drifted_columns()
    details = report.to_json()
    ranked = sorted(
        (c for c in report.columns.values() if c.drifted),
        key=lambda c: (c.score / c.threshold) if c.threshold and c.score == c.score else 0.0,
        reverse=True,
    )
    summary = f"{len(drifted)}/{len(report.columns)} columns drifted ({report.drifted_share:.0%})"
    if ranked:
        summary += ": " + ", ".join(f"{c.column} {c.method} {c.score:.2f}" for c in ranked[:3])
    verdict = "dataset drift" if report.dataset_drift else "no dataset drift"
    summary += (f"; {verdict} ({report.weighting}-weighted share {report.weighted_share:.0%}"
                f" vs {report.dataset_share:.0%})")
    severity = report.max_severity()
    if target is not None:
        details["target"] = target.to_json()
        summary += (f"; target {target.column} {'drifted' if target.drifted else 'stable'}"
                    f" ({target.method} {target.score:.2f})")
        severity = max(severity, target.severity, key=lambda s: s.rank)
    return _reading(
        model, "drift", window, as_of,
        rows=len(frame),
        score=report.drifted_share,
        severity=severity,
        alert=bool(drifted) or (target is not None and target.drifted),
        summary=summary,
        details=details,
        champion_version=champion.version,
    )


def target_drift(model: ModelConfig, champion: ModelVersion, frame: pd.DataFrame
                 ) -> ColumnDrift | None:
    """The drift of the champion's target on the window's labelled rows, or None (switched
    off, no target reference in the profile, or fewer than ``MIN_LABELLED_ROWS`` labels)."""
    rules = model.monitors.drift
    profile = champion.profile or {}
    if not rules.target or "target" not in profile:
        return None
    column = profile["target"]["column"]
    labelled = int(frame[column].notna().sum()) if column in frame.columns else 0
    if labelled < MIN_LABELLED_ROWS:
        return None
    calibration = (calibration_for(champion, labelled, rules, target=True)
                   if rules.calibration.enabled else None)
    return detect_target_drift(profile, frame, rules, min_rows=MIN_LABELLED_ROWS,
                               calibration=calibration)


def unseen_labelled_rows(model: ModelConfig, champion: ModelVersion,
                         frame: pd.DataFrame) -> pd.DataFrame:
    """The window's labelled rows newer than the newest row the production version was
    fitted on (its lineage's ``fitted_through``): a model scored on rows it learned looks
    better than it is, as it would right after a retrain whose window overlaps this one
    (``refit_on_holdout``, or a holdout shorter than the monitoring window)."""
    labelled = labelled_rows(frame, model.target)
    fitted_through = champion.lineage.get("fitted_through")
    if not fitted_through or model.time_column not in labelled.columns:
        return labelled
    newest = pd.Timestamp(fitted_through)
    newest = newest.tz_localize("UTC") if newest.tzinfo is None else newest.tz_convert("UTC")
    times = pd.to_datetime(labelled[model.time_column], utc=True)
    return labelled[(times > newest).to_numpy()]


def performance_reading(
    model: ModelConfig,
    champion: ModelVersion,
    bundle: ModelBundle,
    frame: pd.DataFrame,
    window: Window,
    as_of: datetime,
) -> MonitorReading | None:
    labelled = unseen_labelled_rows(model, champion, frame)
    if len(labelled) < MIN_LABELLED_ROWS:
        return None
    current = compute_metrics(
        model.task, labelled[model.target].to_numpy(), bundle.prediction(labelled),
        classes=bundle.classes,
    )
    report = evaluate_performance(
        current, champion.metrics, model.monitors.performance, model.metric, len(labelled)
    )
    direction = f"{report.degradation:+.1%} worse" if report.degradation >= 0 else (
        f"{-report.degradation:.1%} better")
    summary = f"{report.metric} {report.value:.4g} vs baseline {report.baseline:.4g} ({direction})"
    return _reading(
        model, "performance", window, as_of,
        rows=len(labelled),
        score=report.degradation,
        severity=report.severity,
        alert=report.alert,
        summary=summary,
        details=report.to_json(),
        champion_version=champion.version,
    )


def estimated_reading(
    model: ModelConfig,
    champion: ModelVersion,
    bundle: ModelBundle,
    frame: pd.DataFrame,
    window: Window,
    as_of: datetime,
) -> MonitorReading | None:
    """Label-free performance of a classifier on the window's rows whose labels have not
    arrived (confidence-based, monitoring/estimation.py; accuracy alone with more than two
    classes), or None when there are too few such rows or the version has no estimator."""
    spec = (champion.profile or {}).get("estimator")
    unlabelled = frame[frame[model.target].isna()] if model.target in frame else frame
    if spec is None or len(unlabelled) < MIN_LABELLED_ROWS:
        return None
    estimator = ConfidenceEstimator.from_dict(spec)
    scores = np.asarray(bundle.prediction(unlabelled), dtype=np.float64)
    metrics = expected_metrics(estimator, scores)
    reference = estimator.reference.get("accuracy", math.nan)
    degradation = (reference - metrics["accuracy"]) / reference if reference else None
    value = metrics.get(model.metric)
    shown = f"{model.metric} {value:.4g}" if value is not None else \
        f"accuracy {metrics['accuracy']:.4g}"
    return _reading(
        model, "estimated", window, as_of,
        rows=len(unlabelled),
        score=degradation,
        severity=Severity.NONE,
        alert=False,
        summary=f"estimated {shown} on {len(unlabelled)} rows awaiting labels "
                f"(holdout accuracy {reference:.4g})",
        details={"metric": model.metric, "value": value, "metrics": metrics,
                 "reference": estimator.reference, "estimated": True},
        champion_version=champion.version,
    )


def failed_load_reading(model: ModelConfig, window: Window, as_of: datetime,
                        error: Exception) -> MonitorReading:
    return _reading(
        model, "data", window, as_of,
        rows=0,
        score=None,
        severity=Severity.HIGH,
        alert=True,
        summary=f"monitoring window could not be loaded: {error}",
    )


def fairness_reading(
    model: ModelConfig,
    champion: ModelVersion,
    bundle: ModelBundle,
    frame: pd.DataFrame,
    window: Window,
    as_of: datetime,
) -> MonitorReading | None:
    """Parity and equalised-odds gaps of the champion's decisions on the window's labelled
    rows, per ``monitors.fairness.sensitive`` column (classification models only; None for
    regression or with fewer than ``MIN_LABELLED_ROWS`` labelled rows)."""
    from retrainer.domain.metrics import Task
    from retrainer.monitoring.fairness import fairness_gaps

    cfg = model.monitors.fairness
    if model.task is not Task.CLASSIFICATION or not cfg.sensitive:
        return None
    labelled = unseen_labelled_rows(model, champion, frame)
    if len(labelled) < MIN_LABELLED_ROWS:
        return None
    scored = labelled.assign(__prediction__=bundle.predict(labelled))
    report = fairness_gaps(scored, cfg.sensitive, "__prediction__", model.target,
                           positive=cfg.positive, min_group_rows=cfg.min_group_rows,
                           max_parity_gap=cfg.max_parity_gap, max_odds_gap=cfg.max_odds_gap)
    gaps = [g for g in (report.max_parity_gap, report.max_odds_gap) if g is not None]
    violations = [v for c in report.columns.values() for v in c.violations]
    summary = "; ".join(violations) if violations else (
        f"largest parity gap {_pct(report.max_parity_gap)}, equalised-odds gap "
        f"{_pct(report.max_odds_gap)}")
    return _reading(
        model, "fairness", window, as_of, rows=len(labelled), score=max(gaps) if gaps else None,
        severity=cfg.severity if report.alert else Severity.NONE, alert=report.alert,
        summary=summary, details=report.to_json(), champion_version=champion.version,
    )


def latency_reading(model: ModelConfig, frame: pd.DataFrame, window: Window,
                    as_of: datetime) -> MonitorReading | None:
    """p50/p95/p99 of ``monitors.latency.column`` against its limits (None without it)."""
    from retrainer.monitoring.latency import latency_percentiles
    from retrainer.monitoring.profile import numeric_values

    cfg = model.monitors.latency
    if cfg.column not in frame.columns:
        return None
    limits = {k: v for k, v in (("p50", cfg.p50), ("p95", cfg.p95), ("p99", cfg.p99))
              if v is not None}
    report = latency_percentiles(numeric_values(frame[cfg.column]), limits)
    if report.count == 0:
        return None
    summary = "; ".join(report.violations) or (
        f"p50 {report.p50:.4g}, p95 {report.p95:.4g}, p99 {report.p99:.4g}")
    return _reading(
        model, "latency", window, as_of, rows=report.count, score=report.p99,
        severity=cfg.severity if report.alert else Severity.NONE, alert=report.alert,
        summary=summary, details=report.to_json(),
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"
