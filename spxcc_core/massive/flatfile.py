"""Massive flat files (S3 day files) read into columnar batches, without a per-row Python loop.

Datasets: ``us_stocks_sip/trades_v1``, ``us_stocks_sip/quotes_v1``, ``us_options_opra/trades_v1``
(with or without ``participant_timestamp``), ``us_options_opra/quotes_v1`` and
``us_indices/values_v1``, as ``.csv`` or ``.csv.gz`` (gzip is also recognised by its magic bytes).
Columns are found by header name in any order; other columns are ignored.

Contract of every reader here:

- Rows come out in file order (arrival order). ``line`` is the 1-based data row in the file
  (header excluded), counted over the rows of *all* tickers so it points at the real row.
- With ``ticker`` given, rows of other tickers are not events: they are neither yielded, nor
  interned into the symbol table, nor counted anywhere. ``ticker`` is compared as a string
  (``NA`` and ``NULL`` are real tickers).
- Timestamps are int64 nanoseconds parsed as integers (never through a float). A sequence
  number may be absent (``spec/microbar.md``): a missing ``sequence_number`` column or an empty
  cell gives ``seq = -1``. Within one file a symbol's rows either all have one or all lack it; a
  row that breaks this (a mix within one symbol), or a negative sequence number, is an error.
  Trade condition strings (``"12,37"``, empty = none) are interned once per distinct string
  through :meth:`ConditionTable.intern`.
- Values that parse but are invalid (NaN, infinities, zero or negative prices and sizes, crossed
  quotes) pass through unchanged for the aggregator to quarantine.
- Unreadable input raises :class:`~spxcc_core.errors.InputError` naming the file and the data row
  (or the compressed byte offset for a damaged gzip stream) and the problem: missing or unreadable
  file, bad gzip stream, missing required column, a row with the wrong number of fields, a number
  or timestamp that does not parse (an empty cell included, except ``sequence_number``), an empty
  ticker, a malformed condition list, a sequence number given for some rows of a symbol and not
  for others.

How: plain rows go through a compiled parser (:mod:`spxcc_core.massive._fastcsv`, gzip inflated
by ISA-L, :mod:`spxcc_core.massive._inflate`); from the first row it does not take exactly, Arrow's
CSV reader reads the rest and names any problem. Same columns either way; in a file with several
problems the first in file order is named (Arrow alone may name a later row of the same block).
Each file is inflated in one background thread and parsed in another, a few blocks and batches
ahead (:mod:`~spxcc_core.massive._prefetch`), from the moment it is opened, so the trades and
quotes files are read at the same time as each other, as the aggregation and as whatever the
caller imports after opening them; symbols and conditions are still interned in the consumer's
thread, in file order.
"""

from __future__ import annotations

import csv
import os
import re
import zlib
from collections.abc import Callable, Collection, Iterator
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pacsv

from spxcc_core.aggregate.columns import ConditionTable, QuoteColumns, SymbolTable, TradeColumns
from spxcc_core.errors import InputError
from spxcc_core.massive._common import (
    SKIP,
    Columns,
    ConditionStrings,
    Rechunker,
    TickerSelector,
    check_chunk_rows,
    empty_ticker_error,
    os_error,
    source_name,
)
from spxcc_core.massive._fastcsv import Fallback, fast_csv_batches
from spxcc_core.massive._prefetch import prefetch
from spxcc_core.massive.columns import IndexColumns

__all__ = [
    "BLOCK_SIZE",
    "open_index_values",
    "open_quotes",
    "open_trades",
    "read_csv_batches",
]

#: Bytes of CSV text parsed per block: bounds the reader's memory independently of file size.
BLOCK_SIZE = 1 << 20
#: Plain rows go through the compiled fast path (``_fastcsv``), the rest through Arrow's reader;
#: ``SPXCC_FLATFILE_READER=arrow`` sends everything through Arrow (for measurements).
FAST_PATH = os.environ.get("SPXCC_FLATFILE_READER", "fast") != "arrow"

_STR = pa.dictionary(pa.int32(), pa.string())
_I64 = pa.int64()
_I32 = pa.int32()
_F64 = pa.float64()
_EMPTY = -2  # ticker id for the empty string (an error)
_NP_DTYPES: dict[pa.DataType, np.dtype[Any]] = {
    _I64: np.dtype(np.int64), _I32: np.dtype(np.int32), _F64: np.dtype(np.float64)}


