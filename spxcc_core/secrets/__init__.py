"""Encrypted broker credentials (spec G4): the vault, master keys and self-redacting values.

Values are encrypted at rest with envelope encryption (AES-256-GCM): a fresh random data key
per secret and per write encrypts the value (associated data binds the secret's name and
version), and the data key is wrapped by a 256-bit master key that lives outside the store —
in ``$SPXCC_MASTER_KEY`` or a ``0600`` key file. Operations: ``docs/secrets.md``.

API
---

``resolve_secret(name, *, store, key_source, env_var=None) -> Secret``
    What commands call: ``env_var`` (e.g. ``SPXCC_TRADIER_TOKEN``) when given and set, else the
    vault. Raises :class:`SecretNotFoundError`, :class:`~spxcc_core.errors.ConfigError` (no or
    bad master key) or :class:`DecryptionError` (wrong key, tampered row) — all
    :class:`~spxcc_core.errors.SpxccError`, so the CLI prints one line and exits 2.

``MasterKeySource.from_env_or_file(key_file) -> MasterKeySource``
    ``key_file`` when given, else ``$SPXCC_MASTER_KEY``; optional previous key for a rotation
    (``previous_key_file=`` or ``$SPXCC_MASTER_KEY_PREVIOUS``). Constructing never fails; the
    key is loaded (and its file's permissions checked) on first ``.keyring()``.

``Secret(value, *, name, source="")``
    Redacts itself in ``repr``/``str``/``format``/``%``-formatting/logging; ``json.dumps``
    raises; msgspec raises unless its encoder uses :func:`secret_enc_hook` (emits ``"***"``);
    pickling is refused. ``.reveal()`` is the only way to the plaintext.

``Redactor(values, fragment=8)``
    ``.scrub(text)`` / ``.scrub_bytes(data)`` remove a secret in every form a server may echo it
    (verbatim, base64 at any alignment, URL-encoded, hex, pieces of ``fragment`` or more
    characters); every response of a broker passes through one before anything reads it.

``Vault(store, keyring)``
    ``put(name, value) -> SecretInfo``, ``get(name) -> Secret``, ``list()``, ``info(name)``,
    ``delete(name)``, ``rotate(new_key) -> RotationReport`` (re-wraps data keys one row per
    transaction, keeping the old wrapping so readers on either key keep working),
    ``finish_rotation()`` (drops old wrappings).

``MasterKey``, ``MasterKeyring(current, previous=None)``, ``parse_master_key``,
``read_key_file``, ``write_key_file``, ``generate_master_key_text``
    Key handling; a key's ``key_id`` (16 hex of SHA-256 of an HKDF derivation) is the only
    representation of a key ever shown.
"""

from __future__ import annotations

from spxcc_core.secrets.errors import DecryptionError, SecretError, SecretNotFoundError
from spxcc_core.secrets.info import SecretInfo
from spxcc_core.secrets.keys import (
    MASTER_KEY_ENV,
    PREVIOUS_MASTER_KEY_ENV,
    MasterKey,
    MasterKeyring,
    MasterKeySource,
    check_key_file_permissions,
    generate_master_key_text,
    parse_master_key,
    read_key_file,
    write_key_file,
)
from spxcc_core.secrets.redact import MASK, Redactor, encoded_forms
from spxcc_core.secrets.resolve import check_env_var_name, env_var_label, resolve_secret
from spxcc_core.secrets.value import REDACTED, Secret, secret_enc_hook
from spxcc_core.secrets.vault import RotationReport, Vault, validate_secret_name

__all__ = [
    "MASK",
    "MASTER_KEY_ENV",
    "PREVIOUS_MASTER_KEY_ENV",
    "REDACTED",
    "DecryptionError",
    "MasterKey",
    "MasterKeySource",
    "MasterKeyring",
    "Redactor",
    "RotationReport",
    "Secret",
    "SecretError",
    "SecretInfo",
    "SecretNotFoundError",
    "Vault",
    "check_env_var_name",
    "check_key_file_permissions",
    "encoded_forms",
    "env_var_label",
    "generate_master_key_text",
    "parse_master_key",
    "read_key_file",
    "resolve_secret",
    "secret_enc_hook",
    "validate_secret_name",
    "write_key_file",
]
