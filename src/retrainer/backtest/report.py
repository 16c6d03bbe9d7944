"""The ``retrainer backtest`` report: one self-contained HTML page (inline CSS and SVG, no
scripts, no network) from the ``backtest.json`` document.

One table row per retraining policy (prequential metric, retrains, gain over ``never``, net
value and shares of the ``always`` gain and retrains), the per-batch metric over time with
training and promotion markers, the drift score over time, ``auto``'s loss clock (policies
with an ``auto`` trigger), retrains against the metric, and each policy's net value against
the cost of a retrain.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from retrainer.backtest.certainty import signed, verdict
from retrainer.backtest.value import ABSOLUTE_POINTS
from retrainer.data.columns import by_reason
from retrainer.reports import STYLE, fmt

__all__ = ["backtest_html", "policy_label", "shares_of_always", "value_sentence",
           "write_backtest_html"]

PALETTE = ("#4878a8", "#e07b39", "#27ae60", "#c0392b", "#8e44ad", "#8c6d31", "#d35fb7",
           "#17becf")
SMOOTHING = 5  # batches in the centred rolling mean drawn over the per-batch metric
_BACKTEST_STYLE = (".best{font-weight:700;background:#e3f4e6}figure{margin:.5rem 0}"
                   "figcaption{color:#777;font-size:.85rem;max-width:760px}")
Series = tuple[str, str, list[float | None]]  # name, colour, one value (or a gap) per batch


def write_backtest_html(document: dict[str, Any], path: Path) -> None:
    """Write ``backtest_html(document)`` to ``path`` (UTF-8)."""
    Path(path).write_text(backtest_html(document), encoding="utf-8")


def backtest_html(document: dict[str, Any]) -> str:
    """A ``retrainer backtest`` result (the ``backtest.json`` document) as one HTML document.

    Missing values (``None`` or NaN: a batch that could not be scored) are shown as ``-`` in
    the table and leave gaps in the lines.
    """
    e = html.escape
    settings = document.get("settings") or {}
    policies = document.get("policies") or []
    higher = bool(document.get("higher_is_better", True))
    metric = str(document.get("metric", "metric"))
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(policies))]
    names = [policy_label(p) for p in policies]
    batches = int(document.get("batches") or max((len(p.get("per_batch", [])) for p in policies),
                                                   default=0))
    starts = list(settings.get("batch_starts") or [])
    dates = [str(starts[i])[:10] if settings.get("time_column") and i < len(starts) else ""
             for i in range(batches)]
    title = f"Backtest: {document.get('dataset', '')}"
    lines = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{e(title)}</title><style>{STYLE}{_BACKTEST_STYLE}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p>{_number(document.get('rows')) or 0:,.0f} rows replayed in {batches} batches of "
        f"{fmt(settings.get('batch'))}; {e(metric)} ({'higher' if higher else 'lower'} is "
        f"better); training window {fmt(settings.get('training_window'))}; label delay "
        f"{fmt(settings.get('label_delay'))}; run took "
        f"{_number(document.get('seconds')) or 0:.1f} s.</p>",
        f"<p class='muted'>Task {fmt(settings.get('task'))}; initial period "
        f"{fmt(settings.get('initial'))}; registry {fmt(settings.get('registry'))}; config "
        f"{fmt(settings.get('config'))}"
        + _time_found(settings) + ". Generated "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}.</p>",
        _left_out(settings.get("left_out") or {}),
        _backtest_table(policies, higher),
        *(f"<p>{e(sentence)}</p>" for sentence in [value_sentence(document)] if sentence),
        _certainty_table(policies, document.get("certainty"), metric),
        "<h2>Metric over time</h2>", _policy_legend(names, colours),
        _metric_figure(policies, names, colours, dates, metric),
        "<h2>Drift score over time</h2>", _drift_figure(policies, names, colours, dates),
        _auto_figure(policies, names, colours, dates),
        "<h2>Cost against quality</h2>", _cost_figure(policies, names, colours, metric, higher),
        _value_figure(policies, names, colours, document.get("value") or {}),
        "</body></html>",
    ]
    return "\n".join(lines)


def _certainty_table(policies: list[dict[str, Any]], found: dict[str, Any] | None,
                     metric: str) -> str:
    """How sure the comparison is (backtest/certainty.py): the reference against each policy,
    resampled over the batches, and how often each pays most; nothing without it."""
    if not found:
        return ""
    e = html.escape
    reference, shares = str(found["reference"]), found.get("pays_most_share")
    of_gain = found.get("share_of_gain")
    versus = {entry["name"]: entry for entry in found["versus"]}
    rows = ["<table><tr><th>policy</th><th>difference</th>"
            f"<th>{found['level']:.0%} interval</th><th>verdict</th>"
            + ("<th>pays most</th>" if shares else "")
            + ("<th>share of always's gain</th>" if of_gain else "") + "</tr>"]
    for p in policies:
        name = str(p.get("name"))
        entry = versus.get(name)
        cells = (["-", "-", "(reference)"] if entry is None else
                 [signed(entry["difference"], 4),
                  f"{signed(entry['low'], 3)} to {signed(entry['high'], 3)}", verdict(entry)])
        if shares:
            cells.append(f"{shares.get(name, 0.0):.0%}")
        if of_gain:
            span = of_gain.get(name)
            cells.append(f"{span[0]:.0%} to {span[1]:.0%}" if span else "-")
        rows.append(f"<tr><td>{e(policy_label(p))}</td>"
                    + "".join(f"<td>{e(c)}</td>" for c in cells) + "</tr>")
    rows.append("</table>")
    explained = (f"Difference: how much better {e(reference)}'s {e(metric)} is than each "
                 f"policy's (&lt; 0: worse), and its interval from {found['draws']:,} "
                 f"resamples of the {found['batches']} batches (a circular block bootstrap: a "
                 "model serves several batches in a row, so blocks of consecutive batches are "
                 "drawn, every policy on the same ones; the difference plus or minus Student's "
                 "t, for as many degrees of freedom as the batches hold blocks less one, times "
                 "the resampled differences' spread). Where the interval holds zero, one "
                 "replay cannot tell the two apart."
                 + (" Pays most: the share of resamples in which the policy has the highest "
                    "net value." if shares else "")
                 + (" Share of always's gain: the interval of the policy's share of always's "
                    "gain over never, the terms of the bar auto is held to." if of_gain else ""))
    return (f"<h2>How sure: {e(reference)} against each policy</h2>" + "".join(rows)
            + f"<p class='muted'>{explained}</p>")


def _time_found(settings: dict[str, Any]) -> str:
    """Where a replay given no time column found its clock, or nothing."""
    source, column = settings.get("time_found_in"), settings.get("time_column")
    if not source:
        return ""
    where = ("the only column of dates" if source == column
             else f"assembled from {html.escape(str(source))}")
    return f"; time {fmt(column)}, {where}, in row order (no time column given)"


def _number(value: Any) -> float | None:
    """``value`` as a finite float, or None (missing, NaN, infinite or not a number)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _left_out(columns: dict[str, str]) -> str:
    """The columns a replay without a config did not use as features, and why."""
    if not columns:
        return ""
    return ("<p class='muted'>Not used as features (no config): " + "; ".join(
        f"{html.escape(names)}, {html.escape(str(why))}" for names, why in by_reason(columns))
        + ".</p>")


