from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from retrainer.config import BudgetConfig
from retrainer.domain import TriggerDecision
from retrainer.triggers.guards import budget_hold, budget_window, cooldown_hold, debounce_hold

T0 = datetime(2024, 6, 3, 12, tzinfo=UTC)  # a Monday


def dec(at: datetime, met: bool) -> TriggerDecision:
    return TriggerDecision("m", "drift", at, met, met, "r")


def test_debounce_holds_until_the_condition_has_lasted_long_enough() -> None:
    history = [dec(T0 - timedelta(hours=1), True), dec(T0 - timedelta(hours=2), False)]
    assert debounce_hold(dec(T0, True), history, 3600) is None
    held = debounce_hold(dec(T0, True), history, 7200)
    assert held is not None and "3600s" in held
    # a break in the streak restarts the clock
    assert debounce_hold(dec(T0, True), [dec(T0 - timedelta(hours=5), False)], 1) is not None
    assert debounce_hold(dec(T0, False), history, 7200) is None


def test_cooldown() -> None:
    assert cooldown_hold(timedelta(days=7), T0 - timedelta(days=8), T0) is None
    held = cooldown_hold(timedelta(days=7), T0 - timedelta(days=2), T0)
    assert held is not None and "until 2024-06-08 12:00" in held
    assert cooldown_hold(timedelta(0), T0, T0) is None
    assert cooldown_hold(timedelta(days=7), None, T0) is None


@pytest.mark.parametrize(
    ("period", "at", "start", "end"),
    [
        ("day", T0, datetime(2024, 6, 3, tzinfo=UTC), datetime(2024, 6, 4, tzinfo=UTC)),
        ("week", T0 + timedelta(days=3), datetime(2024, 6, 3, tzinfo=UTC),
         datetime(2024, 6, 10, tzinfo=UTC)),
        ("month", T0, datetime(2024, 6, 1, tzinfo=UTC), datetime(2024, 7, 1, tzinfo=UTC)),
        ("weekend", T0 + timedelta(days=6), datetime(2024, 6, 8, tzinfo=UTC),
         datetime(2024, 6, 10, tzinfo=UTC)),
    ],
)
def test_budget_windows(period: str, at: datetime, start: datetime, end: datetime) -> None:
    assert budget_window(period, at) == (start, end)


def test_weekend_budget_only_applies_on_weekends() -> None:
    budget = BudgetConfig(max_retrains=2, period="weekend")
    saturday = T0 + timedelta(days=5)
    assert budget_hold(budget, 5, T0) is None  # Monday: not budgeted
    assert budget_hold(budget, 1, saturday) is None
    held = budget_hold(budget, 2, saturday)
    assert held is not None and "2 of 2" in held


def test_rolling_budget_window() -> None:
    start, end = budget_window(timedelta(days=30), T0)  # type: ignore[misc]
    assert start == T0 - timedelta(days=30) and end > T0
