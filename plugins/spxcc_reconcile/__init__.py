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

from typing import TYPE_CHECKING

from spxcc_core._lazy import lazy_exports
from spxcc_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from spxcc_core.broker.reconcile import Reconciler
    from spxcc_reconcile.orders import OrderReconciler
    from spxcc_reconcile.positions import PositionReconciler

__all__ = ["OrderReconciler", "PositionReconciler"]


@hookimpl
def spxcc_register_reconcilers() -> list[type[Reconciler]]:
    # imported on first use, not when the plugin is registered (every command registers it)
    from spxcc_reconcile.orders import OrderReconciler
    from spxcc_reconcile.positions import PositionReconciler

    return [OrderReconciler, PositionReconciler]


__getattr__, __dir__ = lazy_exports(__name__, {
    "OrderReconciler": "spxcc_reconcile.orders",
    "PositionReconciler": "spxcc_reconcile.positions"}, __all__, globals())
