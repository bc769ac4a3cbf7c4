"""Helpers shared by the Massive readers: ticker selection, condition strings, re-chunking."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from spxcc_core.aggregate.columns import ConditionTable, SymbolTable
from spxcc_core.errors import InputError

Columns = dict[str, npt.NDArray[Any]]

#: Symbol id meaning "row of another ticker: not an event of this run".
SKIP = -1


def source_name(path: str | os.PathLike[str]) -> str:
    """How a file is named in error messages."""
    return os.fspath(path)


def check_chunk_rows(chunk_rows: int) -> None:
    """Reject a chunk size below 1 (a programming error by the caller, reported as input)."""
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")


class TickerSelector:
    """Maps ticker strings to symbol ids, or to :data:`SKIP` for tickers filtered out.

    With ``ticker=None`` every ticker is an event and is interned; otherwise only ``ticker`` is
    (rows of other tickers are not events: they are neither interned nor counted).
    """

    def __init__(self, ticker: str | None, symbols: SymbolTable) -> None:
        self.ticker = ticker
        self.symbols = symbols
        self._cache: dict[str, int] = {}

    def id_of(self, name: str) -> int:
        """Symbol id of ``name`` (interning it) or :data:`SKIP`; the caller rejects ``""``."""
        sid = self._cache.get(name)
        if sid is None:
            if self.ticker is not None and name != self.ticker:
                sid = SKIP
            else:
                sid = self.symbols.intern(name)
            self._cache[name] = sid
        return sid


class ConditionStrings:
    """Interns condition lists written as flat-file strings (``"12,37"``, ``""`` = none).

    Each distinct string is parsed and passed through :meth:`ConditionTable.intern` once.
    :meth:`parse` raises ``ValueError`` naming the bad token.
    """

    def __init__(self, table: ConditionTable) -> None:
        self.table = table
        self._by_string: dict[str, int] = {}
        self._by_tuple: dict[tuple[int, ...], int] = {}

    def intern_string(self, text: str) -> int:
        """Condition-set id of a flat-file condition string."""
        cid = self._by_string.get(text)
        if cid is None:
            cid = self.table.intern(parse_condition_list(text))
            self._by_string[text] = cid
        return cid

    def intern_ids(self, ids: tuple[int, ...]) -> int:
        """Condition-set id of a decoded id list (websocket, REST)."""
        cid = self._by_tuple.get(ids)
        if cid is None:
            cid = self.table.intern(ids)
            self._by_tuple[ids] = cid
        return cid


def parse_condition_list(text: str) -> tuple[int, ...]:
    """``"12,37"`` → ``(12, 37)``; ``""`` → ``()``. Raises ``ValueError`` on a non-integer token."""
    text = text.strip()
    if not text:
        return ()
    out: list[int] = []
    for token in text.split(","):
        token = token.strip()
        if not token.isdigit():
            raise ValueError(f"condition {token!r} in {text!r} is not a non-negative integer")
        out.append(int(token))
    return tuple(out)


class Rechunker:
    """Collects column batches and re-cuts them into chunks of at most ``chunk_rows`` rows.

    Small batches (e.g. a few rows of one ticker per block of a multi-ticker file) are merged
    until ``min_rows`` rows are pending, so consumers see few, large batches. Every yielded
    array is writable, contiguous and held by nothing else: a batch of ``min_rows`` to
    ``chunk_rows`` rows whose arrays are all writable and contiguous is passed on as it is (the
    readers hand over arrays they made for it and keep no reference; copying them cost the
    consumer's thread a tenth of a second per 3 M events), anything else is copied. Memory is
    bounded by ``chunk_rows`` plus one incoming batch.
    """

    def __init__(self, chunk_rows: int, min_rows: int = 65_536) -> None:
        check_chunk_rows(chunk_rows)
        self.chunk_rows = chunk_rows
        self.min_rows = min(min_rows, chunk_rows)
        self._parts: list[Columns] = []
        self._rows = 0

    def push(self, cols: Columns) -> Iterator[Columns]:
        """Add a batch; yield the chunks that are ready."""
        n = len(next(iter(cols.values())))
        if n == 0:
            return
        if self.min_rows <= n <= self.chunk_rows and all(map(_reusable, cols.values())):
            if self._rows:  # smaller batches before it go first, in order
                yield from self._flush()
            yield cols
            return
        self._parts.append(cols)
        self._rows += n
        if self._rows >= self.min_rows:
            yield from self._flush()

    def finish(self) -> Iterator[Columns]:
        """Yield the remaining rows, if any."""
        if self._rows:
            yield from self._flush()

    def _flush(self) -> Iterator[Columns]:
        keys = self._parts[0].keys()
        merged = {k: np.concatenate([p[k] for p in self._parts]) for k in keys}
        total = self._rows
        self._parts, self._rows = [], 0
        if total <= self.chunk_rows:
            yield merged
            return
        for start in range(0, total, self.chunk_rows):
            yield {k: v[start:start + self.chunk_rows].copy() for k, v in merged.items()}


def _reusable(array: npt.NDArray[Any]) -> bool:
    return bool(array.flags.writeable and array.flags.c_contiguous)


def empty_ticker_error(source: str, row: int) -> InputError:
    """The error for a row whose ticker is empty."""
    return InputError(source, "empty ticker", row=row)


def os_error(src: str, exc: OSError) -> InputError:
    """The one-line :class:`InputError` for a file that cannot be opened or read: not found, a
    directory, permission denied, or the operating system's own words."""
    if isinstance(exc, FileNotFoundError):
        return InputError(src, "file not found")
    if isinstance(exc, IsADirectoryError):
        return InputError(src, "is a directory, not a file")
    if isinstance(exc, PermissionError):
        return InputError(src, "cannot read the file: permission denied")
    return InputError(src, f"cannot read the file: {exc.strerror or exc}")
