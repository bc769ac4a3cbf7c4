"""The built-in detectors' documented rules, hand-worked at their boundaries.

Rules from docs/detectors.md and each detector's module docstring: non-zero cooldowns (counted
in bars; ``volume_climax`` per direction, ``vwap`` across both), the ``volume_climax`` stop
beyond the bar's other end unless the ``min_risk_bps`` floor is further, ``>=`` comparisons at
every threshold, and the ``orb_pullback`` state machine including a breakout failing at exactly
``fail_bps`` (a close that far inside fails, as the parameter table says).

``orb_pullback`` cases use an opening-range edge of 64 and distances in multiples of
``U = 1/128`` (0.0078125): ``U / 64 × 10 000 = 1.220703125`` bps exactly in binary floating
point, so "exactly at the threshold" is exact.
"""

from __future__ import annotations

from typing import Any

import pytest
from prices import px
from spxcc_detectors import (
    OrbPullback,
    OrbPullbackParams,
    VolumeClimax,
    VolumeClimaxParams,
    VwapParams,
    VwapReclaimRejection,
)

from spxcc_core.contracts.microbar import MicrobarV2
from spxcc_core.contracts.setup import SetupCandidate
from spxcc_core.detect.base import Detector, DetectorParams, targets_for
from spxcc_core.detect.context import BarContext
from spxcc_core.session import get_calendar

OPEN = 1_710_163_800_000  # 2024-03-11 09:30 New York (13:30 UTC)
DAY = get_calendar().session("2024-03-11")


def b(sec: int, o: float, h: float, lo: float, c: float, *, vol: float = 100.0,
      delta: float = 0.0, vwap: float | None = None) -> MicrobarV2:
    return MicrobarV2(symbol="SPY", start_ms=OPEN + sec * 1000, interval_ms=1000, open=o,
                      high=h, low=lo, close=c, volume=vol, trade_count=1,
                      vwap=c if vwap is None else vwap, delta_volume=delta,
                      bid_ask_imbalance=0.0, ask_bid_size_ratio=1.0, quote_coverage_pct=100.0,
                      avg_spread_bps=1.0, bid_size_at_close=10.0, ask_size_at_close=10.0,
                      quote_count=1)


def feed(det: Detector[Any], bars: list[MicrobarV2]) -> list[tuple[int, SetupCandidate]]:
    ctx = BarContext("SPY", DAY)
    out: list[tuple[int, SetupCandidate]] = []
    for i, bar in enumerate(bars):
        ctx.advance(bar)
        out += [(i, c) for c in det.on_bar(bar, ctx)]
    return out


def signals(det: Detector[Any], bars: list[MicrobarV2]) -> list[tuple[int, str]]:
    """(bar position, direction) of every candidate."""
    return [(i, c.direction) for i, c in feed(det, bars)]


# == common: targets and the trigger deadline ================================================


def test_targets_are_r_multiples_beyond_the_entry() -> None:
    # 1R = |100.5 − 99.9| = 0.6 → T1 at 1.5R = 101.4, T2 at 3R = 102.3
    t1, t2 = targets_for("long", 100.5, 99.9, 1.5, 3.0)
    assert t1 == px(101.4) and t2 == px(102.3)
    # short: 1R = |99.5 − 100.1| = 0.6 → T1 98.6, T2 97.7
    t1, t2 = targets_for("short", 99.5, 100.1, 1.5, 3.0)
    assert t1 == px(98.6) and t2 == px(97.7)


def test_common_parameter_defaults_and_checks() -> None:
    p = DetectorParams()
    assert (p.t1_r, p.t2_r, p.trigger_window_s, p.rth_only) == (1.0, 2.0, 300.0, True)
    DetectorParams(t1_r=2.0, t2_r=2.0)  # T2 = T1 allowed
    with pytest.raises(ValueError, match=r"'t2_r' \(1.5\) must be >= 't1_r' \(2.0\)"):
        DetectorParams(t1_r=2.0, t2_r=1.5)
    for field in ("t1_r", "t2_r", "trigger_window_s"):
        with pytest.raises(ValueError):
            DetectorParams(**{field: 0.0})  # type: ignore[arg-type]


# == volume_climax =============================================================================


def quiet(sec: int) -> MicrobarV2:
    return b(sec, 100, 100.1, 99.9, 100)  # volume 100


def buy(sec: int) -> MicrobarV2:
    return b(sec, 100, 100.5, 99.9, 100.4, vol=1000.0, delta=800.0)  # 10× a 100 baseline, 80 %


def sell(sec: int) -> MicrobarV2:
    return b(sec, 100, 100.1, 99.5, 99.6, vol=1000.0, delta=-800.0)


def vc(**kw: Any) -> VolumeClimax:
    params = {"baseline_bars": 120, "min_baseline_bars": 3, "min_risk_bps": 0.0,
              "cooldown_bars": 3, **kw}
    return VolumeClimax(VolumeClimaxParams(**params), symbol="SPY")


HISTORY = [quiet(i) for i in range(40)]  # baseline mean stays under 250: 4× < 1000


def test_volume_climax_cooldown_counts_bars_per_direction() -> None:
    # cooldown 3: the 3 bars after a buy signal cannot signal a buy; the 4th can
    blocked = [*HISTORY, buy(40), quiet(41), quiet(42), buy(43)]
    assert signals(vc(), blocked) == [(40, "long")]
    allowed = [*HISTORY, buy(40), quiet(41), quiet(42), quiet(43), buy(44)]
    assert signals(vc(), allowed) == [(40, "long"), (44, "long")]
    back_to_back = [*HISTORY, buy(40), buy(41)]
    assert signals(vc(), back_to_back) == [(40, "long")]
    assert signals(vc(cooldown_bars=0), back_to_back) == [(40, "long"), (41, "long")]


