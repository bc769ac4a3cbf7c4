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
    "FillRealism",
    "HistogramSeries",
    "SlippageBucketStats",
    "SlippageHistogram",
    "SlippageRecord",
    "SlippageReport",
    "SlippageSource",
    "SlippageUnavailable",
    "SpreadRegime",
    "TimeBucket",
    "UnavailableCount",
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
                            "no_fill_time", "invalid_fill", "no_arrival_side"]

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
    the intent carries a time, so there is no bucket) or ``invalid_fill`` (a price that is not a
    finite number >= 0, or a quantity that is not > 0). ``detail`` is one human-readable line.
    """

    contract_name: ClassVar[str] = "slippage_unavailable"
    contract_version: ClassVar[int] = 1

    fill_id: str
    intent_id: str
    symbol: str
    reason: UnavailableReason
    detail: str
    source: SlippageSource


# --- the report of `spxcc slippage report` -----------------------------------------------------


class SlippageBucketStats(Contract, frozen=True, kw_only=True):
    """Rolling slippage of one bucket (part of :class:`SlippageReport`), dollars per contract.

    ``level`` is ``detector_time_spread``, ``detector_time``, ``detector`` or ``all``; the parts
    the level does not use are null (``detector`` is ``""`` for intents no setup produced).
    ``label`` names the bucket (``orb × open × tight``). ``count`` counts every fill seen,
    ``windowCount`` those in the p50/p90 window. Statistics are null without fills.
    """

    source: SlippageSource
    level: str
    detector: str | None
    time_bucket: str | None
    spread_regime: str | None
    label: str
    count: int
    window_count: int
    ewma_dollars: float | None
    p50_dollars: float | None
    p90_dollars: float | None


class FillRealism(Contract, frozen=True, kw_only=True):
    """Broker against paper slippage in one bucket that has fills of both (part of
    :class:`SlippageReport`): ``differenceDollars = brokerEwmaDollars − paperEwmaDollars``
    (positive: real fills cost more than the paper model paid)."""

    level: str
    label: str
    paper_count: int
    broker_count: int
    paper_ewma_dollars: float
    broker_ewma_dollars: float
    difference_dollars: float


class HistogramSeries(Contract, frozen=True, kw_only=True):
    """One series of :class:`SlippageHistogram`: ``counts[i]`` fills in bin ``i``."""

    name: str
    counts: tuple[int, ...]


class SlippageHistogram(Contract, frozen=True, kw_only=True):
    """Histogram of per-fill slippage in dollars per contract: bin ``i`` is
    ``[edges[i], edges[i + 1])`` (``len(edges) = bins + 1``, empty without fills). Series:
    realized slippage per source, and the paper fill model's predicted slippage against the same
    arrival quotes (``modelKind``, ``modelTicks``, ``modelTick`` dollars); ``unpredicted``
    counts fills whose quote the model could not fill (a sell into a zero bid, ...)."""

    bin_width_dollars: float
    edges: tuple[float, ...]
    series: tuple[HistogramSeries, ...]
    model_kind: str
    model_ticks: int
    model_tick: float
    unpredicted: int


class UnavailableCount(Contract, frozen=True, kw_only=True):
    """Fills of ``source`` without a measurement for ``reason`` (part of
    :class:`SlippageReport`)."""

    source: SlippageSource
    reason: UnavailableReason
    count: int


class SlippageReport(Contract, frozen=True, kw_only=True):
    """``slippage_report@1``: what ``spxcc slippage report --json`` prints.

    ``fillsPaper``/``fillsBroker`` count measured fills per source; ``unavailable`` the fills
    without a measurement by source and reason; ``buckets`` every bucket with fills, by
    (source, level finest first, parts); ``fillRealism`` the buckets with fills of both sources;
    ``window`` and ``halflifeFills`` the rolling parameters used (fills).
    """

    contract_name: ClassVar[str] = "slippage_report"
    contract_version: ClassVar[int] = 1

    fills_paper: int
    fills_broker: int
    unavailable: tuple[UnavailableCount, ...]
    window: int
    halflife_fills: float
    buckets: tuple[SlippageBucketStats, ...]
    fill_realism: tuple[FillRealism, ...]
    histogram: SlippageHistogram
