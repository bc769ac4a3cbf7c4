"""In-memory tables of the sample session, in Massive flat-file column order.

A :class:`SampleTable` holds one dataset's rows (file row order) as numpy columns named by the
flat-file header. Two columns are coded: ``ticker`` holds indexes into ``tickers`` and
``conditions`` indexes into ``condition_sets``. The helpers turn a table into the columnar
batches the aggregator reads (:class:`~spxcc_core.aggregate.columns.TradeColumns`,
:class:`~spxcc_core.aggregate.columns.QuoteColumns`), with ``line`` = 1-based file row.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from spxcc_core.aggregate.columns import (
    NO_SEQ,
    ConditionTable,
    QuoteColumns,
    SymbolTable,
    TradeColumns,
)

__all__ = ["HEADERS", "SampleTable"]

#: Exact flat-file headers per dataset (``reference/massive.md`` §2.2; options trades: the
#: documented variant with ``participant_timestamp``).
HEADERS: dict[str, tuple[str, ...]] = {
    "us_stocks_sip/trades_v1": (
        "ticker", "conditions", "correction", "exchange", "id", "participant_timestamp", "price",
        "sequence_number", "sip_timestamp", "size", "tape", "trf_id", "trf_timestamp"),
    "us_stocks_sip/quotes_v1": (
        "ticker", "ask_exchange", "ask_price", "ask_size", "bid_exchange", "bid_price",
        "bid_size", "conditions", "indicators", "participant_timestamp", "sequence_number",
        "sip_timestamp", "tape", "trf_timestamp"),
    "us_options_opra/trades_v1": (
        "ticker", "conditions", "correction", "exchange", "participant_timestamp", "price",
        "sip_timestamp", "size"),
    "us_options_opra/quotes_v1": (
        "ticker", "ask_exchange", "ask_price", "ask_size", "bid_exchange", "bid_price",
        "bid_size", "sequence_number", "sip_timestamp"),
    "us_indices/values_v1": ("ticker", "value", "timestamp"),
}


@attrs.frozen(eq=False)
class SampleTable:
    """Rows of one dataset in file order; ``columns`` keyed by header name, header order.

    ``ticker`` codes index ``tickers``; ``conditions`` codes (trade tables) index
    ``condition_sets`` (sorted tuples of Massive condition ids; ``()`` = none). Quote-table
    ``conditions``/``indicators`` are plain strings shared by every row (``quote_conditions``,
    ``quote_indicators``).
    """

    dataset: str
    columns: dict[str, npt.NDArray[Any]]
    tickers: tuple[str, ...]
    condition_sets: tuple[tuple[int, ...], ...] = ()
    quote_conditions: str = ""
    quote_indicators: str = ""

    def __attrs_post_init__(self) -> None:
        header = HEADERS[self.dataset]
        if tuple(self.columns) != header:
            raise ValueError(f"{self.dataset}: columns {tuple(self.columns)} != header {header}")
        n = {len(c) for c in self.columns.values()}
        if len(n) != 1:
            raise ValueError(f"{self.dataset}: columns of unequal length {sorted(n)}")

    def __len__(self) -> int:
        return len(self.columns["ticker"])

    def rows_of(self, ticker: str) -> int:
        """Number of rows of one ticker (0 when absent)."""
        if ticker not in self.tickers:
            return 0
        return int(np.count_nonzero(self.columns["ticker"] == self.tickers.index(ticker)))

    def _symbol_ids(self, symbols: SymbolTable, ticker: str | None) -> tuple[Any, Any]:
        codes = self.columns["ticker"]
        lut = np.array([symbols.intern(t) if ticker in (None, t) else -1 for t in self.tickers],
                       dtype=np.int32)
        ids = lut[codes]
        keep = ids >= 0 if ticker is not None else slice(None)
        return ids, keep

    def trade_columns(self, *, symbols: SymbolTable, conditions: ConditionTable,
                      ticker: str | None = None) -> TradeColumns:
        """This trade table as one :class:`TradeColumns` batch (rows of ``ticker`` only when
        given; ``line`` counts every row of the file, 1-based)."""
        c = self.columns
        ids, keep = self._symbol_ids(symbols, ticker)
        cond_lut = np.array([conditions.intern(s) for s in self.condition_sets], dtype=np.int32)
        seq = c.get("sequence_number")
        line = np.arange(1, len(self) + 1, dtype=np.int64)
        return TradeColumns(
            ts=c["sip_timestamp"][keep], symbol=ids[keep],
            seq=(np.full(len(self), NO_SEQ, dtype=np.int64) if seq is None else seq)[keep],
            price=c["price"][keep], size=c["size"][keep], cond=cond_lut[c["conditions"]][keep],
            correction=c["correction"][keep], line=line[keep])

    def quote_columns(self, *, symbols: SymbolTable, ticker: str | None = None) -> QuoteColumns:
        """This quote table as one :class:`QuoteColumns` batch (see :meth:`trade_columns`)."""
        c = self.columns
        ids, keep = self._symbol_ids(symbols, ticker)
        line = np.arange(1, len(self) + 1, dtype=np.int64)
        return QuoteColumns(
            ts=c["sip_timestamp"][keep], symbol=ids[keep], seq=c["sequence_number"][keep],
            bid=c["bid_price"][keep], bid_size=c["bid_size"][keep], ask=c["ask_price"][keep],
            ask_size=c["ask_size"][keep], line=line[keep])