def test_volume_climax_short_cooldown_is_separate() -> None:
    # a sell right after a buy is a new direction: not blocked
    assert signals(vc(), [*HISTORY, buy(40), sell(41)]) == [(40, "long"), (41, "short")]
    sells = [*HISTORY, sell(40), quiet(41), quiet(42), sell(43), sell(44)]
    assert signals(vc(), sells) == [(40, "short"), (44, "short")]


def test_volume_climax_long_stop_at_the_bars_other_end_beyond_the_floor() -> None:
    # entry = high 100.5; the 2 bps floor is 100.5 − 0.0201 = 100.4799; the bar's low 99.9 is
    # further away, so the stop is the low
    [(_, c)] = feed(vc(min_risk_bps=2.0), [*HISTORY, buy(40)])
    assert (c.entry, c.stop) == (100.5, 99.9)
    # a 2-cent bar: low 100.00 is inside the floor 100.02 − 0.020004 = 99.999996
    narrow = b(40, 100, 100.02, 100.0, 100.01, vol=1000.0, delta=800.0)
    [(_, c)] = feed(vc(min_risk_bps=2.0), [*HISTORY, narrow])
    assert c.entry == 100.02 and c.stop == px(99.999996)


def test_volume_climax_short_stop_at_the_bars_other_end_beyond_the_floor() -> None:
    # entry = low 99.5; floor 99.5 + 0.0199 = 99.5199; the high 100.1 is further: the stop
    [(_, c)] = feed(vc(min_risk_bps=2.0), [*HISTORY, sell(40)])
    assert (c.direction, c.entry, c.stop) == ("short", 99.5, 100.1)
    narrow = b(40, 99.985, 99.99, 99.98, 99.985, vol=1000.0, delta=-800.0)
    [(_, c)] = feed(vc(min_risk_bps=2.0), [*HISTORY, narrow])
    # floor 99.98 + 99.98 × 0.0002 = 99.999996 beyond the high 99.99
    assert c.entry == 99.98 and c.stop == px(99.999996)


def test_volume_climax_entry_offset_and_targets() -> None:
    det = vc(entry_offset=0.05, t1_r=1.5, t2_r=3.0, trigger_window_s=2.5)
    [(_, c)] = feed(det, [*HISTORY, buy(40)])
    # entry 100.5 + 0.05 = 100.55, stop = low 99.9, 1R = 0.65: T1 101.525, T2 102.5
    assert c.entry == px(100.55) and c.stop == 99.9
    assert c.t1 == px(101.525) and c.t2 == px(102.5)
    assert c.trigger_deadline_ms == OPEN + 40_000 + 1000 + 2500
    [(_, s)] = feed(vc(entry_offset=0.05), [*HISTORY, sell(40)])
    assert s.entry == px(99.45) and s.stop == 100.1


def test_volume_climax_thresholds_are_inclusive() -> None:
    base = [quiet(0), quiet(1), quiet(2)]  # 3 bars = min_baseline_bars, mean 100
    # 400 = 4 × 100 exactly, delta 240 / 400 = 0.6 exactly: a long
    assert signals(vc(), [*base, b(3, 100, 100.5, 99.9, 100.4, vol=400.0, delta=240.0)]) == \
        [(3, "long")]
    assert signals(vc(), [*base, b(3, 100, 100.1, 99.5, 99.6, vol=400.0, delta=-240.0)]) == \
        [(3, "short")]
    assert signals(vc(), [*base, b(3, 100, 100.5, 99.9, 100.4, vol=399.9, delta=399.9)]) == []
    assert signals(vc(), [*base, b(3, 100, 100.5, 99.9, 100.4, vol=400.0, delta=239.0)]) == []
    assert signals(vc(), [*base, b(3, 100, 100.1, 99.5, 99.6, vol=400.0, delta=-239.0)]) == []
    # 2 bars of history: one short of min_baseline_bars
    assert signals(vc(), [quiet(0), quiet(1), buy(2)]) == []


def test_volume_climax_baseline_is_a_rolling_mean_of_previous_bars() -> None:
    # baseline_bars 3: the 1000-lot bar drops out of the window before bar 4; the window is
    # then 100, 100, 100 (mean 100) and 400 is 4× it
    bars = [b(0, 100, 100.1, 99.9, 100, vol=1000.0), quiet(1), quiet(2), quiet(3),
            b(4, 100, 100.5, 99.9, 100.4, vol=400.0, delta=400.0)]
    assert signals(vc(baseline_bars=3), bars) == [(4, "long")]
    # with a 4-bar window it is still in: mean (1000 + 300) / 4 = 325, 400 < 1300
    assert signals(vc(baseline_bars=4), bars) == []


def test_volume_climax_spike_multiple_and_delta_ratio_are_parameters() -> None:
    base = [quiet(0), quiet(1), quiet(2)]
    spike = b(3, 100, 100.5, 99.9, 100.4, vol=250.0, delta=100.0)  # 2.5× mean, 40 % buys
    assert signals(vc(spike_multiple=2.5, min_delta_ratio=0.4), [*base, spike]) == [(3, "long")]
    assert signals(vc(spike_multiple=2.6, min_delta_ratio=0.4), [*base, spike]) == []
    assert signals(vc(spike_multiple=2.5, min_delta_ratio=0.41), [*base, spike]) == []


