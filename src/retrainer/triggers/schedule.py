"""Fires on a cron schedule or a fixed interval since the last training job.

>>> from datetime import datetime, timezone
>>> from retrainer.config import ScheduleTriggerConfig
>>> now, utc = datetime(2024, 1, 8, 12, tzinfo=timezone.utc), timezone.utc
>>> due_since(ScheduleTriggerConfig(cron="0 3 * * 1"), datetime(2024, 1, 1, 4, tzinfo=utc), now)
datetime.datetime(2024, 1, 8, 3, 0, tzinfo=datetime.timezone.utc)
>>> due_since(ScheduleTriggerConfig(every="7d"), datetime(2024, 1, 2, tzinfo=utc), now) is None
True
"""

from __future__ import annotations

from datetime import datetime

from croniter import croniter

from retrainer.clock import as_utc
from retrainer.config import ScheduleTriggerConfig, format_duration
from retrainer.domain import TriggerDecision
from retrainer.triggers.base import TriggerContext, decision


def due_since(config: ScheduleTriggerConfig, last: datetime, now: datetime) -> datetime | None:
    """The latest scheduled instant in (last, now], or None if none has passed."""
    if config.every is not None:
        due = last + config.every
        return due if due <= now else None
    assert config.cron is not None
    instant = as_utc(croniter(config.cron, now).get_prev(datetime)).replace(fold=0)
    return instant if instant > last else None


class ScheduleTrigger:
    name = "schedule"

    def __init__(self, config: ScheduleTriggerConfig):
        self.config = config

    def evaluate(self, ctx: TriggerContext) -> TriggerDecision:
        every = self.config.every
        plan = f"every {format_duration(every)}" if every is not None else str(self.config.cron)
        last = ctx.last_job_as_of
        if last is None:
            return decision(ctx, self.name, False, f"schedule {plan}: no earlier training job")
        due = due_since(self.config, last, ctx.as_of)
        evidence = {"schedule": plan, "last_job_as_of": last.isoformat()}
        if due is None:
            return decision(ctx, self.name, False, f"schedule {plan}: not due", evidence)
        evidence["due_at"] = due.isoformat()
        return decision(ctx, self.name, True, f"schedule {plan}: due at {due:%Y-%m-%d %H:%M}",
                        evidence)
