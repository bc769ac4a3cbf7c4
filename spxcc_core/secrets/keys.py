"""Master keys: parsing, key files, ids, keyrings and where a process gets its key from.

A master key is 32 random bytes written as (urlsafe or standard) base64 — in the environment
variable :data:`MASTER_KEY_ENV` or in a key file readable by its owner only (mode ``0600``; like
ssh, any group/other permission bit is refused). The key's *id* is the first 16 hex digits of
SHA-256 over an HKDF-SHA256 derivation of the key (info ``spxcc/master-key-id/v1``); it identifies
the key in the store and in messages and reveals nothing about it. Data keys are wrapped with a
separate HKDF derivation (info ``spxcc/master-key-wrap/v1``), never with the raw key.

Nothing in this module ever puts key material into a message, ``repr`` or log.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NoReturn

import attrs
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from spxcc_core.errors import ConfigError

__all__ = [
    "MASTER_KEY_ENV",
    "PREVIOUS_MASTER_KEY_ENV",
    "MasterKey",
    "MasterKeySource",
    "MasterKeyring",
    "check_key_file_permissions",
    "generate_master_key_text",
    "parse_master_key",
    "read_key_file",
    "write_key_file",
]

#: Environment variable holding the current master key (base64 of 32 bytes).
MASTER_KEY_ENV = "SPXCC_MASTER_KEY"
#: Environment variable holding the previous master key during a rotation (optional).
PREVIOUS_MASTER_KEY_ENV = "SPXCC_MASTER_KEY_PREVIOUS"

KEY_BYTES = 32


def _hkdf(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)


class MasterKey:
    """A 256-bit master key. ``repr`` shows only its id; pickling is refused.

    :param material: exactly 32 bytes.
    """

    __slots__ = ("_aead", "_id")

    def __init__(self, material: bytes) -> None:
        if not isinstance(material, bytes) or len(material) != KEY_BYTES:
            raise ConfigError(f"master key must be exactly {KEY_BYTES} bytes")
        self._id = hashlib.sha256(_hkdf(material, b"spxcc/master-key-id/v1")).hexdigest()[:16]
        self._aead = AESGCM(_hkdf(material, b"spxcc/master-key-wrap/v1"))

    @property
    def key_id(self) -> str:
        """16 lowercase hex digits identifying the key (safe to store, print and log)."""
        return self._id

    @property
    def aead(self) -> AESGCM:
        """The AES-256-GCM cipher that wraps data keys (derived from the key, not the key)."""
        return self._aead

    def __repr__(self) -> str:
        return f"MasterKey(id={self._id!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MasterKey) and other._id == self._id

    def __hash__(self) -> int:
        return hash(self._id)

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("refusing to pickle a master key")


def parse_master_key(text: str | bytes, *, source: str) -> MasterKey:
    """Decode a master key written as base64 or urlsafe base64 (padding optional).

    :param text: the encoded key; surrounding whitespace is ignored.
    :param source: names the input in errors (``env SPXCC_MASTER_KEY``, ``key file /p``).
    :raises ConfigError: not base64, or not exactly 32 bytes. The message never echoes the text.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            raise ConfigError(f"{source}: master key is not base64 text") from None
    s = text.strip()
    if not s:
        raise ConfigError(f"{source}: master key is empty")
    s = s.replace("-", "+").replace("_", "/")
    s += "=" * (-len(s) % 4)
    try:
        raw = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{source}: master key is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise ConfigError(
            f"{source}: master key must be base64 of exactly {KEY_BYTES} bytes "
            f"(it decodes to {len(raw)} bytes); create one with `spxcc secrets keygen`")
    return MasterKey(raw)


def generate_master_key_text() -> str:
    """A new random master key as urlsafe base64 (44 characters, no newline)."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def check_key_file_permissions(path: Path) -> None:
    """Refuse a key file that is not a regular file or that group/other may access.

    :raises ConfigError: names the file, its mode and the fix (``chmod 600``).
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"key file {path}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"key file {path}: cannot stat ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"key file {path}: not a regular file")
    if os.name == "posix" and st.st_mode & 0o077:
        mode = stat.S_IMODE(st.st_mode)
        raise ConfigError(
            f"key file {path}: permissions {mode:04o} are too open (group/other may access "
            f"it); the key is refused; run `chmod 600 {path}`")


