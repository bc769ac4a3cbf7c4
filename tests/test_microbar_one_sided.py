"""Hand-worked cases for one-sided quotes (``spec/microbar.md``, revision 2026-12-06).

A side is *present* (price > 0 and size > 0) or *absent* (price 0 and size 0). A quote with one
side absent is valid, becomes the quote in force and counts like any valid quote, except that
``avgSpreadBps`` averages only two-sided time, ``askBidSizeRatio`` needs a bid at the close and
Lee–Ready's quote test needs both sides. Every case runs through the batch engine and the
streaming engine with batch sizes 1 and 3 (``run`` checks all three give the same bytes).

Conventions are those of ``test_microbar_fields.py``: times in ms from ``T0_MS``,
``stale_ms = 2000``, ``interval_ms = 1000``; spread in bps is ``(ask − bid) / ((ask + bid)/2) ×
10⁴``. Prices are SPXW 0DTE wing prices (0.05 tick).
"""

from __future__ import annotations

import math

from test_microbar_fields import B, Q, T, assert_bars, qrec, quarantine, report, run

WING = "O:SPXW231114C04600000"


def test_validity_present_absent_and_everything_else_on_a_side() -> None:
    nan = math.nan
    quotes = [
        Q(100, 0.05, 10, 0.10, 30, seq=1, sym=WING),  # two-sided: valid
        Q(200, 0.0, 0, 0.0, 0, seq=2, sym=WING),  # both sides absent: empty_side
        Q(300, 0.0, 5, 0.05, 120, seq=3, sym=WING),  # bid price 0 with size 5: empty_side
        Q(400, 0.05, 0, 0.10, 5, seq=4, sym=WING),  # bid 0.05 with size 0: empty_side
        Q(500, -0.05, 0, 0.10, 5, seq=5, sym=WING),  # negative bid price: empty_side
        Q(550, 0.0, 0, nan, 0, seq=6, sym=WING),  # non_finite before anything else
        # no offer: valid. The ask 0 is below the bid, but crossed_quote needs both sides.
        Q(600, 0.10, 5, 0.0, 0, seq=7, sym=WING),
        Q(700, 0.20, 5, 0.10, 5, seq=8, sym=WING),  # both present and ask < bid: crossed_quote
    ]
    trades = [T(900, 0.10, 1, sym=WING)]
    res = run(trades, quotes)
    assert_bars(res.bars, [B(
        WING, 0, open=0.10, high=0.10, low=0.10, close=0.10, volume=1.0, tradeCount=1,
        vwap=0.10,
        # in force at 900: q(600), one-sided -> no quote test; tick test: no earlier price
        deltaVolume=0.0,
        # [100,600) q(100) (10-30)/40 = -0.5 for 500 ms; [600,1000) no offer +1 for 400 ms
        # (-0.5*500 + 1*400) / 900 = 150/900
        bidAskImbalance=0.16666666666666666,
        askBidSizeRatio=0.0,  # close q(600): ask size 0 (absent) / bid size 5
        quoteCoveragePct=90.0,  # fresh from 100 (one-sided time counts)
        # two-sided time only: [100,600) q(100): 0.05 / 0.075 * 1e4 = 6666.67
        avgSpreadBps=6666.666666666667,
        bidSizeAtClose=5.0, askSizeAtClose=0.0,
        quoteCount=2,  # q(100) and q(600)
    )])
    rep = report(res)
    assert rep["quarantined"] == {"empty_side": 4, "non_finite": 1, "crossed_quote": 1}
    assert (rep["eventsIn"], rep["applied"]) == (9, 3)
    assert quarantine(res) == [
        qrec("quote", "empty_side", 200, 2, 2, WING), qrec("quote", "empty_side", 300, 3, 3, WING),
        qrec("quote", "empty_side", 400, 4, 4, WING), qrec("quote", "empty_side", 500, 5, 5, WING),
        qrec("quote", "non_finite", 550, 6, 6, WING),
        qrec("quote", "crossed_quote", 700, 8, 8, WING),
    ]


