"""The routing worker's in-memory intent book: open intents, per-account queues, buying power
held in flight and cached open risk. No I/O: the store stays the record of truth, the book
only mirrors what the worker loaded or changed.

Reservations: a buy holds its estimated cost from the moment it is queued. A portfolio
snapshot fetched after an intent last changed at the broker already reflects it, so only the
holds the snapshot cannot reflect count against it (:meth:`IntentBook.reserved`): intents not
yet at the broker, changed at the broker since the snapshot, or ended after the snapshot.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

import attrs

from spxcc_core.broker.checks import is_entry
from spxcc_core.broker.store import IntentState
from spxcc_core.contracts.broker import OrderIntent

__all__ = ["IntentBook", "LiveIntent"]


@attrs.define
class LiveIntent:
    """In-memory mirror of an open (or reservation-holding) intent. Money in dollars, times
    epoch ms; ``changed_ms`` is the last change visible at the broker (ack, fill, final)."""

    intent: OrderIntent
    account_id: str
    tag: str
    state: IntentState
    reserved: float
    risk: float
    entry_id: str | None
    order_id: str | None = None
    filled: float = 0.0
    avg: float | None = None
    changed_ms: int | None = None

    @property
    def intent_id(self) -> str:
        """The intent's id."""
        return self.intent.intent_id

    @property
    def is_entry(self) -> bool:
        """True for ``*_to_open`` intents."""
        return is_entry(self.intent.side)


class IntentBook:
    """Open intents by id, send queues and holds per account, and the open-risk cache."""

    def __init__(self) -> None:
        self._live: dict[str, LiveIntent] = {}
        self._holds: dict[str, dict[str, LiveIntent]] = {}  # per account: open reservations
        self._done: dict[str, deque[tuple[int, float]]] = {}  # per account: (final ms, amount)
        self._done_total: dict[str, float] = {}
        self._queues: dict[str, deque[str]] = {}
        self._risk: dict[str, float] = {}

    # --- open intents -------------------------------------------------------------------------

    def get(self, intent_id: str) -> LiveIntent | None:
        """The open intent, or None."""
        return self._live.get(intent_id)

    def __contains__(self, intent_id: object) -> bool:
        return intent_id in self._live

    def __iter__(self) -> Iterator[LiveIntent]:
        return iter(list(self._live.values()))

    def add(self, live: LiveIntent) -> None:
        """Track an open intent (and its reservation, when it holds one)."""
        self._live[live.intent_id] = live
        if live.reserved:
            self._holds.setdefault(live.account_id, {})[live.intent_id] = live

    def forget(self, intent_id: str) -> None:
        """Stop tracking an intent (its reservation is kept until :meth:`release`)."""
        self._live.pop(intent_id, None)

    def drop_hold(self, account_id: str, intent_id: str) -> None:
        """Remove a reservation without recording when it ended (the store says it ended)."""
        holds = self._holds.get(account_id)
        if holds is not None:
            holds.pop(intent_id, None)

    def finish(self, live: LiveIntent, now_ms: int) -> None:
        """The intent reached a final state at ``now_ms``: stop tracking it; its reservation
        still counts against snapshots fetched before ``now_ms``."""
        self._live.pop(live.intent_id, None)
        holds = self._holds.get(live.account_id)
        if holds is not None and holds.pop(live.intent_id, None) is not None:
            self._done.setdefault(live.account_id, deque()).append((now_ms, live.reserved))
            self._done_total[live.account_id] = (
                self._done_total.get(live.account_id, 0.0) + live.reserved)

    def accounts(self) -> list[str]:
        """Accounts with open intents, sorted."""
        return sorted({lv.account_id for lv in self._live.values()})

    # --- queues -------------------------------------------------------------------------------

    def enqueue(self, account_id: str, intent_id: str) -> None:
        """Append an intent to its account's send queue."""
        self._queues.setdefault(account_id, deque()).append(intent_id)

    def queue(self, account_id: str) -> deque[str] | None:
        """The account's send queue (mutable; None when it never had one)."""
        return self._queues.get(account_id)

    def queued_accounts(self) -> list[str]:
        """Accounts that ever had a send queue, in first-use order."""
        return list(self._queues)

    # --- buying power and risk ----------------------------------------------------------------

    def reserved(self, account_id: str, snapshot_fetched_ms: int) -> float:
        """Buying power held by the account's intents that a snapshot fetched at
        ``snapshot_fetched_ms`` cannot reflect (≥ 0). Forgets holds that ended before it."""
        done = self._done.get(account_id)
        total = 0.0
        if done:
            while done and done[0][0] < snapshot_fetched_ms:
                self._done_total[account_id] -= done.popleft()[1]
            if not done:
                self._done_total[account_id] = 0.0
            total = self._done_total[account_id]
        for lv in self._holds.get(account_id, {}).values():
            if lv.changed_ms is None or lv.changed_ms >= snapshot_fetched_ms:
                total += lv.reserved
        return max(total, 0.0)

    def cached_risk(self, account_id: str) -> float | None:
        """The account's open risk as last set, or None when not cached yet."""
        return self._risk.get(account_id)

    def set_risk(self, account_id: str, risk: float) -> None:
        """Cache the account's open risk (dollars)."""
        self._risk[account_id] = risk

