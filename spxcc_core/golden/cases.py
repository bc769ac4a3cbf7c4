"""The golden cases: small seeded SPY-like sessions, one per market regime.

Each case is a :class:`~spxcc_core.golden.generate.Regime` (09:30–10:30 New York of one trading
day; the gap case starts at 09:20 with sparse pre-market prints) or, for ``rules_day``, a fully
scripted :class:`~spxcc_core.golden.generate.Tape` that hits every documented rule at an exact
level. Changing a script changes the committed inputs: edit the case's ``expect.toml`` first
(docs/golden.md), run ``spxcc golden regen`` and review the diff.
"""

from __future__ import annotations

import datetime as dt

import attrs

from spxcc_core.errors import ConfigError
from spxcc_core.golden.generate import Anomalies, Print, Regime, Segment, Tape

__all__ = ["CASES", "GoldenCase", "case_names", "get_case"]


@attrs.frozen(kw_only=True)
class GoldenCase:
    """A named golden session: its regime (random but seeded) or tape (fully scripted) and
    one line saying what it is for."""

    name: str
    summary: str
    regime: Regime | Tape


_S = Segment

_TREND = Regime(
    symbol="SPY", date=dt.date(2024, 3, 5), seed=20240305, open_price=508.40,
    segments=(
        # a soft open below VWAP ...
        _S(start="09:30", end="09:40", move_bps=-20, vol_bps=0.4, trade_rate=0.5,
           buy_share=0.42),
        _S(start="09:40", end="09:45", move_bps=-3, vol_bps=0.3, trade_rate=0.4),
        # ... reclaimed on buying that breaks the opening range ...
        _S(start="09:45", end="09:49", move_bps=22, vol_bps=0.4, trade_rate=0.6,
           buy_share=0.68),
        _S(start="09:49", end="09:55", move_bps=14, vol_bps=0.4, trade_rate=0.5,
           buy_share=0.62, bursts=("09:52:12",)),
        # ... a pullback to the broken edge ...
        _S(start="09:55", end="10:02", move_bps=-21, vol_bps=0.3, trade_rate=0.4,
           buy_share=0.44),
        # ... and the trend resumes
        _S(start="10:02", end="10:20", move_bps=32, vol_bps=0.4, trade_rate=0.5,
           buy_share=0.64, bursts=("10:09:40",)),
        _S(start="10:20", end="10:30", move_bps=4, vol_bps=0.3, trade_rate=0.4,
           buy_share=0.52),
    ),
)

_CHOP = Regime(
    symbol="SPY", date=dt.date(2024, 3, 6), seed=20240306, open_price=511.20,
    segments=(
        _S(start="09:30", end="09:40", move_bps=7, vol_bps=0.5, trade_rate=0.5),
        _S(start="09:40", end="09:48", move_bps=-9, vol_bps=0.5, trade_rate=0.5,
           buy_share=0.45),
        _S(start="09:48", end="09:56", move_bps=8, vol_bps=0.5, trade_rate=0.5,
           buy_share=0.55),
        _S(start="09:56", end="10:05", move_bps=-8, vol_bps=0.5, trade_rate=0.5,
           buy_share=0.45),
        _S(start="10:05", end="10:14", move_bps=9, vol_bps=0.5, trade_rate=0.5,
           buy_share=0.55, bursts=("10:11:03",)),
        _S(start="10:14", end="10:22", move_bps=-8, vol_bps=0.5, trade_rate=0.5,
           buy_share=0.45),
        _S(start="10:22", end="10:30", move_bps=4, vol_bps=0.5, trade_rate=0.5),
    ),
)