def test_one_sided_quotes_are_in_force_fresh_and_counted() -> None:
    quotes = [
        Q(-500, 0.05, 10, 0.10, 30, sym=WING),  # two-sided, carried in; imbalance -0.5
        Q(200, 0.0, 0, 0.05, 120, sym=WING),  # no bid: imbalance (0-120)/120 = -1
        Q(600, 0.05, 40, 0.0, 0, sym=WING),  # no offer: imbalance (40-0)/40 = +1
    ]
    trades = [
        T(100, 0.15, 1, sym=WING),  # q(-500) two-sided, mid 0.075: 0.15 above -> buy 1
        # q(200) is one-sided: tick test, down from 0.15 -> sell 2. (The old reading kept
        # q(-500) in force, mid 0.075 -> buy; a mid taken with bid 0 is 0.025 -> buy.)
        T(400, 0.10, 2, sym=WING),
        T(800, 0.12, 3, sym=WING),  # q(600) one-sided: tick test, up from 0.10 -> buy 3
    ]
    res = run(trades, quotes)
    assert_bars(res.bars, [B(
        WING, 0, open=0.15, high=0.15, low=0.10, close=0.12,
        volume=6.0, tradeCount=3,
        vwap=0.11833333333333333,  # (0.15*1 + 0.10*2 + 0.12*3) / 6 = 0.71 / 6
        deltaVolume=2.0,  # 1 - 2 + 3
        # [0,200) -0.5, [200,600) -1, [600,1000) +1: (-0.5*200 - 1*400 + 1*400) / 1000
        bidAskImbalance=-0.1,
        askBidSizeRatio=0.0,  # close q(600): 0 / 40
        quoteCoveragePct=100.0,
        avgSpreadBps=6666.666666666667,  # only [0,200) is two-sided: 0.05 / 0.075 * 1e4
        bidSizeAtClose=40.0, askSizeAtClose=0.0,  # an absent side's size is 0
        quoteCount=2,  # q(200), q(600)
    )])
    assert report(res)["quarantined"] == {}


def test_no_two_sided_time_gives_null_spread_and_no_bid_at_close_gives_null_ratio() -> None:
    quotes = [Q(100, 0.0, 0, 0.05, 120, sym=WING)]  # nobody bids: bid 0 x 0, ask 0.05 x 120
    trades = [T(500, 0.05, 1, sym=WING)]  # one-sided quote; first trade -> unclassified
    res = run(trades, quotes)
    assert_bars(res.bars, [B(
        WING, 0, open=0.05, high=0.05, low=0.05, close=0.05, volume=1.0, tradeCount=1,
        vwap=0.05, deltaVolume=0.0,
        bidAskImbalance=-1.0,  # no bid over all fresh time [100,1000)
        askBidSizeRatio=None,  # bid size at close is 0: no ratio
        quoteCoveragePct=90.0,
        avgSpreadBps=None,  # no fresh two-sided time
        bidSizeAtClose=0.0, askSizeAtClose=120.0,
        quoteCount=1,
    )])


def test_a_one_sided_quote_goes_stale_like_any_quote() -> None:
    quotes = [Q(0, 0.0, 0, 0.05, 120, sym=WING)]  # fresh through 2000 inclusive
    trades = [T(1500, 0.05, 1, sym=WING), T(2500, 0.10, 1, sym=WING)]
    b1, b2 = run(trades, quotes).bars
    # bucket 1: fresh all of [1000,2000), imbalance -1, close fresh (2000 - 0 <= 2000)
    assert (b1.quote_coverage_pct, b1.bid_ask_imbalance, b1.avg_spread_bps) == (100.0, -1.0, None)
    assert (b1.bid_size_at_close, b1.ask_size_at_close, b1.ask_bid_size_ratio) == (0.0, 120.0, None)
    # bucket 2: stale (only the instant 2000 was fresh): every quote field null or 0
    assert (b2.quote_coverage_pct, b2.bid_ask_imbalance, b2.bid_size_at_close) == (0.0, None, None)
    # trade at 2500: no fresh quote -> tick test, up from 0.05 -> buy 1
    assert (b1.delta_volume, b2.delta_volume) == (0.0, 1.0)


def test_an_absent_side_with_negative_zero_is_written_as_zero() -> None:
    quotes = [Q(100, -0.0, -0.0, 0.05, 120, sym=WING)]  # -0 == 0: the bid is absent
    res = run([T(500, 0.05, 1, sym=WING)], quotes)
    (bar,) = res.bars
    assert bar.bid_size_at_close == 0.0 and math.copysign(1.0, bar.bid_size_at_close) == 1.0
    assert bar.quote_count == 1 and report(res)["quarantined"] == {}
