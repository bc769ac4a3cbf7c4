"""The runner's report splits setups and gate blocks between the underlying and option
contracts, reports the gap-aware expectancy beside the gross one, and builds the built-in
detectors for the underlying only (docs/decisions/0007-detectors-on-the-underlying-by-default.md).
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec
import pytest
from spxcc_detectors import BUILTIN_DETECTORS

from spxcc_core.contracts.microbar import MicrobarV2
from spxcc_core.contracts.setup import GateDecision, SetupCandidate
from spxcc_core.detect import Detector, DetectorParams
from spxcc_core.detect.runner import DetectorRunner
from spxcc_core.golden.sessions import golden_sessions
from spxcc_core.plugins import get_plugin_manager
from spxcc_core.testing import check_detector

T0 = 1_709_908_200_000  # 2024-03-08 14:30 UTC = 09:30 New York
OPTION = "O:SPY240308C00500000"


def bar(symbol: str, sec: int, price: float, spread_bps: float) -> MicrobarV2:
    return MicrobarV2(symbol=symbol, start_ms=T0 + sec * 1000, interval_ms=1000, open=price,
                      high=price, low=price, close=price, volume=100.0, trade_count=1,
                      vwap=price, delta_volume=0.0, bid_ask_imbalance=0.0,
                      avg_spread_bps=spread_bps, quote_coverage_pct=100.0,
                      ask_bid_size_ratio=1.0)


class EveryTenth(Detector[DetectorParams]):
    """A long on every 10th bar of any instrument: entry 1 % over the close, stop 1 % under."""

    name: ClassVar[str] = "every_tenth"
    version: ClassVar[int] = 1
    params_class = DetectorParams

    def __init__(self, params: DetectorParams, *, symbol: str) -> None:
        super().__init__(params, symbol=symbol)
        self.n = 0

    def on_bar(self, bar: Any, ctx: Any) -> list[SetupCandidate]:
        self.n += 1
        if self.n % 10 or bar.close is None:
            return []
        return [self.candidate(bar, "long", bar.close * 1.01, bar.close * 0.99)]


def test_report_splits_underlying_and_option_contracts() -> None:
    runner = DetectorRunner([EveryTenth])
    # 30 bars of each: the underlying at 1 bps spread passes, the option at 250 bps is blocked
    for sec in range(30):
        runner.on_bar(bar("SPY", sec, 500.0, 1.0))
        runner.on_bar(bar(OPTION, sec, 2.0, 250.0))
    runner.finish()
    rep = msgspec.to_builtins(runner.report())
    by = rep["byInstrument"]
    assert sorted(by) == ["option", "underlying"]
    assert by["underlying"]["gates"]["every_tenth"] == {
        "evaluated": 3, "passed": 3, "blocked": 0, "reasons": {}}
    assert by["option"]["gates"]["every_tenth"] == {
        "evaluated": 3, "passed": 0, "blocked": 3, "reasons": {"spread": 3}}
    assert by["underlying"]["detectors"] == by["option"]["detectors"] == ["every_tenth"]
    assert by["underlying"]["setupsByDetector"] == {"every_tenth": 3}
    assert by["option"]["setupsByDetector"] == {}
    # the whole-run counts are the sum of the two
    assert rep["gates"]["every_tenth"]["evaluated"] == 6


def test_builtin_detectors_run_on_the_underlying_only() -> None:
    assert all(cls.instruments == ("underlying",) for cls in BUILTIN_DETECTORS)
    assert EveryTenth.instruments == ("underlying", "option")  # the default: both
    runner = DetectorRunner([*BUILTIN_DETECTORS, EveryTenth])
    for sec in range(30):
        runner.on_bar(bar(OPTION, sec, 2.0, 250.0))
    option = msgspec.to_builtins(runner.report())["byInstrument"]["option"]
    assert list(option["gates"]) == ["every_tenth"]  # no built-in was built for the option
    assert option["detectors"] == ["every_tenth"]


def test_gap_aware_expectancy_beside_the_gross_one_on_rules_day() -> None:
    (session,) = golden_sessions(["rules_day"])
    runner = DetectorRunner(get_plugin_manager(load_entrypoints=False))
    for b in session.bars:
        runner.on_bar(b)
    runner.finish()
    rep = msgspec.to_builtins(runner.report())
    # rules_day/README.md: gross (0.5 − 1 + 1.5) / 3; gap-aware the climax fills at 500.82 and
    # exits at 500.50: (500.50 − 500.82) / 0.20 = −1.6R, so (0.5 − 1.6 + 1.5) / 3
    assert rep["stats"]["expectancyR"] == pytest.approx(1 / 3)
    assert rep["expectancyGapR"] == pytest.approx(0.4 / 3)
    assert rep["byInstrument"]["underlying"]["expectancyGapR"] == pytest.approx(0.4 / 3)
    assert sorted(runner.gap_r().values()) == pytest.approx([-1.6, 0.5, 1.5])


def test_the_kit_rejects_bad_instruments() -> None:
    class Bad(EveryTenth):
        name: ClassVar[str] = "bad_kinds"
        instruments: ClassVar[tuple[str, ...]] = ("futures",)

    report = check_detector(Bad)
    assert report.failed_checks() == ["registration"]
    assert "`instruments` must be a non-empty tuple of ('underlying', 'option')" in \
        report.summary()


def test_decisions_are_still_one_per_candidate() -> None:
    runner = DetectorRunner([EveryTenth])
    out = [o for sec in range(20) for o in runner.on_bar(bar(OPTION, sec, 2.0, 250.0))]
    assert [type(o) for o in out] == [GateDecision, GateDecision]
