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
        # latest quote per symbol id, as columns (ts -1: none yet); OptionQuote objects are
        # made only when asked for
        self._ts = np.full(0, -1, dtype=np.int64)
        self._cols = np.zeros((0, 4), dtype=np.float64)  # bid, bid size, ask, ask size

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
        grow = len(names) - known
        self._ts = np.concatenate([self._ts, np.full(grow, -1, dtype=np.int64)])
        self._cols = np.concatenate([self._cols, np.zeros((grow, 4))])

    def tradable_mask(self, symbol_ids: np.ndarray) -> np.ndarray:
        """True for the rows (symbol ids) of tradable contracts."""
        self._classify()
        return np.asarray(self._tradable[symbol_ids], dtype=bool)

    def apply(self, batch: QuoteColumns, start: int, stop: int) -> None:
        """Take rows ``[start, stop)`` of ``batch`` (arrival order): the last row of each
        tradable contract replaces its quote."""
        if stop <= start:
            return
        self._classify()
        sym = batch.symbol[start:stop]
        last = np.full(len(self._tradable), -1, dtype=np.int64)
        np.maximum.at(last, sym, np.arange(start, stop, dtype=np.int64))
        ids = np.flatnonzero((last >= 0) & self._tradable)
        if not len(ids):
            return
        rows = last[ids]
        self._ts[ids] = batch.ts[rows]
        self._cols[ids, 0] = batch.bid[rows]
        self._cols[ids, 1] = batch.bid_size[rows]
        self._cols[ids, 2] = batch.ask[rows]
        self._cols[ids, 3] = batch.ask_size[rows]

    def _quote(self, sid: int) -> OptionQuote:
        strike, call = self._meta[sid]
        bid, bid_size, ask, ask_size = self._cols[sid].tolist()
        return OptionQuote(symbol=self.symbols.names[sid], strike=strike, is_call=call,
                           settle_ms=self._settle, bid=bid, ask=ask, bid_size=bid_size,
                           ask_size=ask_size, ts_ms=int(self._ts[sid]) // _NS_PER_MS)

    def quotes(self) -> list[OptionQuote]:
        """Every tradable contract's latest quote, by symbol."""
        names = self.symbols.names
        return [self._quote(i) for i in sorted(np.flatnonzero(self._ts >= 0).tolist(),
                                               key=names.__getitem__)]

    def quote(self, name: str) -> OptionQuote | None:
        """The latest quote of contract ``name`` (None when it has none)."""
        names = self.symbols.names
        for i in np.flatnonzero(self._ts >= 0).tolist():
            if names[i] == name:
                return self._quote(i)
        return None

    def tradable_ids(self, names: set[str]) -> np.ndarray:
        """The symbol ids of ``names`` that the table holds (for filtering batches)."""
        self._classify()
        return np.array(sorted(i for i, n in enumerate(self.symbols.names) if n in names),
                        dtype=np.int32)
