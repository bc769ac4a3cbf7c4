"""Wall clocks of the live host.

Live and replay share every step from normalize on; they differ only in the source and the
clock. The host reads time in exactly two ways, both through a :class:`Clock`:

- ``now_ms()`` — epoch milliseconds (UTC) of *sending*, the envelope ``ts`` of the hub and the
  times recorded in the live report;
- ``monotonic()`` — seconds of a clock that never goes back, for the feed's idle timeout and the
  session's duration.

Event time (the ``t`` of a trade or quote) never comes from here: bars are cut by event time only.
"""

from __future__ import annotations

import time
from typing import Protocol

import attrs

__all__ = ["Clock", "ManualClock", "SystemClock"]


class Clock(Protocol):
    """Where the host reads wall time."""

    def now_ms(self) -> int:
        """Epoch milliseconds (UTC), integer."""

    def monotonic(self) -> float:
        """Seconds of a monotonic clock (only differences are meaningful)."""


class SystemClock:
    """The machine's clocks: ``time.time_ns`` and ``time.monotonic``."""

    def now_ms(self) -> int:
        """Epoch milliseconds now."""
        return time.time_ns() // 1_000_000

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def __repr__(self) -> str:
        return "SystemClock()"


@attrs.define
class ManualClock:
    """A clock that moves only when told to (tests): ``now_ms`` starts at ``start_ms`` and
    both readings advance together by :meth:`advance`."""

    start_ms: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    elapsed_s: float = 0.0

    def now_ms(self) -> int:
        """``start_ms`` plus the elapsed time, truncated to whole milliseconds."""
        return self.start_ms + int(self.elapsed_s * 1000)

    def monotonic(self) -> float:
        """Seconds advanced so far."""
        return self.elapsed_s

    def advance(self, seconds: float) -> None:
        """Move both readings forward by ``seconds`` (>= 0)."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go back (advance {seconds})")
        self.elapsed_s += seconds
