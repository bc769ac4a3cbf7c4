"""A fake Tradier Brokerage API on a real loopback HTTP server, with fault injection.

It speaks the documented JSON with its quirks (reference ``/work/shared/reference/tradier.md``
§9): ``/v1/...`` paths, bearer auth (401 fault JSON otherwise), XML unless
``Accept: application/json``, query string merged with the form body, empty fields = absent,
case-insensitive booleans; zero items → ``"null"``, one → object, several → list; long-tail
numbers; orders with tags (returned only with ``includeTags``), preview, modify, cancel (400
``order already in finalized state`` / 401 ``Unauthorized Account``), rejections as 200
``errors``; ``X-Ratelimit-*`` headers per token and group with 429 ``Quota Violation``.

Fault injection (:meth:`FakeTradier.inject`), matched per request in FIFO order:

- ``drop`` — close the socket without answering (``after=True``: after executing the request,
  e.g. the order IS created);
- ``status`` — answer ``status`` with ``body`` (``after=True``: after executing);
- ``html`` / ``empty`` — 200 with the HTML docs page / an empty body;
- ``errors`` — 200 ``{"errors":{"error": body}}`` (nothing executed);
- ``quota`` — 429 with ``Available: 0`` headers and a ``Quota Violation`` body;
- ``delay`` — hold the answer (after executing) until :meth:`FakeTradier.release` or
  :meth:`FakeTradier.stop` is called, at most ``delay_ms`` of real time: a client whose socket
  timeout is shorter than ``delay_ms`` certainly times out (no race with the server);
- ``fault`` — a fault JSON body (``body`` = faultstring, e.g. ``Datastore Error``);
- ``echo`` — a broken/hostile server that echoes the request's access token in the form named
  by ``body`` (:data:`ECHO_FORMS`: ``plain``, ``base64``, ``basic`` = base64 of
  ``user:TOKEN``, ``url`` = every byte ``%XX``, ``hex``, ``split`` = the two halves in two
  fields): with ``status`` 200 the request is executed and the token replaces the string
  fields :data:`ECHO_FIELDS` of the answer (pieces in turn); otherwise the answer is ``status``
  with the text ``Invalid Access Token <form>``.

``skip`` lets that many matching requests through before the fault starts.
``visibility_delay_ms`` hides new orders from lists and single GETs for that long.
``cancel_delay_ms`` (default 0: at once) leaves a canceled order ``pending`` for that long
before it shows ``canceled``.

Time: every timestamp, rate-limit window, quota expiry and visibility delay is read from the
injected ``clock`` (:class:`~spxcc_core.clock.Clock`, default the system clock). A test hands
the same :class:`~spxcc_core.clock.ManualClock` (e.g. ``clocks.RecordingClock``) to the server
and to the adapter, so the adapter's waits move the server's time and nothing depends on the
wall clock.
Only the ``delay`` fault is real time (it exists to make a real socket time out).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import re
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import attrs
from secret_tokens import TRADIER_TEST_TOKEN

from spxcc_core.clock import Clock, SystemClock

__all__ = ["ECHO_FIELDS", "ECHO_FORMS", "FakeAccount", "FakeOrder", "FakeTradier", "Fault",
           "echo_pieces"]

#: Forms of the ``echo`` fault.
ECHO_FORMS = ("plain", "base64", "basic", "url", "hex", "split")
#: String fields an ``echo`` fault with status 200 overwrites with the token (in this order).
ECHO_FIELDS = ("account_number", "account_type", "reason_description", "status", "description")


def echo_pieces(token: str, form: str) -> list[str]:
    """The token as the ``echo`` fault sends it: one string, or two for ``split``."""
    raw = token.encode()
    if form == "plain":
        return [token]
    if form == "base64":
        return [base64.b64encode(raw).decode()]
    if form == "basic":
        return [base64.b64encode(b"user:" + raw).decode()]
    if form == "url":
        return ["".join(f"%{b:02X}" for b in raw)]
    if form == "hex":
        return [raw.hex()]
    if form == "split":
        half = len(token) // 2
        return [token[:half], token[half:]]
    raise ValueError(f"unknown echo form {form!r}")


def _plant(doc: Any, pieces: list[str], counter: list[int]) -> Any:
    """``doc`` with every string field of :data:`ECHO_FIELDS` replaced by the next piece."""
    if isinstance(doc, dict):
        out = {}
        for k, v in doc.items():
            if k in ECHO_FIELDS and isinstance(v, str):
                out[k] = pieces[counter[0] % len(pieces)]
                counter[0] += 1
            else:
                out[k] = _plant(v, pieces, counter)
        return out
    if isinstance(doc, list):
        return [_plant(v, pieces, counter) for v in doc]
    return doc

TERMINAL = {"filled", "canceled", "expired", "rejected", "error"}
_TAG_RE = re.compile(r"^[A-Za-z0-9-]{1,255}$")
_OCC_RE = re.compile(r"^([A-Z][A-Z0-9]{0,5})(\d{6})([CP])(\d{8})$")
_SIDES = {"buy_to_open", "buy_to_close", "sell_to_open", "sell_to_close", "buy", "sell",
          "sell_short", "buy_to_cover"}
_HTML = (b"<!DOCTYPE html><html><head><title>Tradier API</title></head>"
         b"<body><h1>Tradier API documentation</h1></body></html>")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{int(ts * 1000) % 1000:03d}Z"


class Num(float):
    """A float rendered with Tradier's long zero tail (``6363.86`` → ``6363.8600000000000000``)."""


