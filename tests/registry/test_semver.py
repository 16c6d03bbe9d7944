"""Semantic versions: MAJOR on schema change, MINOR for promoted retrains, PATCH for the same
model re-registered; numbers never reused, candidates carry -rc.N until promoted."""

from __future__ import annotations

import pytest

from retrainer.registry.semver import Production, SemVer, candidate_semver, release

SCHEMA = {"hour": "numeric", "cbwd": "categorical"}


def test_parse_order_and_format():
    assert SemVer.parse("v1.2.3") == SemVer(1, 2, 3)
    assert str(SemVer.parse("v2.0.0-rc.14")) == "v2.0.0-rc.14"
    assert SemVer.parse("v1.10.0") > SemVer.parse("v1.9.3")
    for bad in ("1.2.3", "v1.2", "v1.2.3-beta", "latest"):
        with pytest.raises(ValueError):
            SemVer.parse(bad)


def test_a_models_life():
    existing: list[str | None] = []
    first = candidate_semver(existing, None, SCHEMA, "m1", "1")
    assert first == "v1.0.0-rc.1"
    existing.append(release(first, existing))
    assert existing == ["v1.0.0"]
    prod = Production("v1.0.0", SCHEMA, "m1")

    rejected = candidate_semver(existing, prod, SCHEMA, "m2", "2")
    existing.append(rejected)  # rejected: keeps its rc forever
    retrain = candidate_semver(existing, prod, SCHEMA, "m3", "3")
    assert (rejected, retrain) == ("v1.1.0-rc.2", "v1.1.0-rc.3")
    existing.append(release(retrain, existing))
    assert existing[-1] == "v1.1.0"
    prod = Production("v1.1.0", SCHEMA, "m3")

    same_model = candidate_semver(existing, prod, SCHEMA, "m3", "4")
    assert same_model == "v1.1.1"  # no model change: a patch, released at once
    existing.append(same_model)
    assert release(same_model, existing) == "v1.1.1"

    wider = {**SCHEMA, "TEMP": "numeric"}
    major = candidate_semver(existing, prod, wider, "m5", "5")
    assert major == "v2.0.0-rc.5"
    retyped = {"hour": "categorical", "cbwd": "categorical"}
    assert candidate_semver(existing, prod, retyped, "m6", "6") == "v2.0.0-rc.6"
    reordered = {"cbwd": "categorical", "hour": "numeric"}
    assert candidate_semver(existing, prod, reordered, "m7", "7") == "v2.0.0-rc.7"


def test_numbers_are_never_reused_after_a_rollback():
    existing = ["v1.0.0", "v1.1.0", "v1.2.0"]  # v1.2.0 was rolled back to v1.1.0
    prod = Production("v1.1.0", SCHEMA, "m")
    assert candidate_semver(existing, prod, SCHEMA, "n", "9") == "v1.3.0-rc.9"
    assert release("v1.2.0-rc.8", existing) == "v1.3.0"  # released meanwhile: next free minor
    back_to_v1 = Production("v1.3.0", SCHEMA, "m")
    assert candidate_semver([*existing, "v1.3.0", "v2.0.0"], back_to_v1, SCHEMA, "n",
                            "10") == "v1.4.0-rc.10"
