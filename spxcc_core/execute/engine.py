"""The executor: triggered setups → option order intents → a broker fed in event time.

One :class:`Executor` runs beside the pipeline of a session (replay or live) and is driven by
it: :meth:`Executor.step` after every pipeline step with that step's raw quotes and its setup
changes, :meth:`Executor.finish` at the end. It needs a broker that takes quotes and time from
the stream (``on_quote``/``advance_to``/``subscribe``, as the paper adapter does), so fills,
latency and day-order expiry all happen in event time and a rerun is byte-identical.

Timeline of a step: the step's setup changes become events at the *end* of the bar they
happened on (``triggeredMs``/``t1Ms``/``closedMs`` + the bar interval: the bar is known only
once it is over). An event waits until an option quote at or after its time has been seen, so
the outputs do not depend on how the input is cut into steps. Events are handled in time
order; before each, the option quotes up to its time are applied to the
:class:`~spxcc_core.execute.quotes.OptionQuoteBook` and to the broker (only the contracts it has orders or positions in), then the broker clock is
advanced to it. The forced flat (``flat_before_close_s`` before the close) is one more event.

Per setup (intent ids are a hash of the setup id and the leg, so a rerun writes the same ids):

- ``entry`` when it triggers: contract selection (:mod:`spxcc_core.execute.select`), limit
  price (:func:`~spxcc_core.execute.pricing.entry_limit`), stop premium
  (:func:`~spxcc_core.execute.pricing.stop_premium`) with the underlying stop distance scaled
  to index points (``|entry − stop| × index / entry``), size
  (:func:`spxcc_core.broker.sizing.size_contracts` on the broker's snapshot); a buy-to-open
  limit day order;
- ``t1`` when T1 is reached: ``floor(filled × t1_fraction)`` contracts, sell-to-close market;
- ``exit`` when the setup closes (counted by reason: ``t2``, ``stop``, ``t1_remainder`` — the
  rest after T1 stopped at breakeven or closed at the session end —, ``expired``) or at the
  forced flat (``flat``): everything still held, sell-to-close market. A working entry
  remainder is canceled first, a working T1 order too (its contracts go with the exit).

Every fill is measured by the slippage ledger (:func:`spxcc_core.slippage.ledger.slippage_record`,
source ``paper`` for a simulated broker) against its intent's arrival quote.

Exits are market orders: a stop must get out. On a zero bid nobody buys, so the order keeps
working until a bid appears (``spxcc_paper``'s fill model). A position is never carried past
the forced flat, which is before its 0DTE contract's 16:00 settlement; at the end of the input
every position still held gets its exit too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import heapq
import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import attrs
import msgspec
import numpy as np

from spxcc_core.aggregate.columns import QuoteColumns, SymbolTable
from spxcc_core.broker.interface import BrokerAdapter
from spxcc_core.broker.sizing import MULTIPLIER, size_contracts
from spxcc_core.contracts.broker import (
    BrokerEvent,
    Fill,
    OrderIntent,
    OrderRejected,
    Position,
    Side,
)
from spxcc_core.contracts.execution import ExecutionReport, SlippageBucket
from spxcc_core.contracts.setup import SetupInstance
from spxcc_core.contracts.slippage import SlippageRecord, SlippageUnavailable
from spxcc_core.errors import ConfigError, InputError
from spxcc_core.execute.policy import ExecutionPolicy
from spxcc_core.execute.pricing import entry_limit, stop_premium
from spxcc_core.execute.quotes import OptionQuoteBook
from spxcc_core.execute.routing import DirectRouter, Router
from spxcc_core.execute.select import NoContract, OptionQuote, select_contract
from spxcc_core.occ import parse_occ, underlying_for_root
from spxcc_core.session import get_calendar
from spxcc_core.slippage.ledger import slippage_record
from spxcc_core.slippage.store import IntentOrigin

__all__ = ["EventTimeBroker", "ExecutedTrade", "ExecutionOutputs", "Executor", "intent_id_for"]

_NS_PER_MS = 1_000_000
_line_encoder = msgspec.json.Encoder()
#: Event order at one instant: broker wake-ups (an order's latency elapsed), entries, T1
#: partials, final exits, the forced flat.
_WAKE, _ENTRY, _T1, _EXIT, _FLAT = 0, 1, 2, 3, 4


@runtime_checkable
class EventTimeBroker(Protocol):
    """What the executor needs besides :class:`BrokerAdapter`: quotes and time from the stream
    and a synchronous event listener (the paper adapter has all three)."""

    def on_quote(self, symbol: str, ts_ns: int, bid: float, bid_size: float, ask: float,
                 ask_size: float) -> None: ...
    def advance_to(self, ts_ns: int) -> None: ...
    def subscribe(self, listener: Callable[[BrokerEvent], None]) -> None: ...


class _NoFeed:
    """The event-time feed of a broker that has its own market (a real broker): nothing to
    feed, nothing to advance; its fills come from the routing worker."""

    def on_quote(self, symbol: str, ts_ns: int, bid: float, bid_size: float, ask: float,
                 ask_size: float) -> None:
        return None

    def advance_to(self, ts_ns: int) -> None:
        return None

    def subscribe(self, listener: Callable[[BrokerEvent], None]) -> None:
        return None


def intent_id_for(setup_id: str, leg: str) -> str:
    """Deterministic intent id of one leg (``entry``, ``t1``, ``exit``) of a setup:
    ``x-`` and the first 32 hex digits of SHA-256 over ``setup_id|leg``."""
    return "x-" + hashlib.sha256(f"{setup_id}|{leg}".encode()).hexdigest()[:32]


@attrs.define(eq=False)
class _Trade:
    """One setup's position: its entry and what has been filled and closed."""

    setup: SetupInstance
    entry: OrderIntent
    order_id: str | None = None
    stop_premium: float = 0.0
    bought: float = 0.0
    cost: float = 0.0  # dollars paid
    sold: float = 0.0
    proceeds: float = 0.0  # dollars received
    exits: dict[str, OrderIntent] = attrs.field(factory=dict)
    exit_orders: dict[str, str] = attrs.field(factory=dict)
    t1_done: bool = False
    exited: bool = False


