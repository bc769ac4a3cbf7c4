"""Schema of the ``setups`` component: the ``spx_setup_instances`` table.

One row per setup id (uuid5, see ``spxcc_core.setups.lifecycle.make_setup_id``); ``payload``
holds the full ``setup@1`` JSON, the other columns are its queryable fields. Prices are REAL,
times epoch ms INTEGER.
"""

from __future__ import annotations

from spxcc_core.store.migrations import Migration

__all__ = ["MIGRATIONS"]

MIGRATIONS: tuple[Migration, ...] = (
    Migration("setups", 1, (
        """CREATE TABLE spx_setup_instances (
            id TEXT PRIMARY KEY,
            session_id TEXT NOT NULL,
            detector TEXT NOT NULL,
            detector_version INTEGER NOT NULL,
            symbol TEXT NOT NULL,
            direction TEXT NOT NULL CHECK (direction IN ('long', 'short')),
            status TEXT NOT NULL,
            entry REAL NOT NULL,
            stop REAL NOT NULL,
            t1 REAL NOT NULL,
            t2 REAL NOT NULL,
            detected_ms INTEGER NOT NULL,
            trigger_deadline_ms INTEGER NOT NULL,
            triggered_ms INTEGER,
            t1_ms INTEGER,
            closed_ms INTEGER,
            exit_price REAL,
            realized_r REAL,
            profile_hash TEXT NOT NULL,
            payload TEXT NOT NULL,
            updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
        )""",
        "CREATE INDEX spx_setup_instances_session ON spx_setup_instances (session_id, detector)",
    )),
)
