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

A lost connection (server restart, network, ``pg_terminate_backend``) is re-established:

* Found broken before a statement is sent (the server's goodbye waiting on the socket, or an
  earlier failure), or lost while a statement that is safe to repeat ran outside a
  transaction (``BEGIN IMMEDIATE``, a ``SELECT``): the store reconnects, with jittered
  exponential backoff for at most :data:`RECONNECT_TIMEOUT_S` seconds (the URL parameter
  ``spxcc_reconnect_timeout=SECONDS`` changes it; at least one attempt is always made), and
  runs the statement. Each reconnect is logged (``spxcc.store.postgres``, no secrets) and
  counted in :attr:`PostgresStore.reconnects`. Not re-established in time: a
  :class:`~spxcc_core.store.base.StoreConnectionLost` (a :class:`StoreError`, ``outcome``
  ``unreachable``) naming the store; the next statement tries again.
* Lost inside a transaction (after ``BEGIN``, before ``COMMIT``): nothing is repeated. A
  :class:`~spxcc_core.store.base.StoreConnectionLost` (``outcome`` ``not_committed``, or
  ``unknown`` for the two "may or may not" cases below) says the transaction was not
  committed (PostgreSQL rolls back a transaction whose connection ends before ``COMMIT``); lost while the ``COMMIT`` itself ran,
  it says the transaction may or may not have committed. A write sent outside a transaction
  and lost before its answer is reported the same way (may or may not have been applied).
  The next statement reconnects.