def test_volume_climax_rth_only_false_detects_before_the_open() -> None:
    pre = [quiet(-600 + i) for i in range(5)] + [buy(-595)]
    assert signals(vc(), pre) == []
    assert signals(vc(rth_only=False), pre) == [(5, "long")]


def test_volume_climax_documented_defaults() -> None:
    p = VolumeClimaxParams()
    assert (p.baseline_bars, p.min_baseline_bars, p.spike_multiple, p.min_delta_ratio,
            p.entry_offset, p.min_risk_bps, p.cooldown_bars) == (120, 30, 4.0, 0.6, 0.0, 2.0, 60)
    with pytest.raises(ValueError, match=r"'min_baseline_bars' \(6\) must be <= 'baseline_bars'"
                                         r" \(5\)"):
        VolumeClimaxParams(baseline_bars=5, min_baseline_bars=6)
    VolumeClimaxParams(baseline_bars=5, min_baseline_bars=5)
    VolumeClimaxParams(min_delta_ratio=1.0, entry_offset=0.0, cooldown_bars=0, min_risk_bps=0.0)
    for bad in ({"min_delta_ratio": 1.01}, {"min_delta_ratio": 0.0}, {"spike_multiple": 0.0},
                {"cooldown_bars": -1}, {"entry_offset": -0.01}, {"baseline_bars": 0},
                {"min_baseline_bars": 0}, {"min_risk_bps": -1.0}):
        with pytest.raises(ValueError):
            VolumeClimaxParams(**bad)


def test_volume_climax_default_cooldown_is_sixty_bars() -> None:
    bars = [quiet(i) for i in range(30)] + [buy(30)]
    bars += [quiet(31 + i) for i in range(59)] + [buy(90)]       # 60th bar after: blocked
    assert signals(VolumeClimax(VolumeClimaxParams(), symbol="SPY"), bars) == [(30, "long")]
    bars = [*bars[:-1], quiet(90), buy(91)]                       # 61st bar after: allowed
    assert signals(VolumeClimax(VolumeClimaxParams(), symbol="SPY"), bars) == \
        [(30, "long"), (91, "long")]


# == vwap ======================================================================================


def vw(**kw: Any) -> VwapReclaimRejection:
    params = {"min_bars_beyond": 3, "confirm_bps": 0.0, "touch_bps": 0.0, "min_rth_minutes": 0,
              "stop_buffer_bps": 0.0, "min_risk_bps": 0.0, "cooldown_bars": 0, **kw}
    return VwapReclaimRejection(VwapParams(**params), symbol="SPY")


# every bar's own VWAP is 100, so the session VWAP is exactly 100 throughout
def below(sec: int) -> MicrobarV2:
    return b(sec, 99.9, 99.95, 99.85, 99.9, vwap=100.0)


def above(sec: int) -> MicrobarV2:
    return b(sec, 100.1, 100.15, 100.05, 100.1, vwap=100.0)


def test_vwap_reclaim_at_exactly_confirm_bps() -> None:
    # confirm_bps 0: a close exactly at VWAP 100 is a reclaim (">= VWAP × (1 + 0)")
    up = b(3, 99.9, 100.3, 99.95, 100.0, vwap=100.0)
    [(i, c)] = feed(vw(), [below(0), below(1), below(2), up])
    assert (i, c.direction, c.note, c.entry, c.stop) == (3, "long", "reclaim", 100.3, 99.95)
    down = b(3, 100.1, 100.05, 99.7, 100.0, vwap=100.0)
    [(i, c)] = feed(vw(), [above(0), above(1), above(2), down])
    assert (i, c.direction, c.note, c.entry, c.stop) == (3, "short", "reclaim", 99.7, 100.05)
    # one bar short of min_bars_beyond: nothing
    assert feed(vw(), [below(1), below(2), up]) == []
    assert feed(vw(), [above(1), above(2), down]) == []


def test_vwap_reclaim_needs_confirm_bps_beyond() -> None:
    # confirm 10 bps: 100.05 is only 5 bps above VWAP 100 — and it is not a rejection either
    # (it closes above); 100.2 is 20 bps above: a reclaim
    weak = b(3, 99.9, 100.3, 99.95, 100.05, vwap=100.0)
    assert feed(vw(confirm_bps=10.0), [below(0), below(1), below(2), weak]) == []
    strong = b(3, 99.9, 100.3, 99.95, 100.2, vwap=100.0)
    assert signals(vw(confirm_bps=10.0), [below(0), below(1), below(2), strong]) == [(3, "long")]
    weak_down = b(3, 100.1, 100.05, 99.7, 99.95, vwap=100.0)
    assert feed(vw(confirm_bps=10.0), [above(0), above(1), above(2), weak_down]) == []


def test_vwap_rejection_at_exactly_touch_bps() -> None:
    # touch_bps 0: from below, a high exactly at VWAP 100 closing back below is a rejection
    tag = b(3, 99.9, 100.0, 99.8, 99.9, vwap=100.0)
    [(_, c)] = feed(vw(), [below(0), below(1), below(2), tag])
    assert (c.direction, c.note, c.entry, c.stop) == ("short", "rejection", 99.8, 100.0)
    assert feed(vw(), [below(0), below(1), below(2),
                       b(3, 99.9, 99.99, 99.8, 99.9, vwap=100.0)]) == []
    tag_up = b(3, 100.1, 100.2, 100.0, 100.1, vwap=100.0)
    [(_, c)] = feed(vw(), [above(0), above(1), above(2), tag_up])
    assert (c.direction, c.note, c.entry, c.stop) == ("long", "rejection", 100.2, 100.0)
    assert feed(vw(), [above(0), above(1), above(2),
                       b(3, 100.1, 100.2, 100.01, 100.1, vwap=100.0)]) == []


