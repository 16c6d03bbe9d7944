"""Debounce, cooldown and budget: applied to every trigger's decision in one place.

Each guard returns None when it lets a decision through, or the reason it holds it back.

>>> from datetime import datetime, timedelta, timezone
>>> saturday = datetime(2024, 6, 8, 10, tzinfo=timezone.utc)
>>> [d.strftime("%a %d") for d in budget_window("weekend", saturday)]
['Sat 08', 'Mon 10']
>>> budget_window("weekend", saturday - timedelta(days=2)) is None
True
>>> cooldown_hold(timedelta(days=30), saturday - timedelta(days=3), saturday)
'cooldown 30d until 2024-07-05 10:00 (last training job 2024-06-05)'
"""

from __future__ import annotations

from datetime import datetime, timedelta

from retrainer.config import BudgetConfig, format_duration
from retrainer.domain import TriggerDecision


def debounce_hold(
    current: TriggerDecision, history: list[TriggerDecision], debounce_seconds: float
) -> str | None:
    """Hold until the condition has been met continuously for ``debounce_seconds``.

    ``history`` holds this trigger's earlier decisions, newest first.
    """
    if not current.condition_met or debounce_seconds <= 0:
        return None
    since = current.as_of
    for earlier in history:
        if not earlier.condition_met:
            break
        since = earlier.as_of
    held_for = (current.as_of - since).total_seconds()
    if held_for >= debounce_seconds:
        return None
    return (
        f"debounce: condition met for {held_for:.0f}s of {debounce_seconds:.0f}s "
        f"(since {since:%Y-%m-%d %H:%M})"
    )


def cooldown_hold(
    cooldown: timedelta, last_job_as_of: datetime | None, as_of: datetime
) -> str | None:
    if not cooldown or last_job_as_of is None:
        return None
    allowed = last_job_as_of + cooldown
    if as_of >= allowed:
        return None
    return (
        f"cooldown {format_duration(cooldown)} until {allowed:%Y-%m-%d %H:%M} "
        f"(last training job {last_job_as_of:%Y-%m-%d})"
    )


def budget_window(period: str | timedelta, as_of: datetime) -> tuple[datetime, datetime] | None:
    """The [start, end) the budget counts over at ``as_of``; None when it does not apply."""
    if isinstance(period, timedelta):
        return as_of - period, as_of + timedelta(microseconds=1)
    midnight = as_of.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return midnight, midnight + timedelta(days=1)
    if period == "week":
        start = midnight - timedelta(days=as_of.weekday())
        return start, start + timedelta(days=7)
    if period == "month":
        start = midnight.replace(day=1)
        return start, (start + timedelta(days=32)).replace(day=1)
    if period == "weekend":
        if as_of.weekday() < 5:
            return None
        start = midnight - timedelta(days=as_of.weekday() - 5)
        return start, start + timedelta(days=2)
    raise ValueError(f"unknown budget period {period!r}")


def budget_hold(budget: BudgetConfig | None, used: int, as_of: datetime) -> str | None:
    if budget is None or budget_window(budget.period, as_of) is None:
        return None
    if used < budget.max_retrains:
        return None
    period = budget.period if isinstance(budget.period, str) else format_duration(budget.period)
    return f"budget: {used} of {budget.max_retrains} retrains used per {period}"
