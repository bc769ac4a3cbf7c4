"""SQLite store: one file (created mode 0600), WAL journal, schema migrations applied on open."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import platformdirs

from spxcc_core.errors import ConfigError
from spxcc_core.store.migrations import Migration, all_migrations

__all__ = ["DB_ENV", "STORE_FILE_MODE", "Store", "default_db_path", "restrict_permissions"]

#: Environment variable naming the store file when ``--db`` is not given.
DB_ENV = "SPXCC_DB"


def default_db_path() -> Path:
    """``$SPXCC_DB`` if set, else ``spxcc.sqlite3`` in the user's data folder."""
    env = os.environ.get(DB_ENV)
    if env:
        return Path(env)
    return Path(platformdirs.user_data_dir("spxcc", appauthor=False)) / "spxcc.sqlite3"


#: Mode of a new store file (and, as SQLite copies the database file's mode, of its ``-wal``
#: and ``-shm`` files): the store may hold encrypted secrets and the broker's account state.
STORE_FILE_MODE = 0o600


def _create_private(path: Path) -> None:
    """Create ``path`` empty with mode :data:`STORE_FILE_MODE` (whatever the umask) unless it
    exists; SQLite then opens the empty file as a new database. ``:memory:`` is left alone."""
    if str(path) in ("", ":memory:") or str(path).startswith("file:"):
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, STORE_FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)


def restrict_permissions(path: Path) -> None:
    """Remove group/other permission bits from the store file ``path`` and its ``-wal`` /
    ``-shm`` files (done before a secret is written into a store created elsewhere)."""
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = p.stat().st_mode & 0o777
            if mode & 0o077:
                p.chmod(mode & 0o700)
        except OSError:
            continue


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
            _create_private(self.path)
            self.conn = sqlite3.connect(self.path, isolation_level=None,
                                        check_same_thread=False, timeout=30.0)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"store {self.path}: cannot open ({exc})") from None
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self._migrate(all_migrations() if migrations is None else list(migrations))

    def _migrate(self, migrations: Sequence[Migration]) -> None:
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS spxcc_schema ("
            " component TEXT NOT NULL, version INTEGER NOT NULL,"
            " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),"
            " PRIMARY KEY (component, version))")
        applied = {(r[0], r[1]) for r in
                   self.conn.execute("SELECT component, version FROM spxcc_schema")}
        for m in migrations:
            if (m.component, m.version) in applied:
                continue
            with self.transaction() as cur:
                for stmt in m.statements:
                    cur.execute(stmt)
                cur.execute("INSERT INTO spxcc_schema (component, version) VALUES (?, ?)",
                            (m.component, m.version))

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
