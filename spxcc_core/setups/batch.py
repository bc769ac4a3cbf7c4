"""Setup outcomes for many setups of one symbol's day at once, compiled with numba.

:func:`track_day` gives each setup the outcome :class:`~spxcc_core.setups.lifecycle.
SetupTracker` reaches when the detector runner feeds it that day's bars (module docstring of
:mod:`spxcc_core.setups.lifecycle`): it advances on every bar after the detection bar, expires
at the RTH close on the first bar at or after it (for a setup detected before the close, at
the last price before that bar), else at the end of the day's bars (at the close, or at the
day's end for a setup detected after the close, at the day's last price). The arithmetic is
the tracker's, in its order, so ``realized_r`` is equal to the bit
(``tests/test_setup_batch.py``). Only what a trade needs is computed (no gap-aware R).

Importing this module loads numba.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import numpy.typing as npt

from spxcc_core.jit import jit_alloc
from spxcc_core.setups.lifecycle import OutcomePolicy

if TYPE_CHECKING:  # the columns' attributes only: setups does not depend on detect
    from spxcc_core.detect.columns import BarColumns

__all__ = ["NONE_MS", "STATUSES", "DayOutcomes", "track_day"]

#: status codes of :class:`DayOutcomes`
STATUSES: tuple[str, ...] = ("untriggered", "stopped", "expired", "t1", "t2")
_UNTRIGGERED, _STOPPED, _EXPIRED, _T1, _T2 = 0, 1, 2, 3, 4
Arr = npt.NDArray[Any]
Num = Any
_NONE = -(1 << 62)
#: the null of the epoch-ms columns of :class:`DayOutcomes`
NONE_MS = _NONE


@attrs.frozen(eq=False)
class DayOutcomes:
    """Final state of each setup (same order as given): ``status`` (index into
    :data:`STATUSES`), ``triggered_ms``/``t1_ms``/``closed_ms`` (epoch ms; ``-2**62`` for
    null), ``exit_price`` and ``realized_r`` (NaN for null)."""

    status: npt.NDArray[np.int64]
    triggered_ms: npt.NDArray[np.int64]
    t1_ms: npt.NDArray[np.int64]
    closed_ms: npt.NDArray[np.int64]
    exit_price: npt.NDArray[np.float64]
    realized_r: npt.NDArray[np.float64]


@jit_alloc
def _r(price: Num, entry: Num, stop: Num, is_long: Num) -> Num:
    risk = abs(entry - stop)
    signed = price - entry if is_long else entry - price
    return signed / risk


@jit_alloc
def _outcome(exit_price: Num, entry: Num, stop: Num, t1: Num, is_long: Num, t1_hit: Num,
             t1_fraction: Num) -> Num:
    if t1_hit:
        f = t1_fraction
        return f * _r(t1, entry, stop, is_long) + (1.0 - f) * _r(exit_price, entry, stop,
                                                                   is_long)
    return _r(exit_price, entry, stop, is_long)


@jit_alloc
def _track(start_ms: Arr, high: Arr, low: Arr, close: Arr,
           last_price_before: Arr, last_price: Num, has_close: Num, close_ms: Num,
           day_end_ms: Num, detect_index: Arr, is_long: Arr, entry: Arr, stop: Arr, t1: Arr,
           t2: Arr, deadline_ms: Arr, detected_ms: Arr, t1_fraction: Num,
           breakeven_after_t1: Num) -> tuple[Arr, Arr, Arr, Arr, Arr, Arr]:
    m = detect_index.shape[0]
    n = start_ms.shape[0]
    status = np.empty(m, np.int64)
    triggered_out = np.empty(m, np.int64)
    t1_out = np.empty(m, np.int64)
    closed_out = np.empty(m, np.int64)
    exit_out = np.empty(m, np.float64)
    r_out = np.empty(m, np.float64)
    for j in range(m):
        lg = is_long[j]
        en = entry[j]
        sp = stop[j]
        tp1 = t1[j]
        tp2 = t2[j]
        stop_now = sp
        triggered = False
        t1_hit = False
        trig_ms = _NONE
        t1_ms = _NONE
        st = _UNTRIGGERED
        at = _NONE
        exit_price = math.nan
        expire_price = math.nan
        expire = True
        ended = False
        for i in range(detect_index[j] + 1, n):
            start = start_ms[i]
            if has_close and start >= close_ms and detected_ms[j] < close_ms:
                at = close_ms
                expire_price = last_price_before[i]
                ended = True
                break
            c = close[i]
            hi = high[i] if not math.isnan(high[i]) else c
            lo = low[i] if not math.isnan(low[i]) else c
            if not triggered:
                if start >= deadline_ms[j]:
                    expire = False
                    ended = True
                    st = _UNTRIGGERED
                    at = start
                    break
                if math.isnan(hi) or math.isnan(lo):
                    continue
                if not ((hi >= en) if lg else (lo <= en)):
                    continue
                triggered = True
                trig_ms = start
                if (lo <= sp) if lg else (hi >= sp):
                    expire = False
                    ended = True
                    st = _STOPPED
                    at = start
                    exit_price = sp
                    break
                continue
            if math.isnan(hi) or math.isnan(lo):
                continue
            if (lo <= stop_now) if lg else (hi >= stop_now):
                expire = False
                ended = True
                st = _T1 if t1_hit else _STOPPED
                at = start
                exit_price = stop_now
                break
            if (hi >= tp2) if lg else (lo <= tp2):
                if not t1_hit:
                    t1_hit = True
                    t1_ms = start
                expire = False
                ended = True
                st = _T2
                at = start
                exit_price = tp2
                break
            if not t1_hit and ((hi >= tp1) if lg else (lo <= tp1)):
                t1_hit = True
                t1_ms = start
                if t1_fraction >= 1.0:
                    expire = False
                    ended = True
                    st = _T1
                    at = start
                    exit_price = tp1
                    break
                if breakeven_after_t1:
                    stop_now = en
        if not ended:
            at = close_ms if has_close and detected_ms[j] < close_ms else day_end_ms
            expire_price = last_price
        if expire:
            if not triggered:
                st = _UNTRIGGERED
                exit_price = math.nan
            else:
                st = _T1 if t1_hit else _EXPIRED
                exit_price = expire_price
        status[j] = st
        triggered_out[j] = trig_ms
        t1_out[j] = t1_ms
        closed_out[j] = at
        exit_out[j] = exit_price
        if triggered and not math.isnan(exit_price):
            r_out[j] = _outcome(exit_price, en, sp, tp1, lg, t1_hit, t1_fraction)
        else:
            r_out[j] = math.nan
    return status, triggered_out, t1_out, closed_out, exit_out, r_out


def track_day(bars: BarColumns, policy: OutcomePolicy, *, detect_index: npt.NDArray[np.int64],
              long: npt.NDArray[np.bool_], entry: npt.NDArray[np.float64],
              stop: npt.NDArray[np.float64], t1: npt.NDArray[np.float64],
              t2: npt.NDArray[np.float64], deadline_ms: npt.NDArray[np.int64],
              ) -> DayOutcomes:
    """The outcome of each setup detected on ``bars[detect_index[j]]`` (module docstring);
    prices in the instrument's units, ``deadline_ms`` the trigger deadline (epoch ms)."""
    day = bars.day
    has_close = day.close_ms is not None
    detected = bars.start_ms[detect_index] if len(detect_index) else np.empty(0, np.int64)
    out = _track(bars.start_ms, bars.high, bars.low, bars.close,
                 bars.last_price_before, bars.last_price, has_close,
                 day.close_ms if day.close_ms is not None else 0, day.day_end_ms,
                 detect_index, long, entry, stop, t1, t2, deadline_ms, detected,
                 float(policy.t1_fraction), bool(policy.breakeven_after_t1))
    return DayOutcomes(*out)
