"""Turn one monitoring window into stored readings: drift against the production version's
reference profile, and its performance on the window's labelled rows."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import pandas as pd

from retrainer.config import ModelConfig
from retrainer.domain import ModelVersion, MonitorReading, Severity, Window
from retrainer.monitoring.drift import DriftReport, detect_drift
from retrainer.monitoring.performance import evaluate_performance
from retrainer.validation.metrics import compute_metrics

if TYPE_CHECKING:
    from retrainer.training.bundle import ModelBundle

#: fewer labelled rows than this give no performance reading (the metric would be noise)
MIN_LABELLED_ROWS = 30


def drift_reading(
    model: ModelConfig,
    champion: ModelVersion,
    frame: pd.DataFrame,
    window: Window,
    as_of: datetime,
) -> MonitorReading:
    assert champion.profile is not None
    report: DriftReport = detect_drift(champion.profile, frame, model.monitors.drift)
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
    return MonitorReading(
        model=model.name,
        monitor="drift",
        as_of=as_of,
        window_start=window.start,
        window_end=window.end,
        rows=len(frame),
        score=report.drifted_share,
        severity=report.max_severity(),
        alert=bool(drifted),
        summary=summary,
        details=details,
        champion_version=champion.version,
    )


def performance_reading(
    model: ModelConfig,
    champion: ModelVersion,
    bundle: ModelBundle,
    frame: pd.DataFrame,
    window: Window,
    as_of: datetime,
) -> MonitorReading | None:
    labelled = frame.dropna(subset=[model.target])
    if len(labelled) < MIN_LABELLED_ROWS:
        return None
    current = compute_metrics(
        model.task, labelled[model.target].to_numpy(), bundle.prediction(labelled),
        classes=bundle.classes,
    )
    report = evaluate_performance(
        current, champion.metrics, model.monitors.performance, model.metric, len(labelled)
    )
    summary = (
        f"{report.metric} {report.value:.4g} vs baseline {report.baseline:.4g} "
        f"({report.degradation:+.1%} worse)"
        if report.degradation >= 0
        else f"{report.metric} {report.value:.4g} vs baseline {report.baseline:.4g} "
        f"({-report.degradation:.1%} better)"
    )
    return MonitorReading(
        model=model.name,
        monitor="performance",
        as_of=as_of,
        window_start=window.start,
        window_end=window.end,
        rows=len(labelled),
        score=report.degradation,
        severity=report.severity,
        alert=report.alert,
        summary=summary,
        details=report.to_json(),
        champion_version=champion.version,
    )


def failed_load_reading(model: ModelConfig, window: Window, as_of: datetime,
                        error: Exception) -> MonitorReading:
    return MonitorReading(
        model=model.name,
        monitor="data",
        as_of=as_of,
        window_start=window.start,
        window_end=window.end,
        rows=0,
        score=None,
        severity=Severity.HIGH,
        alert=True,
        summary=f"monitoring window could not be loaded: {error}",
    )
