"""How the executor's intents reach the broker: directly (:class:`DirectRouter`, replay) or
through the routing worker (:class:`WorkerRouter`, live: pre-trade checks, buying-power
reservations, exits held until their entry filled, every state change in the store).

A router answers ``submit(intent, origin)`` (``origin``: the setup, detector and index value
behind the intent, for the slippage ledger's buckets) with the broker order id, ``""`` when the intent is accepted
but not at the broker yet (an exit waiting for its entry's fill), or None when it was refused
or rejected (the executor counts it); ``cancel(intent_id, order_id)`` cancels what is still
working (nothing when already final); ``poll()`` lets queued intents go (a no-op directly).

A lost store connection (:class:`~spxcc_core.store.base.StoreConnectionLost`) that interrupts
one of the routing worker's steps (recording an intent or its origin, a state change, a poll's
fills) is never a traceback and never retried blindly: the worker's state and the store's may
now differ, and an order may or may not be at the broker. Following the idempotency design
(``docs/decisions/0005-order-idempotency-by-tag.md``), :class:`WorkerRouter` halts new entries
for the rest of the run (exits still go, as under a reconciliation halt), counts the
interruption by site (``routing``, ``routing_poll``), says so in one log line and in
:attr:`WorkerRouter.entries_halted`; the next start's reconciliation finds the intent by its tag
and records what the broker did. The interrupted intent is reported as held back (``""``) when
the worker tracks it (it may be at the broker: its fills still reach the executor), else as
refused (None).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

import msgspec

from spxcc_core.broker.checks import is_entry
from spxcc_core.broker.errors import BrokerError
from spxcc_core.broker.interface import BrokerAdapter
from spxcc_core.broker.routing import RoutingWorker
from spxcc_core.contracts.broker import Fill, OrderIntent
from spxcc_core.errors import InputError
from spxcc_core.slippage.store import IntentOrigin, SlippageStore
from spxcc_core.store.base import StoreConnectionLost

__all__ = ["DirectRouter", "Router", "WorkerRouter"]

log = logging.getLogger("spxcc.execute.routing")

#: Routing-worker states of an intent that will never reach the broker.
_REFUSED = frozenset({"refused", "rejected", "error", "canceled", "expired"})


class Router(Protocol):
    """Where the executor sends intents (module docstring). ``measures_fills``: the router
    measures and records every fill's slippage itself (the routing worker does)."""

    measures_fills: bool

    def submit(self, intent: OrderIntent, origin: IntentOrigin) -> str | None: ...
    def cancel(self, intent_id: str, order_id: str) -> None: ...
    def poll(self) -> None: ...
    def subscribe_fills(self, listener: Callable[[Fill], None]) -> None: ...


class DirectRouter:
    """Intents straight to the adapter (``submit``/``cancel`` on ``account_id``)."""

    measures_fills = False

    def __init__(self, adapter: BrokerAdapter, account_id: str) -> None:
        self.adapter = adapter
        self.account_id = account_id

    def submit(self, intent: OrderIntent, origin: IntentOrigin) -> str | None:
        try:
            return self.adapter.submit(intent).broker_order_id
        except BrokerError:
            return None

    def cancel(self, intent_id: str, order_id: str) -> None:
        # already final (filled or expired): nothing left to cancel
        with contextlib.suppress(BrokerError):
            self.adapter.cancel(self.account_id, order_id)

    def poll(self) -> None:
        return None

    def subscribe_fills(self, listener: Callable[[Fill], None]) -> None:
        """Nothing: directly, the executor hears fills from the broker itself."""
        return None


class WorkerRouter:
    """Intents through a :class:`~spxcc_core.broker.routing.RoutingWorker` (its checks, its
    store records); the worker's own event polling records every fill and its slippage, which
    the intent's origin (recorded in the same store first) buckets by setup and detector."""

    measures_fills = True

    def __init__(self, worker: RoutingWorker) -> None:
        self.worker = worker
        self.origins = SlippageStore(worker.store.store)
        #: Routing steps a lost store connection interrupted, by site (``routing``: submit or
        #: cancel, ``routing_poll``: the event poll).
        self.interrupted: dict[str, int] = {}
        #: Why new entries are halted for the rest of the run (None: they are not).
        self.entries_halted: str | None = None

    def submit(self, intent: OrderIntent, origin: IntentOrigin) -> str | None:
        if self.entries_halted is not None and is_entry(intent.side):
            return None  # no new risk while the store and the worker may disagree
        try:
            self.origins.record_origin(intent.intent_id, origin)
            result = self.worker.route(intent, entry_intent_id=intent.entry_intent_id)
        except StoreConnectionLost as exc:
            self._interrupted("routing", exc, f"routing intent {intent.intent_id}")
            return "" if intent.intent_id in self.worker.book else None
        if result.state in _REFUSED:
            return None
        return result.ack.broker_order_id if result.ack is not None else ""

    def cancel(self, intent_id: str, order_id: str) -> None:
        try:
            with contextlib.suppress(BrokerError):
                self.worker.cancel(intent_id)
        except StoreConnectionLost as exc:
            self._interrupted("routing", exc, f"canceling intent {intent_id}")
        except InputError:
            pass  # unknown here, or recorded with other content: nothing of ours to cancel

    def poll(self) -> None:
        try:
            self.worker.poll()
        except StoreConnectionLost as exc:
            self._interrupted("routing_poll", exc, "recording the broker's events")

    def _interrupted(self, site: str, exc: StoreConnectionLost, what: str) -> None:
        """Count an interrupted routing step and halt new entries (module docstring)."""
        self.interrupted[site] = self.interrupted.get(site, 0) + 1
        first = self.entries_halted is None
        if first:
            self.entries_halted = (f"{what} was interrupted by a lost store connection "
                                   f"({exc.outcome}): no new entries for the rest of the run; "
                                   "the next start reconciles open intents by tag")
        log.error("%s was interrupted by a lost store connection: %s; %s", what, exc,
                  "no new entries for the rest of the run (the next start reconciles open "
                  "intents by tag)" if first else "new entries stay halted")

    def subscribe_fills(self, listener: Callable[[Fill], None]) -> None:
        """Call ``listener`` with every fill the worker records for the first time, carrying
        its intent's id (a broker reports fills by order, the worker knows the intent): how a
        real broker's fills reach the executor."""

        def forward(fill: Fill, intent: OrderIntent) -> None:
            listener(msgspec.structs.replace(fill, intent_id=intent.intent_id))

        self.worker.fill_listeners.append(forward)
