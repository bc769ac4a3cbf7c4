"""SQLite store: one file (created mode 0600), WAL journal, schema migrations applied on open.

A file that is not an SQLite database, a truncated or damaged one, or a store missing a table
its recorded migrations created is refused when it is opened, with a :class:`StoreError` naming
the file (the CLI prints it as one line and exits 2). Damage found later, by a query inside a
``with store:`` block or :meth:`Store.errors`, is reported the same way.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import platformdirs

from spxcc_core.clock import Clock, SystemClock
from spxcc_core.errors import ConfigError, InputError
from spxcc_core.store.migrations import Migration, all_migrations

__all__ = ["DB_ENV", "STORE_FILE_MODE", "Store", "StoreError", "check_file", "default_db_path",
           "restrict_permissions"]

#: First 16 bytes of every SQLite 3 database file.
_MAGIC = b"SQLite format 3\x00"
_CREATE_TABLE = re.compile(r"^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.I)
_DROP_TABLE = re.compile(r"^\s*DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?(\w+)", re.I)


class StoreError(InputError):
    """The store file cannot be used: not an SQLite database, truncated or damaged, or missing
    a table of its schema. The message names the file and the problem."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        super().__init__(f"store {os.fspath(path)}", problem)


def _damage(exc: sqlite3.Error) -> bool:
    """True for errors that come from the file rather than from the calling code (SQL or
    constraint mistakes stay as they are)."""
    return (isinstance(exc, sqlite3.DatabaseError)
            and not isinstance(exc, sqlite3.IntegrityError | sqlite3.ProgrammingError))


def check_file(path: Path) -> None:
    """Refuse a file that cannot be an intact SQLite database, without opening it.

    A missing or empty file passes (a new store). Otherwise the first 16 bytes must be the
    SQLite magic, and when the header's page count is valid (no write-ahead log pending) the
    file must hold that many pages.

    :raises StoreError: not an SQLite database, or shorter than its header says (truncated).
    """
    try:
        if not path.is_file():
            return
        size = path.stat().st_size
        if size == 0:
            return
        with open(path, "rb") as fh:
            head = fh.read(100)
    except OSError as exc:
        raise StoreError(path, f"cannot read ({exc.strerror or exc})") from None
    if not head.startswith(_MAGIC):
        raise StoreError(path, "not an SQLite database file")
    if len(head) < 100:
        raise StoreError(path, f"truncated SQLite file ({size} bytes, shorter than its header)")
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(head[28:32], "big")
    header_valid = pages > 0 and head[24:28] == head[92:96]
    wal = Path(f"{os.fspath(path)}-wal")
    wal_pending = wal.is_file() and wal.stat().st_size > 0
    if header_valid and not wal_pending and page_size and pages * page_size > size:
        raise StoreError(path, f"truncated SQLite file ({size} bytes, its header says "
                               f"{pages * page_size})")


def _tables(migrations: Sequence[Migration], applied: set[tuple[str, int]]) -> set[str]:
    """Tables the applied migrations leave behind (created and not dropped again)."""
    tables: set[str] = set()
    for m in migrations:
        if (m.component, m.version) not in applied:
            continue
        for stmt in m.statements:
            if (c := _CREATE_TABLE.match(stmt)) is not None:
                tables.add(c[1])
            elif (d := _DROP_TABLE.match(stmt)) is not None:
                tables.discard(d[1])
    return tables

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


#: Seconds a connection waits for another's write lock before "database is locked".
_BUSY_TIMEOUT_S = 30.0
#: Seconds between attempts to switch a fresh store to WAL while another opener holds it.
_WAL_RETRY_S = 0.01
_SCHEMA_TABLE = (
    "CREATE TABLE IF NOT EXISTS spxcc_schema ("
    " component TEXT NOT NULL, version INTEGER NOT NULL,"
    " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),"
    " PRIMARY KEY (component, version))")


