"""Gating on bars with one-sided quotes (``spec/microbar.md`` revision 2026-12-06).

A one-sided quote is a market state, not missing data: "no bid at the close" is the heaviest
offer there is, and a bucket whose fresh quotes were never two-sided has no spread to trade at.
Neither is ``microstructure_unavailable``, so ``missing = "pass"`` does not let them through.
"""

from __future__ import annotations

from test_gating import T0, cand, failed

from spxcc_core.contracts.microbar import MicrobarV2
from spxcc_core.detect.gating import GatingProfile, evaluate_gates

DEFAULT = GatingProfile()
LENIENT = GatingProfile(missing="pass")


def wing_bar(*, imb: float, spread: float | None, bid_close: float, ask_close: float,
             ratio: float | None) -> MicrobarV2:
    return MicrobarV2(symbol="O:SPXW231114C04600000", start_ms=T0, interval_ms=1000, open=0.05,
                      high=0.05, low=0.05, close=0.05, volume=1.0, trade_count=1, vwap=0.05,
                      delta_volume=0.0, bid_ask_imbalance=imb, ask_bid_size_ratio=ratio,
                      quote_coverage_pct=100.0, avg_spread_bps=spread,
                      bid_size_at_close=bid_close, ask_size_at_close=ask_close, quote_count=1)


def test_no_bid_all_bucket_blocks_a_long_on_ratio_imbalance_and_spread() -> None:
    # bid 0 x 0, ask 0.05 x 120 all bucket: imbalance -1, no spread, no ratio (bid size 0)
    bar = wing_bar(imb=-1.0, spread=None, bid_close=0.0, ask_close=120.0, ratio=None)
    for profile in (DEFAULT, LENIENT):
        checks = evaluate_gates(cand("long"), bar, profile)
        assert failed(checks) == [("ask_bid_size_ratio", "askBidSizeRatio"),
                                  ("bid_ask_imbalance", "bidAskImbalance"),
                                  ("spread", "avgSpreadBps")]
        ratio = checks[0]
        assert (ratio.comparison, ratio.threshold, ratio.observed) == ("<=", 3.0, None)


def test_no_bid_at_close_passes_the_ratio_gate_of_a_short() -> None:
    # two-sided earlier in the bucket (spread 4 bps), no bid at the close
    bar = wing_bar(imb=0.2, spread=4.0, bid_close=0.0, ask_close=120.0, ratio=None)
    checks = evaluate_gates(cand("short"), bar, DEFAULT)
    assert failed(checks) == []
    assert (checks[0].gate, checks[0].observed, checks[0].passed) == (
        "ask_bid_size_ratio", None, True)


def test_no_offer_at_close_is_a_ratio_of_zero_heavy_bid() -> None:
    # bid 0.10 x 40, ask 0 x 0: ratio 0 / 40 = 0 (< 0.33 heavy bid): blocks a short, not a long
    bar = wing_bar(imb=1.0, spread=None, bid_close=40.0, ask_close=0.0, ratio=0.0)
    assert failed(evaluate_gates(cand("short"), bar, DEFAULT)) == [
        ("ask_bid_size_ratio", "askBidSizeRatio"), ("bid_ask_imbalance", "bidAskImbalance"),
        ("spread", "avgSpreadBps")]
    assert failed(evaluate_gates(cand("long"), bar, LENIENT)) == [("spread", "avgSpreadBps")]
