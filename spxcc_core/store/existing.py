"""The store a command names, and the one rule for a store file that does not exist.

Commands that only read a store (``spxcc profile show|history``, ``spxcc secrets list``,
``spxcc slippage report``, ``spxcc broker status``, ``spxcc reconcile``, ``spxcc parity``, the
active-profile and vault look-ups of ``spxcc replay``/``live``) never create one: opening an
SQLite file that does not exist would create it (and its folder). They name their store with
:meth:`StoreRef.of` and either refuse a missing file (:meth:`StoreRef.require`: one line
naming the file, the CLI exits 2) or answer as for an empty store without opening anything
(:attr:`StoreRef.missing`). Commands that write keep opening the store with
:class:`~spxcc_core.store.base.Store`, which creates it.

A PostgreSQL URL is never "missing" (a server database: connecting says whether it exists),
nor is ``:memory:``.
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs

from spxcc_core.errors import InputError
from spxcc_core.store.target import StoreTarget, is_postgres_url, redact_dsn, store_file

__all__ = ["StoreRef", "missing_store_file"]


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
