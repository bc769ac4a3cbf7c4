"""Built-in plugin: the paper broker (``--broker paper``).

Fills orders against fed options quotes with a configurable fill model (mid, touch,
touch + k ticks, spread gate), partial fills bounded by displayed size and a submit latency;
speaks the same contracts as the Tradier adapter. See :mod:`spxcc_paper.adapter`.
"""

from __future__ import annotations

from collections.abc import Sequence

from spxcc_core.broker.interface import BrokerAdapter
from spxcc_core.hookspecs import hookimpl
from spxcc_core.store import Migration
from spxcc_paper.adapter import PaperBroker
from spxcc_paper.fill_model import FillModel
from spxcc_paper.store import MIGRATIONS, PaperStore

__all__ = ["FillModel", "PaperBroker", "PaperStore"]


@hookimpl
def spxcc_register_brokers() -> list[type[BrokerAdapter]]:
    return [PaperBroker]


@hookimpl
def spxcc_register_migrations() -> Sequence[Migration]:
    """The paper accounts table (``spx_paper_state``, component ``paper``)."""
    return MIGRATIONS
