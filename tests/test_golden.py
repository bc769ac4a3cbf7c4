"""Golden replay fixtures: committed inputs, decoders of every version, verify / regen, diffs,
and the reviewed facts of each case (see ``tests/golden/<case>/README.md``)."""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spxcc_core.aggregate.report import QuarantineRecord
from spxcc_core.cli import main
from spxcc_core.contracts.microbar import MicrobarV2
from spxcc_core.contracts.registry import all_contracts
from spxcc_core.contracts.setup import GateDecision, SetupInstance
from spxcc_core.errors import ConfigError, InputError
from spxcc_core.golden.cases import CASES, case_names, get_case
from spxcc_core.golden.diff import diff_file
from spxcc_core.golden.generate import Regime, Segment, generate_events
from spxcc_core.golden.io import encode_inputs, input_files, read_inputs
from spxcc_core.golden.run import EXPECTED_FILES, decode_report, restrict
from spxcc_core.golden.sessions import golden_sessions

GOLDEN = Path(__file__).resolve().parent / "golden"
NY = ZoneInfo("America/New_York")

#: Contract family of each committed golden file (inputs are named ``<stem>.v<N>.jsonl``).
FAMILIES = {
    "microbars.jsonl": "microbar",
    "setups.jsonl": "setup",
    "gate_decisions.jsonl": "gate_decision",
    "quarantine.jsonl": "quarantine_record",
    "report.json": "golden_report",
}


#: Families whose classes are not (yet) in the contract registry.
UNREGISTERED: dict[str, list[type[msgspec.Struct]]] = {"quarantine_record": [QuarantineRecord]}


def ny_ms(case: str, clock: str) -> int:
    day = get_case(case).regime.date
    h, m, s = (int(p) for p in clock.split(":"))
    return int(dt.datetime(day.year, day.month, day.day, h, m, s, tzinfo=NY).timestamp()) * 1000


def lines(path: Path) -> list[bytes]:
    return [ln for ln in path.read_bytes().splitlines() if ln.strip()]


def expected(case: str, name: str, cls: type[msgspec.Struct]) -> list:
    dec = msgspec.json.Decoder(cls)
    return [dec.decode(ln) for ln in lines(GOLDEN / case / "expected" / name)]


# ----------------------------------------------------------------------------- inputs


@pytest.mark.parametrize("case", case_names())
def test_committed_inputs_are_the_seeded_generators_bytes(case: str) -> None:
    fresh = encode_inputs(generate_events(CASES[case].regime))
    assert sorted(fresh) == ["quotes.v1.jsonl", "trades.v1.jsonl"]
    for name, data in fresh.items():
        assert (GOLDEN / case / name).read_bytes() == data, f"{case}/{name} drifted"


def test_every_case_has_inputs_readme_and_every_expected_file() -> None:
    assert case_names() == ["trend_day", "chop_day", "gap_and_flush", "rules_day"]
    for case in case_names():
        d = GOLDEN / case
        assert input_files(d) == {"quotes.v1.jsonl": ("quote", 1),
                                  "trades.v1.jsonl": ("trade", 1)}
        assert (d / "README.md").is_file()
        for name in EXPECTED_FILES:
            assert (d / "expected" / name).is_file(), f"{case}: expected/{name} missing"


def test_every_current_decoder_reads_every_committed_golden_file() -> None:
    known = all_contracts()
    decoded = 0
    for case_dir in sorted(p for p in GOLDEN.iterdir() if p.is_dir()):
        files = {n: fam for n, (fam, _v) in input_files(case_dir).items()}
        files.update({f"expected/{n}": fam for n, fam in FAMILIES.items()})
        for name, family in files.items():
            versions = [cls for (fam, _v), cls in known.items() if fam == family]
            versions = versions or UNREGISTERED.get(family, [])
            assert versions, f"no decoder for {family}"
            data = (case_dir / name).read_bytes()
            rows = [data] if name.endswith(".json") else [ln for ln in data.splitlines()
                                                          if ln.strip()]
            for cls in versions:  # every version of the family reads every line
                dec = msgspec.json.Decoder(cls)
                for i, row in enumerate(rows, start=1):
                    try:
                        dec.decode(row)
                    except msgspec.DecodeError as exc:
                        pytest.fail(f"{case_dir.name}/{name} line {i}: {cls.__name__} "
                                    f"v{cls.contract_version} cannot read it: {exc}")
                    decoded += 1
    # microbar@1 and microbar@2 both read the bars: old readers keep working
    assert {v for (fam, v) in known if fam == "microbar"} >= {1, 2}
    assert decoded > 20_000


