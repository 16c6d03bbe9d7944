"""Fires while a model has no production version yet: its first version is trained."""

from __future__ import annotations

from retrainer.domain import TriggerDecision
from retrainer.triggers.base import TriggerContext, decision


class InitialTrigger:
    name = "initial"

    def evaluate(self, ctx: TriggerContext) -> TriggerDecision:
        if ctx.champion is None:
            return decision(ctx, self.name, True, "no production version yet")
        return decision(ctx, self.name, False, f"production is version {ctx.champion.version}")
