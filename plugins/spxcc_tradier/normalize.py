"""The one place where Tradier's JSON quirks are handled (reference ``tradier.md`` §3–§6).

- one element → object, several → list, none → ``"null"``/``null``/``{}``/``[]``/missing: all
  read through :func:`items`;
- long-tail and exponent numbers (``17798.360000000000000000000000``, ``1.95546E-10``) and
  numeric strings: :func:`num`;
- epoch seconds vs milliseconds: :func:`epoch_ms`; ISO times with/without zone: :func:`iso_ms`;
- ``avg_fill_price``/``last_fill_price`` ``0.0`` before a fill mean "none": :func:`price_or_none`;
- balances with one sub-object per account type: :func:`balances_from`.

Every function here is pure and total: malformed pieces become None, never an exception,
except :func:`order_from`/:func:`position_from` which need an id/symbol and raise ValueError.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from spxcc_core.contracts.broker import (
    Balances,
    BrokerOrder,
    BrokerQuote,
    MarketClock,
    OrderPreview,
    Position,
)
from spxcc_core.session import NEW_YORK

__all__ = [
    "ACCOUNT_TYPES",
    "NEW_YORK",
    "account_number",
    "balances_from",
    "clock_from",
    "epoch_ms",
    "error_messages",
    "is_nullish",
    "iso_ms",
    "items",
    "num",
    "order_from",
    "position_from",
    "preview_from",
    "price_or_none",
    "quote_from",
    "text",
]

_MS_THRESHOLD: Final = 10**11  # epoch values above this are milliseconds


def is_nullish(value: object) -> bool:
    """True for ``None``, ``"null"``, ``""``, ``{}`` and ``[]`` (Tradier's ways to say none)."""
    return value is None or value in ("null", "") or value == {} or value == []


def items(container: object, key: str) -> list[Any]:
    """The elements under ``container[key]`` as a list, whatever shape Tradier used.

    ``{"orders": {"order": X}}`` → ``items(doc["orders"], "order")``: X a list → X; X one
    object/scalar → ``[X]``; container or X null-ish or missing → ``[]``.
    """
    if not isinstance(container, Mapping):
        return []
    value = container.get(key)
    if is_nullish(value):
        return []
    if isinstance(value, list):
        return [v for v in value if not is_nullish(v)]
    return [value]


def section(doc: object, key: str) -> Mapping[str, Any] | None:
    """``doc[key]`` when it is an object, else None (``"null"``, null, missing, a list)."""
    if not isinstance(doc, Mapping):
        return None
    value = doc.get(key)
    return value if isinstance(value, Mapping) and value else None


def num(value: object) -> float | None:
    """A finite float from a JSON number or numeric string; None for null-ish or garbage."""
    if isinstance(value, bool) or is_nullish(value):
        return None
    if isinstance(value, int | float):
        f = float(value)
    elif isinstance(value, str):
        try:
            f = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return f if math.isfinite(f) else None


def integer(value: object) -> int | None:
    """An int from a JSON number or numeric string (``3``, ``3.0``, ``"3"``); None otherwise."""
    f = num(value)
    if f is None or f != int(f):
        return None
    return int(f)


def text(value: object) -> str | None:
    """A non-empty string, or None for null-ish values; numbers are rendered as ints when
    integral (order ids)."""
    if is_nullish(value) or isinstance(value, Mapping | list | bool):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def price_or_none(value: object) -> float | None:
    """A fill price: Tradier's ``0.0`` before any fill means none."""
    f = num(value)
    return None if f is None or f == 0.0 else f


def epoch_ms(value: object) -> int | None:
    """Epoch milliseconds from epoch seconds or milliseconds (values > 10^11 are ms); 0 and
    null-ish → None (``trade_date`` 0 = never traded)."""
    f = num(value)
    if f is None or f <= 0:
        return None
    return int(f) if f > _MS_THRESHOLD else round(f * 1000)


_ISO_FRACTION = re.compile(r"\.(\d+)")


def iso_ms(value: object, *, naive_tz: Any = UTC) -> int | None:
    """Epoch ms from an ISO-8601 time (``2018-06-01T12:02:29.682Z``, ``...T15:56:47.371``,
    ``2019-08-29 14:59:08``). A time without zone is read in ``naive_tz`` (UTC unless the
    field is documented as ET). None when absent or unparseable."""
    if not isinstance(value, str) or is_nullish(value):
        return None
    s = value.strip().replace("Z", "+00:00")
    # Python <3.11 fromisoformat quirks aside, normalise fractions to 6 digits
    s = _ISO_FRACTION.sub(lambda m: "." + (m.group(1) + "000000")[:6], s, count=1)
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=naive_tz)
    return round(dt.timestamp() * 1000)


