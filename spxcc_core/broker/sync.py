"""Portfolio snapshot sync: fetch snapshots from a broker, store them with their fetch time,
and serve the latest one that is fresh enough.

``age`` is measured from the moment the snapshot was fetched (``fetchedMs`` on our clock, not
the broker's ``asOfMs``), so a broker clock skew cannot make a stale snapshot look fresh.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from spxcc_core.broker.interface import BrokerAdapter
from spxcc_core.broker.store import BrokerStore, StoredSnapshot
from spxcc_core.clock import Clock, SystemClock
from spxcc_core.errors import ConfigError

__all__ = ["SnapshotSync"]


class SnapshotSync:
    """Fetches and stores snapshots of one broker's accounts.

    :param adapter: the broker.
    :param store: where snapshots are recorded (every fetch is one row).
    :param broker: the broker's name as stored (defaults to ``adapter.name``).
    :param clock: the injected clock; its ``now_ms()`` stamps fetch times and measures ages
        (default :class:`~spxcc_core.clock.SystemClock`).
    """

    def __init__(self, adapter: BrokerAdapter, store: BrokerStore, *, broker: str | None = None,
                 clock: Clock | None = None) -> None:
        self.adapter = adapter
        self.store = store
        self.broker = broker or adapter.name
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._latest: dict[str, StoredSnapshot] = {}

    def refresh(self, account_id: str) -> StoredSnapshot:
        """Fetch the account's snapshot now and store it.

        :raises BrokerError: the broker failed (nothing stored).
        """
        snap = self.adapter.snapshot(account_id)
        stored = self.store.record_snapshot(snap, broker=self.broker, fetched_ms=self.clock.now_ms())
        self._latest[account_id] = stored
        return stored

    def latest(self, account_id: str) -> StoredSnapshot | None:
        """The most recently fetched snapshot (this process or the store), or None."""
        cached = self._latest.get(account_id)
        if cached is not None:
            return cached
        stored = self.store.latest_snapshot(self.broker, account_id)
        if stored is not None:
            self._latest[account_id] = stored
        return stored

    def fresh(self, account_id: str, max_age_ms: int) -> StoredSnapshot:
        """The latest snapshot if fetched at most ``max_age_ms`` ago, else a new one.

        :raises ConfigError: ``max_age_ms`` < 0.
        """
        if max_age_ms < 0:
            raise ConfigError(f"snapshot max age must be >= 0 ms, got {max_age_ms}")
        current = self.latest(account_id)
        if current is not None and current.age_ms(self.clock.now_ms()) <= max_age_ms:
            return current
        return self.refresh(account_id)

    def invalidate(self, account_id: str) -> None:
        """Forget the cached snapshot so the next :meth:`fresh` fetches."""
        self._latest.pop(account_id, None)

    def run_periodic(self, accounts: Iterable[str], interval_s: float,
                     stop: threading.Event,
                     on_error: Callable[[str, Exception], None] | None = None) -> None:
        """Refresh every account each ``interval_s`` seconds until ``stop`` is set.

        Meant for a dedicated thread with its own store connection; the wait between rounds is
        ``stop.wait`` (a stop signal, answered at once), not the clock. A failed fetch is passed to
        ``on_error(account_id, error)`` (never swallowed silently: without a handler it
        propagates and ends the loop).
        """
        if not interval_s > 0:
            raise ConfigError(f"sync interval must be > 0 s, got {interval_s}")
        names = list(accounts)
        while not stop.is_set():
            for account_id in names:
                try:
                    self.refresh(account_id)
                except Exception as exc:
                    if on_error is None:
                        raise
                    on_error(account_id, exc)
            stop.wait(interval_s)
