"""``volume_climax``: a volume spike against a rolling baseline, confirmed by delta volume.

Rationale: a bar trading several times the recent per-bar volume marks aggressive
participation; when most of that volume was aggressor-classified on one side (delta volume),
the move tends to carry on in that direction for a few seconds to minutes. The setup buys a
break of the climax bar's high (long, buyers dominant) or sells a break of its low (short),
with the stop beyond the other end of the bar.

Baseline: mean ``volume`` of the previous ``baseline_bars`` bars of the day (bars without
trades are not produced, so the baseline is per traded bar); a spike needs at least
``min_baseline_bars`` of history.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import attrs

from spxcc_core.contracts.setup import SetupCandidate
from spxcc_core.detect.base import Detector, DetectorParams

if TYPE_CHECKING:
    from spxcc_core.contracts.microbar import MicrobarV1
    from spxcc_core.detect.columns import BarColumns, ScanHits
    from spxcc_core.detect.context import BarContext

_NOTES = ("climax_buy", "climax_sell")

__all__ = ["VolumeClimax", "VolumeClimaxParams"]

_ge0 = attrs.validators.ge(0.0)
_ge0i = attrs.validators.ge(0)
_gt0 = attrs.validators.gt(0.0)


def _not_above_baseline(instance: VolumeClimaxParams, attribute: attrs.Attribute[int],
                        value: int) -> None:
    if value > instance.baseline_bars:
        raise ValueError(f"'min_baseline_bars' ({value}) must be <= 'baseline_bars' "
                         f"({instance.baseline_bars})")


@attrs.frozen(kw_only=True)
class VolumeClimaxParams(DetectorParams):
    """Parameters of ``volume_climax`` v1 (prices in the instrument's units, bps of the entry).

    :ivar baseline_bars: bars in the rolling volume baseline (>= 1); default 120.
    :ivar min_baseline_bars: bars of history before a spike can count (>= 1); default 30.
    :ivar spike_multiple: volume must be at least this × the baseline mean (> 0); default 4.
    :ivar min_delta_ratio: ``|deltaVolume| / volume`` at least this, in (0, 1]; default 0.6.
    :ivar entry_offset: entry this far beyond the bar's high (long) / low (short), >= 0; 0.
    :ivar min_risk_bps: the stop is at least this many bps of the entry away, >= 0; default 2.
    :ivar cooldown_bars: bars after a signal with no new signal in that direction, >= 0; 60.
    """

    baseline_bars: int = attrs.field(default=120, validator=attrs.validators.ge(1))
    min_baseline_bars: int = attrs.field(default=30, validator=[attrs.validators.ge(1),
                                                                 _not_above_baseline])
    spike_multiple: float = attrs.field(default=4.0, validator=_gt0)
    min_delta_ratio: float = attrs.field(default=0.6, validator=[_gt0, attrs.validators.le(1.0)])
    entry_offset: float = attrs.field(default=0.0, validator=_ge0)
    min_risk_bps: float = attrs.field(default=2.0, validator=_ge0)
    cooldown_bars: int = attrs.field(default=60, validator=_ge0i)


class VolumeClimax(Detector[VolumeClimaxParams]):
    """Volume spike with directional delta confirmation (see the module docstring)."""

    name = "volume_climax"
    version = 1
    params_class = VolumeClimaxParams
    #: the underlying only: option bars never pass the default spread gate (decision 0007)
    instruments = ("underlying",)

    def __init__(self, params: VolumeClimaxParams, *, symbol: str) -> None:
        super().__init__(params, symbol=symbol)
        self._window: deque[float] = deque()
        self._sum = 0.0
        self._bar_index = 0
        self._last_long = -(1 << 62)
        self._last_short = -(1 << 62)

    def on_bar(self, bar: MicrobarV1, ctx: BarContext) -> list[SetupCandidate]:
        p = self.params
        if p.rth_only and not ctx.in_rth:
            return []
        self._bar_index += 1
        volume = bar.volume
        window = self._window
        n = len(window)
        out: list[SetupCandidate] = []
        if (n >= p.min_baseline_bars and volume > 0.0 and bar.high is not None
                and bar.low is not None
                and volume >= p.spike_multiple * (self._sum / n)):
            ratio = bar.delta_volume / volume
            if ratio >= p.min_delta_ratio:
                if self._bar_index - self._last_long > p.cooldown_bars:
                    entry = bar.high + p.entry_offset
                    stop = min(bar.low, entry - entry * p.min_risk_bps / 1e4)
                    out.append(self.candidate(bar, "long", entry, stop, "climax_buy"))
                    self._last_long = self._bar_index
            elif -ratio >= p.min_delta_ratio and (
                    self._bar_index - self._last_short > p.cooldown_bars):
                entry = bar.low - p.entry_offset
                stop = max(bar.high, entry + entry * p.min_risk_bps / 1e4)
                out.append(self.candidate(bar, "short", entry, stop, "climax_sell"))
                self._last_short = self._bar_index
        window.append(volume)
        self._sum += volume
        if n + 1 > p.baseline_bars:
            self._sum -= window.popleft()
        return out

    @classmethod
    def scan(cls, params: VolumeClimaxParams, bars: BarColumns) -> ScanHits | None:
        """:meth:`on_bar` over a whole day, compiled (``spxcc_detectors._scan``)."""
        from spxcc_core.detect.columns import ScanHits
        from spxcc_detectors._scan import scan_volume_climax

        p = params
        return ScanHits.from_kernel(scan_volume_climax(
            bars.in_rth, bars.volume, bars.delta_volume, bars.high, bars.low, p.rth_only,
            p.baseline_bars, p.min_baseline_bars, p.spike_multiple, p.min_delta_ratio,
            p.entry_offset, p.min_risk_bps, p.cooldown_bars), _NOTES)
