"""Small hand-worked cases of the kernel's rules (spec/microbar.md), one rule per test.

Times are written as ``S + n * MS`` (S = an exact second); every expected number is worked out
by hand in the comment next to it.
"""

from __future__ import annotations

import numpy as np
import pytest

from spxcc_core.aggregate import AggregatorConfig, StreamingAggregator, aggregate_events
from spxcc_core.aggregate.columns import (
    ELIG_CLASSIFY,
    ELIG_HL,
    ELIG_OC,
    ELIG_V,
    ConditionTable,
    QuoteColumns,
    SymbolTable,
    TradeColumns,
)
from spxcc_core.contracts.market import Quote, Trade
from spxcc_core.errors import ConfigError

MS = 1_000_000
S = 1_700_000_000 * 1_000_000_000
ALL = ELIG_HL | ELIG_OC | ELIG_V | ELIG_CLASSIFY


def rules(ids: tuple[int, ...]) -> tuple[int, tuple[int, ...]]:
    table = {13: ELIG_V, 29: ELIG_HL | ELIG_V | ELIG_CLASSIFY, 41: None}
    flags, unknown = ALL, []
    for i in ids:
        if i not in table:
            unknown.append(i)
        elif table[i] is not None:
            flags &= table[i]
    return flags, tuple(unknown)


def T(ms: float, price: float, size: float = 1.0, seq: int | None = None, sym: str = "SPY",
      cond: tuple[int, ...] = (), corr: int = 0, ns: int = 0) -> Trade:
    return Trade(symbol=sym, ts=S + int(ms * MS) + ns, price=price, size=size, seq=seq,
                 conditions=cond, correction=corr)


def Q(ms: float, bid: float, ask: float, bsz: float = 1.0, asz: float = 1.0,
      seq: int | None = None, sym: str = "SPY", ns: int = 0) -> Quote:
    return Quote(symbol=sym, ts=S + int(ms * MS) + ns, bid=bid, bid_size=bsz, ask=ask,
                 ask_size=asz, seq=seq)


def run(trades, quotes, **cfg):
    return aggregate_events(trades, quotes, config=AggregatorConfig(**cfg),
                            conditions=ConditionTable(rules=rules))


def reasons(res):
    return [(q.kind, q.reason, q.line) for q in res.quarantine]


def test_lateness_is_judged_per_feed() -> None:
    # trade 2 (500 ms) is older than max_ts 1000 ms − 0 → late; the quote at 0 ms is the
    # first quote, so it is not late although trades have reached 1000 ms.
    res = run([T(1000, 10.0), T(500, 10.0), T(1000, 10.1)], [Q(0, 9.9, 10.1)])
    assert reasons(res) == [("trade", "late", 2)]
    assert res.report.late == 1 and res.report.applied == 3
    # with 600 ms of lateness, 500 >= 1000 − 600: applied, and it opens the bar
    res = run([T(1000, 10.0), T(500, 10.2), T(1000, 10.1)], [Q(0, 9.9, 10.1)],
              lateness_ms=600)
    assert reasons(res) == []
    assert [b.open for b in res.bars] == [10.2, 10.0]


def test_duplicates_need_seq_and_identical_values() -> None:
    res = run([T(0, 10.0, 5, seq=1), T(0, 10.0, 5, seq=1), T(0, 10.5, 5, seq=1),
               T(1, 10.0, 5), T(1, 10.0, 5), T(2, float("nan"), 1, seq=9),
               T(2, float("nan"), 1, seq=9)], None)
    # 2 = copy of 1; 3 differs in price; 4/5 have no seq (both kept); 7 = copy of invalid 6
    assert reasons(res) == [("trade", "duplicate", 2), ("trade", "non_finite", 6),
                            ("trade", "duplicate", 7)]
    assert res.report.duplicates == 2 and res.report.quarantined == {"non_finite": 1}
    assert res.bars[0].volume == 20.0  # 5 + 5 + 5 + 5
    assert res.report.events_in == 7 == res.report.applied + 1 + 2


