"""The routing worker: pre-trade checks, in-flight buying-power reservations, sequential
submission per account, exits held back until their entry filled, every state change recorded,
and restart reconciliation by order tag.

Life of an intent (states in :mod:`spxcc_core.broker.store`)::

    enqueue ─ checks ─┬─ refused (reasons recorded)
                      └─ queued ─ (exit: wait for entry fill) ─ submitting ─┬─ acked ─ … ─ filled
                                                                           ├─ rejected
                                                                           ├─ ambiguous
                                                                           └─ queued (broker down)

Pre-trade checks (all reasons are collected, not only the first):

- ``quantity`` ≤ ``max_contracts``;
- the broker's market clock says open (cached ``clock_ttl_ms``, never past its next change);
- buys (``buy_to_open``/``buy_to_close``): estimated cost ``price × qty × 100 × (1 + buffer)``
  (``price`` = limit, else ``arrivalAsk``) ≤ available buying power (see
  :func:`spxcc_core.broker.sizing.available_buying_power`) of a snapshot fetched at most
  ``max_snapshot_age_ms`` ago, minus the reservations of other intents that snapshot cannot
  reflect yet (not yet at the broker, or changed at the broker after the snapshot was
  fetched) — so two intents never spend the same buying power;
- entries (``*_to_open``): open risk + this intent's risk ≤ ``max_open_risk``; risk is
  ``(price − stopPremium) × qty × 100``, or the whole premium when there is no stop. An entry's
  risk stays open until an exit of it fills (or it ends with nothing filled).

Exits (``*_to_close``) reference their entry explicitly (``entry_intent_id``) or implicitly
(the latest earlier entry of the same account and symbol that is not closed); an exit reaches
the broker only after its entry has filled at least the exit's quantity, and is refused if the
entry ends with less.

Restart (:meth:`RoutingWorker.start`): intents left ``submitting``/``ambiguous`` are looked up at
the broker by tag before anything is resubmitted; ``acked`` ones are re-read by order id and
missed fills are recorded. Several processes may share one store, so not every ``queued`` or
``submitting`` intent is a crash leftover: each intent records its owner (``host:pid:start``,
see :mod:`spxcc_core.broker.owner`) when it is recorded ``queued`` and when it is claimed for
submission. An intent ``queued``/``submitting`` whose owner is ANOTHER process still running on
this host (same host name, the pid exists and is not a zombie, same start time) is loaded (its
reservation and risk count) but neither reconciled nor sent: that process finishes it. Intents
of a dead process, of this process, of another host, or with no recorded owner (stores written
before the column existed) are reconciled as above. :meth:`RoutingWorker.cancel` does not take
over such a submission either (nothing is canceled; rerun the cancel when it finished).

Sending: the move to ``submitting`` is an atomic claim in the store
(:meth:`~spxcc_core.broker.store.BrokerStore.claim_submission`). An intent's first claim ever
tells the adapter ``known_unsubmitted=True`` (no tag lookup before the POST: no request for it
was ever sent); every later claim lets the adapter look the tag up first.

Canceling (:meth:`RoutingWorker.cancel`): by stored order id, else by tag; idempotent.

Reconciliation and halts (:mod:`spxcc_core.broker.reconcile`, the worker's
:class:`~spxcc_core.broker.reconcile.guard.RiskGuard`): an entry is refused (and a queued one
held) while its account is halted by reconciliation (until ``spxcc reconcile --clear``) or, with
reconciliation on (a ``registry`` or ``reconcilers``), until a reconciliation of the account has
passed — at :meth:`RoutingWorker.start`, before the account's first entry, then every
``interval_ms`` from :meth:`RoutingWorker.poll`. Exits are never blocked. Every fill recorded is
passed to the ``spxcc_on_fill`` observers of the ``registry``.

Parts: the checks themselves are pure functions (:mod:`spxcc_core.broker.checks`), open intents,
queues and reservations live in an in-memory :class:`~spxcc_core.broker.book.IntentBook`, every
read and write of the tables goes through :class:`~spxcc_core.broker.store.BrokerStore`, and
every wait goes through the injected :class:`~spxcc_core.clock.Clock`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import attrs

from spxcc_core.broker import checks
from spxcc_core.broker.book import IntentBook, LiveIntent
from spxcc_core.broker.errors import (
    AmbiguousOrderError,
    BrokerAuthError,
    BrokerRejected,
    BrokerUnavailable,
    UnknownOrderError,
)
from spxcc_core.broker.interface import BrokerAdapter, accepts_known_unsubmitted, tag_for
from spxcc_core.broker.owner import current_owner, owner_alive
from spxcc_core.broker.reconcile import (
    ReconcilePolicy,
    Reconciler,
    Reconciliation,
    reconciler_classes,
)
from spxcc_core.broker.reconcile.guard import RiskGuard
from spxcc_core.broker.sizing import available_buying_power
from spxcc_core.broker.store import (
    FINAL_STATES,
    BrokerStore,
    IntentExists,
    IntentRecord,
    IntentState,
)
from spxcc_core.broker.sync import SnapshotSync
from spxcc_core.clock import Clock, SystemClock
from spxcc_core.contracts.broker import (
    TERMINAL_STATUSES,
    BrokerEvent,
    BrokerOrder,
    Fill,
    MarketClock,
    OrderAck,
    OrderIntent,
    OrderRejected,
    OrderUpdate,
    encode_intent,
)
from spxcc_core.contracts.reconcile import ReconcileRun
from spxcc_core.contracts.slippage import SlippageRecord, SlippageSource, SlippageUnavailable
from spxcc_core.errors import ConfigError, InputError, SpxccError
from spxcc_core.registry import IsolatedCaller, PluginRegistry
from spxcc_core.slippage.ledger import slippage_record
from spxcc_core.slippage.store import SlippageStore

__all__ = ["CancelResult", "RouteResult", "RoutingLimits", "RoutingWorker", "state_for_status"]

#: Seconds between two reads of an intent another process is submitting (see ``route``).
_OTHER_WRITER_POLL_S = 0.05


#: Broker order statuses that are also intent states (every other status means ``acked``).
_STATUS_STATES: dict[str, IntentState] = {
    "filled": "filled", "partially_filled": "partially_filled", "canceled": "canceled",
    "expired": "expired", "rejected": "rejected", "error": "error"}


def state_for_status(status: str) -> IntentState:
    """Our intent state for a broker order status (``ok``/``open``/``pending``/… → ``acked``)."""
    return _STATUS_STATES.get(status, "acked")


@attrs.frozen
class RoutingLimits:
    """Pre-trade limits. Money in dollars, times in milliseconds; None disables a limit.

    ``retry_after_ms``: after the broker was unavailable, no request for that account before
    this long (or the broker's own retry-after, when longer).
    """

    max_contracts: int | None = attrs.field(default=None, validator=attrs.validators.optional(
        attrs.validators.ge(1)))
    max_open_risk: float | None = attrs.field(default=None, validator=attrs.validators.optional(
        attrs.validators.ge(0)))
    max_snapshot_age_ms: int = attrs.field(default=5_000, validator=attrs.validators.ge(0))
    check_market_hours: bool = True
    clock_ttl_ms: int = attrs.field(default=1_000, validator=attrs.validators.ge(0))
    bp_buffer: float = attrs.field(default=0.0, validator=[attrs.validators.ge(0.0),
                                                           attrs.validators.le(1.0)])
    retry_after_ms: int = attrs.field(default=1_000, validator=attrs.validators.ge(0))


@attrs.frozen
class RouteResult:
    """Where an intent stands after a routing call.

    ``state`` is the stored state; ``ack`` the broker's ack once there is an order; ``reasons``
    explain a refusal, rejection or error (empty otherwise).
    """

    intent_id: str
    state: IntentState
    ack: OrderAck | None = None
    reasons: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (camelCase)."""
        return {"intentId": self.intent_id, "state": self.state,
                "brokerOrderId": self.ack.broker_order_id if self.ack else None,
                "reasons": list(self.reasons)}


@attrs.frozen
class CancelResult:
    """Outcome of :meth:`RoutingWorker.cancel`.

    ``state`` is the intent's stored state afterwards; ``broker_order_id`` its order (None when
    it never reached the broker); ``requested`` whether a cancel request was sent now;
    ``message`` one human-readable line.
    """

    intent_id: str
    state: IntentState | str
    broker_order_id: str | None
    requested: bool
    message: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (camelCase)."""
        return {"intentId": self.intent_id, "state": self.state,
                "brokerOrderId": self.broker_order_id, "requested": self.requested,
                "message": self.message}


class RoutingWorker:
    """Routes intents to one broker adapter (single-threaded; one worker per store object).

    :param adapter: the broker.
    :param store: the broker tables (SQLite).
    :param limits: pre-trade limits.
    :param sync: snapshot source (default: a :class:`SnapshotSync` over the same adapter/store).
    :param clock: the injected clock: ``now_ms()`` for record times and snapshot ages,
        ``monotonic()``/``sleep()`` for the waits of ``route`` and ``cancel`` (default
        :class:`~spxcc_core.clock.SystemClock`; the default ``sync`` shares it).
    :param on_slippage: called with each newly recorded fill's slippage record (after it is
        stored; never for a fill seen before or one without a measurement), e.g. the
        ``update`` of the rolling statistics the ``ev_floor`` gate reads.
    :param registry: the plugin registry: ``spxcc_on_fill`` observers are called for every
        fill recorded, and (unless ``reconcilers`` is given) its reconcilers
        (``spxcc_register_reconcilers``) turn reconciliation on.
    :param reconcilers: reconciler classes: reconciliation runs at start-up, periodically
        (``reconcile_policy.interval_ms``, from :meth:`poll`) and before an account's first
        entry; an account whose run failed opens no new risk until a run passes. Neither
        this nor ``registry``: reconciliation is off (only the halt flag is honoured).
    :param reconcile_policy: actions per difference kind and the limits (default
        :class:`~spxcc_core.broker.reconcile.ReconcilePolicy`).
    """

    def __init__(self, adapter: BrokerAdapter, store: BrokerStore, *,
                 limits: RoutingLimits | None = None, sync: SnapshotSync | None = None,
                 clock: Clock | None = None,
                 on_slippage: Callable[[SlippageRecord], None] | None = None,
                 registry: PluginRegistry | None = None,
                 reconcilers: list[type[Reconciler]] | None = None,
                 reconcile_policy: ReconcilePolicy | None = None) -> None:
        self.adapter = adapter
        self.on_slippage = on_slippage
        self.store = store
        self.broker = adapter.name
        self.limits = limits or RoutingLimits()
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.sync = sync or SnapshotSync(adapter, store, clock=self.clock)
        self.book = IntentBook()
        self._market: MarketClock | None = None
        self._market_until_ms = -1
        self._started = False
        self._retry_at: dict[str, int] = {}  # per account: no request before this (ms)
        self._fast_submit = accepts_known_unsubmitted(adapter)
        #: intents whose order this worker placed and no route() call has reported yet
        self._placed_unreported: set[str] = set()
        self._slippage_store = SlippageStore(store.store)
        self._on_fill: IsolatedCaller | None = (
            registry.caller("spxcc_on_fill") if registry is not None else None)
        self._fill_source = "routing"
        if reconcilers is None and registry is not None:
            reconcilers = reconciler_classes(registry)
        engine = None if reconcilers is None else Reconciliation(
            adapter, store, reconcilers, self._apply_adopted, policy=reconcile_policy,
            clock=self.clock, failures=registry.failures if registry is not None else None)
        #: halt flag and reconciliation status per account (see spxcc_core.broker.reconcile)
        self.guard = RiskGuard(self.broker, store, self.clock, engine)

    # --- public API ---------------------------------------------------------------------------

    def start(self, account_id: str | None = None) -> list[RouteResult]:
        """Load open intents from the store and reconcile them with the broker by tag before
        anything is (re)submitted; then send what is ready.

        :param account_id: only this account's intents (None: every account of this broker).
        :returns: the state of every intent that was open in the store.
        """
        self._started = True
        open_records = self.store.open_intents(self.broker, account_id)
        for rec in open_records:
            self._load(rec)
        for rec in open_records:
            live = self.book.get(rec.intent_id)
            assert live is not None
            if self._held_by_live_process(rec.intent_id, rec.state):
                continue  # that process sends it (or is sending it) and records the outcome
            if rec.state in ("submitting", "ambiguous"):
                self._reconcile_by_tag(live)
            elif rec.state in ("acked", "partially_filled") and live.order_id is not None:
                self._reconcile_order(live, self.adapter.order(live.account_id, live.order_id))
            if live.state == "queued":
                self.book.enqueue(live.account_id, live.intent_id)
        accounts = {rec.account_id for rec in open_records}
        if account_id is not None or self.adapter.default_account_id is not None:
            accounts.add(account_id or self.adapter.default_account_id or "")
        self.guard.start(accounts)
        self.poll()
        return [self.result(rec.intent_id) for rec in open_records]

    def reconcile(self, account_id: str, *, trigger: str = "manual") -> ReconcileRun | None:
        """Reconcile one account now (None when reconciliation is off); see
        :mod:`spxcc_core.broker.reconcile`."""
        return self.guard.reconcile(account_id, trigger)

    def _apply_adopted(self, event: Fill | OrderUpdate) -> int:
        """Record an event reconciliation adopted (as :meth:`on_event`, source
        ``reconcile``)."""
        self._fill_source = "reconcile"
        try:
            return self.on_event(event)
        finally:
            self._fill_source = "routing"

    def _held_by_live_process(self, intent_id: str, state: str) -> bool:
        """True when the intent is ``queued``/``submitting`` and its recorded owner is another
        process still running on this host: it is that process's to send, not a crash
        leftover to take over (see "Restart" in the module docstring)."""
        return state in ("queued", "submitting") and owner_alive(self.store.owner(intent_id))

    def route(self, intent: OrderIntent, *, entry_intent_id: str | None = None,
              wait_other_s: float = 5.0) -> RouteResult:
        """Check, record and send one intent now (as far as its dependencies allow), then
        collect the broker's events. Idempotent: an intent already recorded is not sent again
        (a refused one is checked again).

        The ack's ``duplicate`` is False exactly when this worker placed the order and this is
        the first ``route`` call to report it; True when the order existed before (placed by an
        earlier run or another process, or found by its tag). When another process is
        submitting the same intent (stored state ``submitting`` it holds), this call waits up
        to ``wait_other_s`` seconds for that submission's outcome and reports it (state still
        ``submitting`` when it did not finish in time).

        :raises InputError: the intent id is recorded with different content.
        :raises BrokerAuthError: the broker refused the credentials (the intent stays queued).
        """
        with self.store.batch():  # committed before each request (see _send)
            result = self.enqueue(intent, entry_intent_id=entry_intent_id)
            if result.state == "queued":
                self.process(self._account(intent))
                self.poll()
        if result.state in ("queued", "submitting") or result.ack is not None:
            self._await_other_writer(intent.intent_id, wait_other_s)
            placed_here = intent.intent_id in self._placed_unreported
            self._placed_unreported.discard(intent.intent_id)
            return self.result(intent.intent_id, duplicate=not placed_here)
        return result

    def _await_other_writer(self, intent_id: str, wait_s: float) -> None:
        """Wait (up to ``wait_s``) while the stored state is ``submitting``: after this
        worker's own sending, only another process can hold that state. Adopt what it
        recorded."""
        deadline = self.clock.monotonic() + wait_s
        waited = False
        while True:
            brief = self.store.brief(intent_id)
            if brief is None or brief.state != "submitting" or self.clock.monotonic() >= deadline:
                break
            waited = True
            self.clock.sleep(_OTHER_WRITER_POLL_S)
        live = self.book.get(intent_id)
        if waited and live is not None:
            self._adopt_stored(live)

    def enqueue(self, intent: OrderIntent, *, entry_intent_id: str | None = None
                ) -> RouteResult:
        """Run the pre-trade checks and record the intent ``queued`` (or ``refused``)."""
        self._ensure_started()
        account = self._account(intent)
        tag = tag_for(intent.intent_id)
        brief = self.store.brief(intent.intent_id)
        existing = self.store.get(intent.intent_id) if brief is not None else None
        if existing is not None:
            if encode_intent(existing.intent) != encode_intent(intent):
                raise InputError(f"intent {intent.intent_id!r}",
                                 "already recorded with different content")
            if existing.state != "refused":
                return self.result(intent.intent_id)
        now = self.clock.now_ms()
        if entry_intent_id is None:
            entry_intent_id = intent.entry_intent_id
        reasons, reserved, risk, entry_id = self._check(intent, account, entry_intent_id)
        if reasons:
            detail = "; ".join(reasons)
            if existing is None:
                try:
                    self.store.insert_intent(intent, broker=self.broker, account_id=account,
                                             tag=tag, state="refused", now_ms=now,
                                             detail=detail, entry_intent_id=entry_id)
                except IntentExists:
                    return self._recorded_meanwhile(intent)
            else:
                self.store.transition(intent.intent_id, "refused", now_ms=now, kind="check",
                                      detail=detail, last_error=detail)
            return RouteResult(intent.intent_id, "refused", None, tuple(reasons))
        if existing is None:
            try:
                self.store.insert_intent(intent, broker=self.broker, account_id=account,
                                         tag=tag, state="queued", now_ms=now,
                                         entry_intent_id=entry_id, reserved_bp=reserved,
                                         risk=risk, owner=current_owner())
            except IntentExists:
                return self._recorded_meanwhile(intent)
        else:
            self.store.transition(intent.intent_id, "queued", now_ms=now, kind="check",
                                  reserved_bp=reserved, risk=risk, entry_intent_id=entry_id,
                                  last_error=None, owner=current_owner())
        live = LiveIntent(intent=intent, account_id=account, tag=tag, state="queued",
                          reserved=reserved, risk=risk, entry_id=entry_id)
        self.book.add(live)
        if checks.is_entry(intent.side):
            self.book.set_risk(account, self._open_risk(account) + risk)
        self.book.enqueue(account, intent.intent_id)
        return RouteResult(intent.intent_id, "queued")

    def _recorded_meanwhile(self, intent: OrderIntent) -> RouteResult:
        """Another writer recorded the same intent between this worker's read and its insert
        (concurrent submits of one intent): adopt the stored intent instead of failing."""
        rec = self.store.get(intent.intent_id)
        if rec is None or encode_intent(rec.intent) != encode_intent(intent):
            raise InputError(f"intent {intent.intent_id!r}",
                             "already recorded with different content")
        if rec.state not in FINAL_STATES and rec.intent_id not in self.book:
            self._load(rec)
            if rec.state == "queued":
                self.book.enqueue(rec.account_id, rec.intent_id)
        return self.result(intent.intent_id)

    def process(self, account_id: str | None = None) -> int:
        """Send queued intents whose entry (if any) has filled, in queue order, one request at
        a time per account. :returns: how many requests were sent."""
        self._ensure_started()
        sent = 0
        accounts = [account_id] if account_id is not None else self.book.queued_accounts()
        for account in accounts:
            queue = self.book.queue(account)
            if not queue or self.clock.now_ms() < self._retry_at.get(account, 0):
                continue
            waiting: deque[str] = deque()
            while queue:
                intent_id = queue.popleft()
                live = self.book.get(intent_id)
                if live is None or live.state != "queued":
                    continue
                gate = self._entry_gate(live)
                if gate is None and live.is_entry and self.guard.block_reason(account):
                    gate = "wait"  # no new risk while halted or not reconciled
                if gate == "wait":
                    waiting.append(intent_id)
                    continue
                if gate is not None:
                    self._final(live, "refused", gate, kind="check")
                    continue
                sent += 1
                if not self._send(live):
                    waiting.append(intent_id)
                    waiting.extend(queue)  # broker unavailable: keep the order, try later
                    queue.clear()
            queue.extend(waiting)
        return sent

    def poll(self) -> int:
        """Collect broker events for accounts with live intents, record them, and send exits
        whose entry just filled. :returns: events applied."""
        self.guard.tick()
        applied = 0
        for _ in range(100):  # fills can release exits whose fills release nothing further
            accounts = self.book.accounts()
            n = 0
            with self.store.batch():
                for account in accounts:
                    for event in self.adapter.poll_events(account):
                        n += self.on_event(event)
            applied += n
            if self.process() == 0 and n == 0:
                break
        return applied

    def on_event(self, event: BrokerEvent | Any) -> int:
        """Apply one broker event (fill, update, rejection) to its intent.

        Events of orders spxcc did not place are ignored. :returns: 1 when applied, else 0.
        """
        if isinstance(event, OrderAck):
            return 0
        if not isinstance(event, (Fill, OrderUpdate, OrderRejected)):
            return 0
        live = self._find(event)
        if live is None:
            return 0
        now = self.clock.now_ms()
        if isinstance(event, Fill):
            slippage = self._slippage(live.intent, event)
            key_new = self.store.record_fill(event, intent_id=live.intent.intent_id, now_ms=now,
                                             slippage=slippage)
            if not key_new:
                return 0
            if self.on_slippage is not None and isinstance(slippage, SlippageRecord):
                self.on_slippage(slippage)
            prev = live.filled
            live.filled = prev + event.quantity
            live.avg = round(((live.avg or 0.0) * prev + event.price * event.quantity)
                             / live.filled, 10)
            state: IntentState = ("filled" if live.filled >= live.intent.quantity
                                  else "partially_filled")
            self._set(live, state, now, kind="fill", detail=f"{event.quantity:g} @ {event.price:g}",
                      filled_quantity=live.filled, avg_fill_price=live.avg)
            if self._on_fill:
                self._on_fill(fill=event, intent=live.intent, context={
                    "broker": self.broker, "account_id": live.account_id,
                    "source": self._fill_source, "filled_quantity": live.filled,
                    "state": state})
            return 1
        if isinstance(event, OrderRejected):
            self._final(live, "rejected", event.reason, kind="rejected")
            return 1
        state = state_for_status(event.status)
        if state == live.state or (state == "acked" and live.state == "partially_filled"):
            return 0
        if state in ("filled", "partially_filled") and (event.filled_quantity or 0) > live.filled:
            return 0  # the fill event that explains it has not been applied yet
        if state in FINAL_STATES:
            self._final(live, state, event.reason or event.status, kind="update")
        else:
            self._set(live, state, now, kind="update", detail=event.status)
        return 1

    def _slippage(self, intent: OrderIntent, fill: Fill) -> SlippageRecord | SlippageUnavailable:
        """The fill's slippage against the intent's arrival quote (or why there is none),
        bucketed by the intent's recorded origin; ``paper`` for a simulated adapter."""
        origin = self._slippage_store.origin(intent.intent_id)
        source: SlippageSource = "paper" if self.adapter.simulated else "broker"
        return slippage_record(intent, fill, source=source, setup_id=origin.setup_id,
                               detector=origin.detector, underlying_price=origin.underlying_price)

    def cancel(self, intent_id: str, *, wait_s: float = 0.0,
               poll_interval_s: float = 0.2) -> CancelResult:
        """Cancel an intent's broker order (found by its stored order id, else by its tag) and
        record what the broker reports. Idempotent; sends nothing else (queued intents of the
        account are not submitted by this call).

        - already final in the store, or its order already final at the broker: nothing is
          requested (``requested`` False, the message says why);
        - ``queued`` with no broker order (never placed, or established not placed): ends
          ``canceled`` locally, so no worker sends it later;
        - ``submitting``/``ambiguous``: the tag is looked up first (as on restart);
        - otherwise the cancel is requested, then the order is re-read (for up to ``wait_s``
          seconds until final: a broker may accept the request and cancel later, or a fill
          may win the race) and its status, and any fills, are recorded.

        :raises InputError: the intent is not recorded.
        :raises ConfigError: the intent was routed to another broker.
        :raises AmbiguousOrderError: the order's existence cannot be established (tag lookup
            failed); nothing was canceled.
        :raises BrokerError: the broker refused or failed the request.
        """
        rec = self.store.get(intent_id)
        if rec is None:
            raise InputError(f"intent {intent_id!r}", "not recorded in the store")
        if rec.broker != self.broker:
            raise ConfigError(f"intent {intent_id!r} was routed to {rec.broker}, "
                              f"not {self.broker}")
        if rec.state in FINAL_STATES:
            return CancelResult(intent_id, rec.state, rec.broker_order_id, False,
                                f"intent is already {rec.state}: nothing to cancel")
        live = self.book.get(intent_id) or self._load(rec)
        self._open_risk(live.account_id)  # cached before any change releases risk
        if (live.order_id is None and live.state == "submitting"
                and self._held_by_live_process(intent_id, "submitting")):
            return CancelResult(intent_id, "submitting", None, False,
                                "another running process is submitting it right now: "
                                "nothing canceled; rerun the cancel when it finished")
        if live.order_id is None and live.state in ("submitting", "ambiguous"):
            self._reconcile_by_tag(live)
            if live.state == "ambiguous":
                raise AmbiguousOrderError(intent_id, live.tag, "the broker could not be asked "
                                          "for the tag; nothing canceled")
        if live.order_id is None:
            if live.state == "queued":
                self._final(live, "canceled", "canceled before it was sent", kind="cancel")
                return CancelResult(intent_id, "canceled", None, False,
                                    "canceled before it was sent: no broker order")
            return self._cancel_result(intent_id, False, "no broker order")
        account, order_id = live.account_id, live.order_id
        order = self.adapter.order(account, order_id)
        if order.status in TERMINAL_STATUSES:
            self._reconcile_order(live, order)
            return self._cancel_result(intent_id, False, f"order {order_id} is already "
                                       f"{order.status}: nothing to cancel")
        try:
            self.adapter.cancel(account, order_id)
        except UnknownOrderError:
            raise
        except BrokerRejected:
            order = self.adapter.order(account, order_id)
            if order.status not in TERMINAL_STATUSES:
                raise
            self._reconcile_order(live, order)  # it became final first (e.g. a fill won)
            return self._cancel_result(intent_id, False, f"order {order_id} is already "
                                       f"{order.status}: nothing to cancel")
        self.store.transition(intent_id, live.state, now_ms=self.clock.now_ms(), kind="cancel",
                              detail=f"cancel of order {order_id} requested")
        deadline = self.clock.monotonic() + wait_s
        order = self.adapter.order(account, order_id)
        while order.status not in TERMINAL_STATUSES and self.clock.monotonic() < deadline:
            self.clock.sleep(poll_interval_s)
            order = self.adapter.order(account, order_id)
        self._reconcile_order(live, order)
        if order.status == "canceled":
            return self._cancel_result(intent_id, True, f"order {order_id} canceled")
        return self._cancel_result(intent_id, True, f"cancel of order {order_id} requested; "
                                   f"the broker reports it {order.status}")

    def _cancel_result(self, intent_id: str, requested: bool, message: str) -> CancelResult:
        brief = self.store.brief(intent_id)
        assert brief is not None
        return CancelResult(intent_id, brief.state, brief.broker_order_id, requested, message)

    def result(self, intent_id: str, *, duplicate: bool = True) -> RouteResult:
        """The stored state of an intent (``duplicate`` is copied into the ack).

        :raises InputError: unknown intent id.
        """
        rec = self.store.brief(intent_id)
        if rec is None:
            raise InputError(f"intent {intent_id!r}", "not recorded in the store")
        reasons = tuple(rec.last_error.split("; ")) if rec.last_error else ()
        return RouteResult(intent_id, rec.state, rec.ack(duplicate=duplicate), reasons)

    # --- checks -------------------------------------------------------------------------------

    def _check(self, intent: OrderIntent, account: str, entry_intent_id: str | None
               ) -> tuple[list[str], float, float, str | None]:
        """Every failing pre-trade check's reason, the buying power to reserve, the entry's
        risk and the entry an exit refers to."""
        lim = self.limits
        reasons: list[str] = []
        if (r := checks.max_contracts_reason(intent.quantity, lim.max_contracts)) is not None:
            reasons.append(r)
        if lim.check_market_hours and (
                r := checks.market_hours_reason(self._market_clock())) is not None:
            reasons.append(r)
        price = checks.order_price(intent)
        reserved = 0.0
        if intent.side in checks.BUY_SIDES:
            if price is None:
                reasons.append(checks.missing_price_reason())
            else:
                reserved = checks.estimated_cost(price, intent.quantity, lim.bp_buffer)
                snap = self.sync.fresh(account, lim.max_snapshot_age_ms)
                bp, source = available_buying_power(snap.snapshot)
                held = self.book.reserved(account, snap.fetched_ms) if bp is not None else 0.0
                if (r := checks.buying_power_reason(reserved, bp, source, held)) is not None:
                    reasons.append(r)
        risk = 0.0
        if checks.is_entry(intent.side):
            if (r := self.guard.block_reason(account)) is not None:
                reasons.append(r)
            risk = checks.entry_risk(price, intent.stop_premium, intent.quantity)
            if lim.max_open_risk is not None:
                r = checks.open_risk_reason(self._open_risk(account), risk, lim.max_open_risk,
                                            price is not None)
                if r is not None:
                    reasons.append(r)
        entry_id: str | None = None
        if intent.side.endswith("_to_close"):
            entry_id, problem = self._find_entry(intent, account, entry_intent_id)
            if problem:
                reasons.append(problem)
        elif entry_intent_id is not None:
            reasons.append(checks.ENTRY_REFERENCES_ENTRY)
        return reasons, reserved, risk, entry_id

    def _find_entry(self, intent: OrderIntent, account: str, entry_intent_id: str | None
                    ) -> tuple[str | None, str | None]:
        if entry_intent_id is not None:
            rec = self.store.brief(entry_intent_id)
            problem = checks.entry_reference_reason(
                entry_intent_id, recorded=rec is not None,
                is_entry=rec is not None and rec.is_entry,
                same_account=rec is not None and rec.account_id == account
                and rec.broker == self.broker, account_id=account, broker=self.broker)
            if problem is not None:
                return None, problem
            return entry_intent_id, None
        return self.store.latest_open_entry(self.broker, account, intent.option_symbol), None

    def _entry_gate(self, live: LiveIntent) -> str | None:
        """None: may be sent; "wait": entry not filled yet; else the refusal reason."""
        if live.entry_id is None:
            return None
        entry = self.book.get(live.entry_id)
        if entry is not None:
            state, filled = entry.state, entry.filled
        else:
            rec = self.store.brief(live.entry_id)
            if rec is None:
                return f"entry intent {live.entry_id!r} is not recorded"
            state, filled = rec.state, rec.filled_quantity
        gate = checks.entry_gate(live.entry_id, entry_state=state, entry_filled=filled,
                                 exit_quantity=live.intent.quantity,
                                 entry_final=state in FINAL_STATES)
        return None if gate == "send" else gate

    def _market_clock(self) -> MarketClock:
        """The broker's market clock, re-read only when the cached one expired."""
        now = self.clock.now_ms()
        if self._market is None or now >= self._market_until_ms:
            self._market = self.adapter.market_clock()
            self._market_until_ms = checks.clock_valid_until_ms(
                now, self.limits.clock_ttl_ms, self._market.next_change_ms)
        return self._market

    def _open_risk(self, account: str) -> float:
        risk = self.book.cached_risk(account)
        if risk is None:
            risk = self.store.open_entry_risk(self.broker, account)
            self.book.set_risk(account, risk)
        return risk

    # --- sending ------------------------------------------------------------------------------

    def _send(self, live: LiveIntent) -> bool:
        """Send one intent. False when the broker is unavailable (the intent stays queued).

        The move to ``submitting`` is an atomic claim in the store: when another writer moved
        the intent meanwhile, nothing is sent and the stored state is adopted. When this claim
        is the intent's first ``submit`` ever, no request for it was ever sent, so the adapter
        is told it may skip the tag lookup (``known_unsubmitted``); a re-send (after a crash,
        an unavailable broker or an ambiguous outcome) always looks the tag up first.
        """
        intent = live.intent
        now = self.clock.now_ms()
        claimed, first = self.store.claim_submission(intent.intent_id, now_ms=now,
                                                     detail=live.tag, owner=current_owner())
        if not claimed:
            self._adopt_stored(live)
            return True
        live.state = "submitting"
        self.store.flush()  # the tag and the submitting state are durable before the request

        def tag_check(_intent: OrderIntent, tag: str) -> None:
            if tag != live.tag:
                raise ConfigError(f"adapter {self.broker} assigned tag {tag}, stored {live.tag}")

        try:
            if self._fast_submit:
                ack = self.adapter.submit(intent, on_tag_assigned=tag_check,
                                          known_unsubmitted=first)
            else:
                ack = self.adapter.submit(intent, on_tag_assigned=tag_check)
        except BrokerRejected as exc:
            self._final(live, "rejected", exc.reason, kind="rejected")
            return True
        except AmbiguousOrderError as exc:
            self._set(live, "ambiguous", self.clock.now_ms(), kind="ambiguous", detail=str(exc),
                      last_error=str(exc))
            return True
        except BrokerAuthError as exc:
            self._set(live, "queued", self.clock.now_ms(), kind="unavailable", detail=str(exc),
                      last_error=str(exc))
            self.store.flush()
            raise
        except BrokerUnavailable as exc:
            self._set(live, "queued", self.clock.now_ms(), kind="unavailable", detail=str(exc),
                      last_error=str(exc))
            wait_ms = self.limits.retry_after_ms
            if exc.retry_after_s is not None:
                wait_ms = max(wait_ms, round(exc.retry_after_s * 1000))
            self._retry_at[live.account_id] = self.clock.now_ms() + wait_ms
            return False
        except SpxccError as exc:
            self._final(live, "error", str(exc), kind="error")
            return True
        if not ack.duplicate:  # placed by this call: reported as new once (see route)
            self._placed_unreported.add(intent.intent_id)
        with self.store.batch():
            self._apply_ack(live, ack)
            if ack.duplicate and live.order_id is not None:
                self._reconcile_order(live, self.adapter.order(live.account_id, live.order_id))
        return True

    def _adopt_stored(self, live: LiveIntent) -> None:
        """Take over the stored state of an intent another writer changed."""
        self.book.forget(live.intent_id)
        rec = self.store.get(live.intent_id)
        if rec is None:
            return
        self._load(rec)
        if rec.state in FINAL_STATES:
            self.book.drop_hold(live.account_id, rec.intent_id)

    def _apply_ack(self, live: LiveIntent, ack: OrderAck) -> None:
        now = self.clock.now_ms()
        self.adapter.remember_intent(live.tag, live.intent.intent_id)
        live.order_id = ack.broker_order_id
        live.changed_ms = now
        self.store.record_ack(ack, state="acked", now_ms=now)
        live.state = "acked"

    def _reconcile_by_tag(self, live: LiveIntent) -> None:
        try:
            ack = self.adapter.find_by_tag(live.account_id, live.tag)
        except BrokerUnavailable as exc:
            self._set(live, "ambiguous", self.clock.now_ms(), kind="reconcile", detail=str(exc),
                      last_error=str(exc))
            return
        if ack is None:
            self._set(live, "queued", self.clock.now_ms(), kind="reconcile",
                      detail="no order with this tag at the broker: will submit")
            return
        ack = OrderAck(intent_id=live.intent.intent_id, broker_order_id=ack.broker_order_id,
                       status=ack.status, tag=live.tag, account_id=live.account_id,
                       broker=self.broker, duplicate=True, at_ms=ack.at_ms)
        self._apply_ack(live, ack)
        self._reconcile_order(live, self.adapter.order(live.account_id, ack.broker_order_id))

    def _reconcile_order(self, live: LiveIntent, order: BrokerOrder) -> None:
        """Record what the broker's view of the order adds to ours (missed fills, status)."""
        filled = order.filled_quantity or 0.0
        if filled > live.filled and order.avg_fill_price:
            inc = filled - live.filled
            price = (order.avg_fill_price * filled - (live.avg or 0.0) * live.filled) / inc
            self.on_event(Fill(
                fill_id=f"{order.id}-{filled:g}", broker_order_id=order.id,
                symbol=order.symbol or live.intent.option_symbol,
                side=order.side or live.intent.side, quantity=inc, price=round(price, 10),
                tag=live.tag, intent_id=live.intent.intent_id, account_id=live.account_id,
                at_ms=order.updated_at_ms))
        if order.status == "rejected":
            self.on_event(OrderRejected(intent_id=live.intent.intent_id,
                                        reason=order.reason or "rejected",
                                        broker_order_id=order.id, tag=live.tag,
                                        account_id=live.account_id))
        else:
            self.on_event(OrderUpdate(broker_order_id=order.id, status=order.status,
                                      tag=live.tag, intent_id=live.intent.intent_id,
                                      account_id=live.account_id, quantity=order.quantity,
                                      filled_quantity=filled, reason=order.reason))

    # --- state bookkeeping --------------------------------------------------------------------

    def _set(self, live: LiveIntent, state: IntentState, now: int, *, kind: str, detail: str | None = None,
             **columns: Any) -> None:
        self.store.transition(live.intent.intent_id, state, now_ms=now, kind=kind,
                              detail=detail, **columns)
        live.state = state
        if kind in ("fill", "update", "ack"):
            live.changed_ms = now
        if state in FINAL_STATES:
            live.changed_ms = now
            self.book.finish(live, now)
        if state == "filled" and not live.is_entry:
            self._close_entry(live, now)

    def _final(self, live: LiveIntent, state: IntentState, reason: str, *, kind: str) -> None:
        now = self.clock.now_ms()
        self._set(live, state, now, kind=kind, detail=reason, last_error=reason)
        if live.is_entry and live.filled == 0 and live.risk:
            self.book.set_risk(live.account_id, self._open_risk(live.account_id) - live.risk)
            self.store.transition(live.intent.intent_id, state, now_ms=now, kind="risk",
                                  detail="risk released: nothing filled", closed_ms=now)

    def _close_entry(self, exit_live: LiveIntent, now: int) -> None:
        entry_id = exit_live.entry_id
        if entry_id is None:
            return
        rec = self.store.brief(entry_id)
        if rec is None or rec.closed_ms is not None:
            return
        self.store.transition(entry_id, rec.state, now_ms=now, kind="closed",
                              detail=f"closed by {exit_live.intent.intent_id}", closed_ms=now)
        self.book.set_risk(rec.account_id, self._open_risk(rec.account_id) - rec.risk)

    def _find(self, event: Fill | OrderUpdate | OrderRejected) -> LiveIntent | None:
        if event.intent_id and (found := self.book.get(event.intent_id)) is not None:
            return found
        rec: IntentRecord | None = None
        if event.tag:
            rec = self.store.by_tag(event.tag)
        if rec is None and event.broker_order_id and event.account_id:
            rec = self.store.by_order(self.broker, event.account_id, event.broker_order_id)
        if rec is None or rec.broker != self.broker:
            return None
        live = self.book.get(rec.intent_id)
        if live is None:
            live = self._load(rec)
        return live

    def _load(self, rec: IntentRecord) -> LiveIntent:
        live = LiveIntent(intent=rec.intent, account_id=rec.account_id, tag=rec.tag,
                          state=rec.state, reserved=rec.reserved_bp, risk=rec.risk,
                          entry_id=rec.entry_intent_id, order_id=rec.broker_order_id,
                          filled=rec.filled_quantity, avg=rec.avg_fill_price,
                          changed_ms=rec.updated_ms if rec.acked_ms else None)
        if rec.state not in FINAL_STATES:
            self.book.add(live)
        if rec.broker_order_id is not None:
            self.adapter.remember_intent(rec.tag, rec.intent_id)
        return live

    def _account(self, intent: OrderIntent) -> str:
        return self.adapter.account_for(intent)

    def _ensure_started(self) -> None:
        if not self._started:
            self.start()
