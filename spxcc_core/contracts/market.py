"""Market-event contracts: trades, quotes and index values (family version 1).

Timestamps are integer nanoseconds since the UTC epoch; prices are in the instrument's quote
currency; sizes are in the units the source uses (see ``spec/microbar.md``, Inputs).
"""

from __future__ import annotations

from typing import ClassVar

from spxcc_core.contracts.base import Contract

__all__ = ["IndexValue", "Quote", "Trade"]


class Trade(Contract, frozen=True, kw_only=True):
    """One trade print. ``seq`` is the source sequence number or None when the source has none."""

    contract_name: ClassVar[str] = "trade"
    contract_version: ClassVar[int] = 1

    symbol: str
    ts: int
    price: float
    size: float
    seq: int | None = None
    conditions: tuple[int, ...] = ()
    correction: int = 0
    exchange: int | None = None


class Quote(Contract, frozen=True, kw_only=True):
    """One NBBO (or top-of-book) update. A side with price 0 and size 0 is absent (a one-sided
    quote, e.g. an option nobody bids for); any other zero or negative side is invalid and
    quarantined as ``empty_side`` by the aggregator (spec revision 2026-12-06)."""

    contract_name: ClassVar[str] = "quote"
    contract_version: ClassVar[int] = 1

    symbol: str
    ts: int
    bid: float
    bid_size: float
    ask: float
    ask_size: float
    seq: int | None = None


class IndexValue(Contract, frozen=True, kw_only=True):
    """One index value (e.g. ``I:SPX``): no size, no bid or ask."""

    contract_name: ClassVar[str] = "index_value"
    contract_version: ClassVar[int] = 1

    symbol: str
    ts: int
    value: float
