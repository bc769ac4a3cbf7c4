"""SHA-256 of files and byte strings — the one home of the project's content hashes.

Hex digests (64 lower-case hex digits) of whole files, read in 1 MiB blocks so a file of any
size is hashed in constant memory. Used for session-cache manifests (source files), sample
manifests, websocket recordings and run-output digests; :func:`module_code` and
:func:`code_fingerprint` name the code of a set of modules (the bars cache's key).
"""

from __future__ import annotations

import hashlib
import importlib.util
import marshal
import os
from collections.abc import Iterable, Mapping

__all__ = ["code_fingerprint", "digests", "module_code", "sha256_file", "sha256_file_size"]

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


def module_code(name: str) -> tuple[str, bytes]:
    """How the installed module ``name`` is known, and its bytes, without running it (the
    parent packages are imported to find it):

    - ``("source", text)``: its source, decoded as Python decodes it (universal newlines) and
      encoded as UTF-8 — content only, so the same file gives the same bytes on every machine,
      in every folder, whatever its modification time or line endings;
    - ``("compiled", marshalled code object)``: an install without the source (a ``.pyc``
      only); stable for one build of the install, a different build may differ;
    - ``("opaque", file bytes)``: neither source nor code object (an extension module);
    - ``("absent", b"")``: no such module, or nothing of it can be read.

    Never raises for a module that cannot be found or read.
    """
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return "absent", b""
    loader = spec.loader if spec is not None else None
    if spec is None or loader is None:
        return "absent", b""
    try:
        text = loader.get_source(name)  # type: ignore[attr-defined]
    except (ImportError, OSError, AttributeError, UnicodeDecodeError, SyntaxError):
        text = None
    if text is None and spec.origin and spec.origin.endswith(".py"):
        # a loader that does not give the source (an import hook such as pytest's
        # assertion rewriter): read the file as Python would
        try:
            with open(spec.origin, "rb") as f:
                text = importlib.util.decode_source(f.read())
        except (OSError, UnicodeDecodeError, SyntaxError):
            text = None
    if text is not None:
        return "source", text.encode("utf-8")
    try:
        code = loader.get_code(name)  # type: ignore[attr-defined]
    except (ImportError, OSError, AttributeError, EOFError, ValueError, TypeError):
        code = None
    if code is not None:
        return "compiled", marshal.dumps(code)
    if spec.origin and os.path.isfile(spec.origin):
        try:
            with open(spec.origin, "rb") as f:
                return "opaque", f.read()
        except OSError:
            pass
    return "absent", b""


def code_fingerprint(names: Iterable[str]) -> str:
    """SHA-256 (hex) of the code of the modules ``names`` (:func:`module_code`): for each
    name, sorted and without repeats, its name, how it is known and the SHA-256 of its bytes.
    No path, time or machine enters it; a change to any module's code changes it."""
    h = hashlib.sha256()
    for name in sorted(set(names)):
        how, data = module_code(name)
        h.update(f"{name} {how} {hashlib.sha256(data).hexdigest()}\n".encode())
    return h.hexdigest()
