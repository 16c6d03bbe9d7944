"""Readiness: is a training window fit to train on? Checked before a job trains.

Each check is one small class with a ``name`` and ``check(frame, ctx) -> CheckResult``.
Checks never raise for bad data: they return a failed result whose ``reason`` names the
columns and numbers, and whose ``details`` hold the same evidence as JSON.

>>> from datetime import datetime, timezone
>>> from retrainer.config import ModelConfig
>>> model = ModelConfig(name="m", source={"kind": "csv", "path": "d.csv"}, time_column="time",
...                     target="y", task="regression", min_rows=3)
>>> utc = timezone.utc
>>> frame = pd.DataFrame({"time": pd.date_range("2024-01-01", periods=4, freq="h", tz=utc),
...                       "x": [1.0, None, None, 2.0], "y": [1.0, 2.0, 3.0, None]})
>>> window = Window(datetime(2024, 1, 1, tzinfo=utc), datetime(2024, 1, 2, tzinfo=utc))
>>> ctx = ReadinessContext(model, window, features=["x"], expected_schema=None)
>>> [(r.name, r.passed) for r in check_readiness(frame, ctx)]  # doctest: +NORMALIZE_WHITESPACE
[('schema', True), ('min_rows', True), ('null_share', False), ('freshness', True),
 ('feature_columns', True)]
>>> check_readiness(frame, ctx)[2].reason
"feature 'x' is 50% null (max 20%, readiness.max_null_share)"
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from retrainer.config import ModelConfig
from retrainer.data.columns import target_leaks, unusable_columns
from retrainer.data.labels import missing
from retrainer.domain.metrics import Task
from retrainer.domain.windows import Window, human_duration

__all__ = [
    "BUILTIN_CHECKS",
    "CheckResult",
    "FeatureColumnsCheck",
    "FreshnessCheck",
    "MinRowsCheck",
    "NullShareCheck",
    "ReadinessCheck",
    "ReadinessContext",
    "SchemaCheck",
    "check_readiness",
    "default_checks",
    "null_shares_of",
    "schema_of",
]


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    reason: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "reason": self.reason,
                "details": self.details}


@dataclass(frozen=True)
class ReadinessContext:
    model: ModelConfig
    window: Window
    features: list[str]
    # column -> "numeric" | "categorical" from the production version's lineage; None if none
    expected_schema: dict[str, str] | None
    # column -> null share in the production version's training rows (its profile)
    reference_null_shares: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class ReadinessCheck(Protocol):
    name: str

    def check(self, frame: pd.DataFrame, ctx: ReadinessContext) -> CheckResult: ...


def schema_of(frame: pd.DataFrame, features: Sequence[str], categorical: Sequence[str]
              ) -> dict[str, str]:
    """Each feature's kind: ``categorical`` when listed so or not stored as numbers (or
    booleans), else ``numeric``. Features missing from ``frame`` are left out.

    >>> schema_of(pd.DataFrame({"a": [1.0], "b": ["x"], "c": [3]}), ["a", "b", "c"], ["c"])
    {'a': 'numeric', 'b': 'categorical', 'c': 'categorical'}
    """
    listed = set(categorical)
    return {
        name: "categorical" if name in listed or not _is_numeric(frame[name]) else "numeric"
        for name in features
        if name in frame.columns
    }


def null_shares_of(profile: dict[str, Any] | None) -> dict[str, float]:
    """Each profiled column's null share (a version's profile, monitoring/profile.py)."""
    columns = (profile or {}).get("columns", {})
    return {name: float(spec["null_share"]) for name, spec in columns.items()
            if "null_share" in spec}


def check_readiness(
    frame: pd.DataFrame, ctx: ReadinessContext, checks: Sequence[ReadinessCheck] | None = None
) -> list[CheckResult]:
    """Run ``checks`` (default: every built-in, in ``BUILTIN_CHECKS`` order); one result each."""
    return [check.check(frame, ctx) for check in (default_checks() if checks is None else checks)]


class SchemaCheck:
    """The time column, the target and every feature are present; with an expected schema,
    every feature still has its production kind (numeric / categorical)."""

    name = "schema"

    def check(self, frame: pd.DataFrame, ctx: ReadinessContext) -> CheckResult:
        model = ctx.model
        required = [model.time_column, model.target, *ctx.features]
        missing = [c for c in required if c not in frame.columns]
        # a misspelt name under 'categorical' would otherwise change the model silently
        missing += [c for c in model.categorical if c not in frame.columns and c not in missing]
        problems = [f"missing columns {', '.join(repr(c) for c in missing)}"] if missing else []
        if (model.task is Task.REGRESSION and model.target in frame.columns
                and not _is_numeric(frame[model.target])
                and (example := _non_numeric_example(frame[model.target])) is not None):
            problems.append(f"target {model.target!r} holds values that are not numbers, such "
                            f"as {str(example)!r} (task: regression)")
        changed: dict[str, dict[str, Any]] = {}
        current = schema_of(frame, ctx.features, model.categorical)
        for column, expected in (ctx.expected_schema or {}).items():
            found = current.get(column)
            if found is None or found == expected:
                continue
            if expected == "numeric" and column in model.categorical:
                continue  # reconfigured as categorical: the config decides
            example = _non_numeric_example(frame[column]) if expected == "numeric" else None
            if expected == "numeric" and example is None:
                continue  # numbers stored as text are still numbers
            changed[column] = {"expected": expected, "found": found,
                               "example": None if example is None else str(example)}
            if expected == "numeric":
                problems.append(f"feature {column!r} should be numeric but holds non-numeric "
                                f"values such as {example!r}")
            else:
                problems.append(f"feature {column!r} was categorical in production but now holds "
                                "only numbers (list it under 'categorical' if it is a category)")
        new = sorted(set(current) - set(ctx.expected_schema or current))
        details = {"missing": missing, "changed": changed, "new_features": new}
        if problems:
            return CheckResult(self.name, False, "; ".join(problems), details)
        return CheckResult(self.name, True, f"all {len(required)} required columns present",
                           details)


class MinRowsCheck:
    """At least ``model.min_rows`` rows have a target value, and some are older than the
    holdout (the newest ``training.holdout_fraction`` of them, cut at a time): labelled rows
    that all share one time (monthly snapshots in a window of weeks) leave none to train on.

    >>> from retrainer.config import ModelConfig
    >>> model = ModelConfig(name="m", source={"kind": "csv", "path": "d.csv"},
    ...                     time_column="t", target="y", task="regression", min_rows=2)
    >>> ctx = ReadinessContext(model, Window.latest(pd.Timestamp("2024-02-01", tz="UTC"),
    ...                        pd.Timedelta(days=28)), features=[], expected_schema=None)
    >>> once = pd.DataFrame({"t": [pd.Timestamp("2024-01-05", tz="UTC")] * 3, "y": [1, 2, 3]})
    >>> MinRowsCheck().check(once, ctx).reason
    '3 labelled rows, all at one time (2024-01-05): none is older than the holdout to train on'
    >>> MinRowsCheck().check(pd.concat([once] * 3 + [once.assign(t=ctx.window.end)]), ctx).passed
    True
    """

    name = "min_rows"

    def check(self, frame: pd.DataFrame, ctx: ReadinessContext) -> CheckResult:
        target, needed = ctx.model.target, ctx.model.min_rows
        labelled = int(frame[target].notna().sum()) if target in frame.columns else 0
        details = {"rows": len(frame), "labelled_rows": labelled, "min_rows": needed}
        passed = labelled >= needed
        verdict = ">=" if passed else "<"
        reason = f"{labelled:,} labelled rows {verdict} minimum {needed:,}"
        if not passed and target not in frame.columns:
            reason += f" (target {target!r} is missing)"
        time_column = ctx.model.time_column
        if passed and labelled and time_column in frame.columns:
            times = frame.loc[frame[target].notna().to_numpy(), time_column].sort_values()
            recent = round(len(times) * ctx.model.training.holdout_fraction)
            if recent and not (times < times.iloc[len(times) - recent]).any():
                oldest = int((times == times.iloc[0]).sum())
                when = "all" if oldest == len(times) else f"{oldest:,}"
                return CheckResult(self.name, False, f"{labelled:,} labelled rows, {when} at one "
                                   f"time ({_day_or_time(times.iloc[0])}): none is older than "
                                   "the holdout to train on", {**details, "at_oldest": oldest})
        return CheckResult(self.name, passed, reason, details)


class NullShareCheck:
    """Every feature's null share <= ``readiness.max_null_share``, or, for a feature that
    was sparser than that in production's training rows, <= its share there plus
    ``readiness.max_null_share_rise``; the target's <= ``readiness.max_label_null_share``.
    Missing columns are the schema check's to report."""

    name = "null_share"

    def check(self, frame: pd.DataFrame, ctx: ReadinessContext) -> CheckResult:
        readiness = ctx.model.readiness
        if len(frame) == 0:
            return CheckResult(self.name, True, "no rows to check", {"shares": {}})
        limits = {c: self._feature_limit(c, ctx) for c in ctx.features}
        limits[ctx.model.target] = (readiness.max_label_null_share,
                                    "readiness.max_label_null_share")
        present = [c for c in limits if c in frame.columns]
        shares = frame[present].apply(missing).mean()  # inf counts as missing
        failures = []
        for column in present:
            limit, why = limits[column]
            share = float(shares[column])
            if share > limit:
                role = "target" if column == ctx.model.target else "feature"
                failures.append(f"{role} {column!r} is {_pct(share, limit)} null "
                                f"(max {_pct(limit)}, {why})")
        details = {"shares": {c: float(shares[c]) for c in present},
                   "limits": {c: limits[c][0] for c in present},
                   "max_null_share": readiness.max_null_share,
                   "max_label_null_share": readiness.max_label_null_share}
        if failures:
            return CheckResult(self.name, False, "; ".join(failures), details)
        worst = max(present, key=lambda c: shares[c], default=None)
        reason = "no columns to check" if worst is None else (
            f"null shares within limits (highest: {worst!r} {float(shares[worst]):.0%})")
        return CheckResult(self.name, True, reason, details)

    @staticmethod
    def _feature_limit(column: str, ctx: ReadinessContext) -> tuple[float, str]:
        readiness = ctx.model.readiness
        reference = ctx.reference_null_shares.get(column)
        if reference is None or reference + readiness.max_null_share_rise <= \
                readiness.max_null_share:
            return readiness.max_null_share, "readiness.max_null_share"
        return (min(1.0, reference + readiness.max_null_share_rise),
                f"production trained on {_pct(reference, 0.0)} null "
                "+ readiness.max_null_share_rise")


