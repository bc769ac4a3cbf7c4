"""The compiled setup lifecycle (:func:`spxcc_core.setups.batch.track_day`) equals
:class:`~spxcc_core.setups.lifecycle.SetupTracker` driven as the detector runner drives it:
advanced on every later bar of the day, expired at the close on the first bar at or after it
(at the last price before that bar), else at the end of the day's bars. Random days and
setups (hypothesis), every outcome policy; plus a hand-worked day.
"""

from __future__ import annotations

import math

import numpy as np
from daybars import random_day
from hypothesis import given, settings
from hypothesis import strategies as st

from spxcc_core.contracts.microbar import MicrobarV2
from spxcc_core.contracts.setup import SetupInstance
from spxcc_core.detect.columns import BarColumns, day_columns
from spxcc_core.session import get_calendar
from spxcc_core.setups.batch import NONE_MS, STATUSES, track_day
from spxcc_core.setups.lifecycle import OutcomePolicy, SetupTracker

Setup = tuple[int, bool, float, float, float, float, int]  # index, long, entry, stop, t1, t2, deadline


def _reference(day: BarColumns, setups: list[Setup], policy: OutcomePolicy,
               ) -> list[SetupInstance]:
    close_ms = day.day.close_ms
    trackers: list[SetupTracker | None] = [None] * len(setups)
    last: float | None = None
    for i, bar in enumerate(day.bars):
        for tr in trackers:
            if tr is None or tr.closed:
                continue
            if close_ms is not None and bar.start_ms >= close_ms and tr.setup.detected_ms < close_ms:
                tr.expire(close_ms, last)
            else:
                tr.on_bar(bar)
        if bar.close is not None:
            last = bar.close
        for j, (idx, long, entry, stop, t1, t2, deadline) in enumerate(setups):
            if idx == i:
                trackers[j] = SetupTracker(SetupInstance(
                    id=f"s{j}", session_id=day.day.session_id, detector="d", detector_version=1,
                    symbol=day.symbol, direction="long" if long else "short", entry=entry,
                    stop=stop, t1=t1, t2=t2, detected_ms=bar.start_ms,
                    trigger_deadline_ms=deadline), policy)
    out = []
    for tr in trackers:
        assert tr is not None
        if not tr.closed:
            s = tr.setup
            at = close_ms if close_ms is not None and s.detected_ms < close_ms else day.day.day_end_ms
            tr.expire(at, last)
        out.append(tr.setup)
    return out


def _compare(day: BarColumns, setups: list[Setup], policy: OutcomePolicy) -> None:
    want = _reference(day, setups, policy)
    got = track_day(day, policy,
                    detect_index=np.array([s[0] for s in setups], dtype=np.int64),
                    long=np.array([s[1] for s in setups], dtype=np.bool_),
                    entry=np.array([s[2] for s in setups]), stop=np.array([s[3] for s in setups]),
                    t1=np.array([s[4] for s in setups]), t2=np.array([s[5] for s in setups]),
                    deadline_ms=np.array([s[6] for s in setups], dtype=np.int64))

    def opt_ms(v: int) -> int | None:
        return None if v == NONE_MS else v

    def opt_f(v: float) -> float | None:
        return None if math.isnan(v) else v

    for j, w in enumerate(want):
        g = (STATUSES[got.status[j]], opt_ms(int(got.triggered_ms[j])),
             opt_ms(int(got.t1_ms[j])), opt_ms(int(got.closed_ms[j])),
             opt_f(float(got.exit_price[j])), opt_f(float(got.realized_r[j])))
        assert g == (w.status, w.triggered_ms, w.t1_ms, w.closed_ms, w.exit_price,
                     w.realized_r), f"setup {j}: {setups[j]}"


@st.composite
def day_and_setups(draw: st.DrawFn) -> tuple[BarColumns, list[Setup]]:
    days = [d for d in day_columns(random_day(draw(st.integers(0, 2**32 - 1))), get_calendar())
            if len(d) > 2]
    day = days[draw(st.integers(0, len(days) - 1))]
    setups: list[Setup] = []
    for _ in range(draw(st.integers(1, 8))):
        idx = draw(st.integers(0, len(day) - 1))
        bar = day.bars[idx]
        ref = bar.close if bar.close is not None else (day.last_price or 100.0)
        long = draw(st.booleans())
        sign = 1.0 if long else -1.0
        entry = ref * (1.0 + sign * draw(st.floats(-0.001, 0.002)))
        risk = ref * draw(st.floats(0.0001, 0.004))
        t1_r = draw(st.floats(0.3, 2.0))
        t2_r = t1_r + draw(st.floats(0.0, 2.0))
        deadline = bar.start_ms + bar.interval_ms + draw(st.integers(1, 30 * 60)) * 1000
        setups.append((idx, long, entry, entry - sign * risk, entry + sign * t1_r * risk,
                       entry + sign * t2_r * risk, deadline))
    return day, setups


@settings(max_examples=150)
@given(day_and_setups(), st.sampled_from([0.0, 0.25, 0.5, 1.0]), st.booleans())
def test_track_day_equals_the_tracker(case: tuple[BarColumns, list[Setup]], fraction: float,
                                      breakeven: bool) -> None:
    day, setups = case
    _compare(day, setups, OutcomePolicy(t1_fraction=fraction, breakeven_after_t1=breakeven))


def _bar(i: int, o: float, h: float, lo: float, c: float, start: int) -> MicrobarV2:
    return MicrobarV2(symbol="SPY", start_ms=start + i * 1000, interval_ms=1000, open=o, high=h,
                      low=lo, close=c, volume=1.0, trade_count=1, vwap=c, delta_volume=0.0,
                      bid_ask_imbalance=None)


def test_a_hand_worked_day() -> None:
    """Long at 100.00, stop 99.00, T1 101.00, T2 102.00, half at T1, breakeven after:
    bar 1 triggers (high 100.20), bar 2 reaches T1 (101.10), bar 3 comes back to the entry
    (low 99.95 ≤ the breakeven stop 100.00): ½·(+1 R) + ½·(0 R) = +0.5 R, status t1.
    A short at 99.50 (stop 100.50) never trades down to its entry: untriggered at the
    deadline bar (bar 3). Both from bar 0 (10:00 New York)."""
    from daybars import OPEN_MS

    start = OPEN_MS + 30 * 60_000
    bars = [_bar(0, 100.0, 100.0, 99.9, 99.95, start), _bar(1, 99.95, 100.2, 99.9, 100.1, start),
            _bar(2, 100.1, 101.1, 100.05, 101.0, start),
            _bar(3, 101.0, 101.0, 99.95, 100.0, start)]
    (day,) = day_columns(bars, get_calendar())
    out = track_day(day, OutcomePolicy(),
                    detect_index=np.array([0, 0]), long=np.array([True, False]),
                    entry=np.array([100.0, 99.5]), stop=np.array([99.0, 100.5]),
                    t1=np.array([101.0, 98.5]), t2=np.array([102.0, 97.5]),
                    deadline_ms=np.array([start + 60_000, start + 3_000]))
    assert [STATUSES[s] for s in out.status] == ["t1", "untriggered"]
    assert out.triggered_ms.tolist() == [start + 1000, NONE_MS]
    assert out.t1_ms.tolist() == [start + 2000, NONE_MS]
    assert out.closed_ms.tolist() == [start + 3000, start + 3000]
    assert out.exit_price[0] == 100.0 and math.isnan(out.exit_price[1])
    assert out.realized_r[0] == 0.5 and math.isnan(out.realized_r[1])