def policy_label(policy: dict[str, Any]) -> str:
    """A policy's name as shown: ``periodic:auto`` adds the K of the schedule it replayed.

    >>> policy_label({"name": "periodic:auto", "period": 6}), policy_label({"name": "auto"})
    ('periodic:auto (K=6)', 'auto')
    """
    name = str(policy.get("name", ""))
    return f"{name} (K={policy['period']})" if policy.get("period") else name


def shares_of_always(policies: list[dict[str, Any]], higher_is_better: bool
                     ) -> dict[str, tuple[float | None, float | None]]:
    """Each policy's share of ``always``'s gain over ``never`` and of ``always``'s retrains
    (None where undefined or not a number, and the gain's share also where ``always`` did
    not beat ``never``: there is no gain to share); empty unless both ran. The issue's bar
    is put in these terms."""
    found = {p.get("name"): p for p in policies}
    if "never" not in found or "always" not in found:
        return {}
    never, always = (_number(found[n].get("metric")) for n in ("never", "always"))
    always_retrains = _number(found["always"].get("retrains"))
    sign = 1.0 if higher_is_better else -1.0
    gain = sign * (always - never) if always is not None and never is not None else None
    shares = {}
    for p in policies:
        metric, retrains = _number(p.get("metric")), _number(p.get("retrains"))
        of_gain = (sign * (metric - never) / gain + 0.0  # no -0
                   if gain is not None and gain > 0 and metric is not None
                   and never is not None else None)
        of_retrains = (retrains / always_retrains
                       if retrains is not None and always_retrains else None)
        shares[str(p.get("name"))] = (of_gain, of_retrains)
    return shares


