"""Hand-worked slippage of single fills against the arrival quote (issue 11 item 5).

Every expected number is worked out in the comment beside it; ``px`` compares to 1e-9.
Times: 2025-10-31 is EDT (UTC−4), so 13:31 UTC is 09:31 New York; 2025-12-05 is EST (UTC−5).
"""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prices import px

from spxcc_core.contracts.broker import Fill, OrderIntent
from spxcc_core.contracts.slippage import SlippageRecord, SlippageUnavailable
from spxcc_core.slippage import slippage_record, spread_regime, tick_size, time_bucket

CALL = "SPXW251031C06850000"
PUT = "SPXW251031P06800000"
#: 2025-10-31 09:31:00 New York (EDT) = 13:31:00 UTC.
AT_0931 = int(dt.datetime(2025, 10, 31, 13, 31, tzinfo=dt.UTC).timestamp() * 1000)


def _intent(symbol: str, side: str, bid: float | None, ask: float | None,
            intent_id: str = "i-1") -> OrderIntent:
    return OrderIntent(intent_id=intent_id, option_symbol=symbol, underlying="SPX",
                       side=side,  # type: ignore[arg-type]
                       quantity=1, order_type="market", arrival_bid=bid, arrival_ask=ask,
                       created_at_ms=AT_0931 - 1000)


def _fill(symbol: str, side: str, price: float, *, intent_id: str | None = "i-1",
          at_ms: int | None = AT_0931) -> Fill:
    return Fill(fill_id="f-1", broker_order_id="o-1", symbol=symbol, side=side, quantity=1.0,
                price=price, intent_id=intent_id, at_ms=at_ms)


def _record(symbol: str, side: str, bid: float | None, ask: float | None, price: float,
            **kw: object) -> SlippageRecord:
    out = slippage_record(_intent(symbol, side, bid, ask), _fill(symbol, side, price),
                          source="paper", **kw)  # type: ignore[arg-type]
    assert isinstance(out, SlippageRecord), out
    return out


def test_buy_call_at_the_ask_of_a_tight_market() -> None:
    r = _record(CALL, "buy_to_open", 2.00, 2.05, 2.05)
    assert r.arrival_mid == px(2.025)             # (2.00 + 2.05) / 2
    assert r.arrival_spread == px(0.05)           # 2.05 − 2.00
    assert r.tick_size == 0.05                    # mid 2.025 < 3.00
    assert r.slippage_dollars == px(2.5)          # (2.05 − 2.025) × 100
    assert r.slippage_ticks == px(0.5)            # 0.025 / 0.05
    assert r.slippage_bps == px(123.456790123)    # 0.025 / 2.025 × 10 000
    assert r.slippage_spread_fraction == px(0.5)  # 0.025 / 0.05
    assert r.spread_regime == "tight"             # 0.05 = 1 tick
    assert r.time_bucket == "open"                # 09:31 New York
    assert r.dte == 0                             # expires 2025-10-31, traded 2025-10-31


def test_sell_put_below_the_mid_of_a_wide_market() -> None:
    r = _record(PUT, "sell_to_close", 4.00, 5.00, 4.20)
    assert r.arrival_mid == px(4.5)                # (4.00 + 5.00) / 2
    assert r.tick_size == 0.10                     # mid 4.50 ≥ 3.00
    assert r.slippage_dollars == px(30.0)          # (4.50 − 4.20) × 100, a cost on a sell
    assert r.slippage_ticks == px(3.0)             # 0.30 / 0.10
    assert r.slippage_bps == px(666.666666667)     # 0.30 / 4.50 × 10 000
    assert r.slippage_spread_fraction == px(0.3)   # 0.30 / 1.00
    assert r.spread_regime == "wide"               # 1.00 / 0.10 = 10 ticks > 4


def test_buy_put_in_a_locked_market_has_no_spread_fraction() -> None:
    r = _record(PUT, "buy_to_open", 1.50, 1.50, 1.55)
    assert r.arrival_spread == 0.0
    assert r.slippage_dollars == px(5.0)           # (1.55 − 1.50) × 100
    assert r.slippage_ticks == px(1.0)             # 0.05 / 0.05
    assert r.slippage_bps == px(333.333333333)     # 0.05 / 1.50 × 10 000
    assert r.slippage_spread_fraction is None      # spread 0: no fraction
    assert r.spread_regime == "zero"


def test_sell_call_above_the_mid_is_a_negative_cost() -> None:
    r = _record(CALL, "sell_to_open", 3.00, 3.20, 3.15)
    assert r.arrival_mid == px(3.1)
    assert r.slippage_dollars == px(-5.0)            # (3.10 − 3.15) × 100: price improvement
    assert r.slippage_ticks == px(-0.5)              # −0.05 / 0.10 (mid 3.10 ≥ 3.00)
    assert r.slippage_bps == px(-161.290322581)      # −0.05 / 3.10 × 10 000
    assert r.slippage_spread_fraction == px(-0.25)   # −0.05 / 0.20
    assert r.spread_regime == "normal"               # 0.20 / 0.10 = 2 ticks


