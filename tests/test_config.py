from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from retrainer.cli.template import EXAMPLE_CONFIG
from retrainer.config import ModelConfig, load_config, parse_config, resolve_url
from retrainer.exceptions import ConfigError


def minimal_model(**overrides: object) -> dict[str, object]:
    model: dict[str, object] = {
        "name": "pm25",
        "source": {"kind": "csv", "path": "data.csv"},
        "time_column": "time",
        "target": "pm",
        "task": "regression",
    }
    model.update(overrides)
    return model


def problems(data: dict[str, object]) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    return {p.path: p.reason for p in caught.value.problems}


def test_example_config_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "retrainer.yaml"
    path.write_text(EXAMPLE_CONFIG)
    config = load_config(path)
    model = config.models[0]
    assert model.training_window == timedelta(days=180)
    assert model.triggers.budget is not None and model.triggers.budget.period == "weekend"
    # auto is on; drift and performance are offered as comments, so off
    assert model.triggers.auto.enabled and model.triggers.auto.max_interval == timedelta(days=90)
    assert not model.triggers.drift.enabled and not model.triggers.performance.enabled
    assert model.validation.min_improvement_relative
    assert model.validation.min_improvement_value == pytest.approx(0.02)
    assert config.root == tmp_path.resolve()


def test_every_problem_is_reported_with_its_field_path() -> None:
    found = problems({
        "project": {"bogus": 1},
        "executor": {"max_concurrency": 0},
        "models": [minimal_model(source={"kind": "csv"}, task="regresion",
                                 training_window="10 days")],
    })
    assert found["project.bogus"] == "unknown field"
    assert "greater than or equal to 1" in found["executor.max_concurrency"]
    assert "Field required" in found["models[0].source.path"]
    assert "regression" in found["models[0].task"]
    assert "not a duration" in found["models[0].training_window"]


@pytest.mark.parametrize(
    ("validation", "expected"),
    [
        ({"metric": "roc_auc"}, "not a regression metric"),
        ({"gates": {"max_foo": 3}}, "max_<metric> or min_<metric>"),
        ({"min_improvement": "two"}, "percentage"),
        ({"min_improvement": -1}, ">= 0"),
        ({"challenger": {"growth": 1}}, "greater than 1"),
    ],
)
def test_validation_settings_are_checked(validation: dict[str, object], expected: str) -> None:
    found = problems({"models": [minimal_model(validation=validation)]})
    assert any(expected in reason for reason in found.values()), found


def test_schedule_needs_exactly_one_valid_form() -> None:
    assert problems({"models": [minimal_model(triggers={"schedule": {}})]})
    found = problems({"models": [minimal_model(triggers={"schedule": {"cron": "61 * * * *"}})]})
    assert any("cron" in reason for reason in found.values())


def test_duplicate_model_names_are_refused() -> None:
    found = problems({"models": [minimal_model(), minimal_model()]})
    assert "repeated" in found["models"]


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("models:\n  - name: x\n   bad indent: [\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems[0].path.startswith("line ")
    assert caught.value.exit_code == 2


def test_model_config_survives_a_json_round_trip() -> None:
    config = parse_config({"models": [minimal_model(
        triggers={"cooldown": "30d", "budget": {"max_retrains": 2, "period": "14d"}},
        validation={"min_improvement": "2%", "gates": {"max_rmse": 25}},
    )]})
    dumped = yaml.safe_load(yaml.safe_dump(config.models[0].model_dump(mode="json")))
    assert ModelConfig.model_validate(dumped) == config.models[0]


def test_features_default_to_all_but_target_time_and_excluded() -> None:
    model = parse_config({"models": [minimal_model(exclude=["id"])]}).models[0]
    assert model.feature_columns(["time", "a", "id", "pm", "b"]) == ["a", "b"]


def test_relative_sqlite_urls_resolve_against_the_config_directory(tmp_path: Path) -> None:
    assert resolve_url("sqlite:///.retrainer/state.db", tmp_path) == (
        f"sqlite:///{tmp_path.resolve()}/.retrainer/state.db"
    )
    assert resolve_url("sqlite:////abs/state.db", tmp_path) == "sqlite:////abs/state.db"


def test_target_drift_switches_default_on_and_are_checked() -> None:
    model = parse_config({"models": [minimal_model()]}).models[0]
    assert model.monitors.drift.target is True and model.triggers.drift.on_target_drift is True
    off = parse_config({"models": [minimal_model(
        monitors={"drift": {"target": False}}, triggers={"drift": {"on_target_drift": False}})]})
    assert off.models[0].monitors.drift.target is False
    assert off.models[0].triggers.drift.on_target_drift is False
    found = problems({"models": [minimal_model(
        monitors={"drift": {"target": "sometimes"}},
        triggers={"drift": {"on_target_drift": [1], "on_target": True}})]})
    assert "valid boolean" in found["models[0].monitors.drift.target"]
    assert "valid boolean" in found["models[0].triggers.drift.on_target_drift"]
    assert found["models[0].triggers.drift.on_target"] == "unknown field"


def test_windows_and_a_schedule_interval_must_hold_time() -> None:
    found = problems({"models": [minimal_model(
        monitoring_window="0d", training_window=0, triggers={"schedule": {"every": "0d"}})]})
    for field in ("models[0].monitoring_window", "models[0].training_window",
                  "models[0].triggers.schedule.every"):
        assert found[field] == "must be longer than zero", found


def test_a_name_yaml_reads_as_a_boolean_says_to_quote_it(tmp_path: Path) -> None:
    path = tmp_path / "retrainer.yaml"
    path.write_text(yaml.safe_dump({"models": [minimal_model()]}, sort_keys=False)
                    + "  exclude: [No, x, on]\n"
                    + "  monitors: {drift: {columns: {Off: {ignore: true}}}}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    found = {p.path: p.reason for p in caught.value.problems}
    assert found == {
        "models[0].exclude[0]":
            'Input should be a valid string (YAML read No as false: quote it, "No")',
        "models[0].exclude[2]":
            'Input should be a valid string (YAML read on as true: quote it, "on")',
        "models[0].monitors.drift.columns.Off":
            'Input should be a valid string (YAML read Off as false: quote it, "Off")',
    }
    # without the file's text (an already-parsed mapping) the hint cannot quote it
    found = problems({"models": [minimal_model(exclude=[False])]})
    assert found["models[0].exclude[0]"].endswith(
        "(YAML read it as a boolean: quote the name)")
