"""What any retraining policy could reach on a dataset: schedules without a gate, and the
best schedule chosen with hindsight.

Not retrainer's loop. Every week's model (LightGBM, default parameters, fitted from scratch
on the window before it) is scored on every later batch once; a policy is then just a
choice of which model serves each batch:

* ``never`` / ``always`` / ``periodic:K`` promote every retrain (no gate);
* ``--ages`` adds the staleness curve: how much more loss a model of each age (in batches)
  has than the freshest one, on the same batches; how fast the model goes stale is what
  decides whether retraining often pays at all;
* ``hindsight B`` is the best choice of B retrain batches, found by dynamic programming
  over the full score table — it knows the future, so it bounds what a policy with B
  retrains can reach (a model that happens to generalise well can serve long after it is
  stale; the gate is how a real policy tries to keep such models).

    python benchmarks/backtest/hindsight.py elec2.csv --target class --time-column time \
        --batch 7D --window 4 --budgets 13,32
    python benchmarks/backtest/hindsight.py src/retrainer/demo/data/beijing_pm25_2010_2014.csv.gz \
        --target pm --batch 168 --window 52 --drop No,year --budgets 23,64

``--window`` counts batches; ``--batch`` is rows, or a period with ``--time-column``.
"""

from __future__ import annotations

import argparse

import lightgbm as lgb
import numpy as np
import pandas as pd

from retrainer.backtest import infer_task
from retrainer.domain.metrics import Task


def batch_index(frame: pd.DataFrame, time_column: str | None, batch: str) -> np.ndarray:
    if time_column is None:
        return np.arange(len(frame)) // int(batch)
    times = pd.to_datetime(frame[time_column])
    return ((times - times.iloc[0]) // pd.Timedelta(batch)).to_numpy()


def loss_table(frame: pd.DataFrame, target: str, batches: np.ndarray, window: int,
               classification: bool) -> tuple[np.ndarray, np.ndarray]:
    """(loss[t, s]: summed loss on batch s of the model fitted on batches t-window..t-1,
    rows scored per batch). Loss is errors for classification, squared error otherwise."""
    labelled = frame[target].notna().to_numpy()
    features = frame.drop(columns=[target])
    for column in features.columns:
        if not pd.api.types.is_numeric_dtype(features[column]):
            features[column] = features[column].astype("category")
    y = frame[target]
    if classification:
        y = y.astype("category").cat.codes
    y = y.to_numpy()
    count = int(batches.max()) + 1
    rows = np.bincount(batches[labelled], minlength=count).astype(float)
    loss = np.zeros((count, count))
    estimator = lgb.LGBMClassifier if classification else lgb.LGBMRegressor
    for t in range(window, count):
        train = (batches >= t - window) & (batches < t) & labelled
        model = estimator(verbose=-1, n_jobs=1).fit(features[train], y[train])
        scored = (batches >= t) & labelled
        predicted = model.predict(features[scored])
        row_loss = (predicted != y[scored]) if classification else (predicted - y[scored]) ** 2
        loss[t, t:] = np.bincount(batches[scored], weights=row_loss, minlength=count)[t:]
    return loss, rows


def best_with_budget(loss: np.ndarray, start: int, budget: int) -> float:
    """The least total loss over batches start.. with at most ``budget`` retrains after the
    first model (dynamic programming over when each retrain happens)."""
    count = loss.shape[0]
    served = np.cumsum(loss, axis=1)  # served[t, s]: model t's loss on batches ..s

    def span(t: int, end: int) -> float:  # model t serving batches t..end-1
        return served[t, end - 1] - (served[t, t - 1] if t > 0 else 0.0)

    best = np.zeros((count + 1, budget + 1))
    for t in range(count - 1, start - 1, -1):
        for left in range(budget + 1):
            value = span(t, count)
            if left and t + 1 < count:
                value = min(value, min(span(t, s) + best[s, left - 1]
                                       for s in range(t + 1, count)))
            best[t, left] = value
    return float(best[start, budget])


def staleness(loss: np.ndarray, rows: np.ndarray, start: int, ages: list[int]
              ) -> dict[int, float]:
    """Mean excess loss of a model ``age`` batches old over the freshest model, on the
    batches both can score, as a share of the freshest model's mean loss."""
    count = loss.shape[0]
    fresh = sum(loss[s, s] for s in range(start, count)) / rows[start:].sum()
    curve = {}
    for age in ages:
        scored = [s for s in range(start + age, count) if rows[s]]
        if scored and fresh:
            excess = sum(loss[s - age, s] - loss[s, s] for s in scored) / rows[scored].sum()
            curve[age] = float(excess / fresh)
    return curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data")
    parser.add_argument("--target", required=True)
    parser.add_argument("--time-column")
    parser.add_argument("--batch", required=True)
    parser.add_argument("--window", type=int, default=4, help="training window in batches")
    parser.add_argument("--drop", default="", help="comma list of columns that are not features")
    parser.add_argument("--budgets", default="", help="comma list of retrain budgets")
    parser.add_argument("--periods", default="2,3,4,5,6,8,10")
    parser.add_argument("--ages", default="", help="comma list of model ages (batches) for "
                        "the staleness curve")
    args = parser.parse_args()

    frame = pd.read_csv(args.data)
    batches = batch_index(frame, args.time_column, args.batch)
    drop = [c for c in args.drop.split(",") if c]
    if args.time_column:
        drop.append(args.time_column)
    frame = frame.drop(columns=drop)
    classification = infer_task(frame[args.target]) is Task.CLASSIFICATION  # as the backtest
    loss, rows = loss_table(frame, args.target, batches, args.window, classification)
    start, count = args.window, loss.shape[0]
    total = rows[start:].sum()

    def metric(summed: float) -> float:
        return 1 - summed / total if classification else float(np.sqrt(summed / total))

    def periodic(k: int) -> float:
        return sum(loss[start + (s - start) // k * k, s] for s in range(start, count))

    never = metric(sum(loss[start, s] for s in range(start, count)))
    always = metric(sum(loss[s, s] for s in range(start, count)))
    name = "accuracy" if classification else "rmse"
    print(f"{args.data}: {count - start} scored batches, {name}, window {args.window} batches")
    print(f"{'policy':14} {name:>9} {'retrains':>8} {'share of gain':>13}")

    def show(label: str, value: float, retrains: int) -> None:
        share = (value - never) / (always - never) + 0.0  # no "-0%"
        print(f"{label:14} {value:9.4f} {retrains:8d} {share:13.0%}")

    show("never", never, 0)
    show("always", always, count - start - 1)
    for k in (int(p) for p in args.periods.split(",") if p):
        show(f"periodic:{k}", metric(periodic(k)), (count - start - 1) // k)
    for budget in (int(b) for b in args.budgets.split(",") if b):
        show(f"hindsight {budget}", metric(best_with_budget(loss, start, budget)), budget)
    ages = [int(a) for a in args.ages.split(",") if a]
    if ages:
        kind = "errors" if classification else "squared error"
        print(f"\nstaleness: extra {kind} of a model N batches old over the freshest one")
        for age, excess in staleness(loss, rows, start, ages).items():
            print(f"  age {age:3d}: {excess:+7.1%}")


if __name__ == "__main__":
    main()