class FreshnessCheck:
    """The newest row is at most ``readiness.max_staleness`` older than the window's end."""

    name = "freshness"

    def check(self, frame: pd.DataFrame, ctx: ReadinessContext) -> CheckResult:
        staleness = ctx.model.readiness.max_staleness
        if staleness is None:
            return CheckResult(self.name, True, "no max_staleness configured", {})
        time_column = ctx.model.time_column
        end = _utc(ctx.window.end)
        details: dict[str, Any] = {"window_end": end.isoformat(),
                                   "max_staleness_seconds": staleness.total_seconds()}
        if time_column not in frame.columns:
            return CheckResult(self.name, False, f"time column {time_column!r} is missing",
                               details)
        times = pd.to_datetime(frame[time_column], utc=True, errors="coerce")
        newest = times.max()
        if len(frame) == 0 or pd.isna(newest):
            return CheckResult(self.name, False, "no rows with a time in the window", details)
        age = end - newest
        details.update(newest=newest.isoformat(), age_seconds=age.total_seconds())
        passed = newest >= end - staleness
        verdict = "within" if passed else "exceeds"
        reason = (f"newest row {newest.isoformat()} is {human_duration(age)} before the window end "
                  f"({verdict} max {human_duration(staleness)})")
        return CheckResult(self.name, passed, reason, details)