def value_sentence(result: dict[str, Any]) -> str | None:
    """Which policy pays most under auto's cost model (the ``value`` of a backtest document or
    of its summary over starts), and for which costs of a retrain, or why no policy has a net
    value (``value``'s ``note``); None unless ``never`` ran."""
    value = result.get("value") or {}
    if value.get("note"):
        return f"Net value (net) is not given: {value['note']}."
    if not value.get("pays_most"):
        return None
    low, high = value["pays_most_for_costs"]  # set with pays_most (backtest/__init__.py)
    if low and high is not None:
        where = f"for a retrain costing from {low:.3g} to {high:.3g}"
    elif high is not None:
        where = f"for a retrain costing up to {high:.3g}"
    elif low:
        where = f"for a retrain costing above {low:.3g}"
    else:
        where = "at any cost of a retrain"
    scope = " on average over the starts" if "starts" in result else ""
    metric = result["metric"]
    point = f"0.01 of {metric}" if metric in ABSOLUTE_POINTS else f"1% of never's {metric}"
    return (f"Net value (net): the gain over never at {value['value_per_metric_point']:g} per "
            f"metric point-day (a point is {point}), less "
            f"{value['cost_per_retrain']:g} per retrain (triggers.auto's cost model). "
            f"{value['pays_most']} pays most{scope}; it would {where}.")


def _backtest_table(policies: list[dict[str, Any]], higher: bool) -> str:
    metrics = [_number(p.get("metric")) for p in policies]
    by_name = dict(zip((p.get("name") for p in policies), metrics, strict=True))
    sign = 1.0 if higher else -1.0
    never = by_name.get("never")
    has_never, has_share = "never" in by_name, "never" in by_name and "always" in by_name
    has_value = any(_number(p.get("net_value")) is not None for p in policies)
    shares = shares_of_always(policies, higher)
    scored = [m for m in metrics if m is not None]
    best = (max if higher else min)(scored) if scored else None
    head = ("<table><tr><th>policy</th><th>metric</th><th>retrains</th><th>promotions</th>"
            "<th>rejections</th><th>train seconds</th>"
            + ("<th>gain vs never</th>" if has_never else "")
            + ("<th>net value</th>" if has_value else "")
            + ("<th>share of always's gain</th><th>share of always's retrains</th>"
               if has_share else "") + "</tr>")
    rows = [head]
    for p, m in zip(policies, metrics, strict=True):
        gain = sign * (m - never) + 0.0 if m is not None and never is not None else None  # no -0
        share, cost = shares.get(str(p.get("name")), (None, None))
        mark = " class='best'" if m is not None and m == best else ""
        train = _number(p.get("train_seconds"))
        rows.append(
            f"<tr><td>{html.escape(policy_label(p))}</td><td{mark}>{fmt(m)}</td>"
            f"<td>{fmt(p.get('retrains'))}</td><td>{fmt(p.get('promotions'))}</td>"
            f"<td>{fmt(p.get('rejections'))}</td>"
            f"<td>{'-' if train is None else f'{train:.1f}'}</td>"
            + (f"<td>{'-' if gain is None else f'{gain:+.4g}'}</td>" if has_never else "")
            + (f"<td>{_fmt_value(p.get('net_value'))}</td>" if has_value else "")
            + (f"<td>{'-' if share is None else f'{share:.0%}'}</td>"
               f"<td>{'-' if cost is None else f'{cost:.0%}'}</td>" if has_share else "")
            + "</tr>")
    rows.append("</table>")
    rows.extend(
        f"<p class='muted'>{html.escape(str(p.get('name')))}: {p['untrained']} of its jobs "
        f"trained nothing, so its retrains are fewer than it asked for; the newest: "
        f"{html.escape(str(p.get('untrained_reason')))}</p>"
        for p in policies if p.get("untrained"))
    return "\n".join(rows)