def test_read_inputs_names_the_file_and_line_of_a_bad_row(tmp_path: Path) -> None:
    shutil.copy(GOLDEN / "chop_day" / "quotes.v1.jsonl", tmp_path / "quotes.v1.jsonl")
    good = (GOLDEN / "chop_day" / "trades.v1.jsonl").read_bytes().splitlines(keepends=True)
    (tmp_path / "trades.v1.jsonl").write_bytes(good[0] + b'{"symbol":"SPY","ts":"x"}\n')
    with pytest.raises(InputError) as info:
        read_inputs(tmp_path)
    assert "trades.v1.jsonl, row 2: not a Trade object" in str(info.value)
    (tmp_path / "trades.v1.jsonl").unlink()
    with pytest.raises(InputError, match=r"needs trades\.v<N>\.jsonl and quotes\.v<N>\.jsonl"):
        read_inputs(tmp_path)
    (tmp_path / "trades.v9.jsonl").write_bytes(good[0])
    with pytest.raises(InputError, match="unknown contract trade@9"):
        read_inputs(tmp_path)


def test_regime_segments_must_be_contiguous() -> None:
    bad = Regime(symbol="SPY", date=dt.date(2024, 3, 5), seed=1, open_price=100.0,
                 segments=(Segment(start="09:30", end="09:31"),
                           Segment(start="09:32", end="09:33")))
    with pytest.raises(ConfigError, match="segment 09:32-09:33: segments must be contiguous"):
        generate_events(bad)
    with pytest.raises(ConfigError, match="unknown golden case 'nope'"):
        get_case("nope")


@given(seed=st.integers(0, 2**32), gap=st.integers(1, 6), rate=st.floats(0.0, 3.0),
       buy=st.floats(0.0, 1.0), spread=st.integers(0, 5))
def test_generator_is_deterministic_ordered_and_keeps_quote_gaps(seed: int, gap: int,
                                                                 rate: float, buy: float,
                                                                 spread: int) -> None:
    regime = Regime(symbol="SPY", date=dt.date(2024, 3, 5), seed=seed, open_price=500.0,
                    segments=(Segment(start="09:30", end="09:32", trade_rate=rate,
                                      buy_share=buy, spread_cents=spread, quote_gap_s=gap,
                                      bursts=("09:31:00",)),))
    a, b = generate_events(regime), generate_events(regime)
    assert encode_inputs(a) == encode_inputs(b)
    for feed in (a.trades, a.quotes):
        stamps = [e.ts for e in feed]
        assert stamps == sorted(stamps)
    assert all(q.ask - q.bid == pytest.approx(spread / 100) for q in a.quotes)
    stamps = [q.ts for q in a.quotes]
    assert max(y - x for x, y in itertools.pairwise(stamps)) <= gap * 10**9
    assert len(a.trades) >= 6  # the burst alone prints 6..9 trades


# ----------------------------------------------------------------------------- verify / regen


def test_verify_passes_on_the_committed_cases(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["golden", "verify", "--golden-dir", str(GOLDEN)]) == 0
    out = capsys.readouterr().out
    assert "trend_day: ok (orb_pullback, volume_climax, vwap)" in out
    assert out.rstrip().endswith("golden: 4 of 4 cases match")


def copy_case(tmp_path: Path, case: str) -> Path:
    shutil.copytree(GOLDEN / case, tmp_path / case)
    return tmp_path / case


def test_verify_shows_field_level_differences_and_exits_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = copy_case(tmp_path, "trend_day")
    bars = (d / "expected" / "microbars.jsonl").read_bytes().splitlines(keepends=True)
    bar = msgspec.json.decode(bars[2])  # 09:30:04: one bar, close 508.36 (README)
    assert bar["close"] == 508.36
    bar["close"] = 999.0
    bars[2] = msgspec.json.encode(bar) + b"\n"
    (d / "expected" / "microbars.jsonl").write_bytes(b"".join(bars))
    setups = lines(d / "expected" / "setups.jsonl")
    (d / "expected" / "setups.jsonl").write_bytes(b"\n".join(setups[1:]) + b"\n")
    code = main(["golden", "verify", "--golden-dir", str(tmp_path), "--case", "trend_day"])
    out = capsys.readouterr().out
    assert code == 1
    assert "trend_day: MISMATCH" in out
    assert "microbars.jsonl: 1 changed, 0 added, 0 removed (1379 -> 1379 records)" in out
    assert "changed bar SPY 09:30:04 (1709649004000): close: 999.0 -> 508.36" in out
    assert "setups.jsonl: 0 changed, 1 added, 0 removed (5 -> 6 records)" in out
    assert "added setup volume_climax short 09:34:08 008cc4f3" in out
    assert out.rstrip().endswith("golden: 0 of 1 cases match")


