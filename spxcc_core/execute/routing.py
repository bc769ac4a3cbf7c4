"""How the executor's intents reach the broker: directly (:class:`DirectRouter`, replay) or
through the routing worker (:class:`WorkerRouter`, live: pre-trade checks, buying-power
reservations, exits held until their entry filled, every state change in the store).

A router answers ``submit(intent, origin)`` (``origin``: the setup, detector and index value
behind the intent, for the slippage ledger's buckets) with the broker order id, ``""`` when the intent is accepted
but not at the broker yet (an exit waiting for its entry's fill), or None when it was refused
or rejected (the executor counts it); ``cancel(intent_id, order_id)`` cancels what is still
working (nothing when already final); ``poll()`` lets queued intents go (a no-op directly).
"""

from __future__ import annotations

import contextlib
from typing import Protocol

from spxcc_core.broker.errors import BrokerError
from spxcc_core.broker.interface import BrokerAdapter
from spxcc_core.broker.routing import RoutingWorker
from spxcc_core.contracts.broker import OrderIntent
from spxcc_core.errors import InputError
from spxcc_core.slippage.store import IntentOrigin, SlippageStore

__all__ = ["DirectRouter", "Router", "WorkerRouter"]

#: Routing-worker states of an intent that will never reach the broker.
_REFUSED = frozenset({"refused", "rejected", "error", "canceled", "expired"})


class Router(Protocol):
    """Where the executor sends intents (module docstring). ``measures_fills``: the router
    measures and records every fill's slippage itself (the routing worker does)."""

    measures_fills: bool

    def submit(self, intent: OrderIntent, origin: IntentOrigin) -> str | None: ...
    def cancel(self, intent_id: str, order_id: str) -> None: ...
    def poll(self) -> None: ...


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


class WorkerRouter:
    """Intents through a :class:`~spxcc_core.broker.routing.RoutingWorker` (its checks, its
    store records); the worker's own event polling records every fill and its slippage, which
    the intent's origin (recorded in the same store first) buckets by setup and detector."""

    measures_fills = True

    def __init__(self, worker: RoutingWorker) -> None:
        self.worker = worker
        self.origins = SlippageStore(worker.store.store)

    def submit(self, intent: OrderIntent, origin: IntentOrigin) -> str | None:
        self.origins.record_origin(intent.intent_id, origin)
        result = self.worker.route(intent, entry_intent_id=intent.entry_intent_id)
        if result.state in _REFUSED:
            return None
        return result.ack.broker_order_id if result.ack is not None else ""

    def cancel(self, intent_id: str, order_id: str) -> None:
        with contextlib.suppress(BrokerError, InputError):
            self.worker.cancel(intent_id)

    def poll(self) -> None:
        self.worker.poll()
