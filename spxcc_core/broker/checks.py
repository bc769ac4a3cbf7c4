"""Pre-trade checks as pure functions over plain inputs (no store, no broker, no clock).

Each check returns None when it passes, else the one-line reason the routing worker records
(the wording is part of the recorded history: keep it stable). Money is in dollars, quantities
in contracts, times in epoch milliseconds. The worker gathers the inputs (market clock, portfolio
snapshot, reservations, open risk) and collects every failing reason, not only the first.
"""

from __future__ import annotations

from typing import Final, Literal

from spxcc_core.contracts.broker import MarketClock, OrderIntent

__all__ = [
    "BUY_SIDES",
    "EPSILON",
    "MULTIPLIER",
    "buying_power_reason",
    "clock_valid_until_ms",
    "entry_gate",
    "entry_reference_reason",
    "entry_risk",
    "estimated_cost",
    "is_entry",
    "market_hours_reason",
    "max_contracts_reason",
    "missing_price_reason",
    "open_risk_reason",
    "order_price",
]

#: Contract multiplier of an equity-index option (dollars per point per contract).
MULTIPLIER: Final = 100
#: Sides whose order spends buying power.
BUY_SIDES: Final = frozenset({"buy_to_open", "buy_to_close"})
#: Dollars of tolerance in money comparisons (float sums of cents).
EPSILON: Final = 1e-9


def is_entry(side: str) -> bool:
    """True for ``buy_to_open``/``sell_to_open`` (an entry), False for exits."""
    return side.endswith("_to_open")


def order_price(intent: OrderIntent) -> float | None:
    """The price an intent is measured at: its limit price, else its ``arrivalAsk``; None
    when it has neither (a market order without an arrival quote)."""
    return intent.limit_price if intent.limit_price is not None else intent.arrival_ask


def max_contracts_reason(quantity: int, max_contracts: int | None) -> str | None:
    """Refuse more than ``max_contracts`` contracts (None: no limit; equal passes)."""
    if max_contracts is not None and quantity > max_contracts:
        return f"quantity {quantity} > max contracts {max_contracts}"
    return None


def market_hours_reason(clock: MarketClock) -> str | None:
    """Refuse while the broker's market clock is not open."""
    if not clock.is_open:
        return f"market is not open (broker clock state {clock.state})"
    return None


def clock_valid_until_ms(now_ms: int, ttl_ms: int, next_change_ms: int | None) -> int:
    """Until when (epoch ms, exclusive) a market clock read at ``now_ms`` may be reused:
    ``now + ttl``, but never past the clock's own next change."""
    until = now_ms + ttl_ms
    if next_change_ms is not None:
        until = min(until, next_change_ms)
    return until


def estimated_cost(price: float, quantity: int, buffer: float) -> float:
    """Buying power a buy reserves: ``price × quantity × 100 × (1 + buffer)``, in cents."""
    return round(price * quantity * MULTIPLIER * (1 + buffer), 2)


def missing_price_reason() -> str:
    """The reason for a buy whose cost cannot be estimated (no limit, no arrival ask)."""
    return "market buy without arrivalAsk: cannot estimate its cost"


def buying_power_reason(cost: float, buying_power: float | None, source: str,
                        held: float) -> str | None:
    """Refuse a buy costing more than the snapshot's buying power minus what other intents
    hold in flight (``held``); refuse when the snapshot has no buying power (``source`` names
    the field that was null). Exactly spending all of it passes."""
    if buying_power is None:
        return f"buying power unknown: {source} is null in the snapshot"
    if cost > buying_power - held + EPSILON:
        return (f"insufficient buying power: needs {cost:.2f}, {source} {buying_power:.2f} "
                f"minus {held:.2f} reserved in flight")
    return None


def entry_risk(price: float | None, stop_premium: float | None, quantity: int) -> float:
    """Dollars an entry risks: ``(price − stop) × quantity × 100``, or the whole premium when
    there is no stop or the stop is not below the price; 0 without a price."""
    if price is None:
        return 0.0
    stop = stop_premium if stop_premium is not None else 0.0
    per = price - stop if stop < price else price
    return round(per * quantity * MULTIPLIER, 2)


def open_risk_reason(open_risk: float, risk: float, max_open_risk: float,
                     has_price: bool) -> str | None:
    """Refuse an entry taking the account's open risk past ``max_open_risk`` (equal passes),
    or one without a price (its risk cannot be measured)."""
    if not has_price:
        return "entry without a price: cannot measure its risk"
    if open_risk + risk > max_open_risk + EPSILON:
        return f"open risk {open_risk:.2f} + {risk:.2f} > max open risk {max_open_risk:.2f}"
    return None


def entry_reference_reason(entry_intent_id: str, *, recorded: bool, is_entry: bool,
                           same_account: bool, account_id: str, broker: str) -> str | None:
    """Refuse an exit naming an entry that is not recorded, or is not an entry of the same
    account at the same broker."""
    if not recorded:
        return f"entry intent {entry_intent_id!r} is not recorded"
    if not (is_entry and same_account):
        return (f"entry intent {entry_intent_id!r} is not an entry of account {account_id} at "
                f"{broker}")
    return None


#: An entry (``*_to_open``) naming an entry of its own is refused with this reason.
ENTRY_REFERENCES_ENTRY: Final = "an entry (*_to_open) intent cannot reference another entry"


def entry_gate(entry_intent_id: str, *, entry_state: str, entry_filled: float,
               exit_quantity: int, entry_final: bool) -> Literal["send", "wait"] | str:
    """May an exit go to the broker? ``"send"`` once its entry filled at least the exit's
    quantity; ``"wait"`` while the entry may still fill; else the refusal reason (the entry
    ended, ``entry_final``, with less filled)."""
    if entry_filled >= exit_quantity:
        return "send"
    if entry_final:
        return (f"entry intent {entry_intent_id!r} ended {entry_state} with {entry_filled:g} "
                f"filled, less than the exit's {exit_quantity}")
    return "wait"
