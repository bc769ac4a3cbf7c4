"""The detector conformance kit (``spxcc_core.testing``): built-ins pass, broken detectors fail
with a readable message, and the example third-party plugin is discovered through its entry
point, passes the kit and is covered by ``spxcc golden verify``."""

from __future__ import annotations

import importlib
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from spxcc_detectors import BUILTIN_DETECTORS

from spxcc_core.contracts.setup import GateCheck, GateDecision, SetupCandidate
from spxcc_core.detect import Detector, DetectorParams
from spxcc_core.plugins import get_plugin_manager
from spxcc_core.testing import (
    ConformanceError,
    assert_conforms,
    check_decisions,
    check_detector,
    golden_sessions,
)

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "spxcc-example-detector"


# ----------------------------------------------------------------------------- broken detectors


class _Base(Detector[DetectorParams]):
    """Proposes a long on every 200th RTH bar with a close (a simple, valid signal)."""

    name: ClassVar[str] = "base_test"
    version: ClassVar[int] = 1
    params_class = DetectorParams

    def __init__(self, params: DetectorParams, *, symbol: str) -> None:
        super().__init__(params, symbol=symbol)
        self.n = 0

    def fire(self, bar: Any, ctx: Any) -> bool:
        if not ctx.in_rth or bar.close is None:
            return False
        self.n += 1
        return self.n % 200 == 0

    def on_bar(self, bar: Any, ctx: Any) -> list[SetupCandidate]:
        if not self.fire(bar, ctx):
            return []
        return [self.candidate(bar, "long", bar.close, bar.close - 0.2)]


class Raises(_Base):
    name = "raises"

    def on_bar(self, bar: Any, ctx: Any) -> list[SetupCandidate]:
        if self.fire(bar, ctx):
            raise ZeroDivisionError("division by zero in my_indicator")
        return []


class Flaky(_Base):
    name = "flaky"
    _rng = random.Random()

    def on_bar(self, bar: Any, ctx: Any) -> list[SetupCandidate]:
        if not ctx.in_rth or bar.close is None or self._rng.random() > 0.01:
            return []
        return [self.candidate(bar, "long", bar.close, bar.close - 0.2)]


class SharedState(_Base):
    """Keeps a class-level bar counter: right when fed one session, wrong when a host delivers
    bars of several symbols interleaved."""

    name = "shared_state"
    last_symbol: ClassVar[str] = ""
    streak: ClassVar[int] = 0

    def on_bar(self, bar: Any, ctx: Any) -> list[SetupCandidate]:
        cls = type(self)
        cls.streak = cls.streak + 1 if cls.last_symbol == bar.symbol else 1
        cls.last_symbol = bar.symbol
        if ctx.in_rth and bar.close is not None and cls.streak % 150 == 0:
            return [self.candidate(bar, "long", bar.close, bar.close - 0.2)]
        return []


class WrongSide(_Base):
    name = "wrong_side"

    def on_bar(self, bar: Any, ctx: Any) -> list[SetupCandidate]:
        if not self.fire(bar, ctx):
            return []
        # a "long" with its stop above the entry
        return [self.candidate(bar, "long", bar.close, bar.close + 0.2)]


class ReturnsDicts(_Base):
    name = "returns_dicts"

    def on_bar(self, bar: Any, ctx: Any) -> list[Any]:
        if not self.fire(bar, ctx):
            return []
        return [{"direction": "long", "entry": bar.close}]


class NotANumber(_Base):
    name = "not_a_number"

    def on_bar(self, bar: Any, ctx: Any) -> list[SetupCandidate]:
        if not self.fire(bar, ctx):
            return []
        return [self.candidate(bar, "long", float("nan"), bar.close - 0.2)]


class Nameless(_Base):
    name = ""
    version = 0


@pytest.fixture(autouse=True)
def _reset_shared_state() -> Iterator[None]:
    yield
    SharedState.last_symbol, SharedState.streak = "", 0


# ----------------------------------------------------------------------------- the kit


@pytest.mark.parametrize("cls", BUILTIN_DETECTORS, ids=lambda c: c.name)
def test_builtin_detectors_conform(cls: type[Detector[Any]]) -> None:
    report = assert_conforms(cls)
    assert report.sessions == ("trend_day", "chop_day", "gap_and_flush", "rules_day")
    assert report.bars == 1379 + 1430 + 1773 + 1481  # every bar of every golden session
    assert report.decisions == report.candidates > 0


def test_a_valid_simple_detector_conforms() -> None:
    report = check_detector(_Base)
    assert report.ok, report.summary()
    # RTH bars with a close (odd lots set none): 514, 566, 727 and 1481 (rules_day: one
    # 100-share print a second) -> every 200th gives 2 + 2 + 3 + 7 candidates
    assert report.candidates == report.decisions == 14


