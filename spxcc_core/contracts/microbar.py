"""Microbar contracts ``microbar@1`` and ``microbar@2``.

The normative definition of every field is ``spec/microbar.md`` (mirrored for traders in
``docs/microstructure.md``). v2 is v1 plus appended fields; all v2 fields default to None so a
v2 reader decodes a v1 payload, and a v1 reader skips the unknown v2 fields.
"""

from __future__ import annotations

from typing import ClassVar

from spxcc_core.contracts.base import Contract

__all__ = ["MICROBAR_VERSIONS", "MicrobarV1", "MicrobarV2"]


class MicrobarV1(Contract, frozen=True, kw_only=True):
    """``microbar@1``: OHLC, volume, VWAP, delta volume and normalized bid/ask imbalance."""

    contract_name: ClassVar[str] = "microbar"
    contract_version: ClassVar[int] = 1

    symbol: str
    start_ms: int
    interval_ms: int
    open: float | None
    high: float | None
    low: float | None
    close: float | None
    volume: float
    trade_count: int
    vwap: float | None
    delta_volume: float
    bid_ask_imbalance: float | None


class MicrobarV2(MicrobarV1, frozen=True, kw_only=True):
    """``microbar@2``: v1 plus close-quote pressure, spread and quote-coverage telemetry."""

    contract_version: ClassVar[int] = 2

    ask_bid_size_ratio: float | None = None
    quote_coverage_pct: float | None = None
    avg_spread_bps: float | None = None
    bid_size_at_close: float | None = None
    ask_size_at_close: float | None = None
    quote_count: int | None = None


MICROBAR_VERSIONS: dict[int, type[MicrobarV1]] = {1: MicrobarV1, 2: MicrobarV2}
