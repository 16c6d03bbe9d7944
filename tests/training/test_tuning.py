"""Optuna tuning on CV folds, stored in the state database, resumed after a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from tests.training.conftest import build_model

from retrainer.exceptions import TrainerConfigError
from retrainer.store import Store
from retrainer.training.tuning import storage, study_name, trial_record, tune

HERE = Path(__file__).parent


def _model(trials: int, **tuning):
    model = build_model("lightgbm", params={"n_estimators": 200},
                        tuning={"n_trials": trials, **tuning}, cv={"folds": 2})
    return model.model_copy(update={"exclude": ["pm", "high", "level"]})


@pytest.fixture()
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    Store(url).close()  # the state store's own tables first, as in production
    return url


def test_tuning_finds_params_on_cv_folds_and_records_every_trial(train_test, url):
    train, _ = train_test
    seen = []
    result = tune(train, _model(6), storage_url=url, name="s", n_jobs=1, on_trial=seen.append)
    assert sum(result.trials.values()) == 6 and len(seen) == 6
    assert result.best_trial is not None and len(result.fold_scores) == 2
    assert result.best_value == pytest.approx(sum(result.fold_scores) / 2)
    assert result.params["n_estimators"] == 200  # training.params stay, tuned ones added
    assert {"learning_rate", "num_leaves"} <= set(result.params)
    assert [f["fold"] for f in result.folds] == [0, 1]
    record = trial_record(seen[result.best_trial], "rmse")
    assert record["metrics"]["cv_rmse"] == pytest.approx(result.best_value)
    again = tune(train, _model(6), storage_url=url, name="s")  # finished: nothing more runs
    assert again.resumed_trials == 6 and sum(again.trials.values()) == 6
    assert tune(train, _model(0), storage_url=url, name="t") is None


def test_same_seed_same_trials(train_test, tmp_path):
    train, _ = train_test
    params = []
    for name in ("a", "b"):
        url = f"sqlite:///{tmp_path / name}.db"
        result = tune(train, _model(4, pruning=False), storage_url=url, name="x")
        params.append([r["params"] for r in result.records])
    assert params[0] == params[1]


def test_a_trial_left_running_by_a_dead_attempt_is_failed_and_requeued(train_test, url):
    train, _ = train_test
    model = _model(4, pruning=False)
    study = optuna.create_study(storage=storage(url), study_name="r", direction="minimize")
    dead = study.ask()  # what a killed attempt leaves behind: a RUNNING trial
    dead.suggest_float("learning_rate", 0.01, 0.2, log=True)
    result = tune(train, model, storage_url=url, name="r")
    assert result.requeued == [dead.number]
    trials = optuna.load_study(study_name="r", storage=storage(url)).get_trials()
    assert trials[dead.number].state is TrialState.FAIL
    retried = [t for t in trials if t.user_attrs.get("requeued_from") == dead.number]
    assert retried and retried[0].params["learning_rate"] == dead.params["learning_rate"]
    assert sum(t.state is TrialState.COMPLETE for t in trials) == 4


SCRIPT = """
import sys
sys.path.insert(0, {root!r})
import pandas as pd
from tests.training.test_tuning import _model
from retrainer.training.tuning import tune
train = pd.read_pickle({data!r})
tune(train, _model(30, pruning=False), storage_url={url!r}, name="killed")
"""


def test_a_killed_tuning_run_resumes_its_study(train_test, url, tmp_path):
    train, _ = train_test
    train.to_pickle(tmp_path / "train.pkl")
    code = SCRIPT.format(root=str(HERE.parent.parent), data=str(tmp_path / "train.pkl"), url=url)
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": ""})
    deadline = time.monotonic() + 120
    finished: list = []
    while time.monotonic() < deadline and len(finished) < 3:
        time.sleep(0.05)
        try:
            finished = optuna.load_study(study_name="killed", storage=storage(url)).get_trials(
                states=(TrialState.COMPLETE,))
        except KeyError:  # the study does not exist yet
            continue
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert len(finished) >= 3, "the tuning process never finished three trials"
    before = optuna.load_study(study_name="killed", storage=storage(url)).get_trials()
    assert sum(t.state is TrialState.COMPLETE for t in before) < 30

    result = tune(train, _model(30, pruning=False), storage_url=url, name="killed")
    after = optuna.load_study(study_name="killed", storage=storage(url)).get_trials()
    assert result.resumed_trials == sum(t.state is TrialState.COMPLETE for t in before)
    assert sum(t.state is TrialState.COMPLETE for t in after) == 30  # not 30 more
    for old in before:  # what the killed run finished is kept, not redone
        if old.state is TrialState.COMPLETE:
            assert after[old.number].value == old.value
    stale = [t.number for t in before if t.state is TrialState.RUNNING]
    assert result.requeued == stale
    assert study_name("pm25", 7) == "retrainer:pm25:job:7"


def test_a_parameter_the_trainer_does_not_take_fails_tuning_at_once(train_test, url,
                                                                    monkeypatch):
    """Every trial would fail the same way: no trial runs, and no job falls back to the
    default params; if a trial does meet it, the study stops there."""
    train, _ = train_test
    model = build_model("sklearn.linear_model:Ridge", tuning={
        "n_trials": 3, "search_space": {"num_leaves": {"type": "int", "low": 8, "high": 64}}},
        cv={"folds": 2}).model_copy(update={"exclude": ["pm", "high", "level"]})
    with pytest.raises(TrainerConfigError, match=r"search_space\.num_leaves: Ridge takes no"):
        tune(train, model, storage_url=url, name="early")
    assert "early" not in [s.study_name for s in optuna.get_all_study_summaries(url)]
    monkeypatch.setattr("retrainer.training.tuning.trainer_problems", lambda model: [])
    with pytest.raises(TrainerConfigError, match="rejected the training params"):
        tune(train, model, storage_url=url, name="late")
    assert len(optuna.load_study(study_name="late", storage=url).trials) == 1
