"""Microbar aggregation: one compiled kernel, a batch and a streaming engine, and the Python API.

Definitions are normative in ``spec/microbar.md``. Public API::

    AggregatorConfig, RunReport, QuarantineRecord, AggregationResult, StreamingAggregator,
    aggregate_events, aggregate_columns, aggregate_arrow

Names are imported lazily so that importing :mod:`spxcc_core.aggregate.columns` (sources do)
does not load numba.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spxcc_core._lazy import lazy_exports

if TYPE_CHECKING:
    from spxcc_core.aggregate.arrow import aggregate_arrow
    from spxcc_core.aggregate.config import AggregatorConfig
    from spxcc_core.aggregate.engine import (
        AggregationResult,
        StreamingAggregator,
        aggregate_columns,
    )
    from spxcc_core.aggregate.events import aggregate_events
    from spxcc_core.aggregate.report import QuarantineRecord, RunReport

__all__ = [
    "AggregationResult",
    "AggregatorConfig",
    "QuarantineRecord",
    "RunReport",
    "StreamingAggregator",
    "aggregate_arrow",
    "aggregate_columns",
    "aggregate_events",
]

_WHERE = {
    "AggregatorConfig": "spxcc_core.aggregate.config",
    "RunReport": "spxcc_core.aggregate.report",
    "QuarantineRecord": "spxcc_core.aggregate.report",
    "AggregationResult": "spxcc_core.aggregate.engine",
    "StreamingAggregator": "spxcc_core.aggregate.engine",
    "aggregate_columns": "spxcc_core.aggregate.engine",
    "aggregate_events": "spxcc_core.aggregate.events",
    "aggregate_arrow": "spxcc_core.aggregate.arrow",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__, globals())
