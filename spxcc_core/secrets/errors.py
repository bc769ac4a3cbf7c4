"""Errors of the secret vault. Messages name the secret and the problem, never the value."""

from __future__ import annotations

from spxcc_core.errors import SpxccError

__all__ = ["DecryptionError", "SecretError", "SecretNotFoundError"]


class SecretError(SpxccError):
    """A vault operation failed (the CLI prints it as one line and exits 2)."""


class SecretNotFoundError(SecretError):
    """No secret of that name is stored (or none could be resolved from the environment)."""


class DecryptionError(SecretError):
    """A stored secret cannot be decrypted: wrong master key, or tampered / corrupt row."""