def test_buy_call_to_close_at_the_mid_costs_nothing() -> None:
    r = _record(CALL, "buy_to_close", 7.40, 7.60, 7.50)
    assert r.slippage_dollars == 0.0
    assert r.slippage_ticks == 0.0
    assert r.slippage_spread_fraction == 0.0


def test_buy_into_a_one_sided_market_measures_against_the_half_ask_mid() -> None:
    r = _record(CALL, "buy_to_open", 0.0, 0.10, 0.10)
    assert r.arrival_mid == px(0.05)              # (0 + 0.10) / 2
    assert r.slippage_dollars == px(5.0)          # (0.10 − 0.05) × 100
    assert r.slippage_bps == px(10_000.0)         # 0.05 / 0.05 × 10 000
    assert r.slippage_spread_fraction == px(0.5)  # 0.05 / 0.10
    assert r.spread_regime == "normal"            # 0.10 / 0.05 = 2 ticks


def test_a_sell_whose_arrival_quote_had_no_bid_is_unavailable_not_a_price_improvement() -> None:
    # a 0DTE wing with no bid (0 x 0) and an offer at 0.05: an exit cannot sell at arrival;
    # it fills later at 1.00 when the market has moved. Against (0 + 0.05) / 2 that would be
    # booked as -$97.50 of "slippage" per contract; there is no arrival price to measure.
    out = slippage_record(_intent(CALL, "sell_to_close", 0.0, 0.05), _fill(CALL, "sell_to_close",
                          1.00), source="paper")
    assert isinstance(out, SlippageUnavailable)
    assert out.reason == "no_arrival_side"
    assert "no bid" in out.detail
    # a buy into a market with no offer likewise
    out = slippage_record(_intent(CALL, "buy_to_open", 0.05, 0.0), _fill(CALL, "buy_to_open",
                          0.10), source="paper")
    assert isinstance(out, SlippageUnavailable) and out.reason == "no_arrival_side"
    assert "no ask" in out.detail


def test_moneyness_and_otm_points_of_a_call_and_a_put() -> None:
    call = _record(CALL, "buy_to_open", 3.0, 3.2, 3.1, underlying_price=6840.0)
    assert call.moneyness == px(1.001461988)      # 6850 / 6840
    assert call.otm_points == px(10.0)            # 6850 − 6840: 10 points out of the money
    put = _record(PUT, "buy_to_open", 3.0, 3.2, 3.1, underlying_price=6840.0)
    assert put.moneyness == px(0.994152047)       # 6800 / 6840
    assert put.otm_points == px(40.0)             # 6840 − 6800
    itm_put = _record(PUT, "buy_to_open", 3.0, 3.2, 3.1, underlying_price=6790.0)
    assert itm_put.otm_points == px(-10.0)        # 6790 − 6800: in the money
    assert _record(CALL, "buy_to_open", 3.0, 3.2, 3.1).moneyness is None
    for bad in (float("inf"), float("nan"), 0.0):   # no usable underlying price: null, no NaN
        r = _record(CALL, "buy_to_open", 3.0, 3.2, 3.1, underlying_price=bad)
        assert (r.moneyness, r.otm_points) == (None, None)


def test_dte_counts_new_york_calendar_days() -> None:
    # 2025-10-31 00:30 UTC is 2025-10-30 20:30 New York: one day before the 10-31 expiry.
    evening = int(dt.datetime(2025, 10, 31, 0, 30, tzinfo=dt.UTC).timestamp() * 1000)
    r = _record(CALL, "buy_to_open", 3.0, 3.2, 3.1, at_ms=evening)
    assert r.dte == 1
    assert r.time_bucket == "off_hours"
    assert r.at_ms == evening


@pytest.mark.parametrize(("utc", "bucket"), [
    # 2025-12-05 is EST: New York = UTC − 5 h.
    (dt.datetime(2025, 12, 5, 14, 29, 59), "off_hours"),  # 09:29:59
    (dt.datetime(2025, 12, 5, 14, 30), "open"),           # 09:30
    (dt.datetime(2025, 12, 5, 14, 59, 59), "open"),       # 09:59:59
    (dt.datetime(2025, 12, 5, 15, 0), "morning"),         # 10:00
    (dt.datetime(2025, 12, 5, 17, 0), "midday"),          # 12:00
    (dt.datetime(2025, 12, 5, 19, 0), "afternoon"),       # 14:00
    (dt.datetime(2025, 12, 5, 20, 30), "close"),          # 15:30
    (dt.datetime(2025, 12, 5, 21, 14, 59), "close"),      # 16:14:59
    (dt.datetime(2025, 12, 5, 21, 15), "off_hours"),      # 16:15
    # 2025-07-01 is EDT: New York = UTC − 4 h, so 13:30 UTC is the open.
    (dt.datetime(2025, 7, 1, 13, 30), "open"),
])
def test_time_buckets_are_new_york_time(utc: dt.datetime, bucket: str) -> None:
    assert time_bucket(int(utc.replace(tzinfo=dt.UTC).timestamp() * 1000)) == bucket


