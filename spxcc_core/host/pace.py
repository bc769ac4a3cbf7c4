"""Pacing a recorded session in event time, so a replay can be watched like a live one.

A :class:`Pacer` holds back each step until the wall clock has moved ``(t − t0) / speed``
seconds since the first step, where ``t`` is the newest event time seen so far (a late event
never makes the replay wait, an out-of-order one never makes it jump back) and ``t0`` the
first. ``speed`` 60 plays an hour of session in a minute; 1 is real time; 0 does not wait at
all (it only yields to the event loop, so the hub can send what it queued). Pacing changes
when a step is pushed, never what it produces: the outputs are those of ``spxcc replay``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from spxcc_core.clock import Clock, SystemClock
from spxcc_core.errors import ConfigError

__all__ = ["Pacer"]

_NS_PER_S = 1_000_000_000


class Pacer:
    """Waits until a step's event time is due (module docstring).

    :param speed: event seconds per wall second (> 0), or 0: as fast as possible.
    :param clock: the wall clock (``monotonic()``); default the system clock.
    :param sleep: the async wait (default :func:`asyncio.sleep`; tests pass a recorder).
    :raises ConfigError: a negative or non-numeric speed.
    """

    def __init__(self, speed: float, *, clock: Clock | None = None,
                 sleep: Callable[[float], Awaitable[object]] | None = None) -> None:
        if isinstance(speed, bool) or not isinstance(speed, int | float) or not speed >= 0:
            raise ConfigError(f"speed must be a number >= 0 (0: as fast as possible), "
                              f"got {speed!r}")
        self.speed = float(speed)
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._sleep = sleep if sleep is not None else asyncio.sleep
        self._t0_ns: int | None = None
        self._w0 = 0.0
        self._newest_ns: int | None = None

    async def wait_for(self, event_ns: int | None) -> float:
        """Wait until the step whose newest event is at ``event_ns`` (epoch ns; None: a step
        without events, never waited for) is due.

        :returns: the seconds waited for (0.0 when it was already due).
        """
        if event_ns is not None and (self._newest_ns is None or event_ns > self._newest_ns):
            self._newest_ns = event_ns
        if self.speed == 0 or self._newest_ns is None:
            await self._sleep(0)
            return 0.0
        if self._t0_ns is None:
            self._t0_ns, self._w0 = self._newest_ns, self.clock.monotonic()
        due = self._w0 + (self._newest_ns - self._t0_ns) / _NS_PER_S / self.speed
        delay = due - self.clock.monotonic()
        if delay <= 0:
            await self._sleep(0)
            return 0.0
        await self._sleep(delay)
        return delay
