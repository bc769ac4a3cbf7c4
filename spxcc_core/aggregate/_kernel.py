"""The compiled single-pass microbar kernel (normative definitions: ``spec/microbar.md``).

One function, :func:`run`, consumes one batch of trades and one batch of quotes (each in arrival
order) and carries **all** state between calls in numpy arrays owned by the caller
(:class:`spxcc_core.aggregate.state.KernelState`):

- per feed, in arrival order: the ``bad_timestamp`` check (``ts < 0``; such an event never
  moves ``max_ts``), the ``late`` check against the symbol's running ``max_ts``, the
  ``duplicate`` check (an open-addressing hash table of recent keys, pruned below the watermark)
  and the validity checks; quarantined events go to the quarantine output;
- accepted events wait in the reorder buffer, per symbol and feed sorted by
  ``(ts, seq, arrival position)``: a doubly linked list of pool slots followed by an *input
  chain*. An event that sorts after everything buffered (the common, in-order case; it cannot
  be a duplicate then) only joins the chain, which links rows of the current batch without
  copying them; any other event first moves the chain into the pool and is inserted there.
  What is left of a chain moves to the pool at the end of each release step, so no chain
  outlives a call;
- an event is applied once no event that can still arrive may sort before it (a trade at ``t``:
  ``t < trade watermark`` and ``t <= quote watermark``; a quote: ``t <`` both), so the order of
  application is ``(ts, feed, seq, arrival)`` whatever the batch boundaries — the stream and batch
  engines therefore agree by construction;
- a bucket is finalised when an applied event falls into a later bucket or when every configured
  feed's watermark reaches its end (or the input has ended); bars go to the bar output. While a
  symbol's events are applied its state lives in local variables (:func:`_release`).

The kernel stops early with a status code when a buffer is full; the caller grows or drains it and
calls again (input offsets are kept in the state), so one call per batch is the common case.

All array layouts are described by the integer constants below (column numbers).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from spxcc_core.aggregate._jit import jit, jit_alloc
from spxcc_core.aggregate.columns import ELIG_CLASSIFY, ELIG_HL, ELIG_OC, ELIG_V

Arr = npt.NDArray[Any]
#: A numba scalar (Python int/float outside the compiled code, numpy scalars inside).
Num = Any

#: "no timestamp yet" (a feed that has not delivered an event: watermark minus infinity).
NONE_TS = -(2**63)
#: Watermark of a feed that is not configured, or of any feed once the input has ended.
INF_TS = 2**63 - 1
#: Events processed between two release steps inside one call (bounds the reorder buffer).
SUB_BATCH = 8192
#: Input chains link rows of one release step only (at most SUB_BATCH consecutive rows per feed),
#: so a row's link lives in slot ``row & CHAIN_MASK`` of a SUB_BATCH-long array.
CHAIN_MASK = SUB_BATCH - 1
#: Micro-unit conversion saturates here so that ``2·P`` and ``B + A`` fit in int64.
MICRO_CAP = 4.6e18

# ---- status codes returned by run() -------------------------------------------------------
ST_DONE = 0
ST_OUT_FULL = 1
ST_QUAR_FULL = 2
ST_GROW_TPOOL = 3
ST_GROW_QPOOL = 4
ST_GROW_THASH = 5
ST_GROW_QHASH = 6
ST_BAD_TSYM = 7     # the batch refers to an id its table does not hold (nothing was consumed)
ST_BAD_QSYM = 8
ST_BAD_TCOND = 9

# ---- quarantine reasons (index into REASONS) ----------------------------------------------
R_LATE = 0
R_NON_FINITE = 1
R_BAD_PRICE = 2
R_BAD_SIZE = 3
R_CORRECTION = 4
R_EMPTY_SIDE = 5
R_CROSSED = 6
R_DUPLICATE = 7
R_BAD_TIMESTAMP = 8  # ts < 0 (before the epoch): checked first, never moves the watermark
REASONS = ("late", "non_finite", "bad_price", "bad_size", "correction", "empty_side",
           "crossed_quote", "duplicate", "bad_timestamp")

# ---- g: global int64 state -----------------------------------------------------------------
G_I_NS = 0          # interval, ns
G_S_NS = 1          # stale_after, ns
G_L_NS = 2          # lateness, ns
G_T_CONF = 3        # trades feed configured (0/1)
G_Q_CONF = 4        # quotes feed configured (0/1)
G_I_MS = 5          # interval, ms
G_TRADES_IN = 6
G_QUOTES_IN = 7
G_APPLIED = 8
G_DUPS = 9
G_BARS = 10
G_T_POS = 11        # arrival counters per feed
G_Q_POS = 12
G_T_FREE = 13       # free pool slots, counting a chained event as holding one (the real free
G_Q_FREE = 14       # stack holds G_T_FREE + G_TC_N slots); the pool is full at 0
G_TH_N = 15         # hash-table entries
G_QH_N = 16
G_N_TOUCHED = 17
G_OUT_BARS = 18     # rows written to the bar output since it was last drained
G_OUT_QUAR = 19     # rows written to the quarantine output since it was last drained
G_TI = 20           # input offsets of the current batch
G_QI = 21
G_SINCE = 22        # events since the last release step
G_NSYM = 23         # symbols in use (rows of si/sf that are initialised)
G_REASON0 = 24      # quarantine counts per reason (9 slots, one per REASONS entry)
G_REL_POS = 33      # release step in progress: next position in the touched list / symbol
G_TC_N = 34         # events waiting in the trade / quote input chains (see S_TC_HEAD)
G_QC_N = 35
G_CHECKED = 36      # the current batch's ids were checked (the caller clears it per batch)
G_SIZE = 37
if G_REASON0 + len(REASONS) > G_REL_POS:  # pragma: no cover - a layout mistake
    raise RuntimeError("the quarantine counters overlap the next global slot")

# ---- si: per-symbol int64 state ----------------------------------------------------------------
S_T_MAX = 0
S_Q_MAX = 1
S_T_HEAD = 2
S_T_TAIL = 3
S_Q_HEAD = 4
S_Q_TAIL = 5
S_HAS_Q = 6         # a valid quote has been applied
S_Q_TS = 7
S_Q_BIDU = 8        # bid / ask of the quote in force in integer micro-units
S_Q_ASKU = 9
S_TICK = 10         # tick-test reference state: 0 none, 1 last only, 2 last and previous differing
S_LASTU = 11
S_PREVU = 12
S_HAS_BKT = 13
S_BKT = 14          # open bucket index k (bucket covers [k·I, (k+1)·I))
S_CURSOR = 15       # time (ns) up to which quote time has been integrated in the open bucket
S_HAS_TRADE = 16    # the open bucket holds a bar-making trade
S_HAS_OC = 17
S_HAS_HL = 18
S_TCOUNT = 19
S_QCOUNT = 20
S_FRESH = 21        # fresh quote time in the open bucket, ns
S_TOUCHED = 22
S_BKT_END = 23      # end (ns) of the open bucket, (k + 1)·I
S_TC_HEAD = 24      # input chains: accepted events of this call that sort after the symbol's
S_TC_TAIL = 25      # pooled ones, linked by input row (-1: empty); moved into the pool at the
S_QC_HEAD = 26      # end of each release step
S_QC_TAIL = 27
S_FRESH2 = 28       # fresh two-sided quote time in the open bucket, ns (weights the spread)
NSI = 29

# ---- sf: per-symbol float64 state ---------------------------------------------------------------
F_BID = 0
F_ASK = 1
F_BSZ = 2
F_ASZ = 3
F_IMB = 4           # (bid_size − ask_size)/(bid_size + ask_size) of the quote in force
F_SPR = 5           # spread in bps of the quote in force (0 when it is one-sided: unused)
F_OPEN = 6
F_HIGH = 7
F_LOW = 8
F_CLOSE = 9
F_VOL = 10
F_PV = 11
F_BUY = 12
F_SELL = 13
F_IMBW = 14         # Σ weight·imbalance (weight = fresh ns)
F_SPRW = 15         # Σ weight·spread (weight = fresh two-sided ns)
NSF = 16

# ---- pools (reorder buffer): int64 columns; float columns are price,size / bid,bsz,ask,asz ----
P_TS = 0
P_SEQ = 1
P_POS = 2
P_LINE = 3
P_NEXT = 4
P_PREV = 5
P_SYM = 6
P_COND = 7
NPI = 8

# ---- duplicate hash tables: int64 columns ---------------------------------------------------
H_SYM1 = 0          # symbol + 1 (0 = empty slot)
H_TS = 1
H_SEQ = 2
H_V0 = 3            # value bit patterns (trade: price, size, cond, correction;
NH = 7              # quote: bid, bid size, ask, ask size)

# ---- bar output ---------------------------------------------------------------------------
B_SYM = 0
B_START_MS = 1
B_TCOUNT = 2
B_QCOUNT = 3
B_FLAGS = 4
NBI = 5
BF_OC = 1           # open/close present
BF_HL = 2           # high/low present
BF_VWAP = 4         # volume > 0
BF_FRESH = 8        # fresh time > 0: imbalance present
BF_CLOSEQ = 16      # fresh quote at close: sizes present
BF_SPREAD = 32      # fresh two-sided time > 0: spread present
BF_RATIO = 64       # fresh quote at close with a bid (bid size > 0): ratio present
O_OPEN = 0
O_HIGH = 1
O_LOW = 2
O_CLOSE = 3
O_VOL = 4
O_VWAP = 5
O_DELTA = 6
O_IMB = 7
O_RATIO = 8
O_COV = 9
O_SPREAD = 10
O_BSZ = 11
O_ASZ = 12
NBF = 13

# ---- quarantine output: kind (0 trade, 1 quote), reason, symbol, ts, seq, line -------------------
Q_KIND = 0
Q_REASON = 1
Q_SYM = 2
Q_TS = 3
Q_SEQ = 4
Q_LINE = 5
NQO = 6

_HL = ELIG_HL
_OC = ELIG_OC
_V = ELIG_V
_CL = ELIG_CLASSIFY
_BAR_BITS = ELIG_HL | ELIG_OC | ELIG_V


@jit
def micro(p: Num) -> Num:
    """``p`` in integer micro-units (``p·10⁶`` rounded to nearest), saturating at ±4.6e18."""
    x = p * 1e6
    if x > MICRO_CAP:
        x = MICRO_CAP
    elif x < -MICRO_CAP:
        x = -MICRO_CAP
    return np.int64(np.rint(x))


@jit
def quote_reason(b: Num, bz: Num, a: Num, az: Num) -> Num:
    """Validity of a quote (spec "Checks"): ``R_NON_FINITE``, ``R_EMPTY_SIDE``, ``R_CROSSED`` or
    -1 (valid). A side is present (price > 0 and size > 0) or absent (price 0 and size 0);
    anything else on a side, or both sides absent, is an empty side; a quote is crossed only
    when both sides are present and ``a < b``."""
    if not (np.isfinite(b) and np.isfinite(bz) and np.isfinite(a) and np.isfinite(az)):
        return R_NON_FINITE
    b_present = b > 0.0 and bz > 0.0
    a_present = a > 0.0 and az > 0.0
    b_absent = b == 0.0 and bz == 0.0
    a_absent = a == 0.0 and az == 0.0
    if not (b_present or b_absent) or not (a_present or a_absent) or (b_absent and a_absent):
        return R_EMPTY_SIDE
    if b_present and a_present and a < b:
        return R_CROSSED
    return -1


@jit
def two_sided(bid: Num, ask: Num) -> Num:
    """True when a valid quote has both sides (an absent side's price is 0)."""
    return bid > 0.0 and ask > 0.0


@jit
def spread_bps(bid: Num, ask: Num) -> Num:
    """``(ask − bid) / ((ask + bid)/2) × 10⁴`` of a two-sided quote; 0.0 (never used) for a
    one-sided one."""
    if not two_sided(bid, ask):
        return 0.0
    return (ask - bid) / ((ask + bid) / 2.0) * 1e4


@jit
def _hash(s: Num, ts: Num, seq: Num, v0: Num, v1: Num, v2: Num, v3: Num) -> Num:
    """64-bit hash of a duplicate key (independent multiplies, then a final mix)."""
    h = (np.int64(s) * np.int64(-7046029254386353131)) ^ (ts * np.int64(-4658895280553007687))
    h ^= (seq * np.int64(-7723592293110705685)) ^ (v0 * np.int64(6620516959819538809))
    h ^= (v1 * np.int64(-3335678366873096957)) ^ (v2 * np.int64(8269184775164389323))
    h ^= v3 * np.int64(-4265267296055464877)
    h ^= h >> 31
    h *= np.int64(-7046029254386353131)
    return h ^ (h >> 29)


@jit
def _seen(tab: Arr, s: Num, ts: Num, seq: Num, v0: Num, v1: Num, v2: Num, v3: Num) -> bool:
    """True when the key is in ``tab``; otherwise inserts it and returns False."""
    mask = tab.shape[0] - 1
    i = _hash(s, ts, seq, v0, v1, v2, v3) & mask
    while True:
        if tab[i, H_SYM1] == 0:
            tab[i, H_SYM1] = s + 1
            tab[i, H_TS] = ts
            tab[i, H_SEQ] = seq
            tab[i, H_V0] = v0
            tab[i, H_V0 + 1] = v1
            tab[i, H_V0 + 2] = v2
            tab[i, H_V0 + 3] = v3
            return False
        if (tab[i, H_SYM1] == s + 1 and tab[i, H_TS] == ts and tab[i, H_SEQ] == seq
                and tab[i, H_V0] == v0 and tab[i, H_V0 + 1] == v1
                and tab[i, H_V0 + 2] == v2 and tab[i, H_V0 + 3] == v3):
            return True
        i = (i + 1) & mask


@jit
def _rehash_into(src: Arr, dst: Arr, si: Arr, max_col: Num, lateness: Num) -> Num:
    """Clear ``dst`` (a power-of-two table) and insert the entries of ``src`` that can still
    match (``ts >= max_ts − lateness`` of their symbol); returns their count."""
    for r in range(dst.shape[0]):
        dst[r, H_SYM1] = 0
    mask = dst.shape[0] - 1
    n = 0
    for r in range(src.shape[0]):
        s1 = src[r, H_SYM1]
        if s1 == 0 or src[r, H_TS] < si[s1 - 1, max_col] - lateness:
            continue
        i = _hash(s1 - 1, src[r, H_TS], src[r, H_SEQ], src[r, H_V0], src[r, H_V0 + 1],
                  src[r, H_V0 + 2], src[r, H_V0 + 3]) & mask
        while dst[i, H_SYM1] != 0:
            i = (i + 1) & mask
        for c in range(NH):
            dst[i, c] = src[r, c]
        n += 1
    return n


@jit_alloc
def rehash(tab: Arr, si: Arr, max_col: Num, lateness: Num, new_cap: Num) -> tuple[Arr, Num]:
    """A table of ``new_cap`` slots (a power of two) holding the entries of ``tab`` that can
    still match, and their count."""
    out = np.zeros((new_cap, NH), dtype=np.int64)
    n = _rehash_into(tab, out, si, max_col, lateness)
    return out, n


@jit
def _prune(tab: Arr, scratch: Arr, si: Arr, max_col: Num, lateness: Num) -> Num:
    """Drop entries that can no longer match, in place (``scratch``: at least as many rows as
    ``tab``); returns the count kept."""
    n = 0
    for r in range(tab.shape[0]):
        s1 = tab[r, H_SYM1]
        if s1 != 0:
            if tab[r, H_TS] >= si[s1 - 1, max_col] - lateness:
                for c in range(NH):
                    scratch[n, c] = tab[r, c]
                n += 1
            tab[r, H_SYM1] = 0
    mask = tab.shape[0] - 1
    for r in range(n):
        i = _hash(scratch[r, H_SYM1] - 1, scratch[r, H_TS], scratch[r, H_SEQ], scratch[r, H_V0],
                  scratch[r, H_V0 + 1], scratch[r, H_V0 + 2], scratch[r, H_V0 + 3]) & mask
        while tab[i, H_SYM1] != 0:
            i = (i + 1) & mask
        for c in range(NH):
            tab[i, c] = scratch[r, c]
    return n


# ---------------------------------------------------------------------------- reorder buffer
@jit
def _find_pos(pi: Arr, pf: Arr, si: Arr, s: Num, tc: Num, ts: Num, seq: Num, cond: Num,
              v0: Num, v1: Num, v2: Num, v3: Num) -> tuple[Num, bool]:
    """Where a new event goes in symbol ``s``'s sorted list, and whether it duplicates a
    buffered one (same ts, seq >= 0, seq, condition set and values).

    Every valid, non-late event whose ts is at or past its feed's watermark is still buffered
    (it is applied only once its ts is below the watermark), so the buffer is exactly the set
    a valid event can duplicate. Returns the slot to insert after (-1: at the head).
    """
    cur: Num = si[s, tc]
    pos: Num = -2
    while cur >= 0:
        cts = pi[cur, P_TS]
        cseq = pi[cur, P_SEQ]
        if cts < ts or (cts == ts and cseq < seq):
            break
        if cts == ts and cseq == seq:
            if pos == -2:
                pos = cur
            if seq < 0:
                break
            if (pi[cur, P_COND] == cond and pf[cur, 0] == v0 and pf[cur, 1] == v1
                    and (pf.shape[1] == 2 or (pf[cur, 2] == v2 and pf[cur, 3] == v3))):
                return cur, True
        cur = pi[cur, P_PREV]
    if pos == -2:
        pos = cur
    return pos, False


@jit
def _insert_after(pi: Arr, si: Arr, s: Num, hc: Num, tc: Num, j: Num, cur: Num) -> None:
    """Link pool slot ``j`` after slot ``cur`` (-1: at the head) of symbol ``s``'s list."""
    if cur < 0:
        nxt = si[s, hc]
        si[s, hc] = j
    else:
        nxt = pi[cur, P_NEXT]
        pi[cur, P_NEXT] = j
    pi[j, P_PREV] = cur
    pi[j, P_NEXT] = nxt
    if nxt < 0:
        si[s, tc] = j
    else:
        pi[nxt, P_PREV] = j


@jit
def _appends(lts: Num, lseq: Num, ts: Num, seq: Num) -> Num:
    """True when an event keyed ``(ts, seq)`` goes after a buffered tail keyed ``(lts, lseq)``
    with no possible duplicate (what :func:`_find_pos` would find in one step)."""
    return ts > lts or (ts == lts and (seq > lseq or (seq == lseq and seq < 0)))


@jit
def _mat_trades(tpi: Arr, tpf: Arr, tfree: Arr, si: Arr, s: Num, vfree: Num, cn: Num,
                tnext: Arr, t_ts: Arr, t_seq: Arr, t_price: Arr, t_size: Arr, t_cond: Arr,
                t_line: Arr, pos_base: Num) -> Num:
    """Move symbol ``s``'s trade input chain to the tail of its pool list (in order); returns
    the new chain count. ``vfree + cn`` is the number of real free slots."""
    c = si[s, S_TC_HEAD]
    while c >= 0:
        cn -= 1
        j = tfree[vfree + cn]
        tpi[j, P_TS] = t_ts[c]
        tpi[j, P_SEQ] = t_seq[c]
        tpi[j, P_POS] = pos_base + c
        tpi[j, P_LINE] = t_line[c]
        tpi[j, P_SYM] = s
        tpi[j, P_COND] = t_cond[c]
        tpf[j, 0] = t_price[c]
        tpf[j, 1] = t_size[c]
        _insert_after(tpi, si, s, S_T_HEAD, S_T_TAIL, j, si[s, S_T_TAIL])
        c = tnext[c & CHAIN_MASK]
    si[s, S_TC_HEAD] = -1
    si[s, S_TC_TAIL] = -1
    return cn


@jit
def _mat_quotes(qpi: Arr, qpf: Arr, qfree: Arr, si: Arr, s: Num, vfree: Num, cn: Num,
                qnext: Arr, q_ts: Arr, q_seq: Arr, q_bid: Arr, q_bsz: Arr, q_ask: Arr,
                q_asz: Arr, q_line: Arr, pos_base: Num) -> Num:
    """:func:`_mat_trades` for quotes."""
    c = si[s, S_QC_HEAD]
    while c >= 0:
        cn -= 1
        j = qfree[vfree + cn]
        qpi[j, P_TS] = q_ts[c]
        qpi[j, P_SEQ] = q_seq[c]
        qpi[j, P_POS] = pos_base + c
        qpi[j, P_LINE] = q_line[c]
        qpi[j, P_SYM] = s
        qpi[j, P_COND] = 0
        qpf[j, 0] = q_bid[c]
        qpf[j, 1] = q_bsz[c]
        qpf[j, 2] = q_ask[c]
        qpf[j, 3] = q_asz[c]
        _insert_after(qpi, si, s, S_Q_HEAD, S_Q_TAIL, j, si[s, S_Q_TAIL])
        c = qnext[c & CHAIN_MASK]
    si[s, S_QC_HEAD] = -1
    si[s, S_QC_TAIL] = -1
    return cn


# ---------------------------------------------------------------------------- buckets
@jit
def _integrate(si: Arr, sf: Arr, s: Num, a: Num, b: Num, stale_ns: Num) -> None:
    """Add the fresh part of ``[a, b)`` under the quote in force to the time weights."""
    if si[s, S_HAS_Q] == 0 or b <= a:
        return
    last_fresh = si[s, S_Q_TS] + stale_ns
    hi = b if b < last_fresh else last_fresh
    w = hi - a
    if w <= 0:
        return
    si[s, S_FRESH] += w
    wf = float(w)
    sf[s, F_IMBW] += wf * sf[s, F_IMB]
    if two_sided(sf[s, F_BID], sf[s, F_ASK]):
        si[s, S_FRESH2] += w
        sf[s, F_SPRW] += wf * sf[s, F_SPR]


@jit
def _finalize(g: Arr, si: Arr, sf: Arr, s: Num, boi: Arr, bof: Arr) -> None:
    """Close symbol ``s``'s open bucket; emit its bar when it holds a bar-making trade."""
    i_ns = g[G_I_NS]
    stale_ns = g[G_S_NS]
    k = si[s, S_BKT]
    end = (k + 1) * i_ns
    _integrate(si, sf, s, si[s, S_CURSOR], end, stale_ns)
    si[s, S_CURSOR] = end
    si[s, S_HAS_BKT] = 0
    if si[s, S_HAS_TRADE] == 0:
        return
    n = g[G_OUT_BARS]
    g[G_OUT_BARS] = n + 1
    g[G_BARS] += 1
    flags = 0
    for c in range(NBF):
        bof[n, c] = 0.0
    if si[s, S_HAS_OC]:
        flags |= BF_OC
        bof[n, O_OPEN] = sf[s, F_OPEN]
        bof[n, O_CLOSE] = sf[s, F_CLOSE]
    if si[s, S_HAS_HL]:
        flags |= BF_HL
        bof[n, O_HIGH] = sf[s, F_HIGH]
        bof[n, O_LOW] = sf[s, F_LOW]
    vol = sf[s, F_VOL]
    bof[n, O_VOL] = vol
    if si[s, S_TCOUNT] > 0:
        flags |= BF_VWAP
        bof[n, O_VWAP] = sf[s, F_PV] / vol
    bof[n, O_DELTA] = sf[s, F_BUY] - sf[s, F_SELL]
    fresh = si[s, S_FRESH]
    bof[n, O_COV] = 100.0 * float(fresh) / float(i_ns)
    if fresh > 0:
        flags |= BF_FRESH
        imb = sf[s, F_IMBW] / float(fresh)
        if imb > 1.0:
            imb = 1.0
        elif imb < -1.0:
            imb = -1.0
        bof[n, O_IMB] = imb
    fresh2 = si[s, S_FRESH2]
    if fresh2 > 0:
        flags |= BF_SPREAD
        bof[n, O_SPREAD] = sf[s, F_SPRW] / float(fresh2)
    if si[s, S_HAS_Q] and end - si[s, S_Q_TS] <= stale_ns:
        flags |= BF_CLOSEQ
        bof[n, O_BSZ] = sf[s, F_BSZ]
        bof[n, O_ASZ] = sf[s, F_ASZ]
        if sf[s, F_BSZ] > 0.0:
            flags |= BF_RATIO
            bof[n, O_RATIO] = sf[s, F_ASZ] / sf[s, F_BSZ]
    boi[n, B_SYM] = s
    boi[n, B_START_MS] = k * g[G_I_MS]
    boi[n, B_TCOUNT] = si[s, S_TCOUNT]
    boi[n, B_QCOUNT] = si[s, S_QCOUNT]
    boi[n, B_FLAGS] = flags


@jit
def _watermarks(g: Arr, si: Arr, s: Num, closing: bool) -> tuple[Num, Num]:
    if closing:
        return INF_TS, INF_TS
    lateness = g[G_L_NS]
    wt = INF_TS
    if g[G_T_CONF]:
        mt = si[s, S_T_MAX]
        wt = NONE_TS if mt == NONE_TS else mt - lateness
    wq = INF_TS
    if g[G_Q_CONF]:
        mq = si[s, S_Q_MAX]
        wq = NONE_TS if mq == NONE_TS else mq - lateness
    return wt, wq


@jit
def _save(si: Arr, sf: Arr, s: Num, has_q: Num, q_ts: Num, q_bidu: Num, q_asku: Num, tick: Num,
          lastu: Num, prevu: Num, has_bkt: Num, bkt: Num, bkt_end: Num, cursor: Num,
          has_trade: Num, has_oc: Num, has_hl: Num, tcount: Num, qcount: Num, fresh: Num,
          fresh2: Num, bid: Num, ask: Num, bsz: Num, asz: Num, imb: Num, spr: Num, o: Num,
          hi: Num, lo: Num, c: Num, vol: Num, pv: Num, buy: Num, sell: Num, imbw: Num,
          sprw: Num) -> None:
    """Write symbol ``s``'s state held in locals by :func:`_release` back to ``si``/``sf``."""
    si[s, S_HAS_Q] = has_q
    si[s, S_Q_TS] = q_ts
    si[s, S_Q_BIDU] = q_bidu
    si[s, S_Q_ASKU] = q_asku
    si[s, S_TICK] = tick
    si[s, S_LASTU] = lastu
    si[s, S_PREVU] = prevu
    si[s, S_HAS_BKT] = has_bkt
    si[s, S_BKT] = bkt
    si[s, S_BKT_END] = bkt_end
    si[s, S_CURSOR] = cursor
    si[s, S_HAS_TRADE] = has_trade
    si[s, S_HAS_OC] = has_oc
    si[s, S_HAS_HL] = has_hl
    si[s, S_TCOUNT] = tcount
    si[s, S_QCOUNT] = qcount
    si[s, S_FRESH] = fresh
    si[s, S_FRESH2] = fresh2
    sf[s, F_BID] = bid
    sf[s, F_ASK] = ask
    sf[s, F_BSZ] = bsz
    sf[s, F_ASZ] = asz
    sf[s, F_IMB] = imb
    sf[s, F_SPR] = spr
    sf[s, F_OPEN] = o
    sf[s, F_HIGH] = hi
    sf[s, F_LOW] = lo
    sf[s, F_CLOSE] = c
    sf[s, F_VOL] = vol
    sf[s, F_PV] = pv
    sf[s, F_BUY] = buy
    sf[s, F_SELL] = sell
    sf[s, F_IMBW] = imbw
    sf[s, F_SPRW] = sprw


@jit
def _release(g: Arr, si: Arr, sf: Arr, s: Num, closing: bool, tpi: Arr, tpf: Arr, tfree: Arr,
             qpi: Arr, qpf: Arr, qfree: Arr, cflags: Arr, ccount: Arr, boi: Arr,
             bof: Arr, tnext: Arr, qnext: Arr, t_ts: Arr, t_seq: Arr, t_price: Arr,
             t_size: Arr, t_cond: Arr, t_line: Arr, qa_ts: Arr, q_seq: Arr, q_bid: Arr,
             q_bsz: Arr, q_ask: Arr, q_asz: Arr, q_line: Arr) -> bool:
    """Apply symbol ``s``'s buffered events that are safe, in order; finalise a final bucket.

    Each feed's buffer is the symbol's pool list followed by its input chain. The symbol's state
    is held in locals while events are applied (written back before a bar is finalised and on
    return); what is left of the input chains then moves to the pool. Returns False when the
    bar output filled up first (call again after draining it)."""
    wt, wq = _watermarks(g, si, s, closing)
    i_ns = g[G_I_NS]
    stale_ns = g[G_S_NS]
    nbo = boi.shape[0]
    th = si[s, S_T_HEAD]
    qh = si[s, S_Q_HEAD]
    tch = si[s, S_TC_HEAD]
    qch = si[s, S_QC_HEAD]
    tfc = g[G_T_FREE]
    qfc = g[G_Q_FREE]
    tcn = g[G_TC_N]
    qcn = g[G_QC_N]
    applied = 0
    has_q = si[s, S_HAS_Q]
    q_ts = si[s, S_Q_TS]
    q_bidu = si[s, S_Q_BIDU]
    q_asku = si[s, S_Q_ASKU]
    tick = si[s, S_TICK]
    lastu = si[s, S_LASTU]
    prevu = si[s, S_PREVU]
    has_bkt = si[s, S_HAS_BKT]
    bkt = si[s, S_BKT]
    bkt_end = si[s, S_BKT_END]
    cursor = si[s, S_CURSOR]
    has_trade = si[s, S_HAS_TRADE]
    has_oc = si[s, S_HAS_OC]
    has_hl = si[s, S_HAS_HL]
    tcount = si[s, S_TCOUNT]
    qcount = si[s, S_QCOUNT]
    fresh = si[s, S_FRESH]
    fresh2 = si[s, S_FRESH2]
    bid = sf[s, F_BID]
    ask = sf[s, F_ASK]
    bsz = sf[s, F_BSZ]
    asz = sf[s, F_ASZ]
    imb = sf[s, F_IMB]
    spr = sf[s, F_SPR]
    o = sf[s, F_OPEN]
    hi = sf[s, F_HIGH]
    lo = sf[s, F_LOW]
    c = sf[s, F_CLOSE]
    vol = sf[s, F_VOL]
    pv = sf[s, F_PV]
    buy = sf[s, F_BUY]
    sell = sf[s, F_SELL]
    imbw = sf[s, F_IMBW]
    sprw = sf[s, F_SPRW]
    lazy_u = False
    lazy_m = False
    full = False
    while True:
        has_t = th >= 0 or tch >= 0
        has_qq = qh >= 0 or qch >= 0
        tt = 0
        qt = 0
        if has_t:
            tt = tpi[th, P_TS] if th >= 0 else t_ts[tch]
        if has_qq:
            qt = qpi[qh, P_TS] if qh >= 0 else qa_ts[qch]
        if has_t and (not has_qq or tt <= qt):
            t = tt
            if not (t < wt and t <= wq):
                break
            is_trade = True
        elif has_qq:
            t = qt
            if not (t < wt and t < wq):
                break
            is_trade = False
        else:
            break
        if has_bkt == 0 or t >= bkt_end:  # applied in ts order: t >= the open bucket's start
            if has_bkt:
                if nbo - g[G_OUT_BARS] < 1:
                    full = True
                    break
                if lazy_u:
                    q_bidu = micro(bid)
                    q_asku = micro(ask)
                    lazy_u = False
                if lazy_m:
                    imb = (bsz - asz) / (bsz + asz)
                    spr = spread_bps(bid, ask)
                    lazy_m = False
                _save(si, sf, s, has_q, q_ts, q_bidu, q_asku, tick, lastu, prevu, has_bkt, bkt,
                      bkt_end, cursor, has_trade, has_oc, has_hl, tcount, qcount, fresh, fresh2,
                      bid, ask, bsz, asz, imb, spr, o, hi, lo, c, vol, pv, buy, sell, imbw, sprw)
                _finalize(g, si, sf, s, boi, bof)
            bkt = t // i_ns
            bkt_end = (bkt + 1) * i_ns
            cursor = bkt * i_ns
            has_bkt = 1
            has_trade = 0
            has_oc = 0
            has_hl = 0
            tcount = 0
            qcount = 0
            fresh = 0
            fresh2 = 0
            o = 0.0
            hi = 0.0
            lo = 0.0
            c = 0.0
            vol = 0.0
            pv = 0.0
            buy = 0.0
            sell = 0.0
            imbw = 0.0
            sprw = 0.0
        applied += 1
        if is_trade:
            if th >= 0:
                price = tpf[th, 0]
                size = tpf[th, 1]
                cond = tpi[th, P_COND]
            else:
                price = t_price[tch]
                size = t_size[tch]
                cond = np.int64(t_cond[tch])
            ccount[cond] += 1
            fl = np.int64(cflags[cond])
            if fl & _BAR_BITS:
                has_trade = 1
            if fl & _HL:
                if has_hl == 0:
                    has_hl = 1
                    hi = price
                    lo = price
                else:
                    if price > hi:
                        hi = price
                    if price < lo:
                        lo = price
            if fl & _OC:
                if has_oc == 0:
                    has_oc = 1
                    o = price
                c = price
            if fl & _V:
                vol += size
                pv += price * size
                tcount += 1
                if fl & _CL:
                    pm = micro(price)
                    side = 0
                    if has_q and t - q_ts <= stale_ns and two_sided(bid, ask):
                        if lazy_u:
                            q_bidu = micro(bid)
                            q_asku = micro(ask)
                            lazy_u = False
                        lhs = 2 * pm
                        rhs = q_bidu + q_asku
                        if lhs > rhs:
                            side = 1
                        elif lhs < rhs:
                            side = -1
                    if side == 0:
                        ref = pm
                        if tick >= 1 and lastu != pm:
                            ref = lastu
                        elif tick == 2:
                            ref = prevu
                        if pm > ref:
                            side = 1
                        elif pm < ref:
                            side = -1
                    if side > 0:
                        buy += size
                    elif side < 0:
                        sell += size
                    if tick == 0:
                        tick = 1
                        lastu = pm
                    elif lastu != pm:
                        tick = 2
                        prevu = lastu
                        lastu = pm
            tfc += 1
            if th >= 0:
                nxt = tpi[th, P_NEXT]
                tfree[tfc - 1 + tcn] = th
                th = nxt
                if nxt >= 0:
                    tpi[nxt, P_PREV] = -1
            else:
                tch = tnext[tch & CHAIN_MASK]
                tcn -= 1
        else:
            if has_q and t > cursor:
                last_fresh = q_ts + stale_ns
                hi_t = t if t < last_fresh else last_fresh
                w = hi_t - cursor
                if w > 0:
                    if lazy_m:
                        imb = (bsz - asz) / (bsz + asz)
                        spr = spread_bps(bid, ask)
                        lazy_m = False
                    fresh += w
                    wf = float(w)
                    imbw += wf * imb
                    if two_sided(bid, ask):
                        fresh2 += w
                        sprw += wf * spr
            cursor = t
            if qh >= 0:
                bid = qpf[qh, 0]
                bsz = qpf[qh, 1]
                ask = qpf[qh, 2]
                asz = qpf[qh, 3]
            else:
                bid = q_bid[qch]
                bsz = q_bsz[qch]
                ask = q_ask[qch]
                asz = q_asz[qch]
            if bsz == 0.0:  # an absent side is 0 × 0 (held as +0.0 whatever the input's sign)
                bid = 0.0
                bsz = 0.0
            if asz == 0.0:
                ask = 0.0
                asz = 0.0
            has_q = 1
            q_ts = t
            lazy_u = True  # micro-unit prices, imbalance and spread: computed when first used
            lazy_m = True
            qcount += 1
            qfc += 1
            if qh >= 0:
                nxt = qpi[qh, P_NEXT]
                qfree[qfc - 1 + qcn] = qh
                qh = nxt
                if nxt >= 0:
                    qpi[nxt, P_PREV] = -1
            else:
                qch = qnext[qch & CHAIN_MASK]
                qcn -= 1
    if lazy_u:
        q_bidu = micro(bid)
        q_asku = micro(ask)
    if lazy_m:
        imb = (bsz - asz) / (bsz + asz)
        spr = spread_bps(bid, ask)
    _save(si, sf, s, has_q, q_ts, q_bidu, q_asku, tick, lastu, prevu, has_bkt, bkt, bkt_end,
          cursor, has_trade, has_oc, has_hl, tcount, qcount, fresh, fresh2, bid, ask, bsz, asz,
          imb, spr, o, hi, lo, c, vol, pv, buy, sell, imbw, sprw)
    si[s, S_T_HEAD] = th
    if th < 0:
        si[s, S_T_TAIL] = -1
    si[s, S_Q_HEAD] = qh
    if qh < 0:
        si[s, S_Q_TAIL] = -1
    si[s, S_TC_HEAD] = tch
    if tch < 0:
        si[s, S_TC_TAIL] = -1
    si[s, S_QC_HEAD] = qch
    if qch < 0:
        si[s, S_QC_TAIL] = -1
    g[G_T_FREE] = tfc
    g[G_Q_FREE] = qfc
    g[G_APPLIED] += applied
    if full:
        g[G_TC_N] = tcn
        g[G_QC_N] = qcn
        return False
    if has_bkt:
        w = wt if wt < wq else wq
        if bkt_end <= w:
            if nbo - g[G_OUT_BARS] < 1:
                g[G_TC_N] = tcn
                g[G_QC_N] = qcn
                return False
            _finalize(g, si, sf, s, boi, bof)
    if tch >= 0:
        tcn = _mat_trades(tpi, tpf, tfree, si, s, tfc, tcn, tnext, t_ts, t_seq, t_price, t_size,
                          t_cond, t_line, g[G_T_POS] - g[G_TI])
    if qch >= 0:
        qcn = _mat_quotes(qpi, qpf, qfree, si, s, qfc, qcn, qnext, qa_ts, q_seq, q_bid, q_bsz,
                          q_ask, q_asz, q_line, g[G_Q_POS] - g[G_QI])
    g[G_TC_N] = tcn
    g[G_QC_N] = qcn
    return True


@jit
def _quarantine(g: Arr, qo: Arr, kind: Num, reason: Num, s: Num, ts: Num, seq: Num,
                line: Num) -> None:
    n = g[G_OUT_QUAR]
    qo[n, Q_KIND] = kind
    qo[n, Q_REASON] = reason
    qo[n, Q_SYM] = s
    qo[n, Q_TS] = ts
    qo[n, Q_SEQ] = seq
    qo[n, Q_LINE] = line
    g[G_OUT_QUAR] = n + 1
    if reason == R_DUPLICATE:
        g[G_DUPS] += 1
    else:
        g[G_REASON0 + reason] += 1


@jit
def _bad_ids(ids: Arr, limit: Num) -> bool:
    """True when an id lies outside ``[0, limit)``."""
    bad = False
    for i in range(ids.shape[0]):
        if ids[i] < 0 or ids[i] >= limit:
            bad = True
            break
    return bad


@jit
def run(g: Arr, si: Arr, sf: Arr, touched: Arr,
        tpi: Arr, tpf: Arr, tfree: Arr, qpi: Arr, qpf: Arr, qfree: Arr,
        thash: Arr, qhash: Arr, tscratch: Arr, qscratch: Arr, cflags: Arr, ccount: Arr,
        boi: Arr, bof: Arr, qo: Arr,
        t_ts: Arr, t_sym: Arr, t_seq: Arr, t_price: Arr, t_size: Arr, t_pbits: Arr,
        t_zbits: Arr, t_cond: Arr, t_corr: Arr, t_line: Arr,
        q_ts: Arr, q_sym: Arr, q_seq: Arr, q_bid: Arr, q_bsz: Arr, q_ask: Arr, q_asz: Arr,
        q_bbits: Arr, q_bzbits: Arr, q_abits: Arr, q_azbits: Arr, q_line: Arr,
        tnext: Arr, qnext: Arr, closing: bool) -> Num:
    """Consume the batch from offsets ``g[G_TI]``/``g[G_QI]``; returns an ``ST_*`` status.

    With ``closing`` the input has ended after this batch: every buffered event is applied and
    every open bucket finalised. A status other than ``ST_DONE`` asks the caller to grow or
    drain the named buffer and call again with the same batch (and the same ``tnext`` /
    ``qnext``, the input-chain links: int64 arrays of ``SUB_BATCH`` slots).
    """
    if g[G_CHECKED] == 0:
        if _bad_ids(t_sym, g[G_NSYM]):
            return ST_BAD_TSYM
        if _bad_ids(q_sym, g[G_NSYM]):
            return ST_BAD_QSYM
        if _bad_ids(t_cond, cflags.shape[0]):
            return ST_BAD_TCOND
        g[G_CHECKED] = 1
    nt = t_ts.shape[0]
    nq = q_ts.shape[0]
    lateness = g[G_L_NS]
    nth = thash.shape[0]
    nqh = qhash.shape[0]
    nqo = qo.shape[0]
    while True:
        ti = g[G_TI]
        qi = g[G_QI]
        done = ti >= nt and qi >= nq
        if done or g[G_SINCE] >= SUB_BATCH:
            final = done and closing  # the input has ended: release every symbol
            if final:
                for r in range(g[G_N_TOUCHED]):
                    si[touched[r], S_TOUCHED] = 0
                g[G_N_TOUCHED] = 0
            nrel = g[G_NSYM] if final else g[G_N_TOUCHED]
            while g[G_REL_POS] < nrel:
                s = g[G_REL_POS] if final else np.int64(touched[g[G_REL_POS]])
                if not _release(g, si, sf, s, final, tpi, tpf, tfree, qpi, qpf, qfree, cflags,
                                ccount, boi, bof, tnext, qnext, t_ts, t_seq, t_price, t_size,
                                t_cond, t_line, q_ts, q_seq, q_bid, q_bsz, q_ask, q_asz, q_line):
                    return ST_OUT_FULL
                si[s, S_TOUCHED] = 0
                g[G_REL_POS] += 1
            g[G_N_TOUCHED] = 0
            g[G_REL_POS] = 0
            g[G_SINCE] = 0
            if done:
                return ST_DONE
        # ---- ingest up to the next release step; counters live in locals meanwhile
        since = g[G_SINCE]
        tfc = g[G_T_FREE]
        qfc = g[G_Q_FREE]
        tc_n = g[G_TC_N]
        qc_n = g[G_QC_N]
        th_n = g[G_TH_N]
        qh_n = g[G_QH_N]
        trades_in = g[G_TRADES_IN]
        quotes_in = g[G_QUOTES_IN]
        t_pos = g[G_T_POS]
        q_pos = g[G_Q_POS]
        n_touched = g[G_N_TOUCHED]
        status = ST_DONE
        while since < SUB_BATCH and (ti < nt or qi < nq):
            if qi >= nq or (ti < nt and t_ts[ti] <= q_ts[qi]):
                if tfc == 0:
                    if since > 0:
                        since = SUB_BATCH
                        break
                    status = ST_GROW_TPOOL
                    break
                if 2 * th_n >= nth:
                    th_n = _prune(thash, tscratch, si, S_T_MAX, lateness)
                    if 4 * th_n >= nth:
                        status = ST_GROW_THASH
                        break
                if g[G_OUT_QUAR] >= nqo:
                    status = ST_QUAR_FULL
                    break
                trades_in += 1
                s = np.int64(t_sym[ti])
                ts = t_ts[ti]
                seq = t_seq[ti]
                if si[s, S_TOUCHED] == 0:
                    si[s, S_TOUCHED] = 1
                    touched[n_touched] = s
                    n_touched += 1
                mx = si[s, S_T_MAX]
                if ts < 0:
                    _quarantine(g, qo, 0, R_BAD_TIMESTAMP, s, ts, seq, t_line[ti])
                elif mx != NONE_TS and ts < mx - lateness:
                    _quarantine(g, qo, 0, R_LATE, s, ts, seq, t_line[ti])
                else:
                    if mx == NONE_TS or ts > mx:
                        si[s, S_T_MAX] = ts
                    p = t_price[ti]
                    z = t_size[ti]
                    cond = np.int64(t_cond[ti])
                    if not (np.isfinite(p) and np.isfinite(z)):
                        reason = R_NON_FINITE
                    elif p <= 0.0:
                        reason = R_BAD_PRICE
                    elif z <= 0.0:
                        reason = R_BAD_SIZE
                    elif t_corr[ti] != 0:
                        reason = R_CORRECTION
                    else:
                        reason = -1
                    if reason >= 0:
                        # an invalid event can only duplicate an invalid one: those live in the
                        # table
                        if seq >= 0 and _seen(thash, s, ts, seq, t_pbits[ti], t_zbits[ti], cond,
                                              np.int64(t_corr[ti])):
                            reason = R_DUPLICATE
                        elif seq >= 0:
                            th_n += 1
                        _quarantine(g, qo, 0, reason, s, ts, seq, t_line[ti])
                    else:
                        ct = si[s, S_TC_TAIL]
                        if ct >= 0:
                            app = _appends(t_ts[ct], t_seq[ct], ts, seq)
                        else:
                            pt = si[s, S_T_TAIL]
                            app = pt < 0 or _appends(tpi[pt, P_TS], tpi[pt, P_SEQ], ts, seq)
                        if app:  # in order: joins the input chain, no copy
                            tfc -= 1
                            tc_n += 1
                            tnext[ti & CHAIN_MASK] = -1
                            if ct >= 0:
                                tnext[ct & CHAIN_MASK] = ti
                            else:
                                si[s, S_TC_HEAD] = ti
                            si[s, S_TC_TAIL] = ti
                            pos, dup = -1, True  # handled
                        else:
                            if ct >= 0:
                                tc_n = _mat_trades(tpi, tpf, tfree, si, s, tfc, tc_n, tnext, t_ts,
                                                   t_seq, t_price, t_size, t_cond, t_line,
                                                   t_pos - ti)
                            pos, dup = _find_pos(tpi, tpf, si, s, S_T_TAIL, ts, seq, cond, p, z,
                                                 0.0, 0.0)
                        if app:
                            pass
                        elif dup:
                            _quarantine(g, qo, 0, R_DUPLICATE, s, ts, seq, t_line[ti])
                        else:
                            tfc -= 1
                            j = tfree[tfc + tc_n]
                            tpi[j, P_TS] = ts
                            tpi[j, P_SEQ] = seq
                            tpi[j, P_POS] = t_pos
                            tpi[j, P_LINE] = t_line[ti]
                            tpi[j, P_SYM] = s
                            tpi[j, P_COND] = cond
                            tpf[j, 0] = p
                            tpf[j, 1] = z
                            _insert_after(tpi, si, s, S_T_HEAD, S_T_TAIL, j, pos)
                t_pos += 1
                ti += 1
            else:
                if qfc == 0:
                    if since > 0:
                        since = SUB_BATCH
                        break
                    status = ST_GROW_QPOOL
                    break
                if 2 * qh_n >= nqh:
                    qh_n = _prune(qhash, qscratch, si, S_Q_MAX, lateness)
                    if 4 * qh_n >= nqh:
                        status = ST_GROW_QHASH
                        break
                if g[G_OUT_QUAR] >= nqo:
                    status = ST_QUAR_FULL
                    break
                quotes_in += 1
                s = np.int64(q_sym[qi])
                ts = q_ts[qi]
                seq = q_seq[qi]
                if si[s, S_TOUCHED] == 0:
                    si[s, S_TOUCHED] = 1
                    touched[n_touched] = s
                    n_touched += 1
                mx = si[s, S_Q_MAX]
                if ts < 0:
                    _quarantine(g, qo, 1, R_BAD_TIMESTAMP, s, ts, seq, q_line[qi])
                elif mx != NONE_TS and ts < mx - lateness:
                    _quarantine(g, qo, 1, R_LATE, s, ts, seq, q_line[qi])
                else:
                    if mx == NONE_TS or ts > mx:
                        si[s, S_Q_MAX] = ts
                    b = q_bid[qi]
                    bz = q_bsz[qi]
                    a = q_ask[qi]
                    az = q_asz[qi]
                    reason = quote_reason(b, bz, a, az)
                    if reason >= 0:
                        if seq >= 0 and _seen(qhash, s, ts, seq, q_bbits[qi], q_bzbits[qi],
                                              q_abits[qi], q_azbits[qi]):
                            reason = R_DUPLICATE
                        elif seq >= 0:
                            qh_n += 1
                        _quarantine(g, qo, 1, reason, s, ts, seq, q_line[qi])
                    else:
                        ct = si[s, S_QC_TAIL]
                        if ct >= 0:
                            app = _appends(q_ts[ct], q_seq[ct], ts, seq)
                        else:
                            pt = si[s, S_Q_TAIL]
                            app = pt < 0 or _appends(qpi[pt, P_TS], qpi[pt, P_SEQ], ts, seq)
                        if app:  # in order: joins the input chain, no copy
                            qfc -= 1
                            qc_n += 1
                            qnext[qi & CHAIN_MASK] = -1
                            if ct >= 0:
                                qnext[ct & CHAIN_MASK] = qi
                            else:
                                si[s, S_QC_HEAD] = qi
                            si[s, S_QC_TAIL] = qi
                            pos, dup = -1, True  # handled
                        else:
                            if ct >= 0:
                                qc_n = _mat_quotes(qpi, qpf, qfree, si, s, qfc, qc_n, qnext, q_ts,
                                                   q_seq, q_bid, q_bsz, q_ask, q_asz, q_line,
                                                   q_pos - qi)
                            pos, dup = _find_pos(qpi, qpf, si, s, S_Q_TAIL, ts, seq, 0, b, bz, a,
                                                 az)
                        if app:
                            pass
                        elif dup:
                            _quarantine(g, qo, 1, R_DUPLICATE, s, ts, seq, q_line[qi])
                        else:
                            qfc -= 1
                            j = qfree[qfc + qc_n]
                            qpi[j, P_TS] = ts
                            qpi[j, P_SEQ] = seq
                            qpi[j, P_POS] = q_pos
                            qpi[j, P_LINE] = q_line[qi]
                            qpi[j, P_SYM] = s
                            qpi[j, P_COND] = 0
                            qpf[j, 0] = b
                            qpf[j, 1] = bz
                            qpf[j, 2] = a
                            qpf[j, 3] = az
                            _insert_after(qpi, si, s, S_Q_HEAD, S_Q_TAIL, j, pos)
                q_pos += 1
                qi += 1
            since += 1
        g[G_TI] = ti
        g[G_QI] = qi
        g[G_SINCE] = since
        g[G_T_FREE] = tfc
        g[G_Q_FREE] = qfc
        g[G_TC_N] = tc_n
        g[G_QC_N] = qc_n
        g[G_TH_N] = th_n
        g[G_QH_N] = qh_n
        g[G_TRADES_IN] = trades_in
        g[G_QUOTES_IN] = quotes_in
        g[G_T_POS] = t_pos
        g[G_Q_POS] = q_pos
        g[G_N_TOUCHED] = n_touched
        if status != ST_DONE:
            return status
