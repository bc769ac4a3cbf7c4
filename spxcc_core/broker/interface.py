"""The one interface every broker adapter implements, and the order-tag helper.

An adapter is a synchronous object bound to one broker connection (credentials, host) and
optionally a default account. Methods taking ``account_id`` act on that account; an intent
names its account in ``accountId`` or falls back to the adapter's default account.

Idempotency: every order carries ``tag_for(intent.intent_id)``. ``submit`` calls
``on_tag_assigned(intent, tag)`` before anything is sent, so the caller persists the tag first;
resubmitting the same intent returns the existing order (``OrderAck.duplicate`` true) and never
places a second one. A caller that can prove no request for an intent was ever sent (the
routing worker, from its store) passes ``known_unsubmitted=True`` so the adapter may skip the
tag lookup before placing. The shared acceptance suite (``tests/broker_acceptance.py``) checks each
adapter against this contract.
"""

from __future__ import annotations

import abc
import inspect
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from types import TracebackType
from typing import Any, ClassVar, Final, Self

import attrs

from spxcc_core.contracts.broker import (
    TERMINAL_STATUSES,
    BrokerEvent,
    BrokerOrder,
    BrokerQuote,
    Fill,
    MarketClock,
    OrderAck,
    OrderIntent,
    OrderPreview,
    OrderRejected,
    OrderUpdate,
    PortfolioSnapshot,
)
from spxcc_core.errors import ConfigError
from spxcc_core.store import Store

__all__ = [
    "TAG_NAMESPACE",
    "TAG_PREFIX",
    "AdapterConfig",
    "BrokerAdapter",
    "OrderEventTracker",
    "SecretLookup",
    "TagCallback",
    "accepts_known_unsubmitted",
    "is_valid_tag",
    "tag_for",
]

#: Namespace of the uuid5 order tags. Fixed forever: changing it would orphan every live tag.
TAG_NAMESPACE: Final = uuid.UUID("5f0c6b1e-6c2a-5d4e-9a7b-73707863632d")
#: Prefix of every spxcc order tag.
TAG_PREFIX: Final = "spxcc-"
_TAG_RE: Final = re.compile(r"^[A-Za-z0-9-]{1,255}$")

#: ``on_tag_assigned(intent, tag)``: persist the tag before the order is sent; raising aborts
#: the submission before anything reaches the broker.
TagCallback = Callable[[OrderIntent, str], None]


def tag_for(intent_id: str) -> str:
    """The broker order tag of an intent: ``"spxcc-" + uuid5(TAG_NAMESPACE, intent_id)``.

    Deterministic (same id, same tag, in every process), 42 characters of ``[a-z0-9-]``.
    """
    return TAG_PREFIX + str(uuid.uuid5(TAG_NAMESPACE, intent_id))


def is_valid_tag(tag: str) -> bool:
    """True when ``tag`` is a valid broker tag: 1–255 characters of ``[A-Za-z0-9-]``."""
    return bool(_TAG_RE.match(tag))


#: ``lookup(name)``: the value of the secret ``name`` (environment variable ``SPXCC_<NAME>``,
#: else the vault). :raises ConfigError: not available (the message never holds a value).
SecretLookup = Callable[[str], str]


