"""Drift of a window against a reference: per column, then the dataset verdict.

Two entry points compute the same statistics (``monitoring.stats``) and judge them with the
same rules (``monitoring.rules``):

* ``detect_drift(profile, frame, rules)``: against a version's stored reference profile
  (``monitoring.profile``); what the orchestrator runs every tick. The reference data is
  never touched again; KS and Wasserstein come from the profile's quantile sketch, within
  the bounds stated in ``monitoring.stats`` (PSI, JS, chi2, the moments and missing shares
  are exact).
* ``compare_frames(reference, current, ...)``: against the raw reference (``retrainer drift``
  on two files). Every statistic is exact: KS and its p-value, Wasserstein and JS equal
  SciPy's on the same data and bins.

Numeric statistics (``ColumnDrift.stats``): ``n``, ``reference_n``, ``null_share``,
``null_share_change``, ``psi`` and ``js`` over the reference's quantile bins, ``ks`` and
``ks_pvalue``, ``wasserstein`` (W1 over the reference's standard deviation) and
``wasserstein_distance`` (in the column's units), ``mean``, ``reference_mean``,
``mean_shift``, ``variance_ratio`` and ``out_of_range_share``. Categorical: ``n``,
``null_share``, ``null_share_change``, ``psi`` and ``js`` over the reference categories plus
one "unseen" bucket, ``chi2``/``chi2_pvalue``/``chi2_dof`` (Pearson's test of homogeneity
of the 2 x k table; the reference is a sample too) and ``unseen_share``. Values that are
infinite or undefined are ``None``.

A column with values in the reference but none (all null) in a non-empty window drifts
regardless of the rules. The dataset drifts when the weighted share of drifted columns
reaches ``rules.dataset_share``; weights are the model's feature importances (stored in the
profile, or passed in), so drift in features the model ignores does not move the verdict.

``detect_target_drift`` judges the version's target (label shift) on a window's labelled
rows against the target reference stored with the profile, with the same statistics and
rules as a feature (``rules.columns`` overrides apply by the target's name). It stays out of
the dataset verdict, as in Evidently and NannyML: the target is not a model input.
``rules.enabled`` is the caller's business; these functions always compute.

>>> import numpy as np
>>> from retrainer.config import DriftMonitorConfig
>>> from retrainer.monitoring.profile import build_profile
>>> rng = np.random.default_rng(0)
>>> reference = pd.DataFrame({"x": rng.normal(0, 1, 5000)})
>>> profile = build_profile(reference, numeric=["x"], categorical=[])
>>> report = detect_drift(profile, pd.DataFrame({"x": rng.normal(1, 1, 5000)}),
...                       DriftMonitorConfig())
>>> report.drifted_columns(), report.columns["x"].method, report.dataset_drift
(['x'], 'wasserstein', True)
>>> report.columns["x"].reasons[:2]
['psi 0.956 > 0.25', 'wasserstein 1.03 > 0.1']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from retrainer.config import DriftMonitorConfig
from retrainer.domain.readings import Severity
from retrainer.exceptions import DataError
from retrainer.monitoring.columns import (
    ColumnDrift,
    categorical_column,
    ks_and_w1,
    numeric_column,
    with_range,
)
from retrainer.monitoring.profile import (
    READABLE_FORMATS,
    categorical_profile,
    category_counts,
    label_values,
    numeric_values,
    parallel_map,
    reference_summary,
    sketch_points,
    target_profile,
)
from retrainer.monitoring.rules import NO_OVERRIDE
from retrainer.monitoring.stats import (
    PSI_EPSILON,
    Summary,
    chi2_homogeneity,
    exact_ks_wasserstein,
    finite_part,
    psi,
    summarise,
)

if TYPE_CHECKING:
    from retrainer.monitoring.calibration import Calibration

__all__ = ["PSI_EPSILON", "ColumnDrift", "DriftReport", "assemble", "chi2_homogeneity",
           "compare_frames", "detect_drift", "detect_target_drift", "psi"]


@dataclass(frozen=True)
class DriftReport:
    columns: dict[str, ColumnDrift]
    rows: int
    drifted_share: float  # drifted columns / checked columns (0.0 when none were checked)
    weighted_share: float = 0.0  # drifted columns' share of the weights
    dataset_drift: bool = False  # weighted_share >= dataset_share (and a column drifted)
    dataset_share: float = 0.3
    weights: dict[str, float] = field(default_factory=dict)  # normalised, sum 1
    weighting: str = "uniform"  # importance | uniform
    exact: bool = False  # True: against raw reference data; False: against a profile
    calibration: dict[str, Any] | None = None  # Calibration.summary() when one was used

    def drifted_columns(self) -> list[str]:
        return [name for name, col in self.columns.items() if col.drifted]

    def max_severity(self) -> Severity:
        return max((c.severity for c in self.columns.values()), key=lambda s: s.rank,
                   default=Severity.NONE)

    def to_json(self) -> dict[str, Any]:
        """Evidence for the store: ``columns`` by name, the drifted ones and the verdict."""
        return {
            "rows": self.rows,
            "drifted_share": self.drifted_share,
            "drifted_columns": self.drifted_columns(),
            "weighted_share": self.weighted_share,
            "dataset_drift": self.dataset_drift,
            "dataset_share": self.dataset_share,
            "weighting": self.weighting,
            "weights": dict(self.weights),
            "exact": self.exact,
            "calibration": self.calibration,
            "max_severity": self.max_severity().value,
            "columns": {name: col.to_json() for name, col in self.columns.items()},
        }


def detect_drift(
    profile: dict[str, Any],
    frame: pd.DataFrame,
    rules: DriftMonitorConfig,
    *,
    importance: dict[str, float] | None = None,
    calibration: Calibration | None = None,
    histograms: bool = False,
) -> DriftReport:
    """Compare ``frame`` with ``profile`` column by column under ``rules`` (one thread per core).

    ``importance`` overrides the profile's stored feature importance; ``calibration``
    (``monitoring.calibration.calibrate``) raises thresholds to its false-alarm budget;
    ``histograms`` attaches display histograms for ``reports``. Columns marked ``ignore`` are
    skipped. Raises ``DataError`` when the profile's format is unknown, when profiled columns
    are missing from ``frame`` (naming them), when a numeric column holds non-numeric values
    or a configured method does not fit a column.
    """
    checked = checked_columns(profile, rules)
    missing = [name for name in checked if name not in frame.columns]
    if missing:
        raise DataError(
            f"the monitoring window lacks columns the reference profile has: {missing}"
        )
    rows = len(frame)

    def summaries(name: str) -> tuple[Summary, Summary, bool]:
        reference, sketched = reference_summary(checked[name])
        if not sketched:
            reference = with_range(reference, checked[name])
        current = summarise(numeric_values(frame[name]), reference.points,
                            pivot=reference.pivot)
        return reference, current, sketched

    numeric = [name for name, spec in checked.items() if spec["kind"] == "numeric"]
    summarised = dict(zip(numeric, parallel_map(summaries, numeric, rows * len(numeric)),
                          strict=True))
    sketched = [name for name in numeric if summarised[name][2]]
    tested = dict(zip(sketched, ks_and_w1([(*summarised[name][:2], None) for name in sketched]),
                      strict=True))

    def one(name: str) -> ColumnDrift:
        spec = checked[name]
        if spec["kind"] == "numeric":
            reference, current, is_sketch = summarised[name]
            return numeric_column(name, spec, reference, current, rows, rules,
                                  sketched=is_sketch, tested=tested.get(name),
                                  calibration=calibration, histograms=histograms)
        keys, counts = category_counts(frame[name])
        return categorical_column(name, spec, keys, counts, rows, rules, calibration,
                                  histograms)

    names = list(checked)
    columns = dict(zip(names, parallel_map(one, names, rows * len(names)), strict=True))
    weights = importance if importance is not None else profile.get("importance")
    return assemble(columns, rows, rules, weights, exact=False, calibration=calibration)


def detect_target_drift(
    profile: dict[str, Any],
    frame: pd.DataFrame,
    rules: DriftMonitorConfig,
    *,
    min_rows: int = 1,
    calibration: Calibration | None = None,
    histograms: bool = False,
) -> ColumnDrift | None:
    """The drift of the target of ``profile``'s version on ``frame``'s labelled rows.

    None when the profile has no target reference (profiles from before target drift), the
    frame lacks the target column, fewer than ``min_rows`` of its rows are labelled, or the
    target is marked ``ignore`` in ``rules.columns``. ``calibration`` and ``histograms`` as
    in ``detect_drift``. Raises ``DataError`` as ``detect_drift``.

    >>> import numpy as np
    >>> from retrainer.monitoring.profile import build_profile, target_reference
    >>> rng = np.random.default_rng(0)
    >>> train = pd.DataFrame({"x": rng.normal(size=2000), "y": rng.normal(100, 10, 2000)})
    >>> profile = build_profile(train, numeric=["x"], categorical=[])
    >>> profile["target"] = target_reference(train["y"], categorical=False)
    >>> window = train.assign(y=train["y"] * 2)
    >>> drift = detect_target_drift(profile, window, DriftMonitorConfig())
    >>> drift.column, drift.drifted, drift.method
    ('y', True, 'wasserstein')
    >>> del profile["target"]
    >>> detect_target_drift(profile, window, DriftMonitorConfig()) is None
    True
    """
    reference = target_profile(profile)
    if reference is None:
        return None
    name = profile["target"]["column"]
    if name not in frame.columns:
        return None
    labels = frame[name].dropna()
    if len(labels) < min_rows:
        return None
    if profile["target"]["spec"]["kind"] == "categorical":
        labels = label_values(labels)
    report = detect_drift(reference, labels.to_frame(name), rules, calibration=calibration,
                          histograms=histograms)
    return report.columns.get(name)


def compare_frames(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    rules: DriftMonitorConfig,
    *,
    importance: dict[str, float] | None = None,
    histograms: bool = False,
) -> DriftReport:
    """Compare two frames exactly (no sketch): the ``retrainer drift`` path.

    PSI and JS use ``rules.numeric.bins`` reference quantile bins, as a profile would.
    Raises ``DataError`` for missing columns or non-numeric values in numeric columns.
    """
    for label, frame in (("reference", reference), ("current", current)):
        missing = [c for c in [*numeric, *categorical] if c not in frame.columns]
        if missing:
            raise DataError(f"the {label} data lacks columns {missing}")
    bins = rules.numeric.bins
    rows = len(current)

    def summaries(name: str) -> tuple[dict[str, Any], np.ndarray, Summary, Summary,
                                      tuple[float, float] | None]:
        ref = finite_part(np.sort(_numeric(reference, name, "reference")))
        cur = finite_part(np.sort(_numeric(current, name, "current")))
        ref_null = (len(reference) - ref.size) / len(reference) if len(reference) else 0.0
        spec = {"kind": "numeric", "n": int(ref.size), "null_share": ref_null}
        edges = (np.unique(np.quantile(ref, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
                 if ref.size else np.empty(0))
        # a coarse grid for the bins, the range and the histogram; KS and W1 come exact
        grid = sketch_points(ref, rules.numeric.sketch_size, edges) if ref.size else edges
        pivot = float(ref.mean()) if ref.size else 0.0
        exact = exact_ks_wasserstein(ref, cur) if ref.size and cur.size else None
        return (spec, edges, summarise(ref, grid, pivot, presorted=True),
                summarise(cur, grid, pivot, presorted=True), exact)

    work = (len(reference) + len(current)) * max(len(numeric), 1)
    summarised = dict(zip(numeric, parallel_map(summaries, numeric, work), strict=True))
    tested = dict(zip(numeric, ks_and_w1([found[2:] for found in summarised.values()]),
                      strict=True))

    def one(name: str) -> ColumnDrift:
        if name in categorical:
            spec = categorical_profile(reference[name])
            keys, counts = category_counts(current[name])
            return categorical_column(name, spec, keys, counts, rows, rules, None, histograms)
        spec, edges, ref_summary, cur_summary, _ = summarised[name]
        return numeric_column(name, spec, ref_summary, cur_summary, rows, rules,
                              sketched=True, edges=edges, tested=tested[name],
                              histograms=histograms)

    names = [*numeric, *categorical]
    work = (len(reference) + len(current)) * len(names)
    columns = dict(zip(names, parallel_map(one, names, work), strict=True))
    return assemble(columns, rows, rules, importance, exact=True)


def checked_columns(profile: dict[str, Any], rules: DriftMonitorConfig) -> dict[str, Any]:
    """The profile's columns not marked ``ignore``. Raises ``DataError`` on unknown formats."""
    version = profile.get("format")
    if version not in READABLE_FORMATS:
        raise DataError(f"reference profile format {version!r} is not supported "
                        f"(readable: {list(READABLE_FORMATS)})")
    checked = {name: spec for name, spec in profile["columns"].items()
               if not rules.columns.get(name, NO_OVERRIDE).ignore}
    for name, spec in checked.items():
        if spec["kind"] not in ("numeric", "categorical"):
            raise DataError(f"reference profile column {name!r} has unknown kind {spec['kind']!r}")
    return checked


def assemble(columns: dict[str, ColumnDrift], rows: int, rules: DriftMonitorConfig,
             importance: dict[str, float] | None, *, exact: bool,
             calibration: Calibration | None = None) -> DriftReport:
    """The report with its dataset verdict (see ``monitoring.importance.column_weights``)."""
    from retrainer.monitoring.importance import column_weights

    weights, weighting = column_weights(list(columns), importance, rules)
    drifted = [name for name, col in columns.items() if col.drifted]
    share = len(drifted) / len(columns) if columns else 0.0
    weighted = float(sum(weights[name] for name in drifted))
    return DriftReport(
        columns=columns, rows=rows, drifted_share=share, weighted_share=weighted,
        dataset_drift=bool(drifted) and weighted >= rules.dataset_share - 1e-12,
        dataset_share=rules.dataset_share, weights=weights, weighting=weighting,
        exact=exact, calibration=calibration.summary() if calibration is not None else None,
    )


def _numeric(frame: pd.DataFrame, name: str, label: str) -> np.ndarray:
    try:
        return numeric_values(frame[name])
    except DataError as error:
        raise DataError(f"the {label} data: {error}") from None
