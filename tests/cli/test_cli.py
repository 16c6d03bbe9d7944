"""Fast command-line tests in-process (Typer's runner); the slow ones live in tests/e2e."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retrainer import __version__
from retrainer.cli.app import app

runner = CliRunner()


def invoke(*args: str, cwd: Path) -> tuple[int, str]:
    import os

    old = Path.cwd()
    os.chdir(cwd)
    try:
        result = runner.invoke(app, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)
    return result.exit_code, result.output


@pytest.fixture(autouse=True)
def _no_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RETRAINER_CONFIG", "RETRAINER_STATE_STORE_URL", "RETRAINER_MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)


def test_version(tmp_path: Path) -> None:
    code, out = invoke("--version", cwd=tmp_path)
    assert code == 0 and __version__ in out


def _commands(group: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    from typer.main import get_command

    command = get_command(group) if prefix == () else group
    found = [prefix]
    for name, sub in getattr(command, "commands", {}).items():
        found.extend(_commands(sub, (*prefix, name)))
    return found


def test_every_command_prints_its_help(tmp_path: Path) -> None:
    commands = _commands(app)
    assert ("backtest",) in commands and ("db", "upgrade") in commands
    for command in commands:  # rich markup in a help text ("[/hour]") would raise here
        code, out = invoke(*command, "--help", cwd=tmp_path)
        assert code == 0 and "Usage:" in out, (command, out)


def test_init_writes_a_valid_config_and_refuses_to_overwrite(tmp_path: Path) -> None:
    from retrainer.exceptions import UsageError

    code, _ = invoke("init", cwd=tmp_path)
    assert code == 0 and (tmp_path / "retrainer.yaml").is_file()
    code, out = invoke("validate-config", "--json", cwd=tmp_path)
    assert code == 0 and json.loads(out) == {
        "valid": True, "file": "retrainer.yaml", "models": ["demand"]}
    with pytest.raises(UsageError, match="already exists"):
        invoke("init", cwd=tmp_path)
    code, _ = invoke("init", "--force", cwd=tmp_path)
    assert code == 0


def test_validate_config_json_lists_every_problem(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "models:\n  - name: x\n    source: {kind: excel, path: a}\n    time_column: t\n"
        "    target: y\n    task: regression\n    min_rows: -1\n"
    )
    code, out = invoke("validate-config", "bad.yaml", "--json", cwd=tmp_path)
    assert code == 2
    paths = {p["path"] for p in json.loads(out)["problems"]}
    assert {"models[0].source", "models[0].min_rows"} <= paths


def test_db_upgrade_creates_then_keeps_the_schema(tmp_path: Path) -> None:
    invoke("init", cwd=tmp_path)
    code, out = invoke("db", "upgrade", "--json", cwd=tmp_path)
    first = json.loads(out)
    assert code == 0 and first["before"] is None and first["after"] == first["head"]
    assert (tmp_path / ".retrainer" / "state.db").is_file()
    code, out = invoke("db", "upgrade", "--json", cwd=tmp_path)
    assert json.loads(out)["before"] == first["head"]


def test_unknown_model_is_a_usage_error(tmp_path: Path) -> None:
    from retrainer.exceptions import UsageError

    invoke("init", cwd=tmp_path)
    with pytest.raises(UsageError, match=r"no model named .nope.*demand"):
        invoke("rollback", "nope", cwd=tmp_path)


def test_status_of_a_fresh_project(tmp_path: Path) -> None:
    invoke("init", cwd=tmp_path)
    code, out = invoke("status", "--json", cwd=tmp_path)
    data = json.loads(out)
    assert code == 0
    assert data["models"][0]["model"] == "demand" and data["models"][0]["champion"] is None
    assert data["models"][0]["auto"] is None


def test_status_says_how_near_auto_is_and_what_holds_it(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from retrainer.cli.read import _auto_progress
    from retrainer.domain import TriggerDecision
    from retrainer.store import Store

    invoke("init", cwd=tmp_path)
    assert invoke("status", cwd=tmp_path)[0] == 0  # creates the store
    store = Store(f"sqlite:///{tmp_path / '.retrainer' / 'state.db'}")
    evidence = {"clock_days": 37.802, "due_clock_days": 31.623}
    for day, days, held in ((1, 12.25, ""), (8, 37.802, " — held: budget: 2 of 2 retrains")):
        store.add_decision(TriggerDecision(
            "demand", "auto", datetime(2024, 6, day, tzinfo=UTC), days >= 31.623, False,
            f"{days} loss-weighted days{held}", {**evidence, "clock_days": days}))
    store.close()
    assert invoke("status", cwd=tmp_path)[0] == 0
    auto = json.loads(invoke("status", "--json", cwd=tmp_path)[1])["models"][0]["auto"]
    assert auto["evidence"]["clock_days"] == 37.802 and not auto["fired"]
    assert _auto_progress(auto) == ("37.8 of 31.6 loss-weighted days on 2024-06-08 00:00: "
                                    "due, held: budget: 2 of 2 retrains")
    assert _auto_progress({**auto, "reason": "12 days", "condition_met": False}).endswith(
        ": not due")


def test_init_makes_its_folder_and_will_not_overwrite_a_folder(tmp_path: Path) -> None:
    from retrainer.exceptions import UsageError

    code, _ = invoke("init", "sub/dir/retrainer.yaml", cwd=tmp_path)
    assert code == 0 and (tmp_path / "sub" / "dir" / "retrainer.yaml").is_file()
    with pytest.raises(UsageError, match="a folder; name a file"):
        invoke("init", "--force", "sub", cwd=tmp_path)


def test_a_state_store_url_that_is_no_url_is_a_usage_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from retrainer.exceptions import StoreError, UsageError

    invoke("init", cwd=tmp_path)
    monkeypatch.setenv("RETRAINER_STATE_STORE_URL", "notaurl")
    with pytest.raises(UsageError, match="'notaurl' is not a database URL"):
        invoke("status", cwd=tmp_path)
    monkeypatch.setenv("RETRAINER_STATE_STORE_URL", "mysql://u@localhost/db")
    with pytest.raises(StoreError, match="driver is not installed"):
        invoke("status", cwd=tmp_path)


def test_predict_refuses_a_file_without_rows(tmp_path: Path) -> None:
    from retrainer.cli.predict import read_frame
    from retrainer.exceptions import DataError

    (tmp_path / "header.csv").write_text("hour,temp\n")
    with pytest.raises(DataError, match="has no rows to score"):
        read_frame(tmp_path / "header.csv")


def test_as_of_takes_iso_times_in_either_case_within_the_times_pandas_holds() -> None:
    from datetime import UTC, datetime

    from retrainer.cli.common import parse_as_of
    from retrainer.exceptions import UsageError

    assert parse_as_of("2024-06-01t06:30:00z") == datetime(2024, 6, 1, 6, 30, tzinfo=UTC)
    assert parse_as_of("2024-06-01T08:30:00+02:00") == datetime(2024, 6, 1, 6, 30, tzinfo=UTC)
    for bad in ("0001-01-01", "2300-01-01", "June 1st"):
        with pytest.raises(UsageError, match="--as-of"):
            parse_as_of(bad)


def test_as_of_takes_24_00_as_the_end_of_the_day() -> None:
    from datetime import UTC, datetime

    from retrainer.cli.common import parse_as_of
    from retrainer.exceptions import UsageError

    midnight = datetime(2024, 6, 2, tzinfo=UTC)
    for end in ("2024-06-01T24:00", "2024-06-01t24:00:00z", "2024-06-01T24:00:00.000+00:00"):
        assert parse_as_of(end) == midnight, end
    assert parse_as_of("2024-12-31T24:00Z") == datetime(2025, 1, 1, tzinfo=UTC)
    assert parse_as_of("2024-06-01T24:00+02:00") == datetime(2024, 6, 1, 22, tzinfo=UTC)
    for bad in ("2024-06-01T24:30Z", "2024-06-01T24:00:01Z", "2024-06-01T24:00:00.5Z"):
        with pytest.raises(UsageError, match="is not an ISO 8601 date or time"):
            parse_as_of(bad)
    with pytest.raises(UsageError, match="give a time from 1678 to 2261"):
        parse_as_of("2261-12-31T24:00Z")


def test_validate_config_builds_the_trainer_for_its_task(tmp_path: Path) -> None:
    """A trainer that cannot work is found before any job runs: field path, exit 2."""
    model = ("models:\n  - name: x\n    source: {kind: csv, path: a.csv}\n    time_column: t\n"
             "    target: y\n    task: regression\n    training:\n")
    (tmp_path / "clf.yaml").write_text(
        model + "      trainer: sklearn.linear_model:LogisticRegression\n")
    code, out = invoke("validate-config", "clf.yaml", "--json", cwd=tmp_path)
    assert code == 2
    (problem,) = json.loads(out)["problems"]
    assert problem["path"] == "models[0].training.trainer"
    assert "is a classifier; task: regression needs a regressor" in problem["reason"]
    (tmp_path / "xgb.yaml").write_text(
        model + "      trainer: xgboost\n      params: {num_leaves: 63, max_dpeth: 2}\n")
    code, out = invoke("validate-config", "xgb.yaml", "--json", cwd=tmp_path)
    assert code == 2 and [p["path"] for p in json.loads(out)["problems"]] == [
        "models[0].training.params.max_dpeth", "models[0].training.params.num_leaves"]