def test_verify_flags_inputs_that_drifted_from_the_generator(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = copy_case(tmp_path, "chop_day")
    quotes = (d / "quotes.v1.jsonl").read_bytes()
    (d / "quotes.v1.jsonl").write_bytes(quotes + quotes.splitlines(keepends=True)[-1])
    assert main(["golden", "verify", "--golden-dir", str(tmp_path), "--case",
                 "chop_day"]) == 1
    out = capsys.readouterr().out
    assert "quotes.v1.jsonl: differs from the seeded generator's output" in out
    assert "report.json:" in out  # the input hash and quote count changed too


def test_regen_rewrites_expected_files_and_prints_the_diff(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = copy_case(tmp_path, "gap_and_flush")
    decisions = lines(d / "expected" / "gate_decisions.jsonl")
    (d / "expected" / "gate_decisions.jsonl").write_bytes(b"\n".join(decisions[:-1]) + b"\n")
    (d / "expected" / "quarantine.jsonl").unlink()
    assert main(["golden", "regen", "--golden-dir", str(tmp_path), "--case",
                 "gap_and_flush"]) == 0
    out = capsys.readouterr().out
    assert "gap_and_flush: regenerated (orb_pullback, volume_climax, vwap)" in out
    assert "microbars.jsonl: unchanged (1773 lines)" in out
    assert "gate_decisions.jsonl: 0 changed, 1 added, 0 removed (1 -> 2 records)" in out
    assert "quarantine.jsonl: new file (4 lines)" in out
    assert "report.json: unchanged (same)" in out
    for name in EXPECTED_FILES:
        assert (d / "expected" / name).read_bytes() == \
            (GOLDEN / "gap_and_flush" / "expected" / name).read_bytes()


def test_cli_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["golden", "verify", "--case", "nope"]) == 2
    err = capsys.readouterr().err
    assert err == ("spxcc: error: unknown golden case 'nope' (known: trend_day, chop_day, "
                   "gap_and_flush, rules_day)\n")
    assert main(["golden", "verify", "--detectors", " , "]) == 2
    assert "give at least one detector name" in capsys.readouterr().err


def test_restrict_keeps_only_the_named_detectors() -> None:
    exp = GOLDEN / "chop_day" / "expected"
    files = {n: (exp / n).read_bytes() for n in EXPECTED_FILES}
    only = restrict(files, ["vwap"], drop_profile_hash=True)
    setups = [msgspec.json.decode(ln) for ln in only["setups.jsonl"].splitlines()]
    assert [(s["detector"], s["note"], s["profileHash"]) for s in setups] == [
        ("vwap", "rejection", ""), ("vwap", "rejection", "")]
    assert list(decode_report(only["report.json"]).detectors) == ["vwap"]
    assert only["microbars.jsonl"] == files["microbars.jsonl"]


# ----------------------------------------------------------------------------- diffs


def test_diff_of_jsonl_records_and_report_fields() -> None:
    old = (b'{"symbol":"SPY","startMs":1709649004000,"close":1.0,"volume":5.0}\n'
           b'{"symbol":"SPY","startMs":1709649005000,"close":2.0,"volume":5.0}\n')
    new = (b'{"symbol":"SPY","startMs":1709649004000,"close":1.5,"volume":5.0}\n'
           b'{"symbol":"SPY","startMs":1709649006000,"close":2.0,"volume":5.0}\n')
    assert diff_file("microbars.jsonl", old, new) == [
        "microbars.jsonl: 1 changed, 1 added, 1 removed (2 -> 2 records)",
        "  changed bar SPY 09:30:04 (1709649004000): close: 1.0 -> 1.5",
        "  added bar SPY 09:30:06 (1709649006000)",
        "  removed bar SPY 09:30:05 (1709649005000)",
    ]
    assert diff_file("report.json", b'{"a":{"b":1,"c":[{"d":2}]}}',
                     b'{"a":{"b":1,"c":[{"d":3}]},"e":null}') == [
        "report.json: 2 fields changed",
        "  a.c[0].d: 2 -> 3",
        "  e: '<absent>' -> None",
    ]
    assert diff_file("setups.jsonl", old, old) == ["setups.jsonl: unchanged (2 lines)"]


# ----------------------------------------------------------------------------- the sessions


@pytest.mark.parametrize("case", case_names())
def test_kit_sessions_are_the_bars_the_replay_writes(case: str) -> None:
    (session,) = golden_sessions([case])
    enc = msgspec.json.Encoder()
    assert enc.encode_lines(session.bars) == \
        (GOLDEN / case / "expected" / "microbars.jsonl").read_bytes()
    assert session.session_date == get_case(case).regime.date.isoformat()


def test_trend_day_reviewed_facts() -> None:
    bars = expected("trend_day", "microbars.jsonl", MicrobarV2)
    closes = [b.close for b in bars if b.close is not None]
    assert closes[0] == 508.36 and closes[-1] == 512.24
    setups = {(s.detector, s.direction, s.detected_ms): s
              for s in expected("trend_day", "setups.jsonl", SetupInstance)}
    orb = setups[("orb_pullback", "long", ny_ms("trend_day", "10:00:20"))]
    # entry at the pullback bar's high, stop 2 bps under the opening-range high 508.49
    assert (orb.entry, orb.status, orb.realized_r) == (508.57, "t2", 1.5)
    assert orb.stop == pytest.approx(508.49 * (1 - 2e-4))
    vwap = setups[("vwap", "short", ny_ms("trend_day", "09:45:09"))]
    assert (vwap.note, vwap.status, vwap.realized_r) == ("rejection", "stopped", -1.0)
    report = decode_report((GOLDEN / "trend_day" / "expected" / "report.json").read_bytes())
    assert report.aggregation.quarantined == {} and report.aggregation.duplicates == 0
    assert report.detectors["volume_climax"].outcomes.t1_hit_rate == 1.0


def test_chop_day_reviewed_facts() -> None:
    bars = expected("chop_day", "microbars.jsonl", MicrobarV2)
    highs = [b.high for b in bars if b.high is not None]
    lows = [b.low for b in bars if b.low is not None]
    assert (max(highs), min(lows)) == (512.78, 511.05)  # a 34 bps range all morning
    setups = expected("chop_day", "setups.jsonl", SetupInstance)
    assert [(s.detector, s.status) for s in setups] == [
        ("vwap", "stopped"), ("volume_climax", "stopped"), ("orb_pullback", "t1"),
        ("vwap", "stopped")]
    report = decode_report((GOLDEN / "chop_day" / "expected" / "report.json").read_bytes())
    assert report.detectors["vwap"].outcomes.expectancy_r == -1.0


def test_gap_and_flush_reviewed_facts() -> None:
    bars = expected("gap_and_flush", "microbars.jsonl", MicrobarV2)
    open_ms = ny_ms("gap_and_flush", "09:30:00")
    pre = [b.vwap for b in bars if b.start_ms < open_ms and b.vwap is not None]
    first_rth = next(b for b in bars if b.start_ms >= open_ms)
    # pre-market last traded near 506.44; the first RTH second prints ~0.96 % higher
    assert pre[-1] == pytest.approx(506.44)
    assert first_rth.start_ms == open_ms
    assert first_rth.open == 511.31 and first_rth.open > pre[-1] * 1.009
    flush = [b for b in bars if ny_ms("gap_and_flush", "09:46:00") <= b.start_ms
             < ny_ms("gap_and_flush", "09:50:00")]
    # 205 traded seconds in the flush: 150 with spreads above 5 bps, 104 with quote coverage
    # below 80 %, 54 without any fresh quote (no spread at all)
    assert len(flush) == 205
    assert sum(1 for b in flush if b.avg_spread_bps is not None and b.avg_spread_bps > 5) == 150
    assert sum(1 for b in flush if b.quote_coverage_pct < 80) == 104
    assert sum(1 for b in flush if b.avg_spread_bps is None) == 54
    decisions = expected("gap_and_flush", "gate_decisions.jsonl", GateDecision)
    assert [(d.detector, d.direction, d.passed) for d in decisions] == [
        ("vwap", "long", True), ("orb_pullback", "short", False)]
    assert decisions[1].bar_start_ms == ny_ms("gap_and_flush", "09:46:55")
    assert sorted({c.gate for c in decisions[1].checks if not c.passed}) == [
        "microstructure_unavailable", "quote_coverage", "spread"]
    (setup,) = expected("gap_and_flush", "setups.jsonl", SetupInstance)
    assert (setup.detector, setup.note, setup.status, setup.realized_r) == (
        "vwap", "rejection", "stopped", -1.0)
    quarantine = [msgspec.json.decode(ln) for ln in
                  lines(GOLDEN / "gap_and_flush" / "expected" / "quarantine.jsonl")]
    assert [(q["kind"], q["reason"]) for q in quarantine] == [
        ("quote", "crossed_quote"), ("trade", "correction"), ("trade", "late"),
        ("trade", "duplicate")]
