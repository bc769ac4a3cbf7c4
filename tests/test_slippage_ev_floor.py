"""The ``ev_floor`` gate: hand-worked expected value, per-contract risk and slippage in R, the
verdict and its recorded inputs, the profile table, and the gate inside the detector runner.

The running example: a long with entry 5900, stop 5890, T1 5915, T2 5930 (1R = 10 points):
``R1 = 15 / 10 = 1.5``, ``R2 = 30 / 10 = 3``; profile outcome ``t1_fraction = 0.5`` with
breakeven after T1; priors ``p1 = 0.5``, ``p2 = 0.3``; target delta 0.30:
``risk$ = 10 × 1 × 0.30 × 100 = 300``.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
from prices import px
from test_slippage_rolling import rec

from spxcc_core.contracts.microbar import MicrobarV1, MicrobarV2
from spxcc_core.contracts.setup import GateDecision, SetupCandidate, SetupInstance
from spxcc_core.detect.base import Detector, DetectorParams
from spxcc_core.detect.context import BarContext
from spxcc_core.detect.profile import (
    DEFAULT_PROFILE_TOML,
    default_profile,
    parse_profile,
    profile_hash,
    resolve_detectors,
)
from spxcc_core.detect.runner import DetectorRunner
from spxcc_core.errors import ConfigError
from spxcc_core.slippage.ev_floor import (
    EvFloorConfig,
    EvFloorInputs,
    OutcomeTally,
    ev_floor_checks,
    ev_floor_inputs,
)
from spxcc_core.slippage.rolling import RollingSlippage

OPEN = 1_710_163_800_000  # 2024-03-11 09:30 New York: time bucket "open"


def cand(*, entry: float = 5900.0, stop: float = 5890.0, t1: float = 5915.0,
         t2: float = 5930.0, detector: str = "orb") -> SetupCandidate:
    return SetupCandidate(detector=detector, detector_version=1, symbol="SPX", direction="long",
                          entry=entry, stop=stop, t1=t1, t2=t2, bar_start_ms=OPEN,
                          trigger_deadline_ms=OPEN + 60_000)


def inputs(config: EvFloorConfig, *, breakeven: bool = True, tally: OutcomeTally | None = None,
           slippage: RollingSlippage | None = None,
           c: SetupCandidate | None = None) -> EvFloorInputs:
    return ev_floor_inputs(c or cand(), config, t1_fraction=0.5, breakeven_after_t1=breakeven,
                           tally=tally or OutcomeTally(), slippage=slippage)


def test_priors_and_prior_slippage_pass_a_zero_base_floor() -> None:
    i = inputs(EvFloorConfig(warmup="block"))
    assert (i.reward_r_t1, i.reward_r_t2) == (px(1.5), px(3.0))
    # EV = 0.5 × (0.5 × 1.5 + 0.5 × (0.3 × 3 + 0.7 × 0)) − 0.5 = 0.5 × 1.2 − 0.5 = 0.1
    assert i.expected_value_r == px(0.1)
    assert i.risk_per_contract_dollars == px(300.0)        # 10 × 1 × 0.30 × 100
    assert i.round_trip_slippage_dollars == px(10.0)       # 2 × prior 5.00
    assert i.slippage_r == px(0.033333333)                 # 10 / 300
    assert i.floor_r == px(0.033333333)                    # 0 + 10 / 300
    assert i.passed and i.slippage_level == "prior" and not i.t1_rate_observed


def test_a_base_floor_above_the_expected_value_blocks_with_the_numbers() -> None:
    i = inputs(EvFloorConfig(warmup="block", base_floor_r=0.1))
    assert i.floor_r == px(0.133333333)                    # 0.1 + 10 / 300
    assert not i.passed                                    # 0.1 < 0.1333
    verdict, *info = ev_floor_checks(i)
    assert (verdict.gate, verdict.input, verdict.comparison) == ("ev_floor", "expectedValueR",
                                                                 ">=")
    assert (verdict.threshold, verdict.observed, verdict.passed) == (px(0.133333333), px(0.1),
                                                                     False)
    assert {c.input: c.observed for c in info} == {
        "baseFloorR": 0.1, "slippageR": px(0.033333333), "roundTripSlippageDollars": 10.0,
        "riskPerContractDollars": 300.0, "slippageSamples@prior": 0.0, "rewardRT1": 1.5,
        "rewardRT2": 3.0, "t1HitRate@prior": 0.5, "t2GivenT1Rate@prior": 0.3}
    assert all(c.passed and c.comparison == "" for c in info)


def test_without_breakeven_the_missed_remainder_costs_one_r() -> None:
    # EV = 0.5 × (0.75 + 0.5 × (0.3 × 3 + 0.7 × (−1))) − 0.5 = 0.5 × 0.85 − 0.5 = −0.075
    assert inputs(EvFloorConfig(warmup="block"), breakeven=False).expected_value_r == px(-0.075)


def test_measured_slippage_raises_the_floor() -> None:
    rolling = RollingSlippage(EvFloorConfig(min_samples=3).rolling_config())
    for n in range(3):
        rolling.update(rec(20.0, detector="orb", time_bucket="open", n=n))
    i = inputs(EvFloorConfig(warmup="block", min_samples=3), slippage=rolling)
    assert i.slippage_level == "detector_time" and i.slippage_samples == 3
    assert i.round_trip_slippage_dollars == px(40.0)       # 2 × 20.00
    assert i.slippage_r == px(0.133333333)                 # 40 / 300
    assert not i.passed                                    # EV 0.1 < 0.1333
    # paper fills do not count for a broker-sourced floor: back to the prior
    paper = RollingSlippage(EvFloorConfig(min_samples=3).rolling_config())
    for n in range(3):
        paper.update(rec(20.0, source="paper", n=n))
    assert inputs(EvFloorConfig(warmup="block", min_samples=3), slippage=paper).slippage_level == "prior"


def test_price_improvement_never_lowers_the_floor() -> None:
    rolling = RollingSlippage(EvFloorConfig(min_samples=1).rolling_config())
    rolling.update(rec(-7.0))
    i = inputs(EvFloorConfig(warmup="block", min_samples=1, base_floor_r=0.05), slippage=rolling)
    assert i.round_trip_slippage_dollars == px(-14.0)
    assert (i.slippage_r, i.floor_r) == (0.0, px(0.05))


def test_risk_scale_and_delta_set_the_per_contract_risk() -> None:
    # an SPY setup: 1 point stop = 10 SPX points; delta 0.5: 1 × 10 × 0.5 × 100 = 500 dollars
    spy = cand(entry=590.0, stop=589.0, t1=591.5, t2=593.0)
    i = inputs(EvFloorConfig(warmup="block", risk_scale=10.0, target_delta=0.5), c=spy)
    assert i.risk_per_contract_dollars == px(500.0)
    assert i.slippage_r == px(0.02)                        # 10 / 500


def _closed(n: int, *, t1: bool, t2: bool) -> SetupInstance:
    return SetupInstance(id=f"s{n}", session_id="2024-03-11", detector="orb", detector_version=1,
                         symbol="SPX", direction="long", entry=1.0, stop=0.5, t1=2.0, t2=3.0,
                         detected_ms=1, trigger_deadline_ms=2, triggered_ms=2,
                         t1_ms=3 if t1 else None, closed_ms=4,
                         status="t2" if t2 else ("t1" if t1 else "stopped"))


def test_observed_hit_rates_replace_the_priors_after_min_setups() -> None:
    tally = OutcomeTally()
    # 20 closed triggered setups: 12 reached T1, 4 of them T2
    for n in range(20):
        tally.observe(_closed(n, t1=n < 12, t2=n < 4))
    tally.observe(SetupInstance(id="open", session_id="d", detector="orb", detector_version=1,
                                symbol="SPX", direction="long", entry=1, stop=0.5, t1=2, t2=3,
                                detected_ms=1, trigger_deadline_ms=2))   # not closed: ignored
    assert tally.counts("orb") == (20, 12, 4)
    i = inputs(EvFloorConfig(warmup="block", min_setups=10), tally=tally)
    assert (i.t1_hit_rate, i.t2_given_t1) == (px(0.6), px(0.333333333))   # 12/20, 4/12
    assert i.t1_rate_observed and i.t2_rate_observed
    # EV = 0.6 × (0.75 + 0.5 × (1/3 × 3)) − 0.4 = 0.6 × 1.25 − 0.4 = 0.35
    assert i.expected_value_r == px(0.35)
    # with min_setups 15, the 12 T1 hits are too few for p2: its prior 0.3 stays
    j = inputs(EvFloorConfig(warmup="block", min_setups=15), tally=tally)
    assert j.t1_rate_observed and not j.t2_rate_observed and j.t2_given_t1 == px(0.3)


def test_warmup_passes_on_priors_and_judges_once_the_hit_rate_is_observed() -> None:
    """With priors (p1 0.5, p2 0.3) EV = 0.5 x (0.5 x 2 + 0.5 x (0.3 x 4 + 0)) - 0.5 = 0.1 < a
    base floor of 0.2: a floor judged on priors would block every setup, none would close,
    and the rate could never be measured. ``warmup = "pass"`` (the default) lets it through
    with the would-be verdict recorded; after ``min_setups`` closed setups the floor judges."""
    tally = OutcomeTally()
    for n in range(9):
        tally.observe(_closed(n, t1=False, t2=False))
    warm = inputs(EvFloorConfig(base_floor_r=0.2, min_setups=10), tally=tally)
    assert warm.warming_up and not warm.clears_floor and warm.passed
    assert warm.expected_value_r == px(0.1)
    verdict, *info = ev_floor_checks(warm)
    assert verdict.passed and verdict.observed == px(0.1)
    assert info[-1].input == "evFloorWarmup" and info[-1].observed == 0.0
    tally.observe(_closed(9, t1=False, t2=False))     # the 10th: 0 of 10 reached T1
    judged = inputs(EvFloorConfig(base_floor_r=0.2, min_setups=10), tally=tally)
    assert not judged.warming_up and not judged.passed
    assert judged.expected_value_r == px(-1.0)        # p1 = 0: EV = -1
    assert all(c.input != "evFloorWarmup" for c in ev_floor_checks(judged))


@pytest.mark.parametrize(("key", "value", "message"), [
    ("target_delta", 1.5, "target_delta"),
    ("target_delta", 0.0, "target_delta"),
    ("source", "tradier", "source"),
    ("statistic", "mean", "statistic"),
    ("prior_t1_hit_rate", 1.2, "prior_t1_hit_rate"),
    ("min_samples", 300, "min_samples"),
])
def test_profile_table_values_out_of_range_name_the_key(key: str, value: object,
                                                        message: str) -> None:
    text = DEFAULT_PROFILE_TOML + f"\n[ev_floor]\n{key} = {value!r}\n".replace("'", '"')
    with pytest.raises(ConfigError, match=message):
        parse_profile(text, "p.toml")


def test_profile_table_unknown_key_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match=r"\[ev_floor\]: unknown key 'floor'"):
        parse_profile(DEFAULT_PROFILE_TOML + "\n[ev_floor]\nfloor = 1.0\n", "p.toml")


def test_absent_table_turns_the_gate_off_and_keeps_the_hash() -> None:
    plain = default_profile()
    assert plain.ev_floor is None
    with_table = parse_profile(DEFAULT_PROFILE_TOML + "\n[ev_floor]\nbase_floor_r = 0.2\n")
    assert with_table.ev_floor == EvFloorConfig(base_floor_r=0.2)
    h_plain = profile_hash(plain, resolve_detectors(plain, []))
    assert profile_hash(parse_profile(DEFAULT_PROFILE_TOML, "<default>"), []) == h_plain
    assert profile_hash(with_table, []) != h_plain


class _Fixed(Detector[DetectorParams]):
    """One long per bar: entry at the close, 10 points of risk, T1 +15, T2 +30."""

    name: ClassVar[str] = "fixed"
    version: ClassVar[int] = 1

    def on_bar(self, bar: MicrobarV1, ctx: BarContext) -> list[SetupCandidate]:
        assert bar.close is not None
        c = bar.close
        return [SetupCandidate(detector=self.name, detector_version=1, symbol=bar.symbol,
                               direction="long", entry=c, stop=c - 10.0, t1=c + 15.0,
                               t2=c + 30.0, bar_start_ms=bar.start_ms,
                               trigger_deadline_ms=bar.start_ms + 60_000)]


def _bar(sec: int) -> MicrobarV2:
    return MicrobarV2(symbol="SPX", start_ms=OPEN + sec * 1000, interval_ms=1000, open=5900.0,
                      high=5900.0, low=5900.0, close=5900.0, volume=10.0, trade_count=1,
                      vwap=5900.0, delta_volume=0.0, bid_ask_imbalance=0.0,
                      ask_bid_size_ratio=1.0, quote_coverage_pct=100.0, avg_spread_bps=1.0)


def _runner(table: str, slippage: RollingSlippage | None = None) -> DetectorRunner:
    text = DEFAULT_PROFILE_TOML + "\n[detectors.fixed]\nversion = 1\n" + table
    return DetectorRunner([_Fixed], parse_profile(text, "p.toml"), slippage=slippage)


def test_the_runner_records_the_verdict_and_counts_a_block_as_ev_floor() -> None:
    runner = _runner("\n[ev_floor]\nwarmup = \"block\"\nbase_floor_r = 0.1\n")
    (decision,) = [o for o in runner.on_bar(_bar(0)) if isinstance(o, GateDecision)]
    assert not decision.passed
    ev_rows = [c for c in decision.checks if c.gate == "ev_floor"]
    assert ev_rows[0].input == "expectedValueR" and ev_rows[0].threshold == px(0.133333333)
    assert len(ev_rows) == 10
    assert runner.report().gates["fixed"].reasons == {"ev_floor": 1}


def test_the_runner_reads_live_slippage_updates_between_bars() -> None:
    rolling = RollingSlippage(EvFloorConfig(min_samples=1).rolling_config())
    runner = _runner("\n[ev_floor]\nwarmup = \"block\"\nmin_samples = 1\nprior_slippage_dollars = 0.0\n", rolling)
    first = next(o for o in runner.on_bar(_bar(0)) if isinstance(o, GateDecision))
    assert first.passed                                    # EV 0.1 ≥ floor 0
    rolling.update(rec(20.0, detector="fixed", time_bucket="open"))
    second = next(o for o in runner.on_bar(_bar(1)) if isinstance(o, GateDecision))
    assert not second.passed                               # EV 0.1 < 40 / 300


def test_without_the_table_no_ev_floor_rows_are_written() -> None:
    runner = _runner("")
    (decision,) = [o for o in runner.on_bar(_bar(0)) if isinstance(o, GateDecision)]
    assert decision.passed and all(c.gate != "ev_floor" for c in decision.checks)


def test_the_pipeline_seeds_the_gate_with_the_stores_fills_of_the_configured_source(
        tmp_path: Path) -> None:
    from spxcc_core.pipeline import Pipeline
    from spxcc_core.plugins import get_plugin_manager
    from spxcc_core.slippage.rolling import BucketKey
    from spxcc_core.slippage.store import SlippageStore
    from spxcc_core.store import Store

    with Store(tmp_path / "p.sqlite3") as store:
        slip = SlippageStore(store)
        for n, (dollars, source) in enumerate([(5.0, "broker"), (15.0, "broker"),
                                               (2.5, "paper")]):
            slip.record(rec(dollars, source=source, n=n))
        table = parse_profile(DEFAULT_PROFILE_TOML + "\n[ev_floor]\nmin_samples = 1\n", "p")
        pipe = Pipeline(get_plugin_manager(), table, store=store, run_id_prefix="test")
        assert pipe.slippage is not None and pipe.runner.slippage is pipe.slippage
        broker_all = pipe.slippage.stat(BucketKey("broker", "all"))
        assert broker_all is not None and broker_all.count == 2      # the paper fill left out
        assert pipe.slippage.stat(BucketKey("paper", "all")) is None
        plain = Pipeline(get_plugin_manager(), store=store, run_id_prefix="test")
        assert plain.slippage is None and plain.runner.slippage is None
