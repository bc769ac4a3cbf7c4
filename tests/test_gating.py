"""Quote-aware gating: thresholds, null inputs, invalid candidates, profiles, reason counts."""

from __future__ import annotations

import attrs
import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from spxcc_detectors import BUILTIN_DETECTORS

from spxcc_core.contracts.microbar import MicrobarV1, MicrobarV2
from spxcc_core.contracts.setup import GateDecision, SetupCandidate
from spxcc_core.detect.gating import GatingProfile, decide, evaluate_gates
from spxcc_core.detect.profile import (
    DEFAULT_PROFILE_TOML,
    default_profile,
    parse_profile,
    resolve_detectors,
)
from spxcc_core.errors import ConfigError

T0 = 1_710_163_800_000
DEFAULT = GatingProfile()


def mbar(*, ratio: float | None = 1.0, imb: float | None = 0.0, spread: float | None = 1.0,
         cov: float | None = 100.0) -> MicrobarV2:
    return MicrobarV2(symbol="SPY", start_ms=T0, interval_ms=1000, open=100.0, high=100.0,
                      low=100.0, close=100.0, volume=10.0, trade_count=1, vwap=100.0,
                      delta_volume=0.0, bid_ask_imbalance=imb, ask_bid_size_ratio=ratio,
                      avg_spread_bps=spread, quote_coverage_pct=cov)


def cand(direction: str = "long", **kw: float) -> SetupCandidate:
    if direction == "long":
        prices = {"entry": 100.0, "stop": 99.0, "t1": 101.0, "t2": 102.0}
    else:
        prices = {"entry": 100.0, "stop": 101.0, "t1": 99.0, "t2": 98.0}
    prices.update(kw)
    return SetupCandidate(detector="d", detector_version=1, symbol="SPY",
                          direction=direction,  # type: ignore[arg-type]
                          bar_start_ms=T0, trigger_deadline_ms=T0 + 1000, **prices)


def failed(checks: tuple[object, ...]) -> list[tuple[str, str]]:
    return [(c.gate, c.input) for c in checks if not c.passed]  # type: ignore[attr-defined]


def test_all_pass_records_every_check() -> None:
    checks = evaluate_gates(cand(), mbar(), DEFAULT)
    assert [(c.gate, c.comparison, c.threshold, c.observed, c.passed) for c in checks] == [
        ("ask_bid_size_ratio", "<=", 3.0, 1.0, True),
        ("bid_ask_imbalance", ">=", -0.5, 0.0, True),
        ("spread", "<=", 5.0, 1.0, True),
        ("quote_coverage", ">=", 80.0, 100.0, True),
    ]


def test_heavy_offer_blocks_long_not_short() -> None:
    b = mbar(ratio=3.5)
    assert failed(evaluate_gates(cand("long"), b, DEFAULT)) == [
        ("ask_bid_size_ratio", "askBidSizeRatio")]
    assert failed(evaluate_gates(cand("short"), b, DEFAULT)) == []
    # the threshold itself passes (blocked only when strictly above 3.0)
    assert failed(evaluate_gates(cand("long"), mbar(ratio=3.0), DEFAULT)) == []


def test_heavy_bid_blocks_short_not_long() -> None:
    b = mbar(ratio=0.25)
    assert failed(evaluate_gates(cand("short"), b, DEFAULT)) == [
        ("ask_bid_size_ratio", "askBidSizeRatio")]
    assert failed(evaluate_gates(cand("long"), b, DEFAULT)) == []
    assert failed(evaluate_gates(cand("short"), mbar(ratio=0.33), DEFAULT)) == []


def test_normalized_imbalance_has_its_own_thresholds() -> None:
    # imbalance −0.6 (offer heavy) blocks a long; +0.6 blocks a short
    assert failed(evaluate_gates(cand("long"), mbar(imb=-0.6), DEFAULT)) == [
        ("bid_ask_imbalance", "bidAskImbalance")]
    assert failed(evaluate_gates(cand("short"), mbar(imb=0.6), DEFAULT)) == [
        ("bid_ask_imbalance", "bidAskImbalance")]
    assert failed(evaluate_gates(cand("short"), mbar(imb=-0.6), DEFAULT)) == []


