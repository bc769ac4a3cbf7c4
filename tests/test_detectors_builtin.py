"""Built-in detectors on hand-built bar sequences, and the runner around them."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec
import pytest
from spxcc_detectors import (
    OrbPullback,
    OrbPullbackParams,
    VolumeClimax,
    VolumeClimaxParams,
    VwapParams,
    VwapReclaimRejection,
)

from spxcc_core.contracts.microbar import MicrobarV1, MicrobarV2
from spxcc_core.contracts.setup import GateDecision, SetupCandidate, SetupInstance
from spxcc_core.detect.base import ContextProvider, Detector, DetectorParams
from spxcc_core.detect.context import BarContext
from spxcc_core.detect.runner import DetectorRunner
from spxcc_core.hookspecs import hookimpl
from spxcc_core.session import get_calendar

OPEN = 1_710_163_800_000  # 2024-03-11 09:30 New York (13:30 UTC)
DAY = get_calendar().session("2024-03-11")


def b(sec: int, o: float, h: float, lo: float, c: float, *, vol: float = 100.0,
      delta: float = 0.0, vwap: float | None = None, symbol: str = "SPY",
      ratio: float | None = 1.0) -> MicrobarV2:
    return MicrobarV2(symbol=symbol, start_ms=OPEN + sec * 1000, interval_ms=1000, open=o,
                      high=h, low=lo, close=c, volume=vol, trade_count=1,
                      vwap=c if vwap is None else vwap, delta_volume=delta,
                      bid_ask_imbalance=0.0, ask_bid_size_ratio=ratio, quote_coverage_pct=100.0,
                      avg_spread_bps=1.0, bid_size_at_close=10.0, ask_size_at_close=10.0,
                      quote_count=1)


def feed(det: Detector[Any], bars: list[MicrobarV2]) -> list[tuple[int, SetupCandidate]]:
    ctx = BarContext("SPY", DAY)
    out = []
    for i, bar in enumerate(bars):
        ctx.advance(bar)
        out += [(i, c) for c in det.on_bar(bar, ctx)]
    return out


# -- volume_climax ---------------------------------------------------------------------------

VC = VolumeClimaxParams(baseline_bars=5, min_baseline_bars=3, spike_multiple=4.0,
                        min_delta_ratio=0.6, min_risk_bps=0.0, cooldown_bars=0)


def test_volume_climax_long_on_spike_with_buy_delta() -> None:
    bars = [b(i, 100, 100.1, 99.9, 100) for i in range(5)]  # baseline: 100 per bar
    bars.append(b(5, 100, 100.5, 99.9, 100.4, vol=500.0, delta=400.0))  # 5× the mean, 80% buys
    [(i, c)] = feed(VolumeClimax(VC, symbol="SPY"), bars)
    assert i == 5
    # entry = bar high 100.5, stop = bar low 99.9, 1R = 0.6 → T1 101.1, T2 101.7
    assert (c.direction, c.entry, c.stop) == ("long", 100.5, 99.9)
    assert c.t1 == pytest.approx(101.1) and c.t2 == pytest.approx(101.7)
    assert (c.detector, c.detector_version, c.note) == ("volume_climax", 1, "climax_buy")
    assert c.trigger_deadline_ms == OPEN + 6000 + 300_000


def test_volume_climax_needs_spike_delta_and_history() -> None:
    base = [b(i, 100, 100.1, 99.9, 100) for i in range(5)]
    below = [*base, b(5, 100, 100.5, 99.9, 100.4, vol=399.0, delta=399.0)]  # < 4 × 100
    assert feed(VolumeClimax(VC, symbol="SPY"), below) == []
    weak = [*base, b(5, 100, 100.5, 99.9, 100.4, vol=500.0, delta=250.0)]  # 50% < 60%
    assert feed(VolumeClimax(VC, symbol="SPY"), weak) == []
    short_history = [*base[:2], b(2, 100, 100.5, 99.9, 100.4, vol=900.0, delta=900.0)]
    assert feed(VolumeClimax(VC, symbol="SPY"), short_history) == []


def test_volume_climax_short_with_min_risk_floor() -> None:
    p = VolumeClimaxParams(baseline_bars=5, min_baseline_bars=3, min_risk_bps=10.0,
                           cooldown_bars=0)
    bars = [b(i, 100, 100.1, 99.9, 100) for i in range(5)]
    bars.append(b(5, 100, 100.02, 99.98, 99.99, vol=500.0, delta=-350.0))  # 70% sells
    [(_, c)] = feed(VolumeClimax(p, symbol="SPY"), bars)
    # entry = low 99.98; the bar's high is only 0.04 away, so the 10 bps floor sets the stop:
    # 99.98 × (1 + 0.001) = 100.07998
    assert c.direction == "short" and c.entry == 99.98
    assert c.stop == pytest.approx(100.07998)


def test_volume_climax_ignores_bars_outside_rth() -> None:
    pre = [b(-600 + i, 100, 100.1, 99.9, 100) for i in range(5)]
    pre.append(b(-594, 100, 100.5, 99.9, 100.4, vol=900.0, delta=900.0))
    assert feed(VolumeClimax(VC, symbol="SPY"), pre) == []


# -- vwap ------------------------------------------------------------------------------------

VW = VwapParams(min_bars_beyond=3, confirm_bps=1.0, touch_bps=1.0, min_rth_minutes=0,
                stop_buffer_bps=0.0, min_risk_bps=0.0, cooldown_bars=0)


def test_vwap_reclaim_long() -> None:
    bars = [b(i, 99.8, 99.9, 99.7, 99.8, vwap=100.0) for i in range(4)]  # closes below VWAP 100
    bars.append(b(4, 99.9, 100.35, 99.9, 100.3, vwap=100.2))
    [(i, c)] = feed(VwapReclaimRejection(VW, symbol="SPY"), bars)
    # session VWAP after bar 4 = (4 × 100 × 100 + 100.2 × 100) / 500 = 100.04;
    # close 100.3 ≥ 100.04 × 1.0001: reclaim. Entry = high 100.35, stop = min(low 99.9, VWAP)
    assert i == 4 and c.direction == "long" and c.note == "reclaim"
    assert c.entry == 100.35 and c.stop == pytest.approx(99.9)


def test_vwap_rejection_short_and_too_few_bars_beyond() -> None:
    bars = [b(i, 99.8, 99.9, 99.7, 99.8, vwap=100.0) for i in range(4)]
    bars.append(b(4, 99.8, 100.01, 99.6, 99.7, vwap=99.9))  # tags VWAP, closes below
    [(_, c)] = feed(VwapReclaimRejection(VW, symbol="SPY"), bars)
    # VWAP = (40000 + 9990) / 500 = 99.98; high 100.01 ≥ 99.98 × 0.9999; close 99.7 < VWAP
    assert c.direction == "short" and c.note == "rejection"
    assert c.entry == 99.6 and c.stop == pytest.approx(100.01)
    assert feed(VwapReclaimRejection(VW, symbol="SPY"), bars[2:]) == []  # only 2 bars below


# -- orb_pullback ----------------------------------------------------------------------------

ORB = OrbPullbackParams(or_minutes=1)


def test_orb_breakout_extension_pullback_long() -> None:
    bars = [b(0, 100, 100.5, 99.5, 100), b(30, 100, 100.2, 99.8, 100.1)]  # OR: 100.5 / 99.5
    bars += [b(60, 100.4, 100.6, 100.4, 100.6),    # close ≥ 100.5 × 1.0002: broken
             b(61, 100.6, 100.8, 100.6, 100.75),   # extreme 100.8 ≥ 100.5 × 1.0005: extended
             b(62, 100.7, 100.6, 100.52, 100.55)]  # low within 2 bps of 100.5, close holds
    [(i, c)] = feed(OrbPullback(ORB, symbol="SPY"), bars)
    # entry = pullback high 100.6; stop = min(100.52, 100.5) × (1 − 0.0002) = 100.4799
    assert i == 4 and c.direction == "long" and c.note == "orb_pullback_long"
    assert c.entry == 100.6 and c.stop == pytest.approx(100.4799)


def test_orb_failed_breakout_and_one_signal_per_side() -> None:
    failed = [b(0, 100, 100.5, 99.5, 100), b(60, 100.4, 100.6, 100.4, 100.6),
              b(61, 100.6, 100.8, 100.6, 100.75),
              b(62, 100.5, 100.5, 99.9, 99.95),    # closes > 5 bps back inside: failed
              b(63, 100.0, 100.55, 100.5, 100.52)]  # a "pullback" without a fresh breakout
    assert feed(OrbPullback(ORB, symbol="SPY"), failed) == []
    twice = [b(0, 100, 100.5, 99.5, 100), b(60, 100.4, 100.6, 100.4, 100.6),
             b(61, 100.6, 100.8, 100.6, 100.75), b(62, 100.7, 100.6, 100.52, 100.55),
             b(63, 100.5, 100.5, 100.3, 100.4),    # back inside: re-arms
             b(64, 100.4, 100.6, 100.4, 100.6), b(65, 100.6, 100.8, 100.6, 100.75),
             b(66, 100.7, 100.6, 100.52, 100.55)]
    assert len(feed(OrbPullback(ORB, symbol="SPY"), twice)) == 1


# -- runner ----------------------------------------------------------------------------------


class _Always(Detector[DetectorParams]):
    """Proposes a long on every RTH bar (entry at the close, stop 1 below)."""

    name: ClassVar[str] = "always"
    version: ClassVar[int] = 3

    def on_bar(self, bar: MicrobarV1, ctx: BarContext) -> list[SetupCandidate]:
        assert bar.close is not None
        return [self.candidate(bar, "long", bar.close, bar.close - 1.0)]


class _Boom(Detector[DetectorParams]):
    name: ClassVar[str] = "boom"
    version: ClassVar[int] = 1

    def on_bar(self, bar: MicrobarV1, ctx: BarContext) -> list[SetupCandidate]:
        raise RuntimeError("kaput")


def test_runner_isolates_a_raising_detector_and_counts_gate_reasons() -> None:
    runner = DetectorRunner([_Boom, _Always])
    outs: list[Any] = []
    outs += runner.on_bar(b(0, 100, 100, 100, 100))               # passes the gates
    outs += runner.on_bar(b(1, 100, 100.5, 99.5, 100, ratio=4.0))  # heavy offer: blocked
    outs += runner.finish()
    kinds = [type(o).__name__ for o in outs]
    # bar 1 first triggers setup 0 (entry 100 inside [99.5, 100.5]; lifecycle runs before the
    # detectors), then its own candidate is blocked; finish() expires setup 0
    assert kinds == ["GateDecision", "SetupInstance", "SetupInstance", "GateDecision",
                     "SetupInstance"]
    setup, triggered, blocked, expired = outs[1], outs[2], outs[3], outs[4]
    assert isinstance(setup, SetupInstance) and setup.detected_ms == OPEN
    assert isinstance(triggered, SetupInstance) and triggered.status == "triggered"
    assert isinstance(blocked, GateDecision) and not blocked.passed
    assert isinstance(expired, SetupInstance) and expired.status == "expired"
    assert expired.closed_ms == DAY.close_ms and expired.realized_r == pytest.approx(0.0)
    rep = msgspec.to_builtins(runner.report())
    assert rep["errors"] == {"boom": {"count": 2, "first": "RuntimeError: kaput"}}
    assert rep["gates"]["always"] == {"evaluated": 2, "passed": 1, "blocked": 1,
                                      "reasons": {"ask_bid_size_ratio": 1}}
    # no profile: the default profile has a table for every installed detector, derived from
    # its params_class defaults, so none is listed as running on defaults a profile left out
    assert rep["defaultsUsed"] == []


class _WrongType(Detector[DetectorParams]):
    name: ClassVar[str] = "wrong_type"
    version: ClassVar[int] = 1

    def on_bar(self, bar: MicrobarV1, ctx: BarContext) -> list[SetupCandidate]:
        return [{"direction": "long"}]  # type: ignore[list-item]


def test_runner_records_a_detector_returning_the_wrong_type_and_goes_on() -> None:
    runner = DetectorRunner([_WrongType, _Always])
    outs = runner.on_bar(b(0, 100, 100, 100, 100))
    # the well-behaved detector still produced its decision and setup
    assert [type(o).__name__ for o in outs] == ["GateDecision", "SetupInstance"]
    assert msgspec.to_builtins(runner.report())["errors"] == {
        "wrong_type": {"count": 1, "first": "TypeError: on_bar returned dict, expected SetupCandidate"}}


def test_runner_trigger_and_session_end_expiry() -> None:
    runner = DetectorRunner([_Always])
    outs = runner.on_bar(b(0, 100, 100, 100, 100))
    outs += runner.on_bar(b(1, 100, 100.2, 99.9, 100.1))  # triggers setup 0 (entry 100)
    statuses = [(o.detected_ms - OPEN, o.status) for o in outs if isinstance(o, SetupInstance)]
    assert statuses == [(0, "detected"), (0, "triggered"), (1000, "detected")]
    assert DAY.close_ms is not None
    late = b((DAY.close_ms - OPEN) // 1000, 100.4, 100.4, 100.4, 100.4)  # first bar at 16:00
    outs = runner.on_bar(late)
    closed = [o for o in outs if isinstance(o, SetupInstance) and o.closed_ms is not None]
    # setup 1 (entry 100.1) never traded through its entry: untriggered, no R
    assert [(o.status, o.closed_ms) for o in closed] == [("expired", DAY.close_ms),
                                                         ("untriggered", DAY.close_ms)]
    assert closed[1].realized_r is None
    # setup 0: marked at the last price before the close, 100.1: (100.1 − 100) / 1 = 0.1R
    assert closed[0].realized_r == pytest.approx(0.1)


def test_runner_quarantines_out_of_order_bars() -> None:
    runner = DetectorRunner([VolumeClimax])
    runner.on_bar(b(5, 100, 100, 100, 100))
    assert runner.on_bar(b(5, 100, 100, 100, 100)) == []
    assert runner.on_bar(b(4, 100, 100, 100, 100)) == []
    rep = msgspec.to_builtins(runner.report())
    assert rep["bars"] == 1 and rep["quarantined"] == {"outOfOrder": 2}


def test_runner_duplicate_candidate_is_blocked_with_reason() -> None:
    class Twice(_Always):
        name: ClassVar[str] = "twice"

        def on_bar(self, bar: MicrobarV1, ctx: BarContext) -> list[SetupCandidate]:
            return super().on_bar(bar, ctx) * 2

    runner = DetectorRunner([Twice])
    outs = runner.on_bar(b(0, 100, 100, 100, 100))
    decisions = [o for o in outs if isinstance(o, GateDecision)]
    assert [d.passed for d in decisions] == [True, False]
    assert decisions[1].checks[-1].gate == "duplicate_setup"
    assert decisions[0].setup_id == decisions[1].setup_id


def test_plugin_discovery_observers_and_providers(spxcc_pm: Any, spxcc_register: Any) -> None:
    seen: list[tuple[str, str]] = []

    class Provider(ContextProvider):
        name: ClassVar[str] = "levels"
        version: ClassVar[int] = 1

        def on_bar(self, bar: MicrobarV1, ctx: BarContext) -> object | None:
            return {"pivot": 99.0}

    class Reader(_Always):
        name: ClassVar[str] = "reader"

        def on_bar(self, bar: MicrobarV1, ctx: BarContext) -> list[SetupCandidate]:
            assert ctx.extra["levels"] == {"pivot": 99.0}
            return super().on_bar(bar, ctx)

    class Plugin:
        @hookimpl
        def spxcc_register_detectors(self) -> list[type[Detector[Any]]]:
            return [Reader]

        @hookimpl
        def spxcc_register_context_providers(self) -> list[type[ContextProvider]]:
            return [Provider]

        @hookimpl
        def spxcc_on_setup(self, setup: SetupInstance, context: Any) -> None:
            seen.append((setup.status, "gate" if "gate" in context else "-"))

    spxcc_register(Plugin(), name="test-detectors")
    runner = DetectorRunner(spxcc_pm)
    assert [r.cls.name for r in runner.resolved] == ["orb_pullback", "reader", "volume_climax",
                                                      "vwap"]
    runner.on_bar(b(0, 100, 100, 100, 100))
    runner.on_bar(b(1, 100, 100.2, 99.9, 100.1))
    assert seen == [("detected", "gate"), ("triggered", "-"), ("detected", "gate")]
    assert msgspec.to_builtins(runner.report())["errors"] == {}


def _run_bytes(bars: list[MicrobarV2]) -> bytes:
    runner = DetectorRunner([VolumeClimax, VwapReclaimRejection, OrbPullback, _Always])
    enc = msgspec.json.Encoder()
    out = b"".join(enc.encode(o) + b"\n" for bar in bars for o in runner.on_bar(bar))
    return out + b"".join(enc.encode(o) + b"\n" for o in runner.finish())


def test_same_input_same_bytes_and_days_are_independent() -> None:
    day1 = [b(i, 100 + (i % 7) * 0.1, 100.8, 99.4, 100 + (i % 5) * 0.1, vol=100.0 + i % 3)
            for i in range(0, 3600, 7)]
    nxt = 86_400
    day2 = [b(nxt + i, 101, 101.3, 100.7, 101 + (i % 3) * 0.1) for i in range(0, 1800, 11)]
    both = _run_bytes(day1 + day2)
    assert both == _run_bytes(day1 + day2)
    alone = _run_bytes(day2)
    assert alone and both.endswith(alone) and len(both) > len(alone)
    # day 1 alone: the same bytes as the head of the combined run (expiries at its close)
    assert both.startswith(_run_bytes(day1))