def read_key_file(path: Path) -> MasterKey:
    """Read a master key file after checking its permissions.

    :raises ConfigError: missing, unreadable, too-open or malformed file.
    """
    check_key_file_permissions(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"key file {path}: cannot read ({exc.strerror})") from None
    return parse_master_key(data, source=f"key file {path}")


def write_key_file(path: Path, key_text: str) -> None:
    """Create ``path`` with mode ``0600`` holding ``key_text`` and a newline.

    :raises ConfigError: the file exists (a master key is never overwritten) or cannot be made.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"key file {path}: already exists; refusing to overwrite a master "
                          "key") from None
    except OSError as exc:
        raise ConfigError(f"key file {path}: cannot create ({exc.strerror})") from None
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (key_text + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)


@attrs.frozen(repr=False)
class MasterKeyring:
    """The keys a process accepts: ``current`` wraps new data keys; ``previous`` (during a
    rotation) is accepted for unwrapping and also wraps new writes so that processes still on
    the previous key keep reading them.
    """

    current: MasterKey
    previous: MasterKey | None = None

    def __attrs_post_init__(self) -> None:
        if self.previous is not None and self.previous == self.current:
            object.__setattr__(self, "previous", None)

    def find(self, key_id: str) -> MasterKey | None:
        """The key with this id, or None when the keyring holds no such key."""
        for key in self:
            if key.key_id == key_id:
                return key
        return None

    def __iter__(self) -> Iterator[MasterKey]:
        yield self.current
        if self.previous is not None:
            yield self.previous

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Ids of the keys held, current first."""
        return tuple(k.key_id for k in self)

    def __repr__(self) -> str:
        return f"MasterKeyring(ids={self.key_ids!r})"


@attrs.define(repr=False, eq=False)
class MasterKeySource:
    """Where a process gets its master key(s); loads lazily and caches the result.

    Build it with :meth:`from_env_or_file` (never fails); :meth:`keyring` loads and validates,
    raising :class:`~spxcc_core.errors.ConfigError` for a missing, malformed or too-open key.
    Order: ``key_file`` when given, else the environment variable :data:`MASTER_KEY_ENV`.
    The previous key (optional, for a rotation) comes from ``previous_key_file`` or
    :data:`PREVIOUS_MASTER_KEY_ENV`.
    """

    key_file: Path | None = None
    previous_key_file: Path | None = None
    environ: Mapping[str, str] = attrs.field(factory=lambda: os.environ)
    _cached: MasterKeyring | None = attrs.field(default=None, init=False)
    _given: bool = attrs.field(default=False, init=False)

    @classmethod
    def from_env_or_file(cls, key_file: Path | None, *, previous_key_file: Path | None = None,
                         environ: Mapping[str, str] | None = None) -> MasterKeySource:
        """A source reading ``key_file`` when given, else ``$SPXCC_MASTER_KEY``."""
        return cls(key_file=key_file, previous_key_file=previous_key_file,
                   environ=os.environ if environ is None else environ)

    @classmethod
    def from_keys(cls, current: MasterKey, previous: MasterKey | None = None) -> MasterKeySource:
        """A source holding already-loaded keys (tests, embedding)."""
        source = cls(environ={})
        source._cached = MasterKeyring(current, previous)
        source._given = True
        return source

    def keyring(self) -> MasterKeyring:
        """The loaded keyring.

        :raises ConfigError: no key configured, or the key is malformed or its file too open.
        """
        if self._cached is None:
            current = self._load(self.key_file, MASTER_KEY_ENV, required=True)
            assert current is not None
            previous = self._load(self.previous_key_file, PREVIOUS_MASTER_KEY_ENV,
                                  required=False)
            self._cached = MasterKeyring(current, previous)
        return self._cached

    def _load(self, path: Path | None, env: str, *, required: bool) -> MasterKey | None:
        if path is not None:
            return read_key_file(path)
        text = self.environ.get(env)
        if text:
            return parse_master_key(text, source=f"environment variable {env}")
        if required:
            raise ConfigError(f"no master key: set {env} or pass --key-file PATH "
                              "(create one with `spxcc secrets keygen`)")
        return None

    @property
    def description(self) -> str:
        """Where the current key comes from (``key file /p`` or ``environment variable X``)."""
        if self._given:
            return "keys given in code"
        if self.key_file is not None:
            return f"key file {self.key_file}"
        return f"environment variable {MASTER_KEY_ENV}"

    def __repr__(self) -> str:
        return f"MasterKeySource({self.description})"
