"""The validation report: every number that led to a promote / reject decision."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
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
    # diebold_mariano | paired_t | wilcoxon (row losses) | bootstrap | delong | cv_paired_t | none
    name: str
    statistic: float | None
    p_value: float | None
    alpha: float
    # True: H0 is rejected at alpha. H0 is "no improvement" (superiority) or "worse by at
    # least the margin" (non-inferiority)
    rejected_null: bool
    n: int  # rows (holdout tests) or folds (cv_paired_t)
    # champion loss - candidate loss: > 0 favours the candidate (row-loss tests)
    mean_loss_difference: float | None = None
    margin: float | None = None  # non-inferiority margin in the test's units (None: superiority)
    estimate: float | None = None  # the improvement the test is about, in the test's units
    # [ci_low, ci_high]: two-sided (1 - 2 alpha) interval of ``estimate``; ci_low alone is
    # its one-sided (1 - alpha) lower bound, the one the decision uses
    ci_low: float | None = None
    ci_high: float | None = None
    confidence: float | None = None  # 1 - alpha: the level of ci_low
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SliceResult:
    column: str
    value: str
    rows: int
    candidate: float | None  # the validation metric on this slice
    champion: float | None
    regression: float | None  # how much worse the candidate is (metric units; < 0: better)
    limit: float | None  # the regression allowed (metric units)
    judged: bool  # False: too few rows (or undefined metric): reported, not judged
    passed: bool


@dataclass(frozen=True)
class GateOutcome:
    """What one completed validation measured: at ``as_of`` a candidate beat (or lost to)
    a production model trained at ``champion_trained``, by ``relative_improvement``."""

    as_of: datetime
    champion_trained: datetime | None
    relative_improvement: float | None  # in the metric's good direction, 0.05 = 5% better


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
    mode: str = "superiority"  # superiority | non_inferiority
    margin: float | None = None  # non-inferiority margin (metric units) when mode says so
    trigger: str | None = None  # the job's trigger (it selects the mode)
    slices: list[SliceResult] = field(default_factory=list)
    # candidate and champion recipes on the same CV folds (cv_paired_t)
    cv: dict[str, Any] | None = None
    # metric -> {"candidate": [low, high], "champion": [low, high]}: bootstrap intervals
    metric_ci: dict[str, dict[str, list[float]]] = field(default_factory=dict)

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
        failed_slices = [s for s in self.slices if not s.passed]
        if failed_slices and self.champion_metrics is not None:
            worst = failed_slices[0]
            return f"{head}; slice {worst.column}={worst.value} regressed"
        if self.mode == "non_inferiority" and self.champion_metrics is not None:
            verdict = "not worse than production" if self.passed else "may be worse"
            test = self.test
            p = "" if test is None or test.p_value is None else f", p={test.p_value:.2g}"
            return f"{head}; {verdict} (non-inferiority margin {self.margin or 0:.3g}{p})"
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
        data["slices"] = [SliceResult(**s) for s in data.get("slices", [])]
        return cls(**data)
