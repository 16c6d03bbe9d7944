"""ValidationReport survives to_dict/from_dict (and JSON) unchanged."""

from __future__ import annotations

import json

import pytest

from retrainer.domain import GateResult, StatTestResult, ValidationReport


def make_report(**overrides: object) -> ValidationReport:
    fields: dict[str, object] = {
        "metric": "rmse",
        "greater_is_better": False,
        "candidate_metrics": {"rmse": 9.5, "mae": 7.0},
        "champion_metrics": {"rmse": 10.0, "mae": 8.0},
        "champion_version": "3",
        "improvement": 0.5,
        "relative_improvement": 0.05,
        "min_improvement": 0.01,
        "min_improvement_relative": True,
        "test": StatTestResult("wilcoxon", 1234.0, 0.003, 0.05, True, 720, 0.4),
        "gates": [GateResult("max_rmse", "rmse", 9.5, 30.0, True),
                  GateResult("min_r2", "r2", 0.4, 0.5, False)],
        "holdout_rows": 720,
        "holdout_start": "2024-02-01T00:00:00+00:00",
        "holdout_end": "2024-03-01T00:00:00+00:00",
        "passed": False,
        "reasons": ["gate min_r2 failed: 0.4 < 0.5"],
        "extra": {"per_fold": [1.0, 2.0], "nested": {"k": None}},
    }
    fields.update(overrides)
    return ValidationReport(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"test": None, "champion_metrics": None, "champion_version": None,
         "improvement": None, "relative_improvement": None},
        {"gates": [], "reasons": [], "extra": {}},
        {"test": StatTestResult("none", None, None, 0.05, False, 0)},
    ],
    ids=["full", "first-model", "no-gates", "no-test"],
)
def test_round_trip(overrides: dict[str, object]) -> None:
    report = make_report(**overrides)
    data = report.to_dict()
    assert ValidationReport.from_dict(data) == report
    assert ValidationReport.from_dict(json.loads(json.dumps(data))) == report


def test_from_dict_rebuilds_nested_records() -> None:
    back = ValidationReport.from_dict(make_report().to_dict())
    assert isinstance(back.test, StatTestResult)
    assert all(isinstance(g, GateResult) for g in back.gates)
    assert back.gates[1].passed is False


def test_from_dict_does_not_change_its_input() -> None:
    data = make_report().to_dict()
    snapshot = json.dumps(data, sort_keys=True)
    ValidationReport.from_dict(data)
    assert json.dumps(data, sort_keys=True) == snapshot