def test_vwap_stop_beyond_bar_and_vwap_with_buffer_and_floor() -> None:
    # rejection from below with touch 5 bps: high 99.96 ≥ 100 × 0.9995; the stop is beyond
    # both the high and VWAP: max(99.96, 100) × (1 + 10 bps) = 100.1
    tag = b(3, 99.9, 99.96, 99.85, 99.9, vwap=100.0)
    [(_, c)] = feed(vw(touch_bps=5.0, stop_buffer_bps=10.0), [below(0), below(1), below(2), tag])
    assert c.entry == 99.85 and c.stop == px(100.1)
    # rejection from above: low 100.04 ≤ 100 × 1.0005; stop min(100.04, 100) × 0.999 = 99.9
    tag_up = b(3, 100.1, 100.2, 100.04, 100.1, vwap=100.0)
    [(_, c)] = feed(vw(touch_bps=5.0, stop_buffer_bps=10.0),
                    [above(0), above(1), above(2), tag_up])
    assert c.entry == 100.2 and c.stop == px(99.9)
    # reclaim long: stop min(low 99.95, 100) × 0.999 = 99.85005; with a 50 bps floor the
    # stop is entry 100.3 × 0.995 = 99.7985 instead
    up = b(3, 99.9, 100.3, 99.95, 100.2, vwap=100.0)
    [(_, c)] = feed(vw(stop_buffer_bps=10.0), [below(0), below(1), below(2), up])
    assert c.stop == px(99.85005)
    [(_, c)] = feed(vw(stop_buffer_bps=10.0, min_risk_bps=50.0),
                    [below(0), below(1), below(2), up])
    assert c.stop == px(99.7985)
    # reclaim short: stop max(high 100.05, 100) × 1.001 = 100.15005; 50 bps floor: 99.7 ×
    # 1.005 = 100.1985
    down = b(3, 100.1, 100.05, 99.7, 99.8, vwap=100.0)
    [(_, c)] = feed(vw(stop_buffer_bps=10.0), [above(0), above(1), above(2), down])
    assert c.stop == px(100.15005)
    [(_, c)] = feed(vw(stop_buffer_bps=10.0, min_risk_bps=50.0),
                    [above(0), above(1), above(2), down])
    assert c.stop == px(100.1985)


def test_vwap_pattern_switches() -> None:
    up = b(3, 99.9, 100.3, 99.95, 100.2, vwap=100.0)
    tag = b(3, 99.9, 100.0, 99.8, 99.9, vwap=100.0)
    assert feed(vw(reclaim=False), [below(0), below(1), below(2), up]) == []
    assert feed(vw(rejection=False), [below(0), below(1), below(2), tag]) == []
    assert len(feed(vw(reclaim=False), [below(0), below(1), below(2), tag])) == 1


def anchor() -> MicrobarV2:
    # a million shares at VWAP 100 pin the session VWAP near 100 for the 1-lot bars after it
    return b(0, 100.2, 100.25, 100.15, 100.2, vol=1e6, vwap=100.0)


def touch(sec: int) -> MicrobarV2:
    # closes above VWAP (≈ 100.00000005 × n), low 100.005 within 1 bps: a rejection long
    return b(sec, 100.05, 100.06, 100.005, 100.05, vol=1.0)


def test_vwap_cooldown_counts_bars_after_any_signal() -> None:
    det = vw(min_bars_beyond=1, touch_bps=1.0, cooldown_bars=2)
    bars = [anchor(), *(touch(s) for s in range(1, 7))]
    # signal at 1; bars 2 and 3 are the 2 bars of cooldown; 4 signals again
    assert signals(det, bars) == [(1, "long"), (4, "long")]
    assert signals(vw(min_bars_beyond=1, touch_bps=1.0), bars) == [(i, "long")
                                                                   for i in range(1, 7)]
    # the cooldown also blocks the other direction: a reclaim short on bar 2 (close 99.9 is
    # 10 bps under VWAP ≈ 100)
    flip = [anchor(), touch(1), b(2, 100.0, 100.01, 99.85, 99.9, vol=1.0)]
    assert signals(vw(min_bars_beyond=1, touch_bps=1.0, confirm_bps=1.0, cooldown_bars=2),
                   flip) == [(1, "long")]
    assert signals(vw(min_bars_beyond=1, touch_bps=1.0, confirm_bps=1.0), flip) == \
        [(1, "long"), (2, "short")]


def test_vwap_no_signal_before_min_rth_minutes() -> None:
    det = vw(min_bars_beyond=1, touch_bps=1.0, min_rth_minutes=5)
    bars = [anchor(), touch(299), touch(300)]  # 09:34:59 (minute 4) and 09:35:00 (minute 5)
    assert signals(det, bars) == [(2, "long")]


def test_vwap_documented_defaults() -> None:
    p = VwapParams()
    assert (p.min_bars_beyond, p.confirm_bps, p.touch_bps, p.min_rth_minutes, p.stop_buffer_bps,
            p.min_risk_bps, p.cooldown_bars, p.reclaim, p.rejection) == (
        30, 1.0, 1.0, 5, 1.0, 2.0, 60, True, True)