def _render(obj: Any) -> str:
    if isinstance(obj, Num):
        s = repr(float(obj))
        if "e" in s or "E" in s:
            return s.upper()
        return s + "0" * 16
    if obj is None or isinstance(obj, bool | int | float | str):
        return json.dumps(obj)
    if isinstance(obj, dict):
        return "{" + ",".join(json.dumps(str(k)) + ":" + _render(v) for k, v in obj.items()) + "}"
    if isinstance(obj, list | tuple):
        return "[" + ",".join(_render(v) for v in obj) + "]"
    raise TypeError(type(obj))


def _xml(obj: Any, tag: str = "response") -> str:
    if isinstance(obj, dict):
        return f"<{tag}>" + "".join(_xml(v, k) for k, v in obj.items()) + f"</{tag}>"
    if isinstance(obj, list):
        return "".join(_xml(v, tag) for v in obj)
    return f"<{tag}>{'' if obj is None else obj}</{tag}>"


def _one_or_many(values: list[Any], null: Any = "null") -> Any:
    if not values:
        return null
    return values[0] if len(values) == 1 else values


@attrs.define
class Fault:
    """One scripted fault. ``method``/``path`` filter requests (``*`` = any method; ``path`` a
    regex searched in the path after ``/v1``); ``count`` how many matching requests it hits."""

    kind: str
    method: str = "*"
    path: str = ""
    after: bool = False
    status: int = 502
    body: str = ""
    delay_ms: int = 0
    count: int = 1
    skip: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (self.method in ("*", method)) and re.search(self.path, path) is not None


@attrs.define
class FakeOrder:
    """One order in the fake OMS."""

    id: int
    account: str
    klass: str
    symbol: str
    option_symbol: str | None
    side: str
    quantity: float
    type: str
    duration: str
    price: float | None
    tag: str | None
    status: str = "open"
    exec_quantity: float = 0.0
    avg_fill_price: float = 0.0
    last_fill_price: float = 0.0
    last_fill_quantity: float = 0.0
    create_date: float = 0.0
    transaction_date: float = 0.0
    visible_at: float = 0.0
    cancel_at: float | None = None
    reason_description: str | None = None

    def as_json(self, include_tag: bool) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id, "type": self.type, "symbol": self.symbol, "side": self.side,
            "quantity": Num(self.quantity), "status": self.status, "duration": self.duration,
        }
        if self.price is not None:
            d["price"] = Num(self.price)
        d.update({
            "avg_fill_price": Num(self.avg_fill_price), "exec_quantity": Num(self.exec_quantity),
            "last_fill_price": Num(self.last_fill_price),
            "last_fill_quantity": Num(self.last_fill_quantity),
            "remaining_quantity": Num(self.quantity - self.exec_quantity),
            "create_date": _iso(self.create_date), "transaction_date": _iso(self.transaction_date),
            "class": self.klass})
        if self.option_symbol:
            d["option_symbol"] = self.option_symbol
        if self.reason_description:
            d["reason_description"] = self.reason_description
        if include_tag and self.tag is not None:
            d["tag"] = self.tag
        return d


