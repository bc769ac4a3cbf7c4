"""Small inline SVG charts for the gate report (no dependency, no network, deterministic text).

Three charts: :func:`interval_chart` (one row per series: a point estimate and its interval on a
shared horizontal axis, an optional vertical reference line), :func:`bar_chart` (horizontal
bars of counts, two series side by side) and :func:`histogram_chart` (vertical bars of counts
per bin, two series side by side in each bin). Coordinates are rounded to 0.1 px so the same
input gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

import attrs

__all__ = ["IntervalRow", "bar_chart", "histogram_chart", "interval_chart"]

_W = 560
_LABEL_W = 150
_BAR_LABEL_W = 200
_ROW_H = 26
_PAD = 12
_COLORS = ("#1f6feb", "#8b949e")


@attrs.frozen
class IntervalRow:
    """One row of an interval chart: ``label``, point ``value`` and ``[low, high]`` (any may
    be None: the row says "undefined"), drawn in colour ``series`` (0 candidate, 1 baseline)."""

    label: str
    value: float | None
    low: float | None
    high: float | None
    series: int = 0


def _n(x: float) -> str:
    return f"{round(x, 1):g}"


def _head(title: str, height: int) -> list[str]:
    """The opening ``<svg>`` tag of a chart, its accessible title and its visible title."""
    return [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
            f'width="{_W}" height="{height}" viewBox="0 0 {_W} {height}">',
            f"<title>{escape(title)}</title>",
            f'<text x="{_PAD}" y="{_PAD + 10}" font-size="13" font-weight="bold">'
            f"{escape(title)}</text>"]


def interval_chart(title: str, rows: Sequence[IntervalRow], *,
                   reference: float | None = None, reference_label: str = "",
                   zero: bool = False) -> str:
    """An ``<svg>`` element: each row's interval as a line with end ticks and its value as a
    dot, on one axis spanning every defined number (and ``reference``, and 0 when ``zero``:
    a thin grey line marks it), the axis ends labelled below, then the reference's label."""
    nums = [v for r in rows for v in (r.value, r.low, r.high) if v is not None]
    if reference is not None:
        nums.append(reference)
    if zero:
        nums.append(0.0)
    lo, hi = (min(nums), max(nums)) if nums else (0.0, 1.0)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    span = hi - lo
    lo, hi = lo - 0.05 * span, hi + 0.05 * span
    x0, x1 = _LABEL_W, _W - _PAD
    height = _PAD * 2 + 20 + _ROW_H * len(rows) + 18 + (14 if reference is not None else 0)

    def x(v: float) -> float:
        return x0 + (v - lo) / (hi - lo) * (x1 - x0)

    out = _head(title, height)
    top = _PAD + 20
    bottom = top + _ROW_H * len(rows)
    if zero:
        zx = _n(x(0.0))
        out.append(f'<line x1="{zx}" y1="{top}" x2="{zx}" y2="{bottom}" stroke="#d0d7de"/>')
    if reference is not None:
        rxf = x(reference)
        rx = _n(rxf)
        anchor = "end" if rxf > x1 - 40 else "start" if rxf < x0 + 40 else "middle"
        out.append(f'<line x1="{rx}" y1="{top}" x2="{rx}" y2="{bottom}" stroke="#d29922" '
                   'stroke-dasharray="4 3"/>')
        out.append(f'<text x="{rx}" y="{bottom + 28}" font-size="10" text-anchor="{anchor}" '
                   f'fill="#9a6700">{escape(reference_label)}</text>')
    for i, r in enumerate(rows):
        y = top + _ROW_H * i + _ROW_H / 2
        color = _COLORS[r.series % len(_COLORS)]
        out.append(f'<text x="{_PAD}" y="{_n(y + 4)}" font-size="12">{escape(r.label)}</text>')
        if r.low is not None and r.high is not None:
            a, b = _n(x(r.low)), _n(x(r.high))
            out.append(f'<line x1="{a}" y1="{_n(y)}" x2="{b}" y2="{_n(y)}" stroke="{color}" '
                       'stroke-width="3"/>')
            for t in (a, b):
                out.append(f'<line x1="{t}" y1="{_n(y - 6)}" x2="{t}" y2="{_n(y + 6)}" '
                           f'stroke="{color}" stroke-width="2"/>')
        if r.value is not None:
            out.append(f'<circle cx="{_n(x(r.value))}" cy="{_n(y)}" r="5" fill="{color}"/>')
        if r.value is None and r.low is None:
            out.append(f'<text x="{x0}" y="{_n(y + 4)}" font-size="11" fill="#8b949e">'
                       "undefined (no trades)</text>")
    axis_y = bottom + 14
    out.append(f'<text x="{x0}" y="{axis_y}" font-size="10" fill="#57606a">{lo:.3g}</text>')
    out.append(f'<text x="{x1}" y="{axis_y}" font-size="10" fill="#57606a" '
               f'text-anchor="end">{hi:.3g}</text>')
    out.append("</svg>")
    return "\n".join(out)


