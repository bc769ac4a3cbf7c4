"""The paper broker's table in the spxcc store, and every query on it.

``spx_paper_state`` holds one row per paper account: the whole account (cash, positions,
orders) as JSON bytes, a revision counter bumped by every save (another adapter instance or
process reloads an account whose revision changed) and the book time of the save (epoch ms).

The table belongs to this plugin: it is created by the plugin's own migration (component
``paper``), which :func:`spxcc_paper.spxcc_register_migrations` hands to the store. Stores
created before the plugins brought their own tables made it in the core ``broker`` migration
1; the ``paper`` migration 1 adopts it there (``CREATE TABLE IF NOT EXISTS``: the table and its
rows are kept, and ``paper`` 1 is recorded as applied).
"""

from __future__ import annotations

from typing import Final

from spxcc_core.store import Migration, Store

__all__ = ["MIGRATIONS", "PaperStore"]

MIGRATIONS: Final[tuple[Migration, ...]] = (
    Migration(component="paper", version=1, statements=(
        """CREATE TABLE IF NOT EXISTS spx_paper_state (
            account_id TEXT PRIMARY KEY,
            payload BLOB NOT NULL,
            rev INTEGER NOT NULL,
            updated_ms INTEGER NOT NULL)""",
    )),
)

_UPSERT: Final = ("INSERT INTO spx_paper_state (account_id, payload, rev, updated_ms) "
                  "VALUES (?, ?, ?, ?) ON CONFLICT (account_id) DO UPDATE SET "
                  "payload = excluded.payload, rev = excluded.rev, "
                  "updated_ms = excluded.updated_ms")


class PaperStore:
    """Paper accounts in a :class:`~spxcc_core.store.Store` (its migrations applied on
    construction, idempotently). Not thread-safe: one adapter per object.

    Transactions: :meth:`begin`/:meth:`commit`/:meth:`rollback` wrap one adapter operation
    (``BEGIN IMMEDIATE`` takes the store's write lock before the account is reloaded);
    :meth:`save` writes in a transaction of its own, :meth:`save_in_transaction` inside the
    open one.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        store.migrate(MIGRATIONS)

    @property
    def location(self) -> str:
        """The store as it may be shown (its file, or its URL without the password)."""
        return self.store.location

    @property
    def errors(self) -> tuple[type[Exception], type[Exception]]:
        """``(lock error, any error)`` of the store's backend: what :meth:`begin` raises when
        the write lock could not be had, and the base class of every store error."""
        return self.store.conn.OperationalError, self.store.conn.Error

    @property
    def in_transaction(self) -> bool:
        """True while the connection holds an open transaction (ours or a caller's)."""
        return self.store.conn.in_transaction

    def begin(self) -> None:
        """Start a write transaction (``BEGIN IMMEDIATE``: the store's write lock).

        :raises OperationalError: (the backend's, see :attr:`errors`) the write lock could not
            be had.
        """
        self.store.conn.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        """Commit the transaction :meth:`begin` started."""
        self.store.conn.execute("COMMIT")

    def rollback(self) -> None:
        """Roll back the open transaction, if any."""
        if self.store.conn.in_transaction:
            self.store.conn.execute("ROLLBACK")

    def account_ids(self) -> list[str]:
        """Ids of the stored accounts, sorted."""
        rows = self.store.conn.execute(
            "SELECT account_id FROM spx_paper_state ORDER BY account_id").fetchall()
        return [str(r[0]) for r in rows]

    def load(self, account_id: str) -> tuple[bytes, int] | None:
        """``(payload, revision)`` of a stored account, or None."""
        row = self.store.conn.execute("SELECT payload, rev FROM spx_paper_state WHERE "
                                      "account_id = ?", (account_id,)).fetchone()
        return (bytes(row[0]), int(row[1])) if row is not None else None

    def save(self, account_id: str, payload: bytes, rev: int, updated_ms: int) -> None:
        """Store an account (replacing its row) in a transaction of its own."""
        with self.store.transaction() as cur:
            cur.execute(_UPSERT, (account_id, payload, rev, updated_ms))

    def save_in_transaction(self, account_id: str, payload: bytes, rev: int,
                            updated_ms: int) -> None:
        """Store an account (replacing its row) inside the transaction :meth:`begin` opened
        (committed with it)."""
        self.store.conn.execute(_UPSERT, (account_id, payload, rev, updated_ms))
