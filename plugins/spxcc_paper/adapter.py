"""``PaperBroker``: the paper adapter (same contracts and event stream as Tradier).

Feed it the options quotes of the session being replayed (or live) with :meth:`on_quote` /
:meth:`on_quotes`; orders fill against them per the :class:`~spxcc_paper.fill_model.FillModel`
(see :mod:`spxcc_paper.book` for buying power and matching). Every account id is valid: an
account is opened on first use with ``cash`` dollars and ``account_type``.

Options of :meth:`PaperBroker.from_config` (strings are accepted for every value, as given on
the command line): ``account_id``; ``account_type`` cash|margin|pdt (margin); ``cash``
(100000); ``fill`` mid|touch|touch_ticks (touch); ``ticks`` (0); ``tick`` (0.05);
``max_spread`` dollars; ``max_spread_pct`` percent of mid; ``latency_ms`` (0); ``hours``
always|nyse|closed (always: the market clock is always open; nyse: regular XNYS sessions at the
book's time); ``allow_short`` (false); ``clock`` wall|replay (wall: ``time.time_ns``; replay:
the latest quote time fed); ``store`` a :class:`~spxcc_core.store.Store` to persist accounts in
(in memory when absent).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any, ClassVar, Self, get_args

import msgspec

from spxcc_core.aggregate.columns import QuoteColumns, SymbolTable
from spxcc_core.broker.errors import BrokerUnavailable, ContractExpired
from spxcc_core.broker.interface import AdapterConfig, BrokerAdapter, TagCallback, tag_for
from spxcc_core.contracts.broker import (
    BrokerEvent,
    BrokerOrder,
    BrokerQuote,
    MarketClock,
    OrderAck,
    OrderIntent,
    OrderPreview,
    PortfolioSnapshot,
)
from spxcc_core.errors import ConfigError, InputError
from spxcc_core.occ import parse_occ
from spxcc_core.store import Store
from spxcc_paper.book import (
    PaperAccount,
    PaperBook,
    PaperOrder,
    account_from_builtins,
    account_to_builtins,
)
from spxcc_paper.expiry import contract_expired_reason, contract_trading_end_ms
from spxcc_paper.fill_model import FillKind, FillModel
from spxcc_paper.store import PaperStore

__all__ = ["PaperBroker"]

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(dict[str, Any])
_HOURS = ("always", "nyse", "closed")


def _opt(options: Mapping[str, Any], key: str, conv: Callable[[Any], Any], default: Any) -> Any:
    value = options.get(key)
    if value is None or value == "":
        return default
    try:
        return conv(value)
    except (TypeError, ValueError):
        raise ConfigError(f"paper option {key}: invalid value {value!r}") from None


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


class PaperBroker(BrokerAdapter):
    """A simulated broker filling against fed quotes (see the module docstring)."""

    name: ClassVar[str] = "paper"
    uses_store: ClassVar[bool] = True
    simulated: ClassVar[bool] = True

    def __init__(self, *, account_id: str | None = None, account_type: str = "margin",
                 cash: float = 100_000.0, model: FillModel | None = None,
                 hours: str = "always", allow_short: bool = False,
                 clock: Callable[[], int] | None = time.time_ns,
                 store: Store | None = None) -> None:
        super().__init__(account_id=account_id)
        if hours not in _HOURS:
            raise ConfigError(f"paper option hours: {hours!r} is not one of always, nyse, closed")
        if account_type not in ("cash", "margin", "pdt"):
            raise ConfigError(f"paper option account_type: {account_type!r} is not one of "
                              "cash, margin, pdt")
        if not cash >= 0:
            raise ConfigError(f"paper option cash: must be >= 0, got {cash!r}")
        self.account_type = account_type
        self.cash = cash
        self.model = model or FillModel()
        self.hours = hours
        self.store = store
        self._paper_store = PaperStore(store) if store is not None else None
        self.book = PaperBook(model=self.model, clock=clock, allow_short=allow_short,
                              on_change=self._persist if store is not None else None)
        self._symbols: dict[str, str] = {}
        self._revs: dict[str, int] = {}
        #: accounts persisted inside the current :meth:`_op` transaction (None outside one)
        self._touched: set[str] | None = None
        if self._paper_store is not None:
            for stored_id in self._paper_store.account_ids():
                self._reload(stored_id)

    @classmethod
    def from_config(cls, config: AdapterConfig | Mapping[str, Any]) -> Self:
        """Build from options (see the module docstring); the store comes from
        ``config.store`` (or the ``store`` option). :raises ConfigError: a bad option."""
        cfg = AdapterConfig.of(config)
        options = cfg.merged_options()
        if cfg.store is not None:
            options.setdefault("store", cfg.store)
        known = {"account_id", "account_type", "cash", "fill", "ticks", "tick", "max_spread",
                 "max_spread_pct", "latency_ms", "hours", "allow_short", "clock", "store"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigError(f"paper: unknown option(s) {', '.join(unknown)}; known: "
                              f"{', '.join(sorted(known))}")
        kind = _opt(options, "fill", str, "touch")
        if kind not in get_args(FillKind):
            raise ConfigError(f"paper option fill: {kind!r} is not one of "
                              f"{', '.join(get_args(FillKind))}")
        latency_ms = _opt(options, "latency_ms", float, 0.0)
        if not (math.isfinite(latency_ms) and latency_ms >= 0):
            raise ConfigError(f"paper option latency_ms: must be a finite number >= 0, "
                              f"got {latency_ms!r}")
        try:
            model = FillModel(
                kind=kind,
                ticks=_opt(options, "ticks", int, 0),
                tick=_opt(options, "tick", float, 0.05),
                max_spread=_opt(options, "max_spread", float, None),
                max_spread_pct=_opt(options, "max_spread_pct", float, None),
                latency_ns=round(latency_ms * 1_000_000))
        except ValueError as exc:
            raise ConfigError(f"paper fill model: {exc}") from None
        clock_kind = _opt(options, "clock", str, "wall")
        if clock_kind not in ("wall", "replay"):
            raise ConfigError(f"paper option clock: {clock_kind!r} is not one of wall, replay")
        store = options.get("store")
        if store is not None and not isinstance(store, Store):
            raise ConfigError("paper option store: expected a spxcc_core.store.Store")
        return cls(account_id=options.get("account_id") or None,
                   account_type=_opt(options, "account_type", str, "margin"),
                   cash=_opt(options, "cash", float, 100_000.0), model=model,
                   hours=_opt(options, "hours", str, "always"),
                   allow_short=_opt(options, "allow_short", _bool, False),
                   clock=time.time_ns if clock_kind == "wall" else None, store=store)

    # --- persistence ------------------------------------------------------------------------

    def _persist(self, acct: PaperAccount) -> None:
        assert self._paper_store is not None
        rev = self._revs.get(acct.account_id, 0) + 1
        payload = _encoder.encode(account_to_builtins(acct))
        row = (acct.account_id, payload, rev, self.book.now_ns() // 1_000_000)
        if self._touched is not None:  # inside _op's transaction: committed with it
            self._paper_store.save_in_transaction(*row)
            self._touched.add(acct.account_id)
        else:
            self._paper_store.save(*row)
        self._revs[acct.account_id] = rev

    @contextmanager
    def _op(self, account_id: str) -> Iterator[PaperAccount]:
        """One operation on an account, as a single write transaction on the store.

        With a store, ``BEGIN IMMEDIATE`` takes SQLite's write lock first, then the account is
        reloaded (another process may have changed it), changed and persisted, and the
        transaction commits before the operation returns — so processes sharing a store
        never overwrite each other's orders, and an order acknowledged exists in the store.
        Every change is persisted as it happens (whole-account rows), so what the transaction
        holds always matches memory: it commits even when the operation raises (a rejection,
        an unknown order). Only a store failure rolls it back, and then the touched accounts
        are forgotten (the next operation reloads them). Inside a transaction the caller
        already holds, the operation joins it.

        :raises BrokerUnavailable: the store's write lock could not be had or the store failed
            (nothing of the operation was kept).
        """
        store = self._paper_store
        if store is None or self._touched is not None or store.in_transaction:
            yield self._acct(account_id)
            return
        lock_error, store_error = store.errors
        try:
            store.begin()
        except lock_error as exc:
            raise BrokerUnavailable(f"paper store {store.location}: {exc}") from None
        self._touched = {account_id}
        try:
            try:
                yield self._acct(account_id)
            finally:
                store.commit()
        except store_error as exc:
            store.rollback()
            for touched in self._touched:
                self.book.drop(touched)
                self._revs.pop(touched, None)
            raise BrokerUnavailable(f"paper store {store.location}: {exc}") from None
        finally:
            self._touched = None

    def _reload(self, account_id: str) -> None:
        """Install the stored copy of an account when another adapter instance (or process)
        changed it since this one last saw it."""
        assert self._paper_store is not None
        row = self._paper_store.load(account_id)
        if row is None or row[1] == self._revs.get(account_id):
            return
        try:
            acct = account_from_builtins(_decoder.decode(row[0]))
        except (msgspec.DecodeError, KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{self._paper_store.location} spx_paper_state {account_id!r}",
                             f"unreadable paper account state ({exc})") from None
        self.book.adopt(acct)
        self._revs[account_id] = row[1]
        for o in acct.orders.values():
            self.remember_intent(o.tag, o.intent_id)

    # --- helpers ----------------------------------------------------------------------------

    def _acct(self, account_id: str) -> PaperAccount:
        if self._paper_store is not None:
            self._reload(account_id)
        acct = self.book.open_account(account_id, account_type=self.account_type, cash=self.cash)
        self.book.tick()
        return acct

    def _expired(self, symbol: str) -> ContractExpired | None:
        """The rejection for an order of ``symbol`` when the contract no longer trades at the
        book's time (:func:`~spxcc_paper.expiry.contract_trading_end_ms`), else None. A
        symbol that is not an OCC option symbol is not checked here."""
        try:
            occ = parse_occ(symbol)
        except InputError:
            return None
        ended_ms = contract_trading_end_ms(occ)
        if self.book.now_ns() // 1_000_000 < ended_ms:
            return None
        return ContractExpired(occ.occ(), ended_ms, contract_expired_reason(occ, ended_ms))

    def canonical(self, symbol: str) -> str:
        """The OCC compact form of an option symbol (``O:`` and OSI forms mapped); other
        symbols upper-cased."""
        out = self._symbols.get(symbol)
        if out is None:
            try:
                out = parse_occ(symbol).occ()
            except InputError:
                out = symbol.strip().upper()
            self._symbols[symbol] = out
        return out

    def _ack(self, intent_id: str, account_id: str, order: PaperOrder, *,
             status: str, duplicate: bool) -> OrderAck:
        return OrderAck(intent_id=intent_id, broker_order_id=order.id, status=status,
                        tag=order.tag, account_id=account_id, broker=self.name,
                        duplicate=duplicate, at_ms=self.book.now_ns() // 1_000_000)

    # --- quotes in --------------------------------------------------------------------------

    def on_quote(self, symbol: str, ts_ns: int, bid: float, bid_size: float, ask: float,
                 ask_size: float) -> None:
        """Feed one quote (prices per share, sizes in contracts, ``ts_ns`` epoch ns)."""
        self.book.on_quote(self.canonical(symbol), ts_ns, bid, bid_size, ask, ask_size)

    def on_quotes(self, batch: QuoteColumns, symbols: SymbolTable) -> None:
        """Feed a batch of quotes in arrival order (ids resolved through ``symbols``)."""
        names = [self.canonical(n) for n in symbols.names]
        on_quote = self.book.on_quote
        for sid, ts, bid, bsz, ask, asz in zip(batch.symbol.tolist(), batch.ts.tolist(),
                                               batch.bid.tolist(), batch.bid_size.tolist(),
                                               batch.ask.tolist(), batch.ask_size.tolist(),
                                               strict=True):
            on_quote(names[sid], ts, bid, bsz, ask, asz)

    def advance_to(self, ts_ns: int) -> None:
        """Move the replay clock (no effect with the wall clock)."""
        self.book.advance_to(ts_ns)

    def subscribe(self, listener: Callable[[BrokerEvent], None]) -> None:
        """Call ``listener`` synchronously with every event as it happens (in addition to
        :meth:`poll_events`)."""
        self.book.listeners.append(listener)

    # --- BrokerAdapter ----------------------------------------------------------------------

    def snapshot(self, account_id: str) -> PortfolioSnapshot:
        with self._op(account_id):
            return self.book.snapshot(account_id, broker=self.name)

    def orders(self, account_id: str) -> list[BrokerOrder]:
        with self._op(account_id) as acct:
            return [o.as_contract() for o in acct.orders.values()]

    def order(self, account_id: str, order_id: str) -> BrokerOrder:
        with self._op(account_id):
            return self.book.order(account_id, order_id).as_contract()

    def submit(self, intent: OrderIntent, *, on_tag_assigned: TagCallback | None = None,
               known_unsubmitted: bool = False) -> OrderAck:
        """See :meth:`BrokerAdapter.submit`. The tag check is an in-memory lookup, so
        ``known_unsubmitted`` changes nothing here."""
        account_id = self.account_for(intent)
        tag = tag_for(intent.intent_id)
        with self._op(account_id) as acct:
            if on_tag_assigned is not None:
                on_tag_assigned(intent, tag)
            existing = acct.tags.get(tag)
            if existing is not None:
                o = acct.orders[existing]
                return self._ack(intent.intent_id, account_id, o, status=o.status,
                                 duplicate=True)
            expired = self._expired(intent.option_symbol)
            if expired is not None:
                raise expired
            symbol = self.canonical(intent.option_symbol)
            order = self.book.place(
                account_id, tag=tag, intent_id=intent.intent_id, symbol=symbol,
                underlying=intent.underlying, side=intent.side, quantity=intent.quantity,
                order_type=intent.order_type, limit_price=intent.limit_price,
                duration=intent.duration, latency_ns=self.model.latency_ns)
        # committed: the order exists in the store before it is acknowledged
        self.remember_intent(tag, intent.intent_id)
        return self._ack(intent.intent_id, account_id, order, status="ok", duplicate=False)

    def find_by_tag(self, account_id: str, tag: str) -> OrderAck | None:
        with self._op(account_id) as acct:
            order_id = acct.tags.get(tag)
            if order_id is None:
                return None
            o = acct.orders[order_id]
            return self._ack(o.intent_id, account_id, o, status=o.status, duplicate=False)

    def cancel(self, account_id: str, order_id: str) -> None:
        with self._op(account_id):
            self.book.cancel(account_id, order_id)

    def modify(self, account_id: str, order_id: str, *, order_type: str | None = None,
               limit_price: float | None = None, duration: str | None = None) -> None:
        with self._op(account_id):
            self.book.modify(account_id, order_id, order_type=order_type,
                             limit_price=limit_price, duration=duration)

    def preview(self, intent: OrderIntent) -> OrderPreview:
        account_id = self.account_for(intent)
        with self._op(account_id):
            held, problems = self.book.check(
                account_id, symbol=self.canonical(intent.option_symbol), side=intent.side,
                quantity=intent.quantity, order_type=intent.order_type,
                limit_price=intent.limit_price)
        expired = self._expired(intent.option_symbol)
        if expired is not None:
            problems = [*problems, expired.reason]
        cost = held / 100 if held else None
        return OrderPreview(intent_id=intent.intent_id, ok=not problems, cost=cost,
                            order_cost=cost, commission=0.0, fees=0.0,
                            messages=tuple(problems))

    def market_clock(self) -> MarketClock:
        now_ns = self.book.now_ns()
        now_ms = now_ns // 1_000_000
        if self.hours == "always":
            return MarketClock(state="open", is_open=True, as_of_ms=now_ms)
        if self.hours == "closed":
            return MarketClock(state="closed", is_open=False, as_of_ms=now_ms)
        return _nyse_clock(now_ns)

    def quotes(self, symbols: Sequence[str]) -> list[BrokerQuote]:
        out = []
        for s in symbols:
            sym = self.canonical(s)
            q = self.book.quotes.get(sym)
            if q is None:
                continue
            out.append(BrokerQuote(
                symbol=sym, bid=q.bid if q.bid > 0 else None, ask=q.ask if q.ask > 0 else None,
                bid_size=q.bid_size, ask_size=q.ask_size, bid_at_ms=q.ts_ns // 1_000_000,
                ask_at_ms=q.ts_ns // 1_000_000, **_option_fields(sym)))
        return out

    def option_expirations(self, underlying: str) -> list[date]:
        found = set()
        for sym in self.book.quotes:
            try:
                o = parse_occ(sym)
            except InputError:
                continue
            if o.underlying == underlying.upper():
                found.add(o.expiry)
        return sorted(found)

    def option_chain(self, underlying: str, expiration: date) -> list[BrokerQuote]:
        syms = []
        for sym in sorted(self.book.quotes):
            try:
                o = parse_occ(sym)
            except InputError:
                continue
            if o.underlying == underlying.upper() and o.expiry == expiration:
                syms.append(sym)
        return self.quotes(syms)

    def poll_events(self, account_id: str) -> list[BrokerEvent]:
        """Events of the account since the previous poll (acks are returned by submit)."""
        with self._op(account_id):
            return self.book.drain(account_id)


def _option_fields(sym: str) -> dict[str, Any]:
    try:
        o = parse_occ(sym)
    except InputError:
        return {}
    return {"underlying": o.underlying, "strike": float(o.strike),
            "expiration": o.expiry.isoformat(), "option_type": "call" if o.is_call else "put"}


def _nyse_clock(now_ns: int) -> MarketClock:
    """Regular XNYS session state at ``now_ns`` (exchange-calendars)."""
    import exchange_calendars as xcals
    import pandas as pd

    cal = xcals.get_calendar("XNYS")
    ts = pd.Timestamp(now_ns, unit="ns", tz="UTC").floor("min")
    try:
        is_open = bool(cal.is_open_on_minute(ts))
        nxt = cal.next_close(ts) if is_open else cal.next_open(ts)
    except (ValueError, KeyError) as exc:  # outside the calendar's bounds
        raise ConfigError(f"paper hours=nyse: no XNYS calendar at {ts} ({exc})") from None
    return MarketClock(state="open" if is_open else "closed", is_open=is_open,
                       next_state="closed" if is_open else "open",
                       next_change_ms=int(nxt.value // 1_000_000), as_of_ms=now_ns // 1_000_000)
