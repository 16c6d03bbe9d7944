"""Which drift methods decide for a column, at which thresholds, and their verdict.

Methods (``retrainer.yaml``: ``monitors.drift``; every one overridable per column):

============== ======================= =========================================== ==========
method         kind                    score                                       threshold
============== ======================= =========================================== ==========
ks             numeric                 KS statistic; drift when p < ``ks_alpha``   0.01
chi2           categorical             chi2 statistic; drift when p < alpha        0.01
psi            both                    population stability index                  0.25
wasserstein    numeric                 W1 / reference standard deviation           0.1
js             both                    Jensen-Shannon distance (base 2)            off
mean_shift     numeric                 ``|mean - ref| / max(|ref mean|, ref std)`` 0.25
variance_ratio numeric                 ``var / ref var`` outside ``[low, high]``   [0.5, 2]
unseen_share   categorical             share of categories the reference lacks     off
null_share     both                    ``|missing share - reference's|``           0.1
============== ======================= =========================================== ==========

``method: auto`` (the default) depends on the sample size, the column's non-null values in
the window: below ``small_sample`` (default 1,000) a p-value test decides (``ks``,
``chi2``), from there on the effect sizes with a threshold (numeric: psi, wasserstein, js,
mean_shift, variance_ratio; categorical: psi, js, unseen_share); ``null_share`` always.
Why 1,000: below it an effect size is mostly noise (the standard error of a mean shift is
``1/sqrt(n)`` standard deviations, 0.14 at 50 values) while KS at alpha 0.01 only fires on
shifts of about 0.2 standard deviations or more; above it the p-value fires on shifts too
small to matter (at a million rows a shift of 0.003 standard deviations is "significant")
and the effect sizes are precise. A column drifts when ANY of its methods does.

With a calibration (``monitoring.calibration``) each threshold becomes the larger of the
configured one and the calibrated one, so the false-alarm budget holds and effect-size
thresholds still say what size of change matters. Scores are oriented so that
``score > threshold`` is a violation (for ``variance_ratio`` the threshold is the bound on
the side of the score).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scipy.special import chdtri

from retrainer.config import ColumnDriftOverride, DriftMonitorConfig
from retrainer.exceptions import DataError
from retrainer.monitoring.ks import ks_critical_value

if TYPE_CHECKING:
    from retrainer.monitoring.calibration import Calibration

NO_OVERRIDE = ColumnDriftOverride.model_validate({})
NUMERIC = ("ks", "psi", "wasserstein", "js", "mean_shift", "variance_ratio", "null_share")
CATEGORICAL = ("chi2", "psi", "js", "unseen_share", "null_share")
NUMERIC_EFFECTS = ("psi", "wasserstein", "js", "mean_shift", "variance_ratio")
CATEGORICAL_EFFECTS = ("psi", "js", "unseen_share")

__all__ = ["CATEGORICAL", "NUMERIC", "Verdict", "judge", "methods_for", "threshold_for"]


@dataclass(frozen=True)
class Check:
    method: str
    score: float
    threshold: float  # the one used: max(configured, calibrated)
    violated: bool
    reason: str
    configured: Any  # float, or (low, high) for variance_ratio
    calibrated: float | None

    @property
    def ratio(self) -> float:
        """How far the score is towards (> 1: beyond) its threshold."""
        if self.method == "variance_ratio":  # on a log scale: 0 at a ratio of 1
            low, high = self.configured if self.calibrated is None else _widen(
                self.configured, self.calibrated)
            if self.score <= 0:
                return math.inf
            if not low < 1 < high:
                return max(self.score / high, low / self.score)
            bound = high if self.score >= 1 else low
            return math.log(self.score) / math.log(bound)
        if self.threshold > 0:
            return self.score / self.threshold
        return math.inf if self.score > 0 else 0.0


@dataclass(frozen=True)
class Verdict:
    checks: list[Check]

    @property
    def drifted(self) -> bool:
        return any(c.violated for c in self.checks)

    @property
    def headline(self) -> Check | None:
        """The most violated check, else the one closest to its threshold."""
        pool = [c for c in self.checks if c.violated] or self.checks
        return max(pool, key=lambda c: c.ratio, default=None)

    def thresholds(self) -> dict[str, dict[str, Any]]:
        return {c.method: {"configured": c.configured, "calibrated": c.calibrated,
                           "used": c.threshold} for c in self.checks}


def methods_for(name: str, kind: str, n_values: int, rules: DriftMonitorConfig) -> list[str]:
    """The methods deciding for column ``name`` with ``n_values`` non-null values.

    Raises ``DataError`` when a configured method does not apply to the column's kind or
    has no threshold.
    """
    override = rules.columns.get(name, NO_OVERRIDE)
    family = rules.numeric if kind == "numeric" else rules.categorical
    chosen = override.method if override.method is not None else family.method
    requested: list[str] = [chosen] if isinstance(chosen, str) else list(chosen)
    small = override.small_sample or rules.small_sample
    methods: list[str] = []
    for method in requested:
        if method != "auto":
            methods.append(method)
            continue
        if n_values < small:
            methods.append("ks" if kind == "numeric" else "chi2")
        else:
            effects = NUMERIC_EFFECTS if kind == "numeric" else CATEGORICAL_EFFECTS
            methods += [m for m in effects if threshold_for(name, kind, m, rules) is not None]
        if threshold_for(name, kind, "null_share", rules) is not None:
            methods.append("null_share")
    allowed = NUMERIC if kind == "numeric" else CATEGORICAL
    for method in methods:
        if method not in allowed:
            raise DataError(f"drift method {method!r} does not apply to {kind} column "
                            f"{name!r}; use one of {list(allowed)}")
        if threshold_for(name, kind, method, rules) is None:
            raise DataError(f"drift method {method!r} of column {name!r} has no threshold; "
                            f"set monitors.drift.columns.{name}.{method}")
    return list(dict.fromkeys(methods))


def threshold_for(name: str, kind: str, method: str, rules: DriftMonitorConfig) -> Any:
    """The configured threshold (alpha for ks/chi2), the column's override first."""
    override = rules.columns.get(name, NO_OVERRIDE)
    field = {"ks": "ks_alpha", "chi2": "chi2_alpha"}.get(method, method)
    value = getattr(override, field, None)
    if value is not None:
        return value
    if method == "null_share":
        return rules.null_share
    family = rules.numeric if kind == "numeric" else rules.categorical
    return getattr(family, field, None)