* A new connection gets what the first one had: the same URL (``search_path`` from its
  ``options``, ``connect_timeout``), autocommit, the row factory and ``lock_timeout``; it must
  land in the same database and schema (the write lock's key depends on them).
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import select
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Self
from urllib.parse import unquote

from spxcc_core.clock import Clock, SystemClock
from spxcc_core.errors import ConfigError
from spxcc_core.store.base import LostOutcome, Store, StoreConnectionLost, StoreError
from spxcc_core.store.migrations import Migration
from spxcc_core.store.pg_dialect import begin_immediate, is_begin_immediate, translate
from spxcc_core.store.target import StoreTarget, dsn_is_clean, dsn_secrets, redact_dsn

if TYPE_CHECKING:
    import psycopg

__all__ = ["RECONNECT_PARAM", "RECONNECT_TIMEOUT_S", "PgConnection", "PgCursor", "PgRow",
           "PostgresStore", "backoff_delay", "lock_key", "readable_now", "reconnect_timeout"]

log = logging.getLogger("spxcc.store.postgres")

#: Seconds to wait for the server on connect (unless the URL sets ``connect_timeout``).
CONNECT_TIMEOUT_S = 10
#: Longest wait for the store's write lock (SQLite's busy timeout is the same).
LOCK_TIMEOUT = "30s"
#: Longest time spent re-establishing a lost connection, in seconds (default).
RECONNECT_TIMEOUT_S = 30.0
#: The URL parameter that sets it (spxcc's own: removed before the URL reaches libpq).
RECONNECT_PARAM = "spxcc_reconnect_timeout"
#: First backoff delay and the cap of one delay, in seconds.
_BACKOFF_BASE_S = 0.25
_BACKOFF_CAP_S = 5.0


def backoff_delay(attempt: int, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait after failed reconnect attempt number ``attempt`` (1, 2, ...):
    ``min(5, 0.25 × 2^(attempt−1))`` scaled by a jitter factor in [0.5, 1) drawn from ``rng``
    (a function returning a number in [0, 1)), so processes that lost the server together do
    not come back in step.

    :raises ValueError: ``attempt`` < 1.
    """
    if attempt < 1:
        raise ValueError(f"attempt numbers start at 1 (got {attempt})")
    ceiling = min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * 2.0 ** min(attempt - 1, 32))
    return ceiling * (0.5 + 0.5 * rng())


def readable_now(fd: int) -> bool:
    """True when the socket ``fd`` has something to read (data, or the peer's hang-up) right
    now, without waiting. Uses ``poll`` where there is one (any descriptor number; ``select``
    refuses numbers of 1024 and up, which a busy host reaches).

    :raises OSError: ``fd`` is not an open descriptor (``select`` only; ``poll`` answers
        True for it).
    """
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLPRI)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])


def reconnect_timeout(dsn: str) -> tuple[str, float]:
    """Split spxcc's ``spxcc_reconnect_timeout=SECONDS`` parameter off a PostgreSQL URL:
    ``(the URL libpq gets, the seconds)``; without the parameter, the URL unchanged and
    :data:`RECONNECT_TIMEOUT_S`. The rest of the URL is kept byte for byte.

    :raises ConfigError: the value is not a finite number of seconds >= 0 (the message shows
        only the value, never the URL).
    """
    base, sep, query = dsn.partition("?")
    if not sep:
        return dsn, RECONNECT_TIMEOUT_S
    kept: list[str] = []
    value: str | None = None
    for piece in query.split("&"):
        key, _, raw = piece.partition("=")
        if unquote(key).lower() == RECONNECT_PARAM:
            value = unquote(raw)
        else:
            kept.append(piece)
    if value is None:
        return dsn, RECONNECT_TIMEOUT_S
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not math.isfinite(seconds) or seconds < 0:
        raise ConfigError(f"{RECONNECT_PARAM} must be a number of seconds >= 0 "
                          f"(got {value!r})")
    return base + ("?" + "&".join(kept) if kept else ""), seconds


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
        #: The psycopg cursor, made by the first statement (the connection may be lost and
        #: replaced before it); replaced by one of the new connection after a reconnect.
        self.raw: Any = None

    @property
    def rowcount(self) -> int:
        """Rows the last statement changed (summed over :meth:`executemany`), -1 if none."""
        return -1 if self.raw is None else int(self.raw.rowcount)

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Self:
        """Run one statement (``?`` placeholders)."""
        self._conn.run(self, sql, parameters)
        return self

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> Self:
        """Run one statement once per parameter sequence."""
        self._conn.run(self, sql, [tuple(p) for p in seq_of_parameters], many=True)
        return self

    def fetchone(self) -> Any:
        return self.raw.fetchone() if self._has_rows() else None

    def fetchall(self) -> list[Any]:
        return list(self.raw.fetchall()) if self._has_rows() else []

    def _has_rows(self) -> bool:
        return self.raw is not None and self.raw.description is not None

    def close(self) -> None:
        """Close the cursor (a cursor of a lost connection is closed already)."""
        if self.raw is not None and not self.raw.connection.closed:
            self.raw.close()

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class _Connector:
    """Opens configured connections to one store: holds the URL (it may carry a password, so
    its repr shows only the redacted location) and the settings every connection gets."""

    __slots__ = ("_dsn", "location", "scrub", "timeout_set")

    def __init__(self, dsn: str, location: str, scrub: _Scrubber) -> None:
        self._dsn = dsn
        self.location = location
        self.scrub = scrub
        self.timeout_set = False

    def __repr__(self) -> str:
        return f"_Connector({self.location!r})"

    def params(self) -> dict[str, Any]:
        """The URL's parameters as libpq reads them (the values are not to be shown).

        :raises ConfigError: not a valid PostgreSQL URL (quoted only when it holds no secret).
        """
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        try:
            params = conninfo_to_dict(self._dsn)
        except psycopg.Error as exc:
            # the driver's message quotes the URL: without a password it helps, with one
            # (or one that cannot be told apart) it is not shown at all
            detail = _one_line(exc)
            shown = f" ({detail})" if dsn_is_clean(self._dsn) else ""
            raise ConfigError(f"store {self.location}: not a valid PostgreSQL URL{shown}"
                              ) from None
        self.timeout_set = "connect_timeout" in params
        return params

    def connect(self, wait_s: float | None = None
                ) -> tuple[psycopg.Connection[Any], str | None, str]:
        """A new connection with the store's session settings (autocommit, row factory,
        ``lock_timeout``), and its current schema and database (the schema is None when the
        ``search_path`` names none that exists). ``wait_s`` bounds the connect wait when the
        URL sets no ``connect_timeout`` (libpq's minimum, 2 s, applies).

        :raises psycopg.Error: the server cannot be reached or refuses.
        """
        import psycopg

        extra: dict[str, Any] = {}
        if not self.timeout_set:
            wait = CONNECT_TIMEOUT_S if wait_s is None else min(CONNECT_TIMEOUT_S, wait_s)
            extra["connect_timeout"] = max(2, math.ceil(wait))
        raw = psycopg.connect(self._dsn, autocommit=True, row_factory=_row_factory, **extra)
        try:
            raw.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
            schema, database = raw.execute(
                "SELECT current_schema(), current_database()").fetchone() or (None, "")
        except BaseException:
            raw.close()
            raise
        return raw, None if schema is None else str(schema), str(database)


class PgConnection:
    """A psycopg connection (autocommit) behind the :class:`~spxcc_core.store.base.Connection`
    protocol, re-established when lost (see the module's documentation). Its repr names the
    store without the password."""

    def __init__(self, raw: psycopg.Connection[Any], *, key: int, location: str,
                 connector: _Connector | None = None, schema: str = "", database: str = "",
                 reconnect_timeout_s: float = RECONNECT_TIMEOUT_S,
                 clock: Clock | None = None) -> None:
        import psycopg

        self.raw = raw
        self.key = key
        self._begin = begin_immediate(key)
        self.location = location
        self.IntegrityError: type[Exception] = psycopg.IntegrityError
        self.OperationalError: type[Exception] = psycopg.OperationalError
        self.Error: type[Exception] = psycopg.Error
        self._connector = connector
        self._where = (schema, database)
        #: Longest time one reconnect may take, in seconds.
        self.reconnect_timeout_s = reconnect_timeout_s
        self._clock: Clock = clock or SystemClock()
        #: Connections re-established since the store was opened.
        self.reconnects = 0
        self._closed = False
        self._was_in_tx = False  # as of the last statement's answer
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"PgConnection({self.location!r})"

    @property
    def in_transaction(self) -> bool:
        """True between ``BEGIN`` and ``COMMIT``/``ROLLBACK`` (an aborted one included);
        False once the connection is lost (the server rolled the transaction back)."""
        from psycopg.pq import TransactionStatus

        if self._lost():
            return False
        return bool(self.raw.info.transaction_status != TransactionStatus.IDLE)

    def cursor(self) -> PgCursor:
        return PgCursor(self)

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> PgCursor:
        """Run one statement on a new cursor and return it."""
        return self.cursor().execute(sql, parameters)

    def run(self, cursor: PgCursor, sql: str, parameters: Sequence[Any], *,
            many: bool = False) -> None:
        """Run ``sql`` on ``cursor``, translated (``many``: once per parameter sequence in
        ``parameters``); ``BEGIN IMMEDIATE`` takes the store's write lock, and ``COMMIT`` of an
        aborted transaction raises. A lost connection is re-established as the module's
        documentation says.

        :raises StoreConnectionLost: the connection was lost where the statement cannot be
            repeated (the message and ``outcome`` say what became of the transaction), or could
            not be re-established within :attr:`reconnect_timeout_s`.
        """
        import psycopg
        from psycopg.pq import TransactionStatus

        word = sql.strip().rstrip(";").strip().upper()
        with self._lock:
            lost = self._check()
            if lost is not None:  # nothing of this statement was sent
                if self._was_in_tx:
                    self._was_in_tx = False
                    if word == "ROLLBACK":
                        return  # the server rolled it back already
                    raise self._lost_error(word, lost, in_tx=True, sent=False)
                self._reconnect(lost)
            status = self.raw.info.transaction_status
            try:
                self._send(cursor, sql, parameters, many=many)
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                if not self._lost():
                    raise
                self._was_in_tx = False
                if status != TransactionStatus.IDLE:
                    if word == "ROLLBACK":
                        return
                    raise self._lost_error(word, exc, in_tx=True, sent=True) from None
                if not (is_begin_immediate(sql) or word.startswith(("SELECT", "ROLLBACK"))):
                    raise self._lost_error(word, exc, in_tx=False, sent=True) from None
                self._reconnect(exc)  # a statement safe to repeat
                self._send(cursor, sql, parameters, many=many)
            finally:
                if not self._lost():
                    self._was_in_tx = (self.raw.info.transaction_status
                                       != TransactionStatus.IDLE)

    def _send(self, cursor: PgCursor, sql: str, parameters: Sequence[Any], *,
              many: bool) -> None:
        """Send the statement on this connection (the cursor rebound to it if need be)."""
        if cursor.raw is None or cursor.raw.connection is not self.raw:
            cursor.raw = self.raw.cursor()
        cur = cursor.raw
        if many:
            cur.executemany(translate(sql), parameters)
            return
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

    def _lost(self) -> bool:
        """True when the connection is known broken (not closed on purpose)."""
        return not self._closed and bool(self.raw.broken or self.raw.closed)

    def _check(self) -> BaseException | None:
        """Before a statement: the error that shows the connection lost, or None. An idle
        connection has nothing to read, so a readable socket means the server said goodbye
        (terminated backend, shutdown, timeout) or hung up: a probe then tells, one round
        trip spent only in that case."""
        import psycopg

        if self._closed or self._connector is None:
            return None
        if self._lost():
            return psycopg.OperationalError("the connection was lost earlier")
        try:
            readable = readable_now(self.raw.fileno())
        except (OSError, ValueError, psycopg.Error):
            readable = True  # cannot tell: the probe does
        if not readable:
            return None
        try:
            self.raw.execute("SELECT 1")
        except psycopg.Error as exc:
            if self._lost():
                return exc
        return None

    def _lost_error(self, word: str, cause: BaseException, *, in_tx: bool,
                    sent: bool) -> StoreConnectionLost:
        """The error for a connection lost where the statement cannot be repeated: inside a
        transaction (``in_tx``), the statement ``word`` sent or not (``sent``)."""
        detail = self._scrub(_one_line(cause))
        outcome: LostOutcome = "unknown"
        if in_tx and sent and word in ("COMMIT", "END"):
            what = ("the connection was lost while COMMIT ran: the transaction may or may not "
                    "have committed (check before doing it again)")
        elif in_tx:
            outcome = "not_committed"
            what = ("the connection was lost inside a transaction: it was not committed "
                    "(PostgreSQL rolls back a transaction whose connection ends before COMMIT)")
        else:
            what = ("the connection was lost while a statement outside a transaction ran: it "
                    "may or may not have been applied")
        log.warning("store %s: %s (%s)", self.location, what, detail)
        return StoreConnectionLost(self.location,
                                   f"{what}; the next operation reconnects ({detail})",
                                   outcome=outcome)

    def _scrub(self, text: str) -> str:
        return self._connector.scrub(text) if self._connector is not None else text

    def _reconnect(self, cause: BaseException) -> None:
        """Replace the lost connection: attempts with jittered exponential backoff until one
        succeeds or :attr:`reconnect_timeout_s` has passed (at least one attempt).

        :raises StoreConnectionLost: not re-established in time (``outcome`` ``unreachable``).
        :raises StoreError: the new connection is not in the store's database and schema.
        """
        import psycopg

        assert self._connector is not None
        log.warning("store %s: connection lost (%s); reconnecting", self.location,
                    self._scrub(_one_line(cause)))
        clock = self._clock
        start = clock.monotonic()
        deadline = start + self.reconnect_timeout_s
        attempt = 0
        while True:
            attempt += 1
            try:
                raw, schema, database = self._connector.connect(deadline - clock.monotonic())
            except psycopg.Error as exc:
                last: BaseException = exc
            else:
                if (schema, database) != self._where:
                    raw.close()
                    raise StoreError(self.location, "the connection was re-established in "
                                     f"another database or schema ({schema}) than the "
                                     f"store's ({self._where[0]}): not used")
                old, self.raw = self.raw, raw
                old.close()
                self.reconnects += 1
                log.info("store %s: reconnected (attempt %d, %.1f s; %d reconnect(s) so far)",
                         self.location, attempt, clock.monotonic() - start, self.reconnects)
                return
            delay = backoff_delay(attempt)
            if clock.monotonic() + delay > deadline:
                break
            clock.sleep(delay)
        detail = self._scrub(_one_line(last))
        log.error("store %s: connection not re-established within %g s (%d attempt(s)): %s",
                  self.location, self.reconnect_timeout_s, attempt, detail)
        raise StoreConnectionLost(self.location, "the connection was lost and not "
                                  f"re-established within {self.reconnect_timeout_s:g} s "
                                  f"({attempt} attempt{'s' if attempt > 1 else ''}; last: "
                                  f"{detail}); the next operation tries again",
                                  outcome="unreachable")

    def close(self) -> None:
        self._closed = True
        self.raw.close()


class PostgresStore(Store):
    """A PostgreSQL store with every known migration applied (made by ``Store(url)``).

    One connection, safe to share between threads (psycopg serialises its use); callers
    serialise writes as with SQLite. A lost connection is re-established (see the module's
    documentation); :attr:`reconnects` counts how often.
    """

    backend: ClassVar[str] = "postgresql"
    conn: PgConnection  # the protocol's implementation

    def __init__(self, dsn: StoreTarget, migrations: Sequence[Migration] | None = None, *,
                 clock: Clock | None = None) -> None:
        self.location = redact_dsn(str(dsn))
        self._scrub = _Scrubber(dsn_secrets(str(dsn)))
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise ConfigError(f"store {self.location}: PostgreSQL needs psycopg 3 (install "
                              "the extra: pip install 'spxcc[postgres]')") from None
        try:
            libpq_dsn, timeout_s = reconnect_timeout(str(dsn))
        except ConfigError as exc:
            raise ConfigError(f"store {self.location}: {exc}") from None
        # the URL itself is kept only by the connector, whose repr does not show it
        connector = _Connector(libpq_dsn, self.location, self._scrub)
        connector.params()
        raw, schema, database = self._connect(connector)
        try:
            with self.errors():
                if schema is None:
                    raise StoreError(self.location, "no schema to create tables in (the "
                                     "search_path names none that exists)")
                self.schema = str(schema)
                self.conn = PgConnection(raw, key=lock_key(database, self.schema),
                                         location=self.location, connector=connector,
                                         schema=self.schema, database=database,
                                         reconnect_timeout_s=timeout_s, clock=clock)
                self._check_ours()  # before anything writes
            self._open_schema(migrations)
        except BaseException:
            raw.close()
            raise

    def __repr__(self) -> str:
        return f"PostgresStore({self.location!r})"

    @property
    def reconnects(self) -> int:
        """How many times the connection was re-established since the store was opened."""
        return self.conn.reconnects

    def _connect(self, connector: _Connector
                 ) -> tuple[psycopg.Connection[Any], str | None, str]:
        import psycopg

        try:
            return connector.connect()
        except psycopg.Error as exc:
            raise ConfigError(f"store {self.location}: cannot connect "
                              f"({self._scrub(_one_line(exc))})") from None

    def _table_names(self) -> set[str]:
        return {r[0] for r in self.conn.execute(
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
