"""SHA-256 of files and byte strings — the one home of the project's content hashes.

Hex digests (64 lower-case hex digits) of whole files, read in 1 MiB blocks so a file of any
size is hashed in constant memory. Used for session-cache manifests (source files), sample
manifests, websocket recordings and run-output digests.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping

__all__ = ["digests", "sha256_file", "sha256_file_size"]

_BLOCK = 1 << 20


def sha256_file_size(path: str | os.PathLike[str]) -> tuple[str, int]:
    """The SHA-256 hex digest and the size in bytes of the file at ``path``, as read.

    :raises OSError: the file cannot be read (callers turn it into their own error line).
    """
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The SHA-256 hex digest of the file at ``path``.

    :raises OSError: the file cannot be read.
    """
    return sha256_file_size(path)[0]


def digests(files: Mapping[str, bytes]) -> dict[str, str]:
    """SHA-256 hex digest of each byte string, by name (the mapping's order kept)."""
    return {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
