"""Warm start vs full refit on the bundled Beijing PM2.5 data: fit time and holdout RMSE.

For each refresh date the "production" model is a full fit on the 365 days ending 90 days
earlier (tuned with the demo's budget). At the refresh date three candidates are fitted on
the same rows (the 365 days before it minus the most recent 20%, the holdout):

* warm: continue production's booster (retrainer's warm start, at most 300 added rounds);
* full: fit from scratch with production's hyperparameters;
* full+tuned: an Optuna search (6 trials, 3 CV folds) and then a full fit, what a full
  refresh costs in retrainer when tuning is on.

All are scored on the same holdout, next to production itself (no refresh).

Run:  .venv/bin/python benchmarks/warm_start.py [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from retrainer.config import ModelConfig
from retrainer.demo.dataset import load_beijing
from retrainer.domain import ModelVersion
from retrainer.store import Store
from retrainer.training.fit import fit_candidate, time_split
from retrainer.training.tuning import tune
from retrainer.training.warm_start import plan_warm_start

FEATURES = ["hour", "month", "DEWP", "TEMP", "PRES", "cbwd", "Iws", "Is", "Ir", "pm_lag1",
            "pm_lag24"]
REFRESHES = ["2012-01-01", "2012-04-01", "2012-07-01", "2012-10-01", "2013-01-01",
             "2013-04-01", "2013-07-01", "2013-10-01", "2014-01-01", "2014-04-01",
             "2014-07-01", "2014-10-01"]


def model_config(tuned_trials: int) -> ModelConfig:
    return ModelConfig(
        name="pm25", source={"kind": "csv", "path": "unused.csv"}, time_column="time",
        target="pm", task="regression", features=FEATURES, categorical=["cbwd"],
        training={"trainer": "lightgbm",
                  "params": {"n_estimators": 600, "learning_rate": 0.05, "num_leaves": 31},
                  "cv": {"folds": 3, "gap": "24h"}, "tuning": {"n_trials": tuned_trials},
                  "warm_start": {"enabled": True, "n_estimators": 300, "max_chain": 99}},
    )


def window(frame: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    part = frame[(frame["time"] >= end - timedelta(days=365)) & (frame["time"] < end)]
    return part.dropna(subset=["pm"]).reset_index(drop=True)


def rmse(bundle, holdout: pd.DataFrame) -> float:
    return float(np.sqrt(np.mean((bundle.prediction(holdout) - holdout["pm"]) ** 2)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    frame = load_beijing()
    model = model_config(tuned_trials=6)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'state.db'}"
        Store(url).close()
        for i, when in enumerate(REFRESHES):
            end = pd.Timestamp(when, tz="UTC")
            old_train, _ = time_split(window(frame, end - timedelta(days=90)), "time", 0.2)
            tuned = tune(old_train, model, storage_url=url, name=f"prod-{i}", n_jobs=args.threads)
            assert tuned is not None
            production = fit_candidate(old_train, model, n_jobs=args.threads, params=tuned.params)
            train, holdout = time_split(window(frame, end), "time", 0.2)
            version = ModelVersion("pm25", "1", None, None, "", "", "champion", {},
                                   end.to_pydatetime(),
                                   lineage={"hyperparameters": tuned.params})
            plan = plan_warm_start(train, model, version, production.bundle)
            assert plan.mode == "warm", plan.reason
            warm = fit_candidate(train, model, n_jobs=args.threads, params=plan.params,
                                 warm=plan.warm)
            full = fit_candidate(train, model, n_jobs=args.threads, params=tuned.params)
            started = time.perf_counter()
            search = tune(train, model, storage_url=url, name=f"cand-{i}", n_jobs=args.threads)
            assert search is not None
            retuned = fit_candidate(train, model, n_jobs=args.threads, params=search.params)
            rows.append({
                "refresh": when, "rows": len(train),
                "warm_s": warm.fit_seconds, "full_s": full.fit_seconds,
                "tuned_s": time.perf_counter() - started,
                "prod_rmse": rmse(production.bundle, holdout),
                "warm_rmse": rmse(warm.bundle, holdout), "full_rmse": rmse(full.bundle, holdout),
                "tuned_rmse": rmse(retuned.bundle, holdout),
                "added": warm.best_iteration, "prod_rounds": production.total_rounds,
            })
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.precision", 3):
        print(table.to_string(index=False))
    med = statistics.median
    print(f"\nmedian over {len(table)} refreshes ({args.threads} threads):")
    print(f"  fit time  warm {med(table.warm_s):.3f} s | full {med(table.full_s):.3f} s | "
          f"full+tuned {med(table.tuned_s):.2f} s")
    print(f"  warm / full time        {med(table.warm_s / table.full_s):.2f}x")
    print(f"  warm / full+tuned time  {med(table.warm_s / table.tuned_s):.3f}x")
    print(f"  holdout RMSE  production {med(table.prod_rmse):.2f} | warm {med(table.warm_rmse):.2f}"
          f" | full {med(table.full_rmse):.2f} | full+tuned {med(table.tuned_rmse):.2f}")
    print(f"  warm / full RMSE        {med(table.warm_rmse / table.full_rmse):.3f}x "
          f"(warm better in {int((table.warm_rmse < table.full_rmse).sum())} of {len(table)})")


if __name__ == "__main__":
    main()
