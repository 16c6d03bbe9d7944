"""Columns that hold the target itself (data/columns.py ``target_leaks``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retrainer.data.columns import target_leaks


def _rentals(rows: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({
        "temp": rng.normal(15, 8, rows),
        "hour": rng.integers(0, 24, rows),
        "casual": rng.poisson(30, rows),
        "registered": rng.poisson(150, rows),
        "site": rng.choice(["a", "b", "c"], rows),
    })
    frame["cnt"] = frame["casual"] + frame["registered"]
    return frame


def test_parts_that_add_up_to_the_target_are_named_with_the_identity() -> None:
    frame = _rentals()
    features = ["temp", "hour", "casual", "registered", "site"]
    found = target_leaks(frame, "cnt", features)
    assert found == dict.fromkeys(
        ["casual", "registered"], "part of the target (cnt = casual + registered on every row)")
    # weights and an offset are spelled out; float parts count too
    scaled = frame.assign(kwh=frame["cnt"] * 0.5 + 3.0, share=frame["casual"] * 0.5)
    scaled["rest"] = scaled["kwh"] - scaled["share"]
    found = target_leaks(scaled, "kwh", ["temp", "share", "rest"])
    assert set(found) == {"share", "rest"}
    assert "kwh = share + rest on every row" in found["share"]
    assert target_leaks(scaled, "kwh", ["temp", "cnt"])["cnt"] == (
        "part of the target (kwh = 0.5·cnt + 3 on every row)")
    # one part is the target: the others give it with their signs
    assert target_leaks(frame, "registered", ["casual", "cnt", "temp"])["casual"] == (
        "part of the target (registered = cnt - casual on every row)")
    assert target_leaks(frame.assign(debt=-frame["cnt"] - 2), "debt", ["temp", "cnt"])[
        "cnt"] == "part of the target (debt = -cnt - 2 on every row)"
    # an infinite target is no label: the identity holds on the others
    broken = frame.astype({"cnt": float})
    broken.loc[broken.index[:2], "cnt"] = np.inf
    assert set(target_leaks(broken, "cnt", features)) == {"casual", "registered"}


def test_parts_stored_as_float32_add_up_to_the_target_among_many_columns() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(3000, 120)).astype("float32"),
                         columns=[f"c{i:03d}" for i in range(120)])
    frame["y"] = frame["c003"] + 2 * frame["c007"] - frame["c110"]  # float32 sums: ~1e-7 off
    features = [c for c in frame.columns if c != "y"]
    found = target_leaks(frame, "y", features)
    assert found == dict.fromkeys(
        ["c003", "c007", "c110"], "part of the target (y = c003 + 2·c007 - c110 on every row)")
    noise = rng.normal(0, 1e-3, len(frame)).astype("float32")  # 1e-3 of the spread: a model's
    assert target_leaks(frame.assign(y=frame["y"] + noise), "y", features) == {}


def test_a_relabelled_target_is_found_and_a_good_feature_is_not() -> None:
    frame = _rentals()
    frame["busy"] = np.where(frame["cnt"] > 180, "yes", "no")
    frame["busy_code"] = (frame["busy"] == "yes").astype(int)
    frame.loc[frame.index[:3], "busy_code"] = np.nan  # a few gaps do not hide it
    frame["hint"] = np.where(frame["registered"] > 150, 1, 0)  # predictive, not a copy
    found = target_leaks(frame, "busy", ["temp", "site", "hint", "busy_code"])
    assert found == {"busy_code": "the target under another name (one value of it for each "
                                  "value of busy)"}


def test_noise_identifiers_constants_and_too_few_rows_are_not_leaks() -> None:
    frame = _rentals()
    noisy = frame.assign(cnt=frame["cnt"] + np.random.default_rng(2).normal(0, 0.01, len(frame)))
    assert target_leaks(noisy, "cnt", ["casual", "registered", "temp"]) == {}
    # a target unique to every row pairs one to one with any identifier: not a relabelling
    ids = noisy.assign(row_id=[f"r{i}" for i in range(len(noisy))])
    assert target_leaks(ids, "cnt", ["row_id", "temp"]) == {}
    constant = frame.assign(kind="x", flag=1)
    assert target_leaks(constant, "kind", ["flag", "temp"]) == {}
    # with barely more rows than columns any target is a weighted sum of them
    assert target_leaks(frame.head(20), "cnt", ["temp", "hour", "casual", "registered"]) == {}
    assert target_leaks(frame.head(60), "cnt", ["temp", "casual", "registered"]) != {}
    assert target_leaks(frame, "missing", ["temp"]) == {}


def test_rows_held_twice_make_no_measurement_a_relabelling() -> None:
    """A file that holds every row twice repeats every value of a continuous target, and
    every measurement then pairs with it value for value: that is no relabelling; a real
    one still is."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    frame["y"] = frame["a"] + np.linspace(0, 2, 400) * frame["b"]
    twice = pd.concat([frame, frame]).sort_index(kind="stable")
    assert target_leaks(twice, "y", ["a", "b"]) == {}
    rentals = _rentals()
    rentals["busy"] = np.where(rentals["cnt"] > 180, "yes", "no")
    rentals["busy_code"] = (rentals["busy"] == "yes").astype(int)
    twice = pd.concat([rentals, rentals])
    assert list(target_leaks(twice, "busy", ["temp", "busy_code"])) == ["busy_code"]
    # a count target with many values, each on rows that differ, still pairs with its copy
    rentals["cnt_code"] = rentals["cnt"].astype(str)
    assert list(target_leaks(pd.concat([rentals, rentals]), "cnt", ["temp", "cnt_code"])) == [
        "cnt_code"]


