"""The Tradier broker adapter (reference ``/work/shared/reference/tradier.md``).

Options (``from_config``): ``token`` (required; never logged), ``account_id`` (default account),
``base_url`` (API root including ``/v1``) or ``sandbox`` (true → sandbox host; default live),
``timeout_s``, ``lookup_window_s`` (how long to look for a tag after an ambiguous placement,
default 5), ``lookup_interval_s``, ``max_submit_attempts`` (default 2), ``read_retries``,
``orders_page_size`` (default 100), ``tag_index`` (default true; false: every tag lookup lists
the whole day).

No order is ever duplicated: the tag is ``tag_for(intent_id)``; ``submit`` looks the tag up
before placing (unless the caller passes ``known_unsubmitted=True``: no request for the intent
was ever sent, so no order can carry the tag), places once, and after any ambiguous outcome
polls the day's orders (``includeTags=true``) for the lookup window before deciding whether to
place again.

Tag lookups go through a per-account :class:`~spxcc_tradier.tagindex.TagIndex` of the day's
order list, built from one full listing (every :meth:`TradierAdapter.orders` call rebuilds it)
and then extended by reading only the page holding the last indexed order onwards — one GET
per lookup instead of one per page of the day, with every re-read position checked so that an
unexpected list order falls back to a full listing.

Time comes from one injected :class:`~spxcc_core.clock.Clock` (``clock``, default
:class:`~spxcc_core.clock.SystemClock`): the lookup window and its polling, the pause between
submit attempts, the transport's read backoff, the rate limiter's waits and the ``at_ms``/
``as_of_ms`` stamps all read or wait through it, so a test drives them with a
:class:`~spxcc_core.clock.ManualClock`. (HTTP timeouts, ``timeout_s``, are socket deadlines
and stay real time.)
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, ClassVar, Final, Self

from spxcc_core.broker.errors import (
    AmbiguousOrderError,
    BrokerRejected,
    BrokerUnavailable,
    UnknownOrderError,
)
from spxcc_core.broker.interface import AdapterConfig, BrokerAdapter, TagCallback, tag_for
from spxcc_core.clock import Clock, SystemClock
from spxcc_core.contracts.broker import (
    TERMINAL_STATUSES,
    Balances,
    BrokerOrder,
    BrokerQuote,
    MarketClock,
    OrderAck,
    OrderIntent,
    OrderPreview,
    PortfolioSnapshot,
    Position,
)
from spxcc_core.errors import ConfigError
from spxcc_core.occ import parse_occ
from spxcc_tradier import normalize as N
from spxcc_tradier.ratelimit import RateLimiter
from spxcc_tradier.tagindex import IndexedOrder, TagIndex
from spxcc_tradier.transport import NotSent, OutcomeUnknown, TradierTransport

__all__ = ["LIVE_URL", "SANDBOX_URL", "TradierAdapter"]

LIVE_URL: Final = "https://api.tradier.com/v1"
SANDBOX_URL: Final = "https://sandbox.tradier.com/v1"
_QUOTES_GET_MAX: Final = 50  # longer symbol lists go as a form POST


def _truthy(value: object) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _float_option(options: Mapping[str, Any], key: str, default: float) -> float:
    value = options.get(key, default)
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"tradier option {key}: {value!r} is not a number") from None
    if f < 0:
        raise ConfigError(f"tradier option {key}: must be >= 0, got {value!r}")
    return f


def _int_option(options: Mapping[str, Any], key: str, default: int, minimum: int) -> int:
    value = options.get(key, default)
    try:
        i = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"tradier option {key}: {value!r} is not an integer") from None
    if i < minimum:
        raise ConfigError(f"tradier option {key}: must be >= {minimum}, got {value!r}")
    return i


def _price(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")


class TradierAdapter(BrokerAdapter):
    """Tradier Brokerage over REST (live or sandbox)."""

    name: ClassVar[str] = "tradier"
    secret_names: ClassVar[tuple[str, ...]] = ("tradier_token",)

    def __init__(self, token: str, *, account_id: str | None = None,
                 base_url: str | None = None, sandbox: bool = False, timeout_s: float = 10.0,
                 lookup_window_s: float = 5.0, lookup_interval_s: float = 0.2,
                 max_submit_attempts: int = 2, read_retries: int = 3,
                 orders_page_size: int = 100, limiter: RateLimiter | None = None,
                 backoff_s: float = 0.1, clock: Clock | None = None,
                 tag_index: bool = True, connect_retries: int = 2) -> None:
        """See the module docstring for the options. ``clock``: where time is read and waited
        for (None: the system clock); a ``limiter`` passed in keeps its own clock, the default
        one shares ``clock``. ``connect_retries``: httpx's retries of a refused or failed
        connection (its own short waits, real time)."""
        super().__init__(account_id=account_id)
        if not token or not token.strip():
            raise ConfigError("tradier: an access token is required")
        url = base_url or (SANDBOX_URL if sandbox else LIVE_URL)
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"tradier base URL {url!r} must start with http:// or https://")
        self.base_url = url.rstrip("/")
        self.lookup_window_s = lookup_window_s
        self.lookup_interval_s = lookup_interval_s
        self.max_submit_attempts = max(1, max_submit_attempts)
        self.orders_page_size = max(1, orders_page_size)
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._http = TradierTransport(self.base_url, token,
                                      limiter=limiter or RateLimiter(clock=self.clock),
                                      timeout_s=timeout_s, connect_retries=connect_retries,
                                      read_retries=read_retries, backoff_s=backoff_s,
                                      clock=self.clock)
        self._acks: dict[str, OrderAck] = {}
        self._lock = threading.Lock()
        self.use_tag_index = tag_index
        self._indexes: dict[str, TagIndex] = {}
        self._index_lock = threading.RLock()

    def __repr__(self) -> str:
        return f"TradierAdapter(base_url={self.base_url!r}, account_id={self.default_account_id!r})"

    @classmethod
    def from_config(cls, config: AdapterConfig | Mapping[str, Any]) -> Self:
        """See the module docstring for the keys; without a ``token`` option the token is the
        secret ``tradier_token`` (looked up through ``config.secret``)."""
        options = AdapterConfig.of(config).merged_options(
            {"token": "tradier_token"} if isinstance(config, AdapterConfig) else None)
        token = options.get("token")
        if not isinstance(token, str) or not token.strip():
            raise ConfigError("tradier: option 'token' (the access token) is required")
        base_url = options.get("base_url")
        if base_url is not None and not isinstance(base_url, str):
            raise ConfigError("tradier option base_url: must be a URL string")
        account = options.get("account_id")
        return cls(
            token, account_id=str(account) if account else None, base_url=base_url or None,
            sandbox=_truthy(options.get("sandbox", False)),
            timeout_s=_float_option(options, "timeout_s", 10.0),
            lookup_window_s=_float_option(options, "lookup_window_s", 5.0),
            lookup_interval_s=_float_option(options, "lookup_interval_s", 0.2),
            max_submit_attempts=_int_option(options, "max_submit_attempts", 2, 1),
            read_retries=_int_option(options, "read_retries", 3, 0),
            orders_page_size=_int_option(options, "orders_page_size", 100, 1),
            tag_index=_truthy(options.get("tag_index", True)))

    @property
    def transport(self) -> TradierTransport:
        """The HTTP transport (request counter, limiter) — for diagnostics and benchmarks."""
        return self._http

    def close(self) -> None:
        self._http.close()

    def _now_ms(self) -> int:
        return self.clock.now_ms()

    # --- account state ----------------------------------------------------------------------

    def accounts(self) -> list[str]:
        """Account numbers of the token's user profile."""
        doc = self._http.read("/user/profile")
        return [a for a in (N.account_number(x.get("account_number")) for x in
                            N.items(N.section(doc, "profile"), "account")
                            if isinstance(x, Mapping)) if a]

    def balances(self, account_id: str) -> Balances:
        """Balances of ``account_id`` (buying power per account type)."""
        doc = self._http.read(f"/accounts/{account_id}/balances")
        if N.section(doc, "balances") is None:
            raise BrokerUnavailable(f"tradier balances of {account_id}: no balances in reply")
        return N.balances_from(doc, account_id, self._now_ms())

    def positions(self, account_id: str) -> list[Position]:
        """Positions of ``account_id`` (empty when none)."""
        doc = self._http.read(f"/accounts/{account_id}/positions")
        out = []
        for p in N.items(N.section(doc, "positions"), "position"):
            if isinstance(p, Mapping):
                try:
                    out.append(N.position_from(p))
                except ValueError:
                    continue
        return out

    def _orders_page(self, account_id: str, page: int) -> list[Any]:
        """One page (``orders_page_size`` orders, 1-based) of the day's order list, raw."""
        doc = self._http.read(f"/accounts/{account_id}/orders",
                              {"includeTags": "true", "page": str(page),
                               "limit": str(self.orders_page_size)})
        return N.items(N.section(doc, "orders"), "order")

    def orders(self, account_id: str) -> list[BrokerOrder]:
        """The day's orders (every page), oldest first; also rebuilds the account's tag index
        from this listing."""
        with self._index_lock:
            orders, index = self._list_all(account_id)
            if index is not None:
                self._indexes[account_id] = index
            else:
                self._indexes.pop(account_id, None)
        return orders

    def _list_all(self, account_id: str) -> tuple[list[BrokerOrder], TagIndex | None]:
        """Every page of the day's orders, and a tag index of that listing (None when the
        pages contradict each other, e.g. a list that shifted while it was read)."""
        size = self.orders_page_size
        seen: dict[str, BrokerOrder] = {}
        index: TagIndex | None = TagIndex()
        page = 1
        while True:
            page_items = self._orders_page(account_id, page)
            if index is not None and not index.merge((page - 1) * size, page_items):
                index = None
            raw = [o for o in page_items if isinstance(o, Mapping)]
            new = 0
            for o in raw:
                try:
                    order = N.order_from(o)
                except ValueError:
                    continue
                if order.id not in seen:
                    seen[order.id] = order
                    new += 1
            if len(page_items) < size or new == 0 or page >= 1000:
                break
            page += 1
        orders = sorted(seen.values(), key=lambda o: (o.created_at_ms or 0, _id_key(o.id)))
        return orders, index

    def order(self, account_id: str, order_id: str) -> BrokerOrder:
        doc = self._http.read(f"/accounts/{account_id}/orders/{order_id}",
                              {"includeTags": "true"})
        o = N.section(doc, "order")
        if o is None:
            raise UnknownOrderError(order_id, "not found")
        return N.order_from(o)

    def snapshot(self, account_id: str) -> PortfolioSnapshot:
        bal = self.balances(account_id)
        positions = self.positions(account_id)
        open_orders = [o for o in self.orders(account_id) if o.status not in TERMINAL_STATUSES]
        return PortfolioSnapshot(
            account_id=bal.account_id, account_type=bal.account_type,
            option_buying_power=bal.option_buying_power,
            stock_buying_power=bal.stock_buying_power,
            day_trade_buying_power=bal.day_trade_buying_power,
            cash_available=bal.cash_available, total_equity=bal.total_equity,
            positions=tuple(positions), open_orders=tuple(open_orders),
            as_of_ms=bal.as_of_ms, broker=self.name)

    # --- trading ----------------------------------------------------------------------------

    def _form(self, intent: OrderIntent, tag: str | None) -> dict[str, str]:
        occ = parse_occ(intent.option_symbol).occ()
        form = {"class": "option", "symbol": intent.underlying, "option_symbol": occ,
                "side": intent.side, "quantity": str(intent.quantity),
                "type": intent.order_type, "duration": intent.duration}
        if intent.limit_price is not None:
            form["price"] = _price(intent.limit_price)
        if tag is not None:
            form["tag"] = tag
        return form

    def find_by_tag(self, account_id: str, tag: str) -> OrderAck | None:
        """See :meth:`BrokerAdapter.find_by_tag`. Reads the day's list from the last indexed
        position on (a full listing when there is no index yet); the ack's status is the
        order's status as last listed."""
        if not self.use_tag_index:
            matches = [o for o in self._list_all(account_id)[0] if o.tag == tag]
            if not matches:
                return None
            oid, status = matches[0].id, matches[0].status
        else:
            with self._index_lock:
                found = self._current_index(account_id).find(tag)
                if found is None:
                    return None
                oid, status = found.id, found.status
        return OrderAck(intent_id=self.intent_for_tag(tag) or "", broker_order_id=oid,
                        status=status, tag=tag, account_id=account_id, broker=self.name,
                        duplicate=True, at_ms=self._now_ms())

    def _current_index(self, account_id: str) -> TagIndex:
        """The account's tag index brought up to date with the broker's list (caller holds
        ``_index_lock``)."""
        index = self._indexes.get(account_id)
        if index is None or len(index) == 0:
            return self._rebuild_index(account_id)
        size = self.orders_page_size
        page = index.next_page(size)
        for _ in range(1000):
            page_items = self._orders_page(account_id, page)
            start = (page - 1) * size
            if not index.merge(start, page_items) or start + len(page_items) < len(index):
                return self._rebuild_index(account_id)
            if len(page_items) < size:
                break
            page += 1
        return index

    def _rebuild_index(self, account_id: str) -> TagIndex:
        orders, index = self._list_all(account_id)
        if index is None:  # the listing contradicted itself: index it without positions
            self._indexes.pop(account_id, None)
            index = TagIndex()
            for o in orders:
                if o.tag:
                    index.by_tag.setdefault(o.tag, IndexedOrder(id=o.id, status=o.status))
            return index
        self._indexes[account_id] = index
        return index

    def _lookup(self, account_id: str, tag: str) -> tuple[OrderAck | None, bool]:
        """Poll for ``tag`` during the lookup window: a lookup now, then one every
        ``lookup_interval_s`` of the clock's monotonic time (the last wait shortened to end
        on the window's end), the last at or after the end of ``lookup_window_s``. Returns
        (ack or None, whether at least one lookup succeeded)."""
        deadline = self.clock.monotonic() + self.lookup_window_s
        succeeded = False
        while True:
            try:
                found = self.find_by_tag(account_id, tag)
                succeeded = True
                if found is not None:
                    return found, True
            except BrokerUnavailable:
                pass
            left = deadline - self.clock.monotonic()
            if left <= 0:
                return None, succeeded
            self.clock.sleep(min(self.lookup_interval_s, left))

    def submit(self, intent: OrderIntent, *, on_tag_assigned: TagCallback | None = None,
               known_unsubmitted: bool = False) -> OrderAck:
        """See :meth:`BrokerAdapter.submit`. Requests: with ``known_unsubmitted`` one POST;
        otherwise a tag lookup (one GET with the index, else one per page of the day) first."""
        account = self.account_for(intent)
        tag = tag_for(intent.intent_id)
        if on_tag_assigned is not None:
            on_tag_assigned(intent, tag)
        self.remember_intent(tag, intent.intent_id)
        with self._lock:
            known = self._acks.get(intent.intent_id)
        if known is not None:
            return _as_duplicate(known)
        if not known_unsubmitted:
            existing = self.find_by_tag(account, tag)
            if existing is not None:
                return self._keep(_with_intent(existing, intent.intent_id))
        form = self._form(intent, tag)
        path = f"/accounts/{account}/orders"
        last_problem = ""
        ambiguous = False
        for attempt in range(self.max_submit_attempts):
            try:
                doc = self._http.write("POST", path, form)
            except NotSent as exc:
                # nothing reached the order system: safe to try again after a pause (a quota
                # wait is done by the limiter)
                last_problem = str(exc)
                if not exc.quota and attempt + 1 < self.max_submit_attempts:
                    self.clock.sleep(self.lookup_interval_s)
                continue
            except OutcomeUnknown as exc:
                ambiguous = True
                last_problem = str(exc)
                found, looked = self._lookup(account, tag)
                if found is not None:
                    return self._keep(OrderAck(
                        intent_id=intent.intent_id, broker_order_id=found.broker_order_id,
                        status=found.status, tag=tag, account_id=account, broker=self.name,
                        duplicate=False, at_ms=self._now_ms()))
                if not looked:
                    raise AmbiguousOrderError(intent.intent_id, tag,
                                              f"{last_problem}; tag lookups failed too") from None
                continue  # established absent for the whole window: place again
            o = N.section(doc, "order")
            oid = N.text(o.get("id")) if o else None
            if oid is None:
                # a 200 reply without an id: treat as ambiguous, look the tag up
                ambiguous = True
                last_problem = "reply without an order id"
                found, looked = self._lookup(account, tag)
                if found is not None:
                    return self._keep(_with_intent(found, intent.intent_id, duplicate=False))
                if not looked:
                    raise AmbiguousOrderError(intent.intent_id, tag, last_problem)
                continue
            assert o is not None
            return self._keep(OrderAck(
                intent_id=intent.intent_id, broker_order_id=oid,
                status=N.text(o.get("status")) or "ok", tag=tag,
                account_id=account, broker=self.name, at_ms=self._now_ms()))
        # every attempt failed; decide whether the order can exist
        found, looked = self._lookup(account, tag) if ambiguous else (None, True)
        if found is not None:
            return self._keep(_with_intent(found, intent.intent_id, duplicate=False))
        if not looked:
            raise AmbiguousOrderError(intent.intent_id, tag, last_problem)
        raise BrokerUnavailable(f"order for intent {intent.intent_id!r} was not placed: "
                                f"{last_problem}")

    def _keep(self, ack: OrderAck) -> OrderAck:
        with self._lock:
            self._acks[ack.intent_id] = ack
        return ack

    def cancel(self, account_id: str, order_id: str) -> None:
        try:
            self._http.write("DELETE", f"/accounts/{account_id}/orders/{order_id}", {})
        except (NotSent, OutcomeUnknown) as exc:
            raise BrokerUnavailable(f"cancel of order {order_id} not confirmed: {exc}; "
                                    "check the order's status") from None

    def modify(self, account_id: str, order_id: str, *, order_type: str | None = None,
               limit_price: float | None = None, duration: str | None = None) -> None:
        form: dict[str, str] = {}
        if order_type is not None:
            form["type"] = order_type
        if limit_price is not None:
            form["price"] = _price(limit_price)
        if duration is not None:
            form["duration"] = duration
        if not form:
            raise ConfigError(f"modify of order {order_id}: nothing to change")
        try:
            self._http.write("PUT", f"/accounts/{account_id}/orders/{order_id}", form)
        except (NotSent, OutcomeUnknown) as exc:
            raise BrokerUnavailable(f"modify of order {order_id} not confirmed: {exc}; "
                                    "check the order") from None

    def preview(self, intent: OrderIntent) -> OrderPreview:
        account = self.account_for(intent)
        form = self._form(intent, tag_for(intent.intent_id))
        form["preview"] = "true"
        try:
            # preview creates nothing: safe to retry like a read
            doc = self._http.read(f"/accounts/{account}/orders", method="POST", form=form)
        except BrokerRejected as exc:
            return OrderPreview(intent_id=intent.intent_id, ok=False, messages=exc.codes)
        return N.preview_from(doc, intent.intent_id)

    # --- market data ------------------------------------------------------------------------

    def market_clock(self) -> MarketClock:
        return N.clock_from(self._http.read("/markets/clock"))

    def quotes(self, symbols: Sequence[str]) -> list[BrokerQuote]:
        wanted = [s for s in symbols if s]
        if not wanted:
            return []
        args = {"symbols": ",".join(wanted), "greeks": "true"}
        if len(wanted) > _QUOTES_GET_MAX:
            doc = self._http.read("/markets/quotes", method="POST", form=args)
        else:
            doc = self._http.read("/markets/quotes", args)
        by_symbol: dict[str, BrokerQuote] = {}
        for q in N.items(N.section(doc, "quotes"), "quote"):
            if isinstance(q, Mapping):
                quote = N.quote_from(q)
                if quote is not None:
                    by_symbol[quote.symbol] = quote
        return [by_symbol[s] for s in wanted if s in by_symbol]

    def option_expirations(self, underlying: str) -> list[date]:
        doc = self._http.read("/markets/options/expirations",
                              {"symbol": underlying, "includeAllRoots": "true"})
        out: set[date] = set()
        exp = N.section(doc, "expirations")
        for d in [*N.items(exp, "date"), *N.items(exp, "expiration")]:
            value = d.get("date") if isinstance(d, Mapping) else d
            try:
                out.add(date.fromisoformat(str(value)))
            except ValueError:
                continue
        return sorted(out)

    def option_chain(self, underlying: str, expiration: date) -> list[BrokerQuote]:
        doc = self._http.read("/markets/options/chains",
                              {"symbol": underlying, "expiration": expiration.isoformat(),
                               "greeks": "true"})
        out = []
        for q in N.items(N.section(doc, "options"), "option"):
            if isinstance(q, Mapping):
                quote = N.quote_from(q)
                if quote is not None:
                    out.append(quote)
        return out


def _id_key(order_id: str) -> tuple[int, str]:
    return (int(order_id), "") if order_id.isdigit() else (0, order_id)


def _as_duplicate(ack: OrderAck) -> OrderAck:
    return OrderAck(intent_id=ack.intent_id, broker_order_id=ack.broker_order_id,
                    status=ack.status, tag=ack.tag, account_id=ack.account_id, broker=ack.broker,
                    duplicate=True, at_ms=ack.at_ms)


def _with_intent(ack: OrderAck, intent_id: str, *, duplicate: bool = True) -> OrderAck:
    return OrderAck(intent_id=intent_id, broker_order_id=ack.broker_order_id, status=ack.status,
                    tag=ack.tag, account_id=ack.account_id, broker=ack.broker,
                    duplicate=duplicate, at_ms=ack.at_ms)


