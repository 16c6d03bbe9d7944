"""The loop end to end through the real CLI, SQLite state store, MLflow and worker processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pandas as pd
import pytest
from tests.conftest import POSTGRES_URL
from tests.e2e.harness import Hook, Project, project_config

pytestmark = pytest.mark.e2e


def first_version(project: Project) -> None:
    out = project.json("retrain", "pm25", "--reason", "first version", "--as-of", "2010-08-01")
    assert out["job"]["state"] == "promoted", out
    assert out["job"]["candidate_version"] == "1"


def champion_alias(project: Project) -> dict[str, list[str]]:
    versions = project.json("models", "pm25")["versions"]
    return {str(v["version"]): v["aliases"] for v in versions}


def test_drift_fires_a_retrain_that_is_promoted_then_rolled_back(project: Project) -> None:
    first_version(project)

    tick = project.json("tick", "--as-of", "2010-12-01")
    model = tick["models"][0]
    assert model["readings"]["drift"]["alert"], model["readings"]
    assert model["fired"] and model["trigger"] in ("drift", "performance"), model["reason"]
    assert tick["outcomes"][0]["state"] == "promoted", tick["outcomes"]
    assert tick["outcomes"][0]["version"] == "2"
    assert model["challenger"] is None  # challengers are off by default
    store = project.store()
    try:  # the target's reference is stored with the version and judged in the drift reading
        reference = store.get_version("pm25", "1").profile["target"]
        assert reference["column"] == "pm" and reference["spec"]["kind"] == "numeric"
        target = store.readings("pm25", "drift", limit=1)[0].details["target"]
        assert target["column"] == "pm" and target["stats"]["n"] > 0
    finally:
        store.close()

    status = project.json("status")["models"][0]
    assert (status["champion"], status["previous"]) == ("2", "1")
    aliases = champion_alias(project)
    assert aliases["2"] == ["champion"] and aliases["1"] == ["previous"]

    versions = {str(v["version"]): v for v in project.json("models", "pm25")["versions"]}
    tags = versions["2"]["tags"]
    for key in ("retrainer.job_id", "retrainer.trigger", "retrainer.data_hash",
                "retrainer.artifact_sha256", "retrainer.data_start", "retrainer.rows"):
        assert tags.get(key), key
    assert tags["retrainer.trigger"] == model["trigger"]

    job = project.json("history", "--job", str(tick["outcomes"][0]["job_id"]))
    report = job["validation_report"]
    assert report["passed"] and report["champion_version"] == "1"
    assert report["test"]["p_value"] < 0.05

    rolled = project.json("rollback", "pm25", "--reason", "canary looked bad")
    assert (rolled["from_version"], rolled["to_version"]) == ("2", "1")
    status = project.json("status")["models"][0]
    assert status["champion"] == "1"
    assert champion_alias(project)["1"] == ["champion"]
    audit = project.json("history", "pm25")["audit"]
    assert any(a["action"] == "model.rolled_back" and a["details"]["reason"] == "canary looked bad"
               for a in audit)
    # nothing earlier to go back to: a clear error, exit code 2
    result = project.run("rollback", "pm25", check=2)
    assert "no previous champion" in result.stderr and "Traceback" not in result.stderr


def test_without_a_triggers_section_auto_decides_and_explains_itself(project: Project) -> None:
    project.write_config(project_config(triggers={}))
    first_version(project)

    assert not project.json("tick", "--as-of", "2010-08-20")["models"][0]["fired"]
    tick = project.json("tick", "--as-of", "2010-10-15")
    model = tick["models"][0]
    assert model["fired"] and model["trigger"] == "auto", model["reason"]
    assert tick["outcomes"][0]["state"] in ("promoted", "rejected"), tick["outcomes"]

    decisions = project.json("history", "pm25")["decisions"]["pm25"]
    autos = [d for d in decisions if d["trigger"] == "auto"]
    assert {d["trigger"] for d in decisions} <= {"initial", "auto", "manual"}
    assert [d["fired"] for d in autos] == [True, False]  # newest first
    fired = autos[0]["evidence"]
    assert fired["clock_days"] >= fired["due_clock_days"] == pytest.approx(31.623, abs=1e-3)
    assert autos[1]["evidence"]["clock_days"] < fired["due_clock_days"]
    assert project.json("status")["models"][0]["auto"] == autos[0]


def test_a_worse_candidate_is_rejected_and_production_is_untouched(
    project: Project, hook: Hook
) -> None:
    config = project_config()
    config["project"] = {"notifications": [{"url": hook.url}]}
    project.write_config(config)
    first_version(project)

    config["models"][0]["training"] = {"trainer": "sklearn.dummy:DummyRegressor"}
    project.write_config(config)
    out = project.json("retrain", "pm25", "--reason", "try a mean model", "--as-of", "2010-09-01")
    assert out["job"]["state"] == "rejected"
    assert "improvement" in out["job"]["state_reason"]

    assert project.json("status")["models"][0]["champion"] == "1"
    versions = {str(v["version"]): v for v in project.json("models", "pm25")["versions"]}
    assert versions["1"]["aliases"] == ["champion"]
    assert versions["2"]["aliases"] == []
    assert versions["2"]["tags"]["retrainer.status"] == "rejected"
    assert "candidate_rejected" in hook.kinds()


def test_bad_data_skips_the_job_with_a_notification(project: Project, hook: Hook) -> None:
    config = project_config()
    config["project"] = {"notifications": [{"url": hook.url, "events": ["data_not_ready"]}]}
    project.write_config(config)
    first_version(project)

    data = pd.read_csv(project.root / "data" / "pm25.csv")
    late = pd.to_datetime(data["time"]) >= pd.Timestamp("2010-08-15", tz="UTC")
    data["TEMP"] = data["TEMP"].astype(object)
    data.loc[late, "TEMP"] = "sensor offline"
    data.to_csv(project.root / "data" / "pm25.csv", index=False)

    result = project.run("retrain", "pm25", "--reason", "after the sensor fault",
                         "--as-of", "2010-10-01", check=1)
    assert "skipped" in result.stdout and "TEMP" in result.stdout
    jobs = project.json("history", "pm25")["jobs"]
    assert jobs[0]["state"] == "skipped" and "TEMP" in jobs[0]["state_reason"]
    assert hook.kinds() == ["data_not_ready"]
    assert "TEMP" in hook.events[0]["message"]
    assert project.json("status")["models"][0]["champion"] == "1"
    assert champion_alias(project)["1"] == ["champion"]


def _wait_for_running_attempt(project: Project, timeout: float = 60) -> tuple[int, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            store = project.store()
            jobs = store.list_jobs("pm25")
            if jobs and jobs[0].state.value == "running":
                attempts = store.attempts(jobs[0].id)
                if attempts and attempts[-1].worker and ">" in attempts[-1].worker:
                    store.close()
                    return jobs[0].id, attempts[-1].worker
            store.close()
        except Exception:  # the store may not exist yet
            pass
        time.sleep(0.2)
    raise AssertionError("no running attempt appeared")


def slow_project(project: Project) -> None:
    config = project_config()
    config["models"][0]["training"] = {"trainer": "plugins:SlowRidge", "params": {"seconds": 4}}
    project.write_config(config)


def test_a_job_whose_processes_were_killed_is_reaped_and_retried(project: Project) -> None:
    slow_project(project)
    proc = project.spawn("retrain", "pm25", "--reason", "first", "--as-of", "2010-08-01")
    job_id, _worker = _wait_for_running_attempt(project)
    os.killpg(proc.pid, signal.SIGKILL)  # the command, its fork server and the worker
    proc.wait(10)

    time.sleep(3.5)  # longer than stale_after_seconds: the heartbeat is now stale
    tick = project.json("tick", "--as-of", "2010-08-01")
    assert tick["reaped"] == [job_id]
    assert [(o["job_id"], o["state"]) for o in tick["outcomes"]] == [(job_id, "promoted")]
    attempts = project.json("history", "--job", str(job_id))["attempts"]
    assert [a["outcome"] for a in attempts] == ["stale", "succeeded"]
    assert "heartbeat" in attempts[0]["error"]


def test_a_killed_worker_is_detected_and_retried_at_once(project: Project) -> None:
    slow_project(project)
    proc = project.spawn("retrain", "pm25", "--reason", "first", "--as-of", "2010-08-01",
                         "--json")
    job_id, worker = _wait_for_running_attempt(project)
    os.kill(int(worker.rsplit(">", 1)[1]), signal.SIGKILL)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    attempts = project.json("history", "--job", str(job_id))["attempts"]
    assert [a["outcome"] for a in attempts] == ["died", "succeeded"]
    assert "SIGKILL" in attempts[0]["error"]
    assert project.json("status")["models"][0]["champion"] == "1"


def test_a_bad_config_exits_2_naming_the_field(project: Project) -> None:
    config = project_config(task="regresion")
    config["executor"]["max_concurrency"] = 0
    project.write_config(config)
    for command in (["tick"], ["validate-config"], ["status"]):
        result = project.run(*command, check=2)
        assert "models[0].task" in result.stderr, result.stderr
        assert "executor.max_concurrency" in result.stderr
        assert "Traceback" not in result.stderr


def test_the_demo_leaves_a_working_project(tmp_path) -> None:  # type: ignore[no-untyped-def]
    demo = Project(tmp_path)
    out = demo.json("demo", "--output", "d", "--until", "2011-02")
    assert out["ticks"] == 7 and out["triggers_fired"] >= 3
    assert out["promotions"] >= 2 and out["rejections"] >= 1, out
    assert sum(out["jobs"].values()) == out["triggers_fired"]
    assert out["state_store_url"].endswith("d/.retrainer/state.db")

    project = Project(tmp_path / "d")
    status = project.json("status")["models"][0]
    assert status["champion"] == out["champion_version"]
    history = project.json("history")
    assert {j["state"] for j in history["jobs"]} >= {"promoted", "rejected"}
    versions = project.json("models", "pm25")["versions"]
    assert len(versions) == sum(out["jobs"].values())
    rolled = project.json("rollback", "pm25")
    assert rolled["from_version"] == out["champion_version"]
    assert project.json("status")["models"][0]["champion"] == rolled["to_version"]


def test_a_job_that_keeps_timing_out_fails_with_a_notification(
    project: Project, hook: Hook
) -> None:
    config = project_config()
    config["models"][0]["training"] = {"trainer": "plugins:SlowRidge", "params": {"seconds": 30}}
    config["executor"].update(timeout_seconds=1.5)
    config["executor"]["retry"]["max_retries"] = 1
    config["project"] = {"notifications": [{"url": hook.url}]}
    project.write_config(config)
    result = project.run("retrain", "pm25", "--reason", "first", "--as-of", "2010-08-01",
                         check=1)
    assert "failed" in result.stdout
    job = project.json("history", "--job", "1")
    assert job["job"]["state"] == "failed"
    assert [a["outcome"] for a in job["attempts"]] == ["timeout", "timeout"]
    assert hook.kinds() == ["trigger_fired", "job_failed"]
    assert project.json("status")["models"][0]["champion"] is None


@pytest.mark.postgres
@pytest.mark.skipif(POSTGRES_URL is None, reason="RETRAINER_TEST_DATABASE_URL is not set")
def test_the_loop_runs_on_postgresql(project: Project, postgres_schema_url: str) -> None:
    project.extra_env = {"RETRAINER_STATE_STORE_URL": postgres_schema_url}
    first_version(project)
    tick = project.json("tick", "--as-of", "2010-12-01")
    assert tick["outcomes"][0]["state"] == "promoted"
    status = project.json("status")
    assert status["state_store_url"].startswith("postgresql")
    assert (status["models"][0]["champion"], status["models"][0]["previous"]) == ("2", "1")
    assert not (project.root / ".retrainer" / "state.db").exists()


def test_two_models_train_side_by_side_within_max_concurrency(project: Project) -> None:
    config = project_config()
    slow = {"trainer": "plugins:SlowRidge", "params": {"seconds": 3}}
    first = {**config["models"][0], "training": slow}
    second = {**first, "name": "pm25_copy"}
    config["models"] = [first, second]
    config["executor"]["max_concurrency"] = 2
    project.write_config(config)

    tick = project.json("tick", "--as-of", "2010-08-01")
    assert sorted((o["model"], o["state"]) for o in tick["outcomes"]) == [
        ("pm25", "promoted"), ("pm25_copy", "promoted")]
    spans = []
    for outcome in tick["outcomes"]:
        (attempt,) = project.json("history", "--job", str(outcome["job_id"]))["attempts"]
        spans.append((attempt["started_at"], attempt["finished_at"]))
    (_, first_end), (second_start, _) = sorted(spans)
    assert second_start < first_end, f"the two jobs ran one after the other: {spans}"
    status = {m["model"]: m["champion"] for m in project.json("status")["models"]}
    assert status == {"pm25": "1", "pm25_copy": "1"}


def _retrain_with(project: Project, trainer: str) -> subprocess.CompletedProcess[str]:
    """A first retrain with ``trainer``, retries ten minutes apart; it must exit 1."""
    config = project_config(training={"trainer": trainer})
    config["executor"]["retry"]["base_delay_seconds"] = 600
    project.write_config(config)
    return project.run("retrain", "pm25", "--reason", "first", "--as-of", "2010-06-01",
                       check=1)


def test_a_failed_attempt_awaiting_its_retry_is_no_success(project: Project) -> None:
    """The fit fails as a full disk would: the job waits for a later tick's retry, so
    `retrain` has no decision to report and exits 1, saying why."""
    result = _retrain_with(project, "plugins:FailingRidge")
    assert "queued" in result.stdout and "no space left" in result.stdout
    again = project.run("retrain", "pm25", "--reason", "again", "--as-of", "2010-06-01",
                        check=2)
    assert "already queued" in again.stderr and "--force" not in again.stderr
    # cancelling it frees the model; an ended job cannot be cancelled
    cancelled = project.json("cancel", "1", "--reason", "disk is being replaced")
    assert cancelled == {"job": 1, "model": "pm25", "state": "failed",
                         "reason": "cancelled: disk is being replaced"}
    assert "is failed, not queued" in project.run("cancel", "1", check=2).stderr
    assert "no job #99" in project.run("cancel", "99", check=1).stderr
    audit = project.json("history", "--job", "1")
    assert "disk is being replaced" in json.dumps(audit)
    anew = project.run("retrain", "pm25", "--reason", "after", "--as-of", "2010-06-01",
                       check=1)
    assert "job #2" in anew.stdout and "already queued" not in anew.stderr


def test_a_trainer_that_cannot_be_built_fails_the_job_at_once(project: Project) -> None:
    """No retry can import a class that does not exist: the job fails on its first attempt
    rather than waiting out its retries with the config it was created with."""
    result = _retrain_with(project, "sklearn.linear_model:NoSuchModel")
    assert "failed" in result.stdout and "cannot import" in result.stdout
    job = project.json("history", "pm25")["jobs"][0]
    assert job["state"] == "failed"


def test_a_regression_target_of_text_is_a_readiness_failure(project: Project) -> None:
    project.write_config(project_config())
    data = pd.read_csv(project.root / "data" / "pm25.csv")
    data["pm"] = data["pm"].astype(str) + " ug/m3"
    data.to_csv(project.root / "data" / "pm25.csv", index=False)
    result = project.run("retrain", "pm25", "--reason", "first", "--as-of", "2010-06-01",
                         check=1)
    assert "skipped" in result.stdout and "not numbers" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_windows_and_times_beyond_the_calendar_are_handled(project: Project) -> None:
    """A window reaching before any time pandas holds takes all the data there is; an
    --as-of outside those times is a usage error, not a traceback and a stranded job."""
    project.write_config(project_config(training_window="1000000d"))
    project.run("retrain", "pm25", "--reason", "all of it", "--as-of", "2010-06-01")
    result = project.run("tick", "--as-of", "0001-01-01T00:00:00Z", check=2)
    assert "give a time from 1678 to 2261" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_one_model_failing_its_tick_does_not_stop_the_others(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process, with the first model's tick broken as a bug would break it: the second
    model still trains, the table names the failure, and the command exits 1."""
    from typer.testing import CliRunner

    from retrainer import orchestrator
    from retrainer.cli.app import app

    config = project_config()
    config["models"] = [config["models"][0], {**config["models"][0], "name": "pm25_copy"}]
    project.write_config(config)
    real = orchestrator.tick_model

    def broken_first(rt, model, as_of):  # type: ignore[no-untyped-def]
        if model.name == "pm25":
            raise RuntimeError("a bug in one model's tick")
        return real(rt, model, as_of)

    monkeypatch.setattr(orchestrator, "tick_model", broken_first)
    monkeypatch.chdir(project.root)
    for name in ("RETRAINER_CONFIG", "RETRAINER_STATE_STORE_URL", "RETRAINER_MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    shown = CliRunner().invoke(app, ["tick", "--as-of", "2010-08-01", "--json"])
    assert shown.exit_code == 1, shown.output
    models = {m["model"]: m for m in json.loads(shown.output)["models"]}
    assert models["pm25"]["error"] == "RuntimeError: a bug in one model's tick"
    assert models["pm25_copy"]["error"] is None
    assert [o["model"] for o in json.loads(shown.output)["outcomes"]] == ["pm25_copy"]
