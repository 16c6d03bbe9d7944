"""Warm starts continue the production booster; anything that changed forces a full fit."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from retrainer.domain import ModelVersion
from retrainer.training.fit import fit_candidate
from retrainer.training.warm_start import plan_warm_start


def _version(lineage=None) -> ModelVersion:
    return ModelVersion(model="pm25", version="4", job_id=1, run_id="r", artifact_uri="u",
                        artifact_sha256="0" * 64, status="champion", metrics={},
                        created_at=datetime(2013, 1, 1, tzinfo=UTC), lineage=lineage or {})


@pytest.fixture(scope="module")
def production(train_test, make_model):
    def fit(trainer):
        train, _ = train_test
        older = train[train["time"] < "2013-03-01"]
        model = make_model(trainer, params={"n_estimators": 300})
        return fit_candidate(older, model)
    return {"lightgbm": fit("lightgbm"), "xgboost": fit("xgboost")}


@pytest.mark.parametrize("trainer", ["lightgbm", "xgboost"])
def test_warm_fit_keeps_the_production_trees_and_adds_rounds(train_test, make_model,
                                                             production, trainer):
    train, test = train_test
    prod = production[trainer]
    model = make_model(trainer, params={"n_estimators": 300})
    plan = plan_warm_start(train, model, _version({"hyperparameters": {"n_estimators": 300}}),
                           prod.bundle)
    production_text = (prod.bundle.estimator.model_to_string() if trainer == "lightgbm"
                       else bytes(prod.bundle.estimator.save_raw()))
    assert plan.mode == "warm" and plan.chain == 1 and "unchanged" in plan.reason
    warm = fit_candidate(train, model, params=plan.params, warm=plan.warm)
    assert warm.mode == "warm" and warm.bundle.info["training_mode"] == "warm"
    assert warm.total_rounds == prod.total_rounds + warm.best_iteration
    if trainer == "lightgbm":  # the first trees are production's, byte for byte
        old = prod.bundle.estimator.dump_model()["tree_info"]
        new = warm.bundle.estimator.dump_model()["tree_info"][: len(old)]
        assert [t["tree_structure"] for t in new] == [t["tree_structure"] for t in old]
    else:
        old = prod.bundle.estimator.get_dump()
        assert warm.bundle.estimator.get_dump()[: len(old)] == old
    # continuing never changes the production booster itself
    assert production_text == (prod.bundle.estimator.model_to_string() if trainer == "lightgbm"
                               else bytes(prod.bundle.estimator.save_raw()))
    rmse = lambda b: float(np.sqrt(np.mean((b.prediction(test) - test["pm"]) ** 2)))  # noqa: E731
    assert rmse(warm.bundle) < 0.75 * test["pm"].std()
    assert rmse(warm.bundle) < 1.1 * rmse(prod.bundle)


def test_a_changed_feature_set_type_or_category_forces_a_full_fit(train_test, make_model,
                                                                    production):
    train, _ = train_test
    prod = production["lightgbm"].bundle
    model = make_model("lightgbm")
    fewer = model.model_copy(update={"exclude": [*model.exclude, "Ir"]})
    assert "feature set changed" in plan_warm_start(train, fewer, _version(), prod).reason
    retyped = model.model_copy(update={"categorical": ["cbwd", "hour"]})
    assert "type changed" in plan_warm_start(train, retyped, _version(), prod).reason
    new_level = train.assign(cbwd=train["cbwd"].where(train.index % 50 > 0, "calm"))
    assert "new categories" in plan_warm_start(new_level, model, _version(), prod).reason
    assert plan_warm_start(train, model, None, None).reason.startswith("no production")
    chained = _version({"warm_chain": 3})
    assert "max_chain" in plan_warm_start(train, model, chained, prod).reason
    rejected = ModelVersion(model="pm25", version="9", job_id=2, run_id="r", artifact_uri="u",
                            artifact_sha256="1" * 64, status="rejected", metrics={},
                            created_at=datetime(2013, 2, 1, tzinfo=UTC),
                            lineage={"training_mode": "warm", "warm_start": {"from_version": "4"}})
    retry = plan_warm_start(train, model, _version(), prod, rejected)
    assert retry.mode == "full" and "version 9) was rejected" in retry.reason
    promoted_elsewhere = ModelVersion(**{**rejected.__dict__, "status": "retired"})
    assert plan_warm_start(train, model, _version(), prod, promoted_elsewhere).mode == "warm"
    off = make_model("lightgbm", warm_start={"enabled": False})
    assert plan_warm_start(train, off, _version(), prod).mode == "full"
    xgb = make_model("xgboost")
    assert "lightgbm model" in plan_warm_start(train, xgb, _version(), prod).reason
