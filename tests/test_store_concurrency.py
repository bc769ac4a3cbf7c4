"""Several processes opening one fresh store at the same moment (real SQLite files and real
PostgreSQL schemas, real processes released together by a file barrier)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from together import open_store_together

from spxcc_core.store import Store, is_postgres_url
from spxcc_core.store.migrations import all_migrations
from spxcc_core.store.pg_dialect import translate
from spxcc_core.store.postgres import lock_key

_SCHEMA = ("CREATE TABLE spxcc_schema (component TEXT NOT NULL, version INTEGER NOT NULL, "
           "applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), "
           "PRIMARY KEY (component, version))")


def _expected() -> str:
    top: dict[str, int] = {}
    for m in all_migrations():
        top[m.component] = max(top.get(m.component, 0), m.version)
    return f"{sorted(top.items())}\n"


def _applied_once(db: str | Path) -> None:
    with Store(db) as store:
        rows = store.conn.execute("SELECT component, version, COUNT(*) FROM spxcc_schema "
                                  "GROUP BY component, version").fetchall()
    assert sorted((r[0], r[1]) for r in rows) == sorted(
        (m.component, m.version) for m in all_migrations())
    assert {r[2] for r in rows} == {1}


def _hold_sqlite(db: Path) -> Callable[[], None]:
    """Create the schema table and take the write lock; returns its release."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(_SCHEMA)
    conn.execute("BEGIN IMMEDIATE")

    def release() -> None:
        time.sleep(1.0)  # not a timing assertion: only lets the children reach the lock
        conn.execute("ROLLBACK")
        conn.close()
    return release


def _hold_postgres(dsn: str) -> Callable[[], None]:
    """The same on PostgreSQL: the schema table, and the store's advisory lock held."""
    import psycopg

    conn = psycopg.connect(dsn, autocommit=True)
    conn.execute(translate(_SCHEMA))
    schema, database = conn.execute("SELECT current_schema(), current_database()").fetchone()
    conn.execute("BEGIN")
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(database, schema),))

    def release() -> None:
        time.sleep(1.0)  # not a timing assertion: only lets the children reach the lock
        conn.execute("ROLLBACK")
        conn.close()
    return release


@pytest.mark.parametrize("held", [False, True], ids=["released-together", "behind-a-writer"])
def test_processes_opening_a_fresh_store_at_once_apply_migrations_once(
        tmp_path: Path, store_target: str | Path, held: bool) -> None:
    """Every process opens the store (exit 0, no traceback) and each migration is applied
    once. ``behind-a-writer``: the store has its schema table but no migration yet (as after
    a crash between the two) and another connection holds the write lock while the processes
    start, so each of them is waiting for the lock when it is released — the moment a
    process that read the applied migrations outside the write transaction would apply them
    a second time (``table ... already exists``)."""
    release = None
    if held:
        release = (_hold_postgres(store_target) if is_postgres_url(store_target)
                   else _hold_sqlite(Path(store_target)))
    runs = open_store_together(store_target, 6, tmp_path / "barrier", after_go=release)
    for r in runs:
        assert r.returncode == 0, r.stderr
        assert "Traceback" not in r.stderr
    assert {r.stdout for r in runs} == {_expected()}
    _applied_once(store_target)
