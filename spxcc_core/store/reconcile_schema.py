"""Schema of the ``reconcile`` component: reconciliation runs, their differences, adopted
events, halts and acknowledgements.

Portable SQL (SQLite and PostgreSQL): ``TEXT``, ``INTEGER``, ``REAL`` columns, no
``AUTOINCREMENT``, no SQLite-only functions; payloads are the contracts' JSON text.

- ``spx_reconcile_runs``: one row per run (``reconcile_run@1`` JSON in ``payload``), numbered
  ``seq`` 1, 2, ... per broker account; a row is claimed (status ``running``, empty payload)
  when the run starts and completed when it ends.
- ``spx_reconcile_differences``: one row per difference of a run, in report order.
- ``spx_reconcile_adoptions``: synthetic events recorded by ``adopt`` (position quantity and
  cost adjustments in contracts and dollars, adopted external orders); ``adoption_id`` is
  derived from the broker facts, so recording the same adoption twice is a no-op.
- ``spx_reconcile_halts``: the halt flag of a broker account (``halted`` 0/1) and who set and
  cleared it.
- ``spx_reconcile_acks``: difference keys a person acknowledged with ``--clear``.
"""

from __future__ import annotations

from spxcc_core.store.migrations import Migration

__all__ = ["MIGRATIONS"]

MIGRATIONS: tuple[Migration, ...] = (
    Migration("reconcile", 1, (
        """CREATE TABLE spx_reconcile_runs (
            run_id TEXT PRIMARY KEY,
            broker TEXT NOT NULL,
            account_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            at_ms INTEGER NOT NULL,
            trigger_name TEXT NOT NULL,
            status TEXT NOT NULL,
            payload TEXT NOT NULL,
            UNIQUE (broker, account_id, seq))""",
        """CREATE TABLE spx_reconcile_differences (
            run_id TEXT NOT NULL,
            ordinal INTEGER NOT NULL,
            diff_key TEXT NOT NULL,
            kind TEXT NOT NULL,
            symbol TEXT,
            severity TEXT NOT NULL,
            action TEXT NOT NULL,
            applied INTEGER NOT NULL,
            payload TEXT NOT NULL,
            PRIMARY KEY (run_id, ordinal))""",
        "CREATE INDEX spx_reconcile_differences_key ON spx_reconcile_differences (diff_key)",
        """CREATE TABLE spx_reconcile_adoptions (
            adoption_id TEXT PRIMARY KEY,
            broker TEXT NOT NULL,
            account_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            symbol TEXT,
            quantity REAL NOT NULL,
            cost REAL NOT NULL,
            order_id TEXT,
            run_id TEXT NOT NULL,
            ts_ms INTEGER NOT NULL,
            detail TEXT NOT NULL)""",
        "CREATE INDEX spx_reconcile_adoptions_account ON spx_reconcile_adoptions "
        "(broker, account_id, symbol)",
        """CREATE TABLE spx_reconcile_halts (
            broker TEXT NOT NULL,
            account_id TEXT NOT NULL,
            halted INTEGER NOT NULL,
            since_ms INTEGER,
            run_id TEXT,
            reason TEXT,
            cleared_ms INTEGER,
            PRIMARY KEY (broker, account_id))""",
        """CREATE TABLE spx_reconcile_acks (
            broker TEXT NOT NULL,
            account_id TEXT NOT NULL,
            diff_key TEXT NOT NULL,
            acked_ms INTEGER NOT NULL,
            PRIMARY KEY (broker, account_id, diff_key))""",
    )),
)
