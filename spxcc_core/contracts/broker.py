"""Broker contracts: order intents, broker events, orders, positions, balances, snapshots,
quotes and the market clock (every family at version 1).

Units: prices and premiums are per-share option prices in dollars (a premium of 3.20 costs $320
per SPX contract); money amounts (``costBasis``, buying power, equity, cash) are dollars;
quantities are contracts (negative position quantity = short); times are epoch milliseconds UTC.
A value the broker does not report is null — never a made-up zero.

Broker events (:class:`OrderAck`, :class:`OrderUpdate`, :class:`Fill`, :class:`OrderRejected`)
form a tagged union on ``kind``. :func:`decode_broker_event` decodes in two steps (peek the kind,
then decode the known variant) so a kind from a newer writer comes back as
:class:`UnknownBrokerEvent` instead of failing.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, ClassVar, Final, Literal, get_args

import attrs
import msgspec

from spxcc_core.contracts.base import Contract
from spxcc_core.errors import InputError
from spxcc_core.occ import parse_occ

__all__ = [
    "ACCOUNT_TYPES",
    "DURATIONS",
    "MAX_EPOCH_MS",
    "MAX_INTENT_QUANTITY",
    "OPEN_STATUSES",
    "ORDER_TYPES",
    "SIDES",
    "TERMINAL_STATUSES",
    "Balances",
    "BrokerEvent",
    "BrokerOrder",
    "BrokerQuote",
    "Fill",
    "MarketClock",
    "OrderAck",
    "OrderIntent",
    "OrderPreview",
    "OrderRejected",
    "OrderUpdate",
    "PortfolioSnapshot",
    "Position",
    "UnknownBrokerEvent",
    "decode_broker_event",
    "decode_intent",
    "encode_broker_event",
    "encode_intent",
]

#: Option order side of an intent.
Side = Literal["buy_to_open", "buy_to_close", "sell_to_open", "sell_to_close"]
#: Order type of an intent.
OrderType = Literal["market", "limit"]
#: Time in force of an intent.
Duration = Literal["day", "gtc"]
#: Option order sides.
SIDES: Final[tuple[str, ...]] = get_args(Side)
#: Order types an intent may carry.
ORDER_TYPES: Final[tuple[str, ...]] = get_args(OrderType)
#: Time in force values an intent may carry.
DURATIONS: Final[tuple[str, ...]] = get_args(Duration)
#: Account types a snapshot may report.
ACCOUNT_TYPES: Final = ("cash", "margin", "pdt")
#: Order statuses after which nothing changes any more.
TERMINAL_STATUSES: Final = frozenset({"filled", "canceled", "expired", "rejected", "error"})
#: Order statuses of a working order (may still fill or be canceled).
OPEN_STATUSES: Final = frozenset({"pending", "open", "partially_filled", "submitted",
                                  "calculated", "accepted_for_bidding", "held"})


#: Largest ``quantity`` an intent may carry, in contracts: a bound on what can be meant (and
#: stored), far above any single option order; the pre-trade ``max contracts`` limit is the risk
#: limit (``spxcc broker submit --max-contracts``, default 100).
MAX_INTENT_QUANTITY: Final = 1_000_000
#: Largest epoch-millisecond time a contract accepts (9999-12-31T23:59:59.999Z).
MAX_EPOCH_MS: Final = 253_402_300_799_999

_Quantity = Annotated[int, msgspec.Meta(ge=1, le=MAX_INTENT_QUANTITY)]
_EpochMs = Annotated[int, msgspec.Meta(ge=0, le=MAX_EPOCH_MS)]


def _fail(contract: str, field: str, problem: str) -> None:
    # ValueError: msgspec turns it into a ValidationError during decode; construction in code
    # sees the same message.
    raise ValueError(f"{contract}.{field}: {problem}")


def _not_one_of(shown: str, choices: tuple[str, ...]) -> str:
    return f"{shown} is not one of {', '.join(choices)}"


def _positive_finite(contract: str, field: str, value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and value > 0):
        _fail(contract, field, f"must be a finite number > 0, got {value!r}")


class OrderIntent(Contract, frozen=True, kw_only=True):
    """``order_intent@1``: what the router wants the broker to do, before any broker sees it.

    ``intentId`` is the idempotency key: the broker tag is derived from it
    (:func:`spxcc_core.broker.tag_for`), so the same intent never makes two broker orders.
    ``optionSymbol`` is an OCC symbol (any form :func:`spxcc_core.occ.parse_occ` accepts).
    ``limitPrice`` is required (> 0) for ``limit`` and must be null for ``market``.
    ``arrivalBid``/``arrivalAsk`` are the NBBO when the intent was created (for slippage), null
    when unknown; ``arrivalBidSize``/``arrivalAskSize`` (contracts) and ``arrivalTsMs`` (epoch
    ms of that quote) complete the arrival quote; they are appended optional fields, left out
    (``UNSET``, never null) when unknown, so intents written without them keep their bytes. ``stopPremium`` is the option premium at which the position is stopped out
    (informational for risk; not sent to the broker). ``createdAtMs`` is epoch ms or null.
    ``entryIntentId`` (exits only) names the entry intent this exit closes, so the router never
    sends the exit before its entry; null lets the router match the latest open entry.
    Decoding refuses a ``quantity`` outside 1..1000000 contracts, a ``createdAtMs`` outside
    0..253402300799999 (year 9999) and prices that are not finite.
    """

    contract_name: ClassVar[str] = "order_intent"
    contract_version: ClassVar[int] = 1

    intent_id: str
    option_symbol: str
    underlying: str
    side: Side
    quantity: _Quantity
    order_type: OrderType
    limit_price: float | None = None
    duration: Duration = "day"
    account_id: str | None = None
    arrival_bid: float | None = None
    arrival_ask: float | None = None
    stop_premium: float | None = None
    created_at_ms: _EpochMs | None = None
    entry_intent_id: str | None = None
    arrival_bid_size: float | msgspec.UnsetType = msgspec.UNSET
    arrival_ask_size: float | msgspec.UnsetType = msgspec.UNSET
    arrival_ts_ms: _EpochMs | msgspec.UnsetType = msgspec.UNSET

    def __post_init__(self) -> None:
        name = "OrderIntent"
        if not self.intent_id or not self.intent_id.strip():
            _fail(name, "intentId", "must be a non-empty string")
        try:
            parse_occ(self.option_symbol)
        except InputError as exc:
            _fail(name, "optionSymbol", exc.problem + f" (got {self.option_symbol!r})")
        if not self.underlying or not self.underlying.strip():
            _fail(name, "underlying", "must be a non-empty symbol")
        if self.side not in SIDES:
            _fail(name, "side", _not_one_of(repr(self.side), SIDES))
        if (isinstance(self.quantity, bool) or not isinstance(self.quantity, int)
                or not 1 <= self.quantity <= MAX_INTENT_QUANTITY):
            _fail(name, "quantity", f"must be an integer from 1 to {MAX_INTENT_QUANTITY}, got "
                                    f"{self.quantity!r}")
        if self.created_at_ms is not None and not 0 <= self.created_at_ms <= MAX_EPOCH_MS:
            _fail(name, "createdAtMs", f"must be null or epoch ms from 0 to {MAX_EPOCH_MS}, "
                                       f"got {self.created_at_ms!r}")
        if self.order_type not in ORDER_TYPES:
            _fail(name, "orderType", _not_one_of(repr(self.order_type), ORDER_TYPES))
        if self.duration not in DURATIONS:
            _fail(name, "duration", _not_one_of(repr(self.duration), DURATIONS))
        if self.order_type == "limit":
            if self.limit_price is None:
                _fail(name, "limitPrice", "is required for a limit order")
            _positive_finite(name, "limitPrice", self.limit_price)
        elif self.limit_price is not None:
            _fail(name, "limitPrice", "must be null for a market order")
        for field, value in (("arrivalBid", self.arrival_bid), ("arrivalAsk", self.arrival_ask)):
            if value is not None and not (math.isfinite(value) and value >= 0):
                _fail(name, field, f"must be a finite number >= 0, got {value!r}")
        for field, size in (("arrivalBidSize", self.arrival_bid_size),
                            ("arrivalAskSize", self.arrival_ask_size)):
            if size is not msgspec.UNSET and not (math.isfinite(size) and size >= 0):
                _fail(name, field, f"must be a finite number >= 0, got {size!r}")
        ts = self.arrival_ts_ms
        if ts is not msgspec.UNSET and not 0 <= ts <= MAX_EPOCH_MS:
            _fail(name, "arrivalTsMs", f"must be absent or epoch ms from 0 to {MAX_EPOCH_MS}, "
                                       f"got {ts!r}")
        _positive_finite(name, "stopPremium", self.stop_premium)
        if self.account_id is not None and not self.account_id.strip():
            _fail(name, "accountId", "must be null or a non-empty account number")


# --- broker events (tagged union on "kind") --------------------------------------------------


class OrderAck(Contract, tag_field="kind", tag="ack", frozen=True, kw_only=True):
    """``order_ack@1``: the broker accepted (or already had) the order for an intent.

    ``brokerOrderId`` is the broker's id as a string; ``status`` the broker's order status at
    acknowledgement (``ok``/``pending``/``open``/... — accepted does not mean working, a later
    :class:`OrderUpdate` may say ``rejected``); ``tag`` the idempotency tag sent with the order.
    ``duplicate`` is true when the order already existed and nothing new was placed.
    """

    contract_name: ClassVar[str] = "order_ack"
    contract_version: ClassVar[int] = 1

    intent_id: str
    broker_order_id: str
    status: str
    tag: str
    account_id: str | None = None
    broker: str | None = None
    duplicate: bool = False
    at_ms: int | None = None


class OrderUpdate(Contract, tag_field="kind", tag="update", frozen=True, kw_only=True):
    """``order_update@1``: an order's status or fill progress changed.

    ``filledQuantity + remainingQuantity = quantity`` when all three are known;
    ``avgFillPrice`` is null until something filled; ``reason`` is the broker's text for a
    rejection or cancel, else null.
    """

    contract_name: ClassVar[str] = "order_update"
    contract_version: ClassVar[int] = 1

    broker_order_id: str
    status: str
    tag: str | None = None
    intent_id: str | None = None
    account_id: str | None = None
    quantity: float | None = None
    filled_quantity: float | None = None
    remaining_quantity: float | None = None
    avg_fill_price: float | None = None
    reason: str | None = None
    at_ms: int | None = None


class Fill(Contract, tag_field="kind", tag="fill", frozen=True, kw_only=True):
    """``fill@1``: one execution. ``quantity`` > 0 contracts at ``price`` (per-share premium).

    ``fillId`` is unique per order (broker execution id, or ``<orderId>-<cumulative qty>`` when
    the broker gives none), so a re-polled fill is recognisable as the same one.
    """

    contract_name: ClassVar[str] = "fill"
    contract_version: ClassVar[int] = 1

    fill_id: str
    broker_order_id: str
    symbol: str
    side: str
    quantity: float
    price: float
    tag: str | None = None
    intent_id: str | None = None
    account_id: str | None = None
    at_ms: int | None = None


class OrderRejected(Contract, tag_field="kind", tag="rejected", frozen=True, kw_only=True):
    """``order_rejected@1``: the broker refused an intent or order; ``reason`` is its message.

    ``brokerOrderId`` is null when no order was ever created (refused at placement).
    """

    contract_name: ClassVar[str] = "order_rejected"
    contract_version: ClassVar[int] = 1

    intent_id: str | None
    reason: str
    broker_order_id: str | None = None
    tag: str | None = None
    account_id: str | None = None
    at_ms: int | None = None


BrokerEvent = OrderAck | OrderUpdate | Fill | OrderRejected


@attrs.frozen
class UnknownBrokerEvent:
    """A broker event whose ``kind`` this reader does not know (from a newer writer).

    :ivar kind: the ``kind`` value, or ``""`` when the message had none.
    :ivar raw: the message bytes, untouched, to pass on or store.
    """

    kind: str
    raw: bytes


class _KindPeek(msgspec.Struct):
    kind: str = ""


_EVENT_TYPES: Final[dict[str, type[Contract]]] = {
    "ack": OrderAck, "update": OrderUpdate, "fill": Fill, "rejected": OrderRejected,
}
_peek_decoder: Final = msgspec.json.Decoder(_KindPeek)
_event_decoders: Final[dict[str, msgspec.json.Decoder[Any]]] = {
    kind: msgspec.json.Decoder(cls) for kind, cls in _EVENT_TYPES.items()}
_encoder: Final = msgspec.json.Encoder()


def encode_broker_event(event: BrokerEvent) -> bytes:
    """JSON bytes of one broker event (``kind`` first)."""
    return _encoder.encode(event)


def decode_broker_event(message: bytes | str,
                        source: str = "broker event") -> BrokerEvent | UnknownBrokerEvent:
    """Decode one broker event: peek ``kind``, then decode the known variant.

    :param message: one JSON object.
    :param source: names the input in errors (file and line, channel, ...).
    :returns: the typed event, or :class:`UnknownBrokerEvent` for a kind this reader lacks.
    :raises InputError: not a JSON object, or a known kind with invalid fields.
    """
    data = message.encode() if isinstance(message, str) else bytes(message)
    try:
        kind = _peek_decoder.decode(data).kind
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise InputError(source, f"not a broker event: {exc}") from None
    decoder = _event_decoders.get(kind)
    if decoder is None:
        return UnknownBrokerEvent(kind=kind, raw=data)
    try:
        event: BrokerEvent = decoder.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise InputError(source, f"invalid {kind!r} event: {exc}") from None
    return event


_intent_decoder: Final = msgspec.json.Decoder(OrderIntent)


def encode_intent(intent: OrderIntent) -> bytes:
    """JSON bytes of an intent (camelCase wire names)."""
    return _encoder.encode(intent)


def decode_intent(message: bytes | str, source: str = "order intent") -> OrderIntent:
    """Decode and validate one intent.

    :raises InputError: naming ``source`` and the offending field (enum, quantity, price...).
    """
    try:
        return _intent_decoder.decode(message)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise InputError(source, _intent_problem(str(exc))) from None


#: Choices of each enumerated intent field, by wire name.
_INTENT_CHOICES: Final[dict[str, tuple[str, ...]]] = {
    "side": SIDES, "orderType": ORDER_TYPES, "duration": DURATIONS}
_BAD_ENUM: Final = re.compile(r"Invalid enum value (?P<value>.*) - at `\$\.(?P<field>\w+)`")


def _intent_problem(message: str) -> str:
    """msgspec's message for a bad intent, with an enumerated field's choices spelled out
    (``OrderIntent.side: 'buy' is not one of buy_to_open, ...``, as in code construction)."""
    m = _BAD_ENUM.fullmatch(message)
    if m is None or m["field"] not in _INTENT_CHOICES:
        return message
    return f"OrderIntent.{m['field']}: {_not_one_of(m['value'], _INTENT_CHOICES[m['field']])}"


# --- orders, positions, balances, snapshots --------------------------------------------------


class BrokerOrder(Contract, frozen=True, kw_only=True):
    """``broker_order@1``: one order as the broker reports it.

    ``id`` is the broker's order id as a string. ``symbol`` is the OCC option symbol (or the
    equity symbol), ``underlying`` the underlying when known. ``limitPrice`` null for market
    orders; ``avgFillPrice`` null until something filled; ``reason`` the broker's rejection
    text. Fields the broker omits are null.
    """

    contract_name: ClassVar[str] = "broker_order"
    contract_version: ClassVar[int] = 1

    id: str
    status: str
    tag: str | None = None
    symbol: str | None = None
    underlying: str | None = None
    side: str | None = None
    quantity: float | None = None
    order_type: str | None = None
    limit_price: float | None = None
    duration: str | None = None
    filled_quantity: float | None = None
    remaining_quantity: float | None = None
    avg_fill_price: float | None = None
    last_fill_price: float | None = None
    reason: str | None = None
    created_at_ms: int | None = None
    updated_at_ms: int | None = None


class Position(Contract, frozen=True, kw_only=True):
    """``position@1``: one holding. ``quantity`` < 0 is short; ``costBasis`` is the total cost
    in dollars (negative for a short option), null when unknown."""

    contract_name: ClassVar[str] = "position"
    contract_version: ClassVar[int] = 1

    symbol: str
    quantity: float
    cost_basis: float | None = None
    acquired_at_ms: int | None = None


class Balances(Contract, frozen=True, kw_only=True):
    """``balances@1``: account balances in dollars; null for what this account type lacks.

    ``optionBuyingPower``/``stockBuyingPower`` for margin and pdt accounts,
    ``dayTradeBuyingPower`` for pdt when reported, ``cashAvailable`` for cash accounts.
    """

    contract_name: ClassVar[str] = "balances"
    contract_version: ClassVar[int] = 1

    account_id: str
    account_type: str
    total_equity: float | None = None
    total_cash: float | None = None
    market_value: float | None = None
    option_buying_power: float | None = None
    stock_buying_power: float | None = None
    day_trade_buying_power: float | None = None
    cash_available: float | None = None
    unsettled_funds: float | None = None
    pending_orders_count: int | None = None
    as_of_ms: int | None = None


class PortfolioSnapshot(Contract, frozen=True, kw_only=True):
    """``portfolio_snapshot@1``: balances, positions and open orders of one account at one
    moment (``asOfMs``). ``accountType`` ∈ cash|margin|pdt. Money in dollars; null where the
    broker gives no value for this account type. ``openOrders`` are the non-terminal orders."""

    contract_name: ClassVar[str] = "portfolio_snapshot"
    contract_version: ClassVar[int] = 1

    account_id: str
    account_type: str
    option_buying_power: float | None
    stock_buying_power: float | None
    day_trade_buying_power: float | None
    cash_available: float | None
    total_equity: float | None
    positions: tuple[Position, ...] = ()
    open_orders: tuple[BrokerOrder, ...] = ()
    as_of_ms: int | None = None
    broker: str | None = None


# --- previews, quotes, clock -------------------------------------------------------------------


class OrderPreview(Contract, frozen=True, kw_only=True):
    """``order_preview@1``: the broker's check of an intent without placing it.

    ``ok`` false means the broker would refuse it (``messages`` say why). Money in dollars;
    ``cost`` includes commission and fees; null where the broker gives nothing.
    """

    contract_name: ClassVar[str] = "order_preview"
    contract_version: ClassVar[int] = 1

    intent_id: str
    ok: bool
    cost: float | None = None
    order_cost: float | None = None
    commission: float | None = None
    fees: float | None = None
    margin_change: float | None = None
    day_trades: int | None = None
    messages: tuple[str, ...] = ()


class BrokerQuote(Contract, frozen=True, kw_only=True):
    """``broker_quote@1``: one quote from the broker's market data (delayed 15 min in a
    sandbox). Prices per share; sizes in contracts for options (hundreds of shares for
    equities, as the broker reports them); ``*AtMs`` epoch ms; greeks per 1-point underlying
    move and ``theta`` per day; ``iv`` an annualised fraction (0.25 = 25 %). Null when
    absent (no trade yet, no greeks)."""

    contract_name: ClassVar[str] = "broker_quote"
    contract_version: ClassVar[int] = 1

    symbol: str
    bid: float | None = None
    ask: float | None = None
    last: float | None = None
    bid_size: float | None = None
    ask_size: float | None = None
    volume: float | None = None
    open_interest: float | None = None
    underlying: str | None = None
    strike: float | None = None
    expiration: str | None = None
    option_type: str | None = None
    delta: float | None = None
    gamma: float | None = None
    theta: float | None = None
    vega: float | None = None
    iv: float | None = None
    bid_at_ms: int | None = None
    ask_at_ms: int | None = None
    trade_at_ms: int | None = None


class MarketClock(Contract, frozen=True, kw_only=True):
    """``market_clock@1``: the broker's market state.

    ``state`` ∈ premarket|open|postmarket|closed; ``isOpen`` true only for ``open`` (regular
    hours); ``nextState`` and ``nextChangeMs`` (epoch ms) describe the next transition, null
    when unknown; ``asOfMs`` the broker's clock time."""

    contract_name: ClassVar[str] = "market_clock"
    contract_version: ClassVar[int] = 1

    state: str
    is_open: bool
    next_state: str | None = None
    next_change_ms: int | None = None
    as_of_ms: int | None = None
