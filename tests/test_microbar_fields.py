"""Hand-worked microbar cases: every field of microbar@2, every check, every null rule.

Written from ``spec/microbar.md`` alone, independently of the engine. Every expected number is
worked out by hand in the comment next to it. Every case runs through the batch engine and the
streaming engine with batch sizes 1 and 3; all three must give the same bytes.

Conventions of this file: times are written as millisecond offsets from ``T0_MS`` (a minute
boundary), ``stale_ms = 2000``, ``interval_ms = 1000`` and ``lateness_ms = 0`` unless a case says
otherwise. Spread in bps is ``(ask − bid) / ((ask + bid)/2) × 10⁴``.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from spxcc_core.aggregate import AggregatorConfig, aggregate_events
from spxcc_core.contracts import MicrobarV2, Quote, Trade
from spxcc_core.errors import ConfigError

T0_MS = 1_700_000_040_000  # 2023-11-14 22:14:00 UTC, a multiple of 60 000
NS_PER_MS = 1_000_000
SPY = "SPY"

WIRE_FIELDS = (
    "symbol", "startMs", "intervalMs", "open", "high", "low", "close", "volume", "tradeCount",
    "vwap", "deltaVolume", "bidAskImbalance", "askBidSizeRatio", "quoteCoveragePct",
    "avgSpreadBps", "bidSizeAtClose", "askSizeAtClose", "quoteCount",
)
INT_FIELDS = {"startMs", "intervalMs", "tradeCount", "quoteCount"}
REPORT_KEYS = ["eventsIn", "trades", "quotes", "barsOut", "applied", "quarantined", "duplicates",
               "late", "unknownConditions", "config"]


# ---------------------------------------------------------------------------------------------
# helpers


def T(off_ms: int, price: float, size: float, *, seq: int | None = None,
      cond: tuple[int, ...] = (), corr: int = 0, sym: str = SPY) -> Trade:
    return Trade(symbol=sym, ts=(T0_MS + off_ms) * NS_PER_MS, price=price, size=size, seq=seq,
                 conditions=cond, correction=corr)


def Q(off_ms: int, bid: float, bid_size: float, ask: float, ask_size: float, *,
      seq: int | None = None, sym: str = SPY) -> Quote:
    return Quote(symbol=sym, ts=(T0_MS + off_ms) * NS_PER_MS, bid=bid, bid_size=bid_size, ask=ask,
                 ask_size=ask_size, seq=seq)


def B(sym: str, start_off_ms: int, interval_ms: int = 1000, **fields: Any) -> dict[str, Any]:
    """An expected bar in wire names; every field must be given."""
    out = {"symbol": sym, "startMs": T0_MS + start_off_ms, "intervalMs": interval_ms, **fields}
    assert set(out) == set(WIRE_FIELDS), set(WIRE_FIELDS) ^ set(out)
    return out


def _wire(obj: Any) -> Any:
    return msgspec.json.decode(msgspec.json.encode(obj))


def _encoded(res: Any) -> tuple[bytes, bytes, bytes]:
    enc = msgspec.json.encode
    return (b"\n".join(enc(b) for b in res.bars), enc(res.report),
            b"\n".join(enc(q) for q in res.quarantine))


def run(trades: list[Trade] | None, quotes: list[Quote] | None, *, interval_ms: int = 1000,
        stale_ms: int = 2000, lateness_ms: int = 0) -> Any:
    """Batch engine result, after checking the streaming engine (batch 1 and 3) is byte-equal."""
    config = AggregatorConfig(interval_ms=interval_ms, stale_ms=stale_ms, lateness_ms=lateness_ms)
    batch = aggregate_events(trades=trades, quotes=quotes, config=config, engine="batch")
    ref = _encoded(batch)
    for n in (1, 3):
        stream = aggregate_events(trades=trades, quotes=quotes, config=config, engine="stream",
                                  batch_size=n)
        assert _encoded(stream) == ref, f"stream engine (batch_size={n}) differs from batch"
    for bar in batch.bars:
        assert type(bar) is MicrobarV2
    return batch


def assert_bars(bars: list[MicrobarV2], expected: list[dict[str, Any]]) -> None:
    got = [_wire(b) for b in bars]
    assert [(g["symbol"], g["startMs"]) for g in got] == \
        [(e["symbol"], e["startMs"]) for e in expected]
    for g, e in zip(got, expected, strict=True):
        assert list(g) == list(WIRE_FIELDS), "every field written, in wire order"
        for key in WIRE_FIELDS:
            want, have = e[key], g[key]
            where = f"{e['symbol']}@{e['startMs'] - T0_MS}ms {key}"
            if want is None:
                assert have is None, f"{where}: expected null, got {have!r}"
            elif key in INT_FIELDS or key == "symbol":
                assert have == want and type(have) is type(want), f"{where}: {have!r} != {want!r}"
            else:
                assert have is not None, f"{where}: expected {want!r}, got null"
                assert have == pytest.approx(want, rel=1e-9, abs=1e-9), f"{where}: {have!r} != {want!r}"


def report(res: Any) -> dict[str, Any]:
    rep: dict[str, Any] = _wire(res.report)
    assert list(rep)[:10] == REPORT_KEYS, "report keys in the spec's order"
    # the spec's identity, checked on every report this file sees
    assert rep["eventsIn"] == rep["applied"] + sum(rep["quarantined"].values()) + rep["duplicates"]
    assert rep["late"] == rep["quarantined"].get("late", 0)
    assert rep["eventsIn"] == rep["trades"] + rep["quotes"]
    assert rep["barsOut"] == len(res.bars)
    return rep


def quarantine(res: Any) -> list[dict[str, Any]]:
    recs = [_wire(q) for q in res.quarantine]
    return sorted(recs, key=lambda r: (r["kind"], r["line"], r["reason"]))


def qrec(kind: str, reason: str, off_ms: int, seq: int | None, line: int,
         sym: str = SPY) -> dict[str, Any]:
    return {"kind": kind, "reason": reason, "symbol": sym, "ts": (T0_MS + off_ms) * NS_PER_MS,
            "seq": seq, "line": line}


# ---------------------------------------------------------------------------------------------
# every field in one bucket


def test_every_field_of_one_bucket() -> None:
    quotes = [
        Q(-500, 10.00, 300, 10.02, 100),  # previous bucket; carried over, fresh until +1500
        Q(400, 10.01, 200, 10.03, 200),
        Q(700, 10.02, 100, 10.04, 300),
    ]
    trades = [
        T(100, 10.03, 100),  # in force: q(-500), mid 10.01 -> buy 100
        # same instant as q(400): that quote is NOT in force; q(-500) mid 10.01 -> buy 50
        # (were q(400) used: mid 10.02 = price -> tick test, down from 10.03 -> sell)
        T(400, 10.02, 50),
        T(800, 10.025, 30),  # q(700) mid 10.03 -> sell 30
        T(900, 10.05, 20, cond=(37,)),  # odd lot: volume + delta only; q(700) mid 10.03 -> buy 20
    ]
    res = run(trades, quotes)
    assert_bars(res.bars, [B(
        SPY, 0,
        open=10.03, high=10.03, low=10.02, close=10.025,  # odd lot 10.05 is not HL/OC
        volume=200.0,  # 100 + 50 + 30 + 20
        tradeCount=4,
        vwap=10.02875,  # (1003 + 501 + 300.75 + 201) / 200 = 2005.75 / 200
        deltaVolume=140.0,  # (100 + 50 + 20) - 30
        # [0,400) q(-500) (300-100)/400 = 0.5; [400,700) q(400) 0; [700,1000) q(700) -0.5
        # (0.5*400 + 0*300 - 0.5*300) / 1000 = 50/1000
        bidAskImbalance=0.05,
        askBidSizeRatio=3.0,  # close quote q(700): 300 / 100
        quoteCoveragePct=100.0,
        # 0.02/10.01e-4 = 19.98001998, 0.02/10.02e-4 = 19.96007984, 0.02/10.03e-4 = 19.94017946
        # (19.98001998*400 + 19.96007984*300 + 19.94017946*300) / 1000
        avgSpreadBps=19.962085782588346,
        bidSizeAtClose=100.0, askSizeAtClose=300.0,
        quoteCount=2,  # q(400), q(700); q(-500) belongs to the previous bucket
    )])
    rep = report(res)
    assert (rep["trades"], rep["quotes"], rep["applied"], rep["barsOut"]) == (4, 3, 7, 1)


def test_quote_at_the_same_instant_as_a_trade_is_not_in_force_even_with_lower_seq() -> None:
    quotes = [Q(0, 10.00, 10, 10.02, 10, seq=1),  # mid 10.01
              Q(500, 10.04, 10, 10.06, 10, seq=2)]  # mid 10.05, same ts as the trade
    trades = [T(500, 10.03, 7, seq=3)]
    # trade before quote at equal ts: in force q(0), 10.03 > 10.01 -> buy 7 (with q(500): sell)
    res = run(trades, quotes)
    (bar,) = res.bars
    assert bar.delta_volume == 7.0
    # and the quote at 500 still counts from 500: imbalance 0 both, sizes at close 10/10
    assert (bar.quote_count, bar.bid_size_at_close, bar.ask_size_at_close) == (2, 10.0, 10.0)


def test_order_of_application_at_equal_ts_missing_seq_first_then_seq() -> None:
    trades = [
        T(100, 10.00, 1, seq=5),  # arrives first, applied third
        T(100, 10.50, 1),  # no seq: applied first
        T(100, 10.20, 1, seq=3),  # applied second
    ]
    quotes = [
        Q(50, 10.00, 9, 10.02, 1, seq=2),  # applied after seq 1 although it arrived first
        Q(50, 10.00, 1, 10.02, 4, seq=1),
    ]
    res = run(trades, quotes)
    (bar,) = res.bars
    assert (bar.open, bar.close, bar.high, bar.low) == (10.50, 10.00, 10.50, 10.00)
    # quote in force from 50 on: seq 2 (applied last): sizes 9 / 1, imbalance (9-1)/10 = 0.8
    assert (bar.bid_size_at_close, bar.ask_size_at_close) == (9.0, 1.0)
    assert bar.bid_ask_imbalance == pytest.approx(0.8)
    # mid 10.01: 10.50 buy, 10.20 buy, 10.00 sell -> 1 + 1 - 1
    assert bar.delta_volume == 1.0
    assert bar.quote_count == 2


# ---------------------------------------------------------------------------------------------
# time weighting, staleness, carried quotes


def test_quote_going_stale_mid_bucket_splits_the_piece() -> None:
    quotes = [
        Q(500, 20.00, 100, 20.04, 300),  # imbalance -0.5; fresh until 2500 (inclusive)
        Q(2800, 20.00, 300, 20.02, 100),  # imbalance +0.5
    ]
    trades = [
        T(2100, 20.03, 10),  # q(500) fresh (1600 <= 2000), mid 20.02 -> buy
        T(2600, 20.01, 10),  # q(500) stale (2100 > 2000) -> tick test, down from 20.03 -> sell
        T(2900, 20.02, 10),  # q(2800) fresh, mid 20.01 -> buy
    ]
    res = run(trades, quotes)
    # buckets 0 and 1 hold quotes only: no bars
    assert_bars(res.bars, [B(
        SPY, 2000,
        open=20.03, high=20.03, low=20.01, close=20.02,
        volume=30.0, tradeCount=3,
        vwap=20.02,  # (20.03 + 20.01 + 20.02) * 10 / 30
        deltaVolume=10.0,  # 10 - 10 + 10
        # fresh pieces: [2000,2500] q(500) weight 500 ns*1e6, [2800,3000) q(2800) weight 200
        # (-0.5*500 + 0.5*200) / 700 = -150/700
        bidAskImbalance=-0.21428571428571427,
        askBidSizeRatio=0.3333333333333333,  # q(2800) fresh at 3000: 100 / 300
        quoteCoveragePct=70.0,  # 100 * 700 / 1000
        # q(500): 0.04/20.02e-4 = 19.98001998; q(2800): 0.02/20.01e-4 = 9.99500250
        # (19.98001998*500 + 9.99500250*200) / 700
        avgSpreadBps=17.12715784251445,
        bidSizeAtClose=300.0, askSizeAtClose=100.0,
        quoteCount=1,
    )])


def test_quote_fresh_only_at_the_single_instant_start_contributes_zero() -> None:
    quotes = [Q(0, 30.00, 100, 30.02, 100)]  # fresh on [0, 2000] inclusive
    trades = [
        T(2000, 30.02, 5),  # 2000 - 0 <= 2000: fresh at the trade; mid 30.01 -> buy 5
        T(2500, 30.01, 7),  # stale -> tick test, down from 30.02 -> sell 7
    ]
    res = run(trades, quotes)
    assert_bars(res.bars, [B(
        SPY, 2000,
        open=30.02, high=30.02, low=30.01, close=30.01,
        volume=12.0, tradeCount=2,
        vwap=30.014166666666668,  # (30.02*5 + 30.01*7) / 12 = (150.1 + 210.07) / 12 = 360.17/12
        deltaVolume=-2.0,  # 5 - 7
        bidAskImbalance=None,  # fresh only at the instant 2000: zero fresh time
        askBidSizeRatio=None, quoteCoveragePct=0.0, avgSpreadBps=None,
        bidSizeAtClose=None, askSizeAtClose=None,  # 3000 - 0 > 2000: not fresh at close
        quoteCount=0,
    )])


def test_quote_carried_into_the_next_bucket_and_fresh_exactly_at_its_end() -> None:
    quotes = [Q(0, 10.00, 100, 10.02, 300)]  # imbalance -0.5, fresh through 2000 inclusive
    trades = [T(1500, 10.00, 4)]  # in force q(0), mid 10.01 -> sell 4
    res = run(trades, quotes)
    assert_bars(res.bars, [B(
        SPY, 1000,
        open=10.00, high=10.00, low=10.00, close=10.00, volume=4.0, tradeCount=1, vwap=10.00,
        deltaVolume=-4.0,
        bidAskImbalance=-0.5,  # carried quote, fresh over all of [1000, 2000)
        askBidSizeRatio=3.0,  # fresh at end: 2000 - 0 <= 2000 -> 300 / 100
        quoteCoveragePct=100.0,
        avgSpreadBps=19.98001998001998,  # 0.02 / 10.01 * 1e4
        bidSizeAtClose=100.0, askSizeAtClose=300.0,
        quoteCount=0,  # the quote was applied in bucket 0
    )])


def test_sizes_at_close_ignore_a_quote_stamped_exactly_at_the_bucket_end() -> None:
    quotes = [Q(200, 10.00, 5, 10.02, 15),
              Q(1000, 10.00, 40, 10.02, 10)]  # ts == end of bucket 0: belongs to bucket 1
    trades = [T(300, 10.02, 1), T(1100, 10.00, 1)]
    res = run(trades, quotes)
    b0, b1 = res.bars
    # bucket 0: last valid quote with ts < 1000 is q(200): 5 / 15, ratio 15/5 = 3
    assert (b0.bid_size_at_close, b0.ask_size_at_close, b0.ask_bid_size_ratio) == (5.0, 15.0, 3.0)
    assert b0.quote_count == 1
    # imbalance (5-15)/20 = -0.5 over [200,1000): mean -0.5, coverage 80 %
    assert b0.bid_ask_imbalance == pytest.approx(-0.5)
    assert b0.quote_coverage_pct == pytest.approx(80.0)
    # bucket 1: q(1000) 40 / 10: ratio 10/40 = 0.25, imbalance 30/50 = 0.6 all bucket
    assert (b1.bid_size_at_close, b1.ask_size_at_close, b1.ask_bid_size_ratio) == (40.0, 10.0, 0.25)
    assert b1.bid_ask_imbalance == pytest.approx(0.6)
    assert b1.quote_count == 1
    # trade at 1100 sees q(1000) (earlier ts): mid 10.01, 10.00 -> sell 1; trade at 300 buy 1
    assert (b0.delta_volume, b1.delta_volume) == (1.0, -1.0)


def test_stale_ms_zero_means_a_quote_is_fresh_only_at_its_own_instant() -> None:
    quotes = [Q(100, 10.00, 1, 10.02, 1)]
    trades = [T(100, 10.02, 1),  # same ts: quote not in force -> tick test, first -> unclassified
              T(200, 10.00, 2)]  # 200 - 100 > 0: stale -> tick down from 10.02 -> sell 2
    res = run(trades, quotes, stale_ms=0)
    (bar,) = res.bars
    assert bar.delta_volume == -2.0
    assert bar.quote_coverage_pct == 0.0
    assert (bar.bid_ask_imbalance, bar.avg_spread_bps, bar.bid_size_at_close) == (None, None, None)
    assert bar.quote_count == 1


# ---------------------------------------------------------------------------------------------
# classification


def test_tick_test_across_buckets_first_trade_unclassified_and_ineligible_trades_ignored() -> None:
    trades = [
        T(100, 50.00, 10),  # first trade: no earlier differing price -> unclassified
        T(1200, 50.00, 20),  # same price, still no differing price -> unclassified
        T(1250, 60.00, 99, cond=(15,)),  # out of everything: no bar effect, not a tick reference
        T(1300, 50.01, 30),  # up from 50.00 -> buy 30 (against 60.00 it would be a sell)
        T(2500, 50.01, 40),  # last differing earlier price is 50.00 -> up -> buy 40
        T(2600, 50.00, 50),  # down from 50.01 -> sell 50
        T(5000, 70.00, 1, cond=(15,)),  # bucket 5 holds only a no-rule-eligible trade: no bar
    ]
    res = run(trades, None)  # trades-only run
    none_q = dict(bidAskImbalance=None, askBidSizeRatio=None, quoteCoveragePct=0.0,
                  avgSpreadBps=None, bidSizeAtClose=None, askSizeAtClose=None, quoteCount=0)
    assert_bars(res.bars, [
        B(SPY, 0, open=50.00, high=50.00, low=50.00, close=50.00, volume=10.0, tradeCount=1,
          vwap=50.00, deltaVolume=0.0, **none_q),
        B(SPY, 1000, open=50.00, high=50.01, low=50.00, close=50.01, volume=50.0, tradeCount=2,
          vwap=50.006,  # (1000 + 1500.3) / 50 = 2500.3 / 50
          deltaVolume=30.0, **none_q),
        B(SPY, 2000, open=50.01, high=50.01, low=50.00, close=50.00, volume=90.0, tradeCount=2,
          vwap=50.004444444444445,  # (2000.4 + 2500) / 90 = 4500.4 / 90
          deltaVolume=-10.0, **none_q),  # 40 - 50
    ])
    rep = report(res)
    assert (rep["trades"], rep["quotes"], rep["applied"], rep["barsOut"]) == (7, 0, 7, 3)


def test_mid_equality_falls_back_to_the_tick_test_with_decimal_mid() -> None:
    # bid 10.00 ask 10.06: in binary doubles (10.00 + 10.06)/2 = 10.030000000000001 > 10.03,
    # but in micro-units 2*10_030_000 == 10_000_000 + 10_060_000: AT the mid -> tick test.
    quotes = [Q(0, 10.00, 100, 10.06, 100)]
    trades = [
        T(100, 10.01, 1),  # 10.01 < 10.03 -> sell 1
        T(200, 10.03, 10),  # at the mid -> tick test: up from 10.01 -> buy 10 (binary: sell)
    ]
    res = run(trades, quotes)
    (bar,) = res.bars
    assert bar.delta_volume == 9.0  # 10 - 1


def test_decimal_mid_on_sub_dollar_option_prices() -> None:
    # 0.1 + 0.2 = 0.30000000000000004 in doubles, 2 * 0.15 = 0.3: binary says "below the mid";
    # micro-units: 2*150_000 == 100_000 + 200_000 -> at the mid -> tick test.
    sym = "O:SPXW231114C04400000"
    quotes = [Q(0, 0.10, 5, 0.20, 5, sym=sym)]
    trades = [T(100, 0.10, 2, sym=sym),  # 0.10 < 0.15 -> sell 2
              T(200, 0.15, 3, sym=sym)]  # at the mid -> tick: up from 0.10 -> buy 3
    res = run(trades, quotes)
    (bar,) = res.bars
    assert bar.delta_volume == 1.0  # 3 - 2
    # spread (0.20-0.10)/0.15 * 1e4 = 6666.666...
    assert bar.avg_spread_bps == pytest.approx(6666.666666666667, rel=1e-9)


def test_option_multi_leg_print_counts_in_volume_but_is_not_classified() -> None:
    sym = "O:SPXW251031C06850000"
    quotes = [Q(0, 3.00, 10, 3.20, 10, sym=sym)]  # mid 3.10
    trades = [
        T(100, 3.20, 5, sym=sym),  # regular: above the mid -> buy 5
        T(200, 3.10, 7, cond=(232,), sym=sym),  # multi-leg: volume only, not classified
        T(300, 3.00, 2, sym=sym),  # below the mid -> sell 2
    ]
    res = run(trades, quotes)
    assert_bars(res.bars, [B(
        sym, 0,
        open=3.20, high=3.20, low=3.00, close=3.00,
        volume=14.0, tradeCount=3,
        vwap=3.1214285714285714,  # (16 + 21.7 + 6) / 14 = 43.7 / 14
        deltaVolume=3.0,  # 5 - 2; classifying the multi-leg (tick: down) would give -4
        bidAskImbalance=0.0, askBidSizeRatio=1.0, quoteCoveragePct=100.0,
        avgSpreadBps=645.1612903225806,  # 0.20 / 3.10 * 1e4
        bidSizeAtClose=10.0, askSizeAtClose=10.0, quoteCount=1,
    )])


# ---------------------------------------------------------------------------------------------
# conditions


def test_condition_eligibility_and_unknown_conditions() -> None:
    trades = [
        T(100, 100.00, 10, cond=(12,)),  # Form T: V only
        T(200, 100.50, 37, cond=(37,)),  # odd lot: V only
        T(300, 99.00, 5, cond=(17,)),  # (HL ✓, OC ✗, V ✓)
        T(400, 100.10, 10, cond=(41,)),  # 41 ignored -> regular
        T(500, 101.00, 20, cond=(29,)),  # (HL ✗, OC ✗, V ✓)
        T(600, 100.20, 10, cond=(14, 57, 60, 62, 71)),  # ISO + ignored indicators -> regular
        T(700, 100.30, 10, cond=(99,)),  # unknown id: ignored in the AND (regular), counted
        T(800, 102.00, 10, cond=(17, 29)),  # HL ✓∧✗ = ✗, OC ✗, V ✓
        T(900, 100.40, 3, cond=(37, 99)),  # V only; 99 counted again
        T(950, 98.00, 10, cond=(15,)),  # (✗, ✗, ✗): nothing at all
        T(960, 100.25, 4, cond=(150, 99), corr=1),  # quarantined: its ids are NOT counted
    ]
    res = run(trades, None)
    assert_bars(res.bars, [B(
        SPY, 0,
        open=100.10,  # first OC-eligible: the 41 trade
        high=100.30, low=99.00,  # HL-eligible: 99.00 (17), 100.10, 100.20, 100.30
        close=100.30,  # last OC-eligible: the unknown-99 trade
        volume=115.0,  # 10 + 37 + 5 + 10 + 20 + 10 + 10 + 10 + 3
        tradeCount=9,
        # (1000 + 3718.5 + 495 + 1001 + 2020 + 1002 + 1003 + 1020 + 301.2) / 115 = 11560.7 / 115
        vwap=100.52782608695652,
        # tick test (no quotes): 100.00 first -> none; 100.50 up +37; 99.00 down -5;
        # 100.10 up +10; 101.00 up +20; 100.20 down -10; 100.30 up +10; 102.00 up +10;
        # 100.40 down -3  ->  87 - 18
        deltaVolume=69.0,
        bidAskImbalance=None, askBidSizeRatio=None, quoteCoveragePct=0.0, avgSpreadBps=None,
        bidSizeAtClose=None, askSizeAtClose=None, quoteCount=0,
    )])
    rep = report(res)
    assert rep["unknownConditions"] == {"99": 2}
    assert rep["quarantined"] == {"correction": 1}
    assert rep["applied"] == 10


def test_bar_with_only_a_non_volume_trade_has_prices_and_zero_volume() -> None:
    # 38 = Corrected Consolidated Close: (HL ✓, OC ✓, V ✗)
    res = run([T(100, 10.00, 5, cond=(38,))], None)
    assert_bars(res.bars, [B(
        SPY, 0, open=10.00, high=10.00, low=10.00, close=10.00,
        volume=0.0, tradeCount=0, vwap=None,  # volume 0 -> vwap null
        deltaVolume=0.0, bidAskImbalance=None, askBidSizeRatio=None, quoteCoveragePct=0.0,
        avgSpreadBps=None, bidSizeAtClose=None, askSizeAtClose=None, quoteCount=0,
    )])


def test_odd_lots_only_bucket_has_volume_but_null_prices() -> None:
    quotes = [Q(0, 10.00, 2, 10.02, 2)]
    res = run([T(500, 10.05, 37, cond=(37,))], quotes)
    assert_bars(res.bars, [B(
        SPY, 0, open=None, high=None, low=None, close=None,
        volume=37.0, tradeCount=1, vwap=10.05,
        deltaVolume=37.0,  # odd lots are classified: 10.05 > mid 10.01 -> buy
        bidAskImbalance=0.0, askBidSizeRatio=1.0, quoteCoveragePct=100.0,
        avgSpreadBps=19.98001998001998, bidSizeAtClose=2.0, askSizeAtClose=2.0, quoteCount=1,
    )])


# ---------------------------------------------------------------------------------------------
# validity, crossed and locked quotes


def test_crossed_quote_is_quarantined_and_the_quote_in_force_is_unchanged_locked_is_valid() -> None:
    quotes = [
        Q(0, 10.00, 100, 10.02, 300),  # imbalance -0.5, spread 19.98001998 bps
        Q(400, 10.05, 100, 10.03, 100, seq=4),  # crossed: ask < bid -> quarantined
        Q(600, 10.02, 200, 10.02, 200),  # locked: valid, imbalance 0, spread 0
    ]
    trades = [
        T(500, 10.02, 10),  # in force q(0) (not the crossed one): mid 10.01 -> buy 10
        T(700, 10.01, 20),  # locked mid 10.02 -> sell 20
    ]
    res = run(trades, quotes)
    assert_bars(res.bars, [B(
        SPY, 0, open=10.02, high=10.02, low=10.01, close=10.01, volume=30.0, tradeCount=2,
        vwap=10.013333333333334,  # (100.2 + 200.2) / 30 = 300.4 / 30
        deltaVolume=-10.0,
        bidAskImbalance=-0.3,  # (-0.5*600 + 0*400) / 1000
        askBidSizeRatio=1.0, quoteCoveragePct=100.0,
        avgSpreadBps=11.988011988011987,  # (19.98001998*600 + 0*400) / 1000
        bidSizeAtClose=200.0, askSizeAtClose=200.0,
        quoteCount=2,  # the crossed quote is not valid
    )])
    assert report(res)["quarantined"] == {"crossed_quote": 1}
    assert quarantine(res) == [qrec("quote", "crossed_quote", 400, 4, 2)]


def test_validity_reasons_and_their_precedence() -> None:
    nan, inf = math.nan, math.inf
    trades = [
        T(50, nan, 1, seq=1),  # non_finite
        T(100, 10.0, inf, seq=2),  # non_finite
        T(150, nan, 0, seq=3),  # non_finite before bad_size
        T(200, 0.0, 1, seq=4),  # bad_price
        T(250, -1.0, 0, seq=5),  # bad_price before bad_size
        T(300, 10.0, 0, seq=6),  # bad_size
        T(350, 10.0, -5, corr=1, seq=7),  # bad_size before correction
        T(400, 10.0, 1, corr=12, seq=8),  # correction
        T(450, inf, 1, corr=1, seq=9),  # non_finite before correction
        T(500, 10.00, 2, seq=10),  # valid
    ]
    quotes = [
        Q(50, nan, 1, 10.0, 1, seq=1),  # non_finite
        Q(100, 10.0, 0, -inf, 1, seq=2),  # non_finite before empty_side
        Q(150, 0.0, 1, 10.0, 1, seq=3),  # empty_side (bid)
        Q(200, 10.0, 1, 10.02, 0, seq=4),  # empty_side (ask size)
        Q(250, 10.0, 1, 0.0, 1, seq=5),  # empty_side before crossed_quote
        Q(300, 10.0, -3, 10.02, 1, seq=6),  # empty_side (negative bid size)
        Q(350, 10.05, 1, 10.00, 1, seq=7),  # crossed_quote
        Q(400, 10.00, 1, 10.00, 3, seq=8),  # locked: valid
    ]
    res = run(trades, quotes)
    assert_bars(res.bars, [B(
        SPY, 0, open=10.00, high=10.00, low=10.00, close=10.00, volume=2.0, tradeCount=1,
        vwap=10.00,
        deltaVolume=0.0,  # at the locked mid 10.00 -> tick test -> no earlier price
        bidAskImbalance=-0.5,  # (1-3)/4 over [400,1000)
        askBidSizeRatio=3.0, quoteCoveragePct=60.0, avgSpreadBps=0.0,
        bidSizeAtClose=1.0, askSizeAtClose=3.0, quoteCount=1,
    )])
    rep = report(res)
    assert rep["quarantined"] == {"non_finite": 6, "bad_price": 2, "bad_size": 2,
                                  "correction": 1, "empty_side": 4, "crossed_quote": 1}
    assert (rep["eventsIn"], rep["applied"], rep["duplicates"]) == (18, 2, 0)
    assert quarantine(res) == [
        qrec("quote", "non_finite", 50, 1, 1), qrec("quote", "non_finite", 100, 2, 2),
        qrec("quote", "empty_side", 150, 3, 3), qrec("quote", "empty_side", 200, 4, 4),
        qrec("quote", "empty_side", 250, 5, 5), qrec("quote", "empty_side", 300, 6, 6),
        qrec("quote", "crossed_quote", 350, 7, 7),
        qrec("trade", "non_finite", 50, 1, 1), qrec("trade", "non_finite", 100, 2, 2),
        qrec("trade", "non_finite", 150, 3, 3), qrec("trade", "bad_price", 200, 4, 4),
        qrec("trade", "bad_price", 250, 5, 5), qrec("trade", "bad_size", 300, 6, 6),
        qrec("trade", "bad_size", 350, 7, 7), qrec("trade", "correction", 400, 8, 8),
        qrec("trade", "non_finite", 450, 9, 9),
    ]


# ---------------------------------------------------------------------------------------------
# duplicates and lateness


def test_duplicates_with_and_without_seq() -> None:
    trades = [
        T(100, 10.00, 10, seq=7),
        T(100, 10.00, 10, seq=7),  # duplicate (same ts, seq, values)
        T(100, 10.00, 11, seq=7),  # same seq, different size: applied
        T(200, 10.01, 5),  # no seq ...
        T(200, 10.01, 5),  # ... identical events without seq are all kept
        T(300, 10.02, 1, seq=9, corr=1),  # quarantined (correction)
        T(300, 10.02, 1, seq=9, corr=1),  # duplicate of an earlier non-late event
        T(300, 10.02, 1, seq=10, cond=(37,)),  # odd lot
        T(300, 10.02, 1, seq=10, cond=(12,)),  # different conditions: not a duplicate
    ]
    quotes = [
        Q(50, 10.00, 5, 10.02, 5, seq=1),
        Q(50, 10.00, 5, 10.02, 5, seq=1),  # duplicate
        Q(50, 10.00, 5, 10.02, 5, seq=2),  # other seq: applied
    ]
    res = run(trades, quotes)
    assert_bars(res.bars, [B(
        SPY, 0, open=10.00, high=10.01, low=10.00, close=10.01,  # 10.02 prints are V only
        volume=33.0,  # 10 + 11 + 5 + 5 + 1 + 1
        tradeCount=6,
        vwap=10.004242424242424,  # (100 + 110 + 50.05 + 50.05 + 10.02 + 10.02) / 33 = 330.14/33
        # mid 10.01: 10.00 sell 10, sell 11; 10.01 at mid -> tick up from 10.00 buy 5, buy 5;
        # 10.02 above: buy 1, buy 1  ->  12 - 21
        deltaVolume=-9.0,
        bidAskImbalance=0.0, askBidSizeRatio=1.0,
        quoteCoveragePct=95.0,  # fresh from 50
        avgSpreadBps=19.98001998001998, bidSizeAtClose=5.0, askSizeAtClose=5.0,
        quoteCount=2,
    )])
    rep = report(res)
    assert (rep["eventsIn"], rep["trades"], rep["quotes"]) == (12, 9, 3)
    assert (rep["applied"], rep["duplicates"], rep["quarantined"]) == (8, 3, {"correction": 1})
    assert quarantine(res) == [
        qrec("quote", "duplicate", 50, 1, 2),
        qrec("trade", "duplicate", 100, 7, 2),
        qrec("trade", "correction", 300, 9, 6),
        qrec("trade", "duplicate", 300, 9, 7),
    ]


_LATE_TRADES = [
    T(500, 10.00, 1, seq=1),
    T(300, 11.00, 2, seq=2),  # 300 < 500 - lateness?
    T(500, 10.50, 3, seq=3),  # equal to max_ts: never late
    T(900, 0.0, 1, seq=4),  # bad_price, but it still raises the feed's max_ts to 900
    T(800, 10.20, 4, seq=5),  # 800 < 900 - lateness?
]
_LATE_QUOTES = [
    Q(100, 10.00, 1, 10.10, 1, seq=1),  # quotes are their own feed: not late after trades at 900
    Q(50, 10.90, 3, 11.00, 1, seq=2),  # 50 < 100 - lateness?
]


def test_late_events_with_lateness_zero() -> None:
    res = run(_LATE_TRADES, _LATE_QUOTES, lateness_ms=0)
    assert_bars(res.bars, [B(
        SPY, 0, open=10.00, high=10.50, low=10.00, close=10.50, volume=4.0, tradeCount=2,
        vwap=10.375,  # (10 + 31.5) / 4
        deltaVolume=2.0,  # mid 10.05: 10.00 sell 1, 10.50 buy 3
        bidAskImbalance=0.0, askBidSizeRatio=1.0,
        quoteCoveragePct=90.0,  # fresh [100, 1000)
        avgSpreadBps=99.50248756218905,  # 0.10 / 10.05 * 1e4
        bidSizeAtClose=1.0, askSizeAtClose=1.0, quoteCount=1,
    )])
    rep = report(res)
    assert rep == {
        **rep,
        "eventsIn": 7, "trades": 5, "quotes": 2, "barsOut": 1, "applied": 3,
        "quarantined": {"late": 3, "bad_price": 1}, "duplicates": 0, "late": 3,
        "unknownConditions": {},
        "config": {"intervalMs": 1000, "staleMs": 2000, "latenessMs": 0, "ticker": None},
    }
    assert quarantine(res) == [
        qrec("quote", "late", 50, 2, 2),
        qrec("trade", "late", 300, 2, 2), qrec("trade", "bad_price", 900, 4, 4),
        qrec("trade", "late", 800, 5, 5),
    ]


def test_late_events_with_lateness_200_are_applied_in_timestamp_order() -> None:
    # 300 >= 500 - 200 and 800 >= 900 - 200: not late (the boundary is inclusive);
    # quote 50 >= 100 - 200: not late
    res = run(_LATE_TRADES, _LATE_QUOTES, lateness_ms=200)
    assert_bars(res.bars, [B(
        SPY, 0,
        open=11.00,  # ts 300 is applied first although it arrived second
        high=11.00, low=10.00,
        close=10.20,  # ts 800
        volume=10.0, tradeCount=4,
        vwap=10.43,  # (22 + 10 + 31.5 + 40.8) / 10 = 104.3 / 10
        # in force for all four: q(100) mid 10.05 -> 11.00 buy 2, 10.00 sell 1, 10.50 buy 3,
        # 10.20 buy 4
        deltaVolume=8.0,
        # [50,100) q(50) (3-1)/4 = 0.5, [100,1000) q(100) 0:  0.5*50 / 950
        bidAskImbalance=0.02631578947368421,
        askBidSizeRatio=1.0,
        quoteCoveragePct=95.0,
        # q(50): 0.10/10.95e-4 = 91.32420091; q(100): 0.10/10.05e-4 = 99.50248756
        # (91.32420091*50 + 99.50248756*900) / 950
        avgSpreadBps=99.07205142277043,
        bidSizeAtClose=1.0, askSizeAtClose=1.0, quoteCount=2,
    )])
    rep = report(res)
    assert (rep["applied"], rep["quarantined"], rep["late"]) == (6, {"bad_price": 1}, 0)
    assert rep["config"] == {"intervalMs": 1000, "staleMs": 2000, "latenessMs": 200,
                             "ticker": None}


def test_lateness_boundary_one_ms_past() -> None:
    trades = [T(500, 10.00, 1), T(299, 10.00, 1)]  # 299 < 500 - 200: late
    res = run(trades, None, lateness_ms=200)
    assert report(res)["quarantined"] == {"late": 1}
    assert res.bars[0].volume == 1.0


def test_lateness_is_judged_per_feed_and_per_symbol() -> None:
    trades = [
        T(900, 10.00, 1, sym="QQQ"),
        T(100, 20.00, 2, sym="SPY"),  # another symbol: not late after QQQ@900
        T(800, 10.01, 3, sym="QQQ"),  # late: QQQ trades reached 900
    ]
    quotes = [
        Q(50, 19.99, 1, 20.01, 1, sym="SPY"),  # another feed: not late after trades at 900
        Q(40, 9.99, 1, 10.01, 1, sym="QQQ"),  # QQQ quotes: first one -> not late
    ]
    res = run(trades, quotes)
    rep = report(res)
    assert rep["quarantined"] == {"late": 1}
    assert quarantine(res) == [qrec("trade", "late", 800, None, 3, sym="QQQ")]
    assert [(b.symbol, b.volume) for b in res.bars] == [("QQQ", 1.0), ("SPY", 2.0)]


# ---------------------------------------------------------------------------------------------
# runs without one feed, intervals, symbols


def test_quotes_only_run_produces_no_bars_but_counts_quotes() -> None:
    quotes = [Q(0, 10.00, 1, 10.02, 1), Q(1500, 10.01, 1, 10.03, 1),
              Q(2000, 10.05, 1, 10.03, 1)]  # crossed
    res = run(None, quotes)
    assert res.bars == []
    rep = report(res)
    assert (rep["eventsIn"], rep["trades"], rep["quotes"], rep["applied"], rep["barsOut"]) == \
        (3, 0, 3, 2, 0)
    assert rep["quarantined"] == {"crossed_quote": 1}


def test_empty_run() -> None:
    res = run([], [])
    assert res.bars == []
    rep = report(res)
    assert (rep["eventsIn"], rep["applied"], rep["quarantined"], rep["unknownConditions"]) == \
        (0, 0, {}, {})


def test_interval_500_ms() -> None:
    quotes = [Q(0, 10.00, 100, 10.02, 300)]  # imbalance -0.5, ratio 3, spread 19.98001998
    trades = [T(100, 10.02, 1),  # mid 10.01 -> buy 1
              T(600, 10.00, 2),  # sell 2
              T(999, 10.01, 3)]  # at mid -> tick up from 10.00 -> buy 3
    res = run(trades, quotes, interval_ms=500)
    q = dict(bidAskImbalance=-0.5, askBidSizeRatio=3.0, quoteCoveragePct=100.0,
             avgSpreadBps=19.98001998001998, bidSizeAtClose=100.0, askSizeAtClose=300.0)
    assert_bars(res.bars, [
        B(SPY, 0, 500, open=10.02, high=10.02, low=10.02, close=10.02, volume=1.0, tradeCount=1,
          vwap=10.02, deltaVolume=1.0, quoteCount=1, **q),
        B(SPY, 500, 500, open=10.00, high=10.01, low=10.00, close=10.01, volume=5.0,
          tradeCount=2, vwap=10.006,  # (20.00 + 30.03) / 5
          deltaVolume=1.0,  # -2 + 3
          quoteCount=0, **q),
    ])
    assert report(res)["config"]["intervalMs"] == 500


def test_interval_one_minute() -> None:
    quotes = [Q(0, 10.00, 300, 10.02, 100)]  # imbalance 0.5, fresh on [0, 2000]
    trades = [
        T(0, 10.01, 1),  # same instant as the quote: not in force; first trade -> unclassified
        T(30_000, 10.02, 2),  # stale -> tick up -> buy 2
        T(59_999, 10.00, 3),  # tick down -> sell 3
        T(60_000, 10.03, 4),  # next minute; tick up -> buy 4
    ]
    res = run(trades, quotes, interval_ms=60_000)
    assert_bars(res.bars, [
        B(SPY, 0, 60_000, open=10.01, high=10.02, low=10.00, close=10.00, volume=6.0,
          tradeCount=3,
          vwap=10.008333333333333,  # (10.01 + 20.04 + 30.00) / 6 = 60.05 / 6
          deltaVolume=-1.0,  # 2 - 3
          bidAskImbalance=0.5,  # mean over fresh time only
          askBidSizeRatio=None,  # stale at 60 000
          quoteCoveragePct=3.3333333333333335,  # 100 * 2000 / 60000
          avgSpreadBps=19.98001998001998,
          bidSizeAtClose=None, askSizeAtClose=None, quoteCount=1),
        B(SPY, 60_000, 60_000, open=10.03, high=10.03, low=10.03, close=10.03, volume=4.0,
          tradeCount=1, vwap=10.03, deltaVolume=4.0, bidAskImbalance=None,
          askBidSizeRatio=None, quoteCoveragePct=0.0, avgSpreadBps=None, bidSizeAtClose=None,
          askSizeAtClose=None, quoteCount=0),
    ])


@pytest.mark.parametrize("interval_ms", [0, -1000, 700, 90_000, 120_000])
def test_interval_must_be_a_positive_divisor_of_a_minute(interval_ms: int) -> None:
    with pytest.raises(ConfigError):
        AggregatorConfig(interval_ms=interval_ms)


@pytest.mark.parametrize("field", ["stale_ms", "lateness_ms"])
def test_negative_stale_or_lateness_is_a_config_error(field: str) -> None:
    with pytest.raises(ConfigError):
        AggregatorConfig(**{field: -1})


def test_multiple_symbols_are_independent_and_ordered_by_symbol_then_start() -> None:
    quotes = [Q(0, 10.00, 100, 10.02, 100, sym="SPY")]
    trades = [
        T(100, 10.02, 1, sym="SPY"),  # SPY mid 10.01 -> buy 1
        T(150, 10.00, 2, sym="QQQ"),  # no QQQ quote (SPY's is not used) -> first -> unclassified
        T(50, 201.00, 1, sym="AAPL"),
        T(1100, 10.01, 3, sym="QQQ"),  # tick up within QQQ -> buy 3
        T(1500, 200.00, 4, sym="AAPL"),  # tick down within AAPL -> sell 4
        T(900, 10.00, 5, sym="SPY"),  # not late: SPY trades only reached 100
    ]
    res = run(trades, quotes)
    got = [(b.symbol, b.start_ms - T0_MS, b.volume, b.delta_volume, b.quote_coverage_pct)
           for b in res.bars]
    assert got == [
        ("AAPL", 0, 1.0, 0.0, 0.0), ("AAPL", 1000, 4.0, -4.0, 0.0),
        ("QQQ", 0, 2.0, 0.0, 0.0), ("QQQ", 1000, 3.0, 3.0, 0.0),
        ("SPY", 0, 6.0, -4.0, 100.0),  # +1, then 10.00 < mid 10.01 -> -5
    ]
    assert report(res)["barsOut"] == 5


def test_fractional_sizes_pass_through() -> None:
    res = run([T(100, 10.00, 0.0015), T(200, 10.02, 0.5)], None)
    (bar,) = res.bars
    assert bar.volume == pytest.approx(0.5015, rel=1e-12)
    assert bar.delta_volume == pytest.approx(0.5, rel=1e-12)  # first unclassified, then up
    # (0.015 + 5.01) / 0.5015 = 5.025 / 0.5015
    assert bar.vwap == pytest.approx(10.019940179461615, rel=1e-9)


def test_output_is_deterministic() -> None:
    trades = [T(100, 10.02, 1), T(150, 10.00, 2, sym="QQQ"), T(1100, 10.01, 3, sym="QQQ")]
    quotes = [Q(0, 10.00, 1, 10.02, 1)]
    assert _encoded(run(trades, quotes)) == _encoded(run(list(trades), list(quotes)))


# ---------------------------------------------------------------------------------------------
# properties


_sym = st.sampled_from(["AAA", "BBB", "CCC"])


@st.composite
def _events(draw: st.DrawFn) -> tuple[list[Trade], list[Quote]]:
    n_t = draw(st.integers(0, 12))
    n_q = draw(st.integers(0, 12))
    trades = [T(draw(st.integers(0, 5000)), draw(st.sampled_from([9.99, 10.0, 10.01, 10.02])),
                draw(st.sampled_from([1.0, 2.0, 37.0])), sym=draw(_sym),
                cond=draw(st.sampled_from([(), (37,), (12,), (15,), (99,)])))
              for _ in range(n_t)]
    quotes = [Q(draw(st.integers(0, 5000)), 10.0, draw(st.sampled_from([1.0, 5.0])),
                draw(st.sampled_from([10.0, 10.02, 9.98])), draw(st.sampled_from([1.0, 3.0])),
                sym=draw(_sym))
              for _ in range(n_q)]
    return trades, quotes


@given(_events())
def test_symbols_are_independent(events: tuple[list[Trade], list[Quote]]) -> None:
    """Running all symbols together gives the bars of running each symbol alone."""
    trades, quotes = events
    config = AggregatorConfig(lateness_ms=300)
    together = aggregate_events(trades=trades, quotes=quotes, config=config)
    alone: list[bytes] = []
    for sym in sorted({e.symbol for e in [*trades, *quotes]}):
        res = aggregate_events(trades=[t for t in trades if t.symbol == sym],
                               quotes=[q for q in quotes if q.symbol == sym], config=config)
        alone += [msgspec.json.encode(b) for b in res.bars]
    assert [msgspec.json.encode(b) for b in together.bars] == alone


@given(b=st.integers(2, 1_000_000), width=st.integers(0, 1000), off=st.integers(-500, 1500))
@example(b=100_000, width=600, off=300)  # 10.00 x 10.06, trade 10.03: at the mid
@example(b=1_000, width=1_000, off=500)  # 0.10 x 0.20, trade 0.15: at the mid
def test_quote_rule_compares_decimal_prices_exactly(b: int, width: int, off: int) -> None:
    """Prices on a 0.0001 grid: the side follows the integer comparison 2·P vs B + A."""
    a = b + width
    p = max(b + off, 2)
    tick = 1e-4
    quotes = [Q(0, b * tick, 1, a * tick, 1)]
    trades = [T(10, 1 * tick, 1),  # far below any mid: sell 1, and the tick-test reference
              T(20, p * tick, 2)]  # at the mid -> tick test: up from 0.0001 -> buy
    config = AggregatorConfig()
    (bar,) = aggregate_events(trades=trades, quotes=quotes, config=config).bars
    expected = -1 + 2 if 2 * p >= b + a else -1 - 2
    assert bar.delta_volume == expected


# ---------------------------------------------------------------------------------------------
# files written by `spxcc bars`: bars, run report and quarantine


def _bars_command_available() -> bool:
    from spxcc_core.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return "bars" in getattr(sub, "choices", {})


_TRADES_HEADER = ("ticker,conditions,correction,exchange,id,participant_timestamp,price,"
                  "sequence_number,sip_timestamp,size,tape,trf_id,trf_timestamp")
_QUOTES_HEADER = ("ticker,ask_exchange,ask_price,ask_size,bid_exchange,bid_price,bid_size,"
                  "conditions,indicators,participant_timestamp,sequence_number,sip_timestamp,tape,"
                  "trf_timestamp")


def _ns(off_ms: int) -> int:
    return (T0_MS + off_ms) * NS_PER_MS


def _write_inputs(tmp: Any) -> tuple[Any, Any]:
    trades = tmp / "trades.csv"
    trades.write_text("\n".join([
        _TRADES_HEADER,
        f'SPY,,0,11,1,{_ns(100)},10.00,1,{_ns(100)},100,3,0,0',
        f'QQQ,,0,11,2,{_ns(150)},20.00,2,{_ns(150)},5,3,0,0',  # other ticker: not an event
        f'SPY,"12,37",0,4,3,{_ns(200)},10.05,3,{_ns(200)},37,3,201,{_ns(200)}',  # V only
        f'SPY,,1,11,4,{_ns(300)},10.01,4,{_ns(300)},50,3,0,0',  # correction
        f'SPY,,0,11,4,{_ns(300)},10.01,4,{_ns(300)},50,3,0,0',  # applied (other correction)
        f'SPY,,0,11,4,{_ns(300)},10.01,4,{_ns(300)},50,3,0,0',  # duplicate
    ]) + "\n")
    quotes = tmp / "quotes.csv"
    quotes.write_text("\n".join([
        _QUOTES_HEADER,
        f'SPY,11,10.02,1,11,10.00,3,,,{_ns(50)},10,{_ns(50)},3,0',
        f'SPY,11,10.03,1,11,10.05,1,,,{_ns(250)},11,{_ns(250)},3,0',  # crossed
        f'QQQ,11,20.02,1,11,20.00,1,,,{_ns(60)},12,{_ns(60)},3,0',  # other ticker
    ]) + "\n")
    return trades, quotes


def test_bars_command_writes_bars_report_and_quarantine_files(tmp_path: Any) -> None:
    if not _bars_command_available():
        pytest.skip("`spxcc bars` is not registered yet")
    import json

    from spxcc_core.cli import main

    trades, quotes = _write_inputs(tmp_path)
    out, rep, quar = tmp_path / "bars.jsonl", tmp_path / "report.json", tmp_path / "q.jsonl"
    code = main(["bars", "--trades", str(trades), "--quotes", str(quotes), "--ticker", "SPY",
                 "--out", str(out), "--report", str(rep), "--quarantine", str(quar)])
    assert code == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 1
    bar = json.loads(lines[0])
    assert list(bar) == list(WIRE_FIELDS)
    expected = B(
        SPY, 0, open=10.00, high=10.01, low=10.00, close=10.01,  # the 12/37 print is V only
        volume=187.0, tradeCount=3,  # 100 + 37 + 50
        vwap=10.012566844919785,  # (1000 + 371.85 + 500.5) / 187 = 1872.35 / 187
        # mid 10.01: 10.00 sell 100; 10.05 buy 37; 10.01 at mid -> tick down from 10.05 sell 50
        deltaVolume=-113.0,
        bidAskImbalance=0.5,  # (3-1)/4; the crossed quote is ignored
        askBidSizeRatio=0.3333333333333333, quoteCoveragePct=95.0,
        avgSpreadBps=19.98001998001998, bidSizeAtClose=3.0, askSizeAtClose=1.0, quoteCount=1)
    for key in WIRE_FIELDS:
        if isinstance(expected[key], float):
            assert bar[key] == pytest.approx(expected[key], rel=1e-9), key
        else:
            assert bar[key] == expected[key], key
    report_obj = json.loads(rep.read_text())
    assert list(report_obj)[:10] == REPORT_KEYS
    assert {k: report_obj[k] for k in REPORT_KEYS} == {
        "eventsIn": 7, "trades": 5, "quotes": 2, "barsOut": 1, "applied": 4,
        "quarantined": {"correction": 1, "crossed_quote": 1}, "duplicates": 1, "late": 0,
        "unknownConditions": {},
        "config": {"intervalMs": 1000, "staleMs": 2000, "latenessMs": 0, "ticker": "SPY"},
    }
    records = sorted((json.loads(x) for x in quar.read_text().splitlines()),
                     key=lambda r: (r["kind"], r["line"]))
    assert records == [
        {"kind": "quote", "reason": "crossed_quote", "symbol": "SPY", "ts": _ns(250), "seq": 11,
         "line": 2},
        {"kind": "trade", "reason": "correction", "symbol": "SPY", "ts": _ns(300), "seq": 4,
         "line": 4},
        {"kind": "trade", "reason": "duplicate", "symbol": "SPY", "ts": _ns(300), "seq": 4,
         "line": 6},
    ]
    # schema version 1: the same bar with the v1 fields only
    out1 = tmp_path / "bars1.jsonl"
    assert main(["bars", "--trades", str(trades), "--quotes", str(quotes), "--ticker", "SPY",
                 "--schema-version", "1", "--out", str(out1)]) == 0
    bar1 = json.loads(out1.read_text())
    assert list(bar1) == list(WIRE_FIELDS[:12])
    assert {k: bar1[k] for k in WIRE_FIELDS[:12]} == {k: bar[k] for k in WIRE_FIELDS[:12]}


def test_bars_command_stops_on_a_missing_file_and_leaves_no_output(
        tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    if not _bars_command_available():
        pytest.skip("`spxcc bars` is not registered yet")
    from spxcc_core.cli import main

    trades, _ = _write_inputs(tmp_path)
    out = tmp_path / "out" / "bars.jsonl"
    out.parent.mkdir()
    code = main(["bars", "--trades", str(trades), "--quotes", str(tmp_path / "missing.csv"),
                 "--out", str(out), "--report", str(tmp_path / "out" / "r.json")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("spxcc: error: ") and "missing.csv" in err[0]
    assert list(out.parent.iterdir()) == []