@attrs.frozen
class _Dataset:
    kind: str
    required: dict[str, pa.DataType]
    optional: dict[str, pa.DataType]
    nullable: frozenset[str] = frozenset()  # columns whose empty cells are absent values


_TRADES = _Dataset("trades", {
    "ticker": _STR, "sip_timestamp": _I64, "price": _F64, "size": _F64,
    "conditions": _STR, "correction": _I32,
}, {"sequence_number": _I64}, frozenset({"sequence_number"}))
_QUOTES = _Dataset("quotes", {
    "ticker": _STR, "sip_timestamp": _I64, "bid_price": _F64, "bid_size": _F64,
    "ask_price": _F64, "ask_size": _F64,
}, {"sequence_number": _I64}, frozenset({"sequence_number"}))
_INDEX = _Dataset("index values", {"ticker": _STR, "timestamp": _I64, "value": _F64}, {})

_TYPE_WORDS = {"double": "a number", "int64": "an integer", "int32": "an integer",
               "string": "valid UTF-8 text"}
_CONVERSION = re.compile(
    r"In CSV column #(\d+): Row #(\d+): CSV conversion error to (\w+): (.*)", re.S)
_INVALID_VALUE = re.compile(r"invalid value '(.*)'", re.S)


# ----------------------------------------------------------------------------- public readers


def open_trades(path: str | os.PathLike[str], *, ticker: str | None, symbols: SymbolTable,
                conditions: ConditionTable, chunk_rows: int = 1_000_000) -> Iterator[TradeColumns]:
    """Trades of a flat file (``.csv``/``.csv.gz``) or REST v3 page file (``.json``), in chunks.

    :param path: the file; the reader is chosen by extension.
    :param ticker: keep only this ticker's rows (None: every ticker).
    :param symbols: shared symbol table (tickers are interned in first-seen order).
    :param conditions: shared condition table (condition sets are interned into it).
    :param chunk_rows: rows per yielded batch (>= 1; the last may be shorter).
    :returns: an iterator of :class:`TradeColumns` in file (arrival) order.
    :raises InputError: unreadable input (see the module docstring).
    """
    check_chunk_rows(chunk_rows)
    if _is_json(path):
        from spxcc_core.massive.rest import read_trades

        return read_trades(path, ticker=ticker, symbols=symbols, conditions=conditions,
                           chunk_rows=chunk_rows)
    return _stream(path, _TRADES, _trade_columns(ticker, symbols, conditions),
                   TradeColumns, chunk_rows)


def open_quotes(path: str | os.PathLike[str], *, ticker: str | None, symbols: SymbolTable,
                chunk_rows: int = 1_000_000) -> Iterator[QuoteColumns]:
    """Quotes of a flat file (``.csv``/``.csv.gz``) or REST v3 page file (``.json``), in chunks.

    Prices and sizes pass through as the source writes them (price/size 0 = side absent).
    Parameters and errors as :func:`open_trades`.
    """
    check_chunk_rows(chunk_rows)
    if _is_json(path):
        from spxcc_core.massive.rest import read_quotes

        return read_quotes(path, ticker=ticker, symbols=symbols, chunk_rows=chunk_rows)
    return _stream(path, _QUOTES, _quote_columns(ticker, symbols), QuoteColumns, chunk_rows)


def open_index_values(path: str | os.PathLike[str], *, ticker: str | None, symbols: SymbolTable,
                      chunk_rows: int = 1_000_000) -> Iterator[IndexColumns]:
    """Index values of a ``us_indices/values_v1`` flat file (``ticker,value,timestamp``).

    ``timestamp`` is int64 ns. Parameters and errors as :func:`open_trades`.
    """
    check_chunk_rows(chunk_rows)
    return _stream(path, _INDEX, _index_columns(ticker, symbols), IndexColumns, chunk_rows)


# ----------------------------------------------------------------------------- batch → columns

_Convert = Callable[[str, int, pa.RecordBatch], Columns | None]


def _stream(path: str | os.PathLike[str], dataset: _Dataset, convert: _Convert,
            make: Callable[..., Any], chunk_rows: int) -> Iterator[Any]:
    # Reading starts now, in a thread; conversion (interning) happens as the caller iterates.
    batches = prefetch(read_csv_batches(path, required=dataset.required,
                                        optional=dataset.optional, nullable=dataset.nullable))
    return _converted(source_name(path), batches, convert, make, chunk_rows)


