"""`Redactor`: remove a secret from text a remote party sent back, in every form it may take.

A broken or hostile server may echo a credential back: verbatim, base64-encoded (as in an HTTP
Basic header, at any alignment inside a larger encoded string), URL-encoded, as hex, or split in
pieces (two fields, a wrapped line). Such text reaches error messages, logs and stored
snapshots, so everything a broker or feed sends is passed through a :class:`Redactor` first.

Forms removed (each replaced by ``***``):

- the value itself;
- base64 (standard and urlsafe alphabet) of any byte string containing the value: for each of
  the three alignments the characters determined by the value alone, widened to the whole
  base64 word around them;
- URL encoding (``quote``, ``quote_plus`` and every byte as ``%XX``, upper and lower case hex);
- hex of the UTF-8 bytes (upper and lower case);
- with ``fragment`` set (default 8): every run of at least ``fragment`` consecutive characters
  of the value, so a value split into pieces of at least that length is removed piece by piece
  (values shorter than ``2 × fragment`` only whole).

The needles are computed once per value; :meth:`Redactor.scrub` costs a substring search per
needle. Needles shorter than 4 characters are not used (they would match ordinary text).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import NoReturn
from urllib.parse import quote, quote_plus

__all__ = ["MASK", "Redactor", "encoded_forms"]

#: What a removed secret is replaced with.
MASK = "***"
_MIN_NEEDLE = 4


def _base64_cores(raw: bytes) -> list[str]:
    """For each alignment (0–2 bytes before ``raw`` in the encoded string), the base64
    characters that depend on ``raw`` alone, in both alphabets."""
    out: list[str] = []
    n = len(raw)
    for k in range(3):
        enc = base64.b64encode(b"\x00" * k + raw).decode("ascii")
        start = -(-8 * k // 6)  # ceil: characters touching the prefix are skipped
        end = (8 * (k + n)) // 6  # floor: the last partial character depends on what follows
        core = enc[start:end]
        out += [core, core.replace("+", "-").replace("/", "_")]
    return out


def encoded_forms(value: str) -> list[str]:
    """The encoded forms of ``value`` removed by a :class:`Redactor` (without fragments),
    longest first, without duplicates; empty for an empty value."""
    if not value:
        return []
    raw = value.encode("utf-8")
    forms = [value, quote(value, safe=""), quote_plus(value, safe=""),
             "".join(f"%{b:02X}" for b in raw), "".join(f"%{b:02x}" for b in raw),
             raw.hex(), raw.hex().upper(), *_base64_cores(raw)]
    unique = {f for f in forms if len(f) >= _MIN_NEEDLE}
    return sorted(unique, key=lambda f: (-len(f), f))


_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-=")


def _word(text: str, start: int, end: int) -> tuple[int, int]:
    """``[start, end)`` widened over the base64 characters around it."""
    while start > 0 and text[start - 1] in _B64_CHARS:
        start -= 1
    while end < len(text) and text[end] in _B64_CHARS:
        end += 1
    return start, end


class Redactor:
    """Removes the given secret values from text and bytes.

    :param values: the secrets (empty ones are ignored).
    :param fragment: remove every run of this many consecutive characters of a value (see the
        module docstring); ``None`` to remove whole encoded forms only.
    """

    __slots__ = ("_b64", "_needles")

    def __init__(self, values: Iterable[str], *, fragment: int | None = 8) -> None:
        needles: set[str] = set()
        self._b64: set[str] = set()
        for value in values:
            if not value:
                continue
            needles.update(encoded_forms(value))
            self._b64.update(c for c in _base64_cores(value.encode("utf-8"))
                             if len(c) >= _MIN_NEEDLE)
            if fragment is not None and len(value) >= 2 * fragment:
                needles.update(value[i:i + fragment] for i in range(len(value) - fragment + 1))
        self._needles = sorted(needles, key=lambda f: (-len(f), f))

    def __repr__(self) -> str:
        return f"Redactor({len(self._needles)} needles)"

    def __reduce__(self) -> NoReturn:
        raise TypeError("refusing to pickle a Redactor (it holds secret material)")

    def contains(self, text: str) -> bool:
        """True when ``text`` holds any form of a secret."""
        return any(n in text for n in self._needles)

    def scrub(self, text: str) -> str:
        """``text`` with every span covered by a form of a secret replaced by :data:`MASK`
        (overlapping or adjacent spans become one mask)."""
        spans: list[tuple[int, int]] = []
        for needle in self._needles:
            found = text.find(needle)
            while found != -1:
                span = (found, found + len(needle))
                if needle in self._b64:  # the whole base64 word: its edges carry bits too
                    span = _word(text, *span)
                spans.append(span)
                found = text.find(needle, found + 1)
        if not spans:
            return text
        spans.sort()
        merged: list[list[int]] = [list(spans[0])]
        for s, e in spans[1:]:
            if s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        out: list[str] = []
        pos = 0
        for s, e in merged:
            out += [text[pos:s], MASK]
            pos = e
        out.append(text[pos:])
        return "".join(out)

    def scrub_bytes(self, data: bytes) -> bytes:
        """:meth:`scrub` for bytes (decoded as UTF-8 with surrogate escapes, so other bytes
        pass through unchanged)."""
        text = data.decode("utf-8", "surrogateescape")
        if not self.contains(text):
            return data
        return self.scrub(text).encode("utf-8", "surrogateescape")
