"""`Vault`: encrypted secrets in the SQLite store (table ``spx_secrets``).

Every write encrypts the value under a fresh data key (see :mod:`spxcc_core.secrets.envelope`)
in one transaction. Master-key rotation (:meth:`Vault.rotate`) re-wraps each data key under the
new key one row per transaction, keeping the wrapping under the old key beside it, so processes
holding either key read every secret throughout; :meth:`Vault.finish_rotation` then drops the
old wrappings. Values are never re-encrypted by a rotation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import attrs

from spxcc_core.errors import InputError
from spxcc_core.secrets.envelope import (
    Sealed,
    Wrapping,
    open_value,
    recover_data_key,
    seal,
    wrap_data_key,
)
from spxcc_core.secrets.errors import DecryptionError, SecretError, SecretNotFoundError
from spxcc_core.secrets.info import SecretInfo
from spxcc_core.secrets.keys import MasterKey, MasterKeyring
from spxcc_core.secrets.value import Secret
from spxcc_core.store import Store
from spxcc_core.store.base import Cursor, Row, StoreError

__all__ = ["MAX_VALUE_BYTES", "RotationReport", "Vault", "validate_secret_name"]

#: Largest accepted secret value, in UTF-8 bytes.
MAX_VALUE_BYTES = 65536

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")

_COLUMNS = ("name, version, ciphertext, nonce, wrapped_key, wrap_nonce, master_key_id, "
            "prev_wrapped_key, prev_wrap_nonce, prev_master_key_id, created_at, updated_at")

#: The SET list of an upsert replacing every column but the key.
_REPLACE = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS.split(", ") if c != "name")


def validate_secret_name(name: str) -> str:
    """Return ``name`` if it is 1–128 of ``[A-Za-z0-9_.:-]`` starting alphanumeric.

    :raises InputError: otherwise.
    """
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        # not repeated: a secret typed in the name's place must not be echoed
        raise InputError("secret name", "not 1-128 characters of [A-Za-z0-9_.:-] starting "
                         "with a letter or digit (the name given is not shown)")
    return name


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(ts: datetime) -> str:
    ts = ts.astimezone(UTC)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


@attrs.frozen
class RotationReport:
    """Outcome of :meth:`Vault.rotate`: names re-wrapped, names already under the new key, the
    new key id, and names left under another key (written concurrently by a process that does
    not hold the new key; run the rotation again)."""

    new_key_id: str
    rewrapped: tuple[str, ...]
    already_current: tuple[str, ...]
    remaining: tuple[str, ...]


#: Column → (accepted Python types, what the message calls them) of an ``spx_secrets`` row.
_ROW_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "name": ((str,), "text"), "version": ((int,), "an integer"),
    "ciphertext": ((bytes,), "a blob"), "nonce": ((bytes,), "a blob"),
    "wrapped_key": ((bytes,), "a blob"), "wrap_nonce": ((bytes,), "a blob"),
    "master_key_id": ((str,), "text"), "prev_wrapped_key": ((bytes, type(None)), "a blob or null"),
    "prev_wrap_nonce": ((bytes, type(None)), "a blob or null"),
    "prev_master_key_id": ((str, type(None)), "text or null"),
    "created_at": ((str,), "text"), "updated_at": ((str,), "text"),
}
_SQL_TYPE_NAMES = {str: "text", int: "an integer", float: "a real number", bytes: "a blob",
                   type(None): "null"}


def _checked(row: Row | None, store: Store) -> Row | None:
    """``row`` when every column holds the type the schema means (SQLite does not enforce it).

    :raises StoreError: a column of another type (a damaged or hand-edited store).
    """
    if row is None:
        return None
    for column, (types, wanted) in _ROW_TYPES.items():
        value = row[column]
        if not isinstance(value, types) or isinstance(value, bool):
            got = _SQL_TYPE_NAMES.get(type(value), type(value).__name__)
            name = row["name"] if isinstance(row["name"], str) else "?"
            raise StoreError(store.location, f"table spx_secrets, secret {name!r}: column "
                             f"{column!r} holds {got}, not {wanted} (damaged store)")
    if row["version"] < 1:
        raise StoreError(store.location, f"table spx_secrets, secret {row['name']!r}: column "
                         f"'version' is {row['version']}, not >= 1 (damaged store)")
    return row


def _sealed(row: Row) -> Sealed:
    wrappings = [Wrapping(wrapped_key=row["wrapped_key"], wrap_nonce=row["wrap_nonce"],
                          master_key_id=row["master_key_id"])]
    if row["prev_master_key_id"] is not None:
        wrappings.append(Wrapping(wrapped_key=row["prev_wrapped_key"],
                                  wrap_nonce=row["prev_wrap_nonce"],
                                  master_key_id=row["prev_master_key_id"]))
    return Sealed(ciphertext=row["ciphertext"], nonce=row["nonce"], wrappings=tuple(wrappings))


def _info(row: Row) -> SecretInfo:
    return SecretInfo(name=row["name"], version=row["version"],
                      master_key_id=row["master_key_id"],
                      previous_master_key_id=row["prev_master_key_id"],
                      created_at=row["created_at"], updated_at=row["updated_at"])


@attrs.define(repr=False)
class Vault:
    """Secrets of one store, opened with one keyring.

    :param store: an open :class:`~spxcc_core.store.Store` (its migrations create the table).
    :param keyring: the master keys this process holds; ``None`` allows only the metadata
        operations (:meth:`list`, :meth:`info`, :meth:`delete`).
    :param clock: returns the current time (timezone-aware); injectable for tests.
    """

    store: Store
    keyring: MasterKeyring | None = None
    clock: Callable[[], datetime] = _utc_now

    def __repr__(self) -> str:
        ids = self.keyring.key_ids if self.keyring else ()
        return f"Vault(store={str(self.store.location)!r}, key_ids={ids!r})"

    def _require_keyring(self) -> MasterKeyring:
        if self.keyring is None:
            raise SecretError("this operation needs the master key: set SPXCC_MASTER_KEY or "
                              "pass --key-file PATH")
        return self.keyring

    def _row(self, name: str, cur: Cursor | None = None) -> Row | None:
        sql = f"SELECT {_COLUMNS} FROM spx_secrets WHERE name = ?"
        with self.store.errors():
            row: Row | None = (cur or self.store.conn).execute(sql, (name,)).fetchone()
        return _checked(row, self.store)

    def put(self, name: str, value: str | Secret) -> SecretInfo:
        """Store ``value`` under ``name`` (a new version if it exists) and return its metadata.

        The data key is wrapped under the keyring's current key and, during a rotation, also
        under its previous key. A store file (and its ``-wal``/``-shm``) that group or other may
        access is first restricted to its owner (``chmod go-rwx``).

        :raises InputError: invalid name, or an empty / oversized value.
        """
        keyring = self._require_keyring()
        validate_secret_name(name)
        plain = value.reveal() if isinstance(value, Secret) else value
        if not isinstance(plain, str) or not plain:
            raise InputError(f"secret {name!r}", "value is empty")
        if len(plain.encode("utf-8")) > MAX_VALUE_BYTES:
            raise InputError(f"secret {name!r}", f"value is longer than {MAX_VALUE_BYTES} bytes")
        now = _iso(self.clock())
        self.store.restrict_access()
        with self.store.transaction() as cur:
            self._check_same_master_key(cur, keyring)
            old = self._row(name, cur)
            version = 1 if old is None else int(old["version"]) + 1
            created = now if old is None else old["created_at"]
            sealed = seal(plain, name=name, version=version, keyring=keyring)
            first = sealed.wrappings[0]
            prev = sealed.wrappings[1] if len(sealed.wrappings) > 1 else None
            cur.execute(
                f"INSERT INTO spx_secrets ({_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                + _REPLACE,
                (name, version, sealed.ciphertext, sealed.nonce, first.wrapped_key,
                 first.wrap_nonce, first.master_key_id,
                 prev.wrapped_key if prev else None, prev.wrap_nonce if prev else None,
                 prev.master_key_id if prev else None, created, now))
        return SecretInfo(name=name, version=version, master_key_id=first.master_key_id,
                          previous_master_key_id=prev.master_key_id if prev else None,
                          created_at=created, updated_at=now)

    @staticmethod
    def _check_same_master_key(cur: Cursor, keyring: MasterKeyring) -> None:
        """Refuse to write under a key that opens none of the stored secrets (a wrong key
        would otherwise create a secret the rest of the system cannot read)."""
        ids = keyring.key_ids
        marks = ", ".join("?" * len(ids))
        total, matching = cur.execute(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN master_key_id IN (" + marks + ") OR "
            "prev_master_key_id IN (" + marks + ") THEN 1 ELSE 0 END), 0) FROM spx_secrets",
            (*ids, *ids)).fetchone()
        if total and not matching:
            stored = sorted({r[0] for r in cur.execute(
                "SELECT DISTINCT master_key_id FROM spx_secrets")})
            raise DecryptionError(
                f"master key {keyring.current.key_id} does not match the stored secrets "
                f"(wrapped under master key {', '.join(stored)}); refusing to store a secret "
                "under a different key")

    def get(self, name: str) -> Secret:
        """The secret ``name``, decrypted.

        :raises SecretNotFoundError: no such secret.
        :raises DecryptionError: no key of the keyring matches, or the row was tampered with.
        """
        keyring = self._require_keyring()
        row = self._row(name)
        if row is None:
            raise SecretNotFoundError(f"secret {name!r} not found in {self.store.location}")
        plain = open_value(_sealed(row), name=name, version=int(row["version"]),
                           keyring=keyring)
        return Secret(plain, name=name, source="vault")

    def info(self, name: str) -> SecretInfo:
        """Metadata of ``name``. :raises SecretNotFoundError: no such secret."""
        row = self._row(name)
        if row is None:
            raise SecretNotFoundError(f"secret {name!r} not found in {self.store.location}")
        return _info(row)

    def list(self) -> list[SecretInfo]:
        """Metadata of every secret, ordered by name (no key needed, no value read)."""
        with self.store.errors():
            rows = self.store.conn.execute(
                f"SELECT {_COLUMNS} FROM spx_secrets ORDER BY name").fetchall()
        return [_info(r) for r in rows if _checked(r, self.store) is not None]

    def delete(self, name: str) -> None:
        """Delete ``name``. :raises SecretNotFoundError: no such secret."""
        with self.store.transaction() as cur:
            cur.execute("DELETE FROM spx_secrets WHERE name = ?", (name,))
            if cur.rowcount == 0:
                raise SecretNotFoundError(f"secret {name!r} not found in {self.store.location}")

    def iter_rotate(self, new_key: MasterKey) -> Iterator[tuple[str, bool]]:
        """Re-wrap every data key under ``new_key``, one row per transaction, yielding
        ``(name, rewrapped)`` after each row is committed (``rewrapped`` is False for a row
        already under ``new_key``). The previous wrapping is kept beside the new one.

        :raises DecryptionError: a row none of the held keys can unwrap (nothing is changed
            for that row; rows already re-wrapped stay valid under both keys).
        """
        keyring = self._require_keyring()
        names = [r[0] for r in self.store.conn.execute(
            "SELECT name FROM spx_secrets ORDER BY name")]
        for name in names:
            with self.store.transaction() as cur:
                row = self._row(name, cur)
                if row is None:  # deleted meanwhile
                    continue
                if row["master_key_id"] == new_key.key_id:
                    outcome = (name, False)
                else:
                    version = int(row["version"])
                    sealed = _sealed(row)
                    data_key = recover_data_key(sealed, name=name, version=version,
                                                keyring=keyring, extra=(new_key,))
                    new = wrap_data_key(data_key, name=name, version=version, key=new_key)
                    old = sealed.wrappings[0]
                    cur.execute(
                        "UPDATE spx_secrets SET wrapped_key = ?, wrap_nonce = ?,"
                        " master_key_id = ?, prev_wrapped_key = ?, prev_wrap_nonce = ?,"
                        " prev_master_key_id = ? WHERE name = ?",
                        (new.wrapped_key, new.wrap_nonce, new.master_key_id, old.wrapped_key,
                         old.wrap_nonce, old.master_key_id, name))
                    outcome = (name, True)
            yield outcome

    def rotate(self, new_key: MasterKey) -> RotationReport:
        """Run :meth:`iter_rotate` to the end and report; see :class:`RotationReport`."""
        rewrapped: list[str] = []
        current: list[str] = []
        for name, changed in self.iter_rotate(new_key):
            (rewrapped if changed else current).append(name)
        remaining = tuple(i.name for i in self.list() if i.master_key_id != new_key.key_id)
        return RotationReport(new_key_id=new_key.key_id, rewrapped=tuple(rewrapped),
                              already_current=tuple(current), remaining=remaining)

    def finish_rotation(self) -> int:
        """Drop every wrapping under a key other than the keyring's current key; returns how
        many rows changed. Afterwards only the current key opens the vault.

        :raises SecretError: some secret's data key is not wrapped under the current key yet
            (nothing is changed; run :meth:`rotate` with the current key first).
        """
        keyring = self._require_keyring()
        cid = keyring.current.key_id
        with self.store.transaction() as cur:
            behind = [r[0] for r in cur.execute(
                "SELECT name FROM spx_secrets WHERE master_key_id != ? ORDER BY name", (cid,))]
            if behind:
                raise SecretError(
                    f"cannot finish rotation: {len(behind)} secret(s) are not wrapped under "
                    f"master key {cid} yet ({', '.join(map(repr, behind))}); run "
                    "`spxcc secrets rotate` with this key as the new key first")
            cur.execute("UPDATE spx_secrets SET prev_wrapped_key = NULL, prev_wrap_nonce = NULL,"
                        " prev_master_key_id = NULL WHERE prev_master_key_id IS NOT NULL")
            return int(cur.rowcount)
