"""Batch engine == streaming engine, byte for byte, for any split into batches; plus invariants.

Random event streams over 1–3 symbols with crossed, locked and one-sided quotes (one side ``0 × 0``,
``-0.0`` included), zero/negative sizes, NaN and
infinities, corrections, duplicates (same seq and values), equal timestamps, out-of-order events,
quote gaps longer than ``stale_ms``, with and without ``seq``, lateness 0 and > 0. The same
stream goes once through the batch engine and once, split at random boundaries (size-1 batches
included) and pushed in a random feed order, through :class:`StreamingAggregator`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import msgspec
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spxcc_core.aggregate import (
    AggregationResult,
    AggregatorConfig,
    StreamingAggregator,
    aggregate_columns,
)
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

ALL = ELIG_HL | ELIG_OC | ELIG_V | ELIG_CLASSIFY
#: Test rules: 10 volume only, 11 HL+V (no OC), 12 nothing, 13 V without classification,
#: 14 OC+HL without volume; 99 unknown (ignored in the AND, reported).
RULES = {10: ELIG_V | ELIG_CLASSIFY, 11: ELIG_HL | ELIG_V | ELIG_CLASSIFY, 12: 0,
         13: ELIG_V, 14: ELIG_HL | ELIG_OC | ELIG_CLASSIFY}


def rules(ids: tuple[int, ...]) -> tuple[int, tuple[int, ...]]:
    flags = ALL
    unknown = []
    for i in ids:
        if i in RULES:
            flags &= RULES[i]
        else:
            unknown.append(i)
    return flags, tuple(unknown)


SYMBOLS = ["SPY", "QQQ", "O:SPXW1"]
MS = 1_000_000
BASE = 1_700_000_000_000 * MS
PRICES = [10.0, 10.01, 10.02, 10.03, 10.04, 10.05, 10.06]
ENC = msgspec.json.Encoder()


@dataclass
class Stream:
    trades: dict[str, list] = field(default_factory=dict)
    quotes: dict[str, list] = field(default_factory=dict)


def _times(draw: st.DrawFn, n: int, dense: bool) -> list[int]:
    """Mostly increasing times (ms steps, ns jitter) with ties and backward jumps; ``dense``:
    a few distinct instants only (ties everywhere)."""
    if dense:
        out = [BASE + draw(st.integers(0, 4)) * 100 * MS for _ in range(n)]
        return sorted(out) if draw(st.booleans()) else out
    t = BASE + draw(st.integers(0, 3)) * 250 * MS
    out = []
    for _ in range(n):
        step = draw(st.sampled_from([0, 0, 0, 1, 7, 40, 120, 300, 900, 2600, -50, -150, -400,
                                     -1000, -1500]))
        t += step * MS + draw(st.sampled_from([0, 0, 0, 1, 999]))
        out.append(t)
    return out


def _seq(draw: st.DrawFn, i: int, dense: bool) -> int:
    """Sequence numbers that mostly increase with arrival (``dense``: in any order)."""
    return draw(st.integers(0, 30)) if dense else 10 + i + draw(st.integers(-6, 3))


def _rare(common: st.SearchStrategy, rare: st.SearchStrategy) -> st.SearchStrategy:
    """``common`` about 11 times in 12, ``rare`` otherwise."""
    return st.integers(0, 11).flatmap(lambda k: rare if k == 5 else common)


price_st = _rare(st.sampled_from(PRICES), st.sampled_from([0.0, -1.0, math.nan, math.inf]))
size_st = _rare(st.sampled_from([1.0, 2.0, 5.0, 0.5, 100.0]), st.sampled_from([0.0, -3.0,
                                                                               math.nan]))
cond_st = st.sampled_from([(), (), (), (10,), (11,), (12,), (13,), (14,), (99,), (10, 99),
                           (11, 14)])


@st.composite
def trade_columns(draw: st.DrawFn, symbols: SymbolTable, conds: ConditionTable,
                  nsym: int, dense: bool) -> TradeColumns:
    n = draw(st.integers(0, 40))
    ts = _times(draw, n, dense)
    with_seq = draw(st.booleans())
    rows = []
    for i in range(n):
        if rows and draw(st.integers(0, 9)) == 0:  # an exact duplicate of an earlier row
            rows.append(rows[draw(st.integers(0, len(rows) - 1))])
            continue
        rows.append((ts[i], symbols.intern(SYMBOLS[draw(st.integers(0, nsym - 1))]),
                     _seq(draw, i, dense) if with_seq else -1, draw(price_st), draw(size_st),
                     conds.intern(draw(cond_st)), draw(st.sampled_from([0] * 12 + [1]))))
    cols = list(zip(*rows, strict=True)) if rows else [[]] * 7
    return TradeColumns(ts=cols[0], symbol=cols[1], seq=cols[2], price=cols[3], size=cols[4],
                        cond=cols[5], correction=cols[6], line=np.arange(1, len(rows) + 1))


@st.composite
def quote_columns(draw: st.DrawFn, symbols: SymbolTable, nsym: int,
                  dense: bool) -> QuoteColumns:
    n = draw(st.integers(0, 40))
    ts = _times(draw, n, dense)
    with_seq = draw(st.booleans())
    rows = []
    for i in range(n):
        if rows and draw(st.integers(0, 9)) == 0:
            rows.append(rows[draw(st.integers(0, len(rows) - 1))])
            continue
        bid = draw(st.sampled_from(PRICES[:5]))
        ask = bid + draw(st.sampled_from([0.01, 0.02, 0.05, 0.0, -0.01]))
        if draw(st.integers(0, 12)) == 0:
            bid = draw(st.sampled_from([0.0, math.nan, -2.0]))
        bid_size = draw(st.sampled_from([1.0, 3.0, 10.0, 0.0]) if draw(st.booleans())
                        else st.just(5.0))
        ask_size = draw(st.sampled_from([1.0, 2.0, 7.0, 0.0, math.inf]))
        # one side absent (0 x 0; the revision of 2026-12-06 makes these valid), or both
        side = draw(st.sampled_from(["two"] * 5 + ["no_bid", "no_offer", "none"]))
        if side in ("no_bid", "none"):
            bid, bid_size = draw(st.sampled_from([(0.0, 0.0), (0.0, 0.0), (-0.0, 0.0),
                                                  (0.0, -0.0)]))
        if side in ("no_offer", "none"):
            ask, ask_size = draw(st.sampled_from([(0.0, 0.0), (0.0, 0.0), (-0.0, -0.0)]))
        rows.append((ts[i], symbols.intern(SYMBOLS[draw(st.integers(0, nsym - 1))]),
                     _seq(draw, i, dense) if with_seq else -1, bid, bid_size, ask, ask_size))
    cols = list(zip(*rows, strict=True)) if rows else [[]] * 7
    return QuoteColumns(ts=cols[0], symbol=cols[1], seq=cols[2], bid=cols[3], bid_size=cols[4],
                        ask=cols[5], ask_size=cols[6], line=np.arange(1, len(rows) + 1))


config_st = st.builds(AggregatorConfig, interval_ms=st.sampled_from([100, 250, 1000]),
                      stale_ms=st.sampled_from([0, 300, 2000]),
                      lateness_ms=st.sampled_from([0, 0, 150, 1000]))


def _splits(draw: st.DrawFn, n: int) -> list[tuple[int, int]]:
    cuts = sorted(set(draw(st.lists(st.integers(0, n), max_size=n + 2))) | {0, n})
    if draw(st.integers(0, 4)) == 0:
        cuts = list(range(n + 1))  # size-1 batches
    return list(itertools.pairwise(cuts)) or [(0, 0)]


def _encoded(res: AggregationResult) -> tuple[list[bytes], bytes, list[bytes]]:
    return ([ENC.encode(b) for b in res.bars], ENC.encode(res.report),
            [ENC.encode(q) for q in res.quarantine])


def _stream(draw: st.DrawFn, trades: TradeColumns | None, quotes: QuoteColumns | None,
            symbols: SymbolTable, conds: ConditionTable,
            config: AggregatorConfig) -> AggregationResult:
    feeds = tuple(f for f, c in (("trades", trades), ("quotes", quotes)) if c is not None)
    agg = StreamingAggregator(config, symbols=symbols, conditions=conds, feeds=feeds)
    t_parts = _splits(draw, len(trades)) if trades is not None else []
    q_parts = _splits(draw, len(quotes)) if quotes is not None else []
    emitted = []
    while t_parts or q_parts:
        how = draw(st.sampled_from(["t", "q", "both"]))
        tb = qb = None
        if t_parts and how in ("t", "both"):
            a, b = t_parts.pop(0)
            tb = trades.take(np.arange(a, b))
        if q_parts and how in ("q", "both"):
            a, b = q_parts.pop(0)
            qb = quotes.take(np.arange(a, b))
        if tb is not None and qb is None and draw(st.booleans()):
            emitted.extend(agg.push_trades(tb))
        elif qb is not None and tb is None and draw(st.booleans()):
            emitted.extend(agg.push_quotes(qb))
        else:
            emitted.extend(agg.push_events(tb, qb))
    emitted.extend(agg.close())
    keys = [(b.symbol, b.start_ms) for b in emitted]
    assert len(keys) == len(set(keys)), "a bar was emitted twice"
    emitted.sort(key=lambda b: (b.symbol, b.start_ms))
    return AggregationResult(bars=emitted, report=agg.report, quarantine=agg.quarantine)


@st.composite
def scenario(draw: st.DrawFn, ties: bool = False):
    symbols = SymbolTable()
    conds = ConditionTable(rules=rules)
    nsym = 1 if ties else draw(st.integers(1, 3))
    feeds = draw(st.sampled_from(["both", "both", "both", "trades", "quotes"]))
    dense = ties or draw(st.booleans())
    trades = draw(trade_columns(symbols, conds, nsym, dense)) if feeds != "quotes" else None
    quotes = draw(quote_columns(symbols, nsym, dense)) if feeds != "trades" else None
    config = AggregatorConfig(lateness_ms=0) if ties else draw(config_st)
    return symbols, conds, trades, quotes, config


@settings(suppress_health_check=[HealthCheck.large_base_example, HealthCheck.too_slow])
@given(scenario(), st.data())
def test_stream_equals_batch_for_any_split(sc, data) -> None:
    symbols, conds, trades, quotes, config = sc
    batch = aggregate_columns(trades, quotes, symbols=symbols, conditions=conds, config=config)
    stream = _stream(data.draw, trades, quotes, symbols, conds, config)
    assert _encoded(stream) == _encoded(batch)


@settings(suppress_health_check=[HealthCheck.large_base_example, HealthCheck.too_slow])
@given(scenario(ties=True), st.data())
def test_stream_equals_batch_with_ties_at_the_watermark(sc, data) -> None:
    """One symbol, five instants, lateness 0: events equal to the watermark must wait."""
    symbols, conds, trades, quotes, config = sc
    batch = aggregate_columns(trades, quotes, symbols=symbols, conditions=conds, config=config)
    stream = _stream(data.draw, trades, quotes, symbols, conds, config)
    assert _encoded(stream) == _encoded(batch)


@settings(suppress_health_check=[HealthCheck.large_base_example, HealthCheck.too_slow])
@given(scenario())
def test_invariants(sc) -> None:
    symbols, conds, trades, quotes, config = sc
    res = aggregate_columns(trades, quotes, symbols=symbols, conditions=conds, config=config)
    rep = res.report
    assert rep.events_in == rep.applied + sum(rep.quarantined.values()) + rep.duplicates
    assert rep.events_in == (len(trades) if trades is not None else 0) + (
        len(quotes) if quotes is not None else 0)
    assert rep.late == rep.quarantined.get("late", 0)
    assert rep.bars_out == len(res.bars)
    assert len(res.quarantine) == sum(rep.quarantined.values()) + rep.duplicates
    kinds = [q.kind for q in res.quarantine]
    assert kinds == sorted(kinds, key=lambda k: k != "trade"), "trades first, then quotes"

    flags = conds.flags
    applied_volume = 0.0
    hl_equals_oc = True
    if trades is not None:
        bad_lines = {q.line for q in res.quarantine if q.kind == "trade"}
        for i in range(len(trades)):
            if int(trades.line[i]) in bad_lines:
                continue
            f = int(flags[trades.cond[i]])
            if f & ELIG_V:
                applied_volume += float(trades.size[i])
            if bool(f & ELIG_HL) != bool(f & ELIG_OC):
                hl_equals_oc = False
    assert math.isclose(sum(b.volume for b in res.bars), applied_volume, rel_tol=1e-12,
                        abs_tol=1e-9)
    if quotes is None:
        assert all(b.quote_count == 0 and b.quote_coverage_pct == 0.0 for b in res.bars)
    if trades is None:
        assert res.bars == []
    for b in res.bars:
        assert 0.0 <= b.quote_coverage_pct <= 100.0
        if b.bid_ask_imbalance is not None:
            assert -1.0 <= b.bid_ask_imbalance <= 1.0
        else:  # no fresh time: no two-sided fresh time either
            assert b.avg_spread_bps is None and b.quote_coverage_pct == 0.0
        if b.avg_spread_bps is not None:
            assert b.avg_spread_bps >= 0.0  # two-sided, not crossed
        if b.bid_size_at_close is None:
            assert b.ask_size_at_close is None and b.ask_bid_size_ratio is None
        else:  # a close quote: sizes >= 0 (an absent side is +0.0); ratio only with a bid
            assert b.bid_size_at_close >= 0.0 and b.ask_size_at_close >= 0.0
            assert math.copysign(1.0, b.bid_size_at_close) == 1.0
            assert math.copysign(1.0, b.ask_size_at_close) == 1.0
            assert (b.ask_bid_size_ratio is None) == (b.bid_size_at_close == 0.0)
        assert (b.vwap is None) == (b.volume == 0.0)
        assert abs(b.delta_volume) <= b.volume + 1e-9
        assert b.start_ms % config.interval_ms == 0
        if hl_equals_oc and b.open is not None:
            assert b.low <= b.open <= b.high
            assert b.low <= b.close <= b.high
    keys = [(b.symbol, b.start_ms) for b in res.bars]
    assert keys == sorted(keys)