def test_spread_and_coverage_block_both_directions() -> None:
    for d in ("long", "short"):
        assert failed(evaluate_gates(cand(d), mbar(spread=5.01, cov=79.9), DEFAULT)) == [
            ("spread", "avgSpreadBps"), ("quote_coverage", "quoteCoveragePct")]


def test_null_inputs_block_as_microstructure_unavailable() -> None:
    # no fresh quote at all: imbalance, spread and ratio null together
    checks = evaluate_gates(cand(), mbar(ratio=None, imb=None, spread=None), DEFAULT)
    assert failed(checks) == [("microstructure_unavailable", "askBidSizeRatio"),
                              ("microstructure_unavailable", "bidAskImbalance"),
                              ("microstructure_unavailable", "avgSpreadBps")]
    unavailable = [c for c in checks if c.gate == "microstructure_unavailable"]
    assert all(c.observed is None for c in unavailable)
    lenient = GatingProfile(missing="pass")
    checks = evaluate_gates(cand(), mbar(ratio=None, imb=None, spread=None), lenient)
    assert failed(checks) == []
    assert [c.gate for c in checks].count("microstructure_unavailable") == 3  # still recorded


def test_v1_bar_has_no_v2_fields() -> None:
    v1 = MicrobarV1(symbol="SPY", start_ms=T0, interval_ms=1000, open=1.0, high=1.0, low=1.0,
                    close=1.0, volume=1.0, trade_count=1, vwap=1.0, delta_volume=0.0,
                    bid_ask_imbalance=0.1)
    assert failed(evaluate_gates(cand(), v1, DEFAULT)) == [
        ("microstructure_unavailable", "askBidSizeRatio"),
        ("microstructure_unavailable", "avgSpreadBps"),
        ("microstructure_unavailable", "quoteCoveragePct")]


@pytest.mark.parametrize(("direction", "change", "field"), [
    ("long", {"stop": 100.5}, "stop"),
    ("long", {"t1": 99.5}, "t1"),
    ("long", {"t2": 100.5}, "t2"),
    ("short", {"stop": 99.0}, "stop"),
    ("long", {"entry": float("nan")}, "entry"),
])
def test_invalid_candidates_are_blocked_with_the_field(direction: str, change: dict[str, float],
                                                       field: str) -> None:
    d = decide(cand(direction, **change), mbar(), DEFAULT, setup_id="i", session_id="s")
    assert not d.passed
    assert failed(d.checks) == [("candidate_invalid", field)]


def test_decision_round_trips_on_the_wire() -> None:
    d = decide(cand(), mbar(ratio=4.0), DEFAULT, setup_id="i", session_id="2024-03-11")
    raw = msgspec.json.encode(d)
    assert b'"askBidSizeRatio"' in raw and b'"setupId":"i"' in raw
    assert msgspec.json.decode(raw, type=GateDecision) == d


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(ratio=st.none() | st.floats(0.01, 100), imb=st.none() | st.floats(-1, 1),
       spread=st.none() | st.floats(0, 50), cov=st.none() | st.floats(0, 100),
       direction=st.sampled_from(["long", "short"]), missing=st.sampled_from(["block", "pass"]))
def test_nothing_is_blocked_without_a_recorded_reason(ratio: float | None, imb: float | None,
                                                      spread: float | None, cov: float | None,
                                                      direction: str, missing: str) -> None:
    prof = GatingProfile(missing=missing)  # type: ignore[arg-type]
    d = decide(cand(direction), mbar(ratio=ratio, imb=imb, spread=spread, cov=cov), prof,
               setup_id="i", session_id="s")
    assert d.passed == all(c.passed for c in d.checks)
    assert len(d.checks) == 4
    if not d.passed:
        assert any(not c.passed for c in d.checks)
    for c in d.checks:
        one_sided_spread = c.input == "avgSpreadBps" and imb is not None  # never two-sided
        if c.observed is None and not one_sided_spread:
            assert c.gate == "microstructure_unavailable" and c.passed == (missing == "pass")
        elif c.observed is None:
            assert c.gate == "spread" and not c.passed


