"""What a reconciler sees and returns: the internal book, the broker's view, findings and the
events that adopt the broker's truth.

A :class:`Reconciler` (registered through ``spxcc_register_reconcilers``) is a pure function of
a :class:`ReconcileInput`: it reads our book and the broker's answer and returns
:class:`Finding` objects. It never writes, never calls the broker and never decides what is done
about a finding: the policy (:mod:`spxcc_core.broker.reconcile.policy`) and the engine
(:mod:`spxcc_core.broker.reconcile.engine`) do.

Quantities are contracts (negative = short), cost bases dollars (negative for a short option:
what opening it brought in), prices per-share premiums, times epoch ms.
"""

from __future__ import annotations

import abc
import functools
import math
from collections.abc import Mapping, Sequence
from typing import ClassVar, Final

import attrs

from spxcc_core.contracts.broker import BrokerOrder, Fill, OrderUpdate, PortfolioSnapshot
from spxcc_core.contracts.reconcile import DifferenceKind, ReconcileFacts
from spxcc_core.errors import InputError
from spxcc_core.occ import parse_occ

__all__ = [
    "EPSILON",
    "MULTIPLIER",
    "AdoptFill",
    "AdoptOrderStatus",
    "AdoptPosition",
    "Adoption",
    "BrokerView",
    "Finding",
    "InternalBook",
    "InternalOrder",
    "InternalPosition",
    "ReconcileInput",
    "Reconciler",
    "UnrecordedFill",
    "canonical_symbol",
]

#: Contracts per option (dollars = premium × quantity × MULTIPLIER).
MULTIPLIER: Final = 100.0
#: Quantities closer than this are equal (fills are whole contracts; floats come from JSON).
EPSILON: Final = 1e-9


@functools.lru_cache(maxsize=65_536)
def canonical_symbol(symbol: str) -> str:
    """The compact OCC form of an option symbol (any form :func:`parse_occ` reads), so our
    store and a broker spelling one contract differently still match; other symbols
    upper-cased and stripped."""
    try:
        return parse_occ(symbol).occ()
    except InputError:
        return symbol.strip().upper()


@attrs.frozen
class InternalPosition:
    """What our store says we hold of one symbol: the sum of our recorded fills (average-cost
    basis: a closing fill removes its share of the cost) plus adopted adjustments."""

    symbol: str
    quantity: float
    cost_basis: float


@attrs.frozen
class InternalOrder:
    """One of our intents as the store has it (state from :mod:`spxcc_core.broker.store`).

    ``changed_ms`` is the last time its row changed. ``signed`` is +1 for buys, -1 for sells.
    """

    intent_id: str
    symbol: str
    side: str
    quantity: float
    state: str
    tag: str
    broker_order_id: str | None
    filled_quantity: float
    avg_fill_price: float | None
    changed_ms: int

    @property
    def signed(self) -> int:
        return 1 if self.side.startswith("buy") else -1

    @property
    def in_flight(self) -> bool:
        """A request was sent and its outcome is not known yet (``submitting``/``ambiguous``)."""
        return self.state in ("submitting", "ambiguous")

    @property
    def working(self) -> bool:
        """The broker acknowledged it and it is not final (``acked``/``partially_filled``)."""
        return self.state in ("acked", "partially_filled")


@attrs.frozen
class InternalBook:
    """Our side of one broker account.

    :ivar positions: non-zero positions by canonical symbol.
    :ivar open_orders: intents that reached (or may have reached) the broker and are not final
        (``submitting``, ``ambiguous``, ``acked``, ``partially_filled``), by intent id.
    :ivar by_tag: every intent (open or not) whose tag a broker order of this read carries.
    :ivar adopted_orders: broker order ids of external orders adopted earlier.
    :ivar adjustments: adopted adjustments so far per symbol (makes adoption ids unique).
    """

    positions: Mapping[str, InternalPosition]
    open_orders: Mapping[str, InternalOrder]
    by_tag: Mapping[str, InternalOrder]
    adopted_orders: frozenset[str] = frozenset()
    adjustments: Mapping[str, int] = attrs.field(factory=dict)

    @property
    def empty(self) -> bool:
        return not self.positions and not self.open_orders


@attrs.frozen
class BrokerView:
    """The broker's answer: a snapshot and the day's orders (open orders of the snapshot
    merged in by id). ``stable`` is false when the orders read before and after the snapshot
    disagree (the account moved during the read: every finding is ambiguous)."""

    snapshot: PortfolioSnapshot
    orders: Sequence[BrokerOrder]
    stable: bool = True

    @property
    def empty(self) -> bool:
        """Nothing at all: no position, no order of any status."""
        return not self.snapshot.positions and not self.orders


@attrs.frozen
class UnrecordedFill:
    """Contracts the broker says one of our orders filled that our store has not recorded.

    ``price`` is the per-share price of those contracts, derived from the order's average fill
    price and ours (else its last fill price); None when the broker gives no usable price yet
    (:attr:`priced` false: nothing can be recorded until it does).
    """

    order: InternalOrder
    broker_order: BrokerOrder
    quantity: float
    price: float | None

    @property
    def priced(self) -> bool:
        return self.price is not None

    def fill(self, account_id: str) -> Fill:
        """The synthetic fill: id ``<brokerOrderId>-<cumulative filled>`` (the convention of
        every fill recorded from an order's totals), so it is the same id however often it is
        derived, and the same one polling would have recorded."""
        return self._fill(account_id, "")

    def gap_fill(self, account_id: str) -> Fill:
        """The same fill under the id ``<brokerOrderId>-<cumulative>-after-<recorded>``: for
        when :meth:`fill`'s id is already recorded (the last partial fill arrived, an earlier
        one was lost), still derived from the broker's and our facts only."""
        return self._fill(account_id, f"-after-{self.order.filled_quantity:g}")

    def _fill(self, account_id: str, suffix: str) -> Fill:
        assert self.price is not None
        total = self.order.filled_quantity + self.quantity
        o = self.broker_order
        return Fill(fill_id=f"{o.id}-{total:g}{suffix}", broker_order_id=o.id,
                    symbol=o.symbol or self.order.symbol, side=o.side or self.order.side,
                    quantity=self.quantity, price=round(self.price, 10), tag=self.order.tag,
                    intent_id=self.order.intent_id, account_id=account_id,
                    at_ms=o.updated_at_ms)


