"""The validation report: every number that led to a promote / reject decision."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class GateResult:
    name: str  # e.g. "max_rmse"
    metric: str
    value: float
    limit: float
    passed: bool


@dataclass(frozen=True)
class StatTestResult:
    name: str  # paired_t | wilcoxon | diebold_mariano | none
    statistic: float | None
    p_value: float | None
    alpha: float
    rejected_null: bool  # True: "no improvement" is rejected at alpha
    n: int
    # champion loss - candidate loss: > 0 favours the candidate
    mean_loss_difference: float | None = None


@dataclass(frozen=True)
class ValidationReport:
    metric: str
    greater_is_better: bool
    candidate_metrics: dict[str, float]
    champion_metrics: dict[str, float] | None
    champion_version: str | None
    improvement: float | None  # in the metric's good direction, absolute units
    relative_improvement: float | None
    min_improvement: float
    min_improvement_relative: bool
    test: StatTestResult | None
    gates: list[GateResult]
    holdout_rows: int
    holdout_start: str
    holdout_end: str
    passed: bool
    reasons: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One line with the decisive numbers: what passed, or the first check that failed."""
        cand = self.candidate_metrics.get(self.metric, float("nan"))
        failed_gates = [g for g in self.gates if not g.passed]
        if self.champion_metrics is None:
            head = f"{self.metric} {cand:.4g}, no production model to compare"
        else:
            champ = self.champion_metrics.get(self.metric, float("nan"))
            head = f"{self.metric} {cand:.4g} vs {champ:.4g}"
            rel = self.relative_improvement
            if rel is not None:
                head += f" ({abs(rel):.1%} {'better' if rel >= 0 else 'worse'})"
        if failed_gates:
            gate = failed_gates[0]
            return f"{head}; gate {gate.name} failed ({gate.value:.4g} vs limit {gate.limit:g})"
        if self.champion_metrics is None or self.passed:
            if self.test is not None and self.test.p_value is not None:
                head += f", p={self.test.p_value:.2g}"
            return head
        required = (f"{self.min_improvement:.1%}" if self.min_improvement_relative
                    else f"{self.min_improvement:g}")
        achieved = (self.relative_improvement if self.min_improvement_relative
                    else self.improvement)
        if achieved is None or achieved < self.min_improvement:
            return f"{head}; needs {required} better"
        if self.test is not None and not self.test.rejected_null:
            return f"{head}; not significant (p={self.test.p_value:.2g} >= {self.test.alpha:g})"
        return head

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValidationReport:
        data = dict(data)
        data["gates"] = [GateResult(**g) for g in data.get("gates", [])]
        data["test"] = StatTestResult(**data["test"]) if data.get("test") else None
        return cls(**data)
