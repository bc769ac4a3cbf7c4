"""Tests of the example plugin, written the way a third-party author writes them: with the
fixtures and the one-call conformance check that spxcc's pytest plugin provides."""

from __future__ import annotations

from pathlib import Path

from spxcc_example_detector import OpeningDrive, spxcc_register_detectors

from spxcc_core.detect import DetectorRunner
from spxcc_core.testing import assert_conforms, assert_golden_expectations, check_detector


def test_passes_the_conformance_kit() -> None:
    report = assert_conforms(OpeningDrive)
    assert report.ok
    assert report.sessions == ("trend_day", "chop_day", "gap_and_flush", "rules_day")
    assert report.candidates == 1  # the gap-and-go open is the one opening drive


def test_meets_its_stated_golden_expectations() -> None:
    # what the detector must do on gap_and_flush, stated in the golden format (docs/golden.md)
    assert_golden_expectations(OpeningDrive, Path(__file__).parent / "gap_and_flush.expect.toml")


def test_check_detector_reports_without_raising() -> None:
    report = check_detector(OpeningDrive)
    assert report.failures == ()
    assert "conforms" in report.summary()


def test_registers_through_the_hook(spxcc_pm, spxcc_register) -> None:
    import spxcc_example_detector

    spxcc_register(spxcc_example_detector, name="opening_drive")
    classes = [c for r in spxcc_pm.hook.spxcc_register_detectors() for c in r]
    assert OpeningDrive in classes
    assert spxcc_register_detectors() == [OpeningDrive]


def test_gap_and_flush_open_is_a_long_drive(spxcc_golden_sessions) -> None:
    gap = next(s for s in spxcc_golden_sessions if s.name == "gap_and_flush")
    runner = DetectorRunner([OpeningDrive])
    for bar in gap.bars:
        runner.on_bar(bar)
    runner.finish()
    setups = runner.setups()
    # after the gap, the first five minutes drive ~+0.2 % on buying: one long on the first bar
    # after 09:35, entry at the drive's high, stop at its low (the opening print); the flush
    # at 09:46 stops it out
    assert [(s.direction, s.note, s.entry, s.stop, s.status) for s in setups] == [
        ("long", "drive_up", 512.27, 511.28, "stopped")]
