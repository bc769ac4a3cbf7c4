"""The quote-aware gates' documented thresholds, at their exact values and just beyond.

Rules (``spxcc_core.detect.gating`` docstring, docs/detectors.md "Quote-aware gating"): a long
passes when ``askBidSizeRatio <= long_max`` and ``bidAskImbalance >= long_min``; a short when
``askBidSizeRatio >= short_min`` and ``bidAskImbalance <= short_max``; both need
``avgSpreadBps <= max_avg_spread_bps`` and ``quoteCoveragePct >= min_quote_coverage_pct``. The
threshold itself passes. A profile with four different thresholds per side is used so that a
long threshold applied to a short (or a default used instead of the profile's value) shows.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from spxcc_core.contracts.microbar import MicrobarV1, MicrobarV2
from spxcc_core.contracts.setup import GateCheck, SetupCandidate
from spxcc_core.detect.gating import GatingProfile, decide, evaluate_gates, validate_candidate

T0 = 1_710_163_800_000
PROFILE = GatingProfile(long_max_ask_bid_size_ratio=2.5, short_min_ask_bid_size_ratio=0.4,
                        long_min_bid_ask_imbalance=-0.25, short_max_bid_ask_imbalance=0.75,
                        max_avg_spread_bps=4.0, min_quote_coverage_pct=90.0)
# Values that pass every gate of PROFILE on both sides.
OK = {"ratio": 1.0, "imb": 0.0, "spread": 1.0, "cov": 100.0}


def mbar(ratio: float | None = 1.0, imb: float | None = 0.0, spread: float | None = 1.0,
         cov: float | None = 100.0) -> MicrobarV2:
    return MicrobarV2(symbol="SPY", start_ms=T0, interval_ms=1000, open=100.0, high=100.0,
                      low=100.0, close=100.0, volume=10.0, trade_count=1, vwap=100.0,
                      delta_volume=0.0, bid_ask_imbalance=imb, ask_bid_size_ratio=ratio,
                      avg_spread_bps=spread, quote_coverage_pct=cov)


def cand(direction: str = "long", **prices: float) -> SetupCandidate:
    base: dict[str, Any] = ({"entry": 100.0, "stop": 99.0, "t1": 101.0, "t2": 102.0} if direction == "long"
            else {"entry": 100.0, "stop": 101.0, "t1": 99.0, "t2": 98.0})
    base.update(prices)
    return SetupCandidate(detector="d", detector_version=1, symbol="SPY",
                          direction=direction,  # type: ignore[arg-type]
                          bar_start_ms=T0, trigger_deadline_ms=T0 + 1000, **base)


def blocked(direction: str, **inputs: float | None) -> list[str]:
    values: dict[str, Any] = {**OK, **inputs}
    return [c.gate for c in evaluate_gates(cand(direction), mbar(**values), PROFILE)
            if not c.passed]


# (input, side, value that passes exactly at the threshold, value just beyond, gate)
BOUNDARIES = [
    ("ratio", "long", 2.5, 2.5001, "ask_bid_size_ratio"),
    ("ratio", "short", 0.4, 0.3999, "ask_bid_size_ratio"),
    ("imb", "long", -0.25, -0.2501, "bid_ask_imbalance"),
    ("imb", "short", 0.75, 0.7501, "bid_ask_imbalance"),
    ("spread", "long", 4.0, 4.0001, "spread"),
    ("spread", "short", 4.0, 4.0001, "spread"),
    ("cov", "long", 90.0, 89.999, "quote_coverage"),
    ("cov", "short", 90.0, 89.999, "quote_coverage"),
]


@pytest.mark.parametrize(("field", "side", "at", "beyond", "gate"), BOUNDARIES)
def test_threshold_passes_and_just_beyond_blocks(field: str, side: str, at: float,
                                                 beyond: float, gate: str) -> None:
    assert blocked(side, **{field: at}) == []
    assert blocked(side, **{field: beyond}) == [gate]


def test_each_side_ignores_the_other_sides_ratio_and_imbalance_limit() -> None:
    # a heavy offer (ratio 2.6 > 2.5) blocks a long only; a heavy bid (0.35 < 0.4) a short only
    assert blocked("short", ratio=2.6) == [] and blocked("long", ratio=0.35) == []
    # imbalance −0.3 (< −0.25) blocks a long only; +0.8 (> 0.75) a short only
    assert blocked("short", imb=-0.3) == [] and blocked("long", imb=0.8) == []


def test_checks_record_threshold_observed_and_comparison() -> None:
    checks = evaluate_gates(cand("short"), mbar(ratio=0.5, imb=0.1, spread=3.0, cov=95.0),
                            PROFILE)
    assert [(c.gate, c.input, c.comparison, c.threshold, c.observed, c.passed)
            for c in checks] == [
        ("ask_bid_size_ratio", "askBidSizeRatio", ">=", 0.4, 0.5, True),
        ("bid_ask_imbalance", "bidAskImbalance", "<=", 0.75, 0.1, True),
        ("spread", "avgSpreadBps", "<=", 4.0, 3.0, True),
        ("quote_coverage", "quoteCoveragePct", ">=", 90.0, 95.0, True),
    ]


@pytest.mark.parametrize(("field", "wire"), [("ratio", "askBidSizeRatio"),
                                             ("imb", "bidAskImbalance"),
                                             ("spread", "avgSpreadBps"),
                                             ("cov", "quoteCoveragePct")])
def test_a_null_input_is_microstructure_unavailable(field: str, wire: str) -> None:
    values: dict[str, Any] = {**OK, field: None}
    if field == "spread":
        values["imb"] = None  # no fresh quote at all (a null spread beside quotes is one-sided)
    for missing, passes in (("block", False), ("pass", True)):
        profile = GatingProfile(missing=missing)  # type: ignore[arg-type]
        checks = [c for c in evaluate_gates(cand("long"), mbar(**values), profile)
                  if c.input == wire]
        assert [(c.gate, c.observed, c.passed) for c in checks] == [
            ("microstructure_unavailable", None, passes)]


def test_a_v1_bar_has_no_ratio_spread_or_coverage() -> None:
    v1 = MicrobarV1(symbol="SPY", start_ms=T0, interval_ms=1000, open=100.0, high=100.0,
                    low=100.0, close=100.0, volume=10.0, trade_count=1, vwap=100.0,
                    delta_volume=0.0, bid_ask_imbalance=0.0)
    checks = evaluate_gates(cand("long"), v1, GatingProfile(missing="pass"))
    assert [(c.gate, c.input, c.passed) for c in checks] == [
        ("microstructure_unavailable", "askBidSizeRatio", True),
        ("bid_ask_imbalance", "bidAskImbalance", True),
        ("microstructure_unavailable", "avgSpreadBps", True),
        ("microstructure_unavailable", "quoteCoveragePct", True),
    ]


# -- candidate validity ------------------------------------------------------------------------


@pytest.mark.parametrize(("direction", "prices", "field"), [
    ("long", {"stop": 100.0}, "stop"),     # stop at the entry
    ("long", {"stop": 100.5}, "stop"),     # stop above a long's entry
    ("long", {"t1": 100.0}, "t1"),         # T1 at the entry
    ("long", {"t2": 100.9}, "t2"),         # T2 below T1
    ("short", {"stop": 100.0}, "stop"),
    ("short", {"stop": 99.5}, "stop"),
    ("short", {"t1": 100.0}, "t1"),
    ("short", {"t2": 99.1}, "t2"),
    ("long", {"entry": math.nan}, "entry"),
    ("short", {"t2": -math.inf}, "t2"),
    ("long", {"stop": math.inf}, "stop"),
    ("long", {"t1": math.nan}, "t1"),
])
def test_invalid_candidates_name_the_field(direction: str, prices: dict[str, float],
                                           field: str) -> None:
    check = validate_candidate(cand(direction, **prices))
    assert check is not None and (check.gate, check.input, check.passed) == (
        "candidate_invalid", field, False)
    checks = evaluate_gates(cand(direction, **prices), mbar(), PROFILE)
    assert [(c.gate, c.input) for c in checks] == [("candidate_invalid", field)]


def test_invalid_check_reports_the_entry_and_the_bad_price() -> None:
    def seen(c: SetupCandidate) -> tuple[object, ...]:
        check = validate_candidate(c)
        assert check is not None
        return (check.input, check.comparison, check.threshold, check.observed)

    assert seen(cand("long", stop=100.5)) == ("stop", "", 100.0, 100.5)
    assert seen(cand("long", t1=99.5)) == ("t1", "", 100.0, 99.5)
    assert seen(cand("short", t2=99.1)) == ("t2", "", 99.0, 99.1)  # T2 compared with T1 99
    assert seen(cand("long", t1=math.inf)) == ("t1", "", None, None)  # nothing to show


@pytest.mark.parametrize("direction", ["long", "short"])
def test_t2_equal_to_t1_is_valid(direction: str) -> None:
    t1 = 101.0 if direction == "long" else 99.0
    assert validate_candidate(cand(direction, t1=t1, t2=t1)) is None


# -- the decision --------------------------------------------------------------------------------


def test_decision_passes_only_when_every_check_passes() -> None:
    ok = decide(cand("short"), mbar(**OK), PROFILE, setup_id="s1",
                session_id="2024-03-11")
    assert ok.passed and len(ok.checks) == 4
    assert (ok.setup_id, ok.session_id, ok.detector, ok.detector_version, ok.symbol,
            ok.direction, ok.bar_start_ms) == ("s1", "2024-03-11", "d", 1, "SPY", "short", T0)
    one_bad = decide(cand("short"), mbar(cov=89.0), PROFILE, setup_id="s2",
                     session_id="2024-03-11")
    assert not one_bad.passed
    assert [c.passed for c in one_bad.checks] == [True, True, True, False]


# -- profile validation ----------------------------------------------------------------------


def test_documented_gate_defaults() -> None:
    p = GatingProfile()
    assert (p.long_max_ask_bid_size_ratio, p.short_min_ask_bid_size_ratio,
            p.long_min_bid_ask_imbalance, p.short_max_bid_ask_imbalance, p.max_avg_spread_bps,
            p.min_quote_coverage_pct, p.missing) == (3.0, 0.33, -0.5, 0.5, 5.0, 80.0, "block")


@pytest.mark.parametrize(("field", "value", "message"), [
    ("long_max_ask_bid_size_ratio", 0.0, "'long_max_ask_bid_size_ratio' must be > 0, got 0.0"),
    ("short_min_ask_bid_size_ratio", -1.0, "'short_min_ask_bid_size_ratio' must be > 0"),
    ("max_avg_spread_bps", math.inf, "'max_avg_spread_bps' must be finite, got inf"),
    ("long_max_ask_bid_size_ratio", math.nan, "'long_max_ask_bid_size_ratio' must be finite"),
    ("long_min_bid_ask_imbalance", -1.01, "'long_min_bid_ask_imbalance' must be in \\[-1, 1\\]"),
    ("short_max_bid_ask_imbalance", 1.01, "'short_max_bid_ask_imbalance' must be in \\[-1, 1\\]"),
    ("min_quote_coverage_pct", 100.5, "'min_quote_coverage_pct' must be in \\[0, 100\\]"),
    ("min_quote_coverage_pct", -0.5, "'min_quote_coverage_pct' must be in \\[0, 100\\]"),
    ("missing", "skip", "'missing' must be in"),
])
def test_profile_rejects_out_of_range_values(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GatingProfile(**{field: value})  # type: ignore[arg-type]


def test_profile_accepts_the_ends_of_each_range() -> None:
    GatingProfile(long_min_bid_ask_imbalance=-1.0, short_max_bid_ask_imbalance=1.0,
                  min_quote_coverage_pct=0.0)
    GatingProfile(long_min_bid_ask_imbalance=1.0, short_max_bid_ask_imbalance=-1.0,
                  min_quote_coverage_pct=100.0, missing="pass")
    GatingProfile(long_max_ask_bid_size_ratio=1e-9, max_avg_spread_bps=1e-9)


def test_gate_check_type() -> None:
    assert isinstance(evaluate_gates(cand(), mbar(), PROFILE)[0], GateCheck)


# -- one-sided quotes (docs/detectors.md "Quote-aware gating", spec/microbar.md 2026-12-06) -----
# No bid at the close: askBidSizeRatio null with bidSizeAtClose 0 is an infinite ratio, recorded
# as an ask_bid_size_ratio check with observed null: blocks a long, passes a short. Fresh quotes
# never two-sided: avgSpreadBps null while bidAskImbalance is not: a spread check with observed
# null that blocks both directions. Neither is microstructure_unavailable: `missing` is ignored.


def one_sided(*, ratio: float | None, bid_close: float | None, imb: float | None,
              spread: float | None) -> MicrobarV2:
    return MicrobarV2(symbol="SPY", start_ms=T0, interval_ms=1000, open=100.0, high=100.0,
                      low=100.0, close=100.0, volume=10.0, trade_count=1, vwap=100.0,
                      delta_volume=0.0, bid_ask_imbalance=imb, ask_bid_size_ratio=ratio,
                      avg_spread_bps=spread, quote_coverage_pct=100.0,
                      bid_size_at_close=bid_close, ask_size_at_close=120.0, quote_count=1)


def row(c: GateCheck) -> tuple[object, ...]:
    return (c.gate, c.input, c.comparison, c.threshold, c.observed, c.passed)


@pytest.mark.parametrize("missing", ["block", "pass"])
def test_no_bid_at_the_close_blocks_a_long_and_passes_a_short(missing: str) -> None:
    # two-sided earlier in the bucket (spread 1 bps, imbalance 0): only the ratio is one-sided
    profile = GatingProfile(**{**_PROFILE_ARGS, "missing": missing})
    bar = one_sided(ratio=None, bid_close=0.0, imb=0.0, spread=1.0)
    long_checks = evaluate_gates(cand("long"), bar, profile)
    short_checks = evaluate_gates(cand("short"), bar, profile)
    assert row(long_checks[0]) == ("ask_bid_size_ratio", "askBidSizeRatio", "<=", 2.5, None,
                                   False)
    assert row(short_checks[0]) == ("ask_bid_size_ratio", "askBidSizeRatio", ">=", 0.4, None,
                                    True)
    assert [c.passed for c in long_checks[1:] + short_checks[1:]] == [True] * 6


def test_a_null_ratio_with_a_bid_at_the_close_is_not_the_no_bid_case() -> None:
    # no fresh quote at the close (bidSizeAtClose null): microstructure_unavailable, for a short
    # too; it follows `missing`
    bar = one_sided(ratio=None, bid_close=None, imb=0.0, spread=1.0)
    for missing, passes in (("block", False), ("pass", True)):
        profile = GatingProfile(**{**_PROFILE_ARGS, "missing": missing})
        first = evaluate_gates(cand("short"), bar, profile)[0]
        assert (first.gate, first.input, first.observed, first.passed) == (
            "microstructure_unavailable", "askBidSizeRatio", None, passes)


@pytest.mark.parametrize("missing", ["block", "pass"])
@pytest.mark.parametrize("direction", ["long", "short"])
def test_fresh_quotes_never_two_sided_have_no_spread_and_block(missing: str,
                                                               direction: str) -> None:
    # bid 0 x 0 all bucket: imbalance -1 (fresh), no spread, no bid at the close
    profile = GatingProfile(**{**_PROFILE_ARGS, "missing": missing})
    bar = one_sided(ratio=None, bid_close=0.0, imb=-1.0, spread=None)
    checks = evaluate_gates(cand(direction), bar, profile)
    assert row(checks[2]) == ("spread", "avgSpreadBps", "<=", 4.0, None, False)
    # the long also fails the ratio (infinite) and the imbalance (-1 < -0.25); coverage passes
    assert [c.passed for c in checks] == ([False, False, False, True] if direction == "long"
                                          else [True, True, False, True])


_PROFILE_ARGS: dict[str, Any] = {
    "long_max_ask_bid_size_ratio": 2.5, "short_min_ask_bid_size_ratio": 0.4,
    "long_min_bid_ask_imbalance": -0.25, "short_max_bid_ask_imbalance": 0.75,
    "max_avg_spread_bps": 4.0, "min_quote_coverage_pct": 90.0}
