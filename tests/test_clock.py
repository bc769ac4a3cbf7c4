"""The one injected clock: SystemClock reads the machine, ManualClock moves only when told."""

from __future__ import annotations

import pytest

from spxcc_core.clock import Clock, ManualClock, SystemClock


def test_manual_clock_sleep_advances_both_readings_instead_of_waiting():
    clock = ManualClock(start_ms=1_000)
    clock.sleep(0.25)
    clock.sleep(-1.0)  # a negative wait is no wait
    assert (clock.now_ms(), clock.monotonic(), clock.sleeps) == (1_250, 0.25, 2)


def test_manual_clock_never_goes_back():
    with pytest.raises(ValueError, match="cannot go back"):
        ManualClock().advance(-0.001)


def test_both_clocks_satisfy_the_protocol():
    def reads(clock: Clock) -> tuple[int, float]:
        clock.sleep(0.0)
        return clock.now_ms(), clock.monotonic()

    assert reads(ManualClock(start_ms=7)) == (7, 0.0)
    now_ms, mono = reads(SystemClock())
    assert now_ms > 1_700_000_000_000 and mono >= 0.0