# -- profile ---------------------------------------------------------------------------------


def test_default_profile_matches_parameter_class_defaults() -> None:
    prof = default_profile(BUILTIN_DETECTORS)
    assert prof.gating == GatingProfile()
    for r in resolve_detectors(prof, BUILTIN_DETECTORS):
        assert r.from_profile
        assert r.params == r.cls.params_class(), r.cls.name
    assert "long_max_ask_bid_size_ratio = 3.0" in DEFAULT_PROFILE_TOML


@pytest.mark.parametrize(("text", "message"), [
    ('name="p"\nversion=1\nspeed=1', "unknown field `speed`"),
    ('name="p"\nversion=1\n[gating]\nmax_spread_bps=3', "[gating]: unknown key 'max_spread_bps'"),
    ('name="p"\nversion=1\n[gating]\nmin_quote_coverage_pct=120',
     "'min_quote_coverage_pct' must be in [0, 100]"),
    ('name="p"\nversion=1\n[gating]\nmissing="ignore"', "Invalid enum value 'ignore' - at `$.missing`"),
    ('name="p"\nversion=1\n[gating]\nmax_avg_spread_bps="5"', "Expected `float`, got `str`"),
    ('name="p"\nversion=1\n[outcome]\nt1_fraction=2.0', "'t1_fraction' must be in [0, 1]"),
    ('name="p"\nversion=1\n[detectors.vwap]\nversion=1\nenable=false',
     "[detectors.vwap]: Object contains unknown field `enable`"),
    ('name="p"\nversion=1\nversion=2', "invalid TOML"),
])
def test_bad_profiles_name_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_profile(text, "my.toml")
    assert "profile my.toml" in str(exc.value)
    assert message in str(exc.value)


@pytest.mark.parametrize(("table", "message"), [
    ("[detectors.vwap]\nversion=1\n[detectors.vwap.params]\nconfirm=2",
     "[detectors.vwap.params]: unknown key 'confirm'"),
    ("[detectors.vwap]\nversion=1\n[detectors.vwap.params]\nt1_r=3.0",
     "'t2_r' (2.0) must be >= 't1_r' (3.0)"),
    ("[detectors.vwap]\nversion=2", "is for version 2, the installed detector is version 1"),
    ("[detectors.vwapp]\nversion=1", "detector 'vwapp' is not installed"),
])
def test_bad_detector_tables_name_the_key(table: str, message: str) -> None:
    prof = parse_profile('name="p"\nversion=1\n' + table, "my.toml")
    with pytest.raises(ConfigError, match=None) as exc:
        resolve_detectors(prof, BUILTIN_DETECTORS)
    assert message in str(exc.value)


def test_profile_overrides_and_disables() -> None:
    prof = parse_profile('name="p"\nversion=1\n[gating]\nmax_avg_spread_bps=2.5\n'
                         '[detectors.vwap]\nversion=1\nenabled=false\n'
                         '[detectors.orb_pullback]\nversion=1\n'
                         '[detectors.orb_pullback.params]\nor_minutes=30\n')
    assert prof.gating == attrs.evolve(GatingProfile(), max_avg_spread_bps=2.5)
    resolved = {r.cls.name: r for r in resolve_detectors(prof, BUILTIN_DETECTORS)}
    assert set(resolved) == {"volume_climax", "orb_pullback"}
    assert resolved["orb_pullback"].params.or_minutes == 30
    assert not resolved["volume_climax"].from_profile  # absent → class defaults


def test_load_profile_missing_file_is_config_error(tmp_path: object) -> None:
    from pathlib import Path

    from spxcc_core.detect.profile import load_profile
    with pytest.raises(ConfigError, match="cannot read"):
        load_profile(Path(str(tmp_path)) / "nope.toml")
    p = Path(str(tmp_path)) / "ok.toml"
    p.write_text(DEFAULT_PROFILE_TOML, encoding="utf-8")
    assert load_profile(p).gating == GatingProfile()
