"""`resolve_secret`: the one call a command uses to obtain a credential."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from spxcc_core.errors import ConfigError
from spxcc_core.secrets.errors import SecretNotFoundError
from spxcc_core.secrets.keys import MasterKeySource
from spxcc_core.secrets.value import Secret
from spxcc_core.secrets.vault import Vault, validate_secret_name
from spxcc_core.store import Store

__all__ = ["check_env_var_name", "env_var_label", "resolve_secret"]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_SHOWN_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")


def check_env_var_name(option: str, name: str) -> str:
    """Return ``name`` if it can name an environment variable (``[A-Za-z_][A-Za-z0-9_]*``).

    Options such as ``--api-key-env VAR`` take a variable's *name*; a user who types the secret
    there instead must not see it echoed.

    :raises ConfigError: otherwise; the message does not repeat ``name``.
    """
    if not _ENV_NAME.fullmatch(name):
        raise ConfigError(f"{option}: not an environment variable name (letters, digits and _; "
                          "the value is not shown); give the variable's name, not the secret")
    return name


def env_var_label(name: str) -> str:
    """How messages name the environment variable ``name``: ``environment variable NAME`` for
    a conventional upper-case name, else a description without it (a lower- or mixed-case
    "name" may well be a secret typed in the wrong place)."""
    if _SHOWN_ENV_NAME.fullmatch(name):
        return f"environment variable {name}"
    return "the environment variable named on the command line (name not shown)"


def resolve_secret(name: str, *, store: Store | None, key_source: MasterKeySource | None,
                   env_var: str | None = None,
                   environ: Mapping[str, str] | None = None) -> Secret:
    """The secret ``name``: from ``env_var`` when given and set non-empty, else from the vault.

    :param name: the vault name (e.g. ``tradier_token``); also labels the returned Secret.
    :param store: the store holding the vault, or None when only the environment may be used.
    :param key_source: where the master key comes from (loaded only if the vault is read).
    :param env_var: an environment variable that overrides the vault (e.g.
        ``SPXCC_TRADIER_TOKEN``); None to use the vault only.
    :param environ: the environment to read (default ``os.environ``).
    :raises SecretNotFoundError: neither source has it (the message says what was tried).
    :raises ConfigError: the vault must be read but the master key is missing or invalid.
    :raises DecryptionError: the master key does not match, or the row was tampered with.
    """
    validate_secret_name(name)
    env = os.environ if environ is None else environ
    if env_var:
        value = env.get(env_var)
        if value:
            return Secret(value, name=name, source=f"env {env_var}")
    if store is None or key_source is None:
        tried = f"{env_var_label(env_var)} is not set and " if env_var else ""
        missing = "store" if store is None else "master key"
        raise SecretNotFoundError(f"secret {name!r} not available: {tried}no vault to read "
                                  f"(no {missing} given)")
    vault = Vault(store, key_source.keyring())
    try:
        return vault.get(name)
    except SecretNotFoundError:
        if env_var:
            raise SecretNotFoundError(
                f"secret {name!r} not found: {env_var_label(env_var)} is not set and the "
                f"vault {store.location} has no such secret (store it with `spxcc secrets set "
                f"{name}`)") from None
        raise