def bar_chart(title: str, series: Mapping[str, Mapping[str, int]]) -> str:
    """An ``<svg>`` element: one group of horizontal bars per category (the union of every
    series' keys, sorted), one bar per series in the order of ``series``, scaled to the
    largest count; each bar labelled with its count."""
    names = list(series)
    cats = sorted({c for counts in series.values() for c in counts})
    peak = max((n for counts in series.values() for n in counts.values()), default=0) or 1
    bar_h = 10
    group_h = bar_h * max(len(names), 1) + 10
    height = _PAD * 2 + 20 + group_h * max(len(cats), 1) + 16
    x0, x1 = _BAR_LABEL_W, _W - _PAD - 40
    out = _head(title, height)
    top = _PAD + 20
    if not cats:
        out.append(f'<text x="{_PAD}" y="{top + 14}" font-size="12" fill="#57606a">'
                   "no blocked candidates</text>")
    for i, cat in enumerate(cats):
        gy = top + group_h * i
        out.append(f'<text x="{_PAD}" y="{gy + 12}" font-size="12">{escape(cat)}</text>')
        for j, name in enumerate(names):
            n = series[name].get(cat, 0)
            w = (x1 - x0) * n / peak
            y = gy + bar_h * j + 3
            out.append(f'<rect x="{x0}" y="{y}" width="{_n(w)}" height="{bar_h - 2}" '
                       f'fill="{_COLORS[j % len(_COLORS)]}"/>')
            out.append(f'<text x="{_n(x0 + w + 4)}" y="{y + 8}" font-size="10">{n}</text>')
    ly = height - _PAD + 2
    for j, name in enumerate(names):
        lx = _PAD + 110 * j
        out.append(f'<rect x="{lx}" y="{ly - 8}" width="10" height="10" '
                   f'fill="{_COLORS[j % len(_COLORS)]}"/>')
        out.append(f'<text x="{lx + 14}" y="{ly}" font-size="11">{escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out)


_HIST_H = 120
_HIST_LEFT = 48


def histogram_chart(title: str, edges: Sequence[float], series: Mapping[str, Sequence[int]],
                    *, unit: str = "") -> str:
    """An ``<svg>`` element: bin ``i`` is ``[edges[i], edges[i + 1])``; in each bin one
    vertical bar per series (in the order of ``series``, each ``counts[i]`` high, scaled to
    the largest count), the axis labelled with the first and last edge (and 0 when it lies
    inside, with a thin line), the largest count on the left, ``unit`` under the axis, and a
    legend of the series' names (their labels). No bins or no counts: a line saying there are
    no measured fills.

    :raises ValueError: a series whose length is not ``len(edges) - 1``.
    """
    names = list(series)
    bins = max(len(edges) - 1, 0)
    for name in names:
        if len(series[name]) != bins:
            raise ValueError(f"series {name!r}: {len(series[name])} counts for {bins} bins")
    peak = max((c for counts in series.values() for c in counts), default=0)
    top = _PAD + 24
    bottom = top + _HIST_H
    height = bottom + 14 + 14 + 18 * max(len(names), 1) + _PAD
    x0, x1 = _HIST_LEFT, _W - _PAD
    out = _head(title, height)
    if bins == 0 or peak == 0:
        out.append(f'<text x="{_PAD}" y="{top + 14}" font-size="12" fill="#57606a">'
                   "no measured fills</text>")
        out.append("</svg>")
        return "\n".join(out)
    lo, hi = edges[0], edges[-1]
    bin_w = (x1 - x0) / bins
    bar_w = bin_w * 0.9 / max(len(names), 1)

    def x(v: float) -> float:
        return x0 + (v - lo) / (hi - lo) * (x1 - x0)

    out.append(f'<line x1="{x0}" y1="{bottom}" x2="{x1}" y2="{bottom}" stroke="#8b949e"/>')
    if lo < 0.0 < hi:
        zx = _n(x(0.0))
        out.append(f'<line x1="{zx}" y1="{top}" x2="{zx}" y2="{bottom}" stroke="#d0d7de"/>')
    for j, name in enumerate(names):
        color = _COLORS[j % len(_COLORS)]
        for i, n in enumerate(series[name]):
            if n == 0:
                continue
            h = _HIST_H * n / peak
            bx = x0 + bin_w * i + bin_w * 0.05 + bar_w * j
            out.append(f'<rect class="bar" x="{_n(bx)}" y="{_n(bottom - h)}" '
                       f'width="{_n(bar_w)}" height="{_n(h)}" fill="{color}">'
                       f"<title>{escape(name)}: {n} in [{edges[i]:g}, {edges[i + 1]:g})"
                       "</title></rect>")
    out.append(f'<text x="{x0 - 4}" y="{top + 8}" font-size="10" fill="#57606a" '
               f'text-anchor="end">{peak}</text>')
    out.append(f'<text x="{x0 - 4}" y="{bottom}" font-size="10" fill="#57606a" '
               'text-anchor="end">0</text>')
    axis_y = bottom + 14
    out.append(f'<text x="{x0}" y="{axis_y}" font-size="10" fill="#57606a">{lo:g}</text>')
    out.append(f'<text x="{x1}" y="{axis_y}" font-size="10" fill="#57606a" '
               f'text-anchor="end">{hi:g}</text>')
    if lo < 0.0 < hi:
        out.append(f'<text x="{_n(x(0.0))}" y="{axis_y}" font-size="10" fill="#57606a" '
                   'text-anchor="middle">0</text>')
    if unit:
        out.append(f'<text x="{_n((x0 + x1) / 2)}" y="{axis_y + 14}" font-size="10" '
                   f'fill="#57606a" text-anchor="middle">{escape(unit)}</text>')
    for j, name in enumerate(names):
        ly = axis_y + 14 + 18 * (j + 1)
        lx = _PAD
        out.append(f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" '
                   f'fill="{_COLORS[j % len(_COLORS)]}"/>')
        out.append(f'<text x="{lx + 14}" y="{ly}" font-size="11">{escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out)
