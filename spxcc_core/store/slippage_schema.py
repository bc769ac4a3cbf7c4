"""Schema of the ``slippage`` component: the per-fill slippage ledger.

``spx_slippage`` (v1): one row per measured fill (``slippage_record@1``), keyed by
(``source``, ``fill_id``, ``intent_id``) so recording a fill twice writes nothing the second
time; ``payload`` holds the record's JSON, the other columns are its queryable fields
(dollars per contract, ticks; ``at_ms`` epoch ms).

``spx_slippage_unavailable`` (v1): one row per fill that could not be measured
(``slippage_unavailable@1``), same key, with its ``reason``.

``spx_intent_origins`` (v1): what produced an intent (setup id, detector) and the underlying
price at its creation, written by whoever creates the intent so the slippage of its fills can be
bucketed by detector; an intent without a row is a hand-written one (null setup and detector).

Portable SQL (SQLite and PostgreSQL): TEXT, INTEGER, REAL; no AUTOINCREMENT; conflicts are
handled by ``INSERT ... ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

from spxcc_core.store.migrations import Migration

__all__ = ["MIGRATIONS"]

MIGRATIONS: tuple[Migration, ...] = (
    Migration("slippage", 1, (
        """CREATE TABLE spx_slippage (
            source TEXT NOT NULL CHECK (source IN ('paper', 'broker')),
            fill_id TEXT NOT NULL,
            intent_id TEXT NOT NULL,
            setup_id TEXT,
            detector TEXT,
            symbol TEXT NOT NULL,
            side TEXT NOT NULL,
            time_bucket TEXT NOT NULL,
            spread_regime TEXT NOT NULL,
            slippage_dollars REAL NOT NULL,
            slippage_ticks REAL NOT NULL,
            at_ms INTEGER NOT NULL,
            payload TEXT NOT NULL,
            PRIMARY KEY (source, fill_id, intent_id)
        )""",
        "CREATE INDEX spx_slippage_bucket ON spx_slippage "
        "(source, detector, time_bucket, spread_regime, at_ms)",
        "CREATE INDEX spx_slippage_time ON spx_slippage (at_ms)",
        """CREATE TABLE spx_slippage_unavailable (
            source TEXT NOT NULL CHECK (source IN ('paper', 'broker')),
            fill_id TEXT NOT NULL,
            intent_id TEXT NOT NULL,
            reason TEXT NOT NULL,
            payload TEXT NOT NULL,
            PRIMARY KEY (source, fill_id, intent_id)
        )""",
        """CREATE TABLE spx_intent_origins (
            intent_id TEXT PRIMARY KEY,
            setup_id TEXT,
            detector TEXT,
            underlying_price REAL
        )""",
    )),
)