class FeatureColumnsCheck:
    """With no ``features`` list in the config, every column but the target, the time column
    and ``exclude`` is a feature; none of them may be a text date, a text identifier, an
    integer row counter or a column that holds the target itself (data/columns.py). A listed
    feature is the user's choice."""

    name = "feature_columns"

    def check(self, frame: pd.DataFrame, ctx: ReadinessContext) -> CheckResult:
        if ctx.model.features is not None:
            return CheckResult(self.name, True, "features are listed in the config", {})
        present = [c for c in ctx.features if c in frame.columns]
        if not present:
            return CheckResult(self.name, False, "no feature columns: every column is the "
                               "target, the time column or in exclude", {"unusable": {}})
        unusable = unusable_columns(frame[present], skip=set())
        unusable.update(target_leaks(frame, ctx.model.target,
                                     [c for c in present if c not in unusable]))
        details = {"unusable": unusable}
        if not unusable:
            return CheckResult(self.name, True, f"{len(present)} implied features", details)
        named = "; ".join(f"{column!r} is {why}" for column, why in unusable.items())
        them = "it" if len(unusable) == 1 else "them"
        # one window cannot tell a counter from a calendar field of daily rows: both count up
        calendar = (" (a day of the year or month counts up like a row counter inside one "
                    "window: list the features to keep one)"
                    if any(why.startswith("a row counter") for why in unusable.values()) else "")
        return CheckResult(self.name, False,
                           f"{named}: no model should learn from {them}; add {them} to exclude "
                           f"or list the features{calendar}", details)


