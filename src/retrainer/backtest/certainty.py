"""How sure a replay is: the policies' differences resampled over the replayed batches.

One replay is one path through history. Which weeks a schedule happens to hit and which
candidates the gate happens to keep move its result by as much as the policies differ, so a
comparison needs an interval. The batches are resampled in blocks (the circular form of the
moving-block bootstrap the gate uses on its holdout rows, validation/bootstrap.py): a model
serves several batches in a row, so neighbouring batches' scores are not independent, and
blocks of consecutive batches keep that. Every policy is resampled on the same batches (the
comparison is paired). The block length is chosen from the data (Politis & White 2004, as
corrected by Patton, Politis & White 2009): for each policy's interval, from its
differences from the reference; for the share of resamples in which each policy pays most,
the longest of those.

Three answers come out: each policy's difference from a reference policy (``auto`` when it
ran) with its 95% interval (the difference plus or minus Student's t for as many degrees of
freedom as the batches hold blocks, less one, times the resampled differences' standard
deviation, within the smallest and largest resampled difference); when ``never`` ran, the
share of resamples in which each policy pays most (backtest/value.py: net value is priced
on the resampled gains, retrains fixed); and when ``always`` ran too, the interval of each
policy's share of ``always``'s gain over ``never``, the issue's bar's terms, over the
resamples in which ``always`` beat ``never`` (none if it failed to in more than 2.5% of
them: no gain to share).

>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> block_length(rng.normal(size=400)) <= 5  # independent batches: short blocks
True
>>> ar = np.zeros(400)
>>> for t in range(1, 400):
...     ar[t] = 0.9 * ar[t - 1] + rng.normal()
>>> block_length(ar) > 15  # a slow process: long blocks
True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from retrainer.backtest.value import ABSOLUTE_POINTS
from retrainer.triggers.auto import POINTS  # a relative improvement of 0.01 is one point
from retrainer.validation.bootstrap import block_indices

DRAWS = 2000
LEVEL = 0.95
SEED = 0  # the same replay always reports the same intervals
CELLS = 4_000_000  # resampled batch scores held at once (32 MB)


def block_length(series: np.ndarray) -> int:
    """The block length for a block bootstrap of the mean of ``series``: Politis & White's
    (2004, as corrected in 2009) for the circular block bootstrap, rounded up; 1 for a series
    too short or constant."""
    x = np.asarray(series, dtype=float)
    n = len(x)
    if n < 8:
        return 1
    eps = x - x.mean()
    longest = math.ceil(min(3 * math.sqrt(n), n / 3))
    kn = max(5, int(math.sqrt(math.log10(n))))
    m_max = min(math.ceil(math.sqrt(n)) + kn, n - 1)
    acv = np.array([eps[k:] @ eps[:n - k] / n for k in range(m_max + 1)])
    if acv[0] <= 0:  # a constant series
        return 1
    insignificant = np.abs(acv[1:] / acv[0]) < 2 * math.sqrt(math.log10(n) / n)
    m_hat = next((m for m in range(len(insignificant) - kn + 1)
                  if insignificant[m:m + kn].all()), None)  # lags m+1..m+kn insignificant
    m = m_max if m_hat is None else min(2 * max(m_hat, 1), m_max)
    lags = np.arange(1, m + 1)
    ratio = lags / m
    flat_top = np.where(ratio <= 0.5, 1.0, 2 * (1 - ratio))
    g = 2 * np.sum(flat_top * lags * acv[1:m + 1])
    long_run = acv[0] + 2 * np.sum(flat_top * acv[1:m + 1])
    if long_run <= 0 or g == 0:
        return 1
    best = (2 * g * g / (4 / 3 * long_run ** 2)) ** (1 / 3) * n ** (1 / 3)
    return max(1, min(longest, math.ceil(best)))


def certainty(policies: list[dict[str, Any]], higher_is_better: bool,
              cost: float | None = None, value: float | None = None, days: float | None = None,
              draws: int = DRAWS, metric: str = "") -> dict[str, Any] | None:
    """Each policy's difference from the reference (``auto``, else the first policy) in the
    metric's good direction (> 0: the reference is better), with its interval; with
    ``never`` and a cost model, the share of resamples in which each policy pays most; with
    ``never`` and ``always``, the interval of each one's share of ``always``'s gain. None
    unless two policies scored the same batches at least eight times."""
    names = [str(p["name"]) for p in policies]
    if len(names) < 2:
        return None
    reference = "auto" if "auto" in names else names[0]
    values = np.array([[math.nan if v is None else float(v) for v in p["per_batch"]]
                       for p in policies])
    rows = np.array([p["rows"] for p in policies], dtype=float)
    scored = np.isfinite(values).all(axis=0) & (rows > 0).all(axis=0)
    if scored.sum() < 8:
        return None
    values, rows = values[:, scored], rows[:, scored]
    sign = 1.0 if higher_is_better else -1.0
    ref = names.index(reference)
    actual = (values * rows).sum(axis=1) / rows.sum(axis=1)
    tail = (1 - LEVEL) / 2 * 100
    versus, blocks = [], []
    for i, name in enumerate(names):
        if i == ref:
            continue
        block = block_length(values[ref] - values[i])
        blocks.append(block)
        pair = _resampled(values[[ref, i]], rows[[ref, i]], block, draws)
        difference = float(sign * (actual[ref] - actual[i]))
        # the resamples' spread, widened by Student's t for the few independent blocks the
        # batches hold: percentiles alone held a zero difference 73% of the time where
        # neighbouring batches correlate at 0.9, this 81% (certainty_coverage.py)
        resampled = sign * (pair[0] - pair[1])
        spread = float(np.std(resampled, ddof=1))
        half = float(stats.t.ppf(1 - (1 - LEVEL) / 2, max(1, values.shape[1] // block - 1))
                     * spread)
        # but never past what a resample gave: with three or four blocks t widens the
        # interval beyond every resample, and a policy worse on every batch was "not told
        # apart" from one better on every batch
        low = max(difference - half, float(resampled.min()))
        high = min(difference + half, float(resampled.max()))
        versus.append({"name": name, "difference": difference, "low": low, "high": high,
                       "block": block})
    found: dict[str, Any] = {
        "method": "circular block bootstrap over batches", "draws": draws, "level": LEVEL,
        "batches": int(values.shape[1]), "reference": reference, "versus": versus,
        "pays_most_share": None, "share_of_gain": None}
    if "never" not in names:
        return found
    # one block for all, so every policy is resampled on the same batches
    metrics = _resampled(values, rows, max(blocks), draws)
    never = metrics[names.index("never")]
    if "always" in names:
        gain = sign * (metrics[names.index("always")] - never)
        kept = gain > 0  # resamples with a gain to share
        if kept.mean() >= 1 - (1 - LEVEL) / 2:
            shares = sign * (metrics[:, kept] - never[kept]) / gain[kept]
            lows, highs = np.percentile(shares, [tail, 100 - tail], axis=1)
            found["share_of_gain"] = {name: [float(lows[i]) + 0.0, float(highs[i]) + 0.0]
                                      for i, name in enumerate(names)}
    point = (np.full_like(never, 1.0 / POINTS) if metric in ABSOLUTE_POINTS
             else np.abs(never) / POINTS)  # as backtest/value.py prices them
    if None not in (cost, value, days) and np.all(point != 0):
        points = sign * (metrics - never) / point
        retrains = np.array([float(p["retrains"]) for p in policies])
        net = value * points * days - cost * retrains[:, None]
        # a tie goes to fewer retrains, as in value.best_of
        order = np.lexsort((retrains[:, None].repeat(draws, 1), -net), axis=0)[0]
        wins = np.bincount(order, minlength=len(names))
        found["pays_most_share"] = {name: int(wins[i]) / draws for i, name in enumerate(names)}
    return found


def _resampled(values: np.ndarray, rows: np.ndarray, block: int, draws: int) -> np.ndarray:
    """Each policy's row-weighted metric on each resample of the batches (policies x draws)."""
    policies, batches = values.shape
    picks = block_indices(batches, draws, block, np.random.default_rng(SEED), circular=True)
    weighted = values * rows
    found = np.empty((policies, draws))
    step = max(1, CELLS // (policies * batches))  # draws at once, to bound the memory
    for start in range(0, draws, step):
        chosen = picks[start:start + step]
        found[:, start:start + step] = (weighted[:, chosen].sum(axis=2)
                                        / rows[:, chosen].sum(axis=2))
    return found


def verdict(entry: dict[str, Any]) -> str:
    """The reference against one policy: ``better``, ``worse``, or ``not told apart`` when the
    interval holds zero."""
    if entry["low"] > 0:
        return "better"
    if entry["high"] < 0:
        return "worse"
    return "not told apart"


def signed(value: float, digits: int) -> str:
    """``value`` with its sign and ``digits`` significant digits, never in exponent form (a
    difference of 2.3e-05 beside an interval of -0.014..+0.014 reads as +0.0000229); no
    decimals from ``10 ** (digits - 1)`` on, where significant digits would mean exponents.

    >>> signed(2.29e-05, 3), signed(-0.0142, 2), signed(181.4, 2), signed(-0.0, 3)
    ('+0.0000229', '-0.014', '+181', '+0')
    """
    if value == 0 or not math.isfinite(value):  # -0.0 (an rmse difference of 0) is no less
        return "+0" if value == 0 else f"{value:+}"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, digits - 1 - magnitude)
    return f"{value:+.{decimals}f}"