def test_vwap_side_count_resets_on_a_cross() -> None:
    # below, below, above, below, below: only 2 consecutive closes below before the reclaim
    up = b(5, 99.9, 100.3, 99.95, 100.2, vwap=100.0)
    assert feed(vw(), [below(0), below(1), above(2), below(3), below(4), up]) == []
    assert len(feed(vw(), [above(0), below(1), below(2), below(3), up])) == 1


# == orb_pullback ==============================================================================

U = 0.0078125           # 1/128; U / 64 × 1e4 = 1.220703125 bps exactly
# a hair smaller than U × 1e-4 (a basis point taken as 1/10001 moves a U-sized level by that)
HAIR = 5e-7
UB = 1.220703125        # one U in bps of the edge 64


def orb(**kw: Any) -> OrbPullback:
    params = {"or_minutes": 1, "breakout_bps": UB, "min_extension_bps": 4 * UB,
              "pullback_bps": UB, "fail_bps": UB, "stop_buffer_bps": 0.0, "min_risk_bps": 0.0,
              **kw}
    return OrbPullback(OrbPullbackParams(**params), symbol="SPY")


# opening range (first minute): high 64, low 63
OR_LONG = [b(0, 63.5, 64.0, 63.0, 63.5), b(30, 63.5, 63.8, 63.2, 63.6)]
BREAK = b(60, 63.9, 64 + U, 63.9, 64 + U)                 # close exactly 1 U above: broken
EXTEND = b(61, 64.01, 64 + 4 * U, 64.01, 64.02)           # high exactly 4 U above: extended
PULLBACK = b(62, 64.02, 64.025, 64 + U, 64.015)           # low exactly 1 U above: pullback


def test_orb_long_every_threshold_is_inclusive() -> None:
    [(i, c)] = feed(orb(), [*OR_LONG, BREAK, EXTEND, PULLBACK])
    # entry at the pullback high 64.025, stop at min(low, edge 64) with no buffer = 64
    assert (i, c.direction, c.note, c.entry, c.stop) == (4, "long", "orb_pullback_long",
                                                         64.025, 64.0)


def test_orb_long_each_threshold_missed_by_a_hair() -> None:
    no_break = b(60, 63.9, 64 + U - HAIR, 63.9, 64 + U - HAIR)
    assert feed(orb(), [*OR_LONG, no_break, EXTEND, PULLBACK]) == []
    no_extension = b(61, 64.01, 64 + 4 * U - HAIR, 64.01, 64.02)
    assert feed(orb(), [*OR_LONG, BREAK, no_extension, PULLBACK]) == []
    no_pullback = b(62, 64.02, 64.025, 64 + U + HAIR, 64.015)
    assert feed(orb(), [*OR_LONG, BREAK, EXTEND, no_pullback]) == []


def test_orb_breakout_fails_at_exactly_fail_bps() -> None:
    # a close exactly 1 U (= fail_bps) back inside ends the attempt; the next bar's close
    # beyond the edge is then a fresh breakout, not a pullback entry
    fail = b(62, 64.0, 64.01, 64 - U, 64 - U)
    after = b(63, 64.01, 64.025, 64 + U, 64.015)
    assert feed(orb(), [*OR_LONG, BREAK, EXTEND, fail, after]) == []
    # half a U inside holds: that bar is the pullback (its low is within pullback_bps)
    hold = b(62, 64.0, 64.01, 64 - U / 2, 64 - U / 2)
    [(i, c)] = feed(orb(), [*OR_LONG, BREAK, EXTEND, hold, after])
    assert (i, c.entry, c.stop) == (4, 64.01, 64 - U / 2)


def test_orb_failed_attempt_needs_a_close_inside_before_rearming() -> None:
    again = [b(63, 64.0, 64.01, 64.0, 64.0),                # close exactly at the edge: not inside
             b(64, 63.9, 64 + U, 63.9, 64 + U), b(65, 64.01, 64 + 4 * U, 64.01, 64.02),
             b(66, 64.02, 64.025, 64 + U, 64.015)]
    got = feed(orb(signals_per_side=2), [*OR_LONG, BREAK, EXTEND, PULLBACK, *again])
    assert [i for i, _ in got] == [4]
    inside = [b(63, 64.0, 64.01, 63.99, 63.99), *again[1:]]  # a close inside re-arms
    got = feed(orb(signals_per_side=2), [*OR_LONG, BREAK, EXTEND, PULLBACK, *inside])
    assert [i for i, _ in got] == [4, 8]


def test_orb_pullback_window_in_minutes_is_inclusive() -> None:
    # break at minute 1; with max_minutes_after_break 2 a pullback in minute 3 still counts,
    # one in minute 4 is too late
    late_ok = b(180, 64.02, 64.025, 64 + U, 64.015)
    assert len(feed(orb(max_minutes_after_break=2), [*OR_LONG, BREAK, EXTEND, late_ok])) == 1
    too_late = b(240, 64.02, 64.025, 64 + U, 64.015)
    assert feed(orb(max_minutes_after_break=2), [*OR_LONG, BREAK, EXTEND, too_late]) == []


def test_orb_no_entry_at_or_after_last_entry_minute() -> None:
    at_limit = b(180, 64.02, 64.025, 64 + U, 64.015)        # minute 3
    assert feed(orb(last_entry_minute=3), [*OR_LONG, BREAK, EXTEND, at_limit]) == []
    before = b(179, 64.02, 64.025, 64 + U, 64.015)          # minute 2
    assert len(feed(orb(last_entry_minute=3), [*OR_LONG, BREAK, EXTEND, before])) == 1


