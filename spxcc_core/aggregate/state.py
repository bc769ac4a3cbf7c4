"""Kernel state: the numpy arrays the compiled kernel carries between calls, and the call loop.

:class:`KernelState` owns every array of :mod:`spxcc_core.aggregate._kernel`, grows them on the
kernel's request and drains its outputs. Both engines feed batches through :meth:`KernelState.feed`;
nothing else calls the kernel.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from spxcc_core.aggregate import _kernel as K
from spxcc_core.aggregate.columns import ConditionTable, QuoteColumns, SymbolTable, TradeColumns
from spxcc_core.aggregate.config import AggregatorConfig
from spxcc_core.aggregate.report import ReportConfig, RunReport
from spxcc_core.errors import InputError

__all__ = ["BarBlock", "KernelState"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

#: Bars drained from the kernel: int columns (``B_*``) and float columns (``O_*``).
BarBlock = tuple[I64, F64]

_EMPTY_T = TradeColumns.empty()
_EMPTY_Q = QuoteColumns.empty()
_NS_PER_MS = 1_000_000


def _pool(cap: int, nf: int) -> tuple[I64, F64, I64]:
    return (np.zeros((cap, K.NPI), dtype=np.int64), np.zeros((cap, nf), dtype=np.float64),
            np.arange(cap - 1, -1, -1, dtype=np.int64))


#: Kernel status → (input name, id kind) of a batch referring to an id its table lacks.
_BAD_IDS = {K.ST_BAD_TSYM: ("trades", "symbol"), K.ST_BAD_QSYM: ("quotes", "symbol"),
            K.ST_BAD_TCOND: ("trades", "condition-set")}


@attrs.define(eq=False)
class KernelState:
    """All state of one aggregation run (one symbol table, one condition table)."""

    config: AggregatorConfig
    symbols: SymbolTable
    conditions: ConditionTable
    trades_configured: bool
    quotes_configured: bool
    g: I64 = attrs.field(init=False)
    si: I64 = attrs.field(init=False)
    sf: F64 = attrs.field(init=False)
    touched: I64 = attrs.field(init=False)
    tpi: I64 = attrs.field(init=False)
    tpf: F64 = attrs.field(init=False)
    tfree: I64 = attrs.field(init=False)
    qpi: I64 = attrs.field(init=False)
    qpf: F64 = attrs.field(init=False)
    qfree: I64 = attrs.field(init=False)
    thash: I64 = attrs.field(init=False)
    qhash: I64 = attrs.field(init=False)
    tscratch: I64 = attrs.field(init=False)
    qscratch: I64 = attrs.field(init=False)
    tnext: I64 = attrs.field(init=False)
    qnext: I64 = attrs.field(init=False)
    cflags: npt.NDArray[np.uint8] = attrs.field(init=False)
    ccount: I64 = attrs.field(init=False)
    boi: I64 = attrs.field(init=False)
    bof: F64 = attrs.field(init=False)
    qo: I64 = attrs.field(init=False)
    closed: bool = attrs.field(init=False, default=False)

    def __attrs_post_init__(self) -> None:
        c = self.config
        self.g = np.zeros(K.G_SIZE, dtype=np.int64)
        self.g[K.G_I_NS] = c.interval_ms * _NS_PER_MS
        self.g[K.G_S_NS] = c.stale_ms * _NS_PER_MS
        self.g[K.G_L_NS] = c.lateness_ms * _NS_PER_MS
        self.g[K.G_I_MS] = c.interval_ms
        self.g[K.G_T_CONF] = int(self.trades_configured)
        self.g[K.G_Q_CONF] = int(self.quotes_configured)
        self.si = np.zeros((0, K.NSI), dtype=np.int64)
        self.sf = np.zeros((0, K.NSF), dtype=np.float64)
        self.touched = np.zeros(0, dtype=np.int64)
        cap = 2 * K.SUB_BATCH
        self.tpi, self.tpf, self.tfree = _pool(cap, 2)
        self.qpi, self.qpf, self.qfree = _pool(cap, 4)
        self.g[K.G_T_FREE] = cap
        self.g[K.G_Q_FREE] = cap
        self.thash = np.zeros((1 << 14, K.NH), dtype=np.int64)
        self.qhash = np.zeros((1 << 14, K.NH), dtype=np.int64)
        self.tscratch = np.zeros_like(self.thash)
        self.qscratch = np.zeros_like(self.qhash)
        self.tnext = np.zeros(K.SUB_BATCH, dtype=np.int64)
        self.qnext = np.zeros(K.SUB_BATCH, dtype=np.int64)
        self.cflags = np.zeros(0, dtype=np.uint8)
        self.ccount = np.zeros(0, dtype=np.int64)
        self.boi = np.zeros((1024, K.NBI), dtype=np.int64)
        self.bof = np.zeros((1024, K.NBF), dtype=np.float64)
        self.qo = np.zeros((1024, K.NQO), dtype=np.int64)

    # ------------------------------------------------------------------ tables
    def _sync_tables(self) -> None:
        nsym = len(self.symbols)
        have = self.si.shape[0]
        if nsym > have:
            cap = max(nsym, 2 * have, 16)
            si = np.zeros((cap, K.NSI), dtype=np.int64)
            si[:have] = self.si
            si[have:, K.S_T_MAX] = K.NONE_TS
            si[have:, K.S_Q_MAX] = K.NONE_TS
            for col in (K.S_T_HEAD, K.S_T_TAIL, K.S_Q_HEAD, K.S_Q_TAIL, K.S_TC_HEAD,
                        K.S_TC_TAIL, K.S_QC_HEAD, K.S_QC_TAIL):
                si[have:, col] = -1
            sf = np.zeros((cap, K.NSF), dtype=np.float64)
            sf[:have] = self.sf
            touched = np.zeros(cap, dtype=np.int64)
            touched[: len(self.touched)] = self.touched
            self.si, self.sf, self.touched = si, sf, touched
        self.g[K.G_NSYM] = nsym
        ncond = len(self.conditions)
        if ncond != len(self.cflags):
            self.cflags = self.conditions.flags
            ccount = np.zeros(ncond, dtype=np.int64)
            ccount[: len(self.ccount)] = self.ccount
            self.ccount = ccount

    # ------------------------------------------------------------------ growth
    def _grow_pool(self, trades: bool) -> None:
        pi, pf, free = (self.tpi, self.tpf, self.tfree) if trades else (self.qpi, self.qpf,
                                                                        self.qfree)
        fcol = K.G_T_FREE if trades else K.G_Q_FREE
        if self.g[K.G_TC_N if trades else K.G_QC_N]:  # pragma: no cover - kernel invariant
            raise RuntimeError("reorder pool grown while input chains are pending")
        old = pi.shape[0]
        cap = 2 * old
        npi = np.zeros((cap, K.NPI), dtype=np.int64)
        npi[:old] = pi
        npf = np.zeros((cap, pf.shape[1]), dtype=np.float64)
        npf[:old] = pf
        nfree_count = int(self.g[fcol])
        nfree = np.empty(cap, dtype=np.int64)  # room for every slot: all may be freed later
        nfree[: cap - old] = np.arange(cap - 1, old - 1, -1, dtype=np.int64)
        nfree[cap - old: cap - old + nfree_count] = free[:nfree_count]
        self.g[fcol] = cap - old + nfree_count
        if trades:
            self.tpi, self.tpf, self.tfree = npi, npf, nfree
        else:
            self.qpi, self.qpf, self.qfree = npi, npf, nfree

    def _grow_hash(self, trades: bool) -> None:
        tab = self.thash if trades else self.qhash
        col = K.S_T_MAX if trades else K.S_Q_MAX
        cap = tab.shape[0]
        while True:
            cap *= 2
            new, n = K.rehash(tab, self.si, col, int(self.g[K.G_L_NS]), cap)
            if 4 * n < cap:
                break
        if trades:
            self.thash, self.tscratch, self.g[K.G_TH_N] = new, np.zeros_like(new), n
        else:
            self.qhash, self.qscratch, self.g[K.G_QH_N] = new, np.zeros_like(new), n

    # ------------------------------------------------------------------ draining
    def _drain_bars(self, out: list[BarBlock]) -> bool:
        n = int(self.g[K.G_OUT_BARS])
        if n == 0:
            return False
        out.append((self.boi[:n].copy(), self.bof[:n].copy()))
        self.g[K.G_OUT_BARS] = 0
        return True

    def _drain_quarantine(self, out: list[I64]) -> bool:
        n = int(self.g[K.G_OUT_QUAR])
        if n == 0:
            return False
        out.append(self.qo[:n].copy())
        self.g[K.G_OUT_QUAR] = 0
        return True

    # ------------------------------------------------------------------ the call
    def feed(self, trades: TradeColumns | None, quotes: QuoteColumns | None, *,
             closing: bool = False) -> tuple[list[BarBlock], list[I64]]:
        """Run the kernel over one batch per feed (each in arrival order).

        :param closing: the input has ended after this batch: flush every buffered event and
            every open bucket. The state accepts no further batches afterwards.
        :returns: the bars that became final and the quarantine rows, in emission order.
        :raises InputError: a batch refers to a symbol or condition id the tables do not hold.
        """
        if self.closed:
            raise RuntimeError("the aggregation input has already ended")
        t = _EMPTY_T if trades is None else trades
        q = _EMPTY_Q if quotes is None else quotes
        if len(t) and not self.trades_configured:
            raise InputError("trades", "trades given but the trades feed is not configured")
        if len(q) and not self.quotes_configured:
            raise InputError("quotes", "quotes given but the quotes feed is not configured")
        self._sync_tables()
        g = self.g
        g[K.G_TI] = 0
        g[K.G_QI] = 0
        g[K.G_CHECKED] = 0
        bars: list[BarBlock] = []
        quar: list[I64] = []
        t_pb = t.price.view(np.int64)
        t_zb = t.size.view(np.int64)
        q_bb = q.bid.view(np.int64)
        q_bzb = q.bid_size.view(np.int64)
        q_ab = q.ask.view(np.int64)
        q_azb = q.ask_size.view(np.int64)
        while True:
            st = K.run(g, self.si, self.sf, self.touched, self.tpi, self.tpf, self.tfree,
                       self.qpi, self.qpf, self.qfree, self.thash, self.qhash, self.tscratch,
                       self.qscratch, self.cflags,
                       self.ccount, self.boi, self.bof, self.qo,
                       t.ts, t.symbol, t.seq, t.price, t.size, t_pb, t_zb, t.cond,
                       t.correction, t.line,
                       q.ts, q.symbol, q.seq, q.bid, q.bid_size, q.ask, q.ask_size,
                       q_bb, q_bzb, q_ab, q_azb, q.line, self.tnext, self.qnext, closing)
            if st == K.ST_DONE:
                break
            if st == K.ST_OUT_FULL:
                self._drain_bars(bars)
            elif st == K.ST_QUAR_FULL:
                self._drain_quarantine(quar)
            elif st in (K.ST_GROW_TPOOL, K.ST_GROW_QPOOL):
                self._grow_pool(st == K.ST_GROW_TPOOL)
            elif st in (K.ST_GROW_THASH, K.ST_GROW_QHASH):
                self._grow_hash(st == K.ST_GROW_THASH)
            elif st in _BAD_IDS:
                name, what = _BAD_IDS[st]
                limit = len(self.symbols) if what == "symbol" else len(self.conditions)
                raise InputError(name, f"{what} id out of range (table has {limit} entries)")
            else:  # pragma: no cover - the kernel returns only the codes above
                raise RuntimeError(f"aggregation kernel returned unknown status {st}")
        self._drain_bars(bars)
        self._drain_quarantine(quar)
        if closing:
            self.closed = True
        return bars, quar

    # ------------------------------------------------------------------ report
    def report(self, plugin_errors: list[Any] | None = None) -> RunReport:
        """The run report for everything fed so far."""
        g = self.g
        quarantined = {K.REASONS[r]: int(g[K.G_REASON0 + r])
                       for r in range(len(K.REASONS)) if g[K.G_REASON0 + r] > 0}
        unknown: dict[int, int] = {}
        for cid in np.flatnonzero(self.ccount).tolist():
            for cond_id in self.conditions.unknown[cid]:
                unknown[cond_id] = unknown.get(cond_id, 0) + int(self.ccount[cid])
        c = self.config
        trades = int(g[K.G_TRADES_IN])
        quotes = int(g[K.G_QUOTES_IN])
        return RunReport(
            events_in=trades + quotes, trades=trades, quotes=quotes,
            bars_out=int(g[K.G_BARS]), applied=int(g[K.G_APPLIED]),
            quarantined=dict(sorted(quarantined.items())),
            duplicates=int(g[K.G_DUPS]), late=int(g[K.G_REASON0 + K.R_LATE]),
            unknown_conditions={str(k): unknown[k] for k in sorted(unknown)},
            config=ReportConfig(interval_ms=c.interval_ms, stale_ms=c.stale_ms,
                                lateness_ms=c.lateness_ms, ticker=c.ticker),
            plugin_errors=list(plugin_errors or []),
        )
