"""Hand-worked contract selection: criteria in order, counts per criterion, nearest delta."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from spxcc_core.execute.policy import ExecutionPolicy
from spxcc_core.execute.select import NoContract, OptionQuote, Selection, select_contract
from spxcc_core.gamma import bs_price, settlement_ms

DAY = dt.date(2025, 12, 12)
SETTLE = settlement_ms(DAY)          # 16:00 New York
NOW = SETTLE - 2 * 3600 * 1000       # 14:00 New York: T = 2 h = 2 / 8760 years
SPOT = 6000.0
SIGMA = 0.15


def fair(strike: float, call: bool = True) -> float:
    # input data: a Black-Scholes price at sigma 0.15 (the quote's mid)
    t = (SETTLE - NOW) / (365 * 24 * 3600 * 1000)
    return float(bs_price(SPOT, strike, t, SIGMA, call)[()])


def quote(strike: float, *, call: bool = True, bid: float | None = None,
          ask: float | None = None, age_ms: int = 0, size: float = 10.0) -> OptionQuote:
    mid = fair(strike, call)
    return OptionQuote(symbol=f"O:SPXW251212{'C' if call else 'P'}0{int(strike)}000",
                       strike=strike, is_call=call, settle_ms=SETTLE,
                       bid=mid - 0.05 if bid is None else bid,
                       ask=mid + 0.05 if ask is None else ask,
                       bid_size=size, ask_size=size, ts_ms=NOW - age_ms)


def test_nearest_delta_wins_hand_worked():
    # sigma sqrt(T) = 0.15 x sqrt(2/8760) = 0.0022665
    # K 6000: d1 = 0.0022665 / 2 = 0.0011  -> delta N(0.0011) = 0.5005
    # K 6005: d1 = (ln(6000/6005) + 0.0022665^2 / 2) / 0.0022665 = -0.3664 -> delta 0.357
    # K 6010: d1 = (-0.0016653 + 0.0000026) / 0.0022665 = -0.7336      -> delta 0.2316
    # target 0.30: |0.357 - 0.30| = 0.057 < |0.2316 - 0.30| = 0.068 -> K 6005
    quotes = [quote(6000), quote(6005), quote(6010)]
    got = select_contract(quotes, call=True, spot=SPOT, now_ms=NOW,
                          policy=ExecutionPolicy(target_delta=0.30, min_premium=0.5))
    assert isinstance(got, Selection)
    assert got.quote.strike == 6005
    assert got.delta == pytest.approx(0.357, abs=0.002)
    assert got.iv == pytest.approx(SIGMA, abs=1e-4)
    assert got.considered == 3
    # target 0.50 -> the money
    got = select_contract(quotes, call=True, spot=SPOT, now_ms=NOW,
                          policy=ExecutionPolicy(target_delta=0.50))
    assert isinstance(got, Selection) and got.quote.strike == 6000
    assert got.delta == pytest.approx(0.5005, abs=0.001)


def test_short_setups_buy_puts_with_negative_delta():
    # put delta = call delta - 1: K 5995 put is the mirror of the K 6005 call: about -0.357
    quotes = [quote(6005), quote(5995, call=False), quote(6000, call=False)]
    got = select_contract(quotes, call=False, spot=SPOT, now_ms=NOW,
                          policy=ExecutionPolicy(target_delta=0.30))
    assert isinstance(got, Selection)
    assert got.quote.strike == 5995 and not got.quote.is_call
    assert got.delta == pytest.approx(-0.357, abs=0.005)


def test_every_rejected_contract_counts_under_its_first_failed_criterion():
    policy = ExecutionPolicy(max_quote_age_ms=5000, max_spread=0.50, min_premium=0.50,
                             max_premium=15.0)
    quotes = [
        quote(6000, age_ms=5001),                      # stale (also fine otherwise)
        quote(6000, age_ms=9000, bid=0.0),             # stale first, though one-sided too
        quote(6005, bid=0.0),                          # a zero bid: not two-sided
        quote(6005, bid=4.0, ask=3.9),                 # crossed: not two-sided
        quote(6005, bid=3.0, ask=3.6),                 # spread 0.60 > 0.50
        quote(6050, bid=0.05, ask=0.15),               # mid 0.10 < 0.50
        quote(5900, bid=100.0, ask=100.2),             # mid 100.10 > 15
        quote(6000, call=False),                       # a put: not considered for a long
    ]
    got = select_contract(quotes, call=True, spot=SPOT, now_ms=NOW, policy=policy)
    assert isinstance(got, NoContract)
    assert dict(got.rejected) == {"stale_quote": 2, "not_two_sided": 2, "spread": 1,
                                  "premium": 2}
    assert got.considered == 7
    assert sum(got.rejected.values()) == got.considered


def test_a_mid_below_intrinsic_has_no_volatility():
    # K 5990 call with the index at 6000 is worth at least 10 (intrinsic): a mid of 5 is
    # below the no-arbitrage bound, no volatility reproduces it
    got = select_contract([quote(5990, bid=4.95, ask=5.05)], call=True, spot=SPOT, now_ms=NOW,
                          policy=ExecutionPolicy())
    assert isinstance(got, NoContract) and dict(got.rejected) == {"no_volatility": 1}


def test_no_quotes_at_all():
    got = select_contract([], call=True, spot=SPOT, now_ms=NOW, policy=ExecutionPolicy())
    assert isinstance(got, NoContract) and got.considered == 0 and not got.rejected


def test_ties_go_to_the_lower_premium_then_the_symbol():
    a = quote(6005)
    b = OptionQuote(symbol="O:SPXW251212C06005000X", strike=6005, is_call=True,
                    settle_ms=SETTLE, bid=a.bid, ask=a.ask, bid_size=1, ask_size=1, ts_ms=NOW)
    got = select_contract([b, a], call=True, spot=SPOT, now_ms=NOW, policy=ExecutionPolicy())
    assert isinstance(got, Selection) and got.quote.symbol == a.symbol
    assert np.isfinite(got.gamma) and got.gamma > 0