def _converted(src: str, batches: Iterator[tuple[int, pa.RecordBatch]], convert: _Convert,
               make: Callable[..., Any], chunk_rows: int) -> Iterator[Any]:
    chunker = Rechunker(chunk_rows)
    try:
        for first_row, batch in batches:
            cols = convert(src, first_row, batch)
            if cols is not None:
                for chunk in chunker.push(cols):
                    yield make(**chunk)
        for chunk in chunker.finish():
            yield make(**chunk)
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()


def _symbols_of(src: str, first_row: int, batch: pa.RecordBatch,
                selector: TickerSelector) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.bool_] | None]:
    """Symbol ids per row and the keep mask (None = keep all). Interns only tickers in use."""
    col = batch.column("ticker")
    indices = _np(col.indices)
    names = col.dictionary.to_pylist()
    used = np.bincount(indices, minlength=len(names)) > 0
    lut = np.full(len(names), SKIP, dtype=np.int32)
    for i, name in enumerate(names):
        if used[i]:
            lut[i] = _EMPTY if name == "" else selector.id_of(name)
    sym = lut[indices]
    if (lut == _EMPTY).any():
        bad = int(np.flatnonzero(sym == _EMPTY)[0])
        raise empty_ticker_error(src, first_row + bad)
    if (lut >= 0).all():
        return sym, None
    return sym, sym >= 0


def _lines(first_row: int, n: int) -> npt.NDArray[np.int64]:
    return np.arange(first_row, first_row + n, dtype=np.int64)


def _np(arr: pa.Array) -> npt.NDArray[Any]:
    """A read-only numpy view of a null-free primitive Arrow array (no pandas import)."""
    if arr.null_count:  # pragma: no cover - nulls are refused or filled before this
        raise AssertionError("unexpected nulls in a CSV column")
    dtype = _NP_DTYPES[arr.type]  # not arr.type.to_pandas_dtype(): that imports pandas (0.6 s)
    return np.frombuffer(arr.buffers()[1], dtype=dtype, count=len(arr),
                         offset=arr.offset * dtype.itemsize)


def _num(batch: pa.RecordBatch, name: str) -> npt.NDArray[Any]:
    return _np(batch.column(name))


class _SeqPresence:
    """Sequence numbers of one file: per symbol always present or always absent (spec), and
    never negative (``-1`` means absent). Cost on a file that gives every row one: two
    fancy-indexed reads and writes per batch."""

    def __init__(self, src: str, symbols: SymbolTable) -> None:
        self.src = src
        self.symbols = symbols
        self.known = np.zeros(0, dtype=np.bool_)    # symbol id → a row of it was seen
        self.present = np.zeros(0, dtype=np.bool_)  # symbol id → its rows have a seq

    def seq(self, first_row: int, batch: pa.RecordBatch, sym: npt.NDArray[np.int32],
            keep: npt.NDArray[np.bool_] | None) -> npt.NDArray[np.int64]:
        """``seq`` of the batch (-1 where absent), checked against the earlier rows."""
        if "sequence_number" not in batch.schema.names:
            return np.full(batch.num_rows, -1, dtype=np.int64)
        col = batch.column("sequence_number")
        if col.null_count == 0:
            seq = _np(col)
            has = None
        else:
            seq = _np(col.fill_null(-1))
            has = np.asarray(col.is_valid())
        neg = seq < 0 if has is None else (seq < 0) & has
        if keep is not None:
            neg &= keep
        if neg.any():
            row = int(np.flatnonzero(neg)[0])
            raise InputError(self.src, f"column 'sequence_number': {int(seq[row])} is not a "
                             "sequence number (>= 0; leave the cell empty when there is none)",
                             row=first_row + row)
        self._check(first_row, sym, has, keep)
        return seq

    def _check(self, first_row: int, sym: npt.NDArray[np.int32],
               has: npt.NDArray[np.bool_] | None, keep: npt.NDArray[np.bool_] | None) -> None:
        rows = np.arange(len(sym)) if keep is None else np.flatnonzero(keep)
        s = sym if keep is None else sym[rows]
        if not len(s):
            return
        n = int(s.max()) + 1
        if n > len(self.known):
            grow = n - len(self.known)
            self.known = np.concatenate([self.known, np.zeros(grow, dtype=np.bool_)])
            self.present = np.concatenate([self.present, np.zeros(grow, dtype=np.bool_)])
        if has is None:  # every row has one: only a symbol seen without one conflicts
            bad = self.known[s] & ~self.present[s]
            if bad.any():
                self._fail(first_row, int(rows[np.flatnonzero(bad)[0]]), int(s[bad][0]), True)
            self.known[s] = True
            self.present[s] = True
            return
        h = has if keep is None else has[rows]
        uniq, first = np.unique(s, return_index=True)
        new = ~self.known[uniq]
        self.present[uniq[new]] = h[first[new]]
        self.known[uniq] = True
        bad = h != self.present[s]
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            self._fail(first_row, int(rows[i]), int(s[i]), bool(h[i]))

    def _fail(self, first_row: int, row: int, sid: int, given: bool) -> None:
        name = self.symbols.names[sid]
        what = ("given here but empty in earlier rows" if given
                else "empty here but given in earlier rows")
        raise InputError(self.src, f"column 'sequence_number': {what} of {name!r} (a file gives "
                         "every row of a symbol a sequence number, or none)",
                         row=first_row + row)


