"""Reconciliation of our book against the broker's: the reconciler interface, the policy,
the engine and its store tables.

Reconcilers are plugins (``spxcc_register_reconcilers``; the built-ins are in
``plugins/spxcc_reconcile``). See ``docs/execution.md`` (Reconciliation) and
``docs/operations.md`` (runbooks).
"""

from __future__ import annotations

import pluggy

from spxcc_core.broker.reconcile.base import (
    AdoptFill,
    AdoptOrderStatus,
    AdoptPosition,
    BrokerView,
    Finding,
    InternalBook,
    InternalOrder,
    InternalPosition,
    ReconcileInput,
    Reconciler,
    UnrecordedFill,
    canonical_symbol,
)
from spxcc_core.broker.reconcile.engine import ApplyEvent, Reconciliation, difference_key, summary
from spxcc_core.broker.reconcile.policy import (
    DEFAULT_ACTIONS,
    SEVERITY,
    ReconcilePolicy,
    parse_actions,
)
from spxcc_core.broker.reconcile.store import Halt, ReconcileStore
from spxcc_core.registry import Kind, PluginRegistry, discover

__all__ = [
    "DEFAULT_ACTIONS",
    "RECONCILERS",
    "SEVERITY",
    "AdoptFill",
    "AdoptOrderStatus",
    "AdoptPosition",
    "ApplyEvent",
    "BrokerView",
    "Finding",
    "Halt",
    "InternalBook",
    "InternalOrder",
    "InternalPosition",
    "ReconcileInput",
    "ReconcilePolicy",
    "ReconcileStore",
    "Reconciler",
    "Reconciliation",
    "UnrecordedFill",
    "canonical_symbol",
    "difference_key",
    "parse_actions",
    "reconciler_classes",
    "summary",
]

#: Reconciler classes, registered through ``spxcc_register_reconcilers``.
RECONCILERS: Kind[Reconciler] = Kind("spxcc_register_reconcilers", "reconciler", Reconciler)


def reconciler_classes(pm: pluggy.PluginManager | PluginRegistry) -> list[type[Reconciler]]:
    """Reconciler classes registered through ``spxcc_register_reconcilers``, sorted by name.

    :param pm: a :class:`~spxcc_core.registry.PluginRegistry` (a plugin whose hook raises is
        left out and listed in its ``failures``) or a plugin manager (such a failure is a
        :class:`PluginError`: a reconciler is never silently missing).
    :raises PluginError: a blank or duplicate name, something that is not a
        :class:`Reconciler` subclass, or (plugin manager only) a plugin's hook raised.
    """
    return discover(pm, RECONCILERS)
