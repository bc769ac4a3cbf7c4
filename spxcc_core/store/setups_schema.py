"""Schema of the ``setups`` component: ``spx_setup_instances`` and ``spx_gate_decisions``.

``spx_setup_instances`` (v1): one row per setup id (uuid5, see
``spxcc_core.setups.lifecycle.make_setup_id``); ``payload`` holds the full ``setup@1`` JSON, the
other columns are its queryable fields. Prices are REAL, times epoch ms INTEGER.

``spx_gate_decisions`` (v2): one row per evaluated candidate (``gate_decision@1``), keyed by
(setup id, bar start ms, detector); ``passed`` is 0/1; ``checks`` is the JSON array of its
``gate_check`` objects (wire names), in evaluation order.
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
    Migration("setups", 2, (
        """CREATE TABLE spx_gate_decisions (
            setup_id TEXT NOT NULL,
            session_id TEXT NOT NULL,
            detector TEXT NOT NULL,
            detector_version INTEGER NOT NULL,
            symbol TEXT NOT NULL,
            direction TEXT NOT NULL CHECK (direction IN ('long', 'short')),
            bar_start_ms INTEGER NOT NULL,
            passed INTEGER NOT NULL CHECK (passed IN (0, 1)),
            checks TEXT NOT NULL,
            PRIMARY KEY (setup_id, bar_start_ms, detector)
        )""",
        "CREATE INDEX spx_gate_decisions_session ON spx_gate_decisions (session_id, detector)",
    )),
)
