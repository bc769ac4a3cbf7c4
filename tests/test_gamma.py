"""Gamma pressure: hand-worked Black–Scholes gamma and GEX, flow proxy, IV solver, 0DTE floor."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from spxcc_core.contracts.setup import GammaPressure
from spxcc_core.errors import InputError
from spxcc_core.gamma import (
    DEFAULT_MIN_T_YEARS,
    MS_PER_YEAR,
    OptionChain,
    bs_gamma,
    bs_price,
    bs_vega,
    compute_gamma_pressure,
    flow_from_trades,
    implied_vol,
    settlement_ms,
    time_to_expiry_years,
)

NOW = 1_710_163_800_000  # 2024-03-11 13:30 UTC
ONE_YEAR = NOW + MS_PER_YEAR

# Hand-worked: S = K = 100, T = 1, σ = 0.2, r = q = 0
#   d1 = (ln 1 + 0.2²/2 · 1) / (0.2 · 1) = 0.02 / 0.2 = 0.1
#   φ(0.1) = e^(−0.005) / √(2π) = 0.9950124792 / 2.5066282746 = 0.3969525475
#   gamma = φ(d1) / (S σ √T) = 0.3969525475 / 20 = 0.0198476274
GAMMA_ATM = 0.0198476274
# GEX per contract = gamma × 100 × S² × 0.01 = gamma × 10 000 = 198.476274


def test_gamma_by_hand() -> None:
    assert bs_gamma(100.0, 100.0, 1.0, 0.2) == pytest.approx(GAMMA_ATM, rel=1e-8)


def test_price_by_hand() -> None:
    # ATM call, r = 0: S (N(d1) − N(d2)) with d1 = 0.1, d2 = −0.1:
    # N(0.1) = 0.5398278373, N(−0.1) = 0.4601721627 → 100 × 0.0796556746 = 7.96556746
    assert bs_price(100.0, 100.0, 1.0, 0.2, True) == pytest.approx(7.96556746, rel=1e-8)
    # put-call parity at r = 0: P = C − S + K = C
    assert bs_price(100.0, 100.0, 1.0, 0.2, False) == pytest.approx(7.96556746, rel=1e-8)


def chain(**kw: object) -> OptionChain:
    base: dict[str, object] = dict(strike=[100.0, 100.0, 110.0], is_call=[True, False, True],
                                   expiry_ms=[ONE_YEAR] * 3, open_interest=[1000, 500, 0],
                                   iv=[0.2, 0.2, 0.2], bid=[np.nan] * 3, ask=[np.nan] * 3,
                                   symbols=("C100", "P100", "C110"))
    base.update(kw)
    return OptionChain(**base)  # type: ignore[arg-type]


def test_gex_per_strike_by_hand() -> None:
    gp = compute_gamma_pressure(chain(), 100.0, NOW)
    assert gp.source == "oi_baseline"
    assert gp.sign_convention == "calls:+1,puts:-1"
    k100 = gp.strikes[0]
    # calls: +1000 × 198.476274 = +198 476.274; puts: −500 × 198.476274 = −99 238.137
    assert k100.strike == 100.0
    assert k100.call_gex == pytest.approx(198_476.274, rel=1e-8)
    assert k100.put_gex == pytest.approx(-99_238.137, rel=1e-8)
    assert k100.net_gex == pytest.approx(99_238.137, rel=1e-8)
    assert gp.strikes[1].strike == 110.0 and gp.strikes[1].net_gex == 0.0  # no OI
    assert gp.total_gex == pytest.approx(99_238.137, rel=1e-8)
    assert gp.skipped_contracts == 0


def test_sign_convention_is_a_parameter() -> None:
    gp = compute_gamma_pressure(chain(), 100.0, NOW, call_sign=-1, put_sign=-1)
    assert gp.sign_convention == "calls:-1,puts:-1"
    assert gp.strikes[0].net_gex == pytest.approx(-297_714.411, rel=1e-8)


def test_flow_proxy_from_classified_trades() -> None:
    ch = chain()
    flow, unmatched = flow_from_trades(ch, [("C100", 150.0, 1), ("C100", 50.0, 1),
                                            ("P100", 30.0, -1), ("C100", 10.0, 0),
                                            ("XYZ", 5.0, 1)])
    assert flow.tolist() == [200.0, -30.0, 0.0]
    assert unmatched == {"XYZ": 1}
    gp = compute_gamma_pressure(ch, 100.0, NOW, flow=flow)
    assert gp.source == "oi_baseline+flow_proxy"
    assert gp.sign_convention == "calls:+1,puts:-1,flow:-1"
    # customers bought 200 calls, sold 30 puts: dealer gamma −1 × (200 − 30) × 198.476274
    assert gp.flow_gex == pytest.approx(-33_740.96658, rel=1e-8)
    assert gp.total_gex == pytest.approx(99_238.137 - 33_740.96658, rel=1e-8)


def test_iv_is_solved_from_the_mid_when_missing() -> None:
    px = bs_price([100.0, 100.0], [100.0, 100.0], [1.0, 1.0], [0.2, 0.2], [True, False])
    ch = chain(iv=[np.nan, np.nan, np.nan], bid=[px[0] - 0.05, px[1] - 0.05, np.nan],
               ask=[px[0] + 0.05, px[1] + 0.05, np.nan])
    gp = compute_gamma_pressure(ch, 100.0, NOW)
    assert gp.strikes[0].net_gex == pytest.approx(99_238.137, rel=1e-6)
    assert gp.skipped_contracts == 1  # the 110 call has neither IV nor a quote


def test_zero_dte_gamma_stays_finite() -> None:
    settle = settlement_ms(dt.date(2024, 3, 11))
    assert settle == 1_710_187_200_000  # 16:00 EDT = 20:00 UTC
    t = time_to_expiry_years([settle - 60_000, settle + 60_000], settle)
    assert t.tolist() == [DEFAULT_MIN_T_YEARS, DEFAULT_MIN_T_YEARS]
    ch = chain(expiry_ms=[settle] * 3)
    gp = compute_gamma_pressure(ch, 100.0, settle - 1000)
    assert all(math.isfinite(s.net_gex) for s in gp.strikes)
    assert gp.strikes[0].net_gex > 0


def test_bad_chain_and_spot_are_clear_errors() -> None:
    with pytest.raises(InputError, match="column open_interest has 2 rows"):
        chain(open_interest=[1, 2])
    with pytest.raises(InputError, match="open interest must be finite"):
        chain(open_interest=[1, -2, 0])
    with pytest.raises(InputError, match="spot must be finite and > 0"):
        compute_gamma_pressure(chain(), float("nan"), NOW)


def test_output_round_trips_on_the_wire() -> None:
    import msgspec

    gp = compute_gamma_pressure(chain(), 100.0, NOW)
    raw = msgspec.json.encode(gp)
    assert b'"source":"oi_baseline"' in raw and b'"signConvention"' in raw
    assert msgspec.json.decode(raw, type=GammaPressure) == gp


def test_iv_outside_arbitrage_bounds_is_nan() -> None:
    # a call below intrinsic (S − K = 10) and one above the spot cannot be priced by any σ
    out = implied_vol([9.0, 101.0], 100.0, 90.0, 0.5, True)
    assert np.isnan(out).all()


@given(k=st.floats(60, 140), t=st.floats(0.01, 2.0), sigma=st.floats(0.05, 1.5),
       call=st.booleans(), r=st.floats(0.0, 0.08))
def test_iv_round_trip(k: float, t: float, sigma: float, call: bool, r: float) -> None:
    assume(float(bs_vega(100.0, k, t, sigma, r)) > 1e-2)
    price = bs_price(100.0, k, t, sigma, call, r)
    solved = implied_vol(price, 100.0, k, t, call, r)
    assert float(solved) == pytest.approx(sigma, abs=1e-6)
