"""SQLite store: one file, WAL journal, schema migrations applied on open."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import platformdirs

from spxcc_core.errors import ConfigError
from spxcc_core.store.migrations import Migration, all_migrations

__all__ = ["DB_ENV", "Store", "default_db_path"]

#: Environment variable naming the store file when ``--db`` is not given.
DB_ENV = "SPXCC_DB"


def default_db_path() -> Path:
    """``$SPXCC_DB`` if set, else ``spxcc.sqlite3`` in the user's data folder."""
    env = os.environ.get(DB_ENV)
    if env:
        return Path(env)
    return Path(platformdirs.user_data_dir("spxcc", appauthor=False)) / "spxcc.sqlite3"


#: Seconds a connection waits for another's write lock before "database is locked".
_BUSY_TIMEOUT_S = 30.0
_SCHEMA_TABLE = (
    "CREATE TABLE IF NOT EXISTS spxcc_schema ("
    " component TEXT NOT NULL, version INTEGER NOT NULL,"
    " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),"
    " PRIMARY KEY (component, version))")


class Store:
    """A SQLite store file with every known migration applied.

    Writes go through :meth:`transaction` (one transaction per batch). The connection is
    opened with ``check_same_thread=False``; callers serialise writes themselves.
    """

    def __init__(self, path: str | os.PathLike[str],
                 migrations: Sequence[Migration] | None = None) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(self.path, isolation_level=None,
                                        check_same_thread=False, timeout=_BUSY_TIMEOUT_S)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"store {self.path}: cannot open ({exc})") from None
        self.conn.row_factory = sqlite3.Row
        self._set_wal()
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self._migrate(all_migrations() if migrations is None else list(migrations))

    def _set_wal(self) -> None:
        """Switch the journal to WAL. On a fresh file another process may be switching it at
        the same moment, and SQLite then answers "database is locked" at once instead of
        waiting: try again (every 10 ms, up to the 30 s busy timeout).

        :raises ConfigError: still locked after the timeout.
        """
        deadline = time.monotonic() + _BUSY_TIMEOUT_S
        while True:
            try:
                self.conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise ConfigError(f"store {self.path}: cannot open ({exc})") from None
                time.sleep(0.01)

    def _migrate(self, migrations: Sequence[Migration]) -> None:
        """Apply the pending migrations, once, whoever opens the store first.

        The applied versions are read inside the write transaction (``BEGIN IMMEDIATE``) that
        applies the missing ones, so processes opening a fresh store at the same moment
        serialise on SQLite's write lock: the first applies every migration, the others find
        them applied. A store already up to date takes no write lock.
        """
        wanted = {(m.component, m.version) for m in migrations}
        applied = self._applied()
        if applied is not None and wanted <= applied:
            return
        with self.transaction() as cur:
            cur.execute(_SCHEMA_TABLE)
            applied = {(r[0], r[1]) for r in
                       cur.execute("SELECT component, version FROM spxcc_schema")}
            for m in migrations:
                if (m.component, m.version) in applied:
                    continue
                for stmt in m.statements:
                    cur.execute(stmt)
                cur.execute("INSERT INTO spxcc_schema (component, version) VALUES (?, ?)",
                            (m.component, m.version))

    def _applied(self) -> set[tuple[str, int]] | None:
        """Applied migrations as read now (None when the store has no schema table yet)."""
        try:
            return {(r[0], r[1]) for r in
                    self.conn.execute("SELECT component, version FROM spxcc_schema")}
        except sqlite3.OperationalError:  # no such table: a fresh store
            return None

    def schema_versions(self) -> dict[str, int]:
        """Highest applied migration version per component."""
        rows = self.conn.execute(
            "SELECT component, MAX(version) FROM spxcc_schema GROUP BY component")
        return {r[0]: r[1] for r in rows}

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Cursor]:
        """One write transaction (``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on error)."""
        cur = self.conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        else:
            cur.execute("COMMIT")
        finally:
            cur.close()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
