"""The compiled single-pass microbar kernel (normative definitions: ``spec/microbar.md``).

One function, :func:`run`, consumes one batch of trades and one batch of quotes (each in arrival
order) and carries **all** state between calls in numpy arrays owned by the caller
(:class:`spxcc_core.aggregate.state.KernelState`):

- per feed, in arrival order: the ``late`` check against the symbol's running ``max_ts``, the
  ``duplicate`` check (an open-addressing hash table of recent keys, pruned below the watermark)
  and the validity checks; quarantined events go to the quarantine output;
- accepted events wait in a per-symbol, per-feed doubly linked list kept sorted by
  ``(ts, seq, arrival position)`` (the reorder buffer);
- an event is applied once no event that can still arrive may sort before it (a trade at ``t``:
  ``t < trade watermark`` and ``t <= quote watermark``; a quote: ``t <`` both), so the order of
  application is ``(ts, feed, seq, arrival)`` whatever the batch boundaries — the stream and batch
  engines therefore agree by construction;
- a bucket is finalised when an applied event falls into a later bucket or when every configured
  feed's watermark reaches its end (or the input has ended); bars go to the bar output.

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

# ---- quarantine reasons (index into REASONS) ----------------------------------------------
R_LATE = 0
R_NON_FINITE = 1
R_BAD_PRICE = 2
R_BAD_SIZE = 3
R_CORRECTION = 4
R_EMPTY_SIDE = 5
R_CROSSED = 6
R_DUPLICATE = 7
REASONS = ("late", "non_finite", "bad_price", "bad_size", "correction", "empty_side",
           "crossed_quote", "duplicate")

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
G_T_FREE = 13       # free slots on the pool free stacks
G_Q_FREE = 14
G_TH_N = 15         # hash-table entries
G_QH_N = 16
G_N_TOUCHED = 17
G_OUT_BARS = 18     # rows written to the bar output since it was last drained
G_OUT_QUAR = 19     # rows written to the quarantine output since it was last drained
G_TI = 20           # input offsets of the current batch
G_QI = 21
G_SINCE = 22        # events since the last release step
G_NSYM = 23         # symbols in use (rows of si/sf that are initialised)
G_REASON0 = 24      # quarantine counts per reason (8 slots)
G_REL_POS = 32      # release step in progress: next position in the touched list / symbol
G_SIZE = 34

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
NSI = 24

# ---- sf: per-symbol float64 state ---------------------------------------------------------------
F_BID = 0
F_ASK = 1
F_BSZ = 2
F_ASZ = 3
F_IMB = 4           # (bid_size − ask_size)/(bid_size + ask_size) of the quote in force
F_SPR = 5           # spread in bps of the quote in force
F_OPEN = 6
F_HIGH = 7
F_LOW = 8
F_CLOSE = 9
F_VOL = 10
F_PV = 11
F_BUY = 12
F_SELL = 13
F_IMBW = 14         # Σ weight·imbalance (weight = fresh ns)
F_SPRW = 15         # Σ weight·spread
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
BF_FRESH = 8        # fresh time > 0: imbalance and spread present
BF_CLOSEQ = 16      # fresh quote at close: sizes and ratio present
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
def _pop_head(pi: Arr, si: Arr, s: Num, hc: Num, tc: Num, free: Arr, g: Arr, fc: Num) -> None:
    j = si[s, hc]
    nxt = pi[j, P_NEXT]
    si[s, hc] = nxt
    if nxt < 0:
        si[s, tc] = -1
    else:
        pi[nxt, P_PREV] = -1
    free[g[fc]] = j
    g[fc] += 1


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
        bof[n, O_SPREAD] = sf[s, F_SPRW] / float(fresh)
    if si[s, S_HAS_Q] and end - si[s, S_Q_TS] <= stale_ns:
        flags |= BF_CLOSEQ
        bof[n, O_BSZ] = sf[s, F_BSZ]
        bof[n, O_ASZ] = sf[s, F_ASZ]
        bof[n, O_RATIO] = sf[s, F_ASZ] / sf[s, F_BSZ]
    boi[n, B_SYM] = s
    boi[n, B_START_MS] = k * g[G_I_MS]
    boi[n, B_TCOUNT] = si[s, S_TCOUNT]
    boi[n, B_QCOUNT] = si[s, S_QCOUNT]
    boi[n, B_FLAGS] = flags


@jit
def _advance(g: Arr, si: Arr, sf: Arr, s: Num, ts: Num, boi: Arr, bof: Arr) -> None:
    """Make the bucket holding ``ts`` symbol ``s``'s open bucket (finalising an earlier one)."""
    i_ns = g[G_I_NS]
    k = ts // i_ns
    if si[s, S_HAS_BKT]:
        if si[s, S_BKT] == k:
            return
        _finalize(g, si, sf, s, boi, bof)
    si[s, S_HAS_BKT] = 1
    si[s, S_BKT] = k
    si[s, S_CURSOR] = k * i_ns
    si[s, S_HAS_TRADE] = 0
    si[s, S_HAS_OC] = 0
    si[s, S_HAS_HL] = 0
    si[s, S_TCOUNT] = 0
    si[s, S_QCOUNT] = 0
    si[s, S_FRESH] = 0
    for c in range(F_OPEN, NSF):
        sf[s, c] = 0.0


