"""The HTML drift report is one self-contained file with a histogram per column."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd

from retrainer.config import DriftMonitorConfig
from retrainer.monitoring.drift import compare_frames, detect_drift
from retrainer.monitoring.profile import build_profile
from retrainer.reports import drift_html, write_drift_html


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(80)
    reference = pd.DataFrame({"x <&>": rng.normal(0, 1, 5000),
                              "c": rng.choice(["a", "b"], 5000)})
    current = pd.DataFrame({"x <&>": rng.normal(1, 1, 4000),
                            "c": rng.choice(["a", "b", "new"], 4000)})
    return reference, current


def test_report_has_every_column_with_an_inline_svg(tmp_path: Path) -> None:
    reference, current = _frames()
    report = compare_frames(reference, current, ["x <&>"], ["c"], DriftMonitorConfig(),
                            histograms=True)
    path = tmp_path / "report.html"
    write_drift_html(report, path, title="window vs training", reference="train.csv")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "dataset drift" in text
    assert "x &lt;&amp;&gt;" in text and "x <&>" not in text  # escaped
    assert not re.search(r"(src|href)=['\"]https?:", text)  # nothing fetched from the network
    assert "<script" not in text
    svgs = re.findall(r"<svg.*?</svg>", text, flags=re.S)
    assert len(svgs) == 2
    for svg in svgs:
        root = ET.fromstring(svg)  # well-formed
        assert len(root.findall("{http://www.w3.org/2000/svg}rect")) >= 4
    histogram = report.columns["x <&>"].histogram
    assert histogram is not None and len(histogram["edges"]) == 31
    assert abs(sum(histogram["reference"]) - 1) < 1e-9 and abs(sum(histogram["current"]) - 1) < 1e-9
    categories = report.columns["c"].histogram
    assert categories is not None and "new (unseen)" in categories["categories"]


def test_histograms_from_a_profile_follow_the_data() -> None:
    reference, current = _frames()
    profile = build_profile(reference, ["x <&>"], ["c"])
    report = detect_drift(profile, current, DriftMonitorConfig(), histograms=True)
    histogram = report.columns["x <&>"].histogram
    assert histogram is not None
    centres = (np.array(histogram["edges"][1:]) + np.array(histogram["edges"][:-1])) / 2
    mean_ref = float(np.dot(centres, histogram["reference"]))
    mean_cur = float(np.dot(centres, histogram["current"]))
    assert abs(mean_ref - 0.0) < 0.1 and abs(mean_cur - 1.0) < 0.1
    assert "<svg" in drift_html(report)
