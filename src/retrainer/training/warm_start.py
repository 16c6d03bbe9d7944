"""Warm start: continue from the production booster, or fit from scratch, and say why.

A candidate continues from production's booster (LightGBM ``init_model``, XGBoost
``xgb_model``) only when everything the trees were built on is unchanged:

* warm start is enabled and the trainer is LightGBM or XGBoost, the same as production's;
* the task and (for classifiers) the classes are the same;
* the feature list, in order, and which features are categorical are the same;
* every category seen in the new training rows is one production already knows (the
  candidate keeps production's category levels, so the codes the trees split on line up);
* production is fewer than ``warm_start.max_chain`` warm generations away from a full fit
  (boosters only ever grow, so every few refreshes a full fit starts over);
* the previous candidate was not a warm continuation of the same production version that
  got rejected (continuing the same booster again would most likely fail the same way: the
  next candidate gets a full, tuned fit instead);
* the gate is not ``cv_paired_t``, which compares full-fit recipes on CV folds.

Otherwise the candidate is fitted from scratch. The decision and its reason go into the
version's lineage (``training_mode``: ``warm`` | ``full``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from retrainer.config import ModelConfig
from retrainer.domain import ModelVersion
from retrainer.training.bundle import ModelBundle
from retrainer.training.fit import WarmStart, booster_rounds
from retrainer.training.template import learn_template
from retrainer.training.trainers import is_booster


@dataclass(frozen=True)
class WarmPlan:
    mode: str  # warm | full
    reason: str
    chain: int  # consecutive warm generations ending with this candidate (0: full fit)
    warm: WarmStart | None = None
    params: dict[str, Any] | None = None  # hyperparameters to continue with (production's)


def _full(reason: str) -> WarmPlan:
    return WarmPlan("full", reason, 0)


def plan_warm_start(
    train: pd.DataFrame,
    model: ModelConfig,
    champion: ModelVersion | None,
    champion_bundle: ModelBundle | None,
    last_candidate: ModelVersion | None = None,
) -> WarmPlan:
    """Decide between a warm and a full fit for a candidate trained on ``train``;
    ``last_candidate`` is the model's most recently registered version, if any."""
    cfg = model.training
    if not cfg.warm_start.enabled:
        return _full("warm start disabled (training.warm_start.enabled: false)")
    if not is_booster(cfg.trainer):
        return _full(f"trainer {cfg.trainer} cannot continue a booster")
    if model.validation.test == "cv_paired_t":
        return _full("validation.test cv_paired_t compares full-fit recipes on CV folds")
    if champion is None or champion_bundle is None:
        return _full("no production model to continue from")
    prod = champion_bundle
    if prod.trainer != cfg.trainer:
        return _full(f"production is a {prod.trainer} model, the candidate {cfg.trainer}")
    if prod.task is not model.task:
        return _full(f"production is a {prod.task} model")
    new = learn_template(train, model)  # what a full fit would learn from these rows
    if new.features != prod.features:
        added = sorted(set(new.features) - set(prod.features))
        removed = sorted(set(prod.features) - set(new.features))
        what = f"added {added}, removed {removed}" if added or removed else "reordered"
        return _full(f"feature set changed ({what})")
    if set(new.categorical) != set(prod.categorical):
        changed = sorted(set(new.categorical) ^ set(prod.categorical))
        return _full(f"feature type changed (categorical vs numeric): {changed}")
    for column in prod.categorical:
        unseen = sorted(set(new.categories[column]) - set(prod.categories.get(column, [])))
        if unseen:
            return _full(f"new categories in {column!r}: {unseen[:5]}")
    if new.classes != prod.classes:
        return _full(f"the classes changed ({prod.classes} -> {new.classes})")
    if (last_candidate is not None and last_candidate.status == "rejected"
            and last_candidate.lineage.get("training_mode") == "warm"
            and (last_candidate.lineage.get("warm_start") or {}).get("from_version")
            == champion.version):
        return _full(f"the last warm candidate from production version {champion.version} "
                     f"(version {last_candidate.version}) was rejected")
    chain = int(champion.lineage.get("warm_chain", 0) or 0)
    if chain >= cfg.warm_start.max_chain:
        return _full(f"production is {chain} warm generation(s) from a full fit "
                     f"(training.warm_start.max_chain {cfg.warm_start.max_chain})")
    rounds = booster_rounds(prod.estimator, prod.trainer) or 0
    params = champion.lineage.get("hyperparameters")
    return WarmPlan(
        mode="warm",
        reason=f"continues production version {champion.version} ({rounds} rounds); "
        "features, types and categories unchanged",
        chain=chain + 1,
        warm=WarmStart(prod, rounds, cfg.warm_start.n_estimators),
        params=dict(params) if isinstance(params, dict) else dict(cfg.params),
    )