def judge(
    name: str,
    kind: str,
    stats: dict[str, float | None],
    n_values: int,
    rules: DriftMonitorConfig,
    calibration: Calibration | None = None,
) -> tuple[Verdict, list[str]]:
    """Evaluate every method for a column from its statistics.

    Returns the verdict and notes on methods that could not be evaluated (e.g. ``ks`` from a
    format 1 profile, which has no sketch).
    """
    checks: list[Check] = []
    notes: list[str] = []
    for method in methods_for(name, kind, n_values, rules):
        configured = threshold_for(name, kind, method, rules)
        calibrated = calibration.threshold(name, method) if calibration is not None else None
        check = _check(method, stats, configured, calibrated)
        if check is None:
            notes.append(f"{method} not computed for this column")
        else:
            checks.append(check)
    return Verdict(checks), notes


def _widen(bounds: tuple[float, float], calibrated: float) -> tuple[float, float]:
    """Variance-ratio bounds widened to the calibrated ``|log ratio|``."""
    return min(bounds[0], math.exp(-calibrated)), max(bounds[1], math.exp(calibrated))


def _check(method: str, stats: dict[str, float | None], configured: Any,
           calibrated: float | None) -> Check | None:
    def used(limit: float) -> float:
        return limit if calibrated is None else max(limit, calibrated)

    cal = "" if calibrated is None else " calibrated"
    if method == "ks":
        d, p = stats.get("ks"), stats.get("ks_pvalue")
        n_ref, n_cur = stats.get("reference_n"), stats.get("n")
        if d is None or p is None or not n_ref or not n_cur:
            return None
        limit = used(ks_critical_value(configured, int(n_ref), int(n_cur)))
        violated = p < configured and (calibrated is None or d > calibrated)
        return Check(method, d, limit, violated,
                     f"ks {d:.3g} (p {p:.3g} < alpha {configured:g}{cal})",
                     configured, calibrated)
    if method == "chi2":
        statistic, p, dof = stats.get("chi2"), stats.get("chi2_pvalue"), stats.get("chi2_dof")
        if statistic is None or p is None or dof is None:
            return None
        critical = float(chdtri(dof, configured)) if dof else math.inf
        violated = p < configured and (calibrated is None or statistic > calibrated)
        return Check(method, statistic, used(critical), violated,
                     f"chi2 {statistic:.4g} > {used(critical):.4g} "
                     f"(p {p:.3g} < alpha {configured:g}{cal})", configured, calibrated)
    if method == "variance_ratio":
        ratio = stats.get("variance_ratio")
        if ratio is None:
            return None
        low, high = configured if calibrated is None else _widen(configured, calibrated)
        return Check(method, ratio, high if ratio >= 1 else low, not low <= ratio <= high,
                     f"variance ratio {ratio:.3g} outside [{low:.3g}, {high:.3g}]{cal}",
                     tuple(configured), calibrated)
    key = {"null_share": "null_share_change"}.get(method, method)
    score = stats.get(key)
    if score is None or math.isnan(score):
        return None
    score = abs(score)
    limit = used(float(configured))
    label = {"mean_shift": "mean shift", "null_share": "missing share change",
             "unseen_share": "unseen share"}.get(method, method)
    reason = f"{label} {score:.3g} > {limit:.3g}{cal}"
    if method == "mean_shift":
        reason += (f" (mean {stats.get('mean'):.4g} vs reference "
                   f"{stats.get('reference_mean'):.4g})")
        if math.isinf(score):
            reason += " (constant reference)"
    return Check(method, score, limit, score > limit, reason, configured, calibrated)
