"""Typed broker errors.

Every broker adapter raises only these (plus :class:`spxcc_core.errors.InputError` for an
invalid intent). Messages carry the broker's own reason text where it gave one; they never
contain an access token or any other secret.
"""

from __future__ import annotations

__all__ = [
    "AmbiguousOrderError",
    "BrokerAuthError",
    "BrokerError",
    "BrokerRejected",
    "BrokerUnavailable",
    "ContractExpired",
    "UnknownOrderError",
]

from spxcc_core.errors import SpxccError


class BrokerError(SpxccError):
    """Base of every broker error."""


class BrokerRejected(BrokerError):
    """The broker refused the request; nothing was placed or changed by it.

    :ivar reason: the broker's message (e.g. ``DayTradingBuyingPowerExceeded``), joined by
        ``"; "`` when it gave several.
    :ivar codes: the broker's individual error strings, in order.
    """

    def __init__(self, reason: str, *, codes: tuple[str, ...] = ()) -> None:
        self.reason = reason
        self.codes = codes or (reason,)
        super().__init__(f"broker rejected: {reason}")


class ContractExpired(BrokerRejected):
    """The order's contract can no longer trade: its expiry has passed on the broker's clock.

    ``codes`` is ``("ContractExpired",)``; ``reason`` names the contract and when it stopped
    trading. :ivar symbol: the contract (OCC). :ivar expired_ms: that moment (epoch ms).
    """

    def __init__(self, symbol: str, expired_ms: int, reason: str) -> None:
        self.symbol = symbol
        self.expired_ms = expired_ms
        super().__init__(reason, codes=("ContractExpired",))


class UnknownOrderError(BrokerRejected):
    """The order id is unknown to the broker or belongs to another account."""

    def __init__(self, order_id: str, reason: str) -> None:
        self.order_id = order_id
        super().__init__(f"order {order_id}: {reason}")


class BrokerAuthError(BrokerError):
    """The credentials were refused (missing, invalid, expired or for the wrong host)."""


class BrokerUnavailable(BrokerError):
    """A transient failure (timeout, 5xx, 429, garbled body) that outlived the retries.

    For a read it is safe to try again later. For an order placement it is raised only when
    the adapter established that the order was NOT created; otherwise see
    :class:`AmbiguousOrderError`.

    :ivar retry_after_s: seconds the broker asked to wait, or None.
    """

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message)


class AmbiguousOrderError(BrokerError):
    """An order placement's outcome could not be established within the lookup window.

    The order may or may not exist at the broker. Never place the intent again blindly:
    resubmitting the same intent (same tag) makes the adapter look the tag up first.

    :ivar intent_id: the intent whose outcome is unknown.
    :ivar tag: the tag the order was sent with.
    """

    def __init__(self, intent_id: str, tag: str, detail: str) -> None:
        self.intent_id = intent_id
        self.tag = tag
        super().__init__(f"order for intent {intent_id!r} (tag {tag}) has an unknown outcome: "
                         f"{detail}")
