"""The two engines over the one kernel: batch (:func:`aggregate_columns`) and streaming
(:class:`StreamingAggregator`).

Both feed :class:`~spxcc_core.aggregate.state.KernelState`; the batch engine with large chunks
(a file arrives as bounded chunks, the two feeds interleaved by time so both watermarks advance),
the streaming engine with each arriving batch. Because the kernel applies events in the order
``(ts, feed, seq, arrival)`` only once no later arrival can precede them, the bars do not depend
on the batch boundaries: the engines agree byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import numpy as np

from spxcc_core.aggregate.columns import ConditionTable, QuoteColumns, SymbolTable, TradeColumns
from spxcc_core.aggregate.config import ENGINES, AggregatorConfig
from spxcc_core.aggregate.convert import (
    bars_from_blocks,
    quarantine_from_blocks,
    sorted_blocks,
)
from spxcc_core.aggregate.report import QuarantineRecord, RunReport
from spxcc_core.aggregate.state import BarBlock, KernelState
from spxcc_core.contracts.microbar import MicrobarV2
from spxcc_core.errors import ConfigError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["ENGINES", "AggregationResult", "StreamingAggregator", "aggregate_batches",
           "aggregate_columns", "interleave"]

_FEEDS = ("trades", "quotes")

C = TypeVar("C", TradeColumns, QuoteColumns)


@attrs.define(eq=False)
class AggregationResult:
    """The outcome of one aggregation run.

    ``bars`` are ordered by symbol (string order) then ``startMs``; ``quarantine`` holds every
    event not applied (duplicates included, reason ``duplicate``): all trades in arrival order,
    then all quotes in arrival order.
    """

    bars: list[MicrobarV2]
    report: RunReport
    quarantine: list[QuarantineRecord]

    def to_arrow(self) -> pa.Table:
        """The bars as an Arrow table whose columns carry the microbar@2 wire names."""
        from spxcc_core.aggregate.tables import bars_to_arrow

        return bars_to_arrow(self.bars)


def _check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")


class StreamingAggregator:
    """Microbars from batches as they arrive; bars are returned once final.

    :param config: bucket, freshness and lateness settings.
    :param symbols: the table the batches' symbol ids refer to (a new one when None).
    :param conditions: the table the trades' condition-set ids refer to (default rules when None).
    :param feeds: the configured feeds, ``"trades"`` and/or ``"quotes"``; a configured feed that
        stays silent holds bars back until :meth:`close`.
    """

    def __init__(self, config: AggregatorConfig | None = None, *,
                 symbols: SymbolTable | None = None, conditions: ConditionTable | None = None,
                 feeds: Sequence[str] = _FEEDS) -> None:
        bad = [f for f in feeds if f not in _FEEDS]
        if bad or not feeds:
            raise ConfigError(f"feeds must be a non-empty subset of {_FEEDS}, got {tuple(feeds)}")
        self.config = config if config is not None else AggregatorConfig()
        self.symbols = symbols if symbols is not None else SymbolTable()
        self.conditions = conditions if conditions is not None else ConditionTable()
        self._state = KernelState(self.config, self.symbols, self.conditions,
                                  "trades" in feeds, "quotes" in feeds)
        self._quarantine_blocks: list[np.ndarray[Any, Any]] = []
        self._quarantine_cache: list[QuarantineRecord] | None = None

    def push_trades(self, batch: TradeColumns) -> list[MicrobarV2]:
        """Feed trades (arrival order); returns the bars that became final, per symbol in order."""
        return self.push_events(batch, None)

    def push_quotes(self, batch: QuoteColumns) -> list[MicrobarV2]:
        """Feed quotes (arrival order); returns the bars that became final."""
        return self.push_events(None, batch)

    def push_events(self, trades: TradeColumns | None,
                    quotes: QuoteColumns | None) -> list[MicrobarV2]:
        """Feed one frame's trades and quotes; returns the bars that became final."""
        return self._run(trades, quotes, closing=False)

    def close(self) -> list[MicrobarV2]:
        """The input has ended: every remaining bar, final now. No pushes are accepted after."""
        return self._run(None, None, closing=True)

    def _run(self, trades: TradeColumns | None, quotes: QuoteColumns | None, *,
             closing: bool) -> list[MicrobarV2]:
        blocks, quarantine = self._state.feed(trades, quotes, closing=closing)
        if quarantine:
            self._quarantine_blocks.extend(quarantine)
            self._quarantine_cache = None
        if not blocks:
            return []
        return bars_from_blocks(blocks, self.symbols, self.config.interval_ms)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._state.closed

    @property
    def report(self) -> RunReport:
        """The run report so far (``applied`` counts events applied so far; complete after
        :meth:`close`)."""
        return self._state.report()

    @property
    def quarantine(self) -> list[QuarantineRecord]:
        """Quarantined events so far: trades in arrival order, then quotes."""
        if self._quarantine_cache is None:
            self._quarantine_cache = quarantine_from_blocks(self._quarantine_blocks, self.symbols)
        return list(self._quarantine_cache)


