"""SQLite store: one file (created mode 0600), WAL journal, schema migrations applied on open.

``Store(path)`` makes a :class:`SqliteStore` (see :class:`~spxcc_core.store.base.Store` for the
interface both backends share).

A file that is not an SQLite database, a truncated or damaged one, or a store missing a table
its recorded migrations created is refused when it is opened, with a :class:`StoreError` naming
the file (the CLI prints it as one line and exits 2). Damage found later, by a query inside a
``with store:`` block or :meth:`Store.errors`, is reported the same way.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import platformdirs

from spxcc_core.clock import Clock, SystemClock
from spxcc_core.errors import ConfigError
from spxcc_core.store.base import Store, StoreError
from spxcc_core.store.migrations import Migration
from spxcc_core.store.target import StoreTarget, db_argument

__all__ = ["DB_ENV", "STORE_FILE_MODE", "SqliteStore", "Store", "StoreError", "check_file",
           "default_db_path", "restrict_permissions"]

#: First 16 bytes of every SQLite 3 database file.
_MAGIC = b"SQLite format 3\x00"


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
    try:  # another process may remove its write-ahead log at any moment (its last close)
        wal_pending = Path(f"{os.fspath(path)}-wal").stat().st_size > 0
    except OSError:
        wal_pending = False
    if header_valid and not wal_pending and page_size and pages * page_size > size:
        raise StoreError(path, f"truncated SQLite file ({size} bytes, its header says "
                               f"{pages * page_size})")


#: Environment variable naming the store file when ``--db`` is not given.
DB_ENV = "SPXCC_DB"


def default_db_path() -> str | Path:
    """``$SPXCC_DB`` if set (a path, or a PostgreSQL URL kept as text), else
    ``spxcc.sqlite3`` in the user's data folder."""
    env = os.environ.get(DB_ENV)
    if env:
        try:
            return db_argument(env)
        except ConfigError as exc:
            raise ConfigError(f"${DB_ENV}: {exc}") from None
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


class SqliteStore(Store):
    """A SQLite store file with every known migration applied (made by ``Store(path)``).

    Writes go through :meth:`transaction` (one transaction per batch). The connection is
    opened with ``check_same_thread=False``; callers serialise writes themselves.
    ``clock`` times the retries of the journal switch on open (default the system clock).
    """

    backend: ClassVar[str] = "sqlite"
    conn: sqlite3.Connection  # the full sqlite3 connection

    def __init__(self, path: StoreTarget, migrations: Sequence[Migration] | None = None, *,
                 clock: Clock | None = None) -> None:
        self.path = Path(path)
        self.location = str(self.path)
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
            self._open_schema(migrations)
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

    def _table_names(self) -> set[str]:
        return {r[0] for r in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' "
            "ESCAPE '!'")}

    def _foreign_kind(self) -> str:
        return "an SQLite database"

    def _is_damage(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.Error) and _damage(exc)

    def error(self, exc: BaseException) -> StoreError:
        """The :class:`StoreError` for an SQLite error from this store's file."""
        text = str(exc) or type(exc).__name__
        if "not a database" in text:
            return StoreError(self.path, "not an SQLite database file")
        if "malformed" in text:
            return StoreError(self.path, f"damaged or truncated SQLite file ({text})")
        return StoreError(self.path, text)

    def restrict_access(self) -> None:
        """Remove group/other permission bits from the store file and its ``-wal``/``-shm``
        files (see :func:`restrict_permissions`)."""
        restrict_permissions(self.path)