def test_orb_long_stop_buffer_and_floor() -> None:
    # buffer 2 bps under the edge: 64 × 0.9998 = 63.9872; entry 64.025 × (1 − 2 bps) =
    # 64.012195 is nearer, so the buffered edge stays
    [(_, c)] = feed(orb(stop_buffer_bps=2.0, min_risk_bps=2.0),
                    [*OR_LONG, BREAK, EXTEND, PULLBACK])
    assert c.stop == px(63.9872)
    # a 10 bps floor: 64.025 × 0.999 = 63.960975 is further than 63.9872
    [(_, c)] = feed(orb(stop_buffer_bps=2.0, min_risk_bps=10.0),
                    [*OR_LONG, BREAK, EXTEND, PULLBACK])
    assert c.stop == px(63.960975)


# opening range (first minute): high 65, low 64 — the short side breaks below 64
OR_SHORT = [b(0, 64.5, 65.0, 64.0, 64.5), b(30, 64.5, 64.8, 64.2, 64.6)]
S_BREAK = b(60, 64.1, 64.1, 64 - U, 64 - U)
S_EXTEND = b(61, 63.99, 63.99, 64 - 4 * U, 63.98)
S_PULLBACK = b(62, 63.98, 64 - U, 63.975, 63.985)


def test_orb_short_mirrors_long() -> None:
    [(i, c)] = feed(orb(), [*OR_SHORT, S_BREAK, S_EXTEND, S_PULLBACK])
    assert (i, c.direction, c.note, c.entry, c.stop) == (4, "short", "orb_pullback_short",
                                                         63.975, 64.0)
    # buffer 2 bps above the edge: 64 × 1.0002 = 64.0128; floor 63.975 × 1.001 = 64.038975
    [(_, c)] = feed(orb(stop_buffer_bps=2.0, min_risk_bps=10.0),
                    [*OR_SHORT, S_BREAK, S_EXTEND, S_PULLBACK])
    assert c.stop == px(64.038975)
    [(_, c)] = feed(orb(stop_buffer_bps=2.0), [*OR_SHORT, S_BREAK, S_EXTEND, S_PULLBACK])
    assert c.stop == px(64.0128)


def test_orb_short_thresholds_missed_and_fail() -> None:
    assert feed(orb(), [*OR_SHORT, b(60, 64.1, 64.1, 64 - U + HAIR, 64 - U + HAIR),
                        S_EXTEND, S_PULLBACK]) == []
    assert feed(orb(), [*OR_SHORT, S_BREAK, b(61, 63.99, 63.99, 64 - 4 * U + HAIR, 63.98),
                        S_PULLBACK]) == []
    assert feed(orb(), [*OR_SHORT, S_BREAK, S_EXTEND,
                        b(62, 63.98, 64 - U - HAIR, 63.975, 63.985)]) == []
    fail = b(62, 64.0, 64 + U, 63.99, 64 + U)
    after = b(63, 63.99, 64 - U, 63.975, 63.985)
    assert feed(orb(), [*OR_SHORT, S_BREAK, S_EXTEND, fail, after]) == []


def test_orb_nothing_before_the_range_is_known_or_outside_rth() -> None:
    # or_minutes 2: the range is not known at minute 1, so the same bars give nothing
    assert feed(orb(or_minutes=2), [*OR_LONG, BREAK, EXTEND, PULLBACK]) == []
    pre = [b(s - 3600, o, h, lo, c) for s, o, h, lo, c in
           [(0, 63.5, 64.0, 63.0, 63.5), (60, 63.9, 64.01, 63.9, 64.01)]]
    assert feed(orb(), pre) == []


def test_orb_documented_defaults() -> None:
    p = OrbPullbackParams()
    assert (p.or_minutes, p.breakout_bps, p.min_extension_bps, p.pullback_bps, p.fail_bps,
            p.max_minutes_after_break, p.stop_buffer_bps, p.min_risk_bps, p.signals_per_side,
            p.last_entry_minute) == (15, 2.0, 5.0, 2.0, 5.0, 60, 2.0, 2.0, 1, 300)


def test_orb_close_a_hair_less_than_fail_bps_inside_holds() -> None:
    hold = b(62, 64.0, 64.01, 64 - U + HAIR, 64 - U + HAIR)
    [(i, c)] = feed(orb(), [*OR_LONG, BREAK, EXTEND, hold])
    assert (i, c.entry) == (4, 64.01)
    s_hold = b(62, 63.99, 64 + U - HAIR, 63.99, 64 + U - HAIR)
    [(i, c)] = feed(orb(), [*OR_SHORT, S_BREAK, S_EXTEND, s_hold])
    assert (i, c.direction, c.entry) == (4, "short", 63.99)


def test_orb_extension_is_the_extreme_since_the_break() -> None:
    # the breakout bar's own high 64 + 2U plus a later high of 64 + 3U: never 4U beyond
    brk = b(60, 63.9, 64 + 2 * U, 63.9, 64 + U)
    mid = b(61, 64.01, 64 + 3 * U, 64.01, 64.02)
    assert feed(orb(), [*OR_LONG, brk, mid, PULLBACK]) == []
    # a 4U high on the breakout bar itself already counts once the next bar is seen
    brk4 = b(60, 63.9, 64 + 4 * U, 63.9, 64 + U)
    assert len(feed(orb(), [*OR_LONG, brk4, mid, PULLBACK])) == 1


