"""Schema of the broker component: intents, their tags, acks, updates, fills and snapshots.

Every state change of an intent is one row of ``spx_broker_events`` (append-only, ordered by
``seq``); ``spx_broker_intents`` holds the current state of each intent. Payload columns hold the
contract's JSON bytes (camelCase wire form). Times are epoch milliseconds (UTC).
"""

from __future__ import annotations

from spxcc_core.store.migrations import Migration

__all__ = ["MIGRATIONS"]

MIGRATIONS: tuple[Migration, ...] = (
    Migration(component="broker", version=1, statements=(
        """CREATE TABLE spx_broker_intents (
            intent_id TEXT PRIMARY KEY,
            broker TEXT NOT NULL,
            account_id TEXT NOT NULL,
            tag TEXT NOT NULL UNIQUE,
            symbol TEXT NOT NULL,
            side TEXT NOT NULL,
            quantity INTEGER NOT NULL,
            entry_intent_id TEXT,
            state TEXT NOT NULL,
            reserved_bp REAL NOT NULL DEFAULT 0,
            risk REAL NOT NULL DEFAULT 0,
            broker_order_id TEXT,
            filled_quantity REAL NOT NULL DEFAULT 0,
            avg_fill_price REAL,
            acked_ms INTEGER,
            closed_ms INTEGER,
            last_error TEXT,
            payload BLOB NOT NULL,
            created_ms INTEGER NOT NULL,
            updated_ms INTEGER NOT NULL)""",
        "CREATE INDEX spx_broker_intents_symbol ON spx_broker_intents (account_id, symbol)",
        "CREATE INDEX spx_broker_intents_order ON spx_broker_intents (broker_order_id)",
        """CREATE TABLE spx_broker_events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            intent_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            state TEXT NOT NULL,
            detail TEXT,
            payload BLOB,
            ts_ms INTEGER NOT NULL)""",
        "CREATE INDEX spx_broker_events_intent ON spx_broker_events (intent_id, seq)",
        """CREATE TABLE spx_broker_fills (
            fill_key TEXT PRIMARY KEY,
            intent_id TEXT,
            broker_order_id TEXT NOT NULL,
            quantity REAL NOT NULL,
            price REAL NOT NULL,
            ts_ms INTEGER NOT NULL,
            payload BLOB NOT NULL)""",
        "CREATE INDEX spx_broker_fills_intent ON spx_broker_fills (intent_id)",
        """CREATE TABLE spx_broker_snapshots (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            broker TEXT NOT NULL,
            account_id TEXT NOT NULL,
            as_of_ms INTEGER NOT NULL,
            fetched_ms INTEGER NOT NULL,
            payload BLOB NOT NULL)""",
        "CREATE INDEX spx_broker_snapshots_account ON spx_broker_snapshots "
        "(broker, account_id, fetched_ms)",
        # Stores created before plugins brought their own tables also hold spx_paper_state,
        # created here; the paper plugin's own migration adopts it (spxcc_paper.store).
    )),
    # Who holds an intent's claim ("<host>:<pid>:<start ticks>", see spxcc_core.broker.owner):
    # written when an intent is recorded queued and when it is claimed for submission, so a
    # restarting worker leaves alone what a live process is about to send or is sending.
    Migration(component="broker", version=2, statements=(
        "ALTER TABLE spx_broker_intents ADD COLUMN owner TEXT",
    )),
)
