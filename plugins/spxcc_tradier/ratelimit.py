"""Per-group rate limiting driven by Tradier's ``X-Ratelimit-*`` headers (reference §1.2).

Groups: ``standard`` (accounts, user, GET orders), ``market`` (``/markets/*``), ``trading``
(POST/PUT/DELETE orders). After every response the group's ``Available`` and ``Expiry`` are
recorded; a request in a group with nothing available waits until the window expires. A
``429 Quota Violation`` marks the group exhausted until the expiry it names.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Final, Literal

import attrs

from spxcc_core.broker.errors import BrokerUnavailable

__all__ = ["Group", "RateLimiter", "group_for", "parse_expiry_s"]

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


def parse_expiry_s(value: object) -> float | None:
    """Epoch seconds from an ``X-Ratelimit-Expiry`` value in ms (> 10^11) or seconds."""
    try:
        f = float(str(value).strip())
    except ValueError:
        return None
    if f <= 0:
        return None
    return f / 1000.0 if f > _MS_THRESHOLD else f


@attrs.define
class _GroupState:
    available: int | None = None
    reset_at: float | None = None  # epoch seconds
    last_request: float = 0.0  # monotonic


@attrs.define
class RateLimiter:
    """Shared by every request of one adapter (thread-safe).

    :ivar max_wait_s: longest wait accepted; a longer one raises :class:`BrokerUnavailable`
        with ``retry_after_s`` (nothing is sent).
    :ivar min_interval_s: optional minimum spacing between requests per group (seconds).
    """

    max_wait_s: float = 65.0
    min_interval_s: Mapping[str, float] = attrs.field(factory=dict)
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
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
            now = self.clock()
            if st.available is not None and st.available <= 0 and st.reset_at is not None:
                wait = max(0.0, st.reset_at - now)
                if wait == 0.0:
                    st.available = None
            spacing = self.min_interval_s.get(group, 0.0)
            if spacing > 0:
                mono = time.monotonic()
                wait = max(wait, st.last_request + spacing - mono)
        if wait > self.max_wait_s:
            raise BrokerUnavailable(f"tradier {group} rate limit exhausted for {wait:.0f} s",
                                    retry_after_s=wait)
        if wait > 0:
            self.waits += 1
            self.sleep(wait)
        with self._lock:
            st = self._state(group)
            st.last_request = time.monotonic()
            if st.available is not None and st.available <= 0 and (
                    st.reset_at is None or st.reset_at <= self.clock()):
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
        reset = parse_expiry_s(headers.get("x-ratelimit-expiry", ""))
        with self._lock:
            st = self._state(group)
            st.available = avail
            st.reset_at = reset

    def exhausted(self, group: Group, reset_at_s: float | None) -> None:
        """Mark ``group`` exhausted until ``reset_at_s`` (epoch s; None = one second)."""
        with self._lock:
            st = self._state(group)
            st.available = 0
            st.reset_at = reset_at_s if reset_at_s is not None else self.clock() + 1.0
