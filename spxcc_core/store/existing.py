"""The store a command names, and the one rule for a store file that does not exist.

Commands that only read a store (``spxcc profile show|history``, ``spxcc secrets list``,
``spxcc slippage report``, ``spxcc broker status``, ``spxcc reconcile``, ``spxcc parity``, the
active-profile and vault look-ups of ``spxcc replay``/``live``, the baseline look-up of
``spxcc optimize``) never create one: opening an
SQLite file that does not exist would create it (and its folder). They name their store with
:meth:`StoreRef.of` and either refuse a missing file (:meth:`StoreRef.require`: one line
naming the file, the CLI exits 2) or answer as for an empty store without creating anything
(:attr:`StoreRef.missing`, or :meth:`StoreRef.open_or_empty`: an empty in-memory store in its
place). Commands that write keep opening the store with
:class:`~spxcc_core.store.base.Store`, which creates it.

A PostgreSQL URL is never "missing" (a server database: connecting says whether it exists),
nor is ``:memory:``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from spxcc_core.errors import InputError
from spxcc_core.store.target import StoreTarget, is_postgres_url, redact_dsn, store_file

if TYPE_CHECKING:
    from spxcc_core.store.base import Store
    from spxcc_core.store.migrations import Migration

__all__ = ["MEMORY", "StoreRef", "missing_store_file"]

#: The target of a private in-memory SQLite store.
MEMORY = ":memory:"


def missing_store_file(target: StoreTarget) -> Path | None:
    """The SQLite file ``target`` names when no such file exists (a folder or a dangling link
    is no store file either); None when the file exists, for ``:memory:`` and for a PostgreSQL
    URL. Looks only: nothing is created."""
    path = store_file(target)
    if path is None:
        return None
    file = Path(path)
    return None if file.is_file() else file


@attrs.frozen
class StoreRef:
    """A store as a command names it: ``target`` (file path, ``:memory:`` or PostgreSQL URL)
    and ``label``, how a message names it (``--db PATH``, ``$SPXCC_DB PATH`` or ``default
    store PATH``; a URL without its password)."""

    target: StoreTarget
    label: str

    @classmethod
    def of(cls, given: StoreTarget | None, option: str = "--db") -> StoreRef:
        """The store of ``option`` when it was given (``given``), else ``$SPXCC_DB``, else
        ``spxcc.sqlite3`` in the user data folder.

        :raises ConfigError: ``$SPXCC_DB`` is not a file name nor a ``postgresql://`` URL.
        """
        from spxcc_core.store.sqlite import DB_ENV, default_db_path

        if given is not None:
            target, where = given, option
        else:
            target = default_db_path()
            where = f"${DB_ENV}" if os.environ.get(DB_ENV) else "default store"
        shown = redact_dsn(target) if is_postgres_url(target) else os.fspath(target)
        return cls(target=target, label=f"{where} {shown}")

    @property
    def missing(self) -> bool:
        """True when the store is an SQLite file that does not exist (see
        :func:`missing_store_file`)."""
        return missing_store_file(self.target) is not None

    def require(self, why: str) -> None:
        """Refuse a missing store file; nothing is created.

        :param why: the reason in the message, e.g. ``"a report never creates one"``.
        :raises InputError: ``"<label>: no such store file (<why>)"``.
        """
        if self.missing:
            raise InputError(self.label, f"no such store file ({why})")

    def open_or_empty(self, migrations: Sequence[Migration] | None = None) -> Store:
        """The store; when its file is missing, an empty private in-memory store with the same
        schema instead: reads answer as for a new store, nothing is created, and whatever is
        written to it is lost on close.

        :param migrations: as for :class:`~spxcc_core.store.base.Store`.
        :raises ConfigError: the store cannot be opened. :raises StoreError: not a store.
        """
        from spxcc_core.store.base import Store

        return Store(MEMORY if self.missing else self.target, migrations)
