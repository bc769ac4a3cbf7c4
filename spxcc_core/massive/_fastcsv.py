"""A compiled CSV fast path for Massive flat files: plain rows parsed to Arrow batches.

:func:`fast_csv_batches` gives the same ``(first_row, RecordBatch)`` pairs as
``flatfile.read_csv_batches`` (same column names and types, dictionary-encoded text columns, no
nulls) for files written the way Massive writes them, several times faster than Arrow's general
reader: one compiled pass over each block of text, only the wanted fields converted.

It only accepts what it can convert exactly as Arrow would, and stops at the first row that is
anything else — a quoted number, an empty or non-decimal number, an exponent, ``nan``, more
than 15 significant digits, a carriage return, an empty line, a wrong field count, text that is
not UTF-8, a damaged gzip stream. It then raises :class:`Fallback` carrying the number of rows
already yielded, and the caller reads the rest with Arrow, which applies its own rules and names
any problem exactly (row numbers count from the file's start, so messages are unchanged).

Numbers: an integer is ``-?[0-9]+`` without int64 overflow; a float ``-?[0-9]+(\\.[0-9]+)?`` with at most 15
significant digits, converted as ``m / 10**k`` — both exact doubles, so the one IEEE division is
the correctly rounded value of the decimal, as Arrow's parser gives.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from spxcc_core.massive._inflate import InflateError, read_chunks
from spxcc_core.massive._prefetch import prefetch

__all__ = ["Fallback", "fast_csv_batches"]

SKIP, INT, FLOAT, TEXT = 0, 1, 2, 3
#: Distinct values of one text column within one block before the fast path gives up.
MAX_DISTINCT = 4096
#: Bytes read (and, for gzip, inflated) per step; each step's text is parsed as one block, in
#: place. Large, so a reader thread hands few batches to its consumer (each hand-over can wait
#: for the OS scheduler on a busy machine): about 7 MB of CSV text for Massive's gzip files.
READ_SIZE = 2 << 20
#: Blocks held ready ahead of the parser, per file (each about 3.6 × ``READ_SIZE``: at most
#: ≈ 45 MB per file), so that inflating runs ahead while the process is still importing and
#: loading compiled code. Deeper costs more than it gains: every block in flight is fresh
#: memory, and its page faults cost CPU (16 blocks: +0.25 s of CPU per 3 M events).
BLOCKS_AHEAD = 6

_POW10 = np.array([10.0**i for i in range(23)], dtype=np.float64)
_STR = pa.dictionary(pa.int32(), pa.string())


class Fallback(Exception):
    """The fast path stopped; ``rows`` data rows were yielded before it."""

    def __init__(self, rows: int) -> None:
        super().__init__(rows)
        self.rows = rows


# Byte classes: 0 ordinary, 1 field end (``,``), 2 row end (``\n``), 3 refused here (``"``,
# ``\r``: quoting and CR line ends are left to Arrow).
_CLASS = np.zeros(256, dtype=np.uint8)
_CLASS[ord(",")], _CLASS[ord("\n")], _CLASS[ord('"')], _CLASS[ord("\r")] = 1, 2, 3, 3


def _parse(buf: npt.NDArray[np.uint8], cls: npt.NDArray[np.uint8], kinds: npt.NDArray[np.int8],
           slots: npt.NDArray[np.int64], pow10: npt.NDArray[np.float64],
           ints: npt.NDArray[np.int64], floats: npt.NDArray[np.float64],
           texts: npt.NDArray[np.int32], t_start: npt.NDArray[np.int64],
           t_len: npt.NDArray[np.int64], t_count: npt.NDArray[np.int64],
           t_last: npt.NDArray[np.int64]) -> tuple[int, int]:  # pragma: no cover - compiled
    """Parse the rows of ``buf`` (which ends with ``\n``); returns ``(rows, bytes)`` parsed.

    Stops before the first row it cannot parse exactly (``bytes`` < ``len(buf)`` then). No
    scan passes a ``\n``, so the last byte bounds every inner loop.
    """
    n = len(buf)
    nf = len(kinds)
    pos = 0
    row = 0
    while pos < n:
        row_start = pos
        f = 0
        good = True
        while True:
            kind = kinds[f]
            slot = slots[f]
            start = pos
            if kind == 0:  # skipped field: any text, possibly quoted (no "" inside)
                if buf[pos] == 34:
                    pos += 1
                    while buf[pos] != 34 and buf[pos] != 10:
                        pos += 1
                    if buf[pos] != 34:
                        good = False
                        break
                    pos += 1
                else:
                    while cls[buf[pos]] == 0:
                        pos += 1
            elif kind == 1 or kind == 2:  # number
                neg = buf[pos] == 45
                if neg:
                    pos += 1
                m = 0
                digits = 0
                frac = -1  # digits after the dot; -1: no dot
                while True:
                    c = buf[pos]
                    if 48 <= c <= 57:
                        if digits >= 18 and m > 922337203685477579:  # int64 overflow next
                            good = False
                            break
                        m = m * 10 + (c - 48)
                        digits += 1
                        if frac >= 0:
                            frac += 1
                    elif c == 46 and kind == 2 and frac < 0 and digits > 0:
                        frac = 0
                    else:
                        break
                    pos += 1
                if not good or digits == 0 or frac == 0:
                    good = False
                    break
                if kind == 1:
                    ints[slot, row] = -m if neg else m
                else:
                    if digits > 15:  # m < 10**15 < 2**53: exact as a double
                        good = False
                        break
                    v = m / pow10[frac if frac > 0 else 0]
                    floats[slot, row] = -v if neg else v
            else:  # text: its bytes are looked up in the block's table of distinct values
                quoted = buf[pos] == 34
                if quoted:
                    pos += 1
                    start = pos
                    while buf[pos] != 34 and buf[pos] != 10:
                        pos += 1
                    if buf[pos] != 34:
                        good = False
                        break
                    end = pos
                    pos += 1
                else:
                    while cls[buf[pos]] == 0:
                        pos += 1
                    end = pos
                length = end - start
                found = -1
                j = t_last[slot]
                for attempt in range(t_count[slot] + 1):
                    if attempt > 0:
                        j = attempt - 1
                    if j < 0 or t_len[slot, j] != length:
                        continue
                    s0 = t_start[slot, j]
                    same = True
                    for i in range(length):
                        if buf[s0 + i] != buf[start + i]:
                            same = False
                            break
                    if same:
                        found = j
                        break
                if found < 0:
                    found = t_count[slot]
                    if found >= t_start.shape[1]:
                        good = False
                        break
                    t_start[slot, found] = start
                    t_len[slot, found] = length
                    t_count[slot] = found + 1
                t_last[slot] = found
                texts[slot, row] = found
            k = cls[buf[pos]]
            pos += 1
            if k == 1:
                f += 1
                if f >= nf:
                    good = False
                    break
                continue
            if k == 2 and f == nf - 1 and pos - 1 > row_start:
                break
            good = False
            break
        if not good:
            return row, row_start
        row += 1
    return row, pos


_COMPILE_LOCK = threading.Lock()
_compiled: list[Callable[..., tuple[int, int]]] = []


def _compiled_parse() -> Callable[..., tuple[int, int]]:
    """:func:`_parse` compiled (numba, cached on disk), made on first use: importing this
    module does not import numba, so a file starts inflating while numba loads."""
    with _COMPILE_LOCK:  # two reader threads: one compiled function, loaded once
        if not _compiled:
            from spxcc_core.aggregate._jit import jit

            _compiled.append(jit(_parse))
        return _compiled[0]


class _Layout:
    """Which header fields are parsed, how, and where their values go."""

    def __init__(self, header: list[str], wanted: dict[str, pa.DataType]) -> None:
        self.kinds = np.zeros(len(header), dtype=np.int8)
        self.slots = np.zeros(len(header), dtype=np.int64)
        self.columns: list[tuple[str, pa.DataType, int, int]] = []  # name, type, kind, slot
        counts = {INT: 0, FLOAT: 0, TEXT: 0}
        for name, typ in wanted.items():
            if name not in header:
                continue
            kind = (TEXT if typ == _STR else FLOAT if typ == pa.float64() else
                    INT if typ in (pa.int64(), pa.int32()) else None)
            if kind is None:
                raise ValueError(f"no fast path for column type {typ}")
            i = header.index(name)
            self.kinds[i], self.slots[i] = kind, counts[kind]
            self.columns.append((name, typ, kind, counts[kind]))
            counts[kind] += 1
        self.n_int, self.n_float, self.n_text = counts[INT], counts[FLOAT], counts[TEXT]


def _batch(block: bytes, start: int, layout: _Layout, ints: npt.NDArray[np.int64],
           floats: npt.NDArray[np.float64], texts: npt.NDArray[np.int32],
           t_start: npt.NDArray[np.int64], t_len: npt.NDArray[np.int64],
           t_count: npt.NDArray[np.int64], rows: int) -> pa.RecordBatch | None:
    """The parsed rows as a record batch, or None when a value needs Arrow's rules.
    ``start``: where the parsed text begins in ``block`` (text values are found there)."""
    arrays = []
    for _, typ, kind, slot in layout.columns:
        if kind == TEXT:
            count = int(t_count[slot])
            at = [start + int(t_start[slot, j]) for j in range(count)]
            values = [block[a:a + int(t_len[slot, j])] for j, a in enumerate(at)]
            try:
                for value in values:
                    value.decode("utf-8")
            except UnicodeDecodeError:
                return None
            offsets = np.zeros(count + 1, dtype=np.int32)
            np.cumsum([len(v) for v in values], out=offsets[1:])
            dictionary = pa.Array.from_buffers(pa.string(), count, [
                None, pa.py_buffer(offsets), pa.py_buffer(b"".join(values))])
            arrays.append(pa.DictionaryArray.from_arrays(
                _array(pa.int32(), texts[slot, :rows]), dictionary))
        elif kind == FLOAT:
            arrays.append(_array(pa.float64(), floats[slot, :rows]))
        elif typ == pa.int32():
            col = ints[slot, :rows]
            if len(col) and (col.min() < -(2**31) or col.max() >= 2**31):
                return None
            arrays.append(_array(pa.int32(), col.astype(np.int32)))
        else:
            arrays.append(_array(pa.int64(), ints[slot, :rows]))
    return pa.RecordBatch.from_arrays(arrays, names=[c[0] for c in layout.columns])


def _array(typ: pa.DataType, values: npt.NDArray[Any]) -> pa.Array:
    """A zero-copy Arrow array over a contiguous numpy column (``pa.array`` would import
    pandas, 0.6 s, to check whether the input is a pandas object)."""
    return pa.Array.from_buffers(typ, len(values), [None, pa.py_buffer(values)])


def fast_csv_batches(path: str | os.PathLike[str], gz: bool, header: list[str],
                     wanted: dict[str, pa.DataType]) -> Iterator[tuple[int, pa.RecordBatch]]:
    """``(first_row, batch)`` pairs of the file's data rows, as ``read_csv_batches`` gives.

    The file is inflated and cut into blocks of whole rows in a thread of its own (started
    here, up to :data:`BLOCKS_AHEAD` blocks ahead), so inflating overlaps parsing and whatever
    the caller does before its first ``next``.

    :param header: the file's column names (the first line is skipped, not parsed).
    :param wanted: column name → Arrow type (int64, int32, float64 or dictionary of string);
        columns absent from ``header`` are left out.
    :raises Fallback: at the first row (or stream damage) the fast path does not take; its
        ``rows`` were yielded, the caller reads the rest another way.
    """
    layout = _Layout(header, wanted)
    rows_done = 0
    blocks = prefetch(_row_blocks(path, gz), depth=BLOCKS_AHEAD)
    try:
        for data, start, end in blocks:
            batch, ok = _parse_block(data, start, end, layout)
            if batch is not None:
                yield rows_done + 1, batch
                rows_done += batch.num_rows
            if not ok:
                raise Fallback(rows_done)
    except InflateError:
        raise Fallback(rows_done) from None
    finally:
        close = getattr(blocks, "close", None)
        if close is not None:
            close()


def _row_blocks(path: str | os.PathLike[str], gz: bool) -> Iterator[tuple[bytes, int, int]]:
    """The file's data rows (header line removed) as ``(data, start, end)``: ``data[start:end]``
    is whole rows ending with a line end (never empty), in file order.

    Each piece the inflater gives (about :data:`READ_SIZE` × the compression ratio) is used in
    place, never copied into a larger block: its whole rows are one block, and a row cut
    between two pieces is a block of its own (one row, joined from its two ends).

    :raises InflateError: the file cannot be read or inflated.
    """
    pending: list[bytes] = []  # the start of a row whose line end is not read yet
    in_header = True
    chunks = read_chunks(path, gz, read_size=READ_SIZE)
    try:
        for piece in chunks:
            first = piece.find(b"\n")
            if first < 0:
                pending.append(piece)
                continue
            if in_header:
                in_header = False  # the header line: skipped, not parsed
                body = first + 1
            elif pending:
                row = b"".join([*pending, piece[:first + 1]])
                yield row, 0, len(row)
                body = first + 1
            else:  # the piece starts a row
                body = 0
            last = piece.rfind(b"\n")
            if last + 1 > body:
                yield piece, body, last + 1
            pending = [piece[last + 1:]] if last + 1 < len(piece) else []
        if pending and not in_header:
            row = b"".join([*pending, b"\n"])  # a last row without its line end
            yield row, 0, len(row)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _parse_block(block: bytes, start: int, end: int, layout: _Layout
                 ) -> tuple[pa.RecordBatch | None, bool]:
    """The rows of ``block[start:end]`` (which ends with a line end) parsed, without copying
    it; ``ok`` False when parsing stopped early."""
    size = end - start
    buf = np.frombuffer(block, dtype=np.uint8, count=size, offset=start)
    cap = size // len(layout.kinds) + 1  # rows hold >= one byte per field; pages
    # of the arrays beyond the rows written are never touched
    ints = np.empty((layout.n_int, cap), dtype=np.int64)
    floats = np.empty((layout.n_float, cap), dtype=np.float64)
    texts = np.empty((layout.n_text, cap), dtype=np.int32)
    t_start = np.zeros((layout.n_text, MAX_DISTINCT), dtype=np.int64)
    t_len = np.zeros((layout.n_text, MAX_DISTINCT), dtype=np.int64)
    t_count = np.zeros(layout.n_text, dtype=np.int64)
    t_last = np.full(layout.n_text, -1, dtype=np.int64)
    rows, used = _compiled_parse()(buf, _CLASS, layout.kinds, layout.slots, _POW10, ints,
                                   floats, texts, t_start, t_len, t_count, t_last)
    if not rows:
        return None, False
    batch = _batch(block, start, layout, ints, floats, texts, t_start, t_len, t_count, rows)
    if batch is None:
        return None, False
    return batch, used == size
