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
    mean_loss_difference: float | None = None  # champion loss - candidate loss; > 0 favours the candidate


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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValidationReport:
        data = dict(data)
        data["gates"] = [GateResult(**g) for g in data.get("gates", [])]
        data["test"] = StatTestResult(**data["test"]) if data.get("test") else None
        return cls(**data)
