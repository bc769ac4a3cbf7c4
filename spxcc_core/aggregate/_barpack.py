"""Bar rows to :class:`MicrobarV2` objects through one msgpack buffer.

The kernel's bar rows (``B_*`` int columns, ``O_*`` float columns) are written by a compiled
function as a msgpack array of maps keyed by the microbar@2 wire names, which msgspec decodes
straight into :class:`MicrobarV2` objects. Floats travel as their exact 64-bit patterns and
integers as int64, so every value equals what the row holds; a field the row's flags mark as
absent is written as nil (``None``).
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from spxcc_core.aggregate import _kernel as K
from spxcc_core.aggregate._jit import jit
from spxcc_core.contracts.microbar import MicrobarV2

__all__ = ["pack_rows", "unpack_bars"]

Arr = npt.NDArray[Any]
Num = Any

_FIELDS = msgspec.structs.fields(MicrobarV2)
_KEYS = [msgspec.msgpack.encode(f.encode_name) for f in _FIELDS]
#: msgpack keys of the microbar@2 fields, in wire order, and where each starts in KEY_BYTES.
KEY_BYTES = np.frombuffer(b"".join(_KEYS), dtype=np.uint8).copy()
KEY_OFF = np.cumsum([0] + [len(k) for k in _KEYS]).astype(np.int64)
NKEYS = len(_KEYS)
#: Bytes a bar needs besides its symbol: map header, keys, and 9 bytes per value.
ROW_BYTES = 3 + len(KEY_BYTES) + 9 * (NKEYS - 1)

_DECODER = msgspec.msgpack.Decoder(list[MicrobarV2])
_EXPECTED = ("symbol", "start_ms", "interval_ms", "open", "high", "low", "close", "volume",
             "trade_count", "vwap", "delta_volume", "bid_ask_imbalance", "ask_bid_size_ratio",
             "quote_coverage_pct", "avg_spread_bps", "bid_size_at_close", "ask_size_at_close",
             "quote_count")
if tuple(f.name for f in _FIELDS) != _EXPECTED:  # pragma: no cover - guards the layout below
    raise RuntimeError("MicrobarV2 fields changed: update spxcc_core.aggregate._barpack")


#: How each field after ``symbol`` is written: kind (0 int column of ``boi``, 1 the interval,
#: 2 float column of the float rows), the column, and the row flag that must be set for a float
#: to be present (0: always present).
_KIND = np.array([0, 0, 1, 2, 2, 2, 2, 2, 0, 2, 2, 2, 2, 2, 2, 2, 2, 0], dtype=np.int64)
_COL = np.array([0, K.B_START_MS, 0, K.O_OPEN, K.O_HIGH, K.O_LOW, K.O_CLOSE, K.O_VOL, K.B_TCOUNT,
                 K.O_VWAP, K.O_DELTA, K.O_IMB, K.O_RATIO, K.O_COV, K.O_SPREAD, K.O_BSZ, K.O_ASZ,
                 K.B_QCOUNT], dtype=np.int64)
_FLAG = np.array([0, 0, 0, K.BF_OC, K.BF_HL, K.BF_HL, K.BF_OC, 0, 0, K.BF_VWAP, 0, K.BF_FRESH,
                  K.BF_RATIO, 0, K.BF_SPREAD, K.BF_CLOSEQ, K.BF_CLOSEQ, 0], dtype=np.int64)
#: The field layout above as one array (rows: kind, column, flag).
LAYOUT = np.stack([_KIND, _COL, _FLAG])


@jit
def pack_rows(boi: Arr, bits: Arr, interval_ms: Num, syms: Arr, soff: Arr, keys: Arr,
              koff: Arr, layout: Arr, out: Arr) -> Num:
    """Write the bar rows to ``out`` as a msgpack array of maps; returns the bytes written.

    ``bits`` are the float columns viewed as int64; ``syms``/``soff`` the msgpack-encoded symbol
    names and their offsets (name ``s`` is ``syms[soff[s]:soff[s + 1]]``); ``layout`` is
    :data:`LAYOUT`; ``out`` must have room for 5 bytes plus ``ROW_BYTES`` and the symbol's
    length per row.
    """
    n = boi.shape[0]
    out[0] = 0xDD  # array 32
    for i in range(4):
        out[1 + i] = (n >> (24 - 8 * i)) & 0xFF
    p = 5
    nk = koff.shape[0] - 1
    for r in range(n):
        flags = boi[r, K.B_FLAGS]
        out[p] = 0xDE  # map 16
        out[p + 1] = 0
        out[p + 2] = nk
        p += 3
        for k in range(nk):
            for i in range(koff[k], koff[k + 1]):
                out[p] = keys[i]
                p += 1
            if k == 0:
                s = boi[r, K.B_SYM]
                for i in range(soff[s], soff[s + 1]):
                    out[p] = syms[i]
                    p += 1
                continue
            kind = layout[0, k]
            mask = layout[2, k]
            if kind == 2 and mask != 0 and flags & mask == 0:
                out[p] = 0xC0  # nil
                p += 1
                continue
            if kind == 0:
                v = boi[r, layout[1, k]]
                out[p] = 0xD3  # int 64
            elif kind == 1:
                v = interval_ms
                out[p] = 0xD3
            else:
                v = bits[r, layout[1, k]]
                out[p] = 0xCB  # float 64
            for i in range(8):
                out[p + 1 + i] = (v >> (56 - 8 * i)) & 0xFF
            p += 9
    return p


class _SymbolBytes:
    """msgpack-encoded symbol names of one symbol table, extended as the table grows."""

    def __init__(self, names: list[str]) -> None:
        self.names = names  # the table's own list: identity marks the table
        self.count = 0
        self.parts: list[bytes] = []
        self.syms = np.zeros(0, dtype=np.uint8)
        self.soff = np.zeros(1, dtype=np.int64)
        self.longest = 0

    def update(self) -> None:
        n = len(self.names)
        if n == self.count:
            return
        new = [msgspec.msgpack.encode(name) for name in self.names[self.count:]]
        self.parts.extend(new)
        self.syms = np.frombuffer(b"".join(self.parts), dtype=np.uint8).copy()
        self.soff = np.cumsum([0] + [len(b) for b in self.parts]).astype(np.int64)
        self.longest = max([self.longest, *(len(b) for b in new)])
        self.count = n


_CACHE: list[_SymbolBytes] = []
_CACHE_SIZE = 4


def _symbol_bytes(names: list[str]) -> _SymbolBytes:
    for i, entry in enumerate(_CACHE):
        if entry.names is names and entry.count <= len(names):
            if i:
                _CACHE.insert(0, _CACHE.pop(i))
            entry.update()
            return entry
    entry = _SymbolBytes(names)
    entry.update()
    _CACHE.insert(0, entry)
    del _CACHE[_CACHE_SIZE:]
    return entry


def unpack_bars(blocks: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]],
                names: list[str], interval_ms: int) -> list[MicrobarV2]:
    """Microbars of the bar rows of ``blocks``, in row order (``names``: symbol id → ticker)."""
    if len(blocks) == 1:
        bi, bf = blocks[0]
    elif blocks:
        bi = np.concatenate([b[0] for b in blocks])
        bf = np.concatenate([b[1] for b in blocks])
    else:
        return []
    n = len(bi)
    if n == 0:
        return []
    sb = _symbol_bytes(names)
    out = np.empty(5 + n * (ROW_BYTES + sb.longest), dtype=np.uint8)
    p = pack_rows(np.ascontiguousarray(bi), np.ascontiguousarray(bf).view(np.int64),
                  interval_ms, sb.syms, sb.soff, KEY_BYTES, KEY_OFF, LAYOUT, out)
    bars: list[MicrobarV2] = _DECODER.decode(out[:p].data)
    return bars
