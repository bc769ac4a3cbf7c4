"""The store interface shared by both backends: :class:`Store`, and the small DB-API subset
(:class:`Connection`, :class:`Cursor`, :class:`Row`) that store code may use.

``Store(target)`` opens an SQLite file for a path (:class:`~spxcc_core.store.sqlite.SqliteStore`)
and a PostgreSQL database for a ``postgresql://`` URL
(:class:`~spxcc_core.store.postgres.PostgresStore`). Both apply the same migrations on open,
record them in ``spxcc_schema``, refuse a database of another program, and serialise write
transactions (:meth:`Store.transaction`, or ``BEGIN IMMEDIATE`` on :attr:`Store.conn`).

Store code writes SQL once, in SQLite's syntax restricted to the portable subset documented on
:class:`~spxcc_core.store.migrations.Migration` (``?`` placeholders); the PostgreSQL connection
translates it (:mod:`spxcc_core.store.pg_dialect`). Errors are caught through the connection's
DB-API attributes (``store.conn.IntegrityError``, ``.OperationalError``, ``.Error``), never a
driver's module.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any, ClassVar, Literal, Protocol, Self

from spxcc_core.clock import Clock
from spxcc_core.errors import InputError
from spxcc_core.store.migrations import Migration, all_migrations
from spxcc_core.store.target import StoreTarget, is_postgres_url

__all__ = ["SCHEMA_TABLE", "Connection", "Cursor", "LostOutcome", "Row", "Store",
           "StoreConnectionLost", "StoreError"]

_CREATE_TABLE = re.compile(r"^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.I)
_DROP_TABLE = re.compile(r"^\s*DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?(\w+)", re.I)

#: Backend name → (module, class) of its :class:`Store` subclass (imported on first use; the
#: backends import this module, not the reverse).
_BACKENDS: dict[str, tuple[str, str]] = {
    "sqlite": ("spxcc_core.store.sqlite", "SqliteStore"),
    "postgresql": ("spxcc_core.store.postgres", "PostgresStore"),
}

#: The table recording applied migrations (portable SQL: the PostgreSQL dialect maps the
#: column types and the clock default).
SCHEMA_TABLE = (
    "CREATE TABLE IF NOT EXISTS spxcc_schema ("
    " component TEXT NOT NULL, version INTEGER NOT NULL,"
    " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),"
    " PRIMARY KEY (component, version))")


class StoreError(InputError):
    """The store cannot be used: not a database of ours, damaged, or missing a table of its
    schema. The message names the store (a file path, or a URL without its password) and the
    problem."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        super().__init__(f"store {os.fspath(path)}", problem)


#: What became of a write a lost connection interrupted: ``not_committed`` (rolled back by the
#: server: nothing of it is stored), ``unknown`` (lost while ``COMMIT``, or a write outside a
#: transaction, was on its way: it may or may not be stored), ``unreachable`` (the connection
#: could not be re-established in time: nothing was sent).
LostOutcome = Literal["not_committed", "unknown", "unreachable"]


class StoreConnectionLost(StoreError):
    """The store's connection to its server was lost where the store could not simply
    reconnect and repeat the statement (PostgreSQL; see :mod:`spxcc_core.store.postgres`).
    ``outcome`` (:data:`LostOutcome`) says what became of the interrupted write; the store
    itself stays usable (the next operation reconnects), so a caller whose write can be
    repeated safely (an upsert) may simply do it again."""

    def __init__(self, path: str | os.PathLike[str], problem: str, *,
                 outcome: LostOutcome) -> None:
        super().__init__(path, problem)
        #: What became of the interrupted write (:data:`LostOutcome`).
        self.outcome: LostOutcome = outcome