BUILTIN_CHECKS: dict[str, type[ReadinessCheck]] = {
    "schema": SchemaCheck,
    "min_rows": MinRowsCheck,
    "null_share": NullShareCheck,
    "freshness": FreshnessCheck,
    "feature_columns": FeatureColumnsCheck,
}


def default_checks() -> list[ReadinessCheck]:
    """A fresh instance of every built-in check."""
    return [cls() for cls in BUILTIN_CHECKS.values()]


def _is_numeric(series: pd.Series) -> bool:
    dtype = series.dtype
    return pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)


def _non_numeric_example(series: pd.Series) -> Any:
    """The first non-null value that is not a number, or None if every value is one."""
    values = series.dropna()
    converted = pd.to_numeric(values, errors="coerce")
    bad = values[converted.isna().to_numpy()]
    return bad.iloc[0] if len(bad) else None


def _day_or_time(value: Any) -> str:
    """A time as ISO text, its date alone at midnight."""
    stamp = pd.Timestamp(value)
    return stamp.date().isoformat() if stamp == stamp.normalize() else stamp.isoformat()


def _utc(value: Any) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _pct(share: float, versus: float | None = None) -> str:
    """A share as a percentage with as few decimals (0-2) as tell it apart from ``versus``
    (a limit); without ``versus``, as few as represent it exactly.

    >>> _pct(0.629, 0.2), _pct(0.2004, 0.2), _pct(0.2, 0.2), _pct(0.2), _pct(0.125)
    ('63%', '20.04%', '20%', '20%', '12.5%')
    """
    percent = share * 100
    for digits in (0, 1, 2):
        text = f"{percent:.{digits}f}"
        if abs(float(text) - percent) < 1e-9:
            return f"{text}%"
        if versus is not None and (share == versus or text != f"{versus * 100:.{digits}f}"):
            return f"{text}%"
    return f"{percent:.2f}%"

