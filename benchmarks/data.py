"""Benchmark workloads: the seeded synthetic SPY session as in-memory numpy columns.

``scale=10`` gives ≈ 8 M quotes + 2 M trades over 6.5 h (``--quick``: ``scale=1``, ≈ 1 M).
Streams are cut from the two feeds merged in arrival order (each feed keeps its row order;
between feeds, by running-max timestamp, trades first at ties).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import attrs
import numpy as np
import polars as pl

from spxcc_core.aggregate.columns import ConditionTable, QuoteColumns, SymbolTable, TradeColumns
from spxcc_core.sample import generate_columns

__all__ = ["Workload", "build_workload", "quote_slice", "trade_slice"]

TICKER = "SPY"


def trade_slice(t: TradeColumns, a: int, b: int) -> TradeColumns:
    """Rows ``[a, b)`` of a trade batch (views, no copy)."""
    return TradeColumns(ts=t.ts[a:b], symbol=t.symbol[a:b], seq=t.seq[a:b], price=t.price[a:b],
                        size=t.size[a:b], cond=t.cond[a:b], correction=t.correction[a:b],
                        line=t.line[a:b])


def quote_slice(q: QuoteColumns, a: int, b: int) -> QuoteColumns:
    """Rows ``[a, b)`` of a quote batch (views, no copy)."""
    return QuoteColumns(ts=q.ts[a:b], symbol=q.symbol[a:b], seq=q.seq[a:b], bid=q.bid[a:b],
                        bid_size=q.bid_size[a:b], ask=q.ask[a:b], ask_size=q.ask_size[a:b],
                        line=q.line[a:b])


@attrs.frozen(eq=False)
class Workload:
    """SPY trades and quotes as engine columns plus the same rows as polars frames."""

    scale: float
    symbols: SymbolTable
    conditions: ConditionTable
    trades: TradeColumns
    quotes: QuoteColumns
    condition_text: tuple[str, ...]  # per ConditionTable id, Massive text ("14,37")

    @property
    def events(self) -> int:
        """Trades + quotes."""
        return len(self.trades) + len(self.quotes)

    def frames(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(trades, quotes) as reference frames (polars; numeric columns zero-copy)."""
        t, q = self.trades, self.quotes
        names = self.symbols.names
        cond = pl.Series("c", t.cond).replace_strict(
            list(range(len(self.condition_text))), list(self.condition_text),
            return_dtype=pl.String)
        tdf = pl.DataFrame({
            "symbol": pl.Series(t.symbol).replace_strict(list(range(len(names))), names,
                                                         return_dtype=pl.String),
            "ts": t.ts, "seq": t.seq, "price": t.price, "size": t.size, "conditions": cond,
            "correction": t.correction.astype(np.int64), "line": t.line})
        qdf = pl.DataFrame({
            "symbol": pl.Series(q.symbol).replace_strict(list(range(len(names))), names,
                                                         return_dtype=pl.String),
            "ts": q.ts, "seq": q.seq, "bid": q.bid, "bid_size": q.bid_size, "ask": q.ask,
            "ask_size": q.ask_size, "line": q.line})
        return tdf, qdf

    def cuts(self, batch_events: int, limit: int | None = None) -> list[tuple[int, int, int, int]]:
        """``(t0, t1, q0, q1)`` row ranges of consecutive batches of ``batch_events`` events
        of the merged arrival stream, over its first ``limit`` events (all when None)."""
        kt = np.maximum.accumulate(self.trades.ts)
        kq = np.maximum.accumulate(self.quotes.ts)
        order = np.argsort(np.concatenate([kt, kq]), kind="stable")
        n = len(order) if limit is None else min(limit, len(order))
        cum_t = np.concatenate([[0], np.cumsum(order[:n] < len(kt))])
        bounds = [*range(0, n, batch_events), n]
        out = []
        for a, b in itertools.pairwise(bounds):
            ta, tb = int(cum_t[a]), int(cum_t[b])
            out.append((ta, tb, a - ta, b - tb))
        return out

    def batches(self, batch_events: int, limit: int | None = None
                ) -> list[tuple[TradeColumns | None, QuoteColumns | None]]:
        """The merged stream as ``(trades, quotes)`` batches (None for an empty side)."""
        out: list[tuple[TradeColumns | None, QuoteColumns | None]] = []
        for t0, t1, q0, q1 in self.cuts(batch_events, limit):
            out.append((trade_slice(self.trades, t0, t1) if t1 > t0 else None,
                        quote_slice(self.quotes, q0, q1) if q1 > q0 else None))
        return out

    def head(self, events: int) -> Workload:
        """The first ``events`` events of the merged stream as a workload of its own."""
        ((_, t1, _, q1),) = self.cuts(events, events)[:1] or [(0, 0, 0, 0)]
        return attrs.evolve(self, trades=trade_slice(self.trades, 0, t1),
                            quotes=quote_slice(self.quotes, 0, q1))


def build_workload(scale: float, seed: int = 14) -> Workload:
    """The SPY part of the sample session at ``scale``, converted once (not timed)."""
    cols = generate_columns(seed=seed, scale=scale)
    symbols, conditions = SymbolTable(), ConditionTable()
    trades = cols.stock_trades.trade_columns(symbols=symbols, conditions=conditions)
    quotes = cols.stock_quotes.quote_columns(symbols=symbols)
    text = tuple(",".join(str(c) for c in s) for s in conditions.sets)
    return Workload(scale=scale, symbols=symbols, conditions=conditions, trades=trades,
                    quotes=quotes, condition_text=text)


def iter_repeated(work: Workload, events: int, batch_events: int
                  ) -> Iterator[tuple[TradeColumns | None, QuoteColumns | None]]:
    """``events`` events made by replaying ``work`` on consecutive days (ts + k·24 h), in
    batches of about ``batch_events``; memory stays that of one day."""
    day_ns = 86_400 * 10**9
    cuts = work.cuts(batch_events)
    done, day = 0, 0
    while done < events:
        for t0, t1, q0, q1 in cuts:
            if done >= events:
                return
            shift: Any = day * day_ns
            t = trade_slice(work.trades, t0, t1)
            q = quote_slice(work.quotes, q0, q1)
            if day:
                t = attrs.evolve(t, ts=t.ts + shift)
                q = attrs.evolve(q, ts=q.ts + shift)
            done += (t1 - t0) + (q1 - q0)
            yield (t if t1 > t0 else None, q if q1 > q0 else None)
        day += 1
