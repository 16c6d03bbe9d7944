"""Tuned training, lineage, semantic versions, batch scoring and artifact integrity,
end to end through the real CLI, worker processes, SQLite state store and MLflow."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import mlflow
import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState
from tests.e2e.harness import Project, project_config

pytestmark = pytest.mark.e2e


def tuned_config(trials: int = 4, **training):
    config = project_config()
    config["models"][0]["training"] = {
        "trainer": "lightgbm", "params": {"n_estimators": 200},
        "cv": {"folds": 2}, "tuning": {"n_trials": trials}, **training}
    return config


def client(project: Project) -> mlflow.MlflowClient:
    uri = f"sqlite:///{project.root / '.retrainer' / 'mlflow.db'}"
    return mlflow.MlflowClient(uri, registry_uri=uri)


def child_runs(project: Project, run_id: str) -> list:
    mlc = client(project)
    experiment = mlc.get_run(run_id).info.experiment_id
    return mlc.search_runs([experiment], f"tags.`mlflow.parentRunId` = '{run_id}'")


def stored_bundle(project: Project, version: str) -> Path:
    uri = client(project).get_model_version_download_uri("pm25", version)
    return Path(uri.removeprefix("file://")) / "artifacts" / "bundle"


def test_tuned_versions_carry_lineage_trials_and_semver_and_predict_scores_them(
    project: Project,
) -> None:
    project.write_config(tuned_config())
    out = project.json("retrain", "pm25", "--reason", "first", "--as-of", "2010-08-01")
    assert out["job"]["state"] == "promoted", out

    version = {str(v["version"]): v for v in project.json("models", "pm25")["versions"]}["1"]
    tags = version["tags"]
    assert tags["retrainer.semver"] == "v1.0.0"  # released when promoted
    assert tags["retrainer.training_mode"] == "full" and tags["retrainer.job_id"] == "1"
    assert tags["retrainer.trigger"] == "manual" and len(tags["retrainer.data_hash"]) == 64
    assert len(tags["retrainer.artifact_sha256"]) == 64
    assert tags["retrainer.tuning_trials"] == "4"
    trials = child_runs(project, version["run_id"])
    assert sorted(int(r.data.tags["retrainer.trial"]) for r in trials) == [0, 1, 2, 3]
    assert any("cv_rmse" in r.data.metrics for r in trials)

    store = project.store()
    stored = store.get_version("pm25", "1")
    lineage = stored.lineage
    assert stored.semver == "v1.0.0" and lineage["training_mode"] == "full"
    assert sum(lineage["tuning"]["trials"].values()) == 4  # complete + pruned
    assert set(lineage["hyperparameters"]) >= {"learning_rate", "num_leaves", "n_estimators"}
    assert lineage["metric_ci"]["rmse"][0] < lineage["metrics"]["rmse"] < \
        lineage["metric_ci"]["rmse"][1]
    for key in ("trained_at", "data_start", "data_end", "rows", "data_sha256", "features",
                "schema", "packages", "model_sha256", "artifact_sha256"):
        assert lineage.get(key), key
    assert "optuna" in lineage["packages"] and "lightgbm" in lineage["packages"]

    # the next retrain continues the production booster: warm, no search
    out = project.json("retrain", "pm25", "--reason", "refresh", "--as-of", "2010-12-01")
    second = store.get_version("pm25", out["job"]["candidate_version"])
    assert second.lineage["training_mode"] == "warm"
    assert second.lineage["warm_start"]["from_version"] == "1"
    assert second.semver in ("v1.1.0", f"v1.1.0-rc.{second.version}")
    store.close()

    job = project.json("history", "--job", "2")
    report = job["validation_report"]
    assert report["metric_ci"]["rmse"]["candidate"] and report["test"]["p_value"] is not None
    text = project.run("history", "--job", "2").stdout
    assert "95% CI" in text and "test diebold_mariano: p=" in text

    data = pd.read_csv(project.root / "data" / "pm25.csv").tail(200)
    data.drop(columns=["pm"]).to_csv(project.root / "score.csv", index=False)
    project.run("predict", "pm25", "score.csv", "--output", "out/predictions.parquet")
    scored = pd.read_parquet(project.root / "out" / "predictions.parquet")
    assert len(scored) == 200 and list(scored.columns) == ["time", "prediction"]
    assert scored["prediction"].notna().all()
    by_semver = project.run("predict", "pm25", "score.csv", "--version", "v1.0.0").stdout
    assert by_semver.splitlines()[0] == "time,prediction" and len(by_semver.splitlines()) == 201
    without_v = project.run("predict", "pm25", "score.csv", "--version", "1.0.0").stdout
    assert without_v == by_semver
    missing = project.run("predict", "pm25", "score.csv", "--version", "v9.9.9", check=1)
    assert "no version v9.9.9" in missing.stderr and "Traceback" not in missing.stderr


def test_a_tampered_artifact_is_refused_and_nothing_is_loaded(project: Project) -> None:
    project.write_config(tuned_config(trials=0))
    project.json("retrain", "pm25", "--reason", "first", "--as-of", "2010-08-01")
    data = pd.read_csv(project.root / "data" / "pm25.csv").tail(50)
    data.to_csv(project.root / "score.csv", index=False)
    project.run("predict", "pm25", "score.csv", "--output", "ok.csv")

    booster = stored_bundle(project, "1") / "model.lgb.txt"
    booster.write_text(booster.read_text().replace("shrinkage=", "shrinkage=1", 1))
    result = project.run("predict", "pm25", "score.csv", "--output", "bad.csv", check=1)
    assert "artifact digest mismatch" in result.stderr and "pm25 version 1" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project.root / "bad.csv").exists()


def test_a_job_killed_mid_tuning_resumes_its_study(project: Project) -> None:
    project.write_config(tuned_config(trials=30, warm_start={"enabled": False}))
    proc = project.spawn("retrain", "pm25", "--reason", "first", "--as-of", "2010-08-01",
                         "--json")
    url = f"sqlite:///{project.root / '.retrainer' / 'state.db'}"
    name = "retrainer:pm25:job:1"
    deadline = time.monotonic() + 120
    finished: list = []
    while time.monotonic() < deadline and len(finished) < 3:
        time.sleep(0.1)
        try:
            study = optuna.load_study(study_name=name, storage=url)
        except (KeyError, Exception):  # the database or the study does not exist yet
            continue
        finished = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    worker = project.store().attempts(1)[-1].worker
    os.kill(int(worker.rsplit(">", 1)[1]), signal.SIGKILL)  # the job's worker, mid-study
    _out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    assert len(finished) >= 3

    attempts = project.json("history", "--job", "1")["attempts"]
    assert [a["outcome"] for a in attempts] == ["died", "succeeded"]
    trials = optuna.load_study(study_name=name, storage=url).get_trials()
    done = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(done) == 30  # resumed: the first attempt's trials count, none ran twice
    lineage = project.store().get_version("pm25", "1").lineage
    assert lineage["tuning"]["resumed_trials"] >= len(finished)
    version = project.json("models", "pm25")["versions"][0]
    logged = [int(r.data.tags["retrainer.trial"]) for r in child_runs(project, version["run_id"])]
    assert sorted(logged) == sorted(t.number for t in trials if t.state is not TrialState.RUNNING)
