"""Stated golden expectations (``expect.toml``): the committed outputs agree with them,
separately from the byte diff; ``verify`` reports contradictions; ``regen`` refuses to write
outputs that contradict them; the rules_day case bites when a documented rule changes; every
case total is pinned here with its hand-worked value (README of each case)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import msgspec
import pytest

from spxcc_core.cli import main
from spxcc_core.contracts.setup import GateDecision
from spxcc_core.detect.profile import parse_profile
from spxcc_core.detect.runner import DetectorRunner
from spxcc_core.errors import InputError
from spxcc_core.golden.cases import case_names, get_case
from spxcc_core.golden.expect import (
    EXPECT_FILE,
    check_expectations,
    check_expected_files,
    load_expectations,
    parse_expectations,
)
from spxcc_core.golden.run import decode_report
from spxcc_core.golden.sessions import golden_sessions
from spxcc_core.golden.verify import PACKAGED_GOLDEN_DIR, default_golden_dir
from spxcc_core.plugins import get_plugin_manager

GOLDEN = PACKAGED_GOLDEN_DIR


def _files(case: str) -> dict[str, bytes]:
    exp = GOLDEN / case / "expected"
    return {n: (exp / n).read_bytes() for n in ("setups.jsonl", "gate_decisions.jsonl")}


@pytest.mark.parametrize("case", case_names())
def test_committed_outputs_agree_with_the_stated_expectations(case: str) -> None:
    exp = load_expectations(GOLDEN / case / EXPECT_FILE)
    assert exp.case == case
    assert check_expected_files(exp, _files(case), get_case(case).regime.date) == []


#: Every case total, worked by hand from the setups in each case's README (gross R).
TOTALS = {
    # (0.5 − 1 + 1.5 × 4) / 6 = 11/12; T1 reached by 5 of 6
    "trend_day": (6, 6, 5 / 6, 11 / 12),
    # (−1 − 1 + 0.5 − 1) / 4
    "chop_day": (4, 4, 1 / 4, -0.625),
    "gap_and_flush": (1, 1, 0.0, -1.0),
    # (0.5 − 1 + 1.5) / 3 over the triggered; the untriggered climax is in no denominator
    "rules_day": (4, 3, 2 / 3, 1 / 3),
}


@pytest.mark.parametrize("case", case_names())
def test_every_case_total_is_pinned(case: str) -> None:
    report = decode_report((GOLDEN / case / "expected" / "report.json").read_bytes())
    setups = sum(d.setups for d in report.detectors.values())
    triggered = sum(d.outcomes.triggered for d in report.detectors.values())
    t1 = sum(d.outcomes.t1_hits for d in report.detectors.values())
    rs = [msgspec.json.decode(ln)["realizedR"] for ln in _files(case)["setups.jsonl"].splitlines()]
    closed = [r for r in rs if r is not None]
    want_setups, want_triggered, want_rate, want_exp = TOTALS[case]
    assert (setups, triggered) == (want_setups, want_triggered)
    assert t1 / triggered == pytest.approx(want_rate)
    assert sum(closed) / len(closed) == pytest.approx(want_exp)
    stated = load_expectations(GOLDEN / case / EXPECT_FILE).totals
    assert stated.expectancy_r == pytest.approx(want_exp, abs=1e-3)


def test_every_case_states_its_expectations_and_every_burst() -> None:
    from spxcc_core.golden.expect import unstated_bursts

    for case in case_names():
        exp = load_expectations(GOLDEN / case / EXPECT_FILE)
        assert exp.setup and exp.event, case
        assert unstated_bursts(exp, get_case(case).regime) == [], case


def test_the_cases_ship_inside_the_package_and_pyproject_includes_them() -> None:
    import fnmatch
    import tomllib

    assert default_golden_dir() == GOLDEN
    assert (Path(__file__).parent / "golden").resolve() == GOLDEN.resolve()
    conf = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    globs = conf["tool"]["setuptools"]["package-data"]["spxcc_core.golden"]
    pkg = GOLDEN.parent
    files = [p.relative_to(pkg).as_posix() for p in GOLDEN.rglob("*") if p.is_file()]
    assert len(files) >= 4 * 9
    for f in files:
        assert any(fnmatch.fnmatch(f, g) for g in globs), f"{f} is not package data"


def test_the_wheel_carries_every_golden_file(tmp_path: Path) -> None:
    """Issue 7: from a wheel install `spxcc golden verify` found no fixtures."""
    import importlib.util
    import subprocess
    import sys
    import zipfile

    if importlib.util.find_spec("pip") is None:
        pytest.skip("pip is not available to build the wheel")
    repo = Path(__file__).parents[1]
    src = tmp_path / "src"
    shutil.copytree(repo, src, symlinks=True, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "*.egg-info", "__pycache__", ".nox", ".*_cache", "tests",
        "benchmarks", "examples"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w",
                           str(tmp_path / "dist"), str(src)],
                          capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot build the wheel here: {proc.stderr.strip().splitlines()[-1:]}")
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for f in GOLDEN.rglob("*"):
        if f.is_file():
            assert f"spxcc_core/golden/{f.relative_to(GOLDEN.parent).as_posix()}" in names


# ----------------------------------------------------------------------------- the format


def test_malformed_expectations_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a golden expectations file"):
        parse_expectations(b"case = ")
    with pytest.raises(InputError, match=r"Object contains unknown field `sttus`"):
        parse_expectations(b'case = "x"\ndetectors = []\n[[setup]]\ndetector = "v"\n'
                           b'direction = "long"\nwindow = ["09:30:00", "09:31:00"]\n'
                           b'sttus = "t1"\nstatus = "t1"\nwhy = "w"\n')
    with pytest.raises(InputError, match="give exactly one of `candidate` and `none`"):
        parse_expectations(b'case = "x"\ndetectors = []\n[[event]]\nname = "e"\n'
                           b'window = ["09:30:00", "09:31:00"]\n')
    with pytest.raises(InputError, match="'9:3' is not HH:MM:SS"):
        parse_expectations(b'case = "x"\ndetectors = []\n[[event]]\nname = "e"\n'
                           b'window = ["9:3", "09:31:00"]\nnone = "r"\n')
    with pytest.raises(InputError, match="cannot read"):
        load_expectations(tmp_path / "absent.toml")


def test_check_names_each_contradiction() -> None:
    exp = load_expectations(GOLDEN / "chop_day" / EXPECT_FILE)
    files = _files("chop_day")
    # drop the burst's setup and decision: the setup is missing, the event has no candidate,
    # the totals no longer add up
    keep = [ln for ln in files["setups.jsonl"].splitlines() if b"volume_climax" not in ln]
    files["setups.jsonl"] = b"\n".join(keep) + b"\n"
    keep = [ln for ln in files["gate_decisions.jsonl"].splitlines() if b"volume_climax" not in ln]
    files["gate_decisions.jsonl"] = b"\n".join(keep) + b"\n"
    problems = check_expected_files(exp, files, get_case("chop_day").regime.date)
    assert "totals.candidates: 3 (stated 4)" in problems
    assert ("totals.setups_by_detector: {'orb_pullback': 1, 'volume_climax': 0, 'vwap': 2} "
            "(stated {'orb_pullback': 1, 'volume_climax': 1, 'vwap': 2})") in problems
    assert any(p.startswith("setup volume_climax long 10:11:03-10:11:03 (the scripted burst")
               and p.endswith("missing") for p in problems)
    assert "event 'buying burst' 10:11:03-10:11:03: no volume_climax long candidate" in problems


# ----------------------------------------------------------------------------- verify / regen


def _copy(tmp_path: Path, case: str) -> Path:
    shutil.copytree(GOLDEN / case, tmp_path / case)
    return tmp_path / case


def test_verify_checks_the_statements_separately_from_the_byte_diff(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _copy(tmp_path, "gap_and_flush")
    text = (d / EXPECT_FILE).read_text()
    (d / EXPECT_FILE).write_text(text.replace('status = "stopped"', 'status = "t2"'))
    code = main(["golden", "verify", "--golden-dir", str(tmp_path), "--case", "gap_and_flush"])
    out = capsys.readouterr().out
    assert code == 1
    # the bytes match; only the statement is contradicted
    assert "setups.jsonl:" not in out
    assert ("expect.toml: setup vwap long 09:41:00-09:42:00 (the gap fades back to VWAP from "
            "above (09:35-09:46 sag) and the rejection fails): status stopped (stated t2)") in out
    (d / EXPECT_FILE).unlink()
    assert main(["golden", "verify", "--golden-dir", str(tmp_path), "--case",
                 "gap_and_flush"]) == 1
    assert "expect.toml: missing" in capsys.readouterr().out


def test_regen_refuses_to_write_outputs_that_contradict_the_statements(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _copy(tmp_path, "gap_and_flush")
    before = {p: p.read_bytes() for p in d.rglob("*") if p.is_file()}
    (d / "expected" / "setups.jsonl").write_bytes(b"")  # would be rewritten by a regen
    before[d / "expected" / "setups.jsonl"] = b""
    text = (d / EXPECT_FILE).read_text()
    (d / EXPECT_FILE).write_text(text.replace("r = -1.0", "r = 1.5"))
    before[d / EXPECT_FILE] = (d / EXPECT_FILE).read_bytes()
    code = main(["golden", "regen", "--golden-dir", str(tmp_path), "--case", "gap_and_flush"])
    out = capsys.readouterr().out
    assert code == 1
    assert "gap_and_flush: REFUSED" in out
    assert "nothing written: the new outputs contradict the stated expectations" in out
    assert "R -1.0 (stated 1.5)" in out
    assert {p: p.read_bytes() for p in d.rglob("*") if p.is_file()} == before


# ----------------------------------------------------------------------------- rules_day bites


def _run_rules_day(profile_toml: str | None = None) -> list[str]:
    (session,) = golden_sessions(["rules_day"])
    profile = None if profile_toml is None else parse_profile(profile_toml)
    runner = DetectorRunner(get_plugin_manager(load_entrypoints=False), profile)
    decisions: list[GateDecision] = []
    for bar in session.bars:
        decisions += [o for o in runner.on_bar(bar) if isinstance(o, GateDecision)]
    runner.finish()
    exp = load_expectations(GOLDEN / "rules_day" / EXPECT_FILE)
    return check_expectations(exp, runner.setups(), decisions,
                              get_case("rules_day").regime.date)


def _profile(detector: str, **params: Any) -> str:
    """The default profile's TOML with one detector's table overriding ``params`` (the other
    detectors, absent, run with their class defaults)."""
    from spxcc_core.detect.profile import DEFAULT_PROFILE_TOML

    extra = "".join(f"{k} = {v!r}\n" for k, v in params.items())
    return (f"{DEFAULT_PROFILE_TOML}[detectors.{detector}]\nversion = 1\n"
            f"[detectors.{detector}.params]\n{extra}")


def test_rules_day_agrees_with_the_default_rules() -> None:
    assert _run_rules_day() == []


@pytest.mark.parametrize(("detector", "params", "expected_problem"), [
    # no cooldown: the second climax 21 bars after the first becomes a candidate
    ("volume_climax", {"cooldown_bars": 0}, "event 'second climax, 20 bars after the first'"),
    # no cooldown: the second dip to VWAP becomes a candidate
    ("vwap", {"cooldown_bars": 0}, "event 'second dip to VWAP'"),
    # two signals per side: the retest after the re-break becomes a candidate
    ("orb_pullback", {"signals_per_side": 2}, "event 'drop under VWAP and the OR high"),
    # a failure threshold a hair wider than the 5.00 bps close: the failed breakout's bar
    # becomes a pullback candidate (what `close_bps < -fail_bps` would do)
    ("orb_pullback", {"fail_bps": 5.000001}, "event 'breakout failing at exactly fail_bps'"),
    # the stop on the 2 bps floor instead of the climax bar's low: a different stop
    ("volume_climax", {"min_risk_bps": 0.0}, None),
])
def test_rules_day_bites_when_a_rule_changes(detector: str, params: dict[str, Any],
                                             expected_problem: str | None) -> None:
    problems = _run_rules_day(_profile(detector, **params))
    if expected_problem is None:  # a control: a parameter that must not matter here
        assert problems == []
    else:
        assert any(p.startswith(expected_problem) for p in problems), problems


# ----------------------------------------------------------------------------- issue 9 mutants


def _mutated(monkeypatch: pytest.MonkeyPatch, cls: type, method: str, old: str,
             new: str) -> None:
    """Replace ``cls.method`` by its source with ``old`` replaced by ``new`` (one mutant)."""
    import inspect
    import sys
    import textwrap

    src = textwrap.dedent(inspect.getsource(getattr(cls, method)))
    assert src.count(old) == 1, old
    ns = dict(vars(sys.modules[cls.__module__]))
    exec("from __future__ import annotations\n" + src.replace(old, new), ns)
    monkeypatch.setattr(cls, method, ns[method])


_TRIGGER_BAR_END = '''            return self._close("stopped", start, s.stop)
        return s'''

#: The four rule changes issue 9 made in-process while ``golden verify`` still passed: each
#: must now contradict a stated expectation (the rules_day case).
ISSUE_9_MUTANTS = {
    "targets checked before the stop": (
        "spxcc_core.setups.lifecycle", "SetupTracker", "on_bar",
        "if (low <= stop) if long else (high >= stop):",
        "if ((low <= stop) if long else (high >= stop)) and not "
        "((high >= s.t2) if long else (low <= s.t2)):"),
    "targets credited on the trigger bar": (
        "spxcc_core.setups.lifecycle", "SetupTracker", "on_bar", _TRIGGER_BAR_END,
        _TRIGGER_BAR_END[:-len("return s")] + """if (high >= s.t1) if long else (low <= s.t1):
            s = self.setup = _replace(s, status="t1", t1_ms=start)
            self.stop_now = s.entry
        return s"""),
    "volume_climax stop ignoring the bar's other end": (
        "spxcc_detectors.volume_climax", "VolumeClimax", "on_bar",
        "stop = min(bar.low, entry - entry * p.min_risk_bps / 1e4)",
        "stop = entry - entry * p.min_risk_bps / 1e4"),
    "volume_climax cooldown removed": (
        "spxcc_detectors.volume_climax", "VolumeClimax", "on_bar",
        "if self._bar_index - self._last_long > p.cooldown_bars:", "if True:"),
}


@pytest.mark.parametrize("mutant", list(ISSUE_9_MUTANTS))
def test_the_four_issue_9_mutants_contradict_rules_day(monkeypatch: pytest.MonkeyPatch,
                                                       mutant: str) -> None:
    import importlib

    module, cls_name, method, old, new = ISSUE_9_MUTANTS[mutant]
    _mutated(monkeypatch, getattr(importlib.import_module(module), cls_name), method, old, new)
    assert _run_rules_day() != []


def test_verify_of_some_detectors_checks_only_their_statements(
        capsys: pytest.CaptureFixture[str]) -> None:
    from spxcc_core.golden.expect import restrict_expectations

    exp = load_expectations(GOLDEN / "rules_day" / EXPECT_FILE)
    only = restrict_expectations(exp, ["vwap"])
    assert [s.detector for s in only.setup] == ["vwap"]
    assert [e.name for e in only.event] == ["vwap rejection"]
    assert only.totals.setups is None  # totals speak for all three detectors together
    assert restrict_expectations(exp, ["vwap", "orb_pullback", "volume_climax", "x"]) is exp
    assert main(["golden", "verify", "--case", "rules_day", "--detectors", "vwap"]) == 0
    assert "rules_day: ok (vwap)" in capsys.readouterr().out