def _as_iter(batches: C | Iterable[C] | None) -> Iterator[C] | None:
    if batches is None:
        return None
    if isinstance(batches, (TradeColumns, QuoteColumns)):
        return iter((batches,))
    return iter(batches)


def interleave(trades: Iterator[TradeColumns] | None, quotes: Iterator[QuoteColumns] | None,
               ) -> Iterator[tuple[TradeColumns | None, QuoteColumns | None]]:
    """Pairs of batches drawn from two feeds so that neither runs far ahead in time: the next
    batch comes from the feed whose last batch ended earlier."""
    t_next = next(trades, None) if trades is not None else None
    q_next = next(quotes, None) if quotes is not None else None
    if t_next is not None or q_next is not None:
        yield t_next, q_next
    t_last = int(t_next.ts[-1]) if t_next is not None and len(t_next) else -(2**63)
    q_last = int(q_next.ts[-1]) if q_next is not None and len(q_next) else -(2**63)
    t_next = next(trades, None) if trades is not None and t_next is not None else None
    q_next = next(quotes, None) if quotes is not None and q_next is not None else None
    while t_next is not None or q_next is not None:
        if q_next is None or (t_next is not None and t_last <= q_last):
            assert t_next is not None and trades is not None
            yield t_next, None
            if len(t_next):
                t_last = int(t_next.ts[-1])
            t_next = next(trades, None)
        else:
            assert quotes is not None
            yield None, q_next
            if len(q_next):
                q_last = int(q_next.ts[-1])
            q_next = next(quotes, None)


def aggregate_columns(trades: TradeColumns | Iterable[TradeColumns] | None,
                      quotes: QuoteColumns | Iterable[QuoteColumns] | None, *,
                      symbols: SymbolTable, conditions: ConditionTable,
                      config: AggregatorConfig | None = None,
                      engine: str = "batch") -> AggregationResult:
    """Aggregate columnar batches (each in arrival order) into microbars.

    A feed is configured when its argument is not None. Iterables are consumed lazily, the two
    feeds interleaved by time, so memory does not grow with the input's length (beyond the bars,
    the quarantine and the reorder window).

    :param engine: ``"batch"`` (bars collected as rows, converted once at the end) or
        ``"stream"`` (a :class:`StreamingAggregator` fed batch by batch); same output.
    :raises ConfigError: an unknown engine, or no feed at all.
    :raises InputError: a batch refers to an id its table does not hold (readers may raise too).
    """
    t_iter = _as_iter(trades)
    q_iter = _as_iter(quotes)
    feeds = tuple(f for f, it in (("trades", t_iter), ("quotes", q_iter)) if it is not None)
    return aggregate_batches(interleave(t_iter, q_iter), feeds=feeds, symbols=symbols,
                             conditions=conditions, config=config, engine=engine)


def aggregate_batches(batches: Iterable[tuple[TradeColumns | None, QuoteColumns | None]], *,
                      feeds: Sequence[str], symbols: SymbolTable, conditions: ConditionTable,
                      config: AggregatorConfig | None = None, engine: str = "batch",
                      on_bar: Callable[[MicrobarV2], object] | None = None,
                      ) -> AggregationResult:
    """Aggregate ``(trades, quotes)`` batch pairs (e.g. websocket frames) into microbars.

    :param feeds: the configured feeds (``"trades"`` and/or ``"quotes"``).
    :param on_bar: called once per bar: in emission order with ``engine="stream"``, in output
        order (symbol, then ``startMs``) with ``engine="batch"``.
    :raises ConfigError: an unknown engine, or no feed at all.
    """
    _check_engine(engine)
    if not feeds:
        raise ConfigError("no feed given: pass trades, quotes or both")
    config = config if config is not None else AggregatorConfig()
    if engine == "stream":
        agg = StreamingAggregator(config, symbols=symbols, conditions=conditions, feeds=feeds)
        streamed: list[MicrobarV2] = []
        for tb, qb in batches:
            new = agg.push_events(tb, qb)
            if on_bar is not None:
                for bar in new:
                    on_bar(bar)
            streamed.extend(new)
        new = agg.close()
        if on_bar is not None:
            for bar in new:
                on_bar(bar)
        streamed.extend(new)
        rank = {name: i for i, name in enumerate(sorted(symbols.names))}
        streamed.sort(key=lambda b: (rank[b.symbol], b.start_ms))
        return AggregationResult(bars=streamed, report=agg.report, quarantine=agg.quarantine)
    state = KernelState(config, symbols, conditions, "trades" in feeds, "quotes" in feeds)
    blocks: list[BarBlock] = []
    quarantine: list[np.ndarray[Any, Any]] = []
    for tb, qb in batches:
        b, q = state.feed(tb, qb)
        blocks.extend(b)
        quarantine.extend(q)
    b, q = state.feed(None, None, closing=True)
    blocks.extend(b)
    quarantine.extend(q)
    bars = bars_from_blocks([sorted_blocks(blocks, symbols)], symbols, config.interval_ms)
    if on_bar is not None:
        for bar in bars:
            on_bar(bar)
    return AggregationResult(bars=bars, report=state.report(),
                             quarantine=quarantine_from_blocks(quarantine, symbols))
