"""The one injected clock: wall time, monotonic time and waiting.

Live and replay share every step from normalize on; they differ only in the source and the
clock. Code that reads or waits for time does it through a :class:`Clock` handed to it (never
``time.time``/``time.monotonic``/``time.sleep`` directly), so tests drive it with a
:class:`ManualClock` and no test depends on wall-clock timing:

- ``now_ms()`` — epoch milliseconds (UTC): the hub's envelope ``ts``, times in the live report,
  order timestamps;
- ``monotonic()`` — seconds of a clock that never goes back: timeouts, rate limits, durations;
- ``sleep(seconds)`` — wait (a :class:`ManualClock` advances instead of waiting).

Event time (the ``t`` of a trade or quote) never comes from here: bars are cut by event time only.
"""

from __future__ import annotations

import time
from typing import Protocol

import attrs

__all__ = ["Clock", "ManualClock", "SystemClock"]


class Clock(Protocol):
    """Where time is read and waited for."""

    def now_ms(self) -> int:
        """Epoch milliseconds (UTC), integer."""

    def monotonic(self) -> float:
        """Seconds of a monotonic clock (only differences are meaningful)."""

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (>= 0) of monotonic time."""


class SystemClock:
    """The machine's clocks: ``time.time_ns``, ``time.monotonic`` and ``time.sleep``."""

    def now_ms(self) -> int:
        """Epoch milliseconds now."""
        return time.time_ns() // 1_000_000

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """``time.sleep(seconds)``."""
        time.sleep(max(0.0, seconds))

    def __repr__(self) -> str:
        return "SystemClock()"


@attrs.define
class ManualClock:
    """A clock that moves only when told to (tests): ``now_ms`` starts at ``start_ms`` and
    both readings advance together by :meth:`advance`; :meth:`sleep` advances instead of
    waiting (and counts the calls in ``sleeps``)."""

    start_ms: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    elapsed_s: float = 0.0
    sleeps: int = 0

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

    def sleep(self, seconds: float) -> None:
        """Advance by ``seconds`` (negative counts as 0) instead of waiting."""
        self.sleeps += 1
        self.advance(max(0.0, seconds))
