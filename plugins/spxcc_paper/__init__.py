"""Built-in plugin: the paper broker (``--broker paper``).

Fills orders against fed options quotes with a configurable fill model (mid, touch,
touch + k ticks, spread gate), partial fills bounded by displayed size and a submit latency;
speaks the same contracts as the Tradier adapter. See :mod:`spxcc_paper.adapter`. The broker
modules are imported when a hook is called or a name below is first used, not when the plugin
is registered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from spxcc_core._lazy import lazy_exports
from spxcc_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from spxcc_core.broker.interface import BrokerAdapter
    from spxcc_core.store import Migration
    from spxcc_paper.adapter import PaperBroker
    from spxcc_paper.fill_model import FillModel
    from spxcc_paper.store import PaperStore

__all__ = ["FillModel", "PaperBroker", "PaperStore"]


@hookimpl
def spxcc_register_brokers() -> list[type[BrokerAdapter]]:
    from spxcc_paper.adapter import PaperBroker

    return [PaperBroker]


@hookimpl
def spxcc_register_migrations() -> Sequence[Migration]:
    """The paper accounts table (``spx_paper_state``, component ``paper``)."""
    from spxcc_paper.store import MIGRATIONS

    return MIGRATIONS


__getattr__, __dir__ = lazy_exports(__name__, {
    "FillModel": "spxcc_paper.fill_model", "PaperBroker": "spxcc_paper.adapter",
    "PaperStore": "spxcc_paper.store"}, __all__, globals())