def _select(cols: Columns, keep: npt.NDArray[np.bool_] | None) -> Columns | None:
    if keep is None:
        return cols
    if not keep.any():
        return None
    return {k: v[keep] for k, v in cols.items()}


def _trade_columns(ticker: str | None, symbols: SymbolTable,
                   conditions: ConditionTable) -> _Convert:
    selector = TickerSelector(ticker, symbols)
    strings = ConditionStrings(conditions)
    presence: list[_SeqPresence] = []

    def convert(src: str, first_row: int, batch: pa.RecordBatch) -> Columns | None:
        sym, keep = _symbols_of(src, first_row, batch, selector)
        if not presence:
            presence.append(_SeqPresence(src, symbols))
        seq = presence[0].seq(first_row, batch, sym, keep)
        cond_col = batch.column("conditions")
        cidx = _np(cond_col.indices)
        texts = cond_col.dictionary.to_pylist()
        used = np.bincount(cidx if keep is None else cidx[keep], minlength=len(texts)) > 0
        lut = np.zeros(len(texts), dtype=np.int32)
        for i, text in enumerate(texts):
            if used[i]:
                try:
                    lut[i] = strings.intern_string(text)
                except ValueError as exc:
                    rows = np.flatnonzero(cidx == i) if keep is None else \
                        np.flatnonzero((cidx == i) & keep)
                    raise InputError(src, f"column 'conditions': {exc}",
                                     row=first_row + int(rows[0])) from None
        cols: Columns = {
            "ts": _num(batch, "sip_timestamp"), "symbol": sym, "seq": seq,
            "price": _num(batch, "price"), "size": _num(batch, "size"), "cond": lut[cidx],
            "correction": _num(batch, "correction"), "line": _lines(first_row, batch.num_rows),
        }
        return _select(cols, keep)

    return convert


def _quote_columns(ticker: str | None, symbols: SymbolTable) -> _Convert:
    selector = TickerSelector(ticker, symbols)
    presence: list[_SeqPresence] = []

    def convert(src: str, first_row: int, batch: pa.RecordBatch) -> Columns | None:
        sym, keep = _symbols_of(src, first_row, batch, selector)
        if not presence:
            presence.append(_SeqPresence(src, symbols))
        cols: Columns = {
            "ts": _num(batch, "sip_timestamp"), "symbol": sym,
            "seq": presence[0].seq(first_row, batch, sym, keep),
            "bid": _num(batch, "bid_price"), "bid_size": _num(batch, "bid_size"),
            "ask": _num(batch, "ask_price"), "ask_size": _num(batch, "ask_size"),
            "line": _lines(first_row, batch.num_rows),
        }
        return _select(cols, keep)

    return convert


def _index_columns(ticker: str | None, symbols: SymbolTable) -> _Convert:
    selector = TickerSelector(ticker, symbols)

    def convert(src: str, first_row: int, batch: pa.RecordBatch) -> Columns | None:
        sym, keep = _symbols_of(src, first_row, batch, selector)
        cols: Columns = {"ts": _num(batch, "timestamp"), "symbol": sym,
                         "value": _num(batch, "value"),
                         "line": _lines(first_row, batch.num_rows)}
        return _select(cols, keep)

    return convert


# ----------------------------------------------------------------------------- CSV streaming