@attrs.define
class FakeAccount:
    """An account: ``type`` margin|cash|pdt, cash in dollars, positions symbol → [qty, cost]."""

    number: str
    type: str = "margin"
    cash: float = 100_000.0
    positions: dict[str, list[float]] = attrs.field(factory=dict)
    orders: list[FakeOrder] = attrs.field(factory=list)


class FakeTradier:
    """The server. Use as a context manager or call :meth:`start`/:meth:`stop`.

    :ivar url: API root including ``/v1`` (valid after start).
    """

    def __init__(self, token: str = TRADIER_TEST_TOKEN, *, accounts: dict[str, str] | None = None,
                 rate_limits: dict[str, int] | None = None, window_s: float = 60.0,
                 auto_fill: bool = True, visibility_delay_ms: int = 0,
                 cancel_delay_ms: int = 0, clock: Clock | None = None) -> None:
        self.token = token
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.accounts: dict[str, FakeAccount] = {
            n: FakeAccount(n, t) for n, t in (accounts or {"VA00000001": "margin"}).items()}
        self.rate_limits = rate_limits or {"standard": 100_000, "market": 100_000,
                                           "trading": 100_000}
        self.window_s = window_s
        self.auto_fill = auto_fill
        self.visibility_delay_ms = visibility_delay_ms
        self.cancel_delay_ms = cancel_delay_ms
        self.quotes: dict[str, tuple[float, float, float | None]] = {}
        self.expirations: dict[str, list[str]] = {}
        self.clock_state = "open"
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.lock = threading.RLock()
        self._ids = itertools.count(1000)
        self._windows: dict[tuple[str, str], tuple[int, int]] = {}  # (start ms, used)
        self._released = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeTradier:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()  # held (``delay``) answers go out now
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeTradier:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- scripting ---------------------------------------------------------------------------

    def inject(self, *faults: Fault) -> None:
        with self.lock:
            self.faults.extend(faults)

    def release(self) -> None:
        """Let every answer held by a ``delay`` fault go (later ones are held again)."""
        with self.lock:
            released, self._released = self._released, threading.Event()
        released.set()

    def hold(self, delay_ms: int) -> None:
        """Hold an answer (the ``delay`` fault) until released, at most ``delay_ms``."""
        with self.lock:
            released = self._released
        released.wait(delay_ms / 1000.0)

    def now_s(self) -> float:
        """The server's time, epoch seconds."""
        return self.clock.now_ms() / 1000.0

    def set_quote(self, symbol: str, bid: float, ask: float, last: float | None = None) -> None:
        with self.lock:
            self.quotes[symbol] = (bid, ask, last)

    def orders_with_tag(self, account: str, tag: str) -> list[FakeOrder]:
        """All orders carrying ``tag``, visible or not (ground truth for tests)."""
        with self.lock:
            return [o for o in self.accounts[account].orders if o.tag == tag]

    def fill(self, account_id: str, order_id: str, price: float | None = None,
             quantity: float | None = None) -> None:
        """Fill (part of) a working order at ``price`` (default: its limit, else the quote)."""
        with self.lock:
            acct = self.accounts[account_id]
            order = next(o for o in acct.orders if str(o.id) == str(order_id))
            if order.status in TERMINAL:
                raise ValueError(f"order {order_id} is {order.status}")
            px = price if price is not None else (order.price or self._touch(order) or 1.0)
            self._execute(acct, order, px, quantity or order.quantity - order.exec_quantity)

    def rollover(self) -> None:
        """The ET-midnight rollover: the day's order list empties."""
        with self.lock:
            for acct in self.accounts.values():
                acct.orders.clear()

    def add_position(self, account: str, symbol: str, quantity: float, cost: float) -> None:
        with self.lock:
            self.accounts[account].positions[symbol] = [quantity, cost]

    # --- OMS ---------------------------------------------------------------------------------

    def _touch(self, order: FakeOrder) -> float | None:
        q = self.quotes.get(order.option_symbol or order.symbol)
        if q is None:
            return None
        return q[1] if order.side.startswith("buy") else q[0]

    def _execute(self, acct: FakeAccount, order: FakeOrder, price: float, qty: float) -> None:
        now = self.now_s()
        total = order.exec_quantity + qty
        order.avg_fill_price = (order.avg_fill_price * order.exec_quantity + price * qty) / total
        order.exec_quantity = total
        order.last_fill_price = price
        order.last_fill_quantity = qty
        order.status = "filled" if total >= order.quantity else "partially_filled"
        order.transaction_date = now
        sym = order.option_symbol or order.symbol
        mult = 100.0 if order.option_symbol else 1.0
        sign = 1.0 if order.side.startswith("buy") else -1.0
        pos = acct.positions.setdefault(sym, [0.0, 0.0])
        pos[0] += sign * qty
        pos[1] += sign * qty * price * mult
        acct.cash -= sign * qty * price * mult
        if pos[0] == 0:
            del acct.positions[sym]

    def _buying_power(self, acct: FakeAccount) -> float:
        reserved = sum((o.price or self._touch(o) or 0.0) * (o.quantity - o.exec_quantity) * 100
                       for o in acct.orders
                       if o.status not in TERMINAL and o.side.startswith("buy"))
        return acct.cash - reserved

    def _place(self, acct: FakeAccount, f: dict[str, str]) -> tuple[int, Any]:
        # validation in Tradier's shapes: 400 text for parameters, 200 errors for risk checks
        tag = f.get("tag")
        if tag is not None and not _TAG_RE.match(tag):
            problem = ("contains more than 255 characters." if len(tag) > 255
                       else "contains invalid characters.")
            return 400, f"Invalid parameter, tag: {problem}"
        klass = f.get("class", "")
        if klass not in ("option", "equity"):
            return 400, f"Invalid parameter, class: {klass!r} is not valid"
        side = f.get("side", "")
        if side not in _SIDES:
            return 400, "Invalid parameter, side: is not valid"
        otype = f.get("type", "")
        if otype not in ("market", "limit", "stop", "stop_limit"):
            return 400, "Invalid parameter, type: is not valid"
        duration = f.get("duration", "")
        if duration not in ("day", "gtc", "pre", "post"):
            return 400, "Invalid parameter, duration: is not valid"
        option_symbol = f.get("option_symbol")
        if klass == "option" and (option_symbol is None or not _OCC_RE.match(option_symbol)):
            return 400, "Invalid parameter, option_symbol: is not valid"
        try:
            qty = float(f.get("quantity", ""))
        except ValueError:
            return 400, "Invalid parameter, quantity: is not valid"
        if qty <= 0 or qty > 10_000_000 or qty != int(qty):
            return 200, {"errors": {"error": "IncorrectOrderQuantity"}}
        price = None
        if otype in ("limit", "stop_limit"):
            try:
                price = float(f.get("price", ""))
            except ValueError:
                return 200, {"errors": {"error": "LimitPriceUndefined"}}
            if price <= 0:
                return 200, {"errors": {"error": "OrderPriceIsInvalid"}}
        if otype == "market" and duration == "gtc":
            return 200, {"errors": {"error": "MarketOrderIsGtc"}}
        order = FakeOrder(id=next(self._ids), account=acct.number, klass=klass,
                          symbol=f.get("symbol", ""), option_symbol=option_symbol, side=side,
                          quantity=qty, type=otype, duration=duration, price=price, tag=tag)
        est = (price or self._touch(order) or 0.0) * qty * (100 if option_symbol else 1)
        if side.startswith("buy") and est > self._buying_power(acct):
            return 200, {"errors": {"error": ["Backoffice rejected override of the order.",
                                              "DayTradingBuyingPowerExceeded"
                                              if acct.type == "pdt" else "InitialMargin"]}}
        if side.startswith("sell") and side.endswith("_to_close"):
            held = acct.positions.get(option_symbol or "", [0.0])[0]
            if held < qty:
                return 200, {"errors": {"error": "UnexpectedSellOrderOption"}}
        if f.get("preview", "").lower() == "true":
            commission = 0.35 * qty
            return 200, {"order": {
                "status": "ok", "commission": Num(commission), "cost": Num(est + commission),
                "fees": 0, "symbol": order.symbol, "quantity": Num(qty), "side": side,
                "type": otype, "duration": duration, "result": True, "order_cost": Num(est),
                "margin_change": 0, "request_date": datetime.fromtimestamp(
                    self.now_s(), UTC).strftime(
                    "%Y-%m-%dT%H:%M:%S.%f")[:-3], "extended_hours": False, "class": klass,
                "strategy": klass, "day_trades": 0}}
        order.create_date = order.transaction_date = self.now_s()
        order.visible_at = self.clock.monotonic() + self.visibility_delay_ms / 1000.0
        acct.orders.append(order)
        if self.auto_fill:
            touch = self._touch(order)
            if touch is not None and (otype == "market" or (
                    otype == "limit" and price is not None and (
                        (side.startswith("buy") and price >= touch)
                        or (side.startswith("sell") and price <= touch)))):
                self._execute(acct, order, touch, qty)
        return 200, {"order": {"id": order.id, "status": "ok",
                               "partner_id": str(uuid.uuid4())}}

    # --- documents ---------------------------------------------------------------------------

    def balances_doc(self, acct: FakeAccount) -> dict[str, Any]:
        long_value = sum(q * (self._mark(s) or c / q / 100.0) * 100
                         for s, (q, c) in acct.positions.items() if q)
        bp = self._buying_power(acct)
        pending = sum(1 for o in acct.orders if o.status not in TERMINAL)
        b: dict[str, Any] = {
            "option_short_value": 0, "total_equity": Num(acct.cash + long_value),
            "account_number": acct.number, "account_type": acct.type, "close_pl": 0,
            "current_requirement": 0, "equity": 0, "long_market_value": Num(long_value),
            "market_value": Num(long_value), "open_pl": 0, "option_long_value": Num(long_value),
            "option_requirement": 0, "pending_orders_count": pending, "short_market_value": 0,
            "stock_long_value": 0, "total_cash": Num(acct.cash), "uncleared_funds": 0,
            "pending_cash": 0}
        if acct.type == "margin":
            b["margin"] = {"fed_call": 0, "maintenance_call": 0, "option_buying_power": Num(bp),
                           "stock_buying_power": Num(bp * 2), "stock_short_value": 0, "sweep": 0}
        elif acct.type == "pdt":
            b["pdt"] = {"fed_call": 0, "maintenance_call": 0, "option_buying_power": Num(bp),
                        "stock_buying_power": Num(bp * 2), "stock_short_value": 0,
                        "day_trade_buying_power": Num(bp * 4)}
        else:
            b["cash"] = {"cash_available": Num(bp), "sweep": 0, "unsettled_funds": 0}
        return {"balances": b}

    def _mark(self, symbol: str) -> float | None:
        q = self.quotes.get(symbol)
        return (q[0] + q[1]) / 2 if q else None

    def quote_doc(self, symbol: str) -> dict[str, Any] | None:
        q = self.quotes.get(symbol)
        if q is None:
            return None
        bid, ask, last = q
        ms = self.clock.now_ms()
        d: dict[str, Any] = {
            "symbol": symbol, "description": symbol, "exch": "Z", "type": "option",
            "last": last, "change": None, "volume": 0, "open": None, "high": None, "low": None,
            "close": None, "bid": bid, "ask": ask, "trade_date": 0 if last is None else ms,
            "bidsize": 10, "asksize": 12, "bid_date": ms, "ask_date": ms}
        m = _OCC_RE.match(symbol)
        if m:
            d.update({
                "underlying": "SPX" if m.group(1).startswith("SPX") else m.group(1),
                "strike": int(m.group(4)) / 1000.0, "open_interest": 10, "contract_size": 100,
                "expiration_date": "20" + m.group(2)[:2] + "-" + m.group(2)[2:4] + "-"
                + m.group(2)[4:], "expiration_type": "weeklys",
                "option_type": "call" if m.group(3) == "C" else "put", "root_symbol": m.group(1),
                "greeks": {"delta": 0.5, "gamma": Num(1.95546e-10), "theta": -0.2,
                           "vega": Num(3.54672e-9), "rho": 0.1, "phi": -0.2, "bid_iv": 0.0,
                           "mid_iv": 0.0, "ask_iv": 0.0, "smv_vol": 0.180002,
                           "updated_at": "2019-08-29 14:59:08"}})
        else:
            d["type"] = "index" if symbol in ("SPX", "VIX") else "stock"
        return d

    # --- rate limits -------------------------------------------------------------------------

    def rate(self, token: str, group: str) -> tuple[bool, dict[str, str]]:
        with self.lock:
            now = self.clock.now_ms()
            window_ms = round(self.window_s * 1000)
            start, used = self._windows.get((token, group), (now, 0))
            if now - start >= window_ms:
                start, used = now, 0
            allowed = self.rate_limits[group]
            ok = used < allowed
            if ok:
                used += 1
            self._windows[(token, group)] = (start, used)
            expiry_ms = start + window_ms
            return ok, {"X-Ratelimit-Allowed": str(allowed), "X-Ratelimit-Used": str(used),
                        "X-Ratelimit-Available": str(allowed - used),
                        "X-Ratelimit-Expiry": str(expiry_ms)}


