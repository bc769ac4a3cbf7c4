"""Hand-worked SPX tick-grid prices, entry limits, stop premiums and sizing with delta/gamma."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spxcc_core.broker.sizing import size_contracts
from spxcc_core.contracts.broker import PortfolioSnapshot
from spxcc_core.execute.pricing import entry_limit, grid_ceil, grid_floor, stop_premium, tick_size


@pytest.mark.parametrize(("price", "tick"), [(0.05, 0.05), (2.95, 0.05), (2.999, 0.05),
                                              (3.00, 0.10), (14.2, 0.10)])
def test_tick_size_is_five_cents_below_three_dollars_and_ten_from_three(price, tick):
    assert tick_size(price) == tick


@pytest.mark.parametrize(("price", "up", "down"), [
    (1.125, 1.15, 1.10),   # between two nickels
    (2.95, 2.95, 2.95),    # on the grid stays
    (2.98, 3.00, 2.95),    # up crosses into the dime grid at 3.00
    (3.01, 3.10, 3.00),    # dime grid from 3.00
    (4.30, 4.30, 4.30),
    (0.3 + 0.1 + 0.05, 0.45, 0.45),  # 0.45000000000000007: binary noise is not a tick
])
def test_grid_rounding(price, up, down):
    assert grid_ceil(price) == up
    assert grid_floor(price) == down


@pytest.mark.parametrize(("bid", "ask", "k", "limit"), [
    (1.05, 1.20, 1, 1.20),  # mid 1.125 + 0.05 = 1.175 -> 1.20 on the grid, = ask
    (1.05, 1.20, 0, 1.15),  # mid 1.125 -> 1.15
    (1.00, 1.40, 1, 1.25),  # mid 1.20 + 0.05 = 1.25, below the ask
    (2.90, 3.10, 1, 3.10),  # mid 3.00 is on the dime grid: + 0.10 = 3.10 = ask
    (2.90, 3.10, 0, 3.00),
    (4.00, 4.60, 1, 4.40),  # mid 4.30 + 0.10
    (4.00, 4.60, 5, 4.60),  # mid 4.30 + 0.50 = 4.80, capped at the ask 4.60
    (2.85, 2.95, 1, 2.95),  # mid 2.90 + 0.05 = 2.95 = ask
])
def test_entry_limit_is_mid_plus_k_ticks_on_the_grid_capped_at_the_ask(bid, ask, k, limit):
    assert entry_limit(bid, ask, k) == limit


def test_stop_premium_worked_example_of_docs_execution():
    # premium 4.20, delta 0.30, gamma 0.02, the underlying stop 5 index points away:
    # |delta| d = 0.30 x 5 = 1.50; 1/2 gamma d^2 = 0.5 x 0.02 x 25 = 0.25; loss 1.25
    # stop premium = 4.20 - 1.25 = 2.95
    assert stop_premium(4.20, 0.30, 0.02, 5.0) == pytest.approx(2.95)
    # a put's delta is negative: its magnitude is used
    assert stop_premium(4.20, -0.30, 0.02, 5.0) == pytest.approx(2.95)


def test_stop_premium_is_floored_at_one_tick():
    # 0.60 - (0.5 x 2 - 0) = -0.40 -> one tick
    assert stop_premium(0.60, 0.5, 0.0, 2.0) == 0.05


def test_stop_premium_at_or_above_the_premium_sizes_to_zero():
    # delta 0.1, gamma 0.05, d 10: 1.0 - 2.5 = -1.5 -> stop 5.50 above the 4.00 premium
    sp = stop_premium(4.00, 0.1, 0.05, 10.0)
    assert sp == pytest.approx(5.50)
    snap = PortfolioSnapshot(account_id="a", account_type="margin", option_buying_power=1e6,
                             stock_buying_power=None, day_trade_buying_power=None,
                             cash_available=None, total_equity=None)
    r = size_contracts(snap, premium=4.00, stop_premium=sp, risk_budget=500)
    assert r.contracts == 0 and r.reasons


def test_sizing_with_the_estimated_stop_premium():
    # risk per contract (4.20 - 2.95) x 100 = $125; budget $500 -> 4 contracts (risk bound);
    # buying power $1000: 4.20 x 100 x 1.05 = $441 per contract -> 2 (buying-power bound)
    sp = stop_premium(4.20, 0.30, 0.02, 5.0)
    rich = PortfolioSnapshot(account_id="a", account_type="margin", option_buying_power=1e5,
                             stock_buying_power=None, day_trade_buying_power=None,
                             cash_available=None, total_equity=None)
    r = size_contracts(rich, premium=4.20, stop_premium=sp, risk_budget=500)
    assert (r.contracts, r.limited_by) == (4, "risk")
    poor = PortfolioSnapshot(account_id="a", account_type="margin", option_buying_power=1000,
                             stock_buying_power=None, day_trade_buying_power=None,
                             cash_available=None, total_equity=None)
    r = size_contracts(poor, premium=4.20, stop_premium=sp, risk_budget=500)
    assert (r.contracts, r.limited_by) == (2, "buying_power")


# --- properties --------------------------------------------------------------------------------


_cents = st.integers(min_value=1, max_value=5_000)  # 0.01 .. 50.00


def _on_grid(price: float) -> bool:
    c = round(price * 100)
    return abs(price * 100 - c) < 1e-6 and c % (5 if c < 300 else 10) == 0


@given(_cents)
def test_grid_ceil_and_floor_bracket_the_price_on_the_grid(c):
    price = c / 100
    up, down = grid_ceil(price), grid_floor(price)
    assert _on_grid(up) and _on_grid(down)
    assert down - 1e-9 <= price <= up + 1e-9
    # nothing on the grid lies strictly between: the next tick above down is above price
    assert up - down <= tick_size(down) + 1e-9


@given(_cents, st.integers(min_value=0, max_value=40), st.integers(min_value=0, max_value=10))
def test_entry_limit_never_above_the_ask_nor_below_the_mid(bid_c, width_c, k):
    bid = bid_c / 100
    ask = (bid_c + width_c) / 100
    limit = entry_limit(bid, ask, k)
    assert limit <= ask + 1e-9
    # the limit is the ask (a marketable order) or a grid price at or above the mid
    assert limit == ask or (_on_grid(limit) and limit >= (bid + ask) / 2 - 1e-9)
