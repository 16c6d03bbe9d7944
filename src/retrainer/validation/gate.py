"""The promotion gate: candidate vs production on the same holdout rows.

Rules, all recorded in the report with their numbers:

* absolute gates (``validation.gates``: ``max_<metric>`` / ``min_<metric>``) always apply;
* without a champion (first production version) the candidate passes when every gate passes;
* with a champion, in **superiority** mode (the default) it must also improve the validation
  metric by at least ``min_improvement`` (metric units, or relative with '%') and the
  configured test must reject "no improvement" at ``alpha`` (unless ``test: none``);
* in **non-inferiority** mode (``validation.non_inferiority``, for jobs started by the listed
  triggers, e.g. scheduled refreshes) it must instead not be worse than the champion by the
  margin or more: the point estimate stays above ``-margin`` and the test rejects "worse by at
  least the margin" at ``alpha``;
* with ``validation.slices``, no slice of the holdout may regress by more than its margin.

The report also carries bootstrap intervals of every holdout metric (``metric_ci``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from retrainer.config import ModelConfig, amount_value
from retrainer.domain.metrics import METRICS, MetricSpec
from retrainer.domain.validation import GateResult, SliceResult, StatTestResult, ValidationReport
from retrainer.exceptions import DataError
from retrainer.validation.bootstrap import metric_intervals
from retrainer.validation.compare import compare, tested_loss
from retrainer.validation.metrics import compute_metrics, widen
from retrainer.validation.slices import check_slices

TEST_NAMES = {
    "diebold_mariano": "Diebold-Mariano",
    "paired_t": "paired t-test",
    "wilcoxon": "Wilcoxon signed-rank",
    "bootstrap": "paired block bootstrap",
    "delong": "DeLong",
    "cv_paired_t": "paired t-test over CV folds",
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


def _test_reason(test: StatTestResult, non_inferiority: bool = False) -> str:
    label = TEST_NAMES.get(test.name, test.name)
    if test.p_value is None:
        return "no statistical test configured (validation.test: none)"
    p = f"{test.p_value:.3g}"
    n = f"n={test.n}" + (" folds" if test.name == "cv_paired_t" else "")
    if test.ci_low is not None and test.ci_high is not None and test.confidence is not None:
        n += (f"; improvement {_num(test.estimate or 0.0)}, "
              f"{test.confidence:.0%} lower bound {_num(test.ci_low)}")
    if non_inferiority:
        if test.rejected_null:
            return f"{label} p={p} < {test.alpha:g}: not worse than production by the margin ({n})"
        return f"{label} p={p} ≥ {test.alpha:g}: could be worse than production by the margin ({n})"
    if test.rejected_null:
        return f"{label} p={p} < {test.alpha:g}: the improvement is significant ({n})"
    return f"{label} p={p} ≥ {test.alpha:g}: the improvement could be noise ({n})"


def _slice_reason(results: list[SliceResult]) -> str:
    judged = [r for r in results if r.judged]
    failed = [r for r in judged if not r.passed]
    column = results[0].column
    if failed:
        worst = max(failed, key=lambda r: r.regression or 0.0)
        return (f"slice {column}={worst.value}: {_num(worst.candidate or math.nan)} vs "
                f"{_num(worst.champion or math.nan)}, worse by {_num(worst.regression or 0.0)} "
                f"> allowed {_num(worst.limit or 0.0)} ({len(failed)} of {len(judged)} "
                "slices regressed)")
    return f"slices by {column}: none of {len(judged)} judged regressed beyond the margin" + (
        f" ({len(results) - len(judged)} too small to judge)" if len(judged) < len(results)
        else "")


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
    trigger: str | None = None,
    slice_values: dict[str, Any] | None = None,
    cv: dict[str, Any] | None = None,
    champion_classes: Any = None,
) -> ValidationReport:
    """Decide whether the candidate may replace the champion; explain every check.

    Both predictions must be for the same ``y_true`` rows (the holdout). Without champion
    predictions (no champion yet, or one that could not score the holdout) only the absolute
    gates decide. ``trigger`` selects non-inferiority mode; ``slice_values`` maps each
    ``validation.slices`` column to its holdout values; ``cv`` holds both recipes' CV fold
    scores (``cv_paired_t``). A champion that knows other classes than the candidate
    (``champion_classes``) is scored with it over all of them; a class a model never saw gets
    probability 0. Raises ValidationError when the inputs cannot be scored (shape mismatch, a
    test that does not fit the model) and DataError for a missing slice column.
    """
    cfg = model.validation
    spec = METRICS[model.metric]
    task = model.task
    y = np.asarray(y_true)
    classes_list = None if classes is None else list(classes)
    if (champion_prediction is not None and classes_list is not None
            and champion_classes is not None and list(champion_classes) != classes_list):
        both = [*classes_list, *(c for c in champion_classes if c not in set(classes_list))]
        candidate_prediction = widen(candidate_prediction, classes_list, both)
        champion_prediction = widen(champion_prediction, list(champion_classes), both)
        classes_list = both
    candidate_metrics = compute_metrics(task, y, candidate_prediction, classes_list)
    gates = check_gates(cfg.gates, candidate_metrics)
    reasons = [_gate_reason(g) for g in gates]
    gates_ok = all(g.passed for g in gates)
    ni = cfg.non_inferiority
    mode = "non_inferiority" if ni is not None and trigger in ni.triggers else "superiority"

    champion_metrics = None
    improvement = relative = margin = None
    test: StatTestResult | None = None
    slices: list[SliceResult] = []
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
        cand_value = candidate_metrics[model.metric]
        champ_value = champion_metrics[model.metric]
        improvement, relative, improved, text = _improvement(spec, cand_value, champ_value, model)
        if mode == "non_inferiority":
            assert ni is not None
            amount, is_relative = amount_value(ni.margin)
            margin = amount * abs(champ_value) if is_relative else amount
            improved = improvement is not None and improvement > -margin
            text = (f"{model.metric} {_num(cand_value)} vs {_num(champ_value)} "
                    f"(non-inferiority for {trigger} jobs): "
                    f"{'within' if improved else 'outside'} the margin {_num(margin)}")
        reasons.insert(0, text)
        test = compare(model, y, candidate_prediction, champion_prediction, champ_value,
                       margin=margin or 0.0, classes=classes_list, cv=cv)
        reasons.insert(1, _test_reason(test, mode == "non_inferiority"))
        significant = cfg.test == "none" or test.rejected_null
        for check in cfg.slices:
            if slice_values is None or check.column not in slice_values:
                raise DataError(f"slice column {check.column!r} is not in the data")
            found = check_slices(check, slice_values[check.column], model.metric, y,
                                 candidate_prediction, champion_prediction, classes_list)
            if found:
                slices.extend(found)
                reasons.append(_slice_reason(found))
        slices_ok = all(s.passed for s in slices)
        passed = gates_ok and improved and significant and slices_ok

    intervals: dict[str, dict[str, list[float]]] = {}
    if cfg.metric_ci:
        boot = cfg.bootstrap
        for who, prediction in (("candidate", candidate_prediction),
                                ("champion", champion_prediction)):
            if prediction is not None:
                ci = metric_intervals(task, y, prediction, classes=classes_list,
                                         resamples=boot.resamples,
                                         block_length=boot.block_length, seed=boot.seed)
                for name, interval in ci.items():
                    intervals.setdefault(name, {})[who] = interval

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
        extra={"row_loss": tested_loss(model), "task": str(task)},
        mode=mode,
        margin=margin,
        trigger=trigger,
        slices=slices,
        cv=cv,
        metric_ci=intervals,
    )
