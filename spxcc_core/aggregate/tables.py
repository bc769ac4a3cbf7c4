"""Microbars as an Arrow table (wire names, wire order), for :meth:`AggregationResult.to_arrow`
and :mod:`spxcc_core.aggregate.arrow`."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import pyarrow as pa

from spxcc_core.contracts.microbar import MicrobarV2

__all__ = ["MICROBAR_ARROW_SCHEMA", "bars_to_arrow"]

_INT_FIELDS = {"startMs", "intervalMs", "tradeCount", "quoteCount"}
_FIELDS = msgspec.structs.fields(MicrobarV2)

#: Column names (microbar@2 wire names, in wire order) and types of :func:`bars_to_arrow`.
MICROBAR_ARROW_SCHEMA = pa.schema(
    [pa.field(f.encode_name, pa.string() if f.encode_name == "symbol" else
              pa.int64() if f.encode_name in _INT_FIELDS else pa.float64(),
              nullable=f.encode_name not in ("symbol", "startMs", "intervalMs"))
     for f in _FIELDS])


def bars_to_arrow(bars: Sequence[MicrobarV2]) -> pa.Table:
    """The bars as a table with :data:`MICROBAR_ARROW_SCHEMA` (nulls where the bar has None)."""
    columns = {f.encode_name: [getattr(b, f.name) for b in bars] for f in _FIELDS}
    return pa.table(columns, schema=MICROBAR_ARROW_SCHEMA)