# == the rest of the documented contracts =====================================================


def test_context_provider_keeps_params_symbol_and_starts_without_a_market() -> None:
    from spxcc_core.detect.base import ContextProvider

    class Levels(ContextProvider):
        name = "levels"
        version = 1

        def on_bar(self, bar: MicrobarV2, ctx: BarContext) -> object | None:  # type: ignore[override]
            return None

    params = object()
    p = Levels(params, symbol="SPY")
    assert p.params is params and p.symbol == "SPY" and p.market is None


def test_vwap_first_bar_has_no_side_history() -> None:
    # a rejection-shaped first bar (close above VWAP 100, low within 1 bps) with
    # min_bars_beyond 1: no closes before it, so no signal
    first = b(0, 100.05, 100.06, 100.005, 100.05, vwap=100.0)
    assert feed(vw(min_bars_beyond=1, touch_bps=1.0), [first]) == []
    assert len(feed(vw(min_bars_beyond=1, touch_bps=1.0), [above(0), first])) == 1


def test_vwap_without_a_close_or_a_session_vwap_does_nothing() -> None:
    pre = [b(-600 + i, 99.9, 99.95, 99.85, 99.9, vwap=100.0) for i in range(4)]
    assert feed(vw(rth_only=False, min_bars_beyond=1), pre) == []  # no RTH bar: no VWAP yet
    no_trade = MicrobarV2(symbol="SPY", start_ms=OPEN + 3000, interval_ms=1000, open=None,
                          high=None, low=None, close=None, volume=0.0, trade_count=0, vwap=None,
                          delta_volume=0.0, bid_ask_imbalance=0.0)
    assert feed(vw(), [below(0), below(1), below(2), no_trade]) == []


def test_vwap_close_exactly_at_vwap_is_neither_side() -> None:
    at = b(3, 99.9, 100.02, 99.9, 100.0, vwap=100.0)  # reaches VWAP, closes exactly on it
    # not a rejection from below (it does not close below) ...
    assert feed(vw(reclaim=False), [below(0), below(1), below(2), at]) == []
    # ... nor from above
    at_up = b(3, 100.1, 100.1, 99.98, 100.0, vwap=100.0)
    assert feed(vw(reclaim=False), [above(0), above(1), above(2), at_up]) == []
    # and it does not reset the count: with confirm 10 bps it is no reclaim, and the next
    # bar's reclaim still sees 3 closes below
    up = b(4, 99.9, 100.3, 99.95, 100.2, vwap=100.0)
    assert signals(vw(confirm_bps=10.0), [below(0), below(1), below(2), at, up]) == \
        [(4, "long")]
    down = b(4, 100.1, 100.05, 99.7, 99.8, vwap=100.0)
    assert signals(vw(confirm_bps=10.0), [above(0), above(1), above(2), at_up, down]) == \
        [(4, "short")]


def test_volume_climax_floor_of_a_hundred_bps() -> None:
    # 100 bps of the entry 100.5 is 1.005: the floor 99.495 is below the low 99.9
    [(_, c)] = feed(vc(min_risk_bps=100.0), [*HISTORY, buy(40)])
    assert c.stop == px(99.495)
    # short: 99.5 + 0.995 = 100.495 above the high 100.1
    [(_, c)] = feed(vc(min_risk_bps=100.0), [*HISTORY, sell(40)])
    assert c.stop == px(100.495)


def test_detectors_keep_their_params_and_symbol() -> None:
    for cls, params in ((VolumeClimax, VolumeClimaxParams()), (VwapReclaimRejection, VwapParams()),
                        (OrbPullback, OrbPullbackParams())):
        det = cls(params, symbol="SPY")
        assert det.params is params and det.symbol == "SPY"


def test_candidate_note_defaults_to_empty() -> None:
    class Plain(Detector[DetectorParams]):
        name = "plain"
        version = 1

        def on_bar(self, bar: MicrobarV2, ctx: BarContext) -> list[SetupCandidate]:  # type: ignore[override]
            return [self.candidate(bar, "long", 100.0, 99.0)]

    [(_, c)] = feed(Plain(DetectorParams(), symbol="SPY"), [quiet(0)])
    assert c.note == "" and (c.t1, c.t2) == (101.0, 102.0)


def test_volume_climax_first_signals_are_not_in_a_cooldown() -> None:
    # with the default 60-bar cooldown, a spike on the 4th bar of the day signals: nothing
    # was signalled before it, in either direction
    base = [quiet(0), quiet(1), quiet(2)]
    assert signals(vc(cooldown_bars=60), [*base, buy(3)]) == [(3, "long")]
    assert signals(vc(cooldown_bars=60), [*base, sell(3)]) == [(3, "short")]


def test_volume_climax_fractional_and_zero_volumes() -> None:
    # sizes may be fractional: 0.5 is 5× a 0.1 baseline
    tiny = [b(i, 100, 100.1, 99.9, 100, vol=0.1) for i in range(3)]
    assert signals(vc(), [*tiny, b(3, 100, 100.5, 99.9, 100.4, vol=0.5, delta=0.5)]) == \
        [(3, "long")]
    # a bar with prices but no volume-eligible trades (volume 0) is never a spike
    zero = [b(i, 100, 100.1, 99.9, 100, vol=0.0) for i in range(4)]
    assert signals(vc(), zero) == []