def _options_of(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return dict(value)


@attrs.frozen
class AdapterConfig:
    """What a host hands :meth:`BrokerAdapter.from_config`, built without naming the adapter.

    :param options: adapter-specific values (strings from the command line, or typed values);
        keys are documented by each adapter.
    :param account_id: the default account (None: every intent must name its account).
    :param sandbox: use the broker's test environment (adapters without one ignore it).
    :param store: the spxcc store, for adapters declaring ``uses_store`` (None otherwise).
    :param secret: secret lookup, for adapters declaring ``secret_names``; it answers only
        the names the adapter declared (None when the adapter declares none).
    """

    options: Mapping[str, Any] = attrs.field(factory=dict, converter=_options_of)
    account_id: str | None = None
    sandbox: bool = False
    store: Store | None = attrs.field(default=None, repr=False)
    secret: SecretLookup | None = attrs.field(default=None, repr=False)

    @classmethod
    def of(cls, config: AdapterConfig | Mapping[str, Any]) -> AdapterConfig:
        """``config`` itself, or a plain options mapping wrapped as the ``options``."""
        return config if isinstance(config, AdapterConfig) else cls(options=config)

    def merged_options(self, secret_options: Mapping[str, str] | None = None
                       ) -> dict[str, Any]:
        """The options with ``account_id`` and ``sandbox`` set from the typed fields (when
        given, they replace an option of the same key) and each option of ``secret_options`` (option key →
        secret name) missing from the options read through :attr:`secret`.

        :raises ConfigError: a secret is needed and there is no lookup, or the lookup failed.
        """
        out = dict(self.options)
        if self.account_id is not None:
            out["account_id"] = self.account_id
        if self.sandbox:
            out["sandbox"] = True
        for key, name in (secret_options or {}).items():
            if key in out:
                continue
            if self.secret is None:
                raise ConfigError(f"option {key!r} (secret {name}) is required and no secret "
                                  "lookup was given")
            out[key] = self.secret(name)
        return out


def accepts_known_unsubmitted(adapter: BrokerAdapter) -> bool:
    """True when ``adapter.submit`` names the ``known_unsubmitted`` parameter (or takes
    ``**kwargs``); adapters (and subclasses) overriding ``submit`` with the older signature
    return False and are always called without it."""
    try:
        params = inspect.signature(adapter.submit).parameters
    except (TypeError, ValueError):
        return False
    return "known_unsubmitted" in params or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


class BrokerAdapter(abc.ABC):
    """Base class of broker adapters (``tradier``, ``paper``, third-party).

    Subclasses set ``name`` (the key users select the adapter by) and implement every abstract
    method. They declare what a host must hand :meth:`from_config`: ``uses_store`` (the
    spxcc store) and ``secret_names`` (the secrets :attr:`AdapterConfig.secret` may be asked
    for); everything else comes in the options. Errors raised: :mod:`spxcc_core.broker.errors` types only (plus ``InputError`` /
    ``ConfigError`` for bad arguments); an ``Exception`` escaping otherwise is a bug.
    """

    name: ClassVar[str] = ""
    #: True when the adapter keeps state in the spxcc store (:attr:`AdapterConfig.store`).
    uses_store: ClassVar[bool] = False
    #: Names of the secrets :meth:`from_config` may look up (e.g. ``("tradier_token",)``).
    secret_names: ClassVar[tuple[str, ...]] = ()
    #: True when fills are simulated (the paper broker): their slippage is recorded as
    #: ``paper``, a real broker's as ``broker`` (see ``docs/execution.md``).
    simulated: ClassVar[bool] = False

    def __init__(self, *, account_id: str | None = None) -> None:
        self.default_account_id = account_id
        self._tracker = OrderEventTracker()

    # --- construction / lifecycle ---------------------------------------------------------

    @classmethod
    @abc.abstractmethod
    def from_config(cls, config: AdapterConfig | Mapping[str, Any]) -> Self:
        """Build an adapter from a host's configuration (a plain mapping is taken as the
        options; see :meth:`AdapterConfig.of`). Option keys are documented by each adapter.

        :raises ConfigError: a required option or secret is missing or invalid (the message
            names it, never a secret's value).
        """

    def close(self) -> None:  # noqa: B027 - optional hook, default does nothing
        """Release connections. Idempotent."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def account_for(self, intent: OrderIntent) -> str:
        """The account an intent acts on: its ``accountId``, else the adapter's default.

        :raises ConfigError: neither is set.
        """
        account = intent.account_id or self.default_account_id
        if not account:
            raise ConfigError(f"intent {intent.intent_id!r} names no account and the "
                              f"{self.name or 'broker'} adapter has no default account")
        return account

    # --- account state ----------------------------------------------------------------------

    @abc.abstractmethod
    def snapshot(self, account_id: str) -> PortfolioSnapshot:
        """Balances, positions and open (non-terminal) orders of ``account_id`` now."""

    @abc.abstractmethod
    def orders(self, account_id: str) -> list[BrokerOrder]:
        """The account's orders of the current trading day (all statuses), oldest first, with
        tags."""

    @abc.abstractmethod
    def order(self, account_id: str, order_id: str) -> BrokerOrder:
        """One order by broker id.

        :raises UnknownOrderError: the id is unknown or not this account's.
        """

    # --- trading ----------------------------------------------------------------------------

    @abc.abstractmethod
    def submit(self, intent: OrderIntent, *, on_tag_assigned: TagCallback | None = None,
               known_unsubmitted: bool = False) -> OrderAck:
        """Place the order for ``intent`` at most once.

        Calls ``on_tag_assigned(intent, tag_for(intent.intent_id))`` before sending. If the
        broker already has an order with that tag (a resubmit), returns its ack with
        ``duplicate=True`` and places nothing. After an ambiguous outcome (timeout, dropped
        connection, 5xx, unparseable body) looks the tag up for a bounded window before
        deciding.

        :param known_unsubmitted: the caller guarantees that no request for this intent was
            ever sent to this broker by anyone (e.g. the routing worker's store, the single
            writer of the account, has never seen the intent reach ``submitting``), so no
            order can carry its tag: the adapter may skip looking the tag up before placing.
            Ambiguous outcomes are still resolved by tag lookups. False (the default) always
            looks first. Passing True for an intent that may have been sent before can create
            a duplicate order. Adapters written before this parameter existed simply do not
            name it; callers pass it only to adapters whose ``submit`` accepts it
            (:func:`accepts_known_unsubmitted`).

        :returns: the ack (broker order id, status, tag).
        :raises BrokerRejected: the broker refused the order (its reason in the message).
        :raises BrokerUnavailable: the order was established NOT to exist and the broker is
            unreachable; the same intent may be submitted again later.
        :raises AmbiguousOrderError: the outcome is still unknown after the lookup window.
        :raises BrokerAuthError: credentials refused.
        """

    @abc.abstractmethod
    def find_by_tag(self, account_id: str, tag: str) -> OrderAck | None:
        """The day's order carrying ``tag`` (the oldest if several), or None.

        The ack's ``intentId`` is the intent id this adapter knows for the tag, else ``""``.
        """

    @abc.abstractmethod
    def cancel(self, account_id: str, order_id: str) -> None:
        """Request cancellation. Returning means the request was accepted, not that the order
        is canceled (a fill may win the race); watch :meth:`order` or :meth:`poll_events`.

        :raises UnknownOrderError: unknown or foreign order id.
        :raises BrokerRejected: the order is already final (filled, canceled, ...).
        """

    @abc.abstractmethod
    def modify(self, account_id: str, order_id: str, *, order_type: str | None = None,
               limit_price: float | None = None, duration: str | None = None) -> None:
        """Change a working order's type, limit price or duration (never its quantity).

        :raises UnknownOrderError: unknown or foreign order id.
        :raises BrokerRejected: the broker refused the change.
        """

    @abc.abstractmethod
    def preview(self, intent: OrderIntent) -> OrderPreview:
        """Check an intent with the broker without placing anything.

        :returns: ``ok`` false with the broker's messages when it would be refused.
        """

    # --- market data ------------------------------------------------------------------------

    @abc.abstractmethod
    def market_clock(self) -> MarketClock:
        """The market state now and its next change."""

    @abc.abstractmethod
    def quotes(self, symbols: Sequence[str]) -> list[BrokerQuote]:
        """Quotes (with greeks for options) for ``symbols``, in request order; unknown symbols
        are left out."""

    @abc.abstractmethod
    def option_expirations(self, underlying: str) -> list[date]:
        """Listed expirations of ``underlying``'s options (all roots), ascending."""

    @abc.abstractmethod
    def option_chain(self, underlying: str, expiration: date) -> list[BrokerQuote]:
        """Every option of ``underlying`` expiring on ``expiration``, with greeks; empty when
        none."""

    # --- events -----------------------------------------------------------------------------

    def poll_events(self, account_id: str) -> list[BrokerEvent]:
        """Events since the previous poll of this account: status changes as
        :class:`OrderUpdate` (rejections as :class:`OrderRejected`) and executions as
        :class:`Fill`. The first poll reports every order once. Default: diff of
        :meth:`orders`."""
        return self._tracker.diff(account_id, self.orders(account_id))

    def remember_intent(self, tag: str, intent_id: str) -> None:
        """Record which intent a tag belongs to, so events and lookups can name it."""
        self._tracker.intents_by_tag[tag] = intent_id

    def intent_for_tag(self, tag: str | None) -> str | None:
        """The intent id recorded for ``tag`` in this process, or None."""
        return self._tracker.intents_by_tag.get(tag) if tag else None


@attrs.define
class OrderEventTracker:
    """Turns successive order lists into events (internal state of :meth:`poll_events`).

    Keeps, per account and order, the last status and filled quantity seen.
    """

    intents_by_tag: dict[str, str] = attrs.field(factory=dict)
    _seen: dict[tuple[str, str], tuple[str, float, float]] = attrs.field(factory=dict)

    def diff(self, account_id: str, orders: Sequence[BrokerOrder]) -> list[BrokerEvent]:
        """Events for what changed in ``orders`` since the previous call for ``account_id``.

        A fill increment is priced from the average fill prices
        (``(avg·filled − prevAvg·prevFilled) / increment``), else from the last fill price; an
        increment with no price yet (the broker's fill race) is reported by a later call.
        """
        events: list[BrokerEvent] = []
        for o in orders:
            key = (account_id, o.id)
            intent_id = self.intents_by_tag.get(o.tag) if o.tag else None
            prev_status, prev_filled, prev_avg = self._seen.get(key, ("", 0.0, 0.0))
            filled, avg = prev_filled, prev_avg
            reported = o.filled_quantity or 0.0
            if reported > prev_filled and o.symbol and o.side:
                increment = reported - prev_filled
                price: float | None = None
                if o.avg_fill_price:
                    price = (o.avg_fill_price * reported - prev_avg * prev_filled) / increment
                elif o.last_fill_price:
                    price = o.last_fill_price
                if price is not None:
                    filled = reported
                    avg = o.avg_fill_price or price
                    events.append(Fill(
                        fill_id=f"{o.id}-{reported:g}", broker_order_id=o.id, symbol=o.symbol,
                        side=o.side, quantity=increment, price=round(price, 10), tag=o.tag,
                        intent_id=intent_id, account_id=account_id, at_ms=o.updated_at_ms))
            status = o.status
            if status == "filled" and filled < reported:
                status = prev_status or "open"  # filled without a price yet: wait for it
            if status != prev_status or filled != prev_filled:
                if status == "rejected":
                    events.append(OrderRejected(
                        intent_id=intent_id, reason=o.reason or "rejected", broker_order_id=o.id,
                        tag=o.tag, account_id=account_id, at_ms=o.updated_at_ms))
                else:
                    events.append(OrderUpdate(
                        broker_order_id=o.id, status=status, tag=o.tag, intent_id=intent_id,
                        account_id=account_id, quantity=o.quantity, filled_quantity=filled,
                        remaining_quantity=(o.quantity - filled) if o.quantity is not None
                        else o.remaining_quantity,
                        avg_fill_price=avg or None, reason=o.reason, at_ms=o.updated_at_ms))
            self._seen[key] = (status, filled, avg)
        return events

    def is_final(self, account_id: str, order_id: str) -> bool:
        """True when the last status seen for the order is terminal."""
        seen = self._seen.get((account_id, order_id))
        return seen is not None and seen[0] in TERMINAL_STATUSES