_GAP = Regime(
    symbol="SPY", date=dt.date(2024, 3, 7), seed=20240307, open_price=505.90,
    segments=(
        # pre-market near the prior close: sparse prints, wide quotes
        _S(start="09:20", end="09:30", move_bps=4, vol_bps=0.3, trade_rate=0.08,
           spread_cents=4, quote_gap_s=2),
        # the open gaps up ~1 % (the first RTH second), buyers early
        _S(start="09:30:00", end="09:30:01", move_bps=95, vol_bps=0.0, trade_rate=4.0,
           buy_share=0.7, spread_cents=3),
        _S(start="09:30:01", end="09:35", move_bps=22, vol_bps=0.5, trade_rate=0.9,
           buy_share=0.66),
        _S(start="09:35", end="09:46", move_bps=-6, vol_bps=0.6, trade_rate=0.5,
           buy_share=0.5),
        # the flush: fast selling, wide spreads, stale quotes
        _S(start="09:46", end="09:50", move_bps=-120, vol_bps=1.6, trade_rate=1.8,
           buy_share=0.18, spread_cents=30, quote_gap_s=5, bursts=("09:47:21",)),
        _S(start="09:50", end="09:58", move_bps=-15, vol_bps=0.9, trade_rate=0.9,
           buy_share=0.4, spread_cents=8, quote_gap_s=3),
        # dead-cat bounce, then drift
        _S(start="09:58", end="10:12", move_bps=35, vol_bps=0.6, trade_rate=0.6,
           buy_share=0.6, spread_cents=2),
        _S(start="10:12", end="10:30", move_bps=-10, vol_bps=0.5, trade_rate=0.5,
           buy_share=0.47),
    ),
    anomalies=Anomalies(crossed_quote="09:47:30", correction="09:48:02",
                        late_trade="09:52:10", duplicate_trade="10:05:00"),
)

class _TapeBuilder:
    """Writes a :class:`Tape` second by second from 09:30:00 (one bar per second)."""

    def __init__(self, price: float) -> None:
        self.t = 0
        self.price = price
        self.prints: list[Print] = []
        self._pv = 0.0
        self._v = 0.0

    def bar(self, *prices: float, size: float = 100.0) -> str:
        """One second with these prints (in order); returns its New York clock time."""
        clock = self.clock()
        for px in prices:
            px = round(px, 2)
            side = "buy" if px >= self.price else "sell"
            self.prints.append(Print(at_s=self.t, price=px, side=side, size=size))
            self.price = px
            self._pv += px * size
            self._v += size
        self.t += 1
        return clock

    def leg(self, to: float, seconds: int) -> None:
        """``seconds`` one-print bars moving in a straight line to ``to``."""
        start = self.price
        for i in range(1, seconds + 1):
            self.bar(start + (to - start) * i / seconds)

    def hold(self, seconds: int) -> None:
        for _ in range(seconds):
            self.bar(self.price)

    def vwap(self) -> float:
        return self._pv / self._v

    def clock(self) -> str:
        return f"{9 + (30 * 60 + self.t) // 3600:02d}:{(30 * 60 + self.t) // 60 % 60:02d}:" \
               f"{self.t % 60:02d}"