def _fmt_value(value: Any) -> str:
    number = _number(value)
    return "-" if number is None else f"{round(number, 1) + 0.0:.1f}"  # never -0.0


def _policy_legend(names: list[str], colours: list[str]) -> str:
    return "<p class='legend'>" + "".join(
        f"<span style='background:{c}'></span>{html.escape(n)}"
        for n, c in zip(names, colours, strict=True)) + "</p>"


def _metric_figure(policies: list[dict[str, Any]], names: list[str], colours: list[str],
                   dates: list[str], metric: str) -> str:
    raw = [[_number(v) for v in p.get("per_batch") or []] for p in policies]
    svg = _line_chart_svg(
        [(n, c, _rolling_mean(r, SMOOTHING)) for n, c, r in zip(names, colours, raw, strict=True)],
        dates, f"{metric} per batch", faint=list(zip(names, colours, raw, strict=True)),
        rug=[(n, c, list(p.get("trained") or []), list(p.get("promoted") or []))
             for n, c, p in zip(names, colours, policies, strict=True)])
    return (
        f"<figure>{svg}<figcaption>Faint lines: {html.escape(metric)} of each batch; bold "
        f"lines: centred rolling mean over {SMOOTHING} batches (of the scored ones). Unscored "
        "batches leave gaps. Below the plot, one lane per policy: hollow circle = a training "
        "job finished before the batch, filled = a new model was promoted before it."
        "</figcaption></figure>")


def _drift_figure(policies: list[dict[str, Any]], names: list[str], colours: list[str],
                  dates: list[str]) -> str:
    series = [(n, c, [_number(v) for v in p.get("drift") or []])
              for n, c, p in zip(names, colours, policies, strict=True)]
    shown = [s for s in series if any(v is not None for v in s[2])]
    missing = [n for n, _, vs in series if all(v is None for v in vs)]
    caption = ("Drift score (weighted share of drifted columns) at the tick before each batch,"
               " against the policy's own reference data.")
    if missing:
        caption += " No drift readings for: " + html.escape(", ".join(missing)) + "."
    if not shown:
        return f"<p class='muted'>{caption}</p>"
    svg = _line_chart_svg(shown, dates, "drift score per batch", y_range=(0.0, 1.0))
    return f"<figure>{svg}<figcaption>{caption}</figcaption></figure>"


def _auto_figure(policies: list[dict[str, Any]], names: list[str], colours: list[str],
                 dates: list[str]) -> str:
    """auto's loss clock (policies with an auto trigger): it retrains when the line reaches 1."""
    with_clock = [(n, c, p) for n, c, p in zip(names, colours, policies, strict=True)
                  if p.get("auto_clock")]
    if not with_clock:
        return ""
    series: list[Series] = [
        (n, c, [None if (v := _number(x)) is None else min(v, 2.0) for x in p["auto_clock"]])
        for n, c, p in with_clock]
    rug = [(n, c, list(p.get("trained") or []), list(p.get("promoted") or []))
           for n, c, p in with_clock]
    svg = _line_chart_svg(series, dates, "auto's loss clock per batch", y_range=(0.0, 2.0),
                          rug=rug)
    caption = ("Loss-weighted days since the last retrain over the days at which waiting has "
               "cost a retrain, at each tick (shown up to 2): <code>auto</code> fires at 1 "
               "unless <code>min_interval</code>, cooldown or budget holds it, and a hard "
               "period steepens the line. Markers: hollow, trained; filled, promoted. Each "
               "decision's evidence is in <code>state/POLICY/state.db</code> "
               "(<code>retrainer history</code>).")
    return (f"<h2>auto's loss clock</h2><figure>{svg}<figcaption>{caption}</figcaption>"
            "</figure>")