@jit
def _apply_trade(g: Arr, si: Arr, sf: Arr, s: Num, ts: Num, price: Num, size: Num,
                 cond: Num, cflags: Arr, ccount: Arr, boi: Arr, bof: Arr) -> None:
    _advance(g, si, sf, s, ts, boi, bof)
    g[G_APPLIED] += 1
    ccount[cond] += 1
    fl = np.int64(cflags[cond])
    if fl & _BAR_BITS:
        si[s, S_HAS_TRADE] = 1
    if fl & _HL:
        if si[s, S_HAS_HL] == 0:
            si[s, S_HAS_HL] = 1
            sf[s, F_HIGH] = price
            sf[s, F_LOW] = price
        else:
            if price > sf[s, F_HIGH]:
                sf[s, F_HIGH] = price
            if price < sf[s, F_LOW]:
                sf[s, F_LOW] = price
    if fl & _OC:
        if si[s, S_HAS_OC] == 0:
            si[s, S_HAS_OC] = 1
            sf[s, F_OPEN] = price
        sf[s, F_CLOSE] = price
    if fl & _V:
        sf[s, F_VOL] += size
        sf[s, F_PV] += price * size
        si[s, S_TCOUNT] += 1
        if fl & _CL:
            pm = micro(price)
            side = 0
            if si[s, S_HAS_Q] and ts - si[s, S_Q_TS] <= g[G_S_NS]:
                lhs = 2 * pm
                rhs = si[s, S_Q_BIDU] + si[s, S_Q_ASKU]
                if lhs > rhs:
                    side = 1
                elif lhs < rhs:
                    side = -1
            tick = si[s, S_TICK]
            if side == 0:
                ref = pm
                if tick >= 1 and si[s, S_LASTU] != pm:
                    ref = si[s, S_LASTU]
                elif tick == 2:
                    ref = si[s, S_PREVU]
                if pm > ref:
                    side = 1
                elif pm < ref:
                    side = -1
            if side > 0:
                sf[s, F_BUY] += size
            elif side < 0:
                sf[s, F_SELL] += size
            if tick == 0:
                si[s, S_TICK] = 1
                si[s, S_LASTU] = pm
            elif si[s, S_LASTU] != pm:
                si[s, S_TICK] = 2
                si[s, S_PREVU] = si[s, S_LASTU]
                si[s, S_LASTU] = pm


@jit
def _apply_quote(g: Arr, si: Arr, sf: Arr, s: Num, ts: Num, bid: Num, bsz: Num, ask: Num,
                 asz: Num, boi: Arr, bof: Arr) -> None:
    _advance(g, si, sf, s, ts, boi, bof)
    g[G_APPLIED] += 1
    _integrate(si, sf, s, si[s, S_CURSOR], ts, g[G_S_NS])
    si[s, S_CURSOR] = ts
    si[s, S_HAS_Q] = 1
    si[s, S_Q_TS] = ts
    si[s, S_Q_BIDU] = micro(bid)
    si[s, S_Q_ASKU] = micro(ask)
    sf[s, F_BID] = bid
    sf[s, F_ASK] = ask
    sf[s, F_BSZ] = bsz
    sf[s, F_ASZ] = asz
    sf[s, F_IMB] = (bsz - asz) / (bsz + asz)
    sf[s, F_SPR] = (ask - bid) / ((ask + bid) / 2.0) * 1e4
    si[s, S_QCOUNT] += 1


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
def _release(g: Arr, si: Arr, sf: Arr, s: Num, closing: bool, tpi: Arr, tpf: Arr, tfree: Arr,
             qpi: Arr, qpf: Arr, qfree: Arr, cflags: Arr, ccount: Arr, boi: Arr,
             bof: Arr) -> bool:
    """Apply symbol ``s``'s buffered events that are safe, in order; finalise a final bucket.

    Returns False when the bar output filled up first (call again after draining it)."""
    wt, wq = _watermarks(g, si, s, closing)
    while True:
        if boi.shape[0] - g[G_OUT_BARS] < 2:
            return False
        th = si[s, S_T_HEAD]
        qh = si[s, S_Q_HEAD]
        if th >= 0 and (qh < 0 or tpi[th, P_TS] <= qpi[qh, P_TS]):
            t = tpi[th, P_TS]
            if not (t < wt and t <= wq):
                break
            _apply_trade(g, si, sf, s, t, tpf[th, 0], tpf[th, 1], tpi[th, P_COND], cflags,
                         ccount, boi, bof)
            _pop_head(tpi, si, s, S_T_HEAD, S_T_TAIL, tfree, g, G_T_FREE)
        elif qh >= 0:
            t = qpi[qh, P_TS]
            if not (t < wt and t < wq):
                break
            _apply_quote(g, si, sf, s, t, qpf[qh, 0], qpf[qh, 1], qpf[qh, 2], qpf[qh, 3],
                         boi, bof)
            _pop_head(qpi, si, s, S_Q_HEAD, S_Q_TAIL, qfree, g, G_Q_FREE)
        else:
            break
    if si[s, S_HAS_BKT]:
        w = wt if wt < wq else wq
        end = (si[s, S_BKT] + 1) * g[G_I_NS]
        if end <= w:
            _finalize(g, si, sf, s, boi, bof)
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
def _touch(g: Arr, si: Arr, touched: Arr, s: Num) -> None:
    if si[s, S_TOUCHED] == 0:
        si[s, S_TOUCHED] = 1
        touched[g[G_N_TOUCHED]] = s
        g[G_N_TOUCHED] += 1