class Row(Protocol):
    """A result row: values by position (``row[0]``) and by column name (``row["name"]``)."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def __len__(self) -> int: ...


class Cursor(Protocol):
    """The cursor subset store code uses (``sqlite3.Cursor`` and the PostgreSQL cursor)."""

    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Self: ...

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> Self: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def close(self) -> None: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """The connection subset store code uses. Autocommit: a statement outside ``BEGIN`` …
    ``COMMIT`` is its own transaction. ``IntegrityError``, ``OperationalError`` and ``Error``
    are the DB-API exception classes of the backend."""

    @property
    def in_transaction(self) -> bool: ...

    @property
    def IntegrityError(self) -> type[Exception]: ...

    @property
    def OperationalError(self) -> type[Exception]: ...

    @property
    def Error(self) -> type[Exception]: ...

    def cursor(self) -> Cursor: ...

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def close(self) -> None: ...


def tables_created(migrations: Sequence[Migration], applied: set[tuple[str, int]]) -> set[str]:
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


class Store:
    """A store with every known migration applied: ``Store(path)`` is SQLite, ``Store(url)``
    with a ``postgresql://`` URL is PostgreSQL (same interface, same tables).

    :param target: a file path (``:memory:`` for a private in-memory SQLite store) or a
        PostgreSQL URL (see :mod:`spxcc_core.store.target`).
    :param migrations: the migrations to apply (default: every core migration).
    :param clock: times waits on open (default the system clock).
    :raises ConfigError: the store cannot be opened (file or server), named without secrets.
    :raises StoreError: a database that is not an spxcc store, or a damaged one.
    """

    #: The backend's name (``sqlite`` or ``postgresql``).
    backend: ClassVar[str]
    #: The connection (see :class:`Connection`); writes go through :meth:`transaction`.
    conn: Connection
    #: The store as it may be shown: the file path, or the URL without its password.
    location: str

    def __new__(cls, target: StoreTarget, migrations: Sequence[Migration] | None = None, *,
                clock: Clock | None = None) -> Store:
        if cls is Store:
            module, name = _BACKENDS["postgresql" if is_postgres_url(target) else "sqlite"]
            backend: type[Store] = getattr(importlib.import_module(module), name)
            return object.__new__(backend)
        return object.__new__(cls)

    def __init__(self, target: StoreTarget, migrations: Sequence[Migration] | None = None, *,
                 clock: Clock | None = None) -> None:
        raise NotImplementedError  # each backend has its own (see __new__)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"

    # --- what each backend provides -------------------------------------------------------

    def _table_names(self) -> set[str]:
        """Names of the tables in the store (its file, or its PostgreSQL schema)."""
        raise NotImplementedError

    def _is_damage(self, exc: BaseException) -> bool:
        """True for an error that comes from the store (damage, lost connection, missing
        table) rather than from the calling code (SQL or constraint mistakes)."""
        raise NotImplementedError

    def error(self, exc: BaseException) -> StoreError:
        """The :class:`StoreError` for an error from this store (see :meth:`errors`)."""
        return StoreError(self.location, str(exc) or type(exc).__name__)

    @property
    def reconnects(self) -> int:
        """How many times the store's connection was re-established since it was opened
        (always 0 for SQLite, whose file cannot be lost; see
        :class:`~spxcc_core.store.postgres.PostgresStore`)."""
        return 0

    def restrict_access(self) -> None:
        """Make the store readable by its owner only, before a secret is written into it
        (SQLite: ``chmod go-rwx`` of the file; PostgreSQL: a no-op, access is the server's
        roles and grants)."""

    # --- shared behaviour -------------------------------------------------------------------

    def _open_schema(self, migrations: Sequence[Migration] | None) -> None:
        """Apply the migrations and check their tables (on open, after :meth:`_check_ours`)."""
        with self.errors():
            known = all_migrations() if migrations is None else list(migrations)
            self._migrate(known)
            self._check_tables(known)

    def _migrate(self, migrations: Sequence[Migration]) -> None:
        """Apply the pending migrations, once, whoever opens the store first.

        The applied versions are read inside the write transaction that applies the missing
        ones (SQLite's write lock, PostgreSQL's advisory lock on the store), so processes
        opening a fresh store at the same moment serialise: the first applies every
        migration, the others find them applied. A store already up to date takes no lock.
        """
        wanted = {(m.component, m.version) for m in migrations}
        applied = self._applied()
        if applied is not None and wanted <= applied:
            return
        with self.transaction() as cur:
            cur.execute(SCHEMA_TABLE)
            applied = {(r[0], r[1]) for r in
                       cur.execute("SELECT component, version FROM spxcc_schema").fetchall()}
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
        """Refuse a database of another program (tables, but no ``spxcc_schema``): migrating
        it would write our tables among someone else's."""
        names = self._table_names()
        if names and "spxcc_schema" not in names:
            raise StoreError(self.location, f"{self._foreign_kind()} that is not an spxcc "
                             f"store (no spxcc_schema table; it holds {len(names)} other "
                             f"table{'s' if len(names) > 1 else ''})")

    def _foreign_kind(self) -> str:
        """How a foreign database is described (``an SQLite database``, ...)."""
        return "a database"

    def _check_tables(self, migrations: Sequence[Migration]) -> None:
        """Every table the applied migrations created is there (a store whose table was
        dropped by hand is damaged, not empty)."""
        applied = {(r[0], r[1]) for r in self.conn.execute(
            "SELECT component, version FROM spxcc_schema").fetchall()}
        missing = sorted(tables_created(migrations, applied) - self._table_names())
        if missing:
            raise StoreError(self.location, f"table{'s' if len(missing) > 1 else ''} "
                             f"{', '.join(missing)} missing although the schema records it "
                             "(damaged store)")

    def _applied(self) -> set[tuple[str, int]] | None:
        """Applied migrations as read now (None when the store has no schema table yet)."""
        if "spxcc_schema" not in self._table_names():
            return None
        return {(r[0], r[1]) for r in self.conn.execute(
            "SELECT component, version FROM spxcc_schema").fetchall()}

    def schema_versions(self) -> dict[str, int]:
        """Highest applied migration version per component."""
        rows = self.conn.execute(
            "SELECT component, MAX(version) FROM spxcc_schema GROUP BY component").fetchall()
        return {r[0]: int(r[1]) for r in rows}

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Turn an error from the store (damage, lost connection, missing table) raised in
        the block into a :class:`StoreError` naming the store; other errors pass."""
        try:
            yield
        except Exception as exc:
            if self._is_damage(exc):
                raise self.error(exc) from None
            raise

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        """One write transaction (``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on error);
        yields a :class:`Cursor`. Write transactions of one store run one at a time."""
        cur = self.conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            if self.conn.in_transaction:
                cur.execute("ROLLBACK")
            raise
        else:
            cur.execute("COMMIT")
        finally:
            cur.close()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
        if exc is not None and isinstance(exc, Exception) and self._is_damage(exc):
            raise self.error(exc) from None
