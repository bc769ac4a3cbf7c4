"""Reading a flat file's bytes, inflating gzip with the fastest available library.

ISA-L (the ``isal`` package) inflates gzip about 2.5× faster than the standard library's zlib;
``zlib-ng`` is the second choice and :mod:`zlib` the fallback where neither is installed. All
three produce the same bytes (gzip is lossless), so the choice changes speed only.

:func:`read_chunks` yields the *uncompressed* bytes of a file in pieces. It is strict: damage of
any kind (a bad header, a bad checksum, a truncated last member, data after the last member that
is not another member) raises :class:`InflateError`, whose caller then hands the file to the
slower path that names the problem precisely (``flatfile.locate_gzip_problem``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from types import ModuleType

__all__ = ["INFLATE_LIBRARY", "InflateError", "read_chunks"]


def _library(choice: str) -> ModuleType:
    """``choice``: ``zlib`` forces the standard library (``SPXCC_INFLATE=zlib``, for
    measurements); anything else takes the fastest library installed."""
    if choice != "zlib":
        try:
            from isal import isal_zlib

            return isal_zlib
        except ImportError:  # pragma: no cover - isal is a dependency; kept for odd platforms
            pass
        try:  # pragma: no cover
            from zlib_ng import zlib_ng

            found: ModuleType = zlib_ng  # typed here: zlib-ng may be absent when type-checking
            return found
        except ImportError:  # pragma: no cover
            pass
    import zlib

    return zlib


_ZLIB = _library(os.environ.get("SPXCC_INFLATE", ""))
#: The module that inflates gzip here: ``isal.isal_zlib``, ``zlib_ng.zlib_ng`` or ``zlib``.
INFLATE_LIBRARY: str = _ZLIB.__name__

#: Compressed bytes read per step (about 1 MB of CSV text at Massive's compression ratio).
READ_SIZE = 1 << 18
_GZIP_WBITS = 31


class InflateError(Exception):
    """The file could not be read or inflated cleanly (the reason is not user-facing)."""


def read_chunks(path: str | os.PathLike[str], gz: bool, *, library: ModuleType | None = None,
                read_size: int = READ_SIZE) -> Iterator[bytes]:
    """The file's uncompressed bytes in pieces (none empty), in order.

    :param gz: inflate the file as gzip (concatenated members are followed).
    :param library: a zlib-compatible module to inflate with (default :data:`INFLATE_LIBRARY`).
    :raises InflateError: unreadable file or damaged gzip stream.
    """
    lib = library if library is not None else _ZLIB
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed in finally, across yields
    except OSError as exc:
        raise InflateError(str(exc)) from None
    try:
        if not gz:
            while True:
                piece = _read(fh, read_size)
                if not piece:
                    return
                yield piece
        d = lib.decompressobj(wbits=_GZIP_WBITS)
        started = False  # a member has begun (its header bytes were seen)
        compressed = bytearray(read_size)  # reused: each step's input is consumed whole
        while True:
            size = _read_into(fh, compressed)
            if not size:
                break
            data: bytes | memoryview = memoryview(compressed)[:size]
            while data:
                started = True
                try:
                    out = d.decompress(data)
                except Exception as exc:  # each library has its own error type
                    raise InflateError(str(exc)) from None
                if out:
                    yield out
                if not d.eof:
                    data = b""
                    continue
                data = d.unused_data  # the next member, or damage (raises above)
                d = lib.decompressobj(wbits=_GZIP_WBITS)
                started = False
        if started and not d.eof:
            raise InflateError("truncated gzip stream")
    finally:
        fh.close()


def _read(fh: object, size: int) -> bytes:
    try:
        return fh.read(size)  # type: ignore[attr-defined, no-any-return]
    except OSError as exc:
        raise InflateError(str(exc)) from None


def _read_into(fh: object, buffer: bytearray) -> int:
    try:
        return fh.readinto(buffer) or 0  # type: ignore[attr-defined]
    except OSError as exc:
        raise InflateError(str(exc)) from None
