"""A manual clock that records its waits, for tests that assert the exact waits asked for."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from spxcc_core.clock import ManualClock

__all__ = ["CLOCK_START_MS", "ReadingClock", "RecordingClock"]

#: 2026-11-25 15:00:00 UTC: where a :class:`RecordingClock` starts (a plausible trading day).
CLOCK_START_MS = 1_795_618_800_000


@attrs.define
class RecordingClock(ManualClock):
    """A :class:`~spxcc_core.clock.ManualClock` starting at :data:`CLOCK_START_MS` that also
    records the length of every sleep in ``slept``."""

    start_ms: int = CLOCK_START_MS
    slept: list[float] = attrs.field(factory=list)

    def sleep(self, seconds: float) -> None:
        """Record ``seconds``, then advance like :meth:`ManualClock.sleep`."""
        self.slept.append(seconds)
        super().sleep(seconds)


@attrs.define
class ReadingClock(ManualClock):
    """A :class:`~spxcc_core.clock.ManualClock` whose wall time is read from a function the test
    controls (e.g. ``lambda: now[0]``), for tests that set the epoch time directly."""

    read_ms: Callable[[], int] = attrs.field(kw_only=True)

    def now_ms(self) -> int:
        """What ``read_ms`` says now."""
        return self.read_ms()