def test_numeric_relabellings_are_found_among_many_columns_as_without_the_screen(
        monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.normal(size=(3000, 40)), columns=[f"f{i}" for i in range(40)])
    frame["grade"] = rng.integers(0, 5, len(frame))
    frame["grade_sq"] = frame["grade"].astype(float) ** 2  # one value per grade: a relabelling
    near = frame["grade"].copy()
    near.iloc[::97] = (near.iloc[::97] + 1) % 5  # the same five values, not one to one
    frame["near"] = near
    frame["dice"] = rng.integers(0, 5, len(frame))  # as many values, unrelated
    frame.loc[frame.index[::500], "f3"] = np.nan
    features = [c for c in frame.columns if c != "grade"]
    found = target_leaks(frame, "grade", features)
    assert list(found) == ["grade_sq"]
    # the sampled screen only skips columns the full check would refuse
    monkeypatch.setattr("retrainer.data.columns._may_relabel",
                        lambda rows, codes, features: list(features))
    assert target_leaks(frame, "grade", features) == found
    for target in ("dice", "near"):
        others = [c for c in frame.columns if c != target]
        assert target_leaks(frame, target, others) == {}


DERIVED = ("the target in another form (one value of it for each value of {0}, in {0}'s "
           "order: a rounding, threshold or rescaling of it)")


def test_roundings_thresholds_and_rescalings_of_the_target_are_found() -> None:
    frame = _rentals()
    rng = np.random.default_rng(5)
    frame["y"] = rng.gamma(2.0, 10.0, len(frame))  # a value per row: no relabelling applies
    frame = frame.assign(tens=frame["y"] // 10, grows=np.exp(frame["y"] / 20),
                         falls=-frame["y"] ** 3, high=(frame["y"] > 25).astype(int))
    found = target_leaks(frame, "y", ["temp", "tens", "grows", "falls", "high", "cnt"])
    assert found == dict.fromkeys(["tens", "grows", "falls", "high"], DERIVED.format("y"))
    # a few gaps in the feature do not hide it; a count target repeats its values
    gappy = frame.assign(tens=frame["tens"].mask(frame.index < 3))
    assert set(target_leaks(gappy, "y", ["temp", "tens"])) == {"tens"}
    assert target_leaks(frame.assign(busy=(frame["cnt"] > 180).astype(int)), "cnt",
                        ["temp", "busy", "hour"]) == {"busy": DERIVED.format("cnt")}
    # classes: a code shared by several of them, fixed by each
    kind = rng.choice(["oak", "pine", "fir", "rose", "tulip"], len(frame))
    grouped = frame.assign(kind=kind, tree=np.isin(kind, ["oak", "pine", "fir"]).astype(float))
    assert target_leaks(grouped, "kind", ["temp", "tree"]) == {
        "tree": "a grouping of the target (one value of it for each value of kind)"}


def test_measurements_that_predict_the_target_are_not_computed_from_it() -> None:
    frame = _rentals(2000)
    rng = np.random.default_rng(6)
    frame["y"] = 3 * frame["temp"] + rng.normal(0, 1, len(frame))  # temp predicts y well
    # 1% of y's spread in noise already breaks the order somewhere
    frame["near"] = frame["y"] + rng.normal(0, 0.01 * frame["y"].std(), len(frame))
    assert target_leaks(frame, "y", ["temp", "near", "hour", "cnt"]) == {}
    # a class cut from a measurement by a rule is a task: the rule's input is no leak
    frame["busy"] = np.where(frame["cnt"] > 180, "yes", "no")
    level = pd.cut(frame["temp"], [-99, 10, 20, 99], labels=["mild", "cold", "warm"])
    assert target_leaks(frame, "busy", ["temp", "cnt", "hour"]) == {}
    assert target_leaks(frame.assign(level=level.astype(str)), "level", ["temp", "cnt"]) == {}
    # too few labelled rows to tell
    few = frame.head(60)
    assert target_leaks(few.assign(high=(few["y"] > 40).astype(int)), "y", ["high"]) == {}
    assert target_leaks(frame.assign(high=(frame["y"] > 40).astype(int)), "y", ["high"]) == {
        "high": DERIVED.format("y")}


def test_text_columns_computed_from_the_target_are_found() -> None:
    frame = _rentals()
    frame["level"] = np.where(frame["cnt"] > 180, "high", "low")  # set once cnt is known
    frame["band"] = pd.cut(frame["cnt"], [0, 160, 180, 200, 999]).astype(str)
    frame["season"] = np.where(frame["temp"] > 15, "summer", "winter")  # predictive only
    frame["row_id"] = [f"r{i}" for i in range(len(frame))]
    found = target_leaks(frame, "cnt", ["temp", "level", "band", "season", "row_id"])
    assert found == dict.fromkeys(["level", "band"], DERIVED.format("cnt"))
    # a flipped row breaks it; rows held twice give an identifier no range of its own
    low = frame.index[frame["level"] == "low"][0]
    flipped = frame.assign(level=frame["level"].where(frame.index != low, "high"))
    assert "level" not in target_leaks(flipped, "cnt", ["temp", "level"])
    twice = pd.concat([frame, frame]).sort_index(kind="stable")
    assert target_leaks(twice.assign(cnt=twice["cnt"] + twice["temp"] / 1000), "cnt",
                        ["row_id", "season"]) == {}
    # classes: a text grouping of them
    kind = np.random.default_rng(7).choice(["oak", "pine", "rose", "tulip"], len(frame))
    plants = frame.assign(kind=kind, group=np.where(np.isin(kind, ["oak", "pine"]), "tree",
                                                    "flower"))
    assert target_leaks(plants, "kind", ["temp", "group", "season"]) == {
        "group": "a grouping of the target (one value of it for each value of kind)"}
