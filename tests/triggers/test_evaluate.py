"""Triggers plus guards against a real store."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from retrainer.config import parse_config
from retrainer.domain import ModelVersion, MonitorReading, Severity
from retrainer.store import Store
from retrainer.triggers import TriggerContext, evaluate_triggers

T0 = datetime(2024, 6, 3, tzinfo=UTC)


def model_config(**triggers: object):  # type: ignore[no-untyped-def]
    return parse_config({"models": [{
        "name": "m", "source": {"kind": "csv", "path": "x.csv"}, "time_column": "t",
        "target": "y", "task": "regression", "triggers": triggers,
    }]}).models[0]


def champion() -> ModelVersion:
    return ModelVersion("m", "1", None, None, "file:///x", "0" * 64, "champion", {"rmse": 1.0},
                        T0)


def drift(share: float, drifted: list[str], severity: str = "warning") -> MonitorReading:
    columns = {c: {"severity": severity} for c in drifted} | {"quiet": {"severity": "none"}}
    verdict = {"dataset_drift": bool(drifted) and share >= 0.3, "dataset_share": 0.3,
               "weighted_share": share, "weighting": "uniform"}
    return MonitorReading("m", "drift", T0, T0 - timedelta(days=7), T0, 100, share,
                          Severity(severity), bool(drifted), "s",
                          {"columns": columns, "drifted_columns": drifted, **verdict})


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 's.db'}")


def test_initial_trigger_fires_without_a_champion(store: Store) -> None:
    ctx = TriggerContext(model_config(), T0, None)
    result = evaluate_triggers(store, ctx)
    assert result.fire and result.trigger == "initial"


def test_auto_is_the_default_and_drift_or_performance_fire_only_where_written(
    store: Store,
) -> None:
    flagged = {"drift": drift(0.9, ["a", "b"], "critical")}
    month_old = T0 - timedelta(days=40)  # past auto's 31.6 days at the default cost model
    default = evaluate_triggers(store, TriggerContext(model_config(), T0, champion(), flagged,
                                                      last_job_as_of=T0 - timedelta(days=5)))
    assert not default.fire
    assert [d.trigger for d in default.decisions] == ["initial", "auto"]
    due = evaluate_triggers(store, TriggerContext(model_config(), T0, champion(), flagged,
                                                  last_job_as_of=month_old))
    assert due.fire and due.trigger == "auto" and "due at 31.6 days" in due.reason

    written = model_config(drift={}, auto={"enabled": False})
    result = evaluate_triggers(store, TriggerContext(written, T0, champion(), flagged,
                                                     last_job_as_of=T0 - timedelta(days=5)))
    assert result.fire and result.trigger == "drift"
    assert [d.trigger for d in result.decisions] == ["initial", "drift"]


def test_drift_fires_on_share_and_on_a_critical_column(store: Store) -> None:
    model = model_config(drift={"min_drifted_share": 0.5})
    low = evaluate_triggers(
        store, TriggerContext(model, T0, champion(), {"drift": drift(0.25, ["a"])})
    )
    assert not low.fire
    high = evaluate_triggers(store, TriggerContext(model, T0, champion(),
                                                  {"drift": drift(0.6, ["a", "b"])}))
    assert high.fire and high.trigger == "drift"
    critical = evaluate_triggers(store, TriggerContext(
        model, T0, champion(), {"drift": drift(0.1, ["a"], "critical")}))
    assert critical.fire and "critical" in critical.reason


def test_cooldown_holds_a_met_condition_and_says_why(store: Store) -> None:
    model = model_config(drift={}, cooldown="30d")
    ctx = TriggerContext(model, T0, champion(), {"drift": drift(0.9, ["a", "b"])},
                         last_job_as_of=T0 - timedelta(days=3))
    result = evaluate_triggers(store, ctx)
    assert not result.fire
    drift_decision = next(d for d in result.decisions if d.trigger == "drift")
    assert drift_decision.condition_met and not drift_decision.fired
    assert "cooldown" in drift_decision.reason


def test_active_job_holds_a_new_one(store: Store) -> None:
    store.create_job("m", trigger="drift", reason="r", as_of=T0, config={}, max_attempts=1)
    ctx = TriggerContext(model_config(drift={}), T0, champion(), {"drift": drift(0.9, ["a", "b"])})
    result = evaluate_triggers(store, ctx)
    assert not result.fire and "already queued" in result.reason


def test_debounce_uses_stored_decision_history(store: Store) -> None:
    model = model_config(drift={}, debounce_seconds=3 * 3600)
    for hours in (0, 1, 2, 3):
        at = T0 + timedelta(hours=hours)
        reading = drift(0.9, ["a", "b"])
        result = evaluate_triggers(store, TriggerContext(model, at, champion(), {"drift": reading}))
        for decision in result.decisions:
            store.add_decision(decision)
        assert result.fire is (hours == 3), hours


def test_budget_counts_jobs_in_the_period(store: Store) -> None:
    model = model_config(drift={}, budget={"max_retrains": 1, "period": "7d"})
    job = store.create_job("m", trigger="drift", reason="r", as_of=T0 - timedelta(days=1),
                           config={}, max_attempts=1)
    store.claim(job.id)
    store.transition(job.id, job.state.FAILED, attempt=1)
    result = evaluate_triggers(store, TriggerContext(model, T0, champion(),
                                                    {"drift": drift(0.9, ["a", "b"])}))
    assert not result.fire and "budget: 1 of 1" in result.reason


@pytest.mark.parametrize(
    ("schedule", "last_days_ago", "fires"),
    [
        ({"every": "30d"}, 31, True),
        ({"every": "30d"}, 29, False),
        ({"cron": "0 3 * * 1"}, 8, True),  # a Monday 03:00 passed since the last job
        ({"cron": "0 3 1 1 *"}, 8, False),  # next due on 1 January
    ],
)
def test_schedule_trigger(store: Store, schedule: dict[str, str], last_days_ago: int,
                          fires: bool) -> None:
    model = model_config(schedule=schedule)
    ctx = TriggerContext(model, T0, champion(), {},
                         last_job_as_of=T0 - timedelta(days=last_days_ago))
    result = evaluate_triggers(store, ctx)
    assert result.fire is fires
    if fires:
        assert result.trigger == "schedule"


def test_schedule_reason_shows_the_interval_as_configured(store: Store) -> None:
    ctx = TriggerContext(model_config(schedule={"every": "36h"}), T0, champion(), {},
                         last_job_as_of=T0 - timedelta(days=1))
    reasons = {d.trigger: d.reason for d in evaluate_triggers(store, ctx).decisions}
    assert reasons["schedule"] == "schedule every 36h: not due"


def test_drift_trigger_follows_the_monitors_dataset_verdict_by_default(store: Store) -> None:
    model = model_config(drift={})  # no min_drifted_share: the monitor's verdict decides
    reading = drift(0.9, ["a", "b"])
    ignored = replace(reading, details={**reading.details, "dataset_drift": False,
                                        "dataset_share": 0.3, "weighted_share": 0.05,
                                        "weighting": "importance"})
    result = evaluate_triggers(store, TriggerContext(model, T0, champion(), {"drift": ignored}))
    assert not result.fire, "columns the model ignores must not fire a retrain by themselves"
    verdict = replace(ignored, details={**ignored.details, "dataset_drift": True,
                                        "weighted_share": 0.6})
    result = evaluate_triggers(store, TriggerContext(model, T0, champion(), {"drift": verdict}))
    assert result.fire and "60% by importance" in result.reason


def with_target(reading: MonitorReading, drifted: bool) -> MonitorReading:
    target = {"column": "y", "kind": "numeric", "method": "psi", "threshold": 0.25,
              "score": 0.62 if drifted else 0.05, "drifted": drifted,
              "severity": "warning" if drifted else "none", "stats": {}, "thresholds": {},
              "reasons": ["psi 0.62 > 0.25"] if drifted else []}
    return replace(reading, details={**reading.details, "target": target})


def test_a_drifted_target_fires_the_drift_trigger_on_its_own(store: Store) -> None:
    quiet = drift(0.0, [])
    steady = evaluate_triggers(store, TriggerContext(
        model_config(drift={}), T0, champion(), {"drift": with_target(quiet, drifted=False)}))
    assert not steady.fire
    decision = next(d for d in steady.decisions if d.trigger == "drift")
    assert decision.evidence["target_drift"]["drifted"] is False

    shifted = {"drift": with_target(quiet, drifted=True)}
    result = evaluate_triggers(store, TriggerContext(model_config(drift={}), T0, champion(),
                                                     shifted))
    assert result.fire and result.trigger == "drift"
    assert "target y drifted (psi 0.62)" in result.reason
    fired = next(d for d in result.decisions if d.trigger == "drift")
    assert fired.evidence["target_drift"]["column"] == "y"
    assert fired.evidence["drifted_columns"] == []

    off = model_config(drift={"on_target_drift": False})
    held = evaluate_triggers(store, TriggerContext(off, T0, champion(), shifted))
    assert not held.fire
    assert "target" not in next(d for d in held.decisions if d.trigger == "drift").reason


def test_an_old_reading_without_a_target_entry_still_decides(store: Store) -> None:
    result = evaluate_triggers(store, TriggerContext(model_config(drift={}), T0, champion(),
                                                     {"drift": drift(0.1, ["a"])}))
    assert not result.fire
    decision = next(d for d in result.decisions if d.trigger == "drift")
    assert decision.evidence["target_drift"] is None
