"""PostgreSQL store (psycopg 3): the same interface, tables and migrations as the SQLite store.

``Store("postgresql://user@host:5432/db")`` makes a :class:`PostgresStore`. The tables live in
the connection's current schema (the first existing one on its ``search_path``; choose another
with ``?options=-csearch_path%3Dname`` in the URL), so one database can hold several stores.

How SQLite's behaviour is carried over:

* Statements are spxcc's portable SQL, translated by :mod:`spxcc_core.store.pg_dialect`
  (placeholders, column types, the clock expression, ``rowid``).
* ``BEGIN IMMEDIATE`` (one writer at a time) is ``BEGIN`` plus a transaction-scoped advisory
  lock keyed on (database, schema): write transactions of one store serialise as on SQLite,
  migrations included, so concurrent opens apply each migration once. A writer waits at most
  30 s for the lock (``lock_timeout``, as SQLite's busy timeout), then gets an
  ``OperationalError``.
* The connection is in autocommit mode: a statement outside ``BEGIN`` … ``COMMIT`` is its own
  transaction, as with ``sqlite3``'s ``isolation_level=None``. A ``COMMIT`` of a transaction
  that an error aborted raises instead of silently rolling back.
* WAL, ``synchronous`` and ``foreign_keys`` need nothing (PostgreSQL always logs ahead and
  enforces foreign keys); there is no file, so no file-mode or "is this an SQLite file" check
  (:meth:`Store.restrict_access` is a no-op: access is the server's roles). A schema holding
  tables but no ``spxcc_schema`` is refused as a foreign database, as on SQLite.
* The URL is shown only without its password (:func:`~spxcc_core.store.target.redact_dsn`),
  and a password quoted by the server in an error message is scrubbed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Self

from spxcc_core.clock import Clock
from spxcc_core.errors import ConfigError
from spxcc_core.store.base import Store, StoreError
from spxcc_core.store.migrations import Migration
from spxcc_core.store.pg_dialect import begin_immediate, is_begin_immediate, translate
from spxcc_core.store.target import StoreTarget, dsn_is_clean, dsn_secrets, redact_dsn

if TYPE_CHECKING:
    import psycopg

__all__ = ["PgConnection", "PgCursor", "PgRow", "PostgresStore", "lock_key"]

#: Seconds to wait for the server on connect (unless the URL sets ``connect_timeout``).
CONNECT_TIMEOUT_S = 10
#: Longest wait for the store's write lock (SQLite's busy timeout is the same).
LOCK_TIMEOUT = "30s"


def lock_key(database: str, schema: str) -> int:
    """The advisory-lock key of the store in ``schema`` of ``database``: a signed 64-bit
    number, the same in every process (a hash, not Python's salted ``hash``)."""
    digest = hashlib.blake2b(f"spxcc-store\x00{database}\x00{schema}".encode(),
                             digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PgRow(tuple[Any, ...]):
    """A result row: by position like a tuple, and by column name (``row["name"]``) like
    ``sqlite3.Row``."""

    _index: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        """Column names in order."""
        return list(self._index)


def _row_factory(cursor: Any) -> Any:
    """psycopg row factory making :class:`PgRow` rows."""
    index = {d.name: i for i, d in enumerate(cursor.description or ())}

    def make(values: Sequence[Any]) -> PgRow:
        row = PgRow(values)
        row._index = index
        return row
    return make


class PgCursor:
    """A cursor speaking spxcc's SQL (see :mod:`spxcc_core.store.pg_dialect`)."""

    def __init__(self, conn: PgConnection) -> None:
        self._conn = conn
        self._cur = conn.raw.cursor()

    @property
    def rowcount(self) -> int:
        """Rows the last statement changed (summed over :meth:`executemany`), -1 if none."""
        return int(self._cur.rowcount)

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Self:
        """Run one statement (``?`` placeholders)."""
        self._conn.run(self._cur, sql, parameters)
        return self

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> Self:
        """Run one statement once per parameter sequence."""
        self._cur.executemany(translate(sql), [tuple(p) for p in seq_of_parameters])
        return self

    def fetchone(self) -> Any:
        return self._cur.fetchone() if self._cur.description is not None else None

    def fetchall(self) -> list[Any]:
        return list(self._cur.fetchall()) if self._cur.description is not None else []

    def close(self) -> None:
        self._cur.close()

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class PgConnection:
    """A psycopg connection (autocommit) behind the :class:`~spxcc_core.store.base.Connection`
    protocol. Its repr names the store without the password."""

    def __init__(self, raw: psycopg.Connection[Any], *, key: int, location: str) -> None:
        import psycopg

        self.raw = raw
        self.key = key
        self._begin = begin_immediate(key)
        self.location = location
        self.IntegrityError: type[Exception] = psycopg.IntegrityError
        self.OperationalError: type[Exception] = psycopg.OperationalError
        self.Error: type[Exception] = psycopg.Error

    def __repr__(self) -> str:
        return f"PgConnection({self.location!r})"

    @property
    def in_transaction(self) -> bool:
        """True between ``BEGIN`` and ``COMMIT``/``ROLLBACK`` (an aborted one included)."""
        from psycopg.pq import TransactionStatus

        return bool(self.raw.info.transaction_status != TransactionStatus.IDLE)

    def cursor(self) -> PgCursor:
        return PgCursor(self)

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> PgCursor:
        """Run one statement on a new cursor and return it."""
        return self.cursor().execute(sql, parameters)

    def run(self, cur: Any, sql: str, parameters: Sequence[Any]) -> None:
        """Run ``sql`` on the psycopg cursor ``cur``, translated; ``BEGIN IMMEDIATE`` takes the
        store's write lock, and ``COMMIT`` of an aborted transaction raises."""
        if is_begin_immediate(sql):
            cur.execute(self._begin)
            return
        if sql.strip().upper() in ("COMMIT", "END"):
            from psycopg.pq import TransactionStatus

            if self.raw.info.transaction_status == TransactionStatus.INERROR:
                cur.execute("ROLLBACK")
                raise self.OperationalError("COMMIT of a transaction an earlier error aborted: "
                                            "rolled back")
        cur.execute(translate(sql), tuple(parameters))

    def close(self) -> None:
        self.raw.close()


class PostgresStore(Store):
    """A PostgreSQL store with every known migration applied (made by ``Store(url)``).

    One connection, safe to share between threads (psycopg serialises its use); callers
    serialise writes as with SQLite.
    """

    backend: ClassVar[str] = "postgresql"
    conn: PgConnection  # the protocol's implementation

    def __init__(self, dsn: StoreTarget, migrations: Sequence[Migration] | None = None, *,
                 clock: Clock | None = None) -> None:
        self.location = redact_dsn(str(dsn))
        self._scrub = _Scrubber(dsn_secrets(str(dsn)))
        raw = self._connect(str(dsn))  # the URL itself is not kept (it may hold a password)
        try:
            with self.errors():
                schema, database = raw.execute(
                    "SELECT current_schema(), current_database()").fetchone() or (None, "")
                if schema is None:
                    raise StoreError(self.location, "no schema to create tables in (the "
                                     "search_path names none that exists)")
                raw.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
                self.schema = str(schema)
                self.conn = PgConnection(raw, key=lock_key(str(database), self.schema),
                                         location=self.location)
                self._check_ours()  # before anything writes
            self._open_schema(migrations)
        except BaseException:
            raw.close()
            raise

    def __repr__(self) -> str:
        return f"PostgresStore({self.location!r})"

    def _connect(self, dsn: str) -> psycopg.Connection[Any]:
        try:
            import psycopg
            from psycopg.conninfo import conninfo_to_dict
        except ImportError:
            raise ConfigError(f"store {self.location}: PostgreSQL needs psycopg 3 (install "
                              "the extra: pip install 'spxcc[postgres]')") from None
        try:
            params = conninfo_to_dict(dsn)
        except psycopg.Error as exc:
            # the driver's message quotes the URL: without a password it helps, with one
            # (or one that cannot be told apart) it is not shown at all
            detail = _one_line(exc)
            shown = f" ({detail})" if dsn_is_clean(dsn) else ""
            raise ConfigError(f"store {self.location}: not a valid PostgreSQL URL{shown}"
                              ) from None
        extra: dict[str, Any] = {}
        if "connect_timeout" not in params:
            extra["connect_timeout"] = CONNECT_TIMEOUT_S
        try:
            return psycopg.connect(dsn, autocommit=True, row_factory=_row_factory,
                                   **extra)
        except psycopg.Error as exc:
            raise ConfigError(f"store {self.location}: cannot connect "
                              f"({self._scrub(_one_line(exc))})") from None

    def _table_names(self) -> set[str]:
        return {r[0] for r in self.conn.raw.execute(
            "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
            "AND c.relkind IN ('r', 'p')").fetchall()}

    def _foreign_kind(self) -> str:
        return f"a PostgreSQL schema ({self.schema})"

    def _is_damage(self, exc: BaseException) -> bool:
        import psycopg
        from psycopg import errors

        return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError
                          | errors.UndefinedTable | errors.UndefinedColumn)

    def error(self, exc: BaseException) -> StoreError:
        """The :class:`StoreError` for a PostgreSQL error (password scrubbed)."""
        return StoreError(self.location, self._scrub(_one_line(exc)))


class _Scrubber:
    """Replaces the URL's secrets by ``***`` in a text; its repr shows none of them."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Sequence[str]) -> None:
        self._secrets = tuple(secrets)

    def __repr__(self) -> str:
        return f"_Scrubber({len(self._secrets)} secret(s))"

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line (the server's hints joined by spaces)."""
    return " ".join((str(exc) or type(exc).__name__).split())