def error_messages(doc: object) -> list[str]:
    """The messages of a ``{"errors": {"error": X}}`` body (X a string or a list), also when
    nested in ``order``; empty when the document carries no errors."""
    if not isinstance(doc, Mapping):
        return []
    out: list[str] = []
    errors = doc.get("errors")
    if isinstance(errors, Mapping):
        out += [str(e) for e in items(errors, "error")]
    elif isinstance(errors, str) and not is_nullish(errors):
        out.append(errors)
    elif isinstance(errors, list):
        out += [str(e) for e in errors if not is_nullish(e)]
    order = doc.get("order")
    if isinstance(order, Mapping) and "errors" in order:
        out += error_messages(order)
    return out


# --- domain objects ---------------------------------------------------------------------------


def order_from(d: Mapping[str, Any]) -> BrokerOrder:
    """A :class:`BrokerOrder` from one Tradier order object.

    Options report the underlying in ``symbol`` and the contract in ``option_symbol``; the
    contract becomes ``symbol``. Multileg parents without a symbol take the first leg's.

    :raises ValueError: the object has no id.
    """
    oid = text(d.get("id"))
    if oid is None:
        raise ValueError("order without id")
    legs = items(d, "leg")
    first_leg: Mapping[str, Any] = legs[0] if legs and isinstance(legs[0], Mapping) else {}
    option_symbol = text(d.get("option_symbol")) or text(first_leg.get("option_symbol"))
    symbol = text(d.get("symbol")) or text(first_leg.get("symbol"))
    order_type = text(d.get("type")) or text(first_leg.get("type"))
    quantity = num(d.get("quantity"))
    if quantity is None:
        quantity = num(first_leg.get("quantity"))
    return BrokerOrder(
        id=oid,
        status=text(d.get("status")) or "unknown",
        tag=text(d.get("tag")),
        symbol=option_symbol or symbol,
        underlying=symbol if option_symbol else None,
        side=text(d.get("side")) or text(first_leg.get("side")),
        quantity=quantity,
        order_type=order_type,
        limit_price=None if order_type == "market" else price_or_none(d.get("price")),
        duration=text(d.get("duration")) or text(first_leg.get("duration")),
        filled_quantity=num(d.get("exec_quantity")),
        remaining_quantity=num(d.get("remaining_quantity")),
        avg_fill_price=price_or_none(d.get("avg_fill_price")),
        last_fill_price=price_or_none(d.get("last_fill_price")),
        reason=text(d.get("reason_description")),
        created_at_ms=iso_ms(d.get("create_date")),
        updated_at_ms=iso_ms(d.get("transaction_date")),
    )


def position_from(d: Mapping[str, Any]) -> Position:
    """A :class:`Position` from one Tradier position object.

    :raises ValueError: no symbol or no quantity.
    """
    symbol = text(d.get("symbol"))
    quantity = num(d.get("quantity"))
    if symbol is None or quantity is None:
        raise ValueError("position without symbol or quantity")
    return Position(symbol=symbol, quantity=quantity, cost_basis=num(d.get("cost_basis")),
                    acquired_at_ms=iso_ms(d.get("date_acquired")))


#: Account types Tradier reports; any other text is stored as ``unknown``.
ACCOUNT_TYPES: Final = frozenset({"margin", "cash", "pdt"})
_ACCOUNT_NUMBER: Final = re.compile(r"[A-Z0-9]{4,16}")


def account_number(value: object) -> str | None:
    """A broker-supplied account number if it looks like one (4–16 upper-case letters and
    digits, e.g. ``VA00000001``, ``6YA05708``), else None: free text from the broker is never
    taken as an identifier (a server echoing a credential must not put it into the store)."""
    t = text(value)
    return t if t is not None and _ACCOUNT_NUMBER.fullmatch(t) else None


