"""Persistence of setup instances in ``spx_setup_instances`` (SQLite via :class:`Store`).

Upserts are idempotent: writing the same setup twice leaves one row, and a row whose payload is
unchanged is not touched (its ``updated_at`` stays). A later state of the same id replaces the
earlier one, so a replay that reaches the same outcomes writes the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from spxcc_core.contracts.setup import SetupInstance
from spxcc_core.store.sqlite import Store

__all__ = ["SetupStore"]

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(SetupInstance)

_COLUMNS = ("id", "session_id", "detector", "detector_version", "symbol", "direction", "status",
            "entry", "stop", "t1", "t2", "detected_ms", "trigger_deadline_ms", "triggered_ms",
            "t1_ms", "closed_ms", "exit_price", "realized_r", "profile_hash")

_UPSERT = (
    f"INSERT INTO spx_setup_instances ({', '.join(_COLUMNS)}, payload) "
    f"VALUES ({', '.join('?' for _ in _COLUMNS)}, ?) "
    "ON CONFLICT(id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c != "id")
    + ", payload = excluded.payload,"
    " updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')"
    " WHERE spx_setup_instances.payload != excluded.payload"
)


class SetupStore:
    """Reads and writes setup instances in a :class:`~spxcc_core.store.Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def upsert(self, setups: Iterable[SetupInstance]) -> int:
        """Insert or update setups in one transaction; returns the number of rows changed."""
        rows = [(*(getattr(s, c) for c in _COLUMNS), _encoder.encode(s).decode())
                for s in setups]
        if not rows:
            return 0
        with self.store.transaction() as cur:
            before = self.store.conn.total_changes
            cur.executemany(_UPSERT, rows)
            return self.store.conn.total_changes - before

    def get(self, setup_id: str) -> SetupInstance | None:
        """The stored setup with this id, or None."""
        row = self.store.conn.execute(
            "SELECT payload FROM spx_setup_instances WHERE id = ?", (setup_id,)).fetchone()
        return None if row is None else _decoder.decode(row[0])

    def query(self, *, session_id: str | None = None,
             detector: str | None = None) -> list[SetupInstance]:
        """Stored setups, optionally filtered, ordered by (detected_ms, id)."""
        sql = "SELECT payload FROM spx_setup_instances"
        where, args = [], []
        if session_id is not None:
            where.append("session_id = ?")
            args.append(session_id)
        if detector is not None:
            where.append("detector = ?")
            args.append(detector)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY detected_ms, id"
        return [_decoder.decode(r[0]) for r in self.store.conn.execute(sql, args)]
