"""The kernel's buffers grow and drain without changing results.

A 120k-event stream over 20 symbols with an 80 s lateness keeps tens of thousands of events in
the reorder buffer and the duplicate tables (beyond their initial capacities), emits thousands
of bars and quarantine rows in one call, and must give the same bytes whether fed as one chunk,
in 1,000-event batches or in 7-event batches.
"""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from spxcc_core.aggregate import AggregatorConfig, StreamingAggregator, aggregate_columns
from spxcc_core.aggregate.columns import ConditionTable, QuoteColumns, SymbolTable, TradeColumns
from spxcc_core.aggregate.state import KernelState

N = 60_000
NSYM = 20
S = 1_700_000_000 * 1_000_000_000
ENC = msgspec.json.Encoder()


def no_rules(ids: tuple[int, ...]) -> tuple[int, tuple[int, ...]]:
    return 15, ()


def _stream(rng: np.random.Generator, quotes: bool) -> dict[str, np.ndarray]:
    ts = S + np.cumsum(rng.integers(0, 4_000_000, N))  # ~2 ms apart, 120 s in all
    back = rng.random(N) < 0.05
    ts[back] -= rng.integers(0, 120_000_000_000, back.sum())  # up to 120 s back: some late
    sym = rng.integers(0, NSYM, N).astype(np.int32)
    seq = np.arange(N, dtype=np.int64)
    px = 100.0 + rng.integers(-50, 50, N) * 0.01
    size = rng.integers(1, 10, N).astype(np.float64)
    bad = rng.random(N) < 0.3  # many invalid events: they fill the duplicate tables
    size[bad] = 0.0
    cols = {"ts": ts, "symbol": sym, "seq": seq, "line": np.arange(1, N + 1)}
    if quotes:
        cols.update(bid=px, bid_size=size, ask=px + rng.integers(0, 3, N) * 0.01,
                    ask_size=size[::-1].copy())
    else:
        cols.update(price=px, size=size, cond=np.zeros(N, np.int32),
                    correction=np.zeros(N, np.int32))
    dup = np.flatnonzero(rng.random(N) < 0.02)
    dup = dup[dup > 0]
    for k, v in cols.items():  # a duplicate repeats its predecessor, seq and values included
        if k != "line":
            v[dup] = v[dup - 1]
    return cols


@pytest.fixture(scope="module")
def data() -> tuple[SymbolTable, ConditionTable, TradeColumns, QuoteColumns]:
    rng = np.random.default_rng(7)
    symbols = SymbolTable([f"S{i:02d}" for i in range(NSYM)])
    return (symbols, ConditionTable(rules=no_rules), TradeColumns(**_stream(rng, False)),
            QuoteColumns(**_stream(rng, True)))


def _encoded(bars, report, quarantine) -> tuple[bytes, bytes, bytes]:
    return ENC.encode(bars), ENC.encode(report), ENC.encode(quarantine)


def test_growth_and_draining_do_not_change_results(data) -> None:
    symbols, conds, trades, quotes = data
    config = AggregatorConfig(lateness_ms=80_000, interval_ms=500)
    state = KernelState(config, symbols, conds, True, True)
    initial = (state.tpi.shape[0], state.qpi.shape[0], state.thash.shape[0], state.boi.shape[0],
               state.qo.shape[0])
    state.feed(trades, quotes)
    state.feed(None, None, closing=True)
    grown = (state.tpi.shape[0], state.qpi.shape[0], state.thash.shape[0])
    assert all(g > i for g, i in zip(grown, initial, strict=False)), (initial, grown)
    ref = aggregate_columns(trades, quotes, symbols=symbols, conditions=conds, config=config)
    # more bars and quarantine rows than the output buffers hold: drained within one call
    assert len(ref.bars) > initial[3] and len(ref.quarantine) > initial[4]
    rep = ref.report
    assert rep.events_in == 2 * N == rep.applied + sum(rep.quarantined.values()) + rep.duplicates
    assert rep.duplicates > 1000 and rep.late > 1000 and len(ref.bars) > 4000
    assert rep.quarantined["bad_size"] > 1000 and rep.quarantined["empty_side"] > 1000
    expected = _encoded(ref.bars, ref.report, ref.quarantine)
    for step in (1000, 7):
        agg = StreamingAggregator(config, symbols=symbols, conditions=conds)
        bars = []
        for a in range(0, N, step):
            idx = np.arange(a, min(a + step, N))
            bars.extend(agg.push_events(trades.take(idx), quotes.take(idx)))
        bars.extend(agg.close())
        bars.sort(key=lambda b: (b.symbol, b.start_ms))
        assert _encoded(bars, agg.report, agg.quarantine) == expected, step


def test_chunked_batch_equals_one_chunk(data) -> None:
    symbols, conds, trades, quotes = data
    config = AggregatorConfig(lateness_ms=250)
    one = aggregate_columns(trades, quotes, symbols=symbols, conditions=conds, config=config)
    chunks = [np.arange(a, min(a + 4096, N)) for a in range(0, N, 4096)]
    many = aggregate_columns((trades.take(i) for i in chunks), (quotes.take(i) for i in chunks),
                             symbols=symbols, conditions=conds, config=config, engine="stream")
    assert _encoded(many.bars, many.report, many.quarantine) == _encoded(
        one.bars, one.report, one.quarantine)
