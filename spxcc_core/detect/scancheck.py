"""Whether a detector's compiled :meth:`~spxcc_core.detect.base.Detector.scan` equals its
``on_bar``: :func:`scan_differences` feeds the same bars both ways, day by day as the runner
groups them, and lists every difference.

Used by the conformance check (:func:`spxcc_core.testing.check_detector`, check ``scan``)
and by the project's property tests of the built-in detectors.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from spxcc_core.contracts.microbar import MicrobarV1
from spxcc_core.detect.base import Detector
from spxcc_core.detect.columns import day_columns
from spxcc_core.detect.context import BarContext
from spxcc_core.session import SessionCalendar, get_calendar

__all__ = ["scan_differences"]

#: differences listed per call at most (the rest are counted)
MAX_LISTED = 5

_Hit = tuple[int, str, float, float, str]


def _describe(day: str, symbol: str, want: _Hit | None, got: _Hit | None) -> str:
    def one(h: _Hit | None) -> str:
        if h is None:
            return "nothing"
        i, direction, entry, stop, note = h
        return f"bar {i}: {direction} entry {entry!r} stop {stop!r} note {note!r}"

    return f"{symbol} {day}: on_bar gives {one(want)}, scan gives {one(got)}"


def scan_differences(cls: type[Detector[Any]], params: Any, bars: Iterable[MicrobarV1],
                     calendar: SessionCalendar | None = None) -> list[str]:
    """Differences between ``cls.scan(params, day)`` and fresh instances' ``on_bar`` (one per
    (symbol, trading day), context advanced as the runner does) over ``bars`` (production
    order); empty when they agree — also when ``scan`` returns None for a day (it declines:
    the runner is used). ``on_bar`` raising on a day ``scan`` did not decline is a
    difference (the runner would go on from a state the scan cannot know). Prices compare
    to the bit. At most :data:`MAX_LISTED` differences are listed, then a count.
    """
    out: list[str] = []
    more = 0
    for day in day_columns(bars, calendar if calendar is not None else get_calendar()):
        detector = cls(params, symbol=day.symbol)
        ctx = BarContext(day.symbol, day.day)
        want: list[_Hit] = []
        crash: str | None = None
        for i, bar in enumerate(day.bars):
            ctx.advance(bar)
            try:
                found = detector.on_bar(bar, ctx)
            except Exception as exc:  # the runner records it and goes on
                crash = f"bar {i}: {type(exc).__name__}: {exc}"
                break
            want.extend((i, c.direction, c.entry, c.stop, c.note) for c in found or [])
        hits = cls.scan(params, day)
        if hits is None:
            continue
        where = f"{day.symbol} {day.day.session_id}"
        if crash is not None:
            out.append(f"{where}: on_bar raised ({crash}) but scan did not decline")
            continue
        got: list[_Hit] = [(i, "long" if lg else "short", e, s, n) for i, lg, e, s, n in zip(
            hits.index.tolist(), hits.long.tolist(), hits.entry.tolist(), hits.stop.tolist(),
            hits.note, strict=True)]
        for k in range(max(len(want), len(got))):
            w = want[k] if k < len(want) else None
            g = got[k] if k < len(got) else None
            if w != g:
                if len(out) < MAX_LISTED:
                    out.append(_describe(day.day.session_id, day.symbol, w, g))
                else:
                    more += 1
                break  # later hits shift after the first difference
    if more:
        out.append(f"... and {more} more days differ")
    return out