class Store:
    """A SQLite store file with every known migration applied.

    Writes go through :meth:`transaction` (one transaction per batch). The connection is
    opened with ``check_same_thread=False``; callers serialise writes themselves.
    ``clock`` times the retries of the journal switch on open (default the system clock).
    """

    def __init__(self, path: str | os.PathLike[str],
                 migrations: Sequence[Migration] | None = None, *,
                 clock: Clock | None = None) -> None:
        self.path = Path(path)
        self._clock: Clock = clock if clock is not None else SystemClock()
        check_file(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _create_private(self.path)
            self.conn = sqlite3.connect(self.path, isolation_level=None,
                                        check_same_thread=False, timeout=_BUSY_TIMEOUT_S)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"store {self.path}: cannot open ({exc})") from None
        self.conn.row_factory = sqlite3.Row
        try:
            with self.errors():
                self._check_ours()  # before anything writes to the file
                self._set_wal()
                self.conn.execute("PRAGMA synchronous=NORMAL")
                self.conn.execute("PRAGMA foreign_keys=ON")
                known = all_migrations() if migrations is None else list(migrations)
                self._migrate(known)
                self._check_tables(known)
        except BaseException:
            self.conn.close()
            raise

    def _set_wal(self) -> None:
        """Switch the journal to WAL. On a fresh file another process may be switching it at
        the same moment, and SQLite then answers "database is locked" at once instead of
        waiting: try again (every 10 ms of the store's clock, up to the 30 s busy timeout).

        :raises ConfigError: still locked after the timeout.
        """
        deadline = self._clock.monotonic() + _BUSY_TIMEOUT_S
        while True:
            try:
                self.conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or self._clock.monotonic() > deadline:
                    raise ConfigError(f"store {self.path}: cannot open ({exc})") from None
                self._clock.sleep(_WAL_RETRY_S)

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

    def migrate(self, migrations: Sequence[Migration]) -> None:
        """Apply ``migrations`` not applied yet (e.g. a plugin's own tables, see
        ``spxcc_register_migrations``) and check their tables are there. Idempotent; a store
        already up to date takes no write lock.

        :raises StoreError: a table the recorded migrations created is missing.
        """
        with self.errors():
            self._migrate(migrations)
            self._check_tables(migrations)

    def _check_ours(self) -> None:
        """Refuse an SQLite database of another program (tables, but no ``spxcc_schema``):
        migrating it would write our tables into someone else's file."""
        names = {r[0] for r in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' "
            "ESCAPE '!'")}
        if names and "spxcc_schema" not in names:
            raise StoreError(self.path, f"an SQLite database that is not an spxcc store (no "
                             f"spxcc_schema table; it holds {len(names)} other table"
                             f"{'s' if len(names) > 1 else ''})")

    def _check_tables(self, migrations: Sequence[Migration]) -> None:
        """Every table the applied migrations created is there (a store whose table was
        dropped by hand is damaged, not empty)."""
        applied = {(r[0], r[1]) for r in
                   self.conn.execute("SELECT component, version FROM spxcc_schema")}
        present = {r[0] for r in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = sorted(_tables(migrations, applied) - present)
        if missing:
            raise StoreError(self.path, f"table{'s' if len(missing) > 1 else ''} "
                             f"{', '.join(missing)} missing although the schema records it "
                             "(damaged store)")

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Turn an SQLite error that comes from the file (not a database, malformed, missing
        table, I/O error) raised in the block into a :class:`StoreError` naming the file."""
        try:
            yield
        except sqlite3.Error as exc:
            if _damage(exc):
                raise self.error(exc) from None
            raise

    def error(self, exc: sqlite3.Error) -> StoreError:
        """The :class:`StoreError` for an SQLite error from this store's file."""
        text = str(exc) or type(exc).__name__
        if "not a database" in text:
            return StoreError(self.path, "not an SQLite database file")
        if "malformed" in text:
            return StoreError(self.path, f"damaged or truncated SQLite file ({text})")
        return StoreError(self.path, text)

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

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
        if isinstance(exc, sqlite3.Error) and _damage(exc):
            raise self.error(exc) from None
