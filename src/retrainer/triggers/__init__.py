"""Triggers decide whether retraining is worth it; guards decide whether it may happen now."""

from __future__ import annotations

from dataclasses import dataclass, replace

from retrainer.config import ModelConfig
from retrainer.domain import JobState, TriggerDecision
from retrainer.store import Store
from retrainer.triggers.auto import AutoTrigger
from retrainer.triggers.base import Trigger, TriggerContext, decision
from retrainer.triggers.drift import DriftTrigger
from retrainer.triggers.guards import budget_hold, budget_window, cooldown_hold, debounce_hold
from retrainer.triggers.initial import InitialTrigger
from retrainer.triggers.performance import PerformanceTrigger
from retrainer.triggers.schedule import ScheduleTrigger

__all__ = [
    "Evaluation",
    "Trigger",
    "TriggerContext",
    "build_triggers",
    "decision",
    "evaluate_triggers",
    "guard_manual",
]

#: jobs that never trained do not count for cooldown and budgets
UNTRAINED = {JobState.SKIPPED}


def build_triggers(model: ModelConfig) -> list[Trigger]:
    """The model's triggers, in priority order (the first that fires names the job)."""
    triggers: list[Trigger] = [InitialTrigger()]
    if model.triggers.auto.enabled:
        triggers.append(AutoTrigger(model.triggers.auto))
    if model.triggers.performance.enabled and model.monitors.performance.enabled:
        triggers.append(PerformanceTrigger(model.triggers.performance))
    if model.triggers.drift.enabled and model.monitors.drift.enabled:
        triggers.append(DriftTrigger(model.triggers.drift))
    if model.triggers.schedule is not None:
        triggers.append(ScheduleTrigger(model.triggers.schedule))
    return triggers


@dataclass(frozen=True)
class Evaluation:
    decisions: list[TriggerDecision]  # one per trigger, with guards applied to ``fired``
    fire: bool
    trigger: str | None  # the trigger that names the job
    reason: str
    holds: list[str]  # why a met condition did not fire (debounce, cooldown, budget, active job)


def _model_holds(store: Store, ctx: TriggerContext, *, cooldown: bool) -> list[str]:
    model = ctx.model
    holds = []
    active = store.active_job(model.name)
    if active is not None:
        holds.append(f"job #{active.id} is already {active.state.value}")
    if cooldown:
        hold = cooldown_hold(model.triggers.cooldown, ctx.last_job_as_of, ctx.as_of)
        if hold:
            holds.append(hold)
    budget = model.triggers.budget
    window = budget_window(budget.period, ctx.as_of) if budget else None
    if budget is not None and window is not None:
        used = store.count_jobs(model.name, window[0], window[1], exclude=UNTRAINED)
        hold = budget_hold(budget, used, ctx.as_of)
        if hold:
            holds.append(hold)
    return holds


def evaluate_triggers(store: Store, ctx: TriggerContext) -> Evaluation:
    """Evaluate every trigger of the model, then debounce, cooldown, budget and the active job."""
    raw = [trigger.evaluate(ctx) for trigger in build_triggers(ctx.model)]
    debounced = []
    for item in raw:
        hold = None
        debounce = ctx.model.triggers.debounce_seconds
        if item.trigger != "initial" and item.condition_met and debounce > 0:
            history = store.decisions(ctx.model.name, item.trigger, limit=500, before=ctx.as_of)
            hold = debounce_hold(item, history, debounce)
        debounced.append((item, hold))
    met = [item for item, hold in debounced if item.condition_met and hold is None]
    model_holds = _model_holds(store, ctx, cooldown=True) if met else []
    final = []
    holds: list[str] = []
    for item, hold in debounced:
        if not item.condition_met:
            final.append(item)
        elif hold or model_holds:
            item_holds = [h for h in [hold, *model_holds] if h]
            holds.extend(h for h in item_holds if h not in holds)
            why = "; ".join(item_holds)
            final.append(replace(item, fired=False, reason=f"{item.reason} — held: {why}"))
        else:
            final.append(item)
    fired = [item for item in final if item.fired]
    if fired:
        return Evaluation(final, True, fired[0].trigger, "; ".join(
            f"{item.trigger}: {item.reason}" for item in fired), [])
    held = [item for item in final if item.condition_met]
    reason = "; ".join(f"{i.trigger}: {i.reason}" for i in held) if held else "no trigger fired"
    return Evaluation(final, False, None, reason, holds)


def guard_manual(store: Store, ctx: TriggerContext, *, force: bool) -> list[str]:
    """A manual request skips debounce and cooldown; budget and the active job still hold it
    unless ``force`` (an active job always holds)."""
    holds = _model_holds(store, ctx, cooldown=False)
    if force:
        holds = [h for h in holds if not h.startswith("budget")]
    return holds
