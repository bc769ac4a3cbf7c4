"""The golden cases: small seeded SPY-like sessions, one per market regime.

Each case is a :class:`~spxcc_core.golden.generate.Regime` (09:30–10:30 New York of one trading
day; the gap case starts at 09:20 with sparse pre-market prints). Changing a regime changes the
committed inputs: bump nothing, run ``spxcc golden regen`` and review the diff.
"""

from __future__ import annotations

import datetime as dt

import attrs

from spxcc_core.errors import ConfigError
from spxcc_core.golden.generate import Anomalies, Regime, Segment

__all__ = ["CASES", "GoldenCase", "case_names", "get_case"]


@attrs.frozen(kw_only=True)
class GoldenCase:
    """A named golden session: its regime and one line saying what it is for."""

    name: str
    summary: str
    regime: Regime


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
