"""Per-group rate limiting driven by Tradier's ``X-Ratelimit-*`` headers (reference §1.2).

Groups: ``standard`` (accounts, user, GET orders), ``market`` (``/markets/*``), ``trading``
(POST/PUT/DELETE orders). After every response the group's ``Available`` and ``Expiry`` are
recorded; a request in a group with nothing available waits until the window expires. A
``429 Quota Violation`` marks the group exhausted until the expiry it names.

Time comes from the injected :class:`~spxcc_core.clock.Clock`: expiries are compared with its
``now_ms()`` (epoch milliseconds, integers, so a wait is exact to the millisecond), the spacing
of ``min_interval_s`` uses its ``monotonic()``, and waits go through its ``sleep()``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Final, Literal

import attrs

from spxcc_core.broker.errors import BrokerUnavailable
from spxcc_core.clock import Clock, SystemClock

__all__ = ["Group", "RateLimiter", "group_for", "parse_expiry_ms"]

Group = Literal["standard", "market", "trading"]

_ORDERS_PATH: Final = re.compile(r"^/accounts/[^/]+/orders(/|$)")
_MS_THRESHOLD: Final = 10**11


def group_for(method: str, path: str) -> Group:
    """The rate-limit group of a request (``path`` relative to the ``/v1`` root)."""
    if path.startswith("/markets"):
        return "market"
    if method.upper() != "GET" and _ORDERS_PATH.match(path):
        return "trading"
    return "standard"


def parse_expiry_ms(value: object) -> int | None:
    """Epoch milliseconds from an ``X-Ratelimit-Expiry`` value in ms (> 10^11) or seconds;
    None when it is not a positive number."""
    try:
        f = float(str(value).strip())
    except ValueError:
        return None
    if not f > 0 or f == float("inf"):
        return None
    return round(f if f > _MS_THRESHOLD else f * 1000.0)


@attrs.define
class _GroupState:
    available: int | None = None
    reset_at_ms: int | None = None  # epoch milliseconds
    last_request: float | None = None  # clock.monotonic() of the last request


@attrs.define
class RateLimiter:
    """Shared by every request of one adapter (thread-safe).

    :ivar max_wait_s: longest wait accepted; a longer one raises :class:`BrokerUnavailable`
        with ``retry_after_s`` (nothing is sent).
    :ivar min_interval_s: optional minimum spacing between requests per group (seconds).
    :ivar clock: where time is read and waited for (module docstring).
    :ivar waits: how many times :meth:`acquire` waited.
    """

    max_wait_s: float = 65.0
    min_interval_s: Mapping[str, float] = attrs.field(factory=dict)
    clock: Clock = attrs.field(factory=SystemClock)
    _states: dict[str, _GroupState] = attrs.field(factory=dict)
    _lock: threading.Lock = attrs.field(factory=threading.Lock)
    waits: int = 0

    def _state(self, group: str) -> _GroupState:
        return self._states.setdefault(group, _GroupState())

    def acquire(self, group: Group) -> None:
        """Wait, if needed, until ``group`` may send another request."""
        with self._lock:
            st = self._state(group)
            wait = 0.0
            if st.available is not None and st.available <= 0 and st.reset_at_ms is not None:
                wait = max(0, st.reset_at_ms - self.clock.now_ms()) / 1000.0
                if wait == 0.0:
                    st.available = None
            spacing = self.min_interval_s.get(group, 0.0)
            if spacing > 0 and st.last_request is not None:
                wait = max(wait, st.last_request + spacing - self.clock.monotonic())
        if wait > self.max_wait_s:
            raise BrokerUnavailable(f"tradier {group} rate limit exhausted for {wait:.0f} s",
                                    retry_after_s=wait)
        if wait > 0:
            self.waits += 1
            self.clock.sleep(wait)
        with self._lock:
            st = self._state(group)
            st.last_request = self.clock.monotonic()
            if st.available is not None and st.available <= 0 and (
                    st.reset_at_ms is None or st.reset_at_ms <= self.clock.now_ms()):
                st.available = None

    def update(self, group: Group, headers: Mapping[str, str]) -> None:
        """Record the ``X-Ratelimit-Available``/``-Expiry`` headers of a response, if any."""
        available = headers.get("x-ratelimit-available")
        if available is None:
            return
        try:
            avail = int(float(available))
        except ValueError:
            return
        reset = parse_expiry_ms(headers.get("x-ratelimit-expiry", ""))
        with self._lock:
            st = self._state(group)
            st.available = avail
            st.reset_at_ms = reset

    def exhausted(self, group: Group, reset_at_ms: int | None) -> None:
        """Mark ``group`` exhausted until ``reset_at_ms`` (epoch ms; None = one second from
        now)."""
        with self._lock:
            st = self._state(group)
            st.available = 0
            st.reset_at_ms = (reset_at_ms if reset_at_ms is not None
                              else self.clock.now_ms() + 1000)