def _rules_tape() -> Tape:
    """The rules_day script; each phase's comment is what a reviewer must find in the outputs
    (``fixtures/rules_day/README.md`` and ``expect.toml`` walk through it)."""
    b = _TapeBuilder(499.90)
    # 09:30-09:44:59 opening range 499.80-500.00: a 40 s sawtooth around 499.90, never 30
    # closes on one side of VWAP, one 100-share print a second (the volume baseline)
    for _ in range(22):
        b.leg(500.00, 10)
        b.leg(499.90, 10)
        b.leg(499.80, 10)
        b.leg(499.90, 10)
    b.leg(500.00, 10)
    b.leg(499.90, 10)
    # 09:45:00 breakout: a close 3 bps over the OR high, extension to 6 bps, then a close at
    # exactly 499.75 = 5 bps back inside (fail_bps): the attempt fails, no pullback candidate
    b.bar(500.15)
    b.bar(500.30)
    b.bar(500.20)
    b.bar(499.75)
    b.leg(499.85, 8)
    # 09:45:12 second breakout and extension; 09:45:20 the pullback pierces 10 bps under the
    # edge (499.50) and closes back over it at 500.05 = the bar's high: the orb_pullback long
    # (entry 500.05, stop 499.50 x (1 - 2 bps) = 499.4001) whose detection bar closes at the
    # entry
    b.bar(500.15)
    b.leg(500.35, 4)
    b.leg(500.20, 3)
    b.bar(499.50, 500.05)
    # below the entry for 5 s (the old trigger rule triggered on the first of these), then a
    # trigger bar through the entry that also reaches T1 500.70 (not credited on it)
    b.leg(500.00, 2)
    b.hold(3)
    b.bar(500.05, 500.75)
    b.bar(500.60)
    b.hold(4)
    b.bar(500.72)                  # T1 credited here; stop to breakeven 500.05
    b.leg(500.90, 10)
    # one bar touching T2 501.35 and the breakeven stop 500.05: the stop counts (t1, +0.5R)
    b.bar(501.35, 500.05)
    b.leg(500.70, 20)
    b.hold(60)
    # volume_climax long: 500 shares all bought on a 6 bps bar whose low (500.60) is below the
    # 2 bps floor (500.80 x 0.9998 = 500.70): the stop is the bar's low
    b.bar(500.60, 500.70, 500.75, 500.80, 500.80)
    b.leg(500.72, 3)
    # the trigger bar opens at 500.82 over the entry 500.80 (gap-aware fill 500.82); then a bar
    # opening at 500.50 under the stop 500.60 (gap-aware exit 500.50)
    b.bar(500.82)
    b.leg(500.70, 5)
    b.bar(500.50)
    b.leg(500.70, 10)
    # a second climax 20 bars later: inside the 60-bar cooldown, no candidate
    b.bar(500.60, 500.70, 500.75, 500.80, 500.80)
    b.leg(500.70, 40)
    # a third one 61 bars after the first: a candidate again; price then drifts away under
    # the entry and the setup is never triggered
    b.bar(500.60, 500.70, 500.75, 500.80, 500.80)
    b.leg(500.50, 30)
    b.hold(300)
    # the vwap rejection: hundreds of closes over VWAP, then a dip to 2 cents over it that
    # holds; 20 s later a second dip inside the 60-bar cooldown: no candidate
    touch = round(b.vwap() + 0.02, 2)
    b.leg(touch + 0.10, 10)
    b.bar(touch + 0.05, touch)
    b.leg(touch + 0.08, 5)
    b.leg(touch, 15)
    b.leg(touch + 0.40, 20)
    # 41 bars after the rejection a drop to 499.95, under VWAP and the OR high: a vwap
    # "reclaim" short inside the cooldown (no candidate); orb_pullback's long side is re-armed
    # by the close back inside, breaks out again (500.15), extends (500.35) and pulls back to
    # the edge (low 500.05) - but its one signal per side is spent: no candidate
    b.bar(499.95)
    b.hold(2)
    b.bar(500.15)
    b.leg(500.35, 3)
    b.bar(500.05, 500.08)
    b.leg(500.40, 5)
    return Tape(symbol="SPY", date=dt.date(2024, 3, 8), start="09:30:00",
                prints=tuple(b.prints))


_RULES = _rules_tape()

#: Every golden case by name (the order ``spxcc golden`` runs them in).
CASES: dict[str, GoldenCase] = {
    c.name: c for c in (
        GoldenCase(name="trend_day", summary="steady uptrend with two pullbacks and two "
                                             "buying climaxes", regime=_TREND),
        GoldenCase(name="chop_day", summary="two-sided chop around VWAP in a narrow range",
                   regime=_CHOP),
        GoldenCase(name="gap_and_flush", summary="gap up at the open, a flush with wide "
                                                 "spreads and stale quotes, a weak bounce",
                   regime=_GAP),
        GoldenCase(name="rules_day", summary="a scripted tape that exercises every lifecycle "
                                             "and detector rule at exact levels",
                   regime=_RULES),
    )
}


def case_names() -> list[str]:
    """Names of every golden case, in run order."""
    return list(CASES)


def get_case(name: str) -> GoldenCase:
    """The case called ``name``.

    :raises ConfigError: no such case (the message lists the known ones).
    """
    case = CASES.get(name)
    if case is None:
        raise ConfigError(f"unknown golden case {name!r} (known: {', '.join(CASES)})")
    return case