def _cost_figure(policies: list[dict[str, Any]], names: list[str], colours: list[str],
                 metric: str, higher: bool) -> str:
    points = [(n, c, float(p.get("retrains") or 0), _number(p.get("metric")))
              for n, c, p in zip(names, colours, policies, strict=True)]
    scored = [(n, c, x, y) for n, c, x, y in points if y is not None]
    caption = (f"Retrains (cost) against the prequential {html.escape(metric)} (quality); "
               f"{'higher' if higher else 'lower'} is better.")
    unscored = [n for n, _, _, y in points if y is None]
    if unscored:
        caption += " Not scored: " + html.escape(", ".join(unscored)) + "."
    if not scored:
        return f"<p class='muted'>{caption}</p>"
    svg = _scatter_svg(scored, metric, higher)
    return f"<figure>{svg}<figcaption>{caption}</figcaption></figure>"


def _value_figure(policies: list[dict[str, Any]], names: list[str], colours: list[str],
                  value: dict[str, Any]) -> str:
    """Each priced policy's net value against the cost of a retrain, the value of a point held:
    a straight line (gain - cost x retrains), so two lines cross where two policies pay the
    same. Empty unless the document is priced (``never`` ran)."""
    cost = _number(value.get("cost_per_retrain"))
    lines = []  # name, colour, priced gain (net value at no cost), retrains
    for name, colour, policy in zip(names, colours, policies, strict=True):
        net = _number(policy.get("net_value"))
        if cost is not None and net is not None:
            retrains = float(policy.get("retrains") or 0)
            lines.append((name, colour, net + cost * retrains, retrains))
    if cost is None or not lines:
        return ""
    low_cost, high_cost = value.get("pays_most_for_costs") or (0.0, None)
    # the winner's range of costs, within five times the table's (crossings near it are
    # what a reader compares), or past the winner's lower end when that is further
    x_high = max(2 * (low_cost or 0.0), min(2 * max(cost, high_cost or 0.0), 5 * cost))
    top = max(max(gain for _, _, gain, _ in lines), 0.0) * 1.1 or 1.0
    floor = max(min(0.0, *(gain - x_high * r for _, _, gain, r in lines)), -top)
    width, height, left, right, margin, bottom = 560, 300, 64, 24, 24, 40
    plot_w, plot_h = width - left - right, height - margin - bottom

    def x(v: float) -> float:
        return left + plot_w * v / x_high

    def y(v: float) -> float:
        return margin + plot_h * (top - v) / (top - floor)

    out = [_svg_open(width, height, "net value against the cost of a retrain"),
           f"<clipPath id='net-plot'><rect x='{left}' y='{margin}' width='{plot_w}' "
           f"height='{plot_h}'/></clipPath>",
           f"<line x1='{left}' y1='{y(0):.1f}' x2='{left + plot_w}' y2='{y(0):.1f}' "
           "stroke='#999'/>",
           f"<line x1='{x(cost):.1f}' y1='{margin}' x2='{x(cost):.1f}' y2='{margin + plot_h}' "
           "stroke='#999' stroke-dasharray='4 3'/>",
           f"<text x='{left}' y='14' fill='#555'>net value</text>",
           f"<text x='{left + plot_w}' y='{height - 4}' text-anchor='end' fill='#555'>"
           "cost of a retrain</text>"]
    for v in (floor, 0.0, top):
        out.append(f"<text x='{left - 4}' y='{y(v) + 3:.1f}' text-anchor='end' fill='#555'>"
                   f"{v:.4g}</text>")
    for v in (0.0, cost, x_high):
        out.append(f"<text x='{x(v):.1f}' y='{margin + plot_h + 14}' text-anchor='middle' "
                   f"fill='#555'>{v:.3g}</text>")
    taken: dict[int, int] = {}
    for name, colour, gain, retrains in lines:
        out.append(f"<line class='net' x1='{x(0):.1f}' y1='{y(gain):.1f}' x2='{x(x_high):.1f}' "
                   f"y2='{y(gain - x_high * retrains):.1f}' stroke='{colour}' stroke-width='2' "
                   f"clip-path='url(#net-plot)'><title>{html.escape(name)}: {gain:.4g} - cost x "
                   f"{retrains:g}</title></line>")
        key = round(y(gain) / 10)
        shift, taken[key] = 11 * taken.get(key, 0), taken.get(key, 0) + 1
        out.append(f"<text x='{left + 4}' y='{y(gain) - 3 + shift:.1f}' fill='{colour}'>"
                   f"{html.escape(name)}</text>")
    out.append("</svg>")
    caption = (f"Net value of each policy against the cost of a retrain, at "
               f"{fmt(value.get('value_per_metric_point'))} per metric point-day: where two "
               f"lines cross, the two policies pay the same. Dashed: the cost the table uses "
               f"({cost:g}).")
    return f"<figure>{''.join(out)}<figcaption>{caption}</figcaption></figure>"


