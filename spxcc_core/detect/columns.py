"""A symbol's trading day as columns: the bars a detector runner would process, and the
context it would show, for detectors that scan a whole day at once.

:func:`day_columns` splits bars (in production order, any symbols) into one
:class:`BarColumns` per (symbol, New York trading day) exactly as
:class:`~spxcc_core.detect.runner.DetectorRunner` groups them — a bar of a new day starts a new
group, a bar that does not start after the symbol's previous processed bar is left out (the
runner quarantines it as ``outOfOrder``) — and records, per bar, the
:class:`~spxcc_core.detect.context.BarContext` values after the runner advanced the context
with it. Null prices are NaN in the columns; the bars themselves are kept for gating.

:meth:`Detector.scan <spxcc_core.detect.base.Detector.scan>` receives a :class:`BarColumns`
and returns :class:`ScanHits`: every candidate ``on_bar`` would have returned over that day.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import attrs
import numpy as np
import numpy.typing as npt

from spxcc_core.contracts.microbar import MicrobarV1
from spxcc_core.detect.context import BarContext
from spxcc_core.session import SessionCalendar, TradingDay

__all__ = ["BarColumns", "ScanHits", "day_columns"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

_NAN = math.nan


@attrs.frozen(eq=False)
class BarColumns:
    """One symbol's processed bars of one trading day, oldest first, as columns.

    Prices are in the instrument's units with NaN for null; ``start_ms``/``interval_ms`` in
    epoch ms. The context columns hold what :class:`~spxcc_core.detect.context.BarContext`
    reports right after the bar was included:

    :ivar in_rth: the bar starts inside regular trading hours.
    :ivar minute: ``minutes_since_open`` (−1 before the first RTH bar; outside RTH the last
        RTH bar's minute).
    :ivar session_vwap: ``session_vwap`` (NaN before any RTH volume).
    :ivar last_price_before: ``last_price`` *before* the bar was included (NaN: none yet) —
        the price open setups expire at when this bar is the first at or after the close.
    :ivar last_price: ``last_price`` after the day's last bar (NaN: none).
    :ivar or_high: ``or_high[m - 1]`` / ``or_low[m - 1]`` is the opening range
        :meth:`BarContext.opening_range(m) <spxcc_core.detect.context.BarContext.opening_range>`
        returns on every bar at or after ``open + m`` minutes (NaN: none), for ``m`` from 1
        to the day's last RTH minute (the arrays' length; no bar asks for a longer range).
    """

    symbol: str
    day: TradingDay
    bars: tuple[MicrobarV1, ...]
    start_ms: I64
    interval_ms: I64
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64
    delta_volume: F64
    vwap: F64
    in_rth: B
    minute: I64
    session_vwap: F64
    last_price_before: F64
    last_price: float
    or_high: F64
    or_low: F64
    #: every price, volume and VWAP is finite or null (volumes: floats, or ints a float64
    #: holds exactly), as the microbar contract guarantees for decoded bars; a day built by
    #: hand may break it — its NaN could not be told from a null —: compiled screening
    #: declines such a day
    in_contract: bool = True

    def __len__(self) -> int:
        return len(self.bars)

    def opening_range(self, minutes: int) -> tuple[float, float] | None:
        """``(high, low)`` of the first ``minutes`` RTH minutes as the context reports it once
        complete; None when the day has no such range (``minutes`` < 1, no trade in it, or no
        RTH bar at or after ``open + minutes``)."""
        if minutes < 1 or len(self.or_high) < minutes:
            return None  # never a bar at minute >= minutes: the range is never asked for
        high = float(self.or_high[minutes - 1])
        low = float(self.or_low[minutes - 1])
        if math.isnan(high) or math.isnan(low):
            return None
        return high, low


@attrs.frozen(eq=False)
class ScanHits:
    """Candidates of one detector over one :class:`BarColumns`, in bar order (for one bar,
    in the order ``on_bar`` returns them): the bar's index, the direction (``long``: True for
    long), the entry and stop prices and the candidate's note."""

    index: I64
    long: B
    entry: F64
    stop: F64
    note: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.index)

    @classmethod
    def from_kernel(cls, result: tuple[int, I64, B, F64, F64, I64],
                    notes: Sequence[str]) -> ScanHits:
        """From a compiled scan's ``(count, index, long, entry, stop, note code)`` (arrays
        allocated for the worst case, the first ``count`` rows used); ``notes[code]`` is the
        note text."""
        k, index, long, entry, stop, note = result
        return cls(index[:k], long[:k], entry[:k], stop[:k], tuple(notes[c] for c in note[:k]))

    @classmethod
    def of(cls, index: Sequence[int] | I64, long: Sequence[bool] | B,
           entry: Sequence[float] | F64, stop: Sequence[float] | F64,
           note: Sequence[str]) -> ScanHits:
        """From parallel sequences (all of one length).

        :raises ValueError: lengths differ.
        """
        n = len(index)
        if not len(long) == len(entry) == len(stop) == len(note) == n:
            raise ValueError("ScanHits columns must have one length")
        return cls(np.asarray(index, dtype=np.int64), np.asarray(long, dtype=np.bool_),
                   np.asarray(entry, dtype=np.float64), np.asarray(stop, dtype=np.float64),
                   tuple(note))


