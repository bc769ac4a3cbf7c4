"""Built-in Tradier broker plugin: :class:`~spxcc_tradier.adapter.TradierAdapter` over REST.

Registered through ``spxcc_register_brokers`` under the name ``tradier``. The adapter (and its
HTTP client, ``httpx``) is imported when the hook is called or a name below is first used, not
when the plugin is registered: commands that never touch a broker do not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spxcc_core._lazy import lazy_exports
from spxcc_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from spxcc_core.broker.interface import BrokerAdapter
    from spxcc_tradier.adapter import LIVE_URL, SANDBOX_URL, TradierAdapter

__all__ = ["LIVE_URL", "SANDBOX_URL", "TradierAdapter", "spxcc_register_brokers"]


@hookimpl
def spxcc_register_brokers() -> list[type[BrokerAdapter]]:
    """The Tradier adapter class."""
    from spxcc_tradier.adapter import TradierAdapter

    return [TradierAdapter]


__getattr__, __dir__ = lazy_exports(__name__, dict.fromkeys(
    ("LIVE_URL", "SANDBOX_URL", "TradierAdapter"), "spxcc_tradier.adapter"), __all__, globals())