def test_raising_detector_fails_with_the_error() -> None:
    report = check_detector(Raises)
    assert report.failed_checks() == ["exceptions"]
    summary = report.summary()
    assert summary.startswith("detector 'raises' v1 FAILS conformance on 4 golden sessions")
    assert ("  - exceptions [trend_day]: on_bar raised 2 time(s); first: ZeroDivisionError: "
            "division by zero in my_indicator") in summary


def test_nondeterministic_detector_fails_determinism() -> None:
    report = check_detector(Flaky)
    assert "determinism" in report.failed_checks()
    assert "a second run differs from the first: output #1 differs" in report.summary()


def test_state_shared_across_instances_fails_chunking_only() -> None:
    report = check_detector(SharedState)
    assert report.failed_checks() == ["chunking"]
    assert ("fed interleaved with other sessions in batches of 1 bars, the outputs differ from "
            "feeding it alone") in report.summary()


def test_inconsistent_prices_fail_consistency() -> None:
    report = check_detector(WrongSide)
    assert report.failed_checks() == ["consistency"]
    assert "long needs stop < entry < t1 <= t2, got stop=" in report.summary()


def test_wrong_return_types_fail_the_contract_check_without_crashing_the_run() -> None:
    report = check_detector(ReturnsDicts)
    assert report.failed_checks() == ["contract"]
    assert "on_bar returned a dict, not a SetupCandidate" in report.summary()


def test_nan_prices_do_not_round_trip() -> None:
    report = check_detector(NotANumber)
    assert {"contract", "consistency"} <= set(report.failed_checks())
    assert "does not round-trip" in report.summary()
    assert "non-finite entry" in report.summary()


def test_bad_registration_is_reported_first() -> None:
    report = check_detector(Nameless)
    assert report.failed_checks() == ["registration"]
    assert "`name` must be a non-blank string, got ''" in report.summary()
    assert "`version` must be an integer >= 1, got 0" in report.summary()


def test_assert_conforms_raises_with_the_summary() -> None:
    with pytest.raises(ConformanceError) as info:
        assert_conforms(Raises)
    assert isinstance(info.value, AssertionError)
    assert str(info.value) == check_detector(Raises).summary()


def _decision(passed: bool, checks: tuple[GateCheck, ...]) -> GateDecision:
    return GateDecision(setup_id="0123456789abcdef", session_id="2024-03-05", detector="x",
                        detector_version=1, symbol="SPY", direction="long",
                        bar_start_ms=1709649004000, passed=passed, checks=checks)


def test_decisions_without_gate_reasons_are_flagged() -> None:
    ok = GateCheck(gate="spread", input="avgSpreadBps", comparison="<=", threshold=5.0,
                   observed=0.2, passed=True)
    bad = GateCheck(gate="spread", input="avgSpreadBps", comparison="<=", threshold=5.0,
                    observed=6.0, passed=False)
    assert check_decisions([_decision(True, (ok,)), _decision(False, (ok, bad))]) == []
    assert check_decisions([_decision(False, ())]) == [
        "decision 01234567 (long, barStartMs 1709649004000) has no gate checks "
        "(no reason recorded)"]
    assert check_decisions([_decision(False, (ok,))]) == [
        "decision 01234567 (long, barStartMs 1709649004000): passed=False disagrees with its "
        "checks",
        "decision 01234567 (long, barStartMs 1709649004000) is blocked without a failed check "
        "(no reason)"]
    unnamed = GateCheck(gate="", input="", comparison="", threshold=None, observed=None,
                        passed=False)
    assert check_decisions([_decision(False, (unnamed,))]) == [
        "decision 01234567 (long, barStartMs 1709649004000) has 1 check(s) without a gate name"]


def test_sessions_can_be_chosen() -> None:
    (gap,) = golden_sessions(["gap_and_flush"])
    report = check_detector(_Base, sessions=[gap])
    assert report.sessions == ("gap_and_flush",) and report.bars == 1773


# ----------------------------------------------------------------------------- fixtures


def test_fixtures(spxcc_pm: Any, spxcc_register: Any, spxcc_golden_sessions: Any) -> None:
    assert [s.name for s in spxcc_golden_sessions] == ["trend_day", "chop_day", "gap_and_flush",
                                                       "rules_day"]
    assert [len(s.bars) for s in spxcc_golden_sessions] == [1379, 1430, 1773, 1481]
    assert "opening_drive" not in {c.name for r in spxcc_pm.hook.spxcc_register_detectors()
                                   for c in r}

    class Plugin:
        @staticmethod
        def spxcc_register_detectors() -> list[type[Detector[Any]]]:
            return [_Base]

    from spxcc_core.hookspecs import hookimpl

    Plugin.spxcc_register_detectors = hookimpl(Plugin.spxcc_register_detectors)  # type: ignore[method-assign]
    spxcc_register(Plugin, name="base_test_plugin")
    assert spxcc_pm.get_plugin("base_test_plugin") is Plugin


# ----------------------------------------------------------------------------- the example plugin