def _f(v: float | None) -> float:
    return _NAN if v is None else v


def _columns(symbol: str, day: TradingDay, bars: list[MicrobarV1]) -> BarColumns:
    n = len(bars)
    in_rth = np.zeros(n, dtype=np.bool_)
    minute = np.empty(n, dtype=np.int64)
    svwap = np.empty(n, dtype=np.float64)
    last_before = np.empty(n, dtype=np.float64)
    ctx = BarContext(symbol, day, 1)  # the runner's own context arithmetic
    for i, bar in enumerate(bars):
        last_before[i] = _f(ctx.last_price)
        ctx.advance(bar)
        in_rth[i] = ctx.in_rth
        minute[i] = ctx.minutes_since_open
        svwap[i] = _f(ctx.session_vwap)
    # the day's last RTH minute m_last: every range of m <= m_last minutes is complete now
    ranges = [ctx.opening_range(m) for m in range(1, ctx.minutes_since_open + 1)]
    in_contract = all(_in_contract(b) for b in bars)
    return BarColumns(
        symbol=symbol, day=day, bars=tuple(bars),
        start_ms=np.fromiter((b.start_ms for b in bars), np.int64, n),
        interval_ms=np.fromiter((b.interval_ms for b in bars), np.int64, n),
        open=np.fromiter((_f(b.open) for b in bars), np.float64, n),
        high=np.fromiter((_f(b.high) for b in bars), np.float64, n),
        low=np.fromiter((_f(b.low) for b in bars), np.float64, n),
        close=np.fromiter((_f(b.close) for b in bars), np.float64, n),
        volume=np.fromiter((b.volume for b in bars), np.float64, n),
        delta_volume=np.fromiter((b.delta_volume for b in bars), np.float64, n),
        vwap=np.fromiter((_f(b.vwap) for b in bars), np.float64, n),
        in_rth=in_rth, minute=minute, session_vwap=svwap, last_price_before=last_before,
        last_price=_f(ctx.last_price),
        or_high=np.array([_NAN if r is None else r[0] for r in ranges], dtype=np.float64),
        or_low=np.array([_NAN if r is None else r[1] for r in ranges], dtype=np.float64),
        in_contract=in_contract)


def _in_contract(bar: MicrobarV1) -> bool:
    for v in (bar.open, bar.high, bar.low, bar.close, bar.vwap):
        if v is not None and not math.isfinite(v):
            return False
    return _exact(bar.volume) and _exact(bar.delta_volume)


def _exact(v: float) -> bool:
    """A finite float, or an int a float64 holds exactly (Python compares ints exactly)."""
    if isinstance(v, int):
        return abs(v) <= 2**53
    return math.isfinite(v)


def day_columns(bars: Iterable[MicrobarV1], calendar: SessionCalendar,
                ) -> list[BarColumns]:
    """The (symbol, trading day) groups of ``bars`` (production order) as the runner forms
    them (module docstring), in the order each group started."""
    groups: list[tuple[str, TradingDay, list[MicrobarV1]]] = []
    current: dict[str, tuple[TradingDay, list[MicrobarV1]]] = {}
    last_start: dict[str, int] = {}
    for bar in bars:
        symbol = bar.symbol
        start = bar.start_ms
        held = current.get(symbol)
        if held is None or not held[0].day_start_ms <= start < held[0].day_end_ms:
            if held is not None and start <= last_start[symbol]:
                continue  # outOfOrder
            day = calendar.day_for_ms(start)
            held = (day, [])
            current[symbol] = held
            groups.append((symbol, day, held[1]))
        elif start <= last_start[symbol]:
            continue  # outOfOrder
        last_start[symbol] = start
        held[1].append(bar)
    return [_columns(symbol, day, day_bars) for symbol, day, day_bars in groups]
