"""Turning kernel output rows into wire objects: :class:`MicrobarV2` and :class:`QuarantineRecord`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from spxcc_core.aggregate import _kernel as K
from spxcc_core.aggregate._barpack import unpack_bars
from spxcc_core.aggregate.columns import SymbolTable
from spxcc_core.aggregate.report import QuarantineRecord
from spxcc_core.aggregate.state import BarBlock
from spxcc_core.contracts.microbar import MicrobarV2

__all__ = ["bars_from_blocks", "concat_blocks", "quarantine_from_blocks", "sorted_blocks"]

_KINDS: tuple[Literal["trade"], Literal["quote"]] = ("trade", "quote")


def concat_blocks(blocks: Sequence[BarBlock]) -> BarBlock:
    """All bar rows of ``blocks`` in one block, in order."""
    if not blocks:
        return (np.zeros((0, K.NBI), dtype=np.int64), np.zeros((0, K.NBF), dtype=np.float64))
    if len(blocks) == 1:
        return blocks[0]
    return (np.concatenate([b[0] for b in blocks]), np.concatenate([b[1] for b in blocks]))


def sorted_blocks(blocks: Sequence[BarBlock], symbols: SymbolTable) -> BarBlock:
    """Bar rows ordered by symbol (string order) then ``startMs``."""
    bi, bf = concat_blocks(blocks)
    if len(bi) == 0:
        return bi, bf
    rank = np.empty(len(symbols), dtype=np.int64)
    rank[np.argsort(np.asarray(symbols.names, dtype=object), kind="stable")] = np.arange(
        len(symbols), dtype=np.int64)
    order = np.lexsort((bi[:, K.B_START_MS], rank[bi[:, K.B_SYM]]))
    return bi[order], bf[order]


def bars_from_blocks(blocks: Sequence[BarBlock], symbols: SymbolTable,
                     interval_ms: int) -> list[MicrobarV2]:
    """Microbars of the bar rows, in row order (nulls where the spec says so)."""
    return unpack_bars(list(blocks), symbols.names, interval_ms)


def quarantine_from_blocks(blocks: Sequence[npt.NDArray[np.int64]],
                           symbols: SymbolTable) -> list[QuarantineRecord]:
    """Quarantine records: all trades (arrival order), then all quotes (arrival order)."""
    if not blocks:
        return []
    rows = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
    order = np.argsort(rows[:, K.Q_KIND], kind="stable")
    names = symbols.names
    return [QuarantineRecord(kind=_KINDS[kind], reason=K.REASONS[reason], symbol=names[sym],
                             ts=ts, seq=seq if seq >= 0 else None, line=line)
            for kind, reason, sym, ts, seq, line in rows[order].tolist()]
