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
from spxcc_core.registry import Kind, PluginRegistry, as_registry

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
    (sorted). A plugin whose hook raises is left out and listed in the registry's failures.

    :param pm: a plugin manager from :func:`spxcc_core.plugins.get_plugin_manager`, or a
        :class:`~spxcc_core.registry.PluginRegistry` (to read its failures afterwards).
    :raises PluginError: a blank or duplicate name, or a hook returned something that is not a
        :class:`BrokerAdapter` subclass.
    """
    return as_registry(pm).by_name(BROKERS)