@attrs.frozen
class ExecutedTrade:
    """One setup's executed round trip, for the release gates: ``setup_id``; ``entered_ms`` the
    setup's trigger time (epoch ms); ``realized_r`` the trade's P&L after every fill's actual
    price (so after slippage) over its planned risk (entry price − stop premium, × 100 × the
    contracts bought) — None while any bought contract is still open or the risk is not
    positive; ``reached_t1`` whether the T1 partial exit was sent; ``pnl`` dollars over the
    closed contracts."""

    setup_id: str
    entered_ms: int
    realized_r: float | None
    reached_t1: bool
    pnl: float


@attrs.define(eq=False)
class ExecutionOutputs:
    """What the executor produced, in output order: ``intents`` by creation (entries and
    exits), ``fills`` in the broker's order, ``positions`` the end-of-session book (by
    symbol), ``slippage`` one line per fill, ``report`` the ``execution_report@1``, ``trades``
    every entry that filled, by trigger time then setup id (not written to a file)."""

    intents: list[OrderIntent]
    fills: list[Fill]
    positions: list[Position]
    slippage: list[SlippageRecord]
    report: ExecutionReport
    trades: list[ExecutedTrade] = attrs.field(factory=list)

    def counts(self) -> dict[str, int]:
        """Lines per output file (``spxcc_core.run.result.EXECUTION_FILES``)."""
        return {"intents.jsonl": len(self.intents), "fills.jsonl": len(self.fills),
                "positions.jsonl": len(self.positions), "slippage.jsonl": len(self.slippage)}

    def files(self) -> dict[str, bytes]:
        """The output files' bytes (JSON Lines, ``EXECUTION_FILES`` order)."""
        enc = _line_encoder.encode_lines
        return {"intents.jsonl": enc(self.intents), "fills.jsonl": enc(self.fills),
                "positions.jsonl": enc(self.positions), "slippage.jsonl": enc(self.slippage)}