def test_validity_precedence() -> None:
    res = run([T(0, float("nan"), 0), T(1, 0.0, -1), T(2, 10.0, 0, corr=1), T(3, 10.0, 1, corr=7),
               T(4, float("inf"), 1)],
              [Q(0, 0.0, 9.0), Q(1, 10.0, 9.0), Q(2, 10.0, 10.0), Q(3, 10.0, float("nan"))])
    assert reasons(res) == [
        ("trade", "non_finite", 1), ("trade", "bad_price", 2), ("trade", "bad_size", 3),
        ("trade", "correction", 4), ("trade", "non_finite", 5),
        ("quote", "empty_side", 1), ("quote", "crossed_quote", 2), ("quote", "non_finite", 4)]
    # the locked quote (line 3) is valid and applied; no trade was applied: no bar
    assert res.report.applied == 1 and res.bars == []


def test_trade_before_quote_at_equal_ts_and_missing_seq_first() -> None:
    # quote A (bid 10.00/ask 10.02, mid 10.01) in force; quote B at the trades' instant is not.
    # At 100 ms the trade without seq (10.03) is applied before the one with seq 5 (10.00),
    # although it arrived second: open 10.03, close 10.00.
    res = run([T(100, 10.00, 2, seq=5), T(100, 10.03, 3)],
              [Q(0, 10.00, 10.02), Q(100, 10.04, 10.06)])
    (bar,) = res.bars
    assert (bar.open, bar.close) == (10.03, 10.00)
    # vs mid 10.01 of A: 10.03 buy (3), 10.00 sell (2) → delta +1
    assert bar.delta_volume == 1.0
    assert bar.quote_count == 2


def test_freshness_boundary_and_tick_test() -> None:
    # quote at 0 (mid 10.01). Trade 1 at exactly 2000 ms: 2000 − 0 <= 2000 → fresh → buy.
    # Trade 2 at 2000 ms + 1 ns: stale → tick test vs 10.05 (last differing price) → down → sell.
    res = run([T(2000, 10.05, 4), T(2000, 10.04, 7, ns=1)], [Q(0, 10.00, 10.02)])
    (bar,) = res.bars
    assert bar.delta_volume == 4.0 - 7.0
    assert bar.bid_ask_imbalance is None and bar.quote_coverage_pct == 0.0
    assert bar.bid_size_at_close is None and bar.ask_bid_size_ratio is None


def test_time_weighting_with_stale_split() -> None:
    # interval 1000, stale 300. Quote 1 at 100 ms: sizes 3/1 → imb 0.5, fresh [100, 400] →
    # 300 ms. Quote 2 at 700 ms: sizes 1/3 → imb −0.5, spread (10.02−10.00)/10.01 bps,
    # fresh [700, 1000) → 300 ms. Coverage 600/1000 = 60 %. Imbalance (0.5·300 − 0.5·300)/600 = 0.
    res = run([T(50, 10.0)], [Q(100, 9.99, 10.01, 3, 1), Q(700, 10.00, 10.02, 1, 3)],
              stale_ms=300)
    (bar,) = res.bars
    assert bar.quote_coverage_pct == pytest.approx(60.0)
    assert bar.bid_ask_imbalance == pytest.approx(0.0, abs=1e-12)
    s1 = 0.02 / 10.00 * 1e4
    s2 = 0.02 / 10.01 * 1e4
    assert bar.avg_spread_bps == pytest.approx((s1 + s2) / 2)
    # close: quote 2 (ts 700 < 1000), 1000 − 700 <= 300 → fresh: sizes 1 / 3, ratio 3
    assert (bar.bid_size_at_close, bar.ask_size_at_close, bar.ask_bid_size_ratio) == (1, 3, 3)
    assert bar.quote_count == 2


