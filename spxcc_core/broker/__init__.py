"""Broker layer: the adapter interface, order tags and typed broker errors.

Adapters are plugins (``spxcc_register_brokers``); the contracts they speak live in
:mod:`spxcc_core.contracts.broker`.
"""

from __future__ import annotations

import pluggy

from spxcc_core.broker.errors import (
    AmbiguousOrderError,
    BrokerAuthError,
    BrokerError,
    BrokerRejected,
    BrokerUnavailable,
    ContractExpired,
    UnknownOrderError,
)
from spxcc_core.broker.interface import (
    TAG_NAMESPACE,
    TAG_PREFIX,
    BrokerAdapter,
    OrderEventTracker,
    TagCallback,
    accepts_known_unsubmitted,
    is_valid_tag,
    tag_for,
)
from spxcc_core.registry import Kind, PluginRegistry, discover

__all__ = [
    "BROKERS",
    "TAG_NAMESPACE",
    "TAG_PREFIX",
    "AmbiguousOrderError",
    "BrokerAdapter",
    "BrokerAuthError",
    "BrokerError",
    "BrokerRejected",
    "BrokerUnavailable",
    "ContractExpired",
    "OrderEventTracker",
    "TagCallback",
    "UnknownOrderError",
    "accepts_known_unsubmitted",
    "broker_adapters",
    "is_valid_tag",
    "tag_for",
]


#: Broker adapter classes, registered through ``spxcc_register_brokers``.
BROKERS: Kind[BrokerAdapter] = Kind("spxcc_register_brokers", "broker adapter", BrokerAdapter)


def broker_adapters(pm: pluggy.PluginManager | PluginRegistry) -> dict[str, type[BrokerAdapter]]:
    """Adapter classes registered through ``spxcc_register_brokers``, keyed by ``name``
    (sorted).

    :param pm: a :class:`~spxcc_core.registry.PluginRegistry`: a plugin whose hook raises is
        left out and listed in ``registry.failures`` (the caller reports it); or a plugin manager
        from :func:`spxcc_core.plugins.get_plugin_manager`: such a failure is a
        :class:`PluginError` (never silently missing).
    :raises PluginError: a blank or duplicate name, a hook returned something that is not a
        :class:`BrokerAdapter` subclass, or (plugin manager only) a plugin's hook raised.
    """
    return {c.name: c for c in discover(pm, BROKERS)}
