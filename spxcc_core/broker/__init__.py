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

__all__ = [
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


def broker_adapters(pm: pluggy.PluginManager) -> dict[str, type[BrokerAdapter]]:
    """Adapter classes registered through ``spxcc_register_brokers``, keyed by ``name``.

    :param pm: a plugin manager from :func:`spxcc_core.plugins.get_plugin_manager`.
    :raises PluginError: a blank or duplicate name, or a hook returned something that is not a
        :class:`BrokerAdapter` subclass.
    """
    from spxcc_core.errors import PluginError
    from spxcc_core.plugins import require_unique_names

    classes: list[type[BrokerAdapter]] = []
    for result in pm.hook.spxcc_register_brokers():
        for cls in result or ():
            if not (isinstance(cls, type) and issubclass(cls, BrokerAdapter)):
                raise PluginError(f"spxcc_register_brokers returned {cls!r}, "
                                  "not a BrokerAdapter subclass")
            classes.append(cls)
    return require_unique_names("broker adapter", classes)