def balances_from(doc: Mapping[str, Any], account_id: str, as_of_ms: int | None) -> Balances:
    """:class:`Balances` from a ``{"balances": {...}}`` document.

    Buying power is read from the one sub-object named by ``account_type``: ``margin`` and
    ``pdt`` give option/stock buying power (``pdt`` also ``day_trade_buying_power`` when
    present), ``cash`` gives ``cash_available`` and ``unsettled_funds``. Missing values stay
    None.
    """
    b = section(doc, "balances") or {}
    account_type = text(b.get("account_type")) or "unknown"
    if account_type not in ACCOUNT_TYPES:
        account_type = "unknown"
    sub = section(b, account_type) or {}
    return Balances(
        account_id=account_number(b.get("account_number")) or account_id,
        account_type=account_type,
        total_equity=num(b.get("total_equity")),
        total_cash=num(b.get("total_cash")),
        market_value=num(b.get("market_value")),
        option_buying_power=num(sub.get("option_buying_power")),
        stock_buying_power=num(sub.get("stock_buying_power")),
        day_trade_buying_power=num(sub.get("day_trade_buying_power")),
        cash_available=num(sub.get("cash_available")),
        unsettled_funds=num(sub.get("unsettled_funds")),
        pending_orders_count=integer(b.get("pending_orders_count")),
        as_of_ms=as_of_ms,
    )


def quote_from(d: Mapping[str, Any]) -> BrokerQuote | None:
    """A :class:`BrokerQuote` from one quote/chain element; None when it has no symbol.

    Greeks may be missing or null; ``iv`` is ``mid_iv``, falling back to ``smv_vol`` when
    ``mid_iv`` is 0 or absent.
    """
    symbol = text(d.get("symbol"))
    if symbol is None:
        return None
    greeks = d.get("greeks")
    g: Mapping[str, Any] = greeks if isinstance(greeks, Mapping) else {}
    iv = num(g.get("mid_iv"))
    if not iv:
        iv = num(g.get("smv_vol"))
    return BrokerQuote(
        symbol=symbol,
        bid=num(d.get("bid")), ask=num(d.get("ask")), last=num(d.get("last")),
        bid_size=num(d.get("bidsize")), ask_size=num(d.get("asksize")),
        volume=num(d.get("volume")), open_interest=num(d.get("open_interest")),
        underlying=text(d.get("underlying")) or text(d.get("root_symbols")),
        strike=num(d.get("strike")), expiration=text(d.get("expiration_date")),
        option_type=text(d.get("option_type")),
        delta=num(g.get("delta")), gamma=num(g.get("gamma")), theta=num(g.get("theta")),
        vega=num(g.get("vega")), iv=iv,
        bid_at_ms=epoch_ms(d.get("bid_date")), ask_at_ms=epoch_ms(d.get("ask_date")),
        trade_at_ms=epoch_ms(d.get("trade_date")),
    )


_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")


def clock_from(doc: Mapping[str, Any]) -> MarketClock:
    """:class:`MarketClock` from ``{"clock": {...}}``.

    ``timestamp`` is epoch seconds (ms also accepted); ``next_change`` ``HH:MM`` New York time
    on ``date``, or on the next calendar day when that moment is not after ``timestamp``.
    """
    c = section(doc, "clock") or {}
    state = text(c.get("state")) or "unknown"
    as_of = epoch_ms(c.get("timestamp"))
    next_ms: int | None = None
    m = _HHMM.match(text(c.get("next_change")) or "")
    day = text(c.get("date"))
    if m and day:
        try:
            d = date.fromisoformat(day)
            local = datetime(d.year, d.month, d.day, int(m.group(1)), int(m.group(2)),
                             tzinfo=NEW_YORK)
            if as_of is not None and local.timestamp() * 1000 <= as_of:
                nd = d + timedelta(days=1)
                local = local.replace(year=nd.year, month=nd.month, day=nd.day)
            next_ms = int(local.timestamp() * 1000)
        except ValueError:
            next_ms = None
    return MarketClock(state=state, is_open=state == "open", next_state=text(c.get("next_state")),
                       next_change_ms=next_ms, as_of_ms=as_of)


def preview_from(doc: Mapping[str, Any], intent_id: str) -> OrderPreview:
    """:class:`OrderPreview` from a preview response (``{"order": {...}}`` or ``errors``)."""
    messages = error_messages(doc)
    o = section(doc, "order") or {}
    result = o.get("result")
    ok = not messages and (result is True or str(result).lower() == "true"
                           or (result is None and text(o.get("status")) == "ok"))
    if not ok and not messages:
        messages = [text(o.get("errors")) or text(o.get("status")) or "preview failed"]
    return OrderPreview(
        intent_id=intent_id, ok=ok, cost=num(o.get("cost")), order_cost=num(o.get("order_cost")),
        commission=num(o.get("commission")), fees=num(o.get("fees")),
        margin_change=num(o.get("margin_change")), day_trades=integer(o.get("day_trades")),
        messages=tuple(messages))