class Executor:
    """Runs the execution policy against a broker fed in event time (module docstring).

    :param adapter: the broker (must satisfy :class:`EventTimeBroker` too).
    :param policy: the execution policy.
    :param t1_fraction: share of the position closed at T1 (the profile's ``[outcome]``).
    :param market: where the index value is read: ``market.index_value(symbol, at_ms,
        max_age_ms)`` (the pipeline's :class:`~spxcc_core.detect.market.SessionMarket`).
    :param symbols: the symbol table the quote batches refer to.
    :param interval_ms: the microbar interval (a bar is known at its start + this).
    :param router: how intents reach the broker (default: directly,
        :class:`~spxcc_core.execute.routing.DirectRouter`; live: the routing worker).
    :param on_slippage: called with each measured fill's slippage record, unless the router
        measures fills itself (the pipeline's rolling statistics for the ``ev_floor`` gate).
    :param on_fill: called with each fill of one of our intents and that intent, unless the
        router records fills itself (the routing worker then calls the ``spxcc_on_fill``
        observers); the pipeline passes the ``spxcc_on_fill`` observers with ``source``
        ``replay``.
    :raises ConfigError: the broker cannot be fed quotes in event time, or no account.
    """

    def __init__(self, adapter: BrokerAdapter, policy: ExecutionPolicy, *, t1_fraction: float,
                 market: Any, symbols: SymbolTable, interval_ms: int,
                 router: Router | None = None,
                 on_slippage: Callable[[SlippageRecord], None] | None = None,
                 on_fill: Callable[[Fill, OrderIntent, float], None] | None = None) -> None:
        self.router: Router = router if router is not None else DirectRouter(
            adapter, policy.account_id or adapter.default_account_id or "")
        if not isinstance(adapter, EventTimeBroker) and not self.router.measures_fills:
            raise ConfigError(f"broker {adapter.name!r} cannot execute in event time: it takes "
                              "no quotes or time from the stream (on_quote, advance_to, "
                              "subscribe); a real broker executes live, through the routing "
                              "worker (spxcc live --execute NAME); in replay use --execute "
                              "paper")
        self.adapter = adapter
        #: the broker's event-time feed: the paper broker is fed the stream's quotes and time
        #: and reports its fills to the executor; a real broker (live, through the routing
        #: worker) fills on its own market, and its fills reach the executor from the worker
        self._feed: EventTimeBroker = adapter if isinstance(adapter, EventTimeBroker) \
            else _NoFeed()
        self.policy = policy
        self.t1_fraction = t1_fraction
        self.market = market
        self.symbols = symbols
        self.interval_ms = interval_ms
        account = policy.account_id or adapter.default_account_id
        if not account:
            raise ConfigError("execution: no account (set [execution] account_id or the "
                              "broker's account_id option)")
        self.account_id: str = account
        self.on_slippage = on_slippage if not self.router.measures_fills else None
        self.on_fill = on_fill if not self.router.measures_fills else None
        self.book: OptionQuoteBook | None = None
        self._flat_ms: int | None = None
        self._now_ms = 0
        self._active: set[str] = set()
        self._open_trades: dict[str, _Trade] = {}
        self._active_ids = np.zeros(0, dtype=np.int32)
        self._seen: dict[str, set[str]] = {}
        self._trades: dict[str, _Trade] = {}
        self._by_intent: dict[str, tuple[_Trade, OrderIntent]] = {}
        self.intents: list[OrderIntent] = []
        self.fills: list[Fill] = []
        self.slippage: list[SlippageRecord] = []
        self._unmeasured: Counter[str] = Counter()
        self._spot: dict[str, float] = {}  # intent id -> index value at its creation
        self._setups = 0
        self._skipped: Counter[str] = Counter()
        self._rejected_contracts: Counter[str] = Counter()
        self._sizing: Counter[str] = Counter()
        self._exits: Counter[str] = Counter()
        self._broker_rejections = 0
        self._queue: list[tuple[int, int, str, str, int, SetupInstance | None]] = []
        self._seq = 0
        # the broker's submit latency (the paper adapter's fill model): each order gets a
        # wake-up then, so its fill is stamped when it happens, not at the next event
        self._latency_ms = math.ceil(int(getattr(getattr(adapter, "model", None),
                                                 "latency_ns", 0)) / _NS_PER_MS)
        self._batch: QuoteColumns | None = None
        self._carry_ns = -(2**63)
        self._horizon_ms: int | None = None
        self._cummax: np.ndarray | None = None
        self._pos = 0
        if isinstance(adapter, EventTimeBroker):
            self._feed.subscribe(self._on_event)
        else:
            self.router.subscribe_fills(self._on_event)

    # -- session -----------------------------------------------------------------------------

    def set_session_date(self, session_date: str) -> None:
        """Fix the session (its contracts expire on it; its close sets the forced flat).

        :raises InputError: not a ``YYYY-MM-DD`` date.
        """
        if self.book is not None:
            return
        try:
            day = dt.date.fromisoformat(session_date)
        except ValueError:
            raise InputError("session date", f"{session_date!r} is not a YYYY-MM-DD date"
                             ) from None
        self.book = OptionQuoteBook(self.symbols, self.policy.root, day)
        trading = get_calendar().day(day)
        if trading.close_ms is not None:
            self._flat_ms = trading.close_ms - self.policy.flat_before_close_s * 1000
            self._push(self._flat_ms, _FLAT, "", None)

    # -- driving -----------------------------------------------------------------------------

    def step(self, quotes: QuoteColumns | None, setups: Sequence[SetupInstance],
             frontier_ms: int | None = None) -> None:
        """One pipeline step: its raw quotes (arrival order, may be None), its setup changes
        (production order) and the decision frontier: every setup change of a bar ending at
        or before ``frontier_ms`` is known (the pipeline's released bars; None: no limit).

        An event waits until an option quote at or after its time has been seen (the quotes
        before it are then complete), and quotes after the frontier wait for the next step
        (a setup change still to come may lie before them), so every decision is made with
        the quotes in force at its own time and does not depend on how the input was cut
        into steps (``--step-ms``, websocket frames)."""
        if self.book is None:
            if not setups:
                return
            raise RuntimeError("Executor.step before set_session_date")
        self._start_batch(quotes)
        for event in self._events(setups):
            self._push(*event)
        if self._horizon_ms is not None:  # before any option quote nothing can be decided
            self._drain(self._horizon_ms if frontier_ms is None
                        else min(self._horizon_ms, frontier_ms))
        self._apply_until(frontier_ms)

    def _push(self, at_ms: int, kind: int, leg: str, setup: SetupInstance | None) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (at_ms, kind, leg, setup.id if setup else "", self._seq,
                                     setup))

    def _drain(self, horizon_ms: int | None) -> None:
        """Handle the queued events in time order up to ``horizon_ms`` (None: all)."""
        queue = self._queue
        while queue and (horizon_ms is None or queue[0][0] <= horizon_ms):
            at_ms, kind, leg, _, _, setup = heapq.heappop(queue)
            self._run_event(at_ms, kind, leg, setup)

    def finish(self, setups: Sequence[SetupInstance]) -> None:
        """The end of the input: the last setup changes (expired setups) and every waiting
        event; the forced flat when the input reached its time, else an exit for every
        position still held at the last time seen; then the pending broker wake-ups (order
        latency) against the quotes in force."""
        if self.book is None:
            return
        self._start_batch(None)
        for event in self._events(setups):
            self._push(*event)
        flat_pending = [e for e in self._queue if e[1] == _FLAT]
        if flat_pending and flat_pending[0][0] > self._now_ms:
            self._queue.remove(flat_pending[0])
            heapq.heapify(self._queue)
        while any(e[1] != _WAKE for e in self._queue):
            self._drain(max(e[0] for e in self._queue if e[1] != _WAKE))
        self._apply_until(None)  # the quotes held beyond the last frontier
        at = self._now_ms
        for trade in list(self._trades.values()):
            if not trade.exited:
                self._exit(trade, "exit", "flat", at)
        self._drain(None)

    # -- quotes ------------------------------------------------------------------------------

    def _start_batch(self, quotes: QuoteColumns | None) -> None:
        """Keep the batch's rows of tradable contracts (arrival order) with their running
        maximum time, after the rows of the previous batch not applied yet (beyond its
        frontier); the horizon is the latest option quote time seen."""
        held, held_cm = None, None
        if self._batch is not None and self._cummax is not None \
                and self._pos < len(self._cummax):
            held = self._batch.take(np.arange(self._pos, len(self._cummax)))
            held_cm = self._cummax[self._pos:]
        self._batch, self._cummax, self._pos = held, held_cm, 0
        if quotes is None or not len(quotes) or self.book is None:
            return
        mask = self.book.tradable_mask(quotes.symbol)
        if not mask.any():
            return
        batch = quotes if mask.all() else quotes.take(np.flatnonzero(mask))
        cm = np.maximum.accumulate(batch.ts)
        np.maximum(cm, self._carry_ns, out=cm)
        self._carry_ns = int(cm[-1])
        self._horizon_ms = self._carry_ns // _NS_PER_MS
        if held is not None and held_cm is not None:
            batch = QuoteColumns.concat([held, batch])
            cm = np.concatenate([held_cm, cm])
        self._batch, self._cummax = batch, cm

    def _apply_until(self, at_ms: int | None) -> None:
        """Apply the batch's rows up to ``at_ms`` (inclusive; None: every row) to the quote
        book and to the broker (only the contracts it trades)."""
        batch, cm = self._batch, self._cummax
        if batch is None or cm is None or self.book is None:
            return
        stop = len(cm) if at_ms is None else int(
            np.searchsorted(cm, (at_ms + 1) * _NS_PER_MS, side="left"))
        start = self._pos
        if stop <= start:
            return
        self.book.apply(batch, start, stop)
        if len(self._active_ids):
            sym = batch.symbol[start:stop]
            rows = np.flatnonzero(np.isin(sym, self._active_ids))
            if len(rows):
                names = self.symbols.names
                on_quote = self._feed.on_quote
                for i in (rows + start).tolist():
                    on_quote(names[int(batch.symbol[i])], int(batch.ts[i]),
                             float(batch.bid[i]), float(batch.bid_size[i]),
                             float(batch.ask[i]), float(batch.ask_size[i]))
        self._now_ms = max(self._now_ms, int(cm[stop - 1]) // _NS_PER_MS)
        self._pos = stop
        self._refresh_active()

    def _activate(self, q: OptionQuote) -> None:
        """Start feeding contract ``q`` to the broker, beginning with its quote in force."""
        if q.symbol in self._active:
            return
        self._active.add(q.symbol)
        assert self.book is not None
        self._active_ids = self.book.tradable_ids(self._active)
        self._feed.on_quote(q.symbol, q.ts_ms * _NS_PER_MS, q.bid, q.bid_size, q.ask,
                            q.ask_size)

    def _refresh_active(self) -> None:
        """Feed the broker only the contracts it has working orders or positions in: a
        trade is open until it exited and sold everything it bought. (Quotes of other
        contracts fill nothing and mark nothing; a contract traded again starts from its
        quote in force, :meth:`_activate`.)"""
        needed = {t.entry.option_symbol for t in self._open_trades.values()
                  if not t.exited or t.sold + 1e-9 < t.bought}
        if needed == self._active:
            return
        self._open_trades = {k: t for k, t in self._open_trades.items()
                             if t.entry.option_symbol in needed
                             and (not t.exited or t.sold + 1e-9 < t.bought)}
        self._active = needed
        assert self.book is not None
        self._active_ids = self.book.tradable_ids(needed)

    # -- events ------------------------------------------------------------------------------

    def _events(self, setups: Sequence[SetupInstance]
                ) -> list[tuple[int, int, str, SetupInstance | None]]:
        out: list[tuple[int, int, str, SetupInstance | None]] = []
        bar = self.interval_ms
        for s in setups:
            seen = self._seen.setdefault(s.id, set())
            if s.triggered_ms is not None and "entry" not in seen:
                seen.add("entry")
                self._setups += 1
                out.append((s.triggered_ms + bar, _ENTRY, "entry", s))
            if s.t1_ms is not None and "t1" not in seen:
                seen.add("t1")
                out.append((s.t1_ms + bar, _T1, "t1", s))
            if s.closed_ms is not None and s.triggered_ms is not None and "exit" not in seen:
                seen.add("exit")
                reason = {"t2": "t2", "stopped": "stop", "expired": "expired",
                          "t1": "t1_remainder"}.get(s.status, s.status)
                out.append((s.closed_ms + bar, _EXIT, reason, s))
        return out

    def _run_event(self, at_ms: int, kind: int, leg: str, setup: SetupInstance | None) -> None:
        self._handle(at_ms, kind, leg, setup)
        self._refresh_active()

    def _handle(self, at_ms: int, kind: int, leg: str, setup: SetupInstance | None) -> None:
        self._apply_until(at_ms)
        at = max(at_ms, self._now_ms)
        self._now_ms = at
        self._feed.advance_to(at * _NS_PER_MS)
        self.router.poll()
        if kind == _WAKE:
            return
        if kind == _FLAT:
            for open_trade in list(self._trades.values()):
                if not open_trade.exited:
                    self._exit(open_trade, "exit", "flat", at)
            return
        assert setup is not None
        if kind == _ENTRY:
            self._enter(setup, at)
            return
        trade = self._trades.get(setup.id)
        if trade is None or trade.exited:
            return
        if kind == _T1:
            self._t1(trade, at)
        else:
            self._exit(trade, "exit", leg, at)

    # -- entries -----------------------------------------------------------------------------

    def _skip(self, reason: str) -> None:
        self._skipped[reason] += 1

    def _enter(self, s: SetupInstance, at: int) -> None:
        policy = self.policy
        try:
            parse_occ(s.symbol)
        except InputError:
            pass
        else:
            self._skip("option_setup")
            return
        if self._flat_ms is not None and at >= self._flat_ms:
            self._skip("after_flat_time")
            return
        spot = self.market.index_value(policy.index_symbol, at, policy.index_max_age_ms)
        if spot is None or not spot > 0 or not s.entry > 0:
            self._skip("no_index_value")
            return
        assert self.book is not None
        chosen = select_contract(self.book.quotes(), call=s.direction == "long", spot=spot,
                                 now_ms=at, policy=policy)
        if isinstance(chosen, NoContract):
            self._skip("no_contract")
            self._rejected_contracts.update(chosen.rejected)
            if not chosen.considered:
                self._rejected_contracts["no_quotes"] += 1
            return
        q = chosen.quote
        limit = entry_limit(q.bid, q.ask, policy.limit_ticks)
        distance = abs(s.entry - s.stop) * spot / s.entry
        stop_prem = stop_premium(limit, chosen.delta, chosen.gamma, distance)
        snapshot = self.adapter.snapshot(self.account_id)
        sized = size_contracts(snapshot, premium=limit, stop_premium=stop_prem,
                               risk_budget=policy.risk_budget,
                               max_contracts=policy.max_contracts, buffer=policy.bp_buffer)
        if sized.contracts == 0:
            self._skip("size_zero")
            self._sizing.update(sized.reasons)
            return
        occ = parse_occ(q.symbol)
        intent = OrderIntent(
            intent_id=intent_id_for(s.id, "entry"), option_symbol=q.symbol,
            underlying=underlying_for_root(occ.root), side="buy_to_open",
            quantity=sized.contracts, order_type="limit", limit_price=limit, duration="day",
            account_id=self.account_id, stop_premium=stop_prem, created_at_ms=at,
            **_arrival(q))
        trade = _Trade(setup=s, entry=intent, stop_premium=stop_prem)
        self._trades[s.id] = trade
        self._open_trades[s.id] = trade
        self._activate(q)
        order_id = self._submit(trade, intent)
        if order_id is None:
            self._skip("rejected")
            trade.exited = True
        trade.order_id = order_id

    # -- exits -------------------------------------------------------------------------------

    def _t1(self, trade: _Trade, at: int) -> None:
        if trade.t1_done:
            return
        trade.t1_done = True
        qty = math.floor(trade.bought * self.t1_fraction + 1e-9)
        if qty <= 0:
            return
        self._send_exit(trade, "t1", "t1", qty, at)

    def _exit(self, trade: _Trade, leg: str, reason: str, at: int) -> None:
        """Close what ``trade`` still holds (``reason`` counts in the report)."""
        trade.exited = True
        if trade.order_id is not None and trade.bought < trade.entry.quantity:
            self._cancel(trade.entry.intent_id, trade.order_id)
        t1_order = trade.exit_orders.get("t1")
        if t1_order is not None:
            self._cancel(intent_id_for(trade.setup.id, "t1"), t1_order)
        held = trade.bought - trade.sold
        qty = math.floor(held + 1e-9)
        if qty <= 0:
            return
        self._send_exit(trade, leg, reason, qty, at)

    def _send_exit(self, trade: _Trade, leg: str, reason: str, qty: int, at: int) -> None:
        symbol = trade.entry.option_symbol
        assert self.book is not None
        q = self.book.quote(symbol)
        side: Side = "sell_to_close"
        intent = OrderIntent(
            intent_id=intent_id_for(trade.setup.id, leg), option_symbol=symbol,
            underlying=trade.entry.underlying, side=side, quantity=qty, order_type="market",
            duration="day", account_id=self.account_id, created_at_ms=at,
            entry_intent_id=trade.entry.intent_id, **(_arrival(q) if q is not None else {}))
        self._exits[reason] += 1
        order_id = self._submit(trade, intent)
        if order_id is not None:
            trade.exit_orders[leg] = order_id

    # -- broker ------------------------------------------------------------------------------

    def _submit(self, trade: _Trade, intent: OrderIntent) -> str | None:
        """Send ``intent``; the broker order id (``""`` while the router holds it back), None
        when refused or rejected."""
        self.intents.append(intent)
        self._by_intent[intent.intent_id] = (trade, intent)
        spot = None
        if intent.created_at_ms is not None:
            spot = self.market.index_value(self.policy.index_symbol, intent.created_at_ms,
                                           self.policy.index_max_age_ms)
        if spot is not None:
            self._spot[intent.intent_id] = spot
        order_id = self.router.submit(intent, IntentOrigin(
            setup_id=trade.setup.id, detector=trade.setup.detector, underlying_price=spot))
        if order_id is None:
            self._broker_rejections += 1
            return None
        if self._latency_ms and intent.created_at_ms is not None:
            self._push(intent.created_at_ms + self._latency_ms, _WAKE, "", None)
        return order_id

    def _cancel(self, intent_id: str, order_id: str) -> None:
        self.router.cancel(intent_id, order_id)

    def _on_event(self, event: BrokerEvent) -> None:
        if isinstance(event, Fill):
            self._on_fill(event)
        elif isinstance(event, OrderRejected):
            self._broker_rejections += 1

    def _on_fill(self, fill: Fill) -> None:
        """Every fill goes through here: the position, the fill line and its slippage."""
        found = self._by_intent.get(fill.intent_id or "")
        if found is None:
            return
        trade, intent = found
        dollars = fill.price * fill.quantity * MULTIPLIER
        if intent.side.startswith("buy"):
            trade.bought += fill.quantity
            trade.cost += dollars
        else:
            trade.sold += fill.quantity
            trade.proceeds += dollars
        self.fills.append(fill)
        if self.on_fill is not None:
            self.on_fill(fill, intent, trade.bought if intent.side.startswith("buy")
                         else trade.sold)
        measured = slippage_record(
            intent, fill, source="paper" if self.adapter.simulated else "broker",
            setup_id=trade.setup.id, detector=trade.setup.detector,
            underlying_price=self._spot.get(intent.intent_id))
        if isinstance(measured, SlippageUnavailable):
            self._unmeasured[measured.reason] += 1
        else:
            self.slippage.append(measured)
            if self.on_slippage is not None:
                self.on_slippage(measured)

    # -- results -----------------------------------------------------------------------------

    def outputs(self) -> ExecutionOutputs:
        """Everything produced so far, with the end-of-session book from the broker."""
        snapshot = self.adapter.snapshot(self.account_id)
        positions = sorted(snapshot.positions, key=lambda p: p.symbol)
        pnl = 0.0
        total_r = 0.0
        executed: list[ExecutedTrade] = []
        for trade in self._trades.values():
            if trade.bought <= 0:
                continue
            avg = trade.cost / trade.bought
            trade_pnl = trade.proceeds - avg * trade.sold
            trade_r: float | None = None
            if trade.sold > 0:
                pnl += trade_pnl
                if abs(trade.sold - trade.bought) < 1e-9:
                    risk = (avg / MULTIPLIER - trade.stop_premium) * MULTIPLIER * trade.bought
                    if risk > 0:
                        trade_r = (trade.proceeds - trade.cost) / risk
                        total_r += trade_r
            executed.append(ExecutedTrade(
                setup_id=trade.setup.id,
                entered_ms=trade.setup.triggered_ms if trade.setup.triggered_ms is not None
                else trade.setup.detected_ms,
                realized_r=None if trade_r is None else round(trade_r, 6),
                reached_t1=trade.t1_done, pnl=round(trade_pnl, 2)))
        executed.sort(key=lambda t: (t.entered_ms, t.setup_id))
        report = ExecutionReport(
            broker=self.adapter.name, policy=attrs.asdict(self.policy), setups=self._setups,
            entries=sum(1 for i in self.intents if i.side == "buy_to_open"),
            exits=dict(sorted(self._exits.items())), skipped=dict(sorted(self._skipped.items())),
            rejected_contracts=dict(sorted(self._rejected_contracts.items())),
            sizing=dict(sorted(self._sizing.items())), fills=len(self.fills),
            filled_contracts=sum(f.quantity for f in self.fills),
            broker_rejections=self._broker_rejections, open_positions=len(positions),
            realized_pnl=round(pnl, 2), realized_r=round(total_r, 4),
            slippage=_buckets(self.slippage),
            slippage_unavailable=dict(sorted(self._unmeasured.items())))
        return ExecutionOutputs(intents=list(self.intents), fills=list(self.fills),
                                positions=positions, slippage=list(self.slippage),
                                report=report, trades=executed)


def _arrival(q: OptionQuote) -> dict[str, Any]:
    return {"arrival_bid": q.bid, "arrival_ask": q.ask, "arrival_bid_size": q.bid_size,
            "arrival_ask_size": q.ask_size, "arrival_ts_ms": q.ts_ms}


def _buckets(records: Sequence[SlippageRecord]) -> dict[str, SlippageBucket]:
    """Contract-weighted mean slippage per time-of-day bucket (the ledger's buckets)."""
    groups: dict[str, list[SlippageRecord]] = {}
    for r in records:
        groups.setdefault(r.time_bucket, []).append(r)
    out: dict[str, SlippageBucket] = {}
    for name in sorted(groups):
        rows = groups[name]
        weight = sum(r.quantity for r in rows)
        out[name] = SlippageBucket(
            fills=len(rows), contracts=weight,
            mean_dollars=round(sum(r.slippage_dollars * r.quantity for r in rows) / weight, 4),
            mean_ticks=round(sum(r.slippage_ticks * r.quantity for r in rows) / weight, 4))
    return out
