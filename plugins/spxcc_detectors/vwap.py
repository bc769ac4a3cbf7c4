"""``vwap``: session-VWAP reclaim and rejection.

Rationale: the session VWAP (New York RTH, cumulative from the open) is the day's average
traded price and the reference many participants defend. After price has spent a while on one
side of it:

- a **reclaim** — a close back across VWAP by at least ``confirm_bps`` — signals that the other
  side has taken control: long when VWAP is reclaimed from below, short when it is lost from
  above;
- a **rejection** — a bar that reaches VWAP (within ``touch_bps``) but closes back on its
  original side — signals that VWAP held: short from below, long from above.

Entry is a break of the signal bar's extreme in the trade's direction (high for a long, low for
a short); the stop sits beyond both the bar's other extreme and VWAP by ``stop_buffer_bps``.
The side count uses bar closes against the VWAP including the current bar.
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

_NOTES = ("reclaim", "rejection")

__all__ = ["VwapParams", "VwapReclaimRejection"]

_ge0 = attrs.validators.ge(0.0)
_ge0i = attrs.validators.ge(0)


@attrs.frozen(kw_only=True)
class VwapParams(DetectorParams):
    """Parameters of ``vwap`` v1 (distances in bps of the session VWAP or the entry).

    :ivar min_bars_beyond: consecutive closes on one side before a signal (>= 1); default 30.
    :ivar confirm_bps: a reclaim closes at least this far across VWAP (>= 0); default 1.
    :ivar touch_bps: a rejection bar's extreme comes within this of VWAP (>= 0); default 1.
    :ivar min_rth_minutes: no signal in the first N RTH minutes (>= 0); default 5.
    :ivar stop_buffer_bps: stop beyond the bar extreme / VWAP by this (>= 0); default 1.
    :ivar min_risk_bps: the stop is at least this far from the entry (>= 0); default 2.
    :ivar cooldown_bars: bars after any signal with no new signal (>= 0); default 60.
    :ivar reclaim: detect reclaims; default True.
    :ivar rejection: detect rejections; default True.
    """

    min_bars_beyond: int = attrs.field(default=30, validator=attrs.validators.ge(1))
    confirm_bps: float = attrs.field(default=1.0, validator=_ge0)
    touch_bps: float = attrs.field(default=1.0, validator=_ge0)
    min_rth_minutes: int = attrs.field(default=5, validator=_ge0i)
    stop_buffer_bps: float = attrs.field(default=1.0, validator=_ge0)
    min_risk_bps: float = attrs.field(default=2.0, validator=_ge0)
    cooldown_bars: int = attrs.field(default=60, validator=_ge0i)
    reclaim: bool = True
    rejection: bool = True


class VwapReclaimRejection(Detector[VwapParams]):
    """Session-VWAP reclaim / rejection (see the module docstring)."""

    name = "vwap"
    version = 1
    params_class = VwapParams
    #: the underlying only: option bars never pass the default spread gate (decision 0007)
    instruments = ("underlying",)

    def __init__(self, params: VwapParams, *, symbol: str) -> None:
        super().__init__(params, symbol=symbol)
        self._side = 0  # +n: n consecutive closes above VWAP, -n: below
        self._bar_index = 0
        self._last_signal = -(1 << 62)

    def _long(self, bar: MicrobarV1, high: float, low: float, vwap: float,
              note: str) -> SetupCandidate:
        p = self.params
        entry = high
        stop = min(low, vwap) * (1.0 - p.stop_buffer_bps / 1e4)
        stop = min(stop, entry * (1.0 - p.min_risk_bps / 1e4))
        return self.candidate(bar, "long", entry, stop, note)

    def _short(self, bar: MicrobarV1, high: float, low: float, vwap: float,
               note: str) -> SetupCandidate:
        p = self.params
        entry = low
        stop = max(high, vwap) * (1.0 + p.stop_buffer_bps / 1e4)
        stop = max(stop, entry * (1.0 + p.min_risk_bps / 1e4))
        return self.candidate(bar, "short", entry, stop, note)

    def on_bar(self, bar: MicrobarV1, ctx: BarContext) -> list[SetupCandidate]:
        p = self.params
        if p.rth_only and not ctx.in_rth:
            return []
        close = bar.close
        vwap = ctx.session_vwap
        if close is None or vwap is None:
            return []
        self._bar_index += 1
        side = self._side
        out: list[SetupCandidate] = []
        high = bar.high if bar.high is not None else close
        low = bar.low if bar.low is not None else close
        if (ctx.minutes_since_open >= p.min_rth_minutes
                and self._bar_index - self._last_signal > p.cooldown_bars):
            n = p.min_bars_beyond
            if side <= -n:
                if p.reclaim and close >= vwap * (1.0 + p.confirm_bps / 1e4):
                    out.append(self._long(bar, high, low, vwap, "reclaim"))
                elif (p.rejection and close < vwap
                      and high >= vwap * (1.0 - p.touch_bps / 1e4)):
                    out.append(self._short(bar, high, low, vwap, "rejection"))
            elif side >= n:
                if p.reclaim and close <= vwap * (1.0 - p.confirm_bps / 1e4):
                    out.append(self._short(bar, high, low, vwap, "reclaim"))
                elif (p.rejection and close > vwap
                      and low <= vwap * (1.0 + p.touch_bps / 1e4)):
                    out.append(self._long(bar, high, low, vwap, "rejection"))
            if out:
                self._last_signal = self._bar_index
        if close > vwap:
            self._side = side + 1 if side > 0 else 1
        elif close < vwap:
            self._side = side - 1 if side < 0 else -1
        return out

    @classmethod
    def scan(cls, params: VwapParams, bars: BarColumns) -> ScanHits | None:
        """:meth:`on_bar` over a whole day, compiled (``spxcc_detectors._scan``)."""
        from spxcc_core.detect.columns import ScanHits
        from spxcc_detectors._scan import scan_vwap

        p = params
        return ScanHits.from_kernel(scan_vwap(
            bars.in_rth, bars.close, bars.high, bars.low, bars.session_vwap, bars.minute,
            p.rth_only, p.min_bars_beyond, p.confirm_bps, p.touch_bps, p.min_rth_minutes,
            p.stop_buffer_bps, p.min_risk_bps, p.cooldown_bars, p.reclaim, p.rejection), _NOTES)
