"""Built-in plugin: the reconcilers of positions and orders (``spxcc_register_reconcilers``).

- :class:`~spxcc_reconcile.positions.PositionReconciler` (``positions``):
  ``missing_at_broker``, ``unknown_at_broker``, ``quantity_mismatch`` and
  ``cost_basis_mismatch`` of positions;
- :class:`~spxcc_reconcile.orders.OrderReconciler` (``orders``): ``unrecorded_fill``,
  ``stuck_order``, ``missing_at_broker`` of working orders and ``unknown_at_broker`` of
  external orders.

See ``docs/execution.md`` (Reconciliation) and ``docs/operations.md`` (runbooks).
"""

from __future__ import annotations

from spxcc_core.broker.reconcile import Reconciler
from spxcc_core.hookspecs import hookimpl
from spxcc_reconcile.orders import OrderReconciler
from spxcc_reconcile.positions import PositionReconciler

__all__ = ["OrderReconciler", "PositionReconciler"]


@hookimpl
def spxcc_register_reconcilers() -> list[type[Reconciler]]:
    return [OrderReconciler, PositionReconciler]
