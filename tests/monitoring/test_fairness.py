from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retrainer.exceptions import DataError
from retrainer.monitoring.fairness import fairness_gaps


def _rates(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per-group rates the slow, obvious way."""
    rows = {}
    for group, part in frame.groupby(column):
        positive, negative = part[part["y"] == 1], part[part["y"] == 0]
        rows[str(group)] = {
            "selection_rate": (part["pred"] == 1).mean(),
            "tpr": (positive["pred"] == 1).mean() if len(positive) else None,
            "fpr": (negative["pred"] == 1).mean() if len(negative) else None,
        }
    return pd.DataFrame(rows).T


def test_gaps_match_a_direct_computation() -> None:
    rng = np.random.default_rng(50)
    n = 5000
    frame = pd.DataFrame({"sex": rng.choice(["f", "m"], n),
                          "region": rng.choice(["n", "s", "e", "w"], n)})
    bias = np.where(frame["sex"] == "m", 0.15, 0.0)
    frame["y"] = (rng.uniform(size=n) < 0.4).astype(int)
    frame["pred"] = (rng.uniform(size=n) < 0.3 + 0.4 * frame["y"] + bias).astype(int)
    report = fairness_gaps(frame, ["sex", "region"], "pred", "y", max_parity_gap=0.1,
                           max_odds_gap=0.5)
    for column in ("sex", "region"):
        expected = _rates(frame, column)
        found = report.columns[column]
        for group, row in expected.iterrows():
            assert found.groups[group]["selection_rate"] == pytest.approx(row["selection_rate"])
            assert found.groups[group]["tpr"] == pytest.approx(row["tpr"])
        parity = expected["selection_rate"].max() - expected["selection_rate"].min()
        odds = max(expected["tpr"].max() - expected["tpr"].min(),
                   expected["fpr"].max() - expected["fpr"].min())
        assert found.parity_gap == pytest.approx(parity)
        assert found.odds_gap == pytest.approx(odds)
    assert report.columns["sex"].violations and not report.columns["region"].violations
    assert report.alert and report.to_json()["columns"]["sex"]["parity_gap"] > 0.1


def test_small_groups_and_missing_values() -> None:
    frame = pd.DataFrame({"g": ["a"] * 50 + ["b"] * 50 + ["tiny"] * 3 + [None] * 5,
                          "pred": [1] * 25 + [0] * 25 + [1] * 50 + [0] * 3 + [1] * 5})
    report = fairness_gaps(frame, ["g"], "pred", min_group_rows=30)
    gaps = report.columns["g"]
    assert set(gaps.groups) == {"a", "b", "tiny"}
    assert gaps.parity_gap == pytest.approx(0.5)  # 'tiny' (rate 0) is left out
    assert gaps.odds_gap is None and gaps.disparate_impact == pytest.approx(0.5)
    with pytest.raises(DataError, match=r"\['nope'\]"):
        fairness_gaps(frame, ["nope"], "pred")