def test_tick_grid_breaks_at_three_dollars() -> None:
    assert tick_size(2.99) == 0.05
    assert tick_size(3.00) == 0.10
    assert spread_regime(0.20, 0.05) == "normal"   # 4 ticks
    assert spread_regime(0.25, 0.05) == "wide"     # 5 ticks
    assert spread_regime(0.10, 0.10) == "tight"    # 1 tick


def _unavailable(intent: OrderIntent, fill: Fill) -> SlippageUnavailable:
    out = slippage_record(intent, fill, source="broker")
    assert isinstance(out, SlippageUnavailable), out
    return out


def test_an_intent_without_an_arrival_quote_gives_a_reason() -> None:
    u = _unavailable(_intent(CALL, "buy_to_open", 3.0, None), _fill(CALL, "buy_to_open", 3.1))
    assert (u.reason, u.fill_id, u.intent_id, u.source) == (
        "no_arrival_quote", "f-1", "i-1", "broker")
    assert u.detail == "intent 'i-1' has no arrivalAsk"
    both = _unavailable(_intent(CALL, "buy_to_open", None, None),
                        _fill(CALL, "buy_to_open", 3.1))
    assert both.detail == "intent 'i-1' has no arrivalBid and arrivalAsk"


def test_a_crossed_arrival_quote_gives_a_reason() -> None:
    u = _unavailable(_intent(CALL, "buy_to_open", 3.3, 3.1), _fill(CALL, "buy_to_open", 3.2))
    assert u.reason == "crossed_arrival_quote"
    assert "bid 3.3 is above ask 3.1" in u.detail


def test_a_fill_of_another_intent_or_symbol_gives_a_reason() -> None:
    other_intent = _unavailable(_intent(CALL, "buy_to_open", 3.0, 3.2),
                                _fill(CALL, "buy_to_open", 3.1, intent_id="i-2"))
    assert other_intent.reason == "fill_does_not_match_intent"
    other_symbol = _unavailable(_intent(CALL, "buy_to_open", 3.0, 3.2),
                                _fill(PUT, "buy_to_open", 3.1))
    assert other_symbol.reason == "fill_does_not_match_intent"
    # the Massive form of the same contract is the same symbol
    same = slippage_record(_intent(CALL, "buy_to_open", 3.0, 3.2),
                           _fill("O:" + CALL, "buy_to_open", 3.1), source="paper")
    assert isinstance(same, SlippageRecord)


def test_no_time_anywhere_gives_a_reason() -> None:
    intent = msgspec.structs.replace(_intent(CALL, "buy_to_open", 3.0, 3.2), created_at_ms=None)
    u = _unavailable(intent, _fill(CALL, "buy_to_open", 3.1, at_ms=None))
    assert u.reason == "no_fill_time"


@pytest.mark.parametrize(("price", "quantity"), [(float("nan"), 1.0), (float("inf"), 1.0),
                                                 (-0.05, 1.0), (3.1, 0.0)])
def test_a_fill_with_a_bad_price_or_quantity_gives_a_reason(price: float,
                                                            quantity: float) -> None:
    fill = msgspec.structs.replace(_fill(CALL, "buy_to_open", 3.1), price=price,
                                   quantity=quantity)
    u = _unavailable(_intent(CALL, "buy_to_open", 3.0, 3.2), fill)
    assert u.reason == "invalid_fill"


_prices = st.integers(min_value=1, max_value=400).map(lambda n: n * 0.05)


@given(bid=_prices, width=st.integers(min_value=0, max_value=20), fill=_prices)
def test_a_buy_and_a_sell_at_one_price_cost_opposite_amounts(bid: float, width: int,
                                                             fill: float) -> None:
    ask = bid + width * 0.05
    buy = _record(CALL, "buy_to_open", bid, ask, fill)
    sell = _record(CALL, "sell_to_close", bid, ask, fill)
    assert buy.slippage_dollars == px(-sell.slippage_dollars)
    assert buy.slippage_ticks == px(-sell.slippage_ticks)


@given(bid=_prices, width=st.integers(min_value=1, max_value=20))
def test_crossing_the_spread_costs_half_of_it(bid: float, width: int) -> None:
    ask = bid + width * 0.05
    assert _record(CALL, "buy_to_open", bid, ask, ask).slippage_spread_fraction == px(0.5)
    assert _record(PUT, "sell_to_close", bid, ask, bid).slippage_spread_fraction == px(0.5)