def _rolling_mean(values: list[float | None], window: int) -> list[float | None]:
    """Centred mean over ``window`` batches of the values present; gaps stay gaps."""
    half = window // 2
    out: list[float | None] = []
    for i, value in enumerate(values):
        near = [v for v in values[max(0, i - half):i + half + 1] if v is not None]
        out.append(None if value is None else sum(near) / len(near))
    return out


def _padded_range(values: list[float]) -> tuple[float, float]:
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    pad = (high - low) * 0.05 if high > low else (abs(high) * 0.05 or 0.5)
    return low - pad, high + pad


def _svg_open(width: int, height: int, label: str) -> str:
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
            f"role='img' aria-label='{html.escape(label)}' font-size='10'>")


def _line_chart_svg(series: list[Series], dates: list[str], label: str, *,
                    y_range: tuple[float, float] | None = None, faint: list[Series] | None = None,
                    rug: list[tuple[str, str, list[int], list[int]]] | None = None,
                    width: int = 760, plot_h: int = 190) -> str:
    """Lines over the batch index (a gap where a value is None), with optional faint lines
    behind and a marker lane per entry of ``rug`` (hollow: trained, filled: promoted)."""
    faint, rug = faint or [], rug or []
    n = max([len(dates), *(len(v) for _, _, v in series + faint), 1])
    low, high = y_range or _padded_range(
        [v for _, _, vs in series + faint for v in vs if v is not None])
    left, right, top, lane = 64, 32, 10, 9
    base, plot_w = top + plot_h, width - left - right
    height = base + lane * len(rug) + 38

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h * (high - v) / (high - low)

    out = [_svg_open(width, height, label)]
    for v in (low, (low + high) / 2, high):
        out.append(f"<line x1='{left}' y1='{y(v):.1f}' x2='{width - right}' y2='{y(v):.1f}' "
                   f"stroke='#eee'/><text x='{left - 4}' y='{y(v) + 3:.1f}' text-anchor='end' "
                   f"fill='#555'>{v:.4g}</text>")
    for values, opacity, stroke in ((faint, 0.3, 1), (series, 1, 2)):
        for name, colour, vs in values:
            out.append(f"<path d='{_path_data(vs, x, y)}' fill='none' stroke='{colour}' "
                       f"stroke-width='{stroke}' stroke-opacity='{opacity}' "
                       f"stroke-linecap='round' stroke-linejoin='round'>"
                       f"<title>{html.escape(name)}</title></path>")
    for k, (name, colour, trained, promoted) in enumerate(rug):
        ly = base + 8 + lane * k
        out.append(f"<text x='{left - 4}' y='{ly + 3}' text-anchor='end' font-size='8' "
                   f"fill='{colour}'>{html.escape(name[:12])}</text>")
        for fill, indices in (("#fff", trained), (colour, promoted)):
            out.extend(f"<circle cx='{x(i):.1f}' cy='{ly}' r='2.3' fill='{fill}' "
                       f"stroke='{colour}'/>" for i in indices if 0 <= i < n)
    axis = height - 30
    out.append(f"<line x1='{left}' y1='{axis}' x2='{width - right}' y2='{axis}' stroke='#999'/>")
    for i in sorted({round(k * (n - 1) / 5) for k in range(6)}):
        date = dates[i] if i < len(dates) else ""
        out.append(f"<text x='{x(i):.1f}' y='{axis + 12}' text-anchor='middle' fill='#555'>"
                   f"{i}</text><text x='{x(i):.1f}' y='{axis + 24}' text-anchor='middle' "
                   f"fill='#777'>{html.escape(date)}</text>")
    out.append(f"<text x='{left - 12}' y='{axis + 12}' text-anchor='end' fill='#777'>"
               "batch</text></svg>")
    return "".join(out)


