"""Aggregation of :class:`Trade`/:class:`Quote` contract lists (tests, notebooks)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from spxcc_core.aggregate.columns import (
    NO_SEQ,
    ConditionTable,
    QuoteColumns,
    SymbolTable,
    TradeColumns,
)
from spxcc_core.aggregate.config import AggregatorConfig
from spxcc_core.aggregate.engine import AggregationResult, aggregate_columns
from spxcc_core.contracts.market import Quote, Trade
from spxcc_core.errors import ConfigError, InputError

__all__ = ["aggregate_events", "quote_columns", "trade_columns"]


def _symbol_ids(events: Sequence[Trade | Quote], symbols: SymbolTable,
                feed: str) -> list[int]:
    ids = []
    for i, e in enumerate(events, start=1):
        if not e.symbol:
            raise InputError(feed, "empty ticker", row=i)
        ids.append(symbols.intern(e.symbol))
    return ids


def trade_columns(trades: Sequence[Trade], symbols: SymbolTable,
                  conditions: ConditionTable) -> TradeColumns:
    """Columns of ``trades`` in list order; ``line`` is the 1-based list position."""
    return TradeColumns(
        ts=np.fromiter((t.ts for t in trades), np.int64, len(trades)),
        symbol=np.asarray(_symbol_ids(trades, symbols, "trades"), dtype=np.int32),
        seq=np.fromiter((NO_SEQ if t.seq is None else t.seq for t in trades), np.int64,
                        len(trades)),
        price=np.fromiter((t.price for t in trades), np.float64, len(trades)),
        size=np.fromiter((t.size for t in trades), np.float64, len(trades)),
        cond=np.fromiter((conditions.intern(t.conditions) for t in trades), np.int32,
                         len(trades)),
        correction=np.fromiter((t.correction for t in trades), np.int32, len(trades)),
        line=np.arange(1, len(trades) + 1, dtype=np.int64),
    )


def quote_columns(quotes: Sequence[Quote], symbols: SymbolTable) -> QuoteColumns:
    """Columns of ``quotes`` in list order; ``line`` is the 1-based list position."""
    return QuoteColumns(
        ts=np.fromiter((q.ts for q in quotes), np.int64, len(quotes)),
        symbol=np.asarray(_symbol_ids(quotes, symbols, "quotes"), dtype=np.int32),
        seq=np.fromiter((NO_SEQ if q.seq is None else q.seq for q in quotes), np.int64,
                        len(quotes)),
        bid=np.fromiter((q.bid for q in quotes), np.float64, len(quotes)),
        bid_size=np.fromiter((q.bid_size for q in quotes), np.float64, len(quotes)),
        ask=np.fromiter((q.ask for q in quotes), np.float64, len(quotes)),
        ask_size=np.fromiter((q.ask_size for q in quotes), np.float64, len(quotes)),
        line=np.arange(1, len(quotes) + 1, dtype=np.int64),
    )


def _split(cols: TradeColumns | QuoteColumns, size: int | None,
           ) -> Iterator[TradeColumns | QuoteColumns]:
    n = len(cols)
    if size is None or size >= n:
        yield cols
        return
    for start in range(0, n, size):
        yield cols.take(np.arange(start, min(start + size, n)))


def aggregate_events(trades: Sequence[Trade] | None, quotes: Sequence[Quote] | None, *,
                     config: AggregatorConfig | None = None, engine: str = "batch",
                     batch_size: int | None = None,
                     conditions: ConditionTable | None = None) -> AggregationResult:
    """Aggregate lists of trades and quotes (list order = arrival order) into microbars.

    A feed is configured when its argument is not None (an empty list configures a silent
    feed). ``line`` of a quarantine record is the event's 1-based list position.

    :param engine: ``"batch"`` or ``"stream"`` (same output).
    :param batch_size: feed each list in batches of this many events (default: all at once).
    :param conditions: condition table (default: :func:`spxcc_core.conditions.eligibility`).
    :raises ConfigError: a bad engine or batch size.
    """
    if batch_size is not None and (isinstance(batch_size, bool) or batch_size < 1):
        raise ConfigError(f"batch_size must be >= 1, got {batch_size!r}")
    symbols = SymbolTable()
    table = conditions if conditions is not None else ConditionTable()
    tcols = None if trades is None else trade_columns(trades, symbols, table)
    qcols = None if quotes is None else quote_columns(quotes, symbols)
    return aggregate_columns(
        None if tcols is None else _split(tcols, batch_size),  # type: ignore[arg-type]
        None if qcols is None else _split(qcols, batch_size),  # type: ignore[arg-type]
        symbols=symbols, conditions=table, config=config, engine=engine)