@attrs.frozen
class ReconcileInput:
    """Everything a reconciler may read. ``now_ms`` is the injected clock's time of the run;
    ``stuck_after_ms`` and ``cost_basis_tolerance`` come from the policy."""

    broker: str
    account_id: str
    now_ms: int
    book: InternalBook
    view: BrokerView
    stuck_after_ms: int
    cost_basis_tolerance: float

    @functools.cached_property
    def broker_orders_by_id(self) -> dict[str, BrokerOrder]:
        return {o.id: o for o in self.view.orders}

    @functools.cached_property
    def unrecorded(self) -> tuple[UnrecordedFill, ...]:
        """Fills the broker reports on our orders (matched by tag, else by order id) beyond
        what the store recorded, in broker order."""
        by_order = {o.broker_order_id: o for o in self.book.by_tag.values()
                    if o.broker_order_id is not None}
        out: list[UnrecordedFill] = []
        for bo in self.view.orders:
            ours = (self.book.by_tag.get(bo.tag) if bo.tag else None) or by_order.get(bo.id)
            if ours is None:
                continue
            reported = bo.filled_quantity or 0.0
            increment = reported - ours.filled_quantity
            if increment <= EPSILON:
                continue
            price: float | None = None
            if bo.avg_fill_price:
                price = ((bo.avg_fill_price * reported
                          - (ours.avg_fill_price or 0.0) * ours.filled_quantity) / increment)
            elif bo.last_fill_price:
                price = bo.last_fill_price
            if price is not None and not (math.isfinite(price) and price > 0):
                price = None  # inconsistent totals: wait for a usable price
            out.append(UnrecordedFill(ours, bo, increment, price))
        return tuple(out)

    @functools.cached_property
    def unrecorded_by_symbol(self) -> dict[str, float]:
        """Signed contracts of :attr:`unrecorded` per canonical symbol."""
        out: dict[str, float] = {}
        for u in self.unrecorded:
            sym = canonical_symbol(u.order.symbol)
            out[sym] = out.get(sym, 0.0) + u.order.signed * u.quantity
        return out

    @functools.cached_property
    def busy_symbols(self) -> frozenset[str]:
        """Symbols whose position may move between two reads, so a difference there is
        ambiguous: an order working at the broker, one of ours in flight (``submitting``/
        ``ambiguous``), or one of ours working here that the broker does not show."""
        known = self.broker_orders_by_id
        tags = {o.tag for o in self.view.orders if o.tag}
        out = {canonical_symbol(o.symbol) for o in self.view.orders
               if o.symbol and o.status not in _FINAL}
        out.update(canonical_symbol(o.symbol) for o in self.book.open_orders.values()
                   if o.in_flight or (o.broker_order_id not in known and o.tag not in tags))
        return frozenset(out)


_FINAL: Final = frozenset({"filled", "canceled", "expired", "rejected", "error"})


@attrs.frozen
class AdoptPosition:
    """Adopt the broker's position: add ``quantity`` contracts and ``cost`` dollars to our
    book of ``symbol`` (an adjustment row, not a fill)."""

    symbol: str
    quantity: float
    cost: float


@attrs.frozen
class AdoptFill:
    """Adopt a fill the broker reports on one of our orders (recorded like a polled fill);
    ``alternate`` (same fill, another id) is recorded when ``fill``'s id is already taken."""

    fill: Fill
    alternate: Fill | None = None


@attrs.frozen
class AdoptOrderStatus:
    """Adopt the broker's status of one of our orders (``update``), or, for an external
    order, record it as known (``external_order_id``)."""

    update: OrderUpdate | None = None
    external_order_id: str | None = None


Adoption = AdoptPosition | AdoptFill | AdoptOrderStatus


@attrs.frozen
class Finding:
    """One difference a reconciler found, before the policy decides what to do.

    ``ambiguous``: why it may be a timing effect rather than a real difference (e.g. "an order
    is working on the symbol"; empty: it is not): it stays ``pending`` until later runs see
    the same difference (``confirm_runs``). The engine also treats every finding of an unstable
    read or of an empty broker answer as ambiguous. ``adopt``: the event that takes the broker's truth (None
    when there is nothing safe to adopt: adopt then falls back to alert).
    """

    kind: DifferenceKind
    symbol: str | None
    internal: ReconcileFacts
    broker: ReconcileFacts
    detail: str
    ambiguous: str = ""
    adopt: Adoption | None = None


class Reconciler(abc.ABC):
    """Base class of reconcilers (``spxcc_register_reconcilers``).

    Subclasses set a unique, non-blank ``name`` and implement :meth:`check`. The engine builds
    one instance per run (no constructor arguments) and calls :meth:`check` once.
    """

    name: ClassVar[str] = ""

    @abc.abstractmethod
    def check(self, data: ReconcileInput) -> list[Finding]:
        """The differences this reconciler finds in ``data`` (empty: none). Must not mutate
        ``data`` and must not do I/O."""