def _path_data(values: list[float | None], x: Callable[[int], float],
               y: Callable[[float], float]) -> str:
    """SVG path data through the present values; a None starts a new sub-path (with round
    caps the zero-length ``h0`` after each move keeps isolated points visible)."""
    parts, move = [], True
    for i, v in enumerate(values):
        if v is None:
            move = True
            continue
        parts.append(f"{'M' if move else 'L'}{x(i):.1f} {y(v):.1f}" + ("h0" if move else ""))
        move = False
    return " ".join(parts) or "M0 0"


def _scatter_svg(points: list[tuple[str, str, float, float]], metric: str, higher: bool,
                 width: int = 560, height: int = 300) -> str:
    """One labelled point per policy: retrains across, metric up."""
    left, right, top, bottom = 64, 120, 24, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    x_high = max(p[2] for p in points) or 1.0
    low, high = _padded_range([p[3] for p in points])
    out = [_svg_open(width, height, f"retrains against {metric}"),
           f"<line x1='{left}' y1='{top + plot_h}' x2='{left + plot_w}' y2='{top + plot_h}' "
           "stroke='#999'/>",
           f"<line x1='{left}' y1='{top}' x2='{left}' y2='{top + plot_h}' stroke='#999'/>",
           f"<text x='{left}' y='12' fill='#555'>{html.escape(metric)} "
           f"({'higher' if higher else 'lower'} is better {'&#8593;' if higher else '&#8595;'})"
           "</text>",
           f"<text x='{left + plot_w}' y='{height - 4}' text-anchor='end' fill='#555'>"
           "retrains</text>"]
    for v in (low, high):
        yv = top + plot_h * (high - v) / (high - low)
        out.append(f"<text x='{left - 4}' y='{yv + 3:.1f}' text-anchor='end' fill='#555'>"
                   f"{v:.4g}</text>")
    for v in sorted({0, round(x_high / 2), round(x_high)}):
        out.append(f"<text x='{left + plot_w * v / x_high:.1f}' y='{top + plot_h + 14}' "
                   f"text-anchor='middle' fill='#555'>{v}</text>")
    taken: dict[tuple[int, int], int] = {}
    for name, colour, xv, yv in points:
        px, py = left + plot_w * xv / x_high, top + plot_h * (high - yv) / (high - low)
        key = (round(px / 10), round(py / 10))
        shift, taken[key] = 11 * taken.get(key, 0), taken.get(key, 0) + 1
        out.append(f"<circle cx='{px:.1f}' cy='{py:.1f}' r='5' fill='{colour}'><title>"
                   f"{html.escape(name)}: {xv:g} retrains, {yv:.4g}</title></circle>"
                   f"<text x='{px + 8:.1f}' y='{py + 3 + shift:.1f}' fill='{colour}'>"
                   f"{html.escape(name)}</text>")
    out.append("</svg>")
    return "".join(out)
