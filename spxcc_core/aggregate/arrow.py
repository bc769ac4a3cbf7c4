"""Arrow in, Arrow out: :func:`aggregate_arrow` and the microbar table layout.

Every table argument may be a ``pyarrow.Table``, a ``pyarrow.RecordBatch``, a pandas or polars
``DataFrame``, or any object exporting an Arrow C stream (``__arrow_c_stream__``) or the
dataframe interchange protocol (``__dataframe__``): :func:`as_arrow_table`. pandas and polars
are never imported here (a frame is recognised by its type's module). Numeric
columns are taken zero-copy where Arrow's layout allows; symbols and condition lists are
dictionary-encoded so each distinct value is interned once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from spxcc_core.aggregate.columns import (
    NO_SEQ,
    ConditionTable,
    QuoteColumns,
    SymbolTable,
    TradeColumns,
)
from spxcc_core.aggregate.config import AggregatorConfig
from spxcc_core.aggregate.engine import aggregate_columns
from spxcc_core.aggregate.tables import MICROBAR_ARROW_SCHEMA, bars_to_arrow
from spxcc_core.errors import InputError

__all__ = ["MICROBAR_ARROW_SCHEMA", "aggregate_arrow", "as_arrow_table", "bars_to_arrow",
           "quote_columns_from_arrow", "trade_columns_from_arrow"]

def as_arrow_table(data: Any, what: str) -> pa.Table:
    """``data`` as an Arrow table: a ``pa.Table`` as is; a ``pa.RecordBatch`` as a one-batch
    table; a pandas DataFrame through ``pa.Table.from_pandas`` (the index dropped); a polars
    DataFrame through ``to_arrow()``; else anything with ``__arrow_c_stream__`` or
    ``__dataframe__``. Neither pandas nor polars is imported.

    :raises InputError: ``data`` is none of these (``what`` names the argument).
    """
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    module = type(data).__module__.split(".", 1)[0]
    if module == "pandas" and hasattr(data, "columns"):
        return pa.Table.from_pandas(data, preserve_index=False)
    if module == "polars" and hasattr(data, "to_arrow"):
        table = data.to_arrow()
        if isinstance(table, pa.Table):
            return table
    if hasattr(data, "__arrow_c_stream__"):
        return pa.table(data)
    if hasattr(data, "__dataframe__"):
        from pyarrow.interchange import from_dataframe

        return from_dataframe(data)
    raise InputError(what, f"expected an Arrow table or record batch, or a pandas or polars "
                           f"DataFrame; got {type(data).__name__}")


def _column(table: pa.Table, names: Sequence[str], what: str, *,
            required: bool = True) -> pa.Array | None:
    for name in names:
        if name in table.column_names:
            return table.column(name).combine_chunks()
    if required:
        raise InputError(what, f"missing required column {names[0]!r}")
    return None


def _numbers(arr: pa.Array, dtype: type[np.generic], what: str, name: str,
             fill: float | int | None = None) -> npt.NDArray[Any]:
    target = pa.from_numpy_dtype(np.dtype(dtype))
    try:
        if pa.types.is_timestamp(arr.type):
            arr = arr.cast(pa.timestamp("ns")).cast(pa.int64())
        arr = arr.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InputError(what, f"column {name!r} is not numeric ({exc})") from None
    if arr.null_count:
        if fill is None:
            first = pc.index(pc.is_null(arr), True).as_py()
            raise InputError(what, f"column {name!r} has a null value", row=first + 1)
        arr = arr.fill_null(fill)
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=dtype)


def _symbol_ids(table: pa.Table, symbols: SymbolTable, what: str) -> npt.NDArray[np.int32]:
    col = _column(table, ("symbol", "ticker"), what)
    assert col is not None
    enc = col.dictionary_encode() if not pa.types.is_dictionary(col.type) else col
    if enc.null_count:
        first = pc.index(pc.is_null(enc), True).as_py()
        raise InputError(what, "empty ticker", row=first + 1)
    names = enc.dictionary.to_pylist()
    ids = np.empty(len(names), dtype=np.int32)
    for i, name in enumerate(names):
        if not name:
            first = pc.index(enc.indices, i).as_py()
            raise InputError(what, "empty ticker", row=first + 1)
        ids[i] = symbols.intern(str(name))
    idx = np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    return ids[idx]


def _condition_ids(col: pa.Array | None, n: int,
                   conditions: ConditionTable) -> npt.NDArray[np.int32]:
    if col is None:
        return np.zeros(n, dtype=np.int32)
    keys = pc.binary_join(col.cast(pa.list_(pa.string())), ",").fill_null("")
    enc = keys.dictionary_encode()
    ids = np.asarray([conditions.intern(int(x) for x in s.split(",") if x) for s in
                      enc.dictionary.to_pylist()], dtype=np.int32)
    return ids[np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int64)]


def trade_columns_from_arrow(table: Any, symbols: SymbolTable,
                             conditions: ConditionTable) -> TradeColumns:
    """Trade columns of an Arrow table, record batch or DataFrame (:func:`as_arrow_table`; row
    order = arrival order; ``line`` = 1-based row).

    Columns: ``symbol`` or ``ticker``; ``ts`` (int64 ns or a timestamp); ``price``; ``size``;
    optional ``seq`` (null = absent), ``conditions`` (list of ints), ``correction``.
    """
    what = "trades table"
    table = as_arrow_table(table, what)
    n = table.num_rows
    price = _column(table, ("price",), what)
    size = _column(table, ("size",), what)
    ts = _column(table, ("ts",), what)
    assert price is not None and size is not None and ts is not None
    seq = _column(table, ("seq",), what, required=False)
    corr = _column(table, ("correction",), what, required=False)
    return TradeColumns(
        ts=_numbers(ts, np.int64, what, "ts"),
        symbol=_symbol_ids(table, symbols, what),
        seq=np.full(n, NO_SEQ, np.int64) if seq is None else _numbers(seq, np.int64, what, "seq",
                                                                       NO_SEQ),
        price=_numbers(price, np.float64, what, "price", float("nan")),
        size=_numbers(size, np.float64, what, "size", float("nan")),
        cond=_condition_ids(_column(table, ("conditions",), what, required=False), n,
                            conditions),
        correction=np.zeros(n, np.int32) if corr is None else _numbers(corr, np.int32, what,
                                                                        "correction", 0),
        line=np.arange(1, n + 1, dtype=np.int64),
    )


def quote_columns_from_arrow(table: Any, symbols: SymbolTable) -> QuoteColumns:
    """Quote columns of an Arrow table, record batch or DataFrame (:func:`as_arrow_table`):
    ``symbol``/``ticker``, ``ts``, ``bid``, ``bid_size``, ``ask``, ``ask_size``, optional
    ``seq``."""
    what = "quotes table"
    table = as_arrow_table(table, what)
    n = table.num_rows
    cols = {name: _column(table, (name,), what)
            for name in ("ts", "bid", "bid_size", "ask", "ask_size")}
    seq = _column(table, ("seq",), what, required=False)
    nan = float("nan")
    return QuoteColumns(
        ts=_numbers(cols["ts"], np.int64, what, "ts"),
        symbol=_symbol_ids(table, symbols, what),
        seq=np.full(n, NO_SEQ, np.int64) if seq is None else _numbers(seq, np.int64, what, "seq",
                                                                       NO_SEQ),
        bid=_numbers(cols["bid"], np.float64, what, "bid", nan),
        bid_size=_numbers(cols["bid_size"], np.float64, what, "bid_size", nan),
        ask=_numbers(cols["ask"], np.float64, what, "ask", nan),
        ask_size=_numbers(cols["ask_size"], np.float64, what, "ask_size", nan),
        line=np.arange(1, n + 1, dtype=np.int64),
    )


def aggregate_arrow(trades: Any | None, quotes: Any | None, *,
                    config: AggregatorConfig | None = None,
                    conditions: ConditionTable | None = None) -> pa.Table:
    """Microbars of trades and quotes (Arrow tables or record batches, pandas or polars
    DataFrames: :func:`as_arrow_table`), as an Arrow table
    (:data:`MICROBAR_ARROW_SCHEMA`, ordered by symbol then ``startMs``).

    A feed is configured when its table is not None. Use :func:`aggregate_columns` with
    :func:`trade_columns_from_arrow` to get the run report and quarantine as well.
    """
    symbols = SymbolTable()
    table = conditions if conditions is not None else ConditionTable()
    tcols = None if trades is None else trade_columns_from_arrow(trades, symbols, table)
    qcols = None if quotes is None else quote_columns_from_arrow(quotes, symbols)
    return aggregate_columns(tcols, qcols, symbols=symbols, conditions=table,
                             config=config).to_arrow()
