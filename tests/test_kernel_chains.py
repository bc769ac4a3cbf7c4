"""In-order events wait in input chains, out-of-order ones in the pooled lists: both paths,
and the moves between them, give the spec's results (hand-worked below)."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from spxcc_core.aggregate import AggregatorConfig, aggregate_events
from spxcc_core.aggregate import _kernel as K
from spxcc_core.aggregate.columns import ConditionTable, QuoteColumns, SymbolTable, TradeColumns
from spxcc_core.aggregate.state import KernelState
from spxcc_core.contracts.market import Trade
from spxcc_core.errors import InputError

S = 1_000_000_000  # 1 s in ns
ENC = msgspec.json.Encoder()


def _trades() -> list[Trade]:
    def t(ts: float, seq: int, price: float, size: float) -> Trade:
        return Trade(symbol="X", ts=int(ts * S), seq=seq, price=price, size=size)

    return [
        t(1.0, 1, 10.0, 1.0),   # in order: input chain
        t(1.0, 1, 10.0, 1.0),   # duplicate of a chained event
        t(1.5, 2, 11.0, 2.0),   # in order: chain
        t(1.2, 3, 12.0, 3.0),   # out of order: the chain moves to the pool, this goes between
        t(1.2, 3, 12.0, 3.0),   # duplicate of a pooled event that is not the tail
        t(1.0, 1, 10.0, 1.0),   # duplicate of the pooled head
        t(2.1, 4, 13.0, 1.0),   # in order after the pooled tail: chain again
    ]


@pytest.mark.parametrize("batch_size", [None, 1, 2, 3])
@pytest.mark.parametrize("engine", ["batch", "stream"])
def test_chain_and_pool_paths(engine: str, batch_size: int | None) -> None:
    res = aggregate_events(_trades(), None, config=AggregatorConfig(lateness_ms=1000),
                           engine=engine, batch_size=batch_size)
    rep = res.report
    assert (rep.events_in, rep.applied, rep.duplicates, rep.quarantined) == (7, 4, 3, {})
    assert [q.line for q in res.quarantine] == [2, 5, 6]
    b1, b2 = res.bars
    # applied in ts order: 10 x1 @1.0, 12 x3 @1.2, 11 x2 @1.5 | 13 x1 @2.1
    assert (b1.start_ms, b1.open, b1.high, b1.low, b1.close) == (1000, 10.0, 12.0, 10.0, 11.0)
    assert (b1.volume, b1.trade_count) == (6.0, 3)
    assert b1.vwap == pytest.approx(68.0 / 6.0, rel=1e-15)
    # tick test: first unclassified, 12 up (buy 3), 11 down (sell 2); then 13 up (buy 1)
    assert b1.delta_volume == 1.0
    assert (b2.start_ms, b2.open, b2.close, b2.volume, b2.delta_volume) == (2000, 13.0, 13.0,
                                                                           1.0, 1.0)


def test_equal_keys_without_seq_keep_arrival_order() -> None:
    """Same ts, no seq: all kept, applied in arrival order (open = first, close = last)."""
    trades = [Trade(symbol="X", ts=S, price=p, size=1.0) for p in (5.0, 7.0, 5.0, 6.0)]
    for batch_size in (None, 1):
        res = aggregate_events(trades, None, batch_size=batch_size)
        (bar,) = res.bars
        assert (bar.open, bar.high, bar.low, bar.close, bar.trade_count) == (5.0, 7.0, 5.0,
                                                                              6.0, 4)
        assert res.report.duplicates == 0


def test_bad_ids_raise_before_anything_is_consumed() -> None:
    symbols = SymbolTable(["A"])
    state = KernelState(AggregatorConfig(), symbols, ConditionTable(), True, True)
    good = TradeColumns(ts=[S], symbol=[0], seq=[1], price=[1.0], size=[1.0], cond=[0],
                        correction=[0], line=[1])
    bad_sym = TradeColumns(ts=[S, S], symbol=[0, 1], seq=[2, 3], price=[1.0, 1.0],
                           size=[1.0, 1.0], cond=[0, 0], correction=[0, 0], line=[2, 3])
    bad_quote = QuoteColumns(ts=[S], symbol=[-1], seq=[1], bid=[1.0], bid_size=[1.0],
                             ask=[1.0], ask_size=[1.0], line=[1])
    with pytest.raises(InputError, match=r"trades.*symbol id out of range"):
        state.feed(bad_sym, None)
    with pytest.raises(InputError, match=r"quotes.*symbol id out of range"):
        state.feed(good, bad_quote)
    assert int(state.g[K.G_TRADES_IN]) == 0  # nothing consumed from the refused batches
    state.feed(good, None)
    state.feed(None, None, closing=True)
    assert state.report().applied == 1


def test_many_symbols_interleaved_same_bytes_for_any_batching() -> None:
    rng = np.random.default_rng(3)
    n = 5000
    symbols = SymbolTable([f"S{i}" for i in range(7)])
    ts = S + np.cumsum(rng.integers(0, 3_000_000, n))
    back = rng.random(n) < 0.1
    ts[back] -= rng.integers(0, 50_000_000, back.sum())  # out of order, some late
    seq = np.arange(n)
    dup = np.flatnonzero(rng.random(n) < 0.05)
    dup = dup[dup > 0]
    ts[dup], seq[dup] = ts[dup - 1], seq[dup - 1]
    sym = rng.integers(0, 7, n)
    sym[dup] = sym[dup - 1]
    trades = TradeColumns(ts=ts, symbol=sym, seq=seq, price=100.0 + (seq % 7) * 0.01,
                          size=np.ones(n), cond=np.zeros(n), correction=np.zeros(n),
                          line=np.arange(1, n + 1))
    qts = ts + rng.integers(-1_000_000, 1_000_000, n)
    quotes = QuoteColumns(ts=qts, symbol=rng.integers(0, 7, n), seq=np.arange(n),
                          bid=np.full(n, 100.0), bid_size=np.full(n, 3.0),
                          ask=np.full(n, 100.05), ask_size=np.full(n, 1.0),
                          line=np.arange(1, n + 1))
    config = AggregatorConfig(lateness_ms=20)
    outs = []
    for step in (n, 97, 1):
        state = KernelState(config, symbols, ConditionTable(), True, True)
        emitted = []
        for a in range(0, n, step):
            idx = np.arange(a, min(a + step, n))
            emitted.append(state.feed(trades.take(idx), quotes.take(idx)))
        emitted.append(state.feed(None, None, closing=True))
        bars = np.concatenate([bi for bl, _ in emitted for bi, _ in bl])
        order = np.lexsort((bars[:, 1], bars[:, 0]))
        floats = np.concatenate([bf for bl, _ in emitted for _, bf in bl])
        outs.append((bars[order].tobytes(), floats[order].tobytes(),
                     ENC.encode(state.report())))
    assert outs[0] == outs[1] == outs[2]
    rep = msgspec.json.decode(outs[0][2])
    assert rep["duplicates"] > 100 and rep["late"] > 100 and rep["barsOut"] > 50