def test_vwap_reclaim_and_touch_thresholds_in_bps() -> None:
    # every bar's own VWAP is 64, so the session VWAP is exactly 64; UB bps of 64 is U
    b64 = [b(i, 63.9, 63.95, 63.85, 63.9, vwap=64.0) for i in range(3)]
    a64 = [b(i, 64.1, 64.15, 64.05, 64.1, vwap=64.0) for i in range(3)]
    det = {"confirm_bps": UB, "touch_bps": UB}
    up_at = b(3, 63.9, 64.1, 63.95, 64 + U, vwap=64.0)           # exactly U above: reclaim
    up_short = b(3, 63.9, 64.1, 63.95, 64 + U - HAIR, vwap=64.0)
    assert signals(vw(**det), [*b64, up_at]) == [(3, "long")]
    assert feed(vw(**det, rejection=False), [*b64, up_short]) == []
    down_at = b(3, 64.1, 64.05, 63.9, 64 - U, vwap=64.0)
    down_short = b(3, 64.1, 64.05, 63.9, 64 - U + HAIR, vwap=64.0)
    assert signals(vw(**det), [*a64, down_at]) == [(3, "short")]
    assert feed(vw(**det, rejection=False), [*a64, down_short]) == []
    # rejection: the high reaches exactly U under VWAP (from below), the low exactly U over
    tag = b(3, 63.9, 64 - U, 63.8, 63.9, vwap=64.0)
    assert signals(vw(**det), [*b64, tag]) == [(3, "short")]
    assert feed(vw(**det), [*b64, b(3, 63.9, 64 - U - HAIR, 63.8, 63.9, vwap=64.0)]) == []
    tag_up = b(3, 64.1, 64.2, 64 + U, 64.1, vwap=64.0)
    assert signals(vw(**det), [*a64, tag_up]) == [(3, "long")]
    assert feed(vw(**det), [*a64, b(3, 64.1, 64.2, 64 + U + HAIR, 64.1, vwap=64.0)]) == []


def close_only(sec: int, close: float, **kw: Any) -> MicrobarV2:
    """A bar whose trades were open/close-eligible but not high/low-eligible (spec: high and
    low null, close set): detectors read the close as its high and low."""
    bar = b(sec, close, close, close, close, **kw)
    return MicrobarV2(**{**{f: getattr(bar, f) for f in bar.__struct_fields__},
                         "high": None, "low": None})


def test_close_only_bars_use_the_close_as_high_and_low() -> None:
    # vwap: a close-only reclaim bar at 100.2: entry = its "high" 100.2
    [(_, c)] = feed(vw(), [below(0), below(1), below(2), close_only(3, 100.2, vwap=100.0)])
    assert (c.direction, c.entry, c.stop) == ("long", 100.2, 100.0)
    # orb_pullback: a close-only pullback bar at 64 + U: entry 64 + U, stop at the edge 64
    [(_, c)] = feed(orb(), [*OR_LONG, BREAK, EXTEND, close_only(62, 64 + U)])
    assert (c.entry, c.stop) == (64 + U, 64.0)
    # volume_climax needs the bar's range: a close-only spike is no candidate
    spike = close_only(40, 100.4, vol=1000.0, delta=800.0)
    assert feed(vc(), [*HISTORY, spike]) == []


def test_orb_short_extension_counts_the_breakout_bars_low() -> None:
    brk4 = b(60, 64.1, 64.1, 64 - 4 * U, 64 - U)   # breakout bar's own low is 4U beyond
    mid = b(61, 63.99, 63.99, 64 - 3 * U, 63.98)
    assert len(feed(orb(), [*OR_SHORT, brk4, mid, S_PULLBACK])) == 1
    brk2 = b(60, 64.1, 64.1, 64 - 2 * U, 64 - U)
    assert feed(orb(), [*OR_SHORT, brk2, mid, S_PULLBACK]) == []


def test_orb_ended_attempt_rearms_only_after_a_close_inside() -> None:
    # the break at minute 1 times out in minute 4 (max 2 minutes) with the close exactly on
    # the edge — not inside — so a later break, extension and pullback give nothing
    timeout = b(240, 64.02, 64.03, 64.02, 64.0)
    rebreak = [b(241, 63.9, 64 + U, 63.9, 64 + U), b(242, 64.01, 64 + 4 * U, 64.01, 64.02),
               b(243, 64.02, 64.025, 64 + U, 64.015)]
    assert feed(orb(max_minutes_after_break=2), [*OR_LONG, BREAK, EXTEND, timeout,
                                                 *rebreak]) == []
    # a failed breakout (close back inside) re-arms at once: the next break can signal
    fail = b(62, 64.0, 64.01, 63.9, 63.9)
    again = [b(63, 63.9, 64 + U, 63.9, 64 + U), b(64, 64.01, 64 + 4 * U, 64.01, 64.02),
             b(65, 64.02, 64.025, 64 + U, 64.015)]
    assert [i for i, _ in feed(orb(), [*OR_LONG, BREAK, EXTEND, fail, *again])] == [7]


def test_orb_signals_per_side_counts_every_signal() -> None:
    def attempt(t: int) -> list[MicrobarV2]:
        return [b(t, 63.9, 64 + U, 63.9, 64 + U), b(t + 1, 64.01, 64 + 4 * U, 64.01, 64.02),
                b(t + 2, 64.02, 64.025, 64 + U, 64.015), b(t + 3, 64.0, 64.01, 63.9, 63.9)]

    bars = [*OR_LONG, *attempt(60), *attempt(70), *attempt(80)]
    assert len(feed(orb(signals_per_side=2), bars)) == 2
    assert len(feed(orb(signals_per_side=3), bars)) == 3
