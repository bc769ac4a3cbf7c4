"""The gamma flow proxy under one-sided option quotes (``spec/microbar.md`` revision 2026-12-06).

Option trades go through the real aggregation (batch engine), their bars into the session market
and the ``gamma`` provider: Lee–Ready's quote test needs a two-sided quote, so a wing trade under
"no bid" (bid 0 × 0) is classified by the tick test.
"""

from __future__ import annotations

import pytest
from test_gamma_provider import OPEN, bar, by_strike, setup, step

from spxcc_core.aggregate import AggregatorConfig, aggregate_events
from spxcc_core.contracts import Quote, Trade

NS = 1_000_000
C110 = "O:C110"


def q(off_ms: int, bid: float, bsz: float, ask: float, asz: float) -> Quote:
    return Quote(symbol=C110, ts=(OPEN + off_ms) * NS, bid=bid, bid_size=bsz, ask=ask,
                 ask_size=asz)


def t(off_ms: int, price: float, size: float) -> Trade:
    return Trade(symbol=C110, ts=(OPEN + off_ms) * NS, price=price, size=size)


def test_a_wing_trade_under_no_bid_is_classified_by_the_tick_test() -> None:
    quotes = [q(100, 0.05, 10, 0.10, 30),  # two-sided, mid 0.075
              q(300, 0.0, 0, 0.05, 120)]  # nobody bids: one-sided, no mid
    trades = [t(200, 0.15, 4),  # above the mid 0.075: bought, +4
              # one-sided quote: tick test, down from 0.15: sold, -10. (Before the revision
              # q(300) was quarantined and q(100) stayed in force: 0.10 > 0.075, bought, +10.)
              t(400, 0.10, 10)]
    res = aggregate_events(trades=trades, quotes=quotes, config=AggregatorConfig())
    (option_bar,) = res.bars
    assert option_bar.delta_volume == -6.0  # 4 - 10
    provider, market, ctx = setup()
    market.observe(option_bar)
    flow = market.flow_as_of(OPEN + 1_000)
    assert flow is not None and flow.tolist() == [0.0, 0.0, -6.0, 0.0]
    gp = step(provider, ctx, bar("SPY", OPEN, 10.0))
    assert gp is not None and gp.source == "oi_baseline+flow_proxy"
    # flow sign -1 (customers against dealers): -1 × (-6) × 185.81922183 (GEX per contract at
    # K = 110, worked in test_gamma_provider.py) = +1 114.91533
    assert by_strike(gp)[110.0].flow_gex == pytest.approx(1_114.91533098, rel=1e-8)
    assert gp.flow_gex == pytest.approx(1_114.91533098, rel=1e-8)
