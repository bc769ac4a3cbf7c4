"""Realized slippage of one fill against its intent's arrival quote (pure; no I/O).

:func:`slippage_record` turns an :class:`OrderIntent` (which carries the arrival bid/ask) and a
:class:`Fill` into a :class:`SlippageRecord`, or into a :class:`SlippageUnavailable` naming why no
slippage can be measured (no arrival quote, a crossed arrival quote, a fill of another
intent/symbol, no time, a non-finite price) — never an exception, never a silent drop.

Formulas (per share, then scaled), with ``mid = (bid + ask) / 2`` and ``spread = ask − bid``:

- ``d = price − mid`` for a buy (``buy_to_open``/``buy_to_close``), ``d = mid − price`` for a
  sell: positive is a cost;
- dollars per contract ``= d × 100`` (the SPX/SPXW multiplier);
- ticks ``= d / tick(mid)`` with ``tick(mid) = 0.05`` below 3.00 and ``0.10`` from 3.00;
- bps of mid ``= d / mid × 10 000`` (null when ``mid = 0``);
- fraction of the spread ``= d / spread`` (null when ``spread = 0``).

Every derived number is rounded to 9 decimal places so binary float noise
(``3.25 − 3.2 = 0.04999…``) never reaches the wire; the rounding is far below a tick.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Final

from spxcc_core.contracts.broker import Fill, OrderIntent
from spxcc_core.contracts.slippage import (
    SlippageRecord,
    SlippageSource,
    SlippageUnavailable,
    SpreadRegime,
    TimeBucket,
    UnavailableReason,
)
from spxcc_core.errors import InputError
from spxcc_core.occ import parse_occ
from spxcc_core.session import NEW_YORK

__all__ = [
    "MULTIPLIER",
    "is_buy",
    "slippage_record",
    "spread_regime",
    "tick_size",
    "time_bucket",
]

#: Dollars per point of premium for SPX/SPXW options.
MULTIPLIER: Final = 100.0
#: Premium from which the SPX option tick is 0.10 (below it, 0.05).
_TICK_BREAK: Final = 3.00
_DIGITS: Final = 9
#: Spread regime upper bounds in ticks (inclusive): tight ≤ 1, normal ≤ 4, wide above.
_TIGHT_MAX_TICKS: Final = 1.0
_NORMAL_MAX_TICKS: Final = 4.0
#: (bucket, start minute of the New York day inclusive, end minute exclusive).
_BUCKET_BOUNDS: Final[tuple[tuple[TimeBucket, int, int], ...]] = (
    ("open", 9 * 60 + 30, 10 * 60),
    ("morning", 10 * 60, 12 * 60),
    ("midday", 12 * 60, 14 * 60),
    ("afternoon", 14 * 60, 15 * 60 + 30),
    ("close", 15 * 60 + 30, 16 * 60 + 15),
)


def tick_size(price: float) -> float:
    """The SPX option tick at ``price`` (per-share premium): 0.05 below 3.00, 0.10 from 3.00."""
    return 0.05 if price < _TICK_BREAK else 0.10


def is_buy(side: str) -> bool:
    """True for ``buy_to_open``/``buy_to_close`` (and a bare ``buy``), False for sells."""
    return side.startswith("buy")


def time_bucket(at_ms: int) -> TimeBucket:
    """The New York time-of-day bucket of an epoch-ms instant (see ``TIME_BUCKETS``)."""
    return _bucket_of(dt.datetime.fromtimestamp(at_ms / 1000.0, tz=NEW_YORK))


def _bucket_of(local: dt.datetime) -> TimeBucket:
    minute = local.hour * 60 + local.minute
    for name, start, end in _BUCKET_BOUNDS:
        if start <= minute < end:
            return name
    return "off_hours"


def spread_regime(spread: float, tick: float) -> SpreadRegime:
    """``zero`` for a spread of 0, ``tight`` up to 1 tick, ``normal`` up to 4 ticks, else
    ``wide`` (``spread`` ≥ 0 and ``tick`` > 0 in the same price units)."""
    if spread <= 0.0:
        return "zero"
    ticks = round(spread / tick, _DIGITS)
    if ticks <= _TIGHT_MAX_TICKS:
        return "tight"
    if ticks <= _NORMAL_MAX_TICKS:
        return "normal"
    return "wide"


def _r(value: float) -> float:
    return round(value, _DIGITS) + 0.0  # + 0.0 turns -0.0 into 0.0


def _unavailable(intent: OrderIntent, fill: Fill, source: SlippageSource,
                 reason: UnavailableReason, detail: str) -> SlippageUnavailable:
    return SlippageUnavailable(fill_id=fill.fill_id, intent_id=intent.intent_id,
                               symbol=fill.symbol, reason=reason, detail=detail, source=source)


def _same_symbol(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return parse_occ(a) == parse_occ(b)
    except InputError:
        return a == b


def slippage_record(intent: OrderIntent, fill: Fill, *, source: SlippageSource,
                    setup_id: str | None = None, detector: str | None = None,
                    underlying_price: float | None = None,
                    at_ms: int | None = None) -> SlippageRecord | SlippageUnavailable:
    """The realized slippage of ``fill`` against ``intent``'s arrival quote.

    :param intent: the order intent the fill executes; its ``arrivalBid``/``arrivalAsk`` are the
        arrival quote and its ``side`` gives the sign.
    :param fill: one execution of that intent (``quantity`` > 0 contracts at ``price``).
    :param source: ``paper`` or ``broker``.
    :param setup_id: the setup that produced the intent, None for a hand-written intent.
    :param detector: the detector of that setup, None likewise.
    :param underlying_price: the underlying (SPX) price at arrival, for ``moneyness`` and
        ``otmPoints``; None leaves both null.
    :param at_ms: the instant that fixes the time-of-day bucket and the DTE (epoch ms); None uses
        the fill's ``atMs``, else the intent's ``createdAtMs``.
    :returns: the record, or a :class:`SlippageUnavailable` with the reason when the intent has
        no (or a crossed) arrival quote, its arrival quote lacked the side it trades into (a
        sell with no bid, a buy with no offer: ``no_arrival_side``), the fill is not of this
        intent, or no time is known.
    """
    if fill.intent_id is not None and fill.intent_id != intent.intent_id:
        return _unavailable(intent, fill, source, "fill_does_not_match_intent",
                            f"fill {fill.fill_id!r} is of intent {fill.intent_id!r}, "
                            f"not {intent.intent_id!r}")
    if not _same_symbol(fill.symbol, intent.option_symbol):
        return _unavailable(intent, fill, source, "fill_does_not_match_intent",
                            f"fill {fill.fill_id!r} is of {fill.symbol!r}, the intent of "
                            f"{intent.option_symbol!r}")
    if not (math.isfinite(fill.price) and fill.price >= 0.0
            and math.isfinite(fill.quantity) and fill.quantity > 0.0):
        return _unavailable(intent, fill, source, "invalid_fill",
                            f"fill {fill.fill_id!r} has price {fill.price!r} and quantity "
                            f"{fill.quantity!r}")
    bid, ask = intent.arrival_bid, intent.arrival_ask
    if bid is None or ask is None:
        missing = " and ".join(n for n, v in (("arrivalBid", bid), ("arrivalAsk", ask))
                               if v is None)
        return _unavailable(intent, fill, source, "no_arrival_quote",
                            f"intent {intent.intent_id!r} has no {missing}")
    if (ask if is_buy(intent.side) else bid) <= 0.0:
        # a sell when there was no bid (a 0DTE wing worth less than a tick), a buy when there
        # was no offer: the order could not trade at arrival, so arrival has no price to
        # measure its fill against (a mid of (0 + ask) / 2 would book the later move as
        # slippage); a buy into a market with no bid still measures against (0 + ask) / 2
        side = "bid" if not is_buy(intent.side) else "ask"
        return _unavailable(intent, fill, source, "no_arrival_side",
                            f"intent {intent.intent_id!r} is a {intent.side} and its arrival "
                            f"quote had no {side}")
    if bid > ask:
        return _unavailable(intent, fill, source, "crossed_arrival_quote",
                            f"intent {intent.intent_id!r} arrival bid {bid} is above ask {ask}")
    when = at_ms if at_ms is not None else (
        fill.at_ms if fill.at_ms is not None else intent.created_at_ms)
    if when is None:
        return _unavailable(intent, fill, source, "no_fill_time",
                            f"neither fill {fill.fill_id!r} nor intent {intent.intent_id!r} "
                            "carries a time")
    option = parse_occ(intent.option_symbol)
    mid = (bid + ask) / 2.0
    spread = ask - bid
    tick = tick_size(mid)
    per_share = fill.price - mid if is_buy(intent.side) else mid - fill.price
    moneyness: float | None = None
    otm_points: float | None = None
    if underlying_price is not None and math.isfinite(underlying_price) and underlying_price > 0:
        strike = float(option.strike)
        moneyness = _r(strike / underlying_price)
        otm_points = _r(strike - underlying_price if option.is_call
                        else underlying_price - strike)
    local = dt.datetime.fromtimestamp(when / 1000.0, tz=NEW_YORK)
    return SlippageRecord(
        fill_id=fill.fill_id, intent_id=intent.intent_id, setup_id=setup_id, detector=detector,
        symbol=intent.option_symbol, side=intent.side, quantity=fill.quantity,
        fill_price=fill.price, arrival_bid=bid, arrival_ask=ask, arrival_mid=_r(mid),
        arrival_spread=_r(spread), tick_size=tick,
        slippage_dollars=_r(per_share * MULTIPLIER),
        slippage_ticks=_r(per_share / tick),
        slippage_bps=_r(per_share / mid * 10_000.0) if mid > 0.0 else None,
        slippage_spread_fraction=_r(per_share / spread) if spread > 0.0 else None,
        time_bucket=_bucket_of(local), spread_regime=spread_regime(spread, tick),
        moneyness=moneyness, otm_points=otm_points,
        dte=(option.expiry - local.date()).days, source=source, at_ms=when,
        arrival_at_ms=intent.created_at_ms)
