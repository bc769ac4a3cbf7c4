"""The paper broker's books: accounts, orders, positions, matching against quotes.

Money is kept in integer cents (no drift); prices are per-share premiums; one contract is 100
shares. Buying power: a working buy order holds its estimated cost (limit × qty × 100, or the
ask in force at submit for a market order, 0 when no quote is known); fills move the actual
cost from cash into the position (long premium is paid in full). Per account type:

- ``cash``: ``cashAvailable`` = cash − held; no buying-power fields;
- ``margin``: ``optionBuyingPower`` = cash − held, ``stockBuyingPower`` = 2 × that;
- ``pdt``: as margin plus ``dayTradeBuyingPower`` = 4 × (cash − held).

Matching: an order becomes active at submit time + latency. It is first matched against the
quote in force at that moment (a quote replaced before then can never fill it), then against
every later quote. Each quote fills up to its displayed size on the side the order takes
(shared, in submit order, by the orders it fills); the fill model decides the price and may
refuse wide markets. A limit buy fills when the model price ≤ limit (at the model price), a
limit sell when ≥ limit. Time only moves forward: with the replay clock it is the latest quote
time (or :meth:`PaperBook.advance_to`); with a wall clock, activations happen on the next call
that looks at the book.

Day orders (``duration`` day) expire at the close of the regular session they work in (see
:mod:`spxcc_paper.expiry`; early closes included): at that instant the order ends ``expired``
(an :class:`OrderUpdate` with the reason), what it filled before stays filled, and its hold is
released. Activations and expiries happen in time order; an order that would activate at or
after its expiry never fills. ``gtc`` orders never expire.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from typing import Any

import attrs

from spxcc_core.broker.errors import BrokerRejected, UnknownOrderError
from spxcc_core.contracts.broker import (
    TERMINAL_STATUSES,
    BrokerEvent,
    BrokerOrder,
    Fill,
    OrderRejected,
    OrderUpdate,
    PortfolioSnapshot,
    Position,
)
from spxcc_core.errors import ConfigError
from spxcc_paper.expiry import day_order_expiry_ms, expiry_reason
from spxcc_paper.fill_model import FillModel, QuoteState

__all__ = ["ACCOUNT_TYPES", "PaperAccount", "PaperBook", "PaperOrder", "PaperPosition"]

ACCOUNT_TYPES = ("cash", "margin", "pdt")
_SHARES = 100


def _cents(dollars: float) -> int:
    return round(dollars * 100)


def _dollars(cents: int) -> float:
    return cents / 100


@attrs.define
class PaperOrder:
    """One paper order (internal state; :meth:`as_contract` gives the wire form)."""

    id: str
    account_id: str
    tag: str
    intent_id: str
    symbol: str
    underlying: str
    side: str
    quantity: int
    order_type: str
    limit_price: float | None
    duration: str
    created_ms: int
    updated_ms: int
    active_at_ns: int
    status: str = "open"
    filled: int = 0
    avg_price: float = 0.0
    last_fill_price: float = 0.0
    reason: str | None = None
    held_cents: int = 0
    activated: bool = False
    expires_ms: int | None = None  # day orders: the session close (epoch ms); None: never

    @property
    def buy(self) -> bool:
        return self.side.startswith("buy")

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled

    def as_contract(self) -> BrokerOrder:
        return BrokerOrder(
            id=self.id, status=self.status, tag=self.tag, symbol=self.symbol,
            underlying=self.underlying, side=self.side, quantity=float(self.quantity),
            order_type=self.order_type, limit_price=self.limit_price, duration=self.duration,
            filled_quantity=float(self.filled), remaining_quantity=float(self.remaining),
            avg_fill_price=self.avg_price if self.filled else None,
            last_fill_price=self.last_fill_price if self.filled else None,
            reason=self.reason, created_at_ms=self.created_ms, updated_at_ms=self.updated_ms)


@attrs.define
class PaperPosition:
    """Holding of one symbol: ``quantity`` < 0 short; ``cost_cents`` total cost (negative for
    a short)."""

    quantity: int
    cost_cents: int
    acquired_ms: int


@attrs.define
class PaperAccount:
    """One paper account: cash in cents, positions by OCC symbol, orders by id (submit order)."""

    account_id: str
    account_type: str = attrs.field(validator=attrs.validators.in_(ACCOUNT_TYPES))
    cash_cents: int
    positions: dict[str, PaperPosition] = attrs.field(factory=dict)
    orders: dict[str, PaperOrder] = attrs.field(factory=dict)
    tags: dict[str, str] = attrs.field(factory=dict)
    next_id: int = 1
    held_cents: int = 0

    def buying_power_cents(self) -> int:
        """Cash minus what working buy orders hold."""
        return self.cash_cents - self.held_cents

    def hold(self, order: PaperOrder, cents: int) -> None:
        """Set what ``order`` holds, keeping the account total in step."""
        self.held_cents += cents - order.held_cents
        order.held_cents = cents


@attrs.define
class PaperBook:
    """Every paper account of one adapter plus the quotes in force and the working orders.

    ``clock`` returns epoch ns; None means the replay clock: the latest time fed through
    :meth:`on_quote` or :meth:`advance_to`.
    """

    model: FillModel = attrs.field(factory=FillModel)
    clock: Callable[[], int] | None = None
    allow_short: bool = False
    on_change: Callable[[PaperAccount], None] | None = None
    accounts: dict[str, PaperAccount] = attrs.field(factory=dict)
    quotes: dict[str, QuoteState] = attrs.field(factory=dict)
    listeners: list[Callable[[BrokerEvent], None]] = attrs.field(factory=list)
    _now_ns: int = 0
    _events: dict[str, list[BrokerEvent]] = attrs.field(factory=dict)
    _working: dict[str, list[PaperOrder]] = attrs.field(factory=dict)
    _pending: list[tuple[int, int, PaperOrder]] = attrs.field(factory=list)
    _expiries: list[tuple[int, int, PaperOrder]] = attrs.field(factory=list)  # (ms, seq, order)
    _seq: int = 0
    _left: dict[str, dict[bool, int]] = attrs.field(factory=dict)  # displayed size not yet taken

    # --- time -------------------------------------------------------------------------------

    def now_ns(self) -> int:
        """The book's current time, epoch ns."""
        return self.clock() if self.clock is not None else self._now_ns

    def advance_to(self, ts_ns: int) -> None:
        """Move the replay clock forward to ``ts_ns`` (never backwards), then, in time order,
        activate the orders whose latency has elapsed (against the quotes in force) and expire
        the day orders whose session closed (an expiry at the same instant as an activation
        comes first)."""
        if ts_ns > self._now_ns:
            self._now_ns = ts_ns
        touched: dict[str, PaperAccount] = {}
        pending, expiries = self._pending, self._expiries
        while True:
            act = pending[0][0] if pending else None
            exp = expiries[0][0] * 1_000_000 if expiries else None
            if act is not None and act <= ts_ns and (exp is None or act < exp):
                _, _, o = heapq.heappop(pending)
                if o.status in TERMINAL_STATUSES or o.activated:
                    continue
                o.activated = True
                q = self.quotes.get(o.symbol)
                if q is not None:
                    for acct in self._match(o.symbol, q, only=o):
                        touched[acct.account_id] = acct
            elif exp is not None and exp <= ts_ns:
                at_ms, _, o = heapq.heappop(expiries)
                if o.status in TERMINAL_STATUSES or o.expires_ms != at_ms:
                    continue  # finished meanwhile, or its duration was changed
                self._finish(o, "expired", expiry_reason(at_ms), at_ms=at_ms)
                touched[o.account_id] = self.accounts[o.account_id]
            else:
                break
        for acct in touched.values():
            self._changed(acct)

    def tick(self) -> None:
        """Activate and expire what the clock allows (needed with a wall clock before
        reading)."""
        if self._pending or self._expiries:
            self.advance_to(self.now_ns())

    def _schedule_expiry(self, o: PaperOrder, from_ms: int) -> None:
        """Set (day) or clear (gtc) the order's expiry, counted from ``from_ms``."""
        o.expires_ms = day_order_expiry_ms(from_ms) if o.duration == "day" else None
        if o.expires_ms is not None:
            self._seq += 1
            heapq.heappush(self._expiries, (o.expires_ms, self._seq, o))

    # --- accounts ---------------------------------------------------------------------------

    def open_account(self, account_id: str, *, account_type: str = "margin",
                     cash: float = 100_000.0) -> PaperAccount:
        """The account ``account_id``, created with ``cash`` dollars on first use."""
        acct = self.accounts.get(account_id)
        if acct is None:
            if account_type not in ACCOUNT_TYPES:
                raise ConfigError(f"paper account_type must be cash, margin or pdt, got "
                                  f"{account_type!r}")
            acct = PaperAccount(account_id=account_id, account_type=account_type,
                                cash_cents=_cents(cash))
            self.accounts[account_id] = acct
            self._changed(acct)
        return acct

    def adopt(self, acct: PaperAccount) -> None:
        """Install a restored account (persisted state) and index its working orders."""
        self.drop(acct.account_id)
        self.accounts[acct.account_id] = acct
        for o in acct.orders.values():
            if o.status not in TERMINAL_STATUSES:
                self._working.setdefault(o.symbol, []).append(o)
                if not o.activated:
                    self._seq += 1
                    heapq.heappush(self._pending, (o.active_at_ns, self._seq, o))
                if o.expires_ms is not None:
                    self._seq += 1
                    heapq.heappush(self._expiries, (o.expires_ms, self._seq, o))

    def drop(self, account_id: str) -> None:
        """Forget an account (before installing a newer copy of it)."""
        old = self.accounts.pop(account_id, None)
        if old is None:
            return
        for sym in {o.symbol for o in old.orders.values()}:
            kept = [o for o in self._working.get(sym, ()) if o.account_id != account_id]
            if kept:
                self._working[sym] = kept
            else:
                self._working.pop(sym, None)
        self._pending = [p for p in self._pending if p[2].account_id != account_id]
        heapq.heapify(self._pending)
        self._expiries = [p for p in self._expiries if p[2].account_id != account_id]
        heapq.heapify(self._expiries)

    def account(self, account_id: str) -> PaperAccount:
        acct = self.accounts.get(account_id)
        if acct is None:
            raise UnknownOrderError("-", f"Unauthorized Account: {account_id}")
        return acct

    def snapshot(self, account_id: str, *, broker: str = "paper") -> PortfolioSnapshot:
        """Balances, positions (sorted by symbol) and working orders of an account."""
        acct = self.account(account_id)
        bp = _dollars(acct.buying_power_cents())
        equity = acct.cash_cents
        positions = []
        for sym in sorted(acct.positions):
            pos = acct.positions[sym]
            q = self.quotes.get(sym)
            mark = q.mark(pos.quantity > 0) if q is not None else None
            equity += (round(mark * pos.quantity * _SHARES * 100) if mark is not None
                       else pos.cost_cents)
            positions.append(Position(symbol=sym, quantity=float(pos.quantity),
                                      cost_basis=_dollars(pos.cost_cents),
                                      acquired_at_ms=pos.acquired_ms))
        kind = acct.account_type
        return PortfolioSnapshot(
            account_id=account_id, account_type=kind,
            option_buying_power=bp if kind != "cash" else None,
            stock_buying_power=round(2 * bp, 2) if kind != "cash" else None,
            day_trade_buying_power=round(4 * bp, 2) if kind == "pdt" else None,
            cash_available=bp if kind == "cash" else None,
            total_equity=_dollars(equity),
            positions=tuple(positions),
            open_orders=tuple(o.as_contract() for o in acct.orders.values()
                              if o.status not in TERMINAL_STATUSES),
            as_of_ms=self.now_ns() // 1_000_000, broker=broker)

    # --- orders -----------------------------------------------------------------------------

    def check(self, account_id: str, *, symbol: str, side: str, quantity: int,
              order_type: str, limit_price: float | None) -> tuple[int, list[str]]:
        """What placing this order would hold (cents) and why it would be refused (empty when
        it would be accepted)."""
        acct = self.account(account_id)
        problems: list[str] = []
        held = 0
        if side == "buy_to_open" or side == "buy_to_close":
            price = limit_price
            if price is None:
                q = self.quotes.get(symbol)
                price = q.ask if q is not None and q.ask > 0 else None
            held = _cents(price * quantity * _SHARES) if price is not None else 0
            bp = acct.buying_power_cents()
            if held > bp:
                field = "cashAvailable" if acct.account_type == "cash" else "optionBuyingPower"
                problems.append(f"insufficient buying power: order needs {held / 100:.2f}, "
                                f"{field} {bp / 100:.2f}")
        pos = acct.positions.get(symbol)
        have = pos.quantity if pos is not None else 0
        pending = sum(o.remaining for o in self._working.get(symbol, ())
                      if o.account_id == account_id and o.side == side)
        if side == "sell_to_close" and have - pending < quantity:
            problems.append(f"UnexpectedSellOrderOption: long position {have} in {symbol} "
                            f"({pending} already being closed) cannot cover {quantity}")
        if side == "buy_to_close" and -have - pending < quantity:
            problems.append(f"UnexpectedBuyToCoverOrderOption: short position {-have} in "
                            f"{symbol} ({pending} already being closed) cannot cover {quantity}")
        if side == "sell_to_open" and (not self.allow_short or acct.account_type == "cash"):
            problems.append("ShortOptionTradingDeniedForAccount")
        return held, problems

    def place(self, account_id: str, *, tag: str, intent_id: str, symbol: str,
              underlying: str, side: str, quantity: int, order_type: str,
              limit_price: float | None, duration: str, latency_ns: int) -> PaperOrder:
        """Place an order (the caller already checked that ``tag`` is new).

        :raises BrokerRejected: the account cannot take it (buying power, no position to
            close, short selling denied).
        """
        acct = self.account(account_id)
        held, problems = self.check(account_id, symbol=symbol, side=side, quantity=quantity,
                                    order_type=order_type, limit_price=limit_price)
        if problems:
            raise BrokerRejected("; ".join(problems), codes=tuple(problems))
        now = self.now_ns()
        order = PaperOrder(
            id=str(acct.next_id), account_id=account_id, tag=tag, intent_id=intent_id,
            symbol=symbol, underlying=underlying, side=side, quantity=quantity,
            order_type=order_type, limit_price=limit_price, duration=duration,
            created_ms=now // 1_000_000, updated_ms=now // 1_000_000,
            active_at_ns=now + latency_ns)
        acct.hold(order, held)
        acct.next_id += 1
        acct.orders[order.id] = order
        acct.tags[tag] = order.id
        self._working.setdefault(symbol, []).append(order)
        self._schedule_expiry(order, now // 1_000_000)
        self._emit(account_id, self._update(order))
        if latency_ns == 0:
            order.activated = True
            q = self.quotes.get(symbol)
            if q is not None:
                self._match(symbol, q, only=order)
        else:
            self._seq += 1
            heapq.heappush(self._pending, (order.active_at_ns, self._seq, order))
        self._changed(acct)
        return order

    def order(self, account_id: str, order_id: str) -> PaperOrder:
        acct = self.account(account_id)
        o = acct.orders.get(order_id)
        if o is None:
            raise UnknownOrderError(order_id, f"Unauthorized Account: {account_id}")
        return o

    def cancel(self, account_id: str, order_id: str) -> None:
        """Cancel a working order (immediately: the paper broker has no cancel race)."""
        o = self.order(account_id, order_id)
        if o.status in TERMINAL_STATUSES:
            raise BrokerRejected(f"order already in finalized state: {o.status}")
        self._finish(o, "canceled", None)
        self._changed(self.accounts[account_id])

    def modify(self, account_id: str, order_id: str, *, order_type: str | None,
               limit_price: float | None, duration: str | None) -> None:
        """Change a working order's type, limit or duration; the hold follows the new limit."""
        o = self.order(account_id, order_id)
        if o.status in TERMINAL_STATUSES:
            raise BrokerRejected(f"order already in finalized state: {o.status}")
        new_type = order_type or o.order_type
        new_limit = limit_price if limit_price is not None else o.limit_price
        if new_type == "market":
            new_limit = None
        if new_type not in ("market", "limit"):
            raise BrokerRejected(f"Invalid parameter, type: {new_type!r} is not supported")
        if new_type == "limit" and (new_limit is None or not new_limit > 0):
            raise BrokerRejected("LimitPriceUndefined")
        if duration is not None and duration not in ("day", "gtc"):
            raise BrokerRejected(f"Invalid parameter, duration: {duration!r}")
        if o.buy:
            acct = self.accounts[account_id]
            if new_limit is not None:
                need = _cents(new_limit * o.remaining * _SHARES)
            else:
                q = self.quotes.get(o.symbol)
                need = _cents(q.ask * o.remaining * _SHARES) if q is not None and q.ask > 0 else 0
            if need - o.held_cents > acct.buying_power_cents():
                raise BrokerRejected(f"insufficient buying power: order needs {need / 100:.2f}")
            acct.hold(o, need)
        o.order_type, o.limit_price = new_type, new_limit
        if duration is not None and duration != o.duration:
            o.duration = duration
            self._schedule_expiry(o, self.now_ns() // 1_000_000)
        o.updated_ms = self.now_ns() // 1_000_000
        self._emit(account_id, self._update(o))
        q = self.quotes.get(o.symbol)
        if q is not None and o.activated:
            self._match(o.symbol, q, only=o)
        self._changed(self.accounts[account_id])

    # --- market data ------------------------------------------------------------------------

    def on_quote(self, symbol: str, ts_ns: int, bid: float, bid_size: float, ask: float,
                 ask_size: float) -> None:
        """Apply one quote (canonical OCC ``symbol``) and fill what it can fill."""
        self.advance_to(ts_ns)
        q = QuoteState(ts_ns=ts_ns, bid=bid, bid_size=bid_size, ask=ask, ask_size=ask_size)
        self.quotes[symbol] = q
        self._left.pop(symbol, None)
        if self._working.get(symbol):
            touched = self._match(symbol, q)
            for acct in touched:
                self._changed(acct)

    def _match(self, symbol: str, q: QuoteState, *, only: PaperOrder | None = None
               ) -> list[PaperAccount]:
        orders = self._working.get(symbol) if only is None else [only]
        if not orders:
            return []
        model = self.model
        avail = self._left.get(symbol)
        if avail is None:
            avail = {True: math.floor(model.size(True, q)),
                     False: math.floor(model.size(False, q))}
            self._left[symbol] = avail
        prices = {True: model.price(True, q), False: model.price(False, q)}
        touched: dict[str, PaperAccount] = {}
        for o in list(orders):
            if not o.activated or o.status in TERMINAL_STATUSES:
                continue
            price = prices[o.buy]
            if price is None or avail[o.buy] <= 0:
                continue
            if o.limit_price is not None and (
                    (o.buy and price > o.limit_price + 1e-9)
                    or (not o.buy and price < o.limit_price - 1e-9)):
                continue
            qty = min(o.remaining, avail[o.buy])
            acct = self.accounts[o.account_id]
            if o.buy:
                cost = _cents(price * qty * _SHARES)
                release = o.held_cents if qty == o.remaining else (
                    o.held_cents * qty // o.remaining)
                if cost > acct.buying_power_cents() + release:
                    self._finish(o, "rejected", "insufficient buying power at fill")
                    touched[acct.account_id] = acct
                    continue
            avail[o.buy] -= qty
            self._fill(acct, o, qty, price)
            touched[acct.account_id] = acct
        return list(touched.values())

    def _fill(self, acct: PaperAccount, o: PaperOrder, qty: int, price: float) -> None:
        now_ms = self.now_ns() // 1_000_000
        notional = _cents(price * qty * _SHARES)
        if o.buy:
            release = o.held_cents if qty == o.remaining else o.held_cents * qty // o.remaining
            acct.hold(o, o.held_cents - release)
            acct.cash_cents -= notional
        else:
            acct.cash_cents += notional
        signed = qty if o.buy else -qty
        pos = acct.positions.get(o.symbol)
        if pos is None:
            acct.positions[o.symbol] = PaperPosition(
                quantity=signed, cost_cents=notional if o.buy else -notional, acquired_ms=now_ms)
        elif (pos.quantity > 0) == (signed > 0):
            pos.quantity += signed
            pos.cost_cents += notional if o.buy else -notional
        else:
            closing = min(qty, abs(pos.quantity))
            pos.cost_cents -= round(pos.cost_cents * closing / abs(pos.quantity))
            pos.quantity += signed
            if pos.quantity == 0:
                del acct.positions[o.symbol]
        prev = o.filled
        o.filled += qty
        o.avg_price = round((o.avg_price * prev + price * qty) / o.filled, 6)
        o.last_fill_price = price
        o.updated_ms = now_ms
        self._emit(acct.account_id, Fill(
            fill_id=f"{o.id}-{o.filled}", broker_order_id=o.id, symbol=o.symbol, side=o.side,
            quantity=float(qty), price=price, tag=o.tag, intent_id=o.intent_id,
            account_id=acct.account_id, at_ms=now_ms))
        if o.filled == o.quantity:
            self._finish(o, "filled", None)
        else:
            o.status = "partially_filled"
            self._emit(acct.account_id, self._update(o))

    def _finish(self, o: PaperOrder, status: str, reason: str | None, *,
                at_ms: int | None = None) -> None:
        o.status = status
        o.reason = reason
        self.accounts[o.account_id].hold(o, 0)
        o.updated_ms = at_ms if at_ms is not None else self.now_ns() // 1_000_000
        working = self._working.get(o.symbol)
        if working is not None and o in working:
            working.remove(o)
            if not working:
                del self._working[o.symbol]
        if status == "rejected":
            self._emit(o.account_id, OrderRejected(
                intent_id=o.intent_id, reason=reason or "rejected", broker_order_id=o.id,
                tag=o.tag, account_id=o.account_id, at_ms=o.updated_ms))
        else:
            self._emit(o.account_id, self._update(o))

    # --- events -----------------------------------------------------------------------------

    def _update(self, o: PaperOrder) -> OrderUpdate:
        return OrderUpdate(
            broker_order_id=o.id, status=o.status, tag=o.tag, intent_id=o.intent_id,
            account_id=o.account_id, quantity=float(o.quantity), filled_quantity=float(o.filled),
            remaining_quantity=float(o.remaining),
            avg_fill_price=o.avg_price if o.filled else None, reason=o.reason,
            at_ms=o.updated_ms)

    def _emit(self, account_id: str, event: BrokerEvent) -> None:
        self._events.setdefault(account_id, []).append(event)
        for listener in self.listeners:
            listener(event)

    def drain(self, account_id: str) -> list[BrokerEvent]:
        """Events of ``account_id`` since the previous drain, in order."""
        return self._events.pop(account_id, [])

    def _changed(self, acct: PaperAccount) -> None:
        if self.on_change is not None:
            self.on_change(acct)


def account_to_builtins(acct: PaperAccount) -> dict[str, Any]:
    """Plain-data form of an account (for persistence)."""
    return attrs.asdict(acct)


def account_from_builtins(data: dict[str, Any]) -> PaperAccount:
    """Inverse of :func:`account_to_builtins`."""
    return PaperAccount(
        account_id=data["account_id"], account_type=data["account_type"],
        cash_cents=data["cash_cents"],
        positions={k: PaperPosition(**v) for k, v in data["positions"].items()},
        orders={k: PaperOrder(**v) for k, v in data["orders"].items()},
        tags=dict(data["tags"]), next_id=data["next_id"], held_cents=data["held_cents"])
