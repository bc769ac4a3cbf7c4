"""Orders: our intents that reached the broker against the broker's orders of the day (and
the snapshot's open orders), matched by tag, else by order id."""

from __future__ import annotations

from typing import ClassVar, Final

from spxcc_core.broker.reconcile import (
    AdoptFill,
    AdoptOrderStatus,
    Finding,
    InternalOrder,
    ReconcileInput,
    Reconciler,
    canonical_symbol,
)
from spxcc_core.contracts.broker import TERMINAL_STATUSES, BrokerOrder, OrderUpdate
from spxcc_core.contracts.reconcile import ReconcileFacts

__all__ = ["OrderReconciler"]

_TAG_PREFIX: Final = "spxcc-"


def _ours(o: InternalOrder) -> ReconcileFacts:
    return ReconcileFacts(present=True, quantity=o.quantity, order_id=o.broker_order_id,
                          status=o.state, filled_quantity=o.filled_quantity,
                          intent_id=o.intent_id)


def _theirs(o: BrokerOrder | None) -> ReconcileFacts:
    if o is None:
        return ReconcileFacts(present=False)
    return ReconcileFacts(present=True, quantity=o.quantity, order_id=o.id, status=o.status,
                          filled_quantity=o.filled_quantity)


def _symbol(symbol: str | None) -> str | None:
    return canonical_symbol(symbol) if symbol else None


class OrderReconciler(Reconciler):
    """Order differences:

    - ``unrecorded_fill``: the broker reports more contracts filled on one of our orders than
      the store recorded (adopt: record the fill, id ``<orderId>-<cumulative filled>``;
      ambiguous while the broker gives no fill price);
    - ``stuck_order``: an intent in flight (``submitting``/``ambiguous``) unchanged longer
      than ``stuck_after_ms`` (adopt: when the broker has no order with its tag, end it
      ``canceled``; otherwise nothing safe to adopt), or a working order the broker reports
      final without a fill we miss (ambiguous; adopt: record the broker's status);
    - ``missing_at_broker``: a working order (``acked``/``partially_filled``) the broker does
      not show (ambiguous while younger than ``stuck_after_ms``; adopt: end it ``canceled``);
    - ``unknown_at_broker``: a working broker order that is not ours (adopt: record it as
      known, so it is reported once).
    """

    name: ClassVar[str] = "orders"

    def check(self, data: ReconcileInput) -> list[Finding]:
        out: list[Finding] = []
        account = data.account_id
        unrecorded = {u.order.intent_id for u in data.unrecorded}
        for u in data.unrecorded:
            filled = u.broker_order
            out.append(Finding(
                "unrecorded_fill", _symbol(u.order.symbol), _ours(u.order), _theirs(filled),
                f"order {filled.id} (intent {u.order.intent_id}): the broker reports "
                f"{filled.filled_quantity or 0:g} filled, we recorded {u.order.filled_quantity:g}"
                + ("" if u.priced else "; no usable fill price yet"),
                ambiguous="" if u.priced else "the broker gives no usable fill price yet",
                adopt=AdoptFill(u.fill(account), u.gap_fill(account)) if u.priced else None))
        by_id = data.broker_orders_by_id
        by_tag = {o.tag: o for o in data.view.orders if o.tag}
        for o in data.book.open_orders.values():
            bo = (by_id.get(o.broker_order_id) if o.broker_order_id else None) or by_tag.get(o.tag)
            age = data.now_ms - o.changed_ms
            if o.in_flight:
                if age <= data.stuck_after_ms:
                    continue  # outcome not known yet: not a difference (yet)
                adopt = None if bo is not None else AdoptOrderStatus(OrderUpdate(
                    broker_order_id="", status="canceled", tag=o.tag, intent_id=o.intent_id,
                    account_id=account, reason="no order with its tag at the broker after "
                    f"{age} ms in flight: ended by reconciliation"))
                out.append(Finding(
                    "stuck_order", _symbol(o.symbol), _ours(o), _theirs(bo),
                    f"intent {o.intent_id} is {o.state} since {age} ms (limit "
                    f"{data.stuck_after_ms} ms); the broker "
                    + (f"has order {bo.id} ({bo.status}) with its tag" if bo is not None
                       else "has no order with its tag"), adopt=adopt))
                continue
            if bo is None:
                out.append(Finding(
                    "missing_at_broker", _symbol(o.symbol), _ours(o), _theirs(None),
                    f"intent {o.intent_id}: order {o.broker_order_id} is {o.state} here; the "
                    "broker does not show it",
                    ambiguous="acknowledged recently: the broker may not show it yet"
                    if age <= data.stuck_after_ms else "",
                    adopt=AdoptOrderStatus(OrderUpdate(
                        broker_order_id=o.broker_order_id or "", status="canceled", tag=o.tag,
                        intent_id=o.intent_id, account_id=account,
                        reason="not at the broker: ended by reconciliation"))))
                continue
            if bo.status in TERMINAL_STATUSES and o.intent_id not in unrecorded:
                out.append(Finding(
                    "stuck_order", _symbol(o.symbol), _ours(o), _theirs(bo),
                    f"intent {o.intent_id}: order {bo.id} is {o.state} here, {bo.status} at "
                    "the broker",
                    ambiguous="a status the broker may still be reporting to us",
                    adopt=AdoptOrderStatus(OrderUpdate(
                        broker_order_id=bo.id, status=bo.status, tag=o.tag,
                        intent_id=o.intent_id, account_id=account, quantity=bo.quantity,
                        filled_quantity=bo.filled_quantity, reason=bo.reason))))
        ours = {o.broker_order_id for o in data.book.by_tag.values() if o.broker_order_id}
        for ext in data.view.orders:
            if (ext.status in TERMINAL_STATUSES or (ext.tag and ext.tag in data.book.by_tag)
                    or ext.id in ours or ext.id in data.book.adopted_orders):
                continue
            whose = ("carries an spxcc tag this store never recorded"
                     if ext.tag and ext.tag.startswith(_TAG_PREFIX) else "is not ours")
            out.append(Finding(
                "unknown_at_broker", _symbol(ext.symbol), ReconcileFacts(present=False),
                _theirs(ext), f"broker order {ext.id} ({ext.side or '?'} "
                f"{ext.quantity or 0:g} {ext.symbol or '?'}, {ext.status}) {whose}",
                adopt=AdoptOrderStatus(external_order_id=ext.id)))
        return out
