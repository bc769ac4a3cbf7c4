"""``orb_pullback``: opening-range breakout followed by a pullback entry (ORB+pullback fusion).

Rationale: a close beyond the opening range (first ``or_minutes`` of New York RTH) shows
initiative; chasing the breakout bar buys the worst price, and many breakouts fail. Waiting for
price to extend, then pull back to retest the broken range edge and hold it, enters closer to a
natural stop (the edge) and filters out breakouts that fail straight back into the range.

Per side (long above the OR high, short below the OR low) a small state machine runs:

1. ``idle`` → ``broken`` on a close beyond the edge by ``breakout_bps``;
2. ``broken`` → ``extended`` once the extreme since the break is ``min_extension_bps`` beyond;
3. in ``extended``, a bar whose low (long) comes back within ``pullback_bps`` of the edge while
   its close holds (less than ``fail_bps`` inside) is the pullback: a candidate with the
   entry at that bar's high (the resumption) and the stop ``stop_buffer_bps`` beyond the lower
   of the bar's low and the edge;
4. a close ``fail_bps`` or more back inside, or ``max_minutes_after_break`` minutes without a
   pullback, ends the attempt; a new one needs a close back inside the range first. At most
   ``signals_per_side`` candidates per side and day, none after ``last_entry_minute``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from spxcc_core.contracts.setup import SetupCandidate
from spxcc_core.detect.base import Detector, DetectorParams

if TYPE_CHECKING:
    from spxcc_core.contracts.microbar import MicrobarV1
    from spxcc_core.detect.columns import BarColumns, ScanHits
    from spxcc_core.detect.context import BarContext

_NOTES = ("orb_pullback_long", "orb_pullback_short")

__all__ = ["OrbPullback", "OrbPullbackParams"]

_ge0 = attrs.validators.ge(0.0)
_ge0i = attrs.validators.ge(0)

_IDLE, _BROKEN, _EXTENDED, _DONE = 0, 1, 2, 3


@attrs.frozen(kw_only=True)
class OrbPullbackParams(DetectorParams):
    """Parameters of ``orb_pullback`` v1 (distances in bps of the range edge / entry).

    :ivar or_minutes: opening-range length in minutes (>= 1); default 15.
    :ivar breakout_bps: breakout close beyond the edge by at least this (>= 0); default 2.
    :ivar min_extension_bps: extreme beyond the edge before a pullback counts (>= 0); 5.
    :ivar pullback_bps: pullback low/high within this of the edge (>= 0); default 2.
    :ivar fail_bps: a close this far back inside fails the breakout (>= 0); default 5.
    :ivar max_minutes_after_break: minutes from the break to the pullback (>= 1); default 60.
    :ivar stop_buffer_bps: stop beyond the edge / pullback extreme by this (>= 0); default 2.
    :ivar min_risk_bps: the stop is at least this far from the entry (>= 0); default 2.
    :ivar signals_per_side: candidates per side and day (>= 1); default 1.
    :ivar last_entry_minute: no candidate at or after this RTH minute (>= 1); default 300.
    """

    or_minutes: int = attrs.field(default=15, validator=attrs.validators.ge(1))
    breakout_bps: float = attrs.field(default=2.0, validator=_ge0)
    min_extension_bps: float = attrs.field(default=5.0, validator=_ge0)
    pullback_bps: float = attrs.field(default=2.0, validator=_ge0)
    fail_bps: float = attrs.field(default=5.0, validator=_ge0)
    max_minutes_after_break: int = attrs.field(default=60, validator=attrs.validators.ge(1))
    stop_buffer_bps: float = attrs.field(default=2.0, validator=_ge0)
    min_risk_bps: float = attrs.field(default=2.0, validator=_ge0)
    signals_per_side: int = attrs.field(default=1, validator=attrs.validators.ge(1))
    last_entry_minute: int = attrs.field(default=300, validator=attrs.validators.ge(1))


@attrs.define
class _Side:
    """Breakout state of one side (``sign`` +1 long above the high, -1 short below the low)."""

    sign: int
    state: int = _IDLE
    break_minute: int = 0
    extreme: float = 0.0
    signals: int = 0


class OrbPullback(Detector[OrbPullbackParams]):
    """Opening-range breakout + pullback entry (see the module docstring)."""

    name = "orb_pullback"
    version = 1
    params_class = OrbPullbackParams
    #: the underlying only: option bars never pass the default spread gate (decision 0007)
    instruments = ("underlying",)

    def __init__(self, params: OrbPullbackParams, *, symbol: str) -> None:
        super().__init__(params, symbol=symbol)
        self._long = _Side(1)
        self._short = _Side(-1)

    def on_bar(self, bar: MicrobarV1, ctx: BarContext) -> list[SetupCandidate]:
        p = self.params
        if not ctx.in_rth:  # the opening range only exists inside RTH
            return []
        close = bar.close
        if close is None:
            return []
        rng = ctx.opening_range(p.or_minutes)
        if rng is None:
            return []
        or_high, or_low = rng
        high = bar.high if bar.high is not None else close
        low = bar.low if bar.low is not None else close
        minute = ctx.minutes_since_open
        out: list[SetupCandidate] = []
        c = self._step(self._long, bar, or_high, close, high, low, minute)
        if c is not None:
            out.append(c)
        c = self._step(self._short, bar, or_low, close, high, low, minute)
        if c is not None:
            out.append(c)
        return out

    def _step(self, s: _Side, bar: MicrobarV1, edge: float, close: float, high: float,
              low: float, minute: int) -> SetupCandidate | None:
        p = self.params
        sign = s.sign
        # signed distances in bps of the edge: positive = beyond the edge in the trade direction
        close_bps = sign * (close - edge) / edge * 1e4
        if s.state == _IDLE:
            if close_bps >= p.breakout_bps and s.signals < p.signals_per_side:
                s.state = _BROKEN
                s.break_minute = minute
                s.extreme = high if sign > 0 else low
            return None
        if s.state == _DONE:
            if close_bps < 0.0:
                s.state = _IDLE
            return None
        if close_bps <= -p.fail_bps or minute - s.break_minute > p.max_minutes_after_break:
            s.state = _DONE if close_bps >= 0.0 else _IDLE
            return None
        if s.state == _BROKEN:
            s.extreme = max(s.extreme, high) if sign > 0 else min(s.extreme, low)
            if sign * (s.extreme - edge) / edge * 1e4 >= p.min_extension_bps:
                s.state = _EXTENDED
            return None
        # _EXTENDED: look for the pullback to the edge
        near = low if sign > 0 else high
        if sign * (near - edge) / edge * 1e4 > p.pullback_bps:
            s.extreme = max(s.extreme, high) if sign > 0 else min(s.extreme, low)
            return None
        s.state = _DONE
        if minute >= p.last_entry_minute:
            return None
        s.signals += 1
        if sign > 0:
            entry = high
            stop = min(low, edge) * (1.0 - p.stop_buffer_bps / 1e4)
            stop = min(stop, entry * (1.0 - p.min_risk_bps / 1e4))
            return self.candidate(bar, "long", entry, stop, "orb_pullback_long")
        entry = low
        stop = max(high, edge) * (1.0 + p.stop_buffer_bps / 1e4)
        stop = max(stop, entry * (1.0 + p.min_risk_bps / 1e4))
        return self.candidate(bar, "short", entry, stop, "orb_pullback_short")

    @classmethod
    def scan(cls, params: OrbPullbackParams, bars: BarColumns) -> ScanHits | None:
        """:meth:`on_bar` over a whole day, compiled (``spxcc_detectors._scan``); None when
        a range edge is 0 (``on_bar`` would divide by it)."""
        from spxcc_core.detect.columns import ScanHits

        p = params
        rng = bars.opening_range(p.or_minutes)
        if rng is None:
            return ScanHits.of([], [], [], [], [])
        or_high, or_low = rng
        if or_high == 0.0 or or_low == 0.0:
            return None
        from spxcc_detectors._scan import scan_orb_pullback

        return ScanHits.from_kernel(scan_orb_pullback(
            bars.in_rth, bars.close, bars.high, bars.low, bars.minute, p.or_minutes, or_high,
            or_low, p.breakout_bps, p.min_extension_bps, p.pullback_bps, p.fail_bps,
            p.max_minutes_after_break, p.stop_buffer_bps, p.min_risk_bps, p.signals_per_side,
            p.last_entry_minute), _NOTES)
