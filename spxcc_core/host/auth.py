"""The hub's access token: generated once, kept only as a hash, compared in constant time.

A token is 32 random bytes, URL-safe base64 (:func:`new_token`); the hub is configured with its
hash ``sha256:<64 hex digits>`` (:func:`hash_token`, :class:`TokenHash`), never with the token
itself, so a leaked configuration file or process listing gives nobody access. A SHA-256 of a
256-bit random value cannot be reversed or brute-forced, so a slow password hash (scrypt) would
add only cost per connection. :meth:`TokenHash.matches` hashes the presented token and compares
the two digests with :func:`hmac.compare_digest` (time independent of where they differ).

``python -m spxcc_core.host.auth`` prints a new token and its hash (docs/operations.md).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

import attrs

from spxcc_core.errors import ConfigError

__all__ = ["TOKEN_HASH_PREFIX", "TokenHash", "hash_token", "new_token"]

#: Prefix of a token hash: the only algorithm is SHA-256.
TOKEN_HASH_PREFIX = "sha256:"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def new_token() -> str:
    """A new random token: 32 bytes from :mod:`secrets`, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """``sha256:<hex>`` of the token's UTF-8 bytes (what the hub is configured with)."""
    return TOKEN_HASH_PREFIX + hashlib.sha256(token.encode()).hexdigest()


@attrs.frozen(repr=False)
class TokenHash:
    """A configured token hash. Build it with :meth:`parse`."""

    digest: bytes

    @classmethod
    def parse(cls, text: str, *, where: str = "hub token hash") -> TokenHash:
        """Read ``sha256:<64 lower-case hex digits>``.

        :raises ConfigError: anything else (the message never repeats the value: a token
            pasted by mistake must not end up in a log).
        """
        body = text.strip()
        if not body.startswith(TOKEN_HASH_PREFIX) or not _HEX64.match(
                body[len(TOKEN_HASH_PREFIX):]):
            raise ConfigError(f"{where}: expected sha256: followed by 64 lower-case hex digits "
                              "(python -m spxcc_core.host.auth prints a token and its hash)")
        return cls(bytes.fromhex(body[len(TOKEN_HASH_PREFIX):]))

    def matches(self, token: str) -> bool:
        """Whether ``token`` hashes to this digest (constant-time comparison)."""
        return hmac.compare_digest(hashlib.sha256(token.encode()).digest(), self.digest)

    def __repr__(self) -> str:
        return "TokenHash(sha256:…)"


def _main() -> None:  # pragma: no cover - two print lines
    token = new_token()
    print(f"token: {token}")
    print(f"hash:  {hash_token(token)}")


if __name__ == "__main__":  # pragma: no cover
    _main()
