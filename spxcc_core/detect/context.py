"""The read-only per-bar context detectors see: trading day, session VWAP, opening range,
recent bars, gamma pressure and provider values.

One :class:`BarContext` exists per (symbol, trading day). The host calls :meth:`BarContext.advance`
with each bar *before* the detectors see it, so every value includes the current bar. Detectors
only read (properties); nothing here allocates numpy objects.

Definitions (``GLOSSARY.md``): session VWAP = ``Σ vwap·volume / Σ volume`` over the day's bars
that start inside RTH (bar ``vwap`` × ``volume`` equals the bar's ``Σ price·size``, so this is the
trade-level session VWAP); opening range for N minutes = highest ``high`` / lowest ``low`` of the
RTH bars starting in ``[open, open + N min)``, available once a bar at or after ``open + N min``
has been seen.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING

from spxcc_core.errors import PluginError
from spxcc_core.session import TradingDay

if TYPE_CHECKING:
    from spxcc_core.contracts.microbar import MicrobarV1
    from spxcc_core.contracts.setup import GammaPressure

__all__ = ["CONTEXT_SLOTS", "BarContext", "context_slots"]

#: The typed :class:`BarContext` attributes a context provider may fill, by slot name: a
#: provider declaring ``context_slot = "gamma"`` (see
#: :class:`~spxcc_core.detect.base.ContextProvider`) fills ``ctx.gamma`` with each value it
#: publishes that is a ``GammaPressure``.
CONTEXT_SLOTS: tuple[str, ...] = ("gamma",)


def context_slots(providers: Sequence[type[object]]) -> dict[str, str]:
    """Provider name → the slot it declared (``context_slot``), for providers that declare one.

    :raises PluginError: an unknown slot, or two providers declaring the same slot.
    """
    out: dict[str, str] = {}
    owner: dict[str, str] = {}
    for cls in providers:
        slot = getattr(cls, "context_slot", None)
        if slot is None:
            continue
        name = str(getattr(cls, "name", cls))
        if slot not in CONTEXT_SLOTS:
            raise PluginError(f"context provider {name!r} declares context_slot {slot!r}; "
                              f"known slots: {', '.join(CONTEXT_SLOTS)}")
        if slot in owner:
            raise PluginError(f"context providers {owner[slot]!r} and {name!r} both declare "
                              f"context_slot {slot!r}")
        owner[slot] = name
        out[name] = slot
    return out

_MS_PER_MINUTE = 60_000


class BarContext:
    """Read-only view of one symbol's trading day up to and including the current bar."""

    __slots__ = ("_bars", "_day", "_extra", "_extra_view", "_gamma", "_in_rth", "_last_price",
                 "_minute", "_or_high", "_or_low", "_pv", "_rth_bars", "_slots", "_symbol",
                 "_volume")

    def __init__(self, symbol: str, day: TradingDay, window_bars: int = 300,
                 slots: Mapping[str, str] | None = None) -> None:
        """``slots``: provider name → the typed attribute its values also fill
        (:func:`context_slots`)."""
        if window_bars < 1:
            raise ValueError(f"window_bars must be >= 1, got {window_bars}")
        self._symbol = symbol
        self._day = day
        self._bars: deque[MicrobarV1] = deque(maxlen=window_bars)
        self._pv = 0.0
        self._volume = 0.0
        self._rth_bars = 0
        self._or_high: list[float | None] = []  # cumulative high of minutes 0..m
        self._or_low: list[float | None] = []
        self._minute = -1  # minutes since open of the current bar (floor), -1 before open
        self._in_rth = False
        self._last_price: float | None = None
        self._gamma: GammaPressure | None = None
        self._extra: dict[str, object] = {}
        self._extra_view: Mapping[str, object] = MappingProxyType(self._extra)
        self._slots: Mapping[str, str] = slots or {}

    # -- host side ---------------------------------------------------------------------------

    def advance(self, bar: MicrobarV1) -> None:
        """Host only: include ``bar`` (bars of this symbol and day, in time order)."""
        self._bars.append(bar)
        if bar.close is not None:
            self._last_price = bar.close
        day = self._day
        open_ms = day.open_ms
        start = bar.start_ms
        if open_ms is None or day.close_ms is None or not open_ms <= start < day.close_ms:
            self._in_rth = False
            return
        self._in_rth = True
        self._rth_bars += 1
        vwap = bar.vwap
        if vwap is not None and bar.volume > 0.0:
            self._pv += vwap * bar.volume
            self._volume += bar.volume
        minute = (start - open_ms) // _MS_PER_MINUTE
        self._minute = minute
        hi_list = self._or_high
        lo_list = self._or_low
        if len(hi_list) <= minute:
            prev_hi = hi_list[-1] if hi_list else None
            prev_lo = lo_list[-1] if lo_list else None
            while len(hi_list) <= minute:
                hi_list.append(prev_hi)
                lo_list.append(prev_lo)
        high = bar.high
        low = bar.low
        if high is not None:
            cur = hi_list[minute]
            if cur is None or high > cur:
                hi_list[minute] = high
        if low is not None:
            cur = lo_list[minute]
            if cur is None or low < cur:
                lo_list[minute] = low

    def publish(self, name: str, value: object) -> None:
        """Host only: set provider ``name``'s value; a provider whose declared slot is
        ``gamma`` also sets :attr:`gamma` with a ``GammaPressure`` value."""
        self._extra[name] = value
        if self._slots.get(name) == "gamma":
            from spxcc_core.contracts.setup import GammaPressure

            if isinstance(value, GammaPressure):
                self._gamma = value

    # -- detector side -----------------------------------------------------------------------

    @property
    def symbol(self) -> str:
        """The instrument of this context."""
        return self._symbol

    @property
    def day(self) -> TradingDay:
        """The trading day (New York date, RTH hours or None)."""
        return self._day

    @property
    def session_id(self) -> str:
        """The New York date ``YYYY-MM-DD`` of the current bar."""
        return self._day.session_id

    @property
    def in_rth(self) -> bool:
        """The current bar starts inside regular trading hours."""
        return self._in_rth

    @property
    def minutes_since_open(self) -> int:
        """Whole minutes from the RTH open to the current bar's start (0 in the first minute);
        -1 before the first RTH bar of the day."""
        return self._minute

    @property
    def session_vwap(self) -> float | None:
        """Session VWAP of RTH bars so far (price units); None before any RTH volume."""
        if self._volume <= 0.0:
            return None
        return self._pv / self._volume

    @property
    def session_volume(self) -> float:
        """Σ volume of the RTH bars so far (source units; 0 before the open)."""
        return self._volume

    @property
    def rth_bars(self) -> int:
        """Number of RTH bars seen so far today (including the current one)."""
        return self._rth_bars

    def opening_range(self, minutes: int) -> tuple[float, float] | None:
        """``(high, low)`` of the first ``minutes`` RTH minutes, once complete (the current bar
        starts at or after ``open + minutes``); None before that, or with no trade in it."""
        if minutes < 1 or self._minute < minutes or len(self._or_high) < minutes:
            return None
        high = self._or_high[minutes - 1]
        low = self._or_low[minutes - 1]
        if high is None or low is None:
            return None
        return high, low

    @property
    def bars(self) -> Sequence[MicrobarV1]:
        """The most recent bars of the day (oldest first, current last), at most the window."""
        return self._bars

    @property
    def prev_bar(self) -> MicrobarV1 | None:
        """The bar before the current one (same symbol and day), None for the first bar."""
        bars = self._bars
        return bars[-2] if len(bars) >= 2 else None

    @property
    def last_price(self) -> float | None:
        """The last non-null ``close`` of the day so far."""
        return self._last_price

    @property
    def gamma(self) -> GammaPressure | None:
        """Latest gamma pressure published by the provider declaring the ``gamma`` slot, else
        None."""
        return self._gamma

    @property
    def extra(self) -> Mapping[str, object]:
        """Read-only values published by context providers, keyed by provider name."""
        return self._extra_view
