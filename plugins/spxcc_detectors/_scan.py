"""The built-in detectors' ``on_bar`` logic over a whole day at once, compiled with numba.

Each kernel is its detector's ``on_bar`` loop written over columns (``spxcc_core.detect.
columns.BarColumns``) with the same state, the same comparisons and the same floating-point
operations in the same order, so its candidates equal ``on_bar``'s to the bit
(``tests/test_detector_scan.py`` checks it on generated days and random parameters). Null
prices are NaN. A kernel returns ``(count, index, long, entry, stop, note)`` in arrays
allocated for the worst case; the note is a code the detector maps to its text.

Importing this module loads numba: the detectors import it from ``scan`` only.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from spxcc_core.jit import jit_alloc

__all__ = ["scan_orb_pullback", "scan_volume_climax", "scan_vwap"]

_FAR = -(1 << 62)
Arr = npt.NDArray[Any]
Num = Any
#: what every kernel returns: (count, index, long, entry, stop, note code)
Hits = tuple[int, Arr, Arr, Arr, Arr, Arr]


@jit_alloc
def _hit_arrays(n: Num) -> tuple[Arr, Arr, Arr, Arr, Arr]:
    """Room for ``n`` hits: index, long, entry, stop, note."""
    return (np.empty(n, np.int64), np.empty(n, np.bool_), np.empty(n, np.float64),
            np.empty(n, np.float64), np.empty(n, np.int64))


@jit_alloc
def scan_volume_climax(in_rth: Arr, volume: Arr, delta_volume: Arr, high: Arr, low: Arr,
                       rth_only: Num, baseline_bars: Num, min_baseline_bars: Num,
                       spike_multiple: Num, min_delta_ratio: Num, entry_offset: Num,
                       min_risk_bps: Num, cooldown_bars: Num) -> Hits:
    """``VolumeClimax.on_bar`` over a day; notes: 0 ``climax_buy``, 1 ``climax_sell``."""
    n = volume.shape[0]
    index, long, entry_out, stop_out, note = _hit_arrays(n)
    k = 0
    window = np.empty(n, np.float64)  # the baseline window is window[left:right]
    left = 0
    right = 0
    total = 0.0
    bar_index = 0
    last_long = _FAR
    last_short = _FAR
    for i in range(n):
        if rth_only and not in_rth[i]:
            continue
        bar_index += 1
        v = volume[i]
        count = right - left
        if (count >= min_baseline_bars and v > 0.0 and not math.isnan(high[i])
                and not math.isnan(low[i]) and v >= spike_multiple * (total / count)):
            ratio = delta_volume[i] / v
            if ratio >= min_delta_ratio:
                if bar_index - last_long > cooldown_bars:
                    entry = high[i] + entry_offset
                    floor = entry - entry * min_risk_bps / 1e4
                    index[k] = i
                    long[k] = True
                    entry_out[k] = entry
                    stop_out[k] = floor if floor < low[i] else low[i]  # min(low, floor)
                    note[k] = 0
                    k += 1
                    last_long = bar_index
            elif -ratio >= min_delta_ratio and bar_index - last_short > cooldown_bars:
                entry = low[i] - entry_offset
                cap = entry + entry * min_risk_bps / 1e4
                index[k] = i
                long[k] = False
                entry_out[k] = entry
                stop_out[k] = cap if cap > high[i] else high[i]  # max(high, cap)
                note[k] = 1
                k += 1
                last_short = bar_index
        window[right] = v
        right += 1
        total += v
        if count + 1 > baseline_bars:
            total -= window[left]
            left += 1
    return k, index, long, entry_out, stop_out, note


@jit_alloc
def scan_vwap(in_rth: Arr, close: Arr, high: Arr, low: Arr, session_vwap: Arr, minute: Arr,
              rth_only: Num, min_bars_beyond: Num, confirm_bps: Num, touch_bps: Num,
              min_rth_minutes: Num, stop_buffer_bps: Num, min_risk_bps: Num,
              cooldown_bars: Num, reclaim: Num, rejection: Num) -> Hits:
    """``VwapReclaimRejection.on_bar`` over a day; notes: 0 ``reclaim``, 1 ``rejection``."""
    n = close.shape[0]
    index, long, entry_out, stop_out, note = _hit_arrays(n)
    k = 0
    side = 0
    bar_index = 0
    last_signal = _FAR
    for i in range(n):
        if rth_only and not in_rth[i]:
            continue
        c = close[i]
        vwap = session_vwap[i]
        if math.isnan(c) or math.isnan(vwap):
            continue
        bar_index += 1
        hi = high[i] if not math.isnan(high[i]) else c
        lo = low[i] if not math.isnan(low[i]) else c
        if minute[i] >= min_rth_minutes and bar_index - last_signal > cooldown_bars:
            found = 0  # 1 long, -1 short
            code = 0
            if side <= -min_bars_beyond:
                if reclaim and c >= vwap * (1.0 + confirm_bps / 1e4):
                    found = 1
                elif rejection and c < vwap and hi >= vwap * (1.0 - touch_bps / 1e4):
                    found = -1
                    code = 1
            elif side >= min_bars_beyond:
                if reclaim and c <= vwap * (1.0 - confirm_bps / 1e4):
                    found = -1
                elif rejection and c > vwap and lo <= vwap * (1.0 + touch_bps / 1e4):
                    found = 1
                    code = 1
            if found == 1:
                base = lo if not (vwap < lo) else vwap  # min(low, vwap)
                stop = base * (1.0 - stop_buffer_bps / 1e4)
                floor = hi * (1.0 - min_risk_bps / 1e4)
                index[k] = i
                long[k] = True
                entry_out[k] = hi
                stop_out[k] = floor if floor < stop else stop  # min(stop, floor)
                note[k] = code
                k += 1
            elif found == -1:
                base = hi if not (vwap > hi) else vwap  # max(high, vwap)
                stop = base * (1.0 + stop_buffer_bps / 1e4)
                cap = lo * (1.0 + min_risk_bps / 1e4)
                index[k] = i
                long[k] = False
                entry_out[k] = lo
                stop_out[k] = cap if cap > stop else stop  # max(stop, cap)
                note[k] = code
                k += 1
            if found != 0:
                last_signal = bar_index
        if c > vwap:
            side = side + 1 if side > 0 else 1
        elif c < vwap:
            side = side - 1 if side < 0 else -1
    return k, index, long, entry_out, stop_out, note


_IDLE, _BROKEN, _EXTENDED, _DONE = 0, 1, 2, 3


@jit_alloc
def scan_orb_pullback(in_rth: Arr, close: Arr, high: Arr, low: Arr, minute: Arr,
                      or_minutes: Num, or_high: Num, or_low: Num, breakout_bps: Num,
                      min_extension_bps: Num, pullback_bps: Num, fail_bps: Num,
                      max_minutes_after_break: Num, stop_buffer_bps: Num, min_risk_bps: Num,
                      signals_per_side: Num, last_entry_minute: Num) -> Hits:
    """``OrbPullback.on_bar`` over a day with its opening range ``or_high``/``or_low`` (both
    non-zero); notes: 0 ``orb_pullback_long``, 1 ``orb_pullback_short``."""
    n = close.shape[0]
    index, long, entry_out, stop_out, note = _hit_arrays(2 * n)  # two sides per bar
    k = 0
    # per side: [long, short]
    state = np.zeros(2, np.int64)
    break_minute = np.zeros(2, np.int64)
    extreme = np.zeros(2, np.float64)
    signals = np.zeros(2, np.int64)
    for i in range(n):
        if not in_rth[i]:
            continue
        c = close[i]
        if math.isnan(c):
            continue
        m = minute[i]
        if m < or_minutes:  # the context has no range yet
            continue
        hi = high[i] if not math.isnan(high[i]) else c
        lo = low[i] if not math.isnan(low[i]) else c
        for s in range(2):
            sign = 1 if s == 0 else -1
            edge = or_high if s == 0 else or_low
            close_bps = sign * (c - edge) / edge * 1e4
            st = state[s]
            if st == _IDLE:
                if close_bps >= breakout_bps and signals[s] < signals_per_side:
                    state[s] = _BROKEN
                    break_minute[s] = m
                    extreme[s] = hi if sign > 0 else lo
                continue
            if st == _DONE:
                if close_bps < 0.0:
                    state[s] = _IDLE
                continue
            if close_bps <= -fail_bps or m - break_minute[s] > max_minutes_after_break:
                state[s] = _DONE if close_bps >= 0.0 else _IDLE
                continue
            if st == _BROKEN:
                if sign > 0:
                    extreme[s] = hi if hi > extreme[s] else extreme[s]  # max(extreme, high)
                else:
                    extreme[s] = lo if lo < extreme[s] else extreme[s]  # min(extreme, low)
                if sign * (extreme[s] - edge) / edge * 1e4 >= min_extension_bps:
                    state[s] = _EXTENDED
                continue
            near = lo if sign > 0 else hi
            if sign * (near - edge) / edge * 1e4 > pullback_bps:
                if sign > 0:
                    extreme[s] = hi if hi > extreme[s] else extreme[s]
                else:
                    extreme[s] = lo if lo < extreme[s] else extreme[s]
                continue
            state[s] = _DONE
            if m >= last_entry_minute:
                continue
            signals[s] += 1
            if sign > 0:
                base = lo if not (edge < lo) else edge  # min(low, edge)
                stop = base * (1.0 - stop_buffer_bps / 1e4)
                floor = hi * (1.0 - min_risk_bps / 1e4)
                entry_out[k] = hi
                stop_out[k] = floor if floor < stop else stop
                long[k] = True
            else:
                base = hi if not (edge > hi) else edge  # max(high, edge)
                stop = base * (1.0 + stop_buffer_bps / 1e4)
                cap = lo * (1.0 + min_risk_bps / 1e4)
                entry_out[k] = lo
                stop_out[k] = cap if cap > stop else stop
                long[k] = False
            index[k] = i
            note[k] = s
            k += 1
    return k, index, long, entry_out, stop_out, note
