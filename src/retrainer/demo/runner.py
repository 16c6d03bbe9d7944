"""``retrainer demo``: five years of Beijing PM2.5 replayed month by month through the real
orchestrator, store, executor and MLflow on a simulated clock."""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from retrainer import orchestrator
from retrainer.clock import SimulatedClock
from retrainer.config import Settings, load_config
from retrainer.demo.dataset import load_beijing
from retrainer.exceptions import UsageError
from retrainer.orchestrator import TickReport
from retrainer.runtime import Runtime, build_runtime

MARKER = ".retrainer-demo"
MODEL = "pm25"
START = datetime(2010, 7, 1, tzinfo=UTC)
END = datetime(2015, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class MonthRow:
    as_of: datetime
    production: str | None  # version serving during the month just ended
    production_rmse: float | None
    drift_share: float | None
    decision: str
    outcome: str
    version_after: str | None


def prepare(output: Path) -> Path:
    """Make ``output`` a fresh retrainer project: config, data, nothing else."""
    if output.exists() and any(output.iterdir()):
        if not (output / MARKER).exists():
            raise UsageError(f"{output} is not empty and was not made by 'retrainer demo'")
        shutil.rmtree(output)
    (output / "data").mkdir(parents=True)
    (output / MARKER).write_text("made by retrainer demo\n")
    config = resources.files("retrainer.demo").joinpath("retrainer.yaml").read_text()
    (output / "retrainer.yaml").write_text(config)
    readme = resources.files("retrainer.demo").joinpath("data", "README.md").read_text()
    (output / "data" / "README.md").write_text(readme)
    frame = load_beijing()
    frame.to_csv(output / "data" / "beijing_pm25.csv", index=False)
    return output / "retrainer.yaml"


def month_row(rt: Runtime, report: TickReport) -> MonthRow:
    tick = report.models[0]
    perf = tick.readings.get("performance")
    drift = tick.readings.get("drift")
    outcome = report.outcome_for(MODEL)
    evaluation = tick.evaluation
    if evaluation is not None and evaluation.fire:
        decision = f"retrain ({evaluation.trigger})"
    elif evaluation is not None and evaluation.holds:
        decision = "held: " + evaluation.holds[0].split(" (")[0]
    else:
        decision = "-"
    result = "-"
    if outcome is not None:
        result = outcome.state.value + (f" v{outcome.version}" if outcome.version else "")
        validation = rt.store.report(outcome.job_id)
        result += f": {validation.summary()}" if validation else f": {outcome.reason}"
    elif tick.job is not None:
        result = f"{tick.job.state.value}: {tick.job.state_reason or ''}"
    return MonthRow(
        as_of=report.as_of,
        production=tick.champion,
        production_rmse=perf.details.get("value") if perf else None,
        drift_share=drift.score if drift else None,
        decision=decision,
        outcome=result,
        version_after=(rt.store.champion_pointer(MODEL) or (None,))[0],
    )


def run_demo(
    output: Path,
    *,
    start: datetime = START,
    end: datetime = END,
    on_month: Callable[[MonthRow, int, int], None] | None = None,
) -> dict[str, Any]:
    """Replay ``start``..``end`` monthly; returns (and writes) ``output/summary.json``."""
    began = time.monotonic()
    config_path = prepare(output)
    config = load_config(config_path)
    clock = SimulatedClock(start)
    # the demo never follows RETRAINER_* overrides: it must not touch a real store
    settings = Settings(config=config_path, state_store_url=None, mlflow_tracking_uri=None)
    rt = build_runtime(config, settings, clock=clock)
    months = list(pd.date_range(start, end, freq="MS", inclusive="left"))
    rows: list[MonthRow] = []
    fired: Counter[str] = Counter()
    try:
        for index, month in enumerate(months):
            clock.set(month.to_pydatetime())
            report = orchestrator.tick(rt, isolate=False)
            evaluation = report.models[0].evaluation
            if evaluation and evaluation.fire and evaluation.trigger:
                fired[evaluation.trigger] += 1
            row = month_row(rt, report)
            rows.append(row)
            if on_month:
                on_month(row, index + 1, len(months))
        jobs = rt.store.list_jobs(MODEL, limit=10_000)
        promotions = [p for p in rt.store.promotions(MODEL, limit=10_000) if p.kind == "promote"]
        summary = {
            "ticks": len(months),
            "start": start.isoformat(),
            "end": end.isoformat(),
            "triggers_fired": sum(fired.values()),
            "triggers_fired_by": dict(fired),
            "jobs": dict(Counter(job.state.value for job in jobs)),
            "promotions": len(promotions),
            "rejections": sum(1 for job in jobs if job.state.value == "rejected"),
            "champion_version": (rt.store.champion_pointer(MODEL) or (None,))[0],
            "mlflow_tracking_uri": rt.tracking_uri,
            "state_store_url": rt.store.safe_url,
            "seconds": round(time.monotonic() - began, 1),
            "months": [
                {**row.__dict__, "as_of": row.as_of.isoformat()} for row in rows
            ],
        }
    finally:
        rt.close()
    (output / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