def test_quote_fresh_only_at_bucket_start_contributes_nothing() -> None:
    # stale 1000: quote at 0 is fresh through 1000 ms exactly; bucket [1000, 2000) gets a
    # zero-length fresh piece → imbalance null, coverage 0, but it is fresh AT start only,
    # and at the close (2000) it is stale → sizes null.
    res = run([T(1500, 10.0)], [Q(0, 9.99, 10.01)], stale_ms=1000)
    (bar,) = res.bars
    assert bar.quote_coverage_pct == 0.0 and bar.bid_ask_imbalance is None
    assert bar.avg_spread_bps is None and bar.bid_size_at_close is None


def test_eligibility_and_tick_reference() -> None:
    # 13 = volume only, not classified and not a tick reference; 29 = HL+V (no OC); 41 ignored;
    # 77 unknown (ignored, counted per applied trade).
    res = run([T(0, 10.0, 1), T(1, 10.5, 2, cond=(13,)), T(2, 10.2, 3, cond=(29, 41)),
               T(1001, 10.2, 4, cond=(77,)), T(1002, 10.2, 5, cond=(77, 41))], None)
    b0, b1 = res.bars
    assert (b0.open, b0.high, b0.low, b0.close) == (10.0, 10.2, 10.0, 10.0)
    assert (b0.volume, b0.trade_count) == (6.0, 3)
    # trade 1 unclassified (no reference); trade 2 (cond 13) unclassified; trade 3: tick vs
    # 10.0 (10.5 is not a reference) → up → buy 3
    assert b0.delta_volume == 3.0
    # across buckets: 10.2 equals the last price; previous differing is 10.0 → up → buy 4, 5
    assert b1.delta_volume == 9.0
    assert res.report.unknown_conditions == {"77": 2}


def test_stream_finality_waits_for_every_configured_feed() -> None:
    symbols = SymbolTable()
    spy = symbols.intern("SPY")
    agg = StreamingAggregator(AggregatorConfig(), symbols=symbols,
                              conditions=ConditionTable(rules=rules))

    def trades(*ms: int) -> TradeColumns:
        n = len(ms)
        return TradeColumns(ts=[S + m * MS for m in ms], symbol=[spy] * n, seq=[-1] * n,
                            price=[10.0] * n, size=[1.0] * n, cond=[0] * n,
                            correction=[0] * n, line=np.arange(1, n + 1))

    def quotes(*ms: int) -> QuoteColumns:
        n = len(ms)
        return QuoteColumns(ts=[S + m * MS for m in ms], symbol=[spy] * n, seq=[-1] * n,
                            bid=[9.9] * n, bid_size=[1.0] * n, ask=[10.1] * n,
                            ask_size=[1.0] * n, line=np.arange(1, n + 1))

    assert agg.push_trades(trades(10, 1500)) == []  # quotes silent: bucket 0 not final
    assert agg.push_quotes(quotes(999)) == []       # quote watermark 999 < 1000
    (bar,) = agg.push_quotes(quotes(1000))          # both watermarks >= 1000 → final
    assert bar.start_ms == S // MS and bar.volume == 1.0
    assert agg.push_trades(trades(2500)) == []      # quote watermark still 1000
    (last, last2) = agg.close()
    assert [last.start_ms, last2.start_ms] == [S // MS + 1000, S // MS + 2000]
    with pytest.raises(RuntimeError):
        agg.push_trades(trades(3000))


def test_multi_symbol_output_order_and_config_errors() -> None:
    res = run([T(0, 10.0, sym="SPY"), T(0, 5.0, sym="AAPL"), T(1000, 5.0, sym="AAPL")],
              [Q(0, 4.0, 6.0, sym="QQQ")])
    assert [(b.symbol, b.start_ms - S // MS) for b in res.bars] == [
        ("AAPL", 0), ("AAPL", 1000), ("SPY", 0)]
    for bad in ({"interval_ms": 7}, {"interval_ms": 0}, {"stale_ms": -1}, {"lateness_ms": 1.5}):
        with pytest.raises(ConfigError):
            AggregatorConfig(**bad)
    with pytest.raises(ConfigError):
        aggregate_events([], None, engine="polars")
