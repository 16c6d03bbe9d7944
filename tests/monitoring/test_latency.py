from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retrainer.exceptions import DataError
from retrainer.monitoring.latency import latency_by, latency_percentiles


def test_percentiles_match_numpy_and_limits_fire() -> None:
    rng = np.random.default_rng(60)
    values = rng.lognormal(3, 0.5, 10_001)
    values[:5] = [np.nan, -1.0, np.inf, 20.0, 30.0]
    report = latency_percentiles(values, {"p95": 40.0, "p99": 1e6})
    kept = values[np.isfinite(values) & (values >= 0)]
    assert report.count == kept.size and report.dropped == 3
    assert report.p50 == pytest.approx(np.percentile(kept, 50))
    assert report.p99 == pytest.approx(np.percentile(kept, 99))
    assert report.alert and report.violations[0].startswith("p95 ")
    assert latency_percentiles(np.array([np.nan])).p50 is None
    with pytest.raises(ValueError, match="p90"):
        latency_percentiles(values, {"p90": 1.0})


def test_by_model_version() -> None:
    log = pd.DataFrame({"ms": [10.0, 12.0, 11.0, 50.0, 55.0, 60.0],
                        "version": ["1", "1", "1", "2", "2", "2"]})
    reports = latency_by(log, "ms", by="version", limits={"p50": 40.0})
    assert reports["1"].p50 == 11.0 and not reports["1"].alert
    assert reports["2"].p50 == 55.0 and reports["2"].alert
    assert reports["all"].count == 6
    with pytest.raises(DataError, match="no numbers"):
        latency_by(pd.DataFrame({"ms": ["fast", "slow"]}), "ms")
    with pytest.raises(DataError, match=r"\['nope'\]"):
        latency_by(log, "nope")
