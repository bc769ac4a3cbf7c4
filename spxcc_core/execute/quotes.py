"""The latest quote of every tradable option contract, kept from the raw quote stream.

Only contracts of the policy's root expiring on the session's date (0DTE) are kept; other
symbols (the stock, other roots or expiries) are recognised once and skipped. Batches are
applied in arrival order; a quote replaces the previous one of its contract (the latest
arrival wins, as a live subscriber sees it).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from spxcc_core.aggregate.columns import QuoteColumns, SymbolTable
from spxcc_core.errors import InputError
from spxcc_core.execute.select import OptionQuote
from spxcc_core.gamma import settlement_ms
from spxcc_core.occ import parse_occ

__all__ = ["OptionQuoteBook"]

_NS_PER_MS = 1_000_000


class OptionQuoteBook:
    """Latest quotes of the tradable contracts (module docstring).

    :param symbols: the symbol table the batches' ids refer to (it may grow).
    :param root: the option root traded (``SPXW``).
    :param expiry: the contracts' expiry date (the session's date).
    """

    def __init__(self, symbols: SymbolTable, root: str, expiry: dt.date) -> None:
        self.symbols = symbols
        self.root = root.upper()
        self.expiry = expiry
        self._settle = settlement_ms(expiry)
        #: per symbol id: True when the contract is tradable (index = id)
        self._tradable = np.zeros(0, dtype=bool)
        self._meta: dict[int, tuple[float, bool]] = {}
        #: latest quote by contract name
        self.latest: dict[str, OptionQuote] = {}

    def _classify(self) -> None:
        known = len(self._tradable)
        names = self.symbols.names
        if known == len(names):
            return
        extra = np.zeros(len(names) - known, dtype=bool)
        for i in range(known, len(names)):
            try:
                occ = parse_occ(names[i])
            except InputError:
                continue
            if occ.root == self.root and occ.expiry == self.expiry:
                extra[i - known] = True
                self._meta[i] = (float(occ.strike), occ.is_call)
        self._tradable = np.concatenate([self._tradable, extra])

    def tradable_mask(self, symbol_ids: np.ndarray) -> np.ndarray:
        """True for the rows (symbol ids) of tradable contracts."""
        self._classify()
        return np.asarray(self._tradable[symbol_ids], dtype=bool)

    def apply(self, batch: QuoteColumns, start: int, stop: int) -> None:
        """Take rows ``[start, stop)`` of ``batch`` (arrival order)."""
        if stop <= start:
            return
        self._classify()
        sym = batch.symbol[start:stop]
        keep = self._tradable[sym]
        if not keep.any():
            return
        rows = np.flatnonzero(keep)
        # the last row of each contract in this slice
        rev = rows[::-1]
        ids, first = np.unique(sym[rev], return_index=True)
        names = self.symbols.names
        for sid, j in zip(ids.tolist(), rev[first].tolist(), strict=True):
            i = start + j
            strike, call = self._meta[sid]
            self.latest[names[sid]] = OptionQuote(
                symbol=names[sid], strike=strike, is_call=call, settle_ms=self._settle,
                bid=float(batch.bid[i]), ask=float(batch.ask[i]),
                bid_size=float(batch.bid_size[i]), ask_size=float(batch.ask_size[i]),
                ts_ms=int(batch.ts[i]) // _NS_PER_MS)

    def quotes(self) -> list[OptionQuote]:
        """Every tradable contract's latest quote, by symbol."""
        return [self.latest[k] for k in sorted(self.latest)]

    def tradable_ids(self, names: set[str]) -> np.ndarray:
        """The symbol ids of ``names`` that the table holds (for filtering batches)."""
        self._classify()
        return np.array(sorted(i for i, n in enumerate(self.symbols.names) if n in names),
                        dtype=np.int32)
