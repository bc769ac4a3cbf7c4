"""Slippage contracts: realized slippage of one fill against its intent's arrival quote.

Units: prices are per-share option premiums in dollars; ``slippageDollars`` is dollars **per
contract** (price difference × the multiplier, 100 for SPX/SPXW); ``slippageTicks`` is in ticks
of the SPX option grid at the arrival mid (0.05 below 3.00, 0.10 from 3.00); ``slippageBps`` is
basis points of the arrival mid; ``slippageSpreadFraction`` is the price difference divided by
the quoted arrival spread (ask − bid). Times are epoch milliseconds UTC.

Sign: **positive is a cost**. A buy pays ``fillPrice − arrivalMid``, a sell gives up
``arrivalMid − fillPrice``; a buy filled at the ask of a 3.00 × 3.20 market has slippage +0.10
per share = +$10 per contract = +1 tick = +1/2 spread.

``source`` keeps paper fills (the paper broker's fill model) and broker fills (a real broker,
Tradier) apart everywhere: their difference is the fill realism of the paper model.

See ``docs/execution.md`` (section "Slippage and the EV floor") for the buckets and the formulas.
"""

from __future__ import annotations

from typing import ClassVar, Final, Literal, get_args

from spxcc_core.contracts.base import Contract
from spxcc_core.contracts.broker import Side

__all__ = [
    "SLIPPAGE_SOURCES",
    "SPREAD_REGIMES",
    "TIME_BUCKETS",
    "UNAVAILABLE_REASONS",
    "SlippageRecord",
    "SlippageSource",
    "SlippageUnavailable",
    "SpreadRegime",
    "TimeBucket",
    "UnavailableReason",
]

#: Where a fill came from: the paper broker's fill model or a real broker.
SlippageSource = Literal["paper", "broker"]
#: New York time-of-day bucket of the fill (see :data:`TIME_BUCKETS`).
TimeBucket = Literal["open", "morning", "midday", "afternoon", "close", "off_hours"]
#: Width of the arrival spread in ticks of the arrival mid's grid.
SpreadRegime = Literal["zero", "tight", "normal", "wide"]
#: Why a fill has no slippage record.
UnavailableReason = Literal["no_arrival_quote", "crossed_arrival_quote", "fill_does_not_match_intent",
                            "no_fill_time"]

#: Slippage sources, in report order.
SLIPPAGE_SOURCES: Final[tuple[str, ...]] = get_args(SlippageSource)
#: Time-of-day buckets (America/New_York, [start, end)): ``open`` 09:30–10:00, ``morning``
#: 10:00–12:00, ``midday`` 12:00–14:00, ``afternoon`` 14:00–15:30, ``close`` 15:30–16:15,
#: ``off_hours`` any other time.
TIME_BUCKETS: Final[tuple[str, ...]] = get_args(TimeBucket)
#: Spread regimes: ``zero`` (bid = ask), ``tight`` (≤ 1 tick), ``normal`` (≤ 4 ticks), ``wide``
#: (more than 4 ticks), ticks of the arrival mid's grid.
SPREAD_REGIMES: Final[tuple[str, ...]] = get_args(SpreadRegime)
#: Reasons a fill has no slippage record.
UNAVAILABLE_REASONS: Final[tuple[str, ...]] = get_args(UnavailableReason)


class SlippageRecord(Contract, frozen=True, kw_only=True):
    """``slippage_record@1``: realized slippage of one fill against its intent's arrival quote.

    ``fillId`` is the key: one record per fill. ``setupId``/``detector`` are null for an intent
    no setup produced (a hand-written intent file). ``symbol`` is the OCC option symbol,
    ``side`` the intent's side, ``quantity`` the filled contracts (> 0), ``fillPrice`` the
    per-share fill price. ``arrivalMid = (arrivalBid + arrivalAsk) / 2``, ``arrivalSpread =
    arrivalAsk − arrivalBid`` (≥ 0). ``tickSize`` is the tick of the arrival mid (0.05 or 0.10).
    ``slippageBps`` is null when the arrival mid is 0, ``slippageSpreadFraction`` when the
    spread is 0. ``moneyness`` is strike / underlying price (1.0 at the money, null without an
    underlying price); ``otmPoints`` the distance out of the money in index points (call:
    strike − underlying, put: underlying − strike; negative in the money; null without an
    underlying price). ``dte`` is calendar days from the New York date of ``atMs`` to the
    expiry (0 for a 0DTE contract). ``atMs`` is the time that fixed the bucket and the DTE (the
    fill's time, else the intent's creation time); ``arrivalAtMs`` the intent's creation time,
    null when unknown.
    """

    contract_name: ClassVar[str] = "slippage_record"
    contract_version: ClassVar[int] = 1

    fill_id: str
    intent_id: str
    setup_id: str | None
    detector: str | None
    symbol: str
    side: Side
    quantity: float
    fill_price: float
    arrival_bid: float
    arrival_ask: float
    arrival_mid: float
    arrival_spread: float
    tick_size: float
    slippage_dollars: float
    slippage_ticks: float
    slippage_bps: float | None
    slippage_spread_fraction: float | None
    time_bucket: TimeBucket
    spread_regime: SpreadRegime
    moneyness: float | None
    otm_points: float | None
    dte: int
    source: SlippageSource
    at_ms: int
    arrival_at_ms: int | None = None


class SlippageUnavailable(Contract, frozen=True, kw_only=True):
    """``slippage_unavailable@1``: a fill for which no slippage could be measured, and why.

    ``reason`` is ``no_arrival_quote`` (the intent carries no arrival bid or ask),
    ``crossed_arrival_quote`` (arrival bid above ask), ``fill_does_not_match_intent`` (the
    fill's symbol or intent id is not the intent's) or ``no_fill_time`` (neither the fill nor
    the intent carries a time, so there is no bucket). ``detail`` is one human-readable line.
    """

    contract_name: ClassVar[str] = "slippage_unavailable"
    contract_version: ClassVar[int] = 1

    fill_id: str
    intent_id: str
    symbol: str
    reason: UnavailableReason
    detail: str
    source: SlippageSource
