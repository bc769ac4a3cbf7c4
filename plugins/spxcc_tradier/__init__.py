"""Built-in Tradier broker plugin: :class:`~spxcc_tradier.adapter.TradierAdapter` over REST.

Registered through ``spxcc_register_brokers`` under the name ``tradier``.
"""

from __future__ import annotations

from spxcc_core.broker.interface import BrokerAdapter
from spxcc_core.hookspecs import hookimpl
from spxcc_tradier.adapter import LIVE_URL, SANDBOX_URL, TradierAdapter

__all__ = ["LIVE_URL", "SANDBOX_URL", "TradierAdapter", "spxcc_register_brokers"]


@hookimpl
def spxcc_register_brokers() -> list[type[BrokerAdapter]]:
    """The Tradier adapter class."""
    return [TradierAdapter]
