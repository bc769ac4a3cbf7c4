"""Sizing: hand-worked cases per account type and per limit, plus hypothesis properties."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spxcc_core.broker.sizing import available_buying_power, size_contracts
from spxcc_core.errors import InputError


@attrs.frozen
class Snap:
    account_type: str
    option_buying_power: float | None = None
    day_trade_buying_power: float | None = None
    cash_available: float | None = None
    stock_buying_power: float | None = None


def margin(obp: float | None) -> Snap:
    return Snap("margin", option_buying_power=obp, stock_buying_power=99999.0)


# --- margin -----------------------------------------------------------------------------------

def test_margin_limited_by_risk() -> None:
    # risk per contract (3.20-1.60)*100 = 160; 500/160 = 3.125 -> 3
    # bp per contract 320*1.05 = 336; 6363.86/336 = 18.94 -> 18
    r = size_contracts(margin(6363.86), premium=3.20, stop_premium=1.60, risk_budget=500)
    assert (r.contracts, r.limited_by, r.reasons) == (3, "risk", [])


def test_margin_limited_by_buying_power() -> None:
    # risk 10000/160 = 62.5 -> 62; bp 6363.86/336 -> 18
    r = size_contracts(margin(6363.86), premium=3.20, stop_premium=1.60, risk_budget=10000)
    assert (r.contracts, r.limited_by) == (18, "buying_power")


def test_margin_uses_option_not_stock_buying_power() -> None:
    # stock bp 99999 would allow 297; option bp 1000 / 336 = 2.97 -> 2
    r = size_contracts(margin(1000.0), premium=3.20, stop_premium=1.60, risk_budget=10000)
    assert (r.contracts, r.limited_by) == (2, "buying_power")


def test_limited_by_max_contracts() -> None:
    r = size_contracts(margin(6363.86), premium=3.20, stop_premium=1.60, risk_budget=10000,
                       max_contracts=2)
    assert (r.contracts, r.limited_by) == (2, "max_contracts")


def test_tie_prefers_risk_then_buying_power() -> None:
    # risk 1000/200 = 5; bp 1000/(2.0*100*1.0) = 5; max 5
    r = size_contracts(margin(1000.0), premium=2.0, stop_premium=0.0, risk_budget=1000,
                       max_contracts=5, buffer=0.0)
    assert (r.contracts, r.limited_by) == (5, "risk")
    r = size_contracts(margin(1000.0), premium=2.0, stop_premium=0.0, risk_budget=2000,
                       max_contracts=5, buffer=0.0)
    assert (r.contracts, r.limited_by) == (5, "buying_power")


# --- exactness --------------------------------------------------------------------------------

def test_float_floor_risk_is_exact() -> None:
    # (2.1 - 0.1) * 100 is 200.00000000000003 in binary floats; exactly 200 -> 1000/200 = 5
    r = size_contracts(margin(1e9), premium=2.1, stop_premium=0.1, risk_budget=1000)
    assert (r.contracts, r.limited_by) == (5, "risk")
    r = size_contracts(margin(1e9), premium=2.0, stop_premium=0.0, risk_budget=1000)
    assert r.contracts == 5


def test_float_floor_buying_power_is_exact() -> None:
    # 2.0*100*1.05 is 210.00000000000003 in floats; exactly 210 -> 1050/210 = 5
    r = size_contracts(margin(1050.0), premium=2.0, stop_premium=0.0, risk_budget=1e9)
    assert (r.contracts, r.limited_by) == (5, "buying_power")


# --- pdt --------------------------------------------------------------------------------------

def test_pdt_uses_smaller_of_option_and_day_trade_bp() -> None:
    # bp min(5000, 2000) = 2000; cost 1.00*100 = 100 -> 20; risk 100000/50 -> 2000
    s = Snap("pdt", option_buying_power=5000.0, day_trade_buying_power=2000.0)
    r = size_contracts(s, premium=1.0, stop_premium=0.5, risk_budget=100000, buffer=0.0)
    assert (r.contracts, r.limited_by) == (20, "buying_power")
    assert available_buying_power(s) == (2000.0, "dayTradeBuyingPower")


def test_pdt_option_bp_smaller_than_dtbp() -> None:
    # min(1500, 8000) = 1500 -> 15
    s = Snap("pdt", option_buying_power=1500.0, day_trade_buying_power=8000.0)
    r = size_contracts(s, premium=1.0, stop_premium=0.5, risk_budget=100000, buffer=0.0)
    assert (r.contracts, r.limited_by) == (15, "buying_power")


def test_pdt_without_dtbp_uses_option_bp() -> None:
    s = Snap("pdt", option_buying_power=5000.0, day_trade_buying_power=None)
    r = size_contracts(s, premium=1.0, stop_premium=0.5, risk_budget=100000, buffer=0.0)
    assert (r.contracts, r.limited_by) == (50, "buying_power")


# --- cash -------------------------------------------------------------------------------------

def test_cash_uses_cash_available() -> None:
    # cost 4.00*100*1.05 = 420; 4343.38/420 = 10.34 -> 10; risk 5000/200 = 25
    s = Snap("cash", option_buying_power=1e6, cash_available=4343.38)
    r = size_contracts(s, premium=4.0, stop_premium=2.0, risk_budget=5000)
    assert (r.contracts, r.limited_by) == (10, "buying_power")


# --- zeros and their reasons ------------------------------------------------------------------

def test_zero_when_stop_at_or_above_premium() -> None:
    r = size_contracts(margin(1e6), premium=2.0, stop_premium=2.0, risk_budget=1000)
    assert (r.contracts, r.limited_by) == (0, "risk")
    assert len(r.reasons) == 1 and "stop premium 2 >= premium 2" in r.reasons[0]


def test_zero_when_buying_power_null() -> None:
    s = Snap("cash", option_buying_power=1e6, cash_available=None)
    r = size_contracts(s, premium=2.0, stop_premium=1.0, risk_budget=1000)
    assert (r.contracts, r.limited_by) == (0, "buying_power")
    assert r.reasons == ["buying power is null in the snapshot (cashAvailable, accountType cash)"]


def test_zero_when_buying_power_negative() -> None:
    r = size_contracts(margin(-250.0), premium=2.0, stop_premium=1.0, risk_budget=1000)
    assert (r.contracts, r.limited_by) == (0, "buying_power")
    assert r.reasons == ["no buying power (optionBuyingPower -250.00)"]


def test_zero_when_bp_below_one_contract() -> None:
    r = size_contracts(margin(200.0), premium=2.0, stop_premium=1.0, risk_budget=1000)
    assert r.contracts == 0
    assert r.reasons == ["buying power 200.00 (optionBuyingPower) < cost of one contract "
                         "with buffer 210.00"]


def test_zero_when_budget_below_one_contract_lists_every_cause() -> None:
    r = size_contracts(margin(None), premium=2.0, stop_premium=1.0, risk_budget=99.99)
    assert (r.contracts, r.limited_by) == (0, "risk")
    assert r.reasons == ["risk budget 99.99 < risk of one contract 100.00",
                         "buying power is null in the snapshot (optionBuyingPower, "
                         "accountType margin)"]


def test_zero_max_contracts() -> None:
    r = size_contracts(margin(1e6), premium=2.0, stop_premium=1.0, risk_budget=1000,
                       max_contracts=0)
    assert (r.contracts, r.limited_by, r.reasons) == (0, "max_contracts", ["max contracts is 0"])


@pytest.mark.parametrize("kw, where", [
    ({"premium": 0.0}, "--premium"),
    ({"premium": float("nan")}, "--premium"),
    ({"stop_premium": -1.0}, "--stop-premium"),
    ({"risk_budget": -5.0}, "--risk-budget"),
    ({"buffer": 1.5}, "--buffer"),
    ({"max_contracts": -1}, "--max-contracts"),
])
def test_bad_parameters_are_input_errors(kw: dict[str, float], where: str) -> None:
    args: dict[str, float] = {"premium": 2.0, "stop_premium": 1.0, "risk_budget": 100.0}
    args.update(kw)
    with pytest.raises(InputError, match=where.replace("-", r"\-")):
        size_contracts(margin(1e6), **args)  # type: ignore[arg-type]


def test_unknown_account_type() -> None:
    with pytest.raises(InputError, match="accountType must be cash, margin or pdt"):
        size_contracts(Snap("ira"), premium=2.0, stop_premium=1.0, risk_budget=100)


# --- properties -------------------------------------------------------------------------------

cents = st.integers(min_value=1, max_value=5000).map(lambda c: c / 100)
money = st.integers(min_value=-10_000_00, max_value=10_000_000_00).map(lambda c: c / 100)
kinds = st.sampled_from(["margin", "pdt", "cash"])


def _q(x: float) -> Fraction:
    return Fraction(Decimal(repr(x)))


@st.composite
def snaps(draw: st.DrawFn) -> Snap:
    return Snap(draw(kinds), option_buying_power=draw(st.none() | money),
                day_trade_buying_power=draw(st.none() | money),
                cash_available=draw(st.none() | money))


@given(snap=snaps(), premium=cents, stop=cents, budget=money.map(abs),
       cap=st.none() | st.integers(0, 500), buffer=st.sampled_from([0.0, 0.05, 0.1, 0.25]))
def test_never_exceeds_any_bound_and_is_maximal(snap: Snap, premium: float, stop: float,
                                                budget: float, cap: int | None,
                                                buffer: float) -> None:
    r = size_contracts(snap, premium=premium, stop_premium=stop, risk_budget=budget,
                       max_contracts=cap, buffer=buffer)
    n = r.contracts
    assert n >= 0
    assert (n == 0) == bool(r.reasons)
    if cap is not None:
        assert n <= cap
    if n > 0:
        assert stop < premium
        assert n * (_q(premium) - _q(stop)) * 100 <= _q(budget)
        bp, _ = available_buying_power(snap)
        assert bp is not None
        assert n * _q(premium) * 100 * (1 + _q(buffer)) <= _q(bp)
        if snap.account_type == "pdt":
            assert snap.option_buying_power is not None and n * premium * 100 <= (
                snap.option_buying_power + 1e-6)
    # One more contract would break the bound named by limitedBy.
    m = n + 1
    if r.limited_by == "risk":
        assert stop >= premium or m * (_q(premium) - _q(stop)) * 100 > _q(budget)
    elif r.limited_by == "buying_power":
        bp, _ = available_buying_power(snap)
        assert bp is None or m * _q(premium) * 100 * (1 + _q(buffer)) > _q(bp)
    else:
        assert cap is not None and m > cap


@given(snap=snaps(), premium=cents, stop=cents, b1=money.map(abs), b2=money.map(abs))
def test_monotone_in_budget(snap: Snap, premium: float, stop: float, b1: float,
                            b2: float) -> None:
    lo, hi = sorted((b1, b2))
    r_lo = size_contracts(snap, premium=premium, stop_premium=stop, risk_budget=lo)
    r_hi = size_contracts(snap, premium=premium, stop_premium=stop, risk_budget=hi)
    assert r_lo.contracts <= r_hi.contracts


def test_real_portfolio_snapshot_from_json() -> None:
    import msgspec

    from spxcc_core.contracts.broker import PortfolioSnapshot

    snap = msgspec.json.decode(
        b'{"accountId":"VA1","accountType":"pdt","optionBuyingPower":5000.0,'
        b'"stockBuyingPower":10000.0,"dayTradeBuyingPower":3150.0,"cashAvailable":null,'
        b'"totalEquity":12000.0}', type=PortfolioSnapshot)
    # bp min(5000, 3150) = 3150; cost 3.00 × 100 × 1.05 = 315 → 10; risk 2000/150 → 13
    r = size_contracts(snap, premium=3.0, stop_premium=1.5, risk_budget=2000)
    assert (r.contracts, r.limited_by) == (10, "buying_power")
