"""Envelope encryption of one secret value (pure functions, no storage).

A fresh random 256-bit data key encrypts the value with AES-256-GCM (random 96-bit nonce); the
associated data binds the secret's name and version, so a ciphertext moved to another name or
version fails authentication. The data key is wrapped by a master key (AES-256-GCM, its own
random nonce; associated data binds name, version and the master key id).
"""

from __future__ import annotations

import os

import attrs
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from spxcc_core.secrets.errors import DecryptionError
from spxcc_core.secrets.keys import MasterKey, MasterKeyring

__all__ = [
    "Sealed",
    "Wrapping",
    "open_value",
    "recover_data_key",
    "seal",
    "unwrap_data_key",
    "wrap_data_key",
]

NONCE_BYTES = 12
DATA_KEY_BYTES = 32


@attrs.frozen(repr=False)
class Wrapping:
    """A data key wrapped under one master key."""

    wrapped_key: bytes
    wrap_nonce: bytes
    master_key_id: str

    def __repr__(self) -> str:
        return f"Wrapping(master_key_id={self.master_key_id!r})"


@attrs.frozen(repr=False)
class Sealed:
    """An encrypted value and its data key wrapped under one or two master keys."""

    ciphertext: bytes
    nonce: bytes
    wrappings: tuple[Wrapping, ...]

    def __repr__(self) -> str:
        return f"Sealed(keys={[w.master_key_id for w in self.wrappings]!r})"


def _value_aad(name: str, version: int) -> bytes:
    return b"spxcc/secret-value/v1\x00" + name.encode("utf-8") + b"\x00" + str(version).encode()


def _wrap_aad(name: str, version: int, key_id: str) -> bytes:
    return (b"spxcc/data-key/v1\x00" + name.encode("utf-8") + b"\x00" + str(version).encode()
            + b"\x00" + key_id.encode("ascii"))


def wrap_data_key(data_key: bytes, *, name: str, version: int, key: MasterKey) -> Wrapping:
    """Wrap ``data_key`` for secret ``name`` at ``version`` under ``key``."""
    nonce = os.urandom(NONCE_BYTES)
    wrapped = key.aead.encrypt(nonce, data_key, _wrap_aad(name, version, key.key_id))
    return Wrapping(wrapped_key=wrapped, wrap_nonce=nonce, master_key_id=key.key_id)


def unwrap_data_key(wrapping: Wrapping, *, name: str, version: int, key: MasterKey) -> bytes:
    """The data key inside ``wrapping``.

    :raises DecryptionError: the wrapping fails authentication under ``key``.
    """
    try:
        return key.aead.decrypt(wrapping.wrap_nonce, wrapping.wrapped_key,
                                _wrap_aad(name, version, wrapping.master_key_id))
    except (InvalidTag, ValueError):
        raise DecryptionError(
            f"cannot decrypt secret {name!r}: wrapped data key failed authentication under "
            f"master key {key.key_id} (wrong key, or the row was tampered with)") from None


def seal(value: str, *, name: str, version: int, keyring: MasterKeyring) -> Sealed:
    """Encrypt ``value`` with a fresh data key wrapped under every key of ``keyring``."""
    data_key = AESGCM.generate_key(bit_length=8 * DATA_KEY_BYTES)
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(data_key).encrypt(nonce, value.encode("utf-8"), _value_aad(name, version))
    wrappings = tuple(wrap_data_key(data_key, name=name, version=version, key=k) for k in keyring)
    return Sealed(ciphertext=ciphertext, nonce=nonce, wrappings=wrappings)


def recover_data_key(sealed: Sealed, *, name: str, version: int, keyring: MasterKeyring,
                     extra: tuple[MasterKey, ...] = ()) -> bytes:
    """The data key of ``sealed``, unwrapped with whichever key of ``keyring`` (or ``extra``)
    matches a wrapping's master key id.

    :raises DecryptionError: no wrapping is under a held key ("master key <id> does not
        match"), or the matching wrapping fails authentication.
    """
    held = {k.key_id: k for k in (*keyring, *extra)}
    for wrapping in sealed.wrappings:
        key = held.get(wrapping.master_key_id)
        if key is not None:
            return unwrap_data_key(wrapping, name=name, version=version, key=key)
    stored = ", ".join(w.master_key_id for w in sealed.wrappings) or "none"
    raise DecryptionError(
        f"cannot decrypt secret {name!r}: master key {keyring.current.key_id} does not match "
        f"(the secret is wrapped under master key {stored})")


def open_value(sealed: Sealed, *, name: str, version: int, keyring: MasterKeyring) -> str:
    """The plaintext of ``sealed``.

    :raises DecryptionError: wrong master key, or ciphertext / name / version / wrapped key
        tampered with. The message names the secret, never the value.
    """
    data_key = recover_data_key(sealed, name=name, version=version, keyring=keyring)
    try:
        plain = AESGCM(data_key).decrypt(sealed.nonce, sealed.ciphertext,
                                         _value_aad(name, version))
    except (InvalidTag, ValueError):
        raise DecryptionError(
            f"cannot decrypt secret {name!r}: ciphertext failed authentication (the row was "
            "tampered with or is corrupt)") from None
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError:
        raise DecryptionError(f"cannot decrypt secret {name!r}: value is not UTF-8") from None
