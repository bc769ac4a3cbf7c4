"""The built-in detectors' compiled scans equal their ``on_bar``, to the bit.

Random days (``daybars.random_day``: gaps, spikes, null prices, out-of-order repeats, a
second symbol or day) and random parameters within each class's validators, hypothesis-drawn;
:func:`spxcc_core.testing.scan_differences` feeds both ways. Plus hand-made days where each
detector must fire, so the property is not vacuous.
"""

from __future__ import annotations

from typing import Any

from daybars import random_day
from hypothesis import given, settings
from hypothesis import strategies as st
from spxcc_detectors.orb_pullback import OrbPullback, OrbPullbackParams
from spxcc_detectors.volume_climax import VolumeClimax, VolumeClimaxParams
from spxcc_detectors.vwap import VwapParams, VwapReclaimRejection

from spxcc_core.detect.base import offers_scan
from spxcc_core.detect.columns import day_columns
from spxcc_core.session import get_calendar
from spxcc_core.testing import check_detector, scan_differences

seeds = st.integers(0, 2**32 - 1)
bps = st.floats(0.0, 8.0, allow_nan=False)


@st.composite
def climax_params(draw: st.DrawFn) -> VolumeClimaxParams:
    baseline = draw(st.integers(1, 80))
    return VolumeClimaxParams(
        baseline_bars=baseline, min_baseline_bars=draw(st.integers(1, baseline)),
        spike_multiple=draw(st.floats(0.5, 6.0)), min_delta_ratio=draw(st.floats(0.05, 1.0)),
        entry_offset=draw(st.floats(0.0, 0.5)), min_risk_bps=draw(bps),
        cooldown_bars=draw(st.integers(0, 30)), rth_only=draw(st.booleans()))


@st.composite
def vwap_params(draw: st.DrawFn) -> VwapParams:
    return VwapParams(
        min_bars_beyond=draw(st.integers(1, 20)), confirm_bps=draw(bps),
        touch_bps=draw(bps), min_rth_minutes=draw(st.integers(0, 10)),
        stop_buffer_bps=draw(bps), min_risk_bps=draw(bps),
        cooldown_bars=draw(st.integers(0, 30)), reclaim=draw(st.booleans()),
        rejection=draw(st.booleans()), rth_only=draw(st.booleans()))


@st.composite
def orb_params(draw: st.DrawFn) -> OrbPullbackParams:
    return OrbPullbackParams(
        or_minutes=draw(st.integers(1, 10)), breakout_bps=draw(bps),
        min_extension_bps=draw(bps), pullback_bps=draw(bps), fail_bps=draw(bps),
        max_minutes_after_break=draw(st.integers(1, 20)), stop_buffer_bps=draw(bps),
        min_risk_bps=draw(bps), signals_per_side=draw(st.integers(1, 3)),
        last_entry_minute=draw(st.integers(1, 40)))


def _hits(cls: Any, params: Any, seed: int) -> int:
    days = day_columns(random_day(seed), get_calendar())
    return sum(len(cls.scan(params, d) or ()) for d in days)


def test_every_built_in_offers_a_scan() -> None:
    assert all(offers_scan(c) for c in (VolumeClimax, VwapReclaimRejection, OrbPullback))


@settings(max_examples=60)
@given(seeds, climax_params())
def test_volume_climax_scan_equals_on_bar(seed: int, params: VolumeClimaxParams) -> None:
    assert scan_differences(VolumeClimax, params, random_day(seed)) == []


@settings(max_examples=60)
@given(seeds, vwap_params())
def test_vwap_scan_equals_on_bar(seed: int, params: VwapParams) -> None:
    assert scan_differences(VwapReclaimRejection, params, random_day(seed)) == []


@settings(max_examples=60)
@given(seeds, orb_params())
def test_orb_pullback_scan_equals_on_bar(seed: int, params: OrbPullbackParams) -> None:
    assert scan_differences(OrbPullback, params, random_day(seed)) == []


def test_the_property_sees_signals() -> None:
    """The random days make each detector fire (else the equality above proves little)."""
    climax = VolumeClimaxParams(baseline_bars=20, min_baseline_bars=5, spike_multiple=2.0,
                                min_delta_ratio=0.3, cooldown_bars=5)
    vwap = VwapParams(min_bars_beyond=3, confirm_bps=0.5, min_rth_minutes=0, cooldown_bars=5)
    orb = OrbPullbackParams(or_minutes=2, breakout_bps=1.0, min_extension_bps=2.0,
                            pullback_bps=3.0, fail_bps=20.0, max_minutes_after_break=20,
                            signals_per_side=3)
    seeds_ = range(12)
    assert sum(_hits(VolumeClimax, climax, s) for s in seeds_) >= 20
    assert sum(_hits(VwapReclaimRejection, vwap, s) for s in seeds_) >= 20
    assert sum(_hits(OrbPullback, orb, s) for s in seeds_) >= 5


def test_a_wrong_scan_is_caught() -> None:
    """The comparison fails when the scan is off by one ulp on one stop."""
    import numpy as np

    class Off(VolumeClimax):
        name = "volume_climax_off"

        @classmethod
        def scan(cls, params: Any, bars: Any) -> Any:
            hits = VolumeClimax.scan(params, bars)
            if hits is not None and len(hits):
                hits.stop[0] = np.nextafter(hits.stop[0], np.inf)
            return hits

    params = VolumeClimaxParams(baseline_bars=20, min_baseline_bars=5, spike_multiple=2.0,
                                min_delta_ratio=0.3, cooldown_bars=5)
    found = [scan_differences(Off, params, random_day(s)) for s in range(6)]
    assert any(found)
    first = next(f for f in found if f)[0]
    assert "on_bar gives bar" in first and "scan gives bar" in first


def test_conformance_checks_the_scan() -> None:
    report = check_detector(VolumeClimax)
    assert report.ok, report.summary()

    class Broken(VolumeClimax):
        name = "volume_climax_broken"

        @classmethod
        def scan(cls, params: Any, bars: Any) -> Any:
            raise RuntimeError("no")

    report = check_detector(Broken)
    assert report.failed_checks() == ["scan"]


def test_a_subclass_changing_on_bar_does_not_inherit_the_scan() -> None:
    """The parent's scan is the parent's logic: a subclass overriding only ``on_bar`` is
    screened by the runner; one overriding both offers its own."""

    class LongOnly(VwapReclaimRejection):
        name = "vwap_long_only"

        def on_bar(self, bar: Any, ctx: Any) -> Any:
            return [c for c in super().on_bar(bar, ctx) if c.direction == "long"]

    class Renamed(VwapReclaimRejection):  # same logic: the inherited scan still belongs
        name = "vwap_renamed"

    class Both(LongOnly):
        @classmethod
        def scan(cls, params: Any, bars: Any) -> Any:
            return None

    assert not offers_scan(LongOnly)
    assert offers_scan(Renamed) and offers_scan(Both)