@jit
def run(g: Arr, si: Arr, sf: Arr, touched: Arr,
        tpi: Arr, tpf: Arr, tfree: Arr, qpi: Arr, qpf: Arr, qfree: Arr,
        thash: Arr, qhash: Arr, tscratch: Arr, qscratch: Arr, cflags: Arr, ccount: Arr,
        boi: Arr, bof: Arr, qo: Arr,
        t_ts: Arr, t_sym: Arr, t_seq: Arr, t_price: Arr, t_size: Arr, t_pbits: Arr,
        t_zbits: Arr, t_cond: Arr, t_corr: Arr, t_line: Arr,
        q_ts: Arr, q_sym: Arr, q_seq: Arr, q_bid: Arr, q_bsz: Arr, q_ask: Arr, q_asz: Arr,
        q_bbits: Arr, q_bzbits: Arr, q_abits: Arr, q_azbits: Arr, q_line: Arr,
        closing: bool) -> Num:
    """Consume the batch from offsets ``g[G_TI]``/``g[G_QI]``; returns an ``ST_*`` status.

    With ``closing`` the input has ended after this batch: every buffered event is applied and
    every open bucket finalised. A status other than ``ST_DONE`` asks the caller to grow or
    drain the named buffer and call again with the same batch.
    """
    nt = t_ts.shape[0]
    nq = q_ts.shape[0]
    lateness = g[G_L_NS]
    while True:
        ti = g[G_TI]
        qi = g[G_QI]
        done = ti >= nt and qi >= nq
        if done or g[G_SINCE] >= SUB_BATCH:
            if done and closing:
                for r in range(g[G_N_TOUCHED]):
                    si[touched[r], S_TOUCHED] = 0
                g[G_N_TOUCHED] = 0
                while g[G_REL_POS] < g[G_NSYM]:
                    if not _release(g, si, sf, g[G_REL_POS], True, tpi, tpf, tfree, qpi, qpf,
                                    qfree, cflags, ccount, boi, bof):
                        return ST_OUT_FULL
                    g[G_REL_POS] += 1
            else:
                while g[G_REL_POS] < g[G_N_TOUCHED]:
                    s = np.int64(touched[g[G_REL_POS]])
                    if not _release(g, si, sf, s, False, tpi, tpf, tfree, qpi, qpf, qfree,
                                    cflags, ccount, boi, bof):
                        return ST_OUT_FULL
                    si[s, S_TOUCHED] = 0
                    g[G_REL_POS] += 1
                g[G_N_TOUCHED] = 0
            g[G_REL_POS] = 0
            g[G_SINCE] = 0
            if done:
                return ST_DONE
        take_trade = qi >= nq or (ti < nt and t_ts[ti] <= q_ts[qi])
        if take_trade:
            if g[G_T_FREE] == 0:
                if g[G_SINCE] > 0:
                    g[G_SINCE] = SUB_BATCH
                    continue
                return ST_GROW_TPOOL
            if 2 * g[G_TH_N] >= thash.shape[0]:
                g[G_TH_N] = _prune(thash, tscratch, si, S_T_MAX, lateness)
                if 4 * g[G_TH_N] >= thash.shape[0]:
                    return ST_GROW_THASH
            if g[G_OUT_QUAR] >= qo.shape[0]:
                return ST_QUAR_FULL
            g[G_TI] = ti + 1
            g[G_TRADES_IN] += 1
            s = np.int64(t_sym[ti])
            ts = t_ts[ti]
            seq = t_seq[ti]
            _touch(g, si, touched, s)
            mx = si[s, S_T_MAX]
            if mx != NONE_TS and ts < mx - lateness:
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
                    # an invalid event can only duplicate an invalid one: those live in the table
                    if seq >= 0 and _seen(thash, s, ts, seq, t_pbits[ti], t_zbits[ti], cond,
                                          np.int64(t_corr[ti])):
                        reason = R_DUPLICATE
                    elif seq >= 0:
                        g[G_TH_N] += 1
                    _quarantine(g, qo, 0, reason, s, ts, seq, t_line[ti])
                else:
                    pos, dup = _find_pos(tpi, tpf, si, s, S_T_TAIL, ts, seq, cond, p, z, 0.0, 0.0)
                    if dup:
                        _quarantine(g, qo, 0, R_DUPLICATE, s, ts, seq, t_line[ti])
                    else:
                        g[G_T_FREE] -= 1
                        j = tfree[g[G_T_FREE]]
                        tpi[j, P_TS] = ts
                        tpi[j, P_SEQ] = seq
                        tpi[j, P_POS] = g[G_T_POS]
                        tpi[j, P_LINE] = t_line[ti]
                        tpi[j, P_SYM] = s
                        tpi[j, P_COND] = cond
                        tpf[j, 0] = p
                        tpf[j, 1] = z
                        _insert_after(tpi, si, s, S_T_HEAD, S_T_TAIL, j, pos)
            g[G_T_POS] += 1
        else:
            if g[G_Q_FREE] == 0:
                if g[G_SINCE] > 0:
                    g[G_SINCE] = SUB_BATCH
                    continue
                return ST_GROW_QPOOL
            if 2 * g[G_QH_N] >= qhash.shape[0]:
                g[G_QH_N] = _prune(qhash, qscratch, si, S_Q_MAX, lateness)
                if 4 * g[G_QH_N] >= qhash.shape[0]:
                    return ST_GROW_QHASH
            if g[G_OUT_QUAR] >= qo.shape[0]:
                return ST_QUAR_FULL
            g[G_QI] = qi + 1
            g[G_QUOTES_IN] += 1
            s = np.int64(q_sym[qi])
            ts = q_ts[qi]
            seq = q_seq[qi]
            _touch(g, si, touched, s)
            mx = si[s, S_Q_MAX]
            if mx != NONE_TS and ts < mx - lateness:
                _quarantine(g, qo, 1, R_LATE, s, ts, seq, q_line[qi])
            else:
                if mx == NONE_TS or ts > mx:
                    si[s, S_Q_MAX] = ts
                b = q_bid[qi]
                bz = q_bsz[qi]
                a = q_ask[qi]
                az = q_asz[qi]
                if not (np.isfinite(b) and np.isfinite(bz) and np.isfinite(a)
                        and np.isfinite(az)):
                    reason = R_NON_FINITE
                elif b <= 0.0 or a <= 0.0 or bz <= 0.0 or az <= 0.0:
                    reason = R_EMPTY_SIDE
                elif a < b:
                    reason = R_CROSSED
                else:
                    reason = -1
                if reason >= 0:
                    if seq >= 0 and _seen(qhash, s, ts, seq, q_bbits[qi], q_bzbits[qi],
                                          q_abits[qi], q_azbits[qi]):
                        reason = R_DUPLICATE
                    elif seq >= 0:
                        g[G_QH_N] += 1
                    _quarantine(g, qo, 1, reason, s, ts, seq, q_line[qi])
                else:
                    pos, dup = _find_pos(qpi, qpf, si, s, S_Q_TAIL, ts, seq, 0, b, bz, a, az)
                    if dup:
                        _quarantine(g, qo, 1, R_DUPLICATE, s, ts, seq, q_line[qi])
                    else:
                        g[G_Q_FREE] -= 1
                        j = qfree[g[G_Q_FREE]]
                        qpi[j, P_TS] = ts
                        qpi[j, P_SEQ] = seq
                        qpi[j, P_POS] = g[G_Q_POS]
                        qpi[j, P_LINE] = q_line[qi]
                        qpi[j, P_SYM] = s
                        qpi[j, P_COND] = 0
                        qpf[j, 0] = b
                        qpf[j, 1] = bz
                        qpf[j, 2] = a
                        qpf[j, 3] = az
                        _insert_after(qpi, si, s, S_Q_HEAD, S_Q_TAIL, j, pos)
            g[G_Q_POS] += 1
        g[G_SINCE] += 1
