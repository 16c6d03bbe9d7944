"""The promotion gate: candidate vs production on the same holdout rows.

Rules, all recorded in the report with their numbers:

* absolute gates (``validation.gates``: ``max_<metric>`` / ``min_<metric>``) always apply;
* without a champion (first production version) the candidate passes when every gate passes;
* with a champion it must also improve the validation metric by at least ``min_improvement``
  (metric units, or relative with '%') and the paired test on the metric's row losses must
  reject "no improvement" at ``alpha`` (unless ``test: none``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from retrainer.config import ModelConfig
from retrainer.domain.metrics import METRICS, MetricSpec
from retrainer.domain.validation import GateResult, StatTestResult, ValidationReport
from retrainer.validation.metrics import compute_metrics, row_losses
from retrainer.validation.stats import run_test

TEST_NAMES = {
    "diebold_mariano": "Diebold-Mariano",
    "paired_t": "paired t-test",
    "wilcoxon": "Wilcoxon signed-rank",
}


def _num(value: float) -> str:
    """Four significant digits, no exponent for everyday magnitudes."""
    return f"{value:.4g}"


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.3g}%"


def check_gates(gates: dict[str, float], metrics: dict[str, float]) -> list[GateResult]:
    """Evaluate ``max_<metric>`` / ``min_<metric>`` limits; an undefined (NaN) value fails.

    >>> [g.passed for g in check_gates({"max_rmse": 25, "min_r2": 0.9}, {"rmse": 21.3, "r2": 0.8})]
    [True, False]
    """
    results = []
    for name, limit in gates.items():
        kind, _, metric = name.partition("_")
        value = float(metrics[metric])
        ok = not math.isnan(value) and (value <= limit if kind == "max" else value >= limit)
        results.append(GateResult(name, metric, value, float(limit), ok))
    return results


def _gate_reason(gate: GateResult) -> str:
    sign = (
        ("≤" if gate.name.startswith("max") else "≥")
        if gate.passed
        else (">" if gate.name.startswith("max") else "<")
    )
    verdict = "passed" if gate.passed else "failed"
    return f"gate {gate.name}: {_num(gate.value)} {sign} {_num(gate.limit)} ({verdict})"


def _test_reason(test: StatTestResult) -> str:
    label = TEST_NAMES.get(test.name, test.name)
    if test.p_value is None:
        return "no statistical test configured (validation.test: none)"
    p = f"{test.p_value:.3g}"
    if test.rejected_null:
        return f"{label} p={p} < {test.alpha:g}: the improvement is significant (n={test.n})"
    return f"{label} p={p} ≥ {test.alpha:g}: the improvement could be noise (n={test.n})"


def _improvement(
    spec: MetricSpec, candidate: float, champion: float, model: ModelConfig
) -> tuple[float | None, float | None, bool, str]:
    """(absolute improvement, relative improvement, requirement met, reason)."""
    cfg = model.validation
    required = cfg.min_improvement_value
    name = spec.name
    if math.isnan(candidate) or math.isnan(champion):
        return (
            None,
            None,
            False,
            (
                f"{name} is undefined on this holdout (candidate {_num(candidate)}, champion "
                f"{_num(champion)}): cannot show an improvement"
            ),
        )
    absolute = spec.better(candidate, champion)
    relative = absolute / abs(champion) if champion != 0 else None
    head = f"{name} {_num(candidate)} vs {_num(champion)}"
    if cfg.min_improvement_relative:
        if relative is None:
            return (
                absolute,
                None,
                False,
                (f"{head}: relative improvement undefined (champion {name} is 0)"),
            )
        ok = relative >= required
        rel = "≥" if ok else "<"
        return (
            absolute,
            relative,
            ok,
            (f"{head}: improvement {_pct(relative)} {rel} required {_pct(required)}"),
        )
    ok = absolute >= required
    rel = "≥" if ok else "<"
    text = f"{head}: improvement {_num(absolute)}"
    if relative is not None:
        text += f" ({_pct(relative)})"
    return absolute, relative, ok, f"{text} {rel} required {_num(required)}"


def evaluate_candidate(
    *,
    model: ModelConfig,
    y_true: Any,
    candidate_prediction: Any,
    champion_prediction: Any | None,
    champion_version: str | None,
    holdout_start: str,
    holdout_end: str,
    classes: Any = None,
) -> ValidationReport:
    """Decide whether the candidate may replace the champion; explain every check.

    Both predictions must be for the same ``y_true`` rows (the holdout). Without champion
    predictions (no champion yet, or one that could not score the holdout) only the absolute
    gates decide. Raises ValidationError when the inputs cannot be scored (shape or label
    mismatch).
    """
    cfg = model.validation
    spec = METRICS[model.metric]
    task = model.task
    y = np.asarray(y_true)
    classes_list = None if classes is None else list(classes)
    candidate_metrics = compute_metrics(task, y, candidate_prediction, classes_list)
    gates = check_gates(cfg.gates, candidate_metrics)
    reasons = [_gate_reason(g) for g in gates]
    gates_ok = all(g.passed for g in gates)

    champion_metrics = None
    improvement = relative = None
    test: StatTestResult | None = None
    if champion_prediction is None:
        passed = gates_ok
        who = (
            "no production model: first version"
            if champion_version is None
            else f"no champion predictions (version {champion_version} not scored)"
        )
        value = _num(candidate_metrics[model.metric])
        reasons.insert(0, f"{who} judged on absolute gates only ({model.metric} {value})")
        if not gates:
            reasons.append("no absolute gates configured (validation.gates)")
    else:
        champion_metrics = compute_metrics(task, y, champion_prediction, classes_list)
        improvement, relative, improved, text = _improvement(
            spec, candidate_metrics[model.metric], champion_metrics[model.metric], model
        )
        reasons.insert(0, text)
        test = run_test(
            cfg.test,
            row_losses(spec.row_loss, y, champion_prediction, classes_list),
            row_losses(spec.row_loss, y, candidate_prediction, classes_list),
            cfg.alpha,
        )
        reasons.insert(1, _test_reason(test))
        significant = cfg.test == "none" or test.rejected_null
        passed = gates_ok and improved and significant

    failed = [g.name for g in gates if not g.passed]
    verdict = "passed" if passed else "rejected"
    if failed:
        verdict += f" (failed gates: {', '.join(failed)})"
    reasons.append(f"verdict: {verdict}")
    return ValidationReport(
        metric=model.metric,
        greater_is_better=spec.greater_is_better,
        candidate_metrics=candidate_metrics,
        champion_metrics=champion_metrics,
        champion_version=champion_version,
        improvement=improvement,
        relative_improvement=relative,
        min_improvement=cfg.min_improvement_value,
        min_improvement_relative=cfg.min_improvement_relative,
        test=test,
        gates=gates,
        holdout_rows=len(y),
        holdout_start=holdout_start,
        holdout_end=holdout_end,
        passed=passed,
        reasons=reasons,
        extra={"row_loss": spec.row_loss, "task": str(task)},
    )
