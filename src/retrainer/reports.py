"""Self-contained HTML reports (inline CSS and SVG: no scripts, no network).

``drift_html(report)`` renders a ``monitoring.drift.DriftReport`` computed with
``histograms=True``: the dataset verdict, the target (label shift) when one is given, one
summary row per column, and per column a reference-vs-current histogram (numeric:
equal-width bins over the central 99% of both samples, the tails folded into the end bins;
categorical: the most frequent reference categories and the largest unseen ones), every
statistic, and the configured and calibrated thresholds.

The backtest's report, built on the same style, is ``retrainer.backtest.report``.
"""

from __future__ import annotations

import html
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:

    from retrainer.monitoring.drift import ColumnDrift, DriftReport

__all__ = ["STYLE", "drift_html", "fmt", "histogram_svg", "write_drift_html"]

REFERENCE_COLOUR = "#4878a8"
CURRENT_COLOUR = "#e07b39"
STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#222}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.25rem .6rem;border-bottom:1px solid
#ddd;text-align:right;font-variant-numeric:tabular-nums}th:first-child,td:first-child{text-align:
left}.badge{display:inline-block;padding:.15rem .5rem;border-radius:.3rem;color:#fff;font-weight:
600}.drift{background:#c0392b}.ok{background:#27ae60}.muted{color:#777}.column{border-top:2px
solid #eee;padding-top:.5rem}.legend span{display:inline-block;width:.8rem;height:.8rem;
margin:0 .3rem 0 1rem;vertical-align:middle}ul{margin:.3rem 0}
"""


def write_drift_html(report: DriftReport, path: Path, *, target: ColumnDrift | None = None,
                     **labels: str) -> None:
    """Write ``drift_html(report, target=target, **labels)`` to ``path`` (UTF-8)."""
    Path(path).write_text(drift_html(report, target=target, **labels), encoding="utf-8")


def drift_html(report: DriftReport, *, title: str = "Drift report",
               reference: str = "reference", current: str = "current",
               target: ColumnDrift | None = None) -> str:
    """The report as one HTML document; ``target`` (its drift, computed with
    ``histograms=True``) gets a section of its own above the feature columns."""
    e = html.escape
    verdict = ("<span class='badge drift'>dataset drift</span>" if report.dataset_drift
               else "<span class='badge ok'>no dataset drift</span>")
    how = "raw reference data (exact)" if report.exact else "stored reference profile"
    lines = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{e(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p>{verdict} {report.weighted_share:.1%} of the column weight drifted "
        f"({e(report.weighting)} weights; threshold {report.dataset_share:.0%}); "
        f"{len(report.drifted_columns())} of {len(report.columns)} columns drifted "
        f"({report.drifted_share:.0%}).</p>",
        f"<p class='muted'>{e(current)}: {report.rows:,} rows, compared with {e(reference)} "
        f"({how}). Generated {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}.</p>",
    ]
    if report.calibration:
        c = report.calibration
        lines.append(
            f"<p class='muted'>Calibrated for {c['window_rows']:,}-row windows: false-alarm "
            f"budget {c['budget']:.1%} over {c['windows']} bootstrap windows (achieved "
            f"{c['achieved']:.1%}; per-test level {c['level']:.2%}).</p>")
    lines.append(_legend(reference, current))
    if target is not None:
        lines += ["<h2>Target</h2>", "<p class='muted'>Label shift, judged with the same rules "
                  "as a feature but not counted in the dataset verdict.</p>",
                  _column_section(target, None, reference, current), "<h2>Features</h2>"]
    lines.append(_summary_table(report))
    for column in report.columns.values():
        lines.append(_column_section(column, report.weights.get(column.column), reference,
                                     current))
    lines.append("</body></html>")
    return "\n".join(lines)


def _legend(reference: str, current: str) -> str:
    return (f"<p class='legend'><span style='background:{REFERENCE_COLOUR}'></span>"
            f"{html.escape(reference)}<span style='background:{CURRENT_COLOUR}'></span>"
            f"{html.escape(current)}</p>")


def _summary_table(report: DriftReport) -> str:
    rows = ["<table><tr><th>column</th><th>kind</th><th>method</th><th>score</th>"
            "<th>threshold</th><th>drifted</th><th>weight</th></tr>"]
    for c in report.columns.values():
        mark = "<span class='badge drift'>yes</span>" if c.drifted else "no"
        weight = report.weights.get(c.column)
        rows.append(
            f"<tr><td><a href='#col-{_anchor(c.column)}'>{html.escape(c.column)}</a></td>"
            f"<td>{c.kind}</td><td>{html.escape(c.method)}</td><td>{fmt(c.score)}</td>"
            f"<td>{fmt(c.threshold)}</td><td>{mark}</td>"
            f"<td>{'-' if weight is None else f'{weight:.1%}'}</td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _column_section(column: ColumnDrift, weight: float | None, reference: str,
                    current: str) -> str:
    e = html.escape
    state = ("<span class='badge drift'>drifted</span>" if column.drifted
             else "<span class='badge ok'>stable</span>")
    parts = [f"<div class='column' id='col-{_anchor(column.column)}'>",
             f"<h2>{e(column.column)} {state}</h2>",
             f"<p class='muted'>{column.kind}; headline {e(column.method)} "
             f"{fmt(column.score)} vs threshold {fmt(column.threshold)}"
             + ("" if weight is None else f"; weight {weight:.1%}") + "</p>"]
    if column.reasons:
        parts.append("<ul>" + "".join(f"<li>{e(r)}</li>" for r in column.reasons) + "</ul>")
    if column.histogram:
        parts.append(histogram_svg(column.histogram, reference, current))
    stats = "".join(f"<tr><td>{e(k)}</td><td>{fmt(v)}</td></tr>"
                    for k, v in column.stats.items())
    parts.append(f"<table><tr><th>statistic</th><th>value</th></tr>{stats}</table>")
    if column.thresholds:
        rows = "".join(
            f"<tr><td>{e(m)}</td><td>{fmt(t['configured'])}</td>"
            f"<td>{fmt(t['calibrated'])}</td><td>{fmt(t['used'])}</td></tr>"
            for m, t in column.thresholds.items())
        parts.append("<table><tr><th>method</th><th>configured</th><th>calibrated</th>"
                     f"<th>used</th></tr>{rows}</table>")
    parts.append("</div>")
    return "\n".join(parts)


def histogram_svg(histogram: dict[str, Any], reference: str = "reference",
                  current: str = "current", width: int = 640, height: int = 220) -> str:
    """Reference and current shares side by side as an inline SVG bar chart."""
    labels: list[str]
    if "edges" in histogram:
        edges = histogram["edges"]
        labels = [f"{edges[i]:.4g} to {edges[i + 1]:.4g}" for i in range(len(edges) - 1)]
    else:
        labels = [str(c) for c in histogram["categories"]]
    ref, cur = histogram["reference"], histogram["current"]
    top = max([*ref, *cur, 1e-12])
    left, bottom, plot_w, plot_h = 44, 40, width - 54, height - 56
    slot = plot_w / max(len(labels), 1)
    bar = max(slot * 0.42, 0.5)
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
           f"role='img' aria-label='{html.escape(reference)} vs {html.escape(current)}'>",
           f"<line x1='{left}' y1='{height - bottom}' x2='{width - 10}' y2='{height - bottom}'"
           " stroke='#999'/>",
           f"<text x='4' y='14' font-size='10' fill='#555'>{top:.1%}</text>",
           f"<text x='4' y='{height - bottom}' font-size='10' fill='#555'>0%</text>"]
    for i, label in enumerate(labels):
        x = left + i * slot
        for offset, share, colour, who in ((0.0, ref[i], REFERENCE_COLOUR, reference),
                                           (bar, cur[i], CURRENT_COLOUR, current)):
            h = plot_h * share / top
            out.append(f"<rect x='{x + offset + slot * 0.08:.1f}' y='{height - bottom - h:.1f}' "
                       f"width='{bar:.1f}' height='{h:.1f}' fill='{colour}'><title>"
                       f"{html.escape(label)}: {html.escape(who)} {share:.2%}</title></rect>")
    ticks = sorted({0, len(labels) // 2, len(labels) - 1}) if labels else []
    for i in ticks:
        text = labels[i].split(" to ")[0] if "edges" in histogram else labels[i]
        out.append(f"<text x='{left + (i + 0.5) * slot:.1f}' y='{height - bottom + 14}' "
                   f"font-size='10' text-anchor='middle' fill='#555'>"
                   f"{html.escape(text[:18])}</text>")
    out.append("</svg>")
    return "".join(out)


def _anchor(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name)


def fmt(value: Any) -> str:
    """A value for an HTML cell: "-" when missing, four significant digits, escaped."""
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if math.isinf(value):
            return "inf"
        return f"{value:.4g}"
    return html.escape(str(value))