def _pip_install(source: Path, target: Path) -> str | None:
    """Install the example from ``source`` into ``target``; returns None, or pip's complaint."""
    last = ""
    for isolation in ([], ["--no-build-isolation"]):
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
             str(target), *isolation, str(source)],
            capture_output=True, text=True, timeout=300, check=False)
        if proc.returncode == 0:
            return None
        last = (proc.stderr.strip().splitlines() or ["pip failed"])[-1]
    return last


@pytest.fixture(scope="module")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example plugin installed (with its dist-info and entry point) into a private folder,
    so the shared environment is left as it was."""
    if importlib.util.find_spec("pip") is None:
        pytest.skip("pip is not available to install the example plugin")
    site = tmp_path_factory.mktemp("example-site")
    # build from a copy: setuptools leaves build/ and *.egg-info next to the sources
    source = tmp_path_factory.mktemp("example-src") / EXAMPLE.name
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__"))
    problem = _pip_install(source, site)
    if problem is not None:
        pytest.skip(f"cannot build the example plugin here: {problem}")
    return site


@pytest.fixture
def on_path(example_site: Path) -> Iterator[Path]:
    sys.path.insert(0, str(example_site))
    importlib.invalidate_caches()
    try:
        yield example_site
    finally:
        sys.path.remove(str(example_site))
        for mod in [m for m in sys.modules if m.startswith("spxcc_example_detector")]:
            del sys.modules[mod]
        importlib.invalidate_caches()


def _env(site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SPXCC_DISABLE_PLUGIN_AUTOLOAD"}
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def test_example_is_discovered_through_its_entry_point_and_conforms(on_path: Path) -> None:
    pm = get_plugin_manager(load_entrypoints=True)
    classes = {c.name: c for r in pm.hook.spxcc_register_detectors() for c in r}
    assert "opening_drive" in classes
    assert pm.get_plugin("opening_drive") is not None
    assert classes["opening_drive"].__module__ == "spxcc_example_detector.opening_drive"
    report = assert_conforms(classes["opening_drive"])
    assert report.candidates >= 1
    assert get_plugin_manager(load_entrypoints=False).get_plugin("opening_drive") is None


def test_golden_verify_covers_the_installed_plugin(example_site: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from spxcc_core.cli import main; "
                               "sys.exit(main())", "golden", "verify"],
        capture_output=True, text=True, timeout=300, env=_env(example_site), cwd=REPO,
        check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for case in ("trend_day", "chop_day", "gap_and_flush", "rules_day"):
        assert (f"{case}: ok (orb_pullback, volume_climax, vwap, opening_drive "
                "(conformance ok))") in proc.stdout
    assert "golden: 4 of 4 cases match" in proc.stdout


def test_the_examples_own_tests_pass_with_the_kit(example_site: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", str(EXAMPLE / "tests")],
        capture_output=True, text=True, timeout=300, env=_env(example_site), cwd=EXAMPLE,
        check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "5 passed" in proc.stdout


def test_the_kit_checks_a_plugins_golden_expectations(on_path: Path) -> None:
    from spxcc_example_detector import OpeningDrive

    from spxcc_core.testing import assert_golden_expectations, check_golden_expectations

    stated = EXAMPLE / "tests" / "gap_and_flush.expect.toml"
    assert check_golden_expectations(OpeningDrive, stated) == []
    # a statement the detector contradicts: named, with what happened instead
    wrong = on_path / "wrong.expect.toml"
    wrong.write_text(stated.read_text().replace('status = "stopped"', 'status = "t2"')
                     .replace("candidates = 1", "candidates = 2"))
    problems = check_golden_expectations(OpeningDrive, wrong)
    assert problems[0] == "totals.candidates: 1 (stated 2)"
    assert problems[1].startswith("setup opening_drive long 09:35:00-09:35:05 (the gap-and-go "
                                  "drive: +0.2 % in five minutes on buying): status stopped "
                                  "(stated t2)")
    with pytest.raises(ConformanceError, match="contradicts its golden expectations"):
        assert_golden_expectations(OpeningDrive, wrong)


def test_golden_verify_fails_on_a_registered_detector_that_does_not_conform(
        spxcc_pm: Any, spxcc_register: Any) -> None:
    from spxcc_core.golden.verify import verify
    from spxcc_core.hookspecs import hookimpl

    class BrokenPlugin:
        @staticmethod
        @hookimpl
        def spxcc_register_detectors() -> list[type[Detector[Any]]]:
            return [Raises]

    spxcc_register(BrokenPlugin, name="broken_plugin")
    (verdict,) = verify(REPO / "tests" / "golden", cases=["chop_day"], pm=spxcc_pm)
    assert not verdict.ok
    assert verdict.compared == ("orb_pullback", "volume_climax", "vwap")
    assert [r.detector for r in verdict.conformance] == ["raises"]
    # the built-ins still match their expected files; only the kit's verdict is reported
    assert verdict.lines[0].startswith("detector 'raises' v1 FAILS conformance")
    assert len(verdict.lines) == 1 + len(verdict.conformance[0].failures)