def _is_json(path: str | os.PathLike[str]) -> bool:
    name = os.fspath(path).lower()
    return name.endswith((".json", ".jsonl"))


def _is_gzip(path: str | os.PathLike[str], src: str) -> bool:
    name = src.lower()
    if name.endswith(".gz"):
        return True
    if not name.endswith(".csv"):
        raise InputError(src, "unknown file type (expected .csv, .csv.gz or .json)")
    try:
        with open(path, "rb") as fh:
            return fh.read(2) == b"\x1f\x8b"
    except OSError as exc:
        raise os_error(src, exc) from None


def read_csv_batches(path: str | os.PathLike[str], *, required: dict[str, pa.DataType],
                     optional: dict[str, pa.DataType] | None = None,
                     nullable: Collection[str] = (),
                     block_size: int = BLOCK_SIZE) -> Iterator[tuple[int, pa.RecordBatch]]:
    """Stream a (possibly gzip) CSV file as Arrow record batches of the named columns.

    :param required: column name → Arrow type; a missing one is an :class:`InputError`.
    :param optional: columns read when present.
    :param nullable: numeric columns whose empty cells are read as nulls (an absent value);
        an empty cell of any other numeric column is an :class:`InputError`.
    :param block_size: bytes of CSV text per batch on Arrow's path (the compiled fast path
        parses the blocks ``_fastcsv`` reads).
    :returns: ``(first_row, batch)`` pairs, ``first_row`` the 1-based data row of the batch's
        first row; batches hold only the requested columns present in the file.
    :raises InputError: see the module docstring.
    """
    src = source_name(path)
    gz = _is_gzip(path, src)
    header = _read_header(path, src, gz)
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(src, f"missing required column{'s' if len(missing) > 1 else ''} "
                              f"{', '.join(map(repr, missing))} (header: {','.join(header)})")
    wanted = {**required, **(optional or {})}
    include = [c for c in wanted if c in header]
    bad_rows: list[pacsv.InvalidRow] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        bad_rows.append(row)
        return "error"

    read_opts = pacsv.ReadOptions(block_size=block_size, use_threads=False)
    parse_opts = pacsv.ParseOptions(invalid_row_handler=on_invalid_row)
    nulls = [c for c in nullable if c in include]
    strict = [c for c in include if nulls and c not in nullable
              and not pa.types.is_dictionary(wanted[c])]
    convert_opts = pacsv.ConvertOptions(
        column_types={c: wanted[c] for c in include}, include_columns=include,
        null_values=[""] if nulls else [], strings_can_be_null=False,
        quoted_strings_can_be_null=bool(nulls))  # text columns are never null
    skip = 0
    if FAST_PATH:
        try:
            yield from fast_csv_batches(path, gz, header, {c: wanted[c] for c in include})
            return
        except Fallback as stop:  # Arrow reads the rest and names any problem
            skip = stop.rows
    read_opts.skip_rows_after_names = skip
    first_row = skip + 1
    try:
        stream = pa.input_stream(os.fspath(path), compression="gzip" if gz else None)
        with pacsv.open_csv(stream, read_options=read_opts, parse_options=parse_opts,
                            convert_options=convert_opts) as reader:
            for batch in reader:
                for c in strict:
                    if batch.column(c).null_count:
                        raise _empty_cell(src, c, wanted[c], first_row, batch)
                yield first_row, batch
                first_row += batch.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise _translate(exc, src, path, gz, header, bad_rows) from None


def _empty_cell(src: str, column: str, dtype: pa.DataType, first_row: int,
                batch: pa.RecordBatch) -> InputError:
    """The error for an empty cell in a column that needs a value (as the CSV reader words a
    value that does not parse)."""
    row = int(np.flatnonzero(np.asarray(batch.column(column).is_null()))[0])
    what = _TYPE_WORDS.get(str(dtype), str(dtype))
    return InputError(src, f"column {column!r}: '' is not {what}", row=first_row + row)


def _read_header(path: str | os.PathLike[str], src: str, gz: bool) -> list[str]:
    try:
        with pa.input_stream(os.fspath(path), compression="gzip" if gz else None) as stream:
            head = b""
            while b"\n" not in head:
                piece = stream.read(1 << 16)
                if not piece:
                    break
                head += piece
    except (pa.ArrowException, OSError) as exc:
        raise _translate(exc, src, path, gz, [], []) from None
    line = head.split(b"\n", 1)[0].rstrip(b"\r")
    if not line.strip():
        raise InputError(src, "file is empty (no header row)")
    try:
        text = line.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError:
        raise InputError(src, "header row is not UTF-8 text", offset=0) from None
    return [name.strip() for name in next(csv.reader([text]))]


