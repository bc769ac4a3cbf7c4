"""Massive (formerly Polygon.io) ingestion: flat files, REST v3 pages, websocket frames, live feed.

Every reader yields columnar batches (:class:`~spxcc_core.aggregate.columns.TradeColumns`,
:class:`~spxcc_core.aggregate.columns.QuoteColumns`, :class:`IndexColumns`) in arrival order and
raises :class:`~spxcc_core.errors.InputError` on input it cannot read. The shared reference
``reference/massive.md`` describes the formats and ``spec/microbar.md`` what is an error and what
is quarantined.

Modules: :mod:`.flatfile` (CSV / CSV.gz day files; ``open_*`` also dispatch ``.json`` to
:mod:`.rest`), :mod:`.rest` (saved REST v3 pages), :mod:`.websocket` (recorded or live frames),
:mod:`.live` (the asyncio client; import it explicitly, it is not re-exported here).
"""

from __future__ import annotations

from spxcc_core.massive.columns import IndexColumns
from spxcc_core.massive.flatfile import open_index_values, open_quotes, open_trades
from spxcc_core.massive.websocket import (
    FrameDecoder,
    WsFrame,
    WsStats,
    decode_frame,
    iter_ws_decoded,
    iter_ws_frames,
)

__all__ = [
    "FrameDecoder",
    "IndexColumns",
    "WsFrame",
    "WsStats",
    "decode_frame",
    "iter_ws_decoded",
    "iter_ws_frames",
    "open_index_values",
    "open_quotes",
    "open_trades",
]
