"""``opening_drive`` v1: trade with a strong one-sided move out of the open.

Rationale: when the first minutes of the regular session move far from the opening print and
the aggressive volume agrees (buyers lifting offers on the way up, sellers hitting bids on the
way down), the day's initiative traders have shown their hand and the move tends to carry on.

Rule, once per symbol and day: over the first ``drive_minutes`` RTH minutes, track the first
opening price, the high, the low, volume and delta volume. On the first RTH bar at or after the
end of the drive, if the last close is at least ``min_drive_bps`` (bps of the open) above the
open and ``delta / volume >= min_delta_ratio``, propose a long: entry at the drive's high
(a break of it), stop at the drive's low — at least ``min_risk_bps`` of the entry away. A
drive down gives the mirror-image short. T1 / T2 / trigger window: the common parameters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from spxcc_core.contracts.setup import SetupCandidate
from spxcc_core.detect.base import Detector, DetectorParams

if TYPE_CHECKING:
    from spxcc_core.contracts.microbar import MicrobarV1
    from spxcc_core.detect.context import BarContext

__all__ = ["OpeningDrive", "OpeningDriveParams"]


@attrs.frozen(kw_only=True)
class OpeningDriveParams(DetectorParams):
    """Parameters of ``opening_drive`` v1.

    :ivar drive_minutes: length of the drive from the RTH open, minutes (>= 1); default 5.
    :ivar min_drive_bps: the close at the drive's end is at least this far from the open, bps
        of the open (> 0); default 15.
    :ivar min_delta_ratio: ``delta volume / volume`` over the drive, in the drive's direction,
        at least this (in [0, 1]); default 0.2.
    :ivar min_risk_bps: the stop is at least this far from the entry, bps of the entry (>= 0);
        default 2.
    """

    drive_minutes: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    min_drive_bps: float = attrs.field(default=15.0, validator=attrs.validators.gt(0.0))
    min_delta_ratio: float = attrs.field(
        default=0.2, validator=[attrs.validators.ge(0.0), attrs.validators.le(1.0)])
    min_risk_bps: float = attrs.field(default=2.0, validator=attrs.validators.ge(0.0))


class OpeningDrive(Detector[OpeningDriveParams]):
    """Opening drive continuation (see the module docstring)."""

    name = "opening_drive"
    version = 1
    params_class = OpeningDriveParams

    def __init__(self, params: OpeningDriveParams, *, symbol: str) -> None:
        super().__init__(params, symbol=symbol)
        self._open: float | None = None
        self._high = float("-inf")
        self._low = float("inf")
        self._volume = 0.0
        self._delta = 0.0
        self._last: float | None = None
        self._done = False

    def on_bar(self, bar: MicrobarV1, ctx: BarContext) -> list[SetupCandidate]:
        if self._done or not ctx.in_rth or ctx.minutes_since_open < 0:
            return []
        p = self.params
        if ctx.minutes_since_open < p.drive_minutes:
            if self._open is None and bar.open is not None:
                self._open = bar.open
            if bar.high is not None and bar.low is not None:
                self._high = max(self._high, bar.high)
                self._low = min(self._low, bar.low)
            if bar.close is not None:
                self._last = bar.close
            self._volume += bar.volume
            self._delta += bar.delta_volume
            return []
        self._done = True  # one decision per day, on the first bar after the drive
        if self._open is None or self._last is None or self._volume <= 0.0:
            return []
        move_bps = (self._last - self._open) / self._open * 1e4
        flow = self._delta / self._volume
        if move_bps >= p.min_drive_bps and flow >= p.min_delta_ratio:
            entry = self._high
            stop = min(self._low, entry * (1.0 - p.min_risk_bps / 1e4))
            return [self.candidate(bar, "long", entry, stop, "drive_up")]
        if move_bps <= -p.min_drive_bps and -flow >= p.min_delta_ratio:
            entry = self._low
            stop = max(self._high, entry * (1.0 + p.min_risk_bps / 1e4))
            return [self.candidate(bar, "short", entry, stop, "drive_down")]
        return []