def _group(method: str, path: str) -> str:
    if path.startswith("/markets"):
        return "market"
    if method != "GET" and re.match(r"^/accounts/[^/]+/orders", path):
        return "trading"
    return "standard"


class _Handler(BaseHTTPRequestHandler):
    fake: FakeTradier
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def setup(self) -> None:
        super().setup()
        # no Nagle: headers and body are separate writes (40 ms delayed-ACK stalls otherwise)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # ---------------------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, ctype: str,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _handle(self, method: str) -> None:
        fake = self.fake
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        params = {k: v for k, v in parse_qsl(split.query, keep_blank_values=True)}
        params.update(parse_qsl(raw_body.decode(), keep_blank_values=True))
        params = {k: v for k, v in params.items() if v != ""}  # empty = absent
        if not split.path.startswith("/v1/"):
            self._send(404, b"", "text/plain")
            return
        path = split.path[3:]
        with fake.lock:
            fake.requests.append((method, path, params))
        auth = self.headers.get("Authorization", "")
        if auth != f"Bearer {fake.token}":
            body = b'{"fault":{"faultstring":"Invalid Access Token","detail":{"errorcode":' \
                   b'"keymanagement.service.invalid_access_token"}}}'
            self._send(401, body, "application/json")
            return
        ok, rl_headers = fake.rate(fake.token, _group(method, path))
        if not ok:
            self._send(429, f"Quota Violation, retry after {rl_headers['X-Ratelimit-Expiry']}"
                       .encode(), "text/plain", rl_headers)
            return
        fault = None
        with fake.lock:
            for f in fake.faults:
                if f.matches(method, path):
                    if f.skip > 0:  # let this many matching requests through first
                        f.skip -= 1
                        continue
                    f.count -= 1
                    if f.count <= 0:
                        fake.faults.remove(f)
                    fault = f
                    break
        if fault is not None and fault.kind == "echo":
            self._echo(fault, method, path, params, rl_headers)
            return
        if fault is not None and not fault.after and fault.kind != "delay":
            self._fault(fault, rl_headers)
            return
        status, doc = self._route(method, path, params)
        if fault is not None:
            if fault.kind == "delay":
                fake.hold(fault.delay_ms)
            else:
                self._fault(fault, rl_headers)
                return
        if isinstance(doc, str):
            self._send(status, doc.encode(), "text/plain", rl_headers)
        elif "json" in self.headers.get("Accept", ""):
            self._send(status, _render(doc).encode(), "application/json", rl_headers)
        else:
            body = '<?xml version="1.0" encoding="UTF-8"?>' + _xml(doc)
            self._send(status, body.encode(), "application/xml", rl_headers)

    def _echo(self, fault: Fault, method: str, path: str, params: dict[str, str],
              headers: dict[str, str]) -> None:
        pieces = echo_pieces(self.fake.token, fault.body or "plain")
        if fault.status != 200:
            self._send(fault.status, ("Invalid Access Token " + " ".join(pieces)).encode(),
                       "text/plain", headers)
            return
        status, doc = self._route(method, path, params)
        if isinstance(doc, dict):
            doc = _plant(doc, pieces, [0])
        body = doc.encode() if isinstance(doc, str) else _render(doc).encode()
        self._send(status, body, "application/json", headers)

    def _fault(self, fault: Fault, headers: dict[str, str]) -> None:
        kind = fault.kind
        if kind == "drop":
            self._drop()
        elif kind == "status":
            self._send(fault.status, fault.body.encode(), "text/html", headers)
        elif kind == "html":
            self._send(200, _HTML, "text/html", headers)
        elif kind == "empty":
            self._send(200, b"", "application/json", headers)
        elif kind == "errors":
            body = _render({"errors": {"error": fault.body or "OmsUnavailable"}})
            self._send(200, body.encode(), "application/json", headers)
        elif kind == "quota":
            h = dict(headers)
            expiry = self.fake.clock.now_ms() + fault.delay_ms
            h.update({"X-Ratelimit-Available": "0", "X-Ratelimit-Expiry": str(expiry)})
            self._send(429, f"Quota Violation {expiry}".encode(), "text/plain", h)
        elif kind == "fault":
            faultstring = fault.body or "Datastore Error"
            code = {"Datastore Error": "steps.servicecallout.ExecutionFailed",
                    "Access Token expired": "keymanagement.service.access_token_expired",
                    }.get(faultstring, "keymanagement.service.invalid_access_token")
            body = _render({"fault": {"faultstring": faultstring,
                                      "detail": {"errorcode": code}}})
            self._send(fault.status if fault.status != 502 else 500, body.encode(),
                       "application/json", headers)
        else:
            raise ValueError(f"unknown fault kind {kind!r}")

    def _route(self, method: str, path: str, p: dict[str, str]) -> tuple[int, Any]:
        fake = self.fake
        parts = [x for x in path.split("/") if x]
        include_tags = p.get("includeTags", "").lower() == "true"
        with fake.lock:
            if parts == ["user", "profile"]:
                accts = [{"account_number": a.number, "classification": "individual",
                          "date_created": "2016-08-01T21:08:55.000Z", "day_trader": False,
                          "option_level": 6, "status": "active", "type":
                          "cash" if a.type == "cash" else "margin",
                          "last_update_date": "2016-08-01T21:08:55.000Z"}
                         for a in fake.accounts.values()]
                return 200, {"profile": {"account": _one_or_many(accts), "id": "id-sb-test",
                                         "name": "Test User"}}
            if parts[:1] == ["accounts"] and len(parts) >= 3:
                acct = fake.accounts.get(parts[1])
                if acct is None:
                    return 401, f"Unauthorized Account: {parts[1]}"
                return self._account(method, acct, parts[2:], p, include_tags)
            if parts == ["markets", "clock"]:
                now = datetime.fromtimestamp(fake.now_s(), UTC)
                return 200, {"clock": {
                    "date": now.astimezone().date().isoformat(),
                    "description": "Market is open from 09:30 to 16:00",
                    "state": fake.clock_state, "timestamp": int(now.timestamp()),
                    "next_change": "16:00", "next_state": "postmarket"}}
            if parts == ["markets", "quotes"]:
                symbols = [s for s in p.get("symbols", "").split(",") if s]
                found = [d for d in (fake.quote_doc(s) for s in symbols) if d is not None]
                missing = [s for s in symbols if s not in fake.quotes]
                doc: dict[str, Any] = {}
                if found:
                    doc["quote"] = _one_or_many(found)
                if missing:
                    doc["unmatched_symbols"] = {"symbol": _one_or_many(missing)}
                return 200, {"quotes": doc}
            if parts == ["markets", "options", "expirations"]:
                dates = fake.expirations.get(p.get("symbol", ""), [])
                return 200, {"expirations": {"date": _one_or_many(dates)} if dates else None}
            if parts == ["markets", "options", "chains"]:
                exp = p.get("expiration", "")
                opts = [d for s in sorted(fake.quotes)
                        if (d := fake.quote_doc(s)) is not None
                        and d.get("expiration_date") == exp
                        and d.get("underlying") == p.get("symbol")]
                return 200, {"options": {"option": _one_or_many(opts)} if opts else None}
        return 404, ""

    def _account(self, method: str, acct: FakeAccount, rest: list[str], p: dict[str, str],
                 include_tags: bool) -> tuple[int, Any]:
        fake = self.fake
        now = fake.clock.monotonic()
        for o in acct.orders:  # delayed cancels that are due
            if o.cancel_at is not None and o.cancel_at <= now:
                o.status, o.cancel_at = "canceled", None
        if rest == ["balances"] and method == "GET":
            return 200, fake.balances_doc(acct)
        if rest == ["positions"] and method == "GET":
            pos = [{"cost_basis": Num(c), "date_acquired": "2018-08-08T14:41:11.405Z",
                    "id": i + 1, "quantity": Num(q), "symbol": s}
                   for i, (s, (q, c)) in enumerate(sorted(acct.positions.items()))]
            return 200, {"positions": {"position": _one_or_many(pos)} if pos else "null"}
        if rest == ["orders"] and method == "GET":
            visible = [o for o in acct.orders if o.visible_at <= now]
            limit = int(p.get("limit", "25"))
            page = int(p.get("page", "1"))
            chunk = visible[(page - 1) * limit: page * limit]
            docs = [o.as_json(include_tags) for o in chunk]
            return 200, {"orders": {"order": _one_or_many(docs)} if docs else "null"}
        if rest == ["orders"] and method == "POST":
            return fake._place(acct, p)
        if len(rest) == 2 and rest[0] == "orders":
            order = next((o for o in acct.orders if str(o.id) == rest[1]
                          and o.visible_at <= now), None)
            if order is None:
                return 401, f"Unauthorized Account: {acct.number}"
            if method == "GET":
                return 200, {"order": order.as_json(include_tags)}
            if order.status in TERMINAL:
                return 400, f"order already in finalized state: {order.status}"
            if method == "DELETE":
                if order.status == "pending":
                    return 400, "order already pending cancellation"
                if fake.cancel_delay_ms > 0:
                    order.status = "pending"
                    order.cancel_at = now + fake.cancel_delay_ms / 1000.0
                else:
                    order.status = "canceled"
                order.transaction_date = fake.now_s()
                return 200, {"order": {"id": order.id, "status": "ok"}}
            if method == "PUT":
                if "type" in p:
                    order.type = p["type"]
                if "price" in p:
                    order.price = float(p["price"])
                if "duration" in p:
                    order.duration = p["duration"]
                order.transaction_date = fake.now_s()
                return 200, {"order": {"id": order.id, "status": "ok",
                                       "partner_id": str(uuid.uuid4())}}
        return 404, ""


@contextlib.contextmanager
def running(**kwargs: Any) -> Iterator[FakeTradier]:
    """``with running(...) as fake:`` — a started server, stopped on exit."""
    fake = FakeTradier(**kwargs).start()
    try:
        yield fake
    finally:
        fake.stop()


def default_expirations(today: date | None = None) -> list[str]:
    """Three weekday expirations from ``today`` (ISO dates), for chain tests."""
    d = today or date.today()
    out = []
    while len(out) < 3:
        if d.weekday() < 5:
            out.append(d.isoformat())
        d += timedelta(days=1)
    return out