def _translate(exc: BaseException, src: str, path: str | os.PathLike[str], gz: bool,
               header: list[str], bad_rows: list[pacsv.InvalidRow]) -> InputError:
    """Turn a pyarrow/OS error into one clear InputError line."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return os_error(src, exc)
    msg = str(exc)
    if bad_rows:
        bad = bad_rows[0]
        row = None if bad.number is None else bad.number - 1
        return InputError(src, f"expected {bad.expected_columns} fields, found "
                               f"{bad.actual_columns}: {_clip(bad.text)}", row=row)
    m = _CONVERSION.search(msg)
    if m:
        col_index, line_no, type_name, detail = (int(m[1]), int(m[2]), m[3], m[4])
        column = header[col_index] if col_index < len(header) else f"#{col_index}"
        value = _INVALID_VALUE.search(detail)
        what = _TYPE_WORDS.get(type_name, type_name)
        text = (f"column {column!r}: {_clip(value[1])!r} is not {what}" if value
                else f"column {column!r}: {_clip(detail)}")
        return InputError(src, text, row=line_no - 1)
    if "Empty CSV file" in msg:
        return InputError(src, "file is empty (no header row)")
    if gz:
        damage, offset = locate_gzip_problem(path)
        if damage is not None:
            return InputError(src, f"bad gzip stream: {damage}", offset=offset)
    if isinstance(exc, OSError):
        return InputError(src, f"cannot read the file: {_clip(msg)}")
    return InputError(src, f"cannot parse CSV: {_clip(msg)}")


def _clip(text: str, limit: int = 60) -> str:
    text = text.replace("\n", " ").replace("\r", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def locate_gzip_problem(path: str | os.PathLike[str],
                        piece: int = 8192) -> tuple[str | None, int | None]:
    """Find the first damage in a gzip file.

    :returns: ``(problem, compressed_byte_offset)``, or ``(None, None)`` when the stream is
        sound. Concatenated gzip members are followed; data after the last member that is not
        another member is damage.
    """
    offset = 0
    d = zlib.decompressobj(wbits=31)
    in_member = False
    members = 0
    member_start = 0
    try:
        with open(path, "rb") as fh:
            while True:
                chunk = fh.read(piece)
                if not chunk:
                    break
                while chunk:
                    before = d.copy()
                    try:
                        d.decompress(chunk, 1 << 20)
                        while d.unconsumed_tail:
                            d.decompress(d.unconsumed_tail, 1 << 20)
                    except zlib.error as exc:
                        if _header_problem(exc):  # a bad member header: name its start
                            if members:
                                return ("unexpected data after the end of the gzip stream",
                                        member_start)
                            return _zlib_reason(exc), member_start
                        return _zlib_reason(exc), offset + _pinpoint(before, chunk)
                    in_member = not d.eof
                    if d.eof:
                        rest = d.unused_data
                        consumed = len(chunk) - len(rest)
                        offset += consumed
                        chunk = rest
                        d = zlib.decompressobj(wbits=31)
                        members += 1
                        member_start = offset
                        in_member = False
                    else:
                        offset += len(chunk)
                        chunk = b""
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}", offset
    if in_member:
        return "stream ends early (truncated file)", offset
    return None, None


def _pinpoint(d: Any, chunk: bytes) -> int:
    """Index in ``chunk`` of the byte at which decompression fails (bytes fed one at a time)."""
    for i in range(len(chunk)):
        try:
            d.decompress(chunk[i:i + 1], 1 << 20)
            while d.unconsumed_tail:
                d.decompress(d.unconsumed_tail, 1 << 20)
        except zlib.error:
            return i
    return len(chunk)  # pragma: no cover - the error reproduced on the whole chunk


def _header_problem(exc: zlib.error) -> bool:
    text = str(exc)
    return "header check" in text or "unknown compression method" in text


def _zlib_reason(exc: zlib.error) -> str:
    text = str(exc)
    if "incorrect header check" in text:
        return "not a gzip stream (wrong header)"
    if "incorrect data check" in text or "incorrect length check" in text:
        return "checksum mismatch (corrupted data)"
    return f"corrupted data ({text.split(': ', 1)[-1]})"
