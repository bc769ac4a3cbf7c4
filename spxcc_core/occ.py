"""OCC option symbols: parse, validate and format.

Forms accepted by :func:`parse_occ` (all the same contract):

- compact OCC: ``SPXW261125C05900000`` — root (1–6 chars) + ``YYMMDD`` + ``C|P`` + strike × 1000
  zero-padded to 8 digits;
- Massive: the compact form prefixed with ``O:`` (``O:SPXW261125C05900000``);
- OSI padded: the root space-padded to 6 characters (``SPXW  261125C05900000``, 21 chars).

A root is 1–6 upper-case letters or digits starting with a letter (``SPXW``, ``AAPL7``). Years are
``20YY``. Strikes are exact to 0.001 and lie in ``[0.001, 99999.999]``.

The underlying of a root is looked up in :data:`ROOT_UNDERLYING` (``SPXW``/``SPX`` → ``SPX``);
any other root is its own underlying unless the caller names one.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Literal

import attrs

from spxcc_core.errors import InputError

__all__ = [
    "ROOT_UNDERLYING",
    "OptionSymbol",
    "format_occ",
    "is_occ",
    "parse_occ",
    "underlying_for_root",
]

Right = Literal["C", "P"]

#: Roots whose underlying differs from the root itself (index weeklies/PM-settled classes).
ROOT_UNDERLYING: dict[str, str] = {
    "SPX": "SPX",
    "SPXW": "SPX",
    "SPXPM": "SPX",
    "NDXP": "NDX",
    "RUTW": "RUT",
    "VIXW": "VIX",
}

_MASSIVE_PREFIX = "O:"
_PATTERN = re.compile(r"^(?P<root>[A-Za-z0-9]{1,6})(?P<pad> *)(?P<date>\d{6})(?P<right>[A-Za-z])"
                      r"(?P<strike>\d{8})$")
_ROOT = re.compile(r"^[A-Z][A-Z0-9]{0,5}$")
_MAX_STRIKE_MILLI = 99_999_999


def underlying_for_root(root: str) -> str:
    """The underlying symbol of an option root (``SPXW`` → ``SPX``; unknown roots map to
    themselves)."""
    return ROOT_UNDERLYING.get(root, root)


def _strike_milli(value: object) -> int:
    if isinstance(value, bool):
        raise InputError("strike", f"{value!r} is not a number")
    try:
        dec = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise InputError("strike", f"{value!r} is not a number") from None
    if not dec.is_finite():
        raise InputError("strike", f"{value!r} is not finite")
    milli = dec * 1000
    if milli != milli.to_integral_value():
        raise InputError("strike", f"{value!r} has more than 3 decimals")
    as_int = int(milli)
    if not 1 <= as_int <= _MAX_STRIKE_MILLI:
        raise InputError("strike", f"{value!r} is outside 0.001..99999.999")
    return as_int


def _check_root(value: str) -> str:
    if not isinstance(value, str) or not _ROOT.match(value):
        raise InputError("root", f"{value!r} must be 1-6 upper-case letters/digits starting "
                                 "with a letter")
    return value


def _check_expiry(value: date) -> date:
    if not isinstance(value, date):
        raise InputError("expiry", f"{value!r} is not a date")
    if not 2000 <= value.year <= 2099:
        raise InputError("expiry", f"{value.isoformat()} is outside 2000..2099")
    return value


def _check_right(value: str) -> str:
    if value not in ("C", "P"):
        raise InputError("right", f"{value!r} must be 'C' or 'P'")
    return value


@attrs.frozen(slots=True)
class OptionSymbol:
    """One listed option contract.

    :ivar root: option root (``SPXW``), 1–6 upper-case alphanumerics.
    :ivar expiry: expiration date (calendar date of the OCC symbol).
    :ivar right: ``"C"`` (call) or ``"P"`` (put).
    :ivar strike_milli: strike × 1000 as an integer (exact); see :attr:`strike`.
    :ivar underlying: the underlying symbol (``SPX`` for ``SPXW``), defaulted from the root.
    """

    root: str = attrs.field(converter=_check_root)
    expiry: date = attrs.field(converter=_check_expiry)
    right: Right = attrs.field(converter=_check_right)
    strike_milli: int = attrs.field()
    underlying: str = attrs.field()

    @strike_milli.validator
    def _strike_ok(self, _a: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not (
                1 <= value <= _MAX_STRIKE_MILLI):
            raise InputError("strike", f"strike×1000 {value!r} is outside 1..99999999")

    @underlying.default
    def _underlying_default(self) -> str:
        return underlying_for_root(self.root)

    @underlying.validator
    def _underlying_ok(self, _a: attrs.Attribute[str], value: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise InputError("underlying", f"{value!r} must be a non-empty symbol")

    @classmethod
    def of(cls, root: str, expiry: date, right: str, strike: object,
           underlying: str | None = None) -> OptionSymbol:
        """Build from a strike in price units (``5900``, ``"5900.5"``, ``Decimal``); a float
        strike must be exact to 0.001.

        :raises InputError: any part is invalid.
        """
        milli = _strike_milli(strike)
        if underlying is None:
            return cls(root=root, expiry=expiry, right=right,
                       strike_milli=milli)
        return cls(root=root, expiry=expiry, right=right,
                   strike_milli=milli, underlying=underlying)

    @property
    def strike(self) -> Decimal:
        """Strike price in the underlying's price units, exact."""
        return Decimal(self.strike_milli) / 1000

    @property
    def is_call(self) -> bool:
        """True for a call."""
        return self.right == "C"

    def occ(self, *, massive: bool = False) -> str:
        """Compact OCC symbol (``SPXW261125C05900000``), ``O:``-prefixed when ``massive``."""
        text = f"{self.root}{self.expiry:%y%m%d}{self.right}{self.strike_milli:08d}"
        return _MASSIVE_PREFIX + text if massive else text

    def osi(self) -> str:
        """OSI padded form: root space-padded to 6 characters (``SPXW  261125C05900000``)."""
        return f"{self.root:<6}{self.expiry:%y%m%d}{self.right}{self.strike_milli:08d}"

    def __str__(self) -> str:
        return self.occ()


def parse_occ(text: str, *, underlying: str | None = None) -> OptionSymbol:
    """Parse an OCC option symbol in compact, ``O:``-prefixed or OSI padded form.

    :param text: the symbol.
    :param underlying: the underlying to record; None maps the root (:data:`ROOT_UNDERLYING`).
    :raises InputError: naming the symbol and what is wrong with it (length, root, date, right,
        strike).
    """
    if not isinstance(text, str):
        raise InputError("option symbol", f"{text!r} is not a string")
    source = f"option symbol {text!r}"
    body = text[len(_MASSIVE_PREFIX):] if text.startswith(_MASSIVE_PREFIX) else text
    m = _PATTERN.match(body)
    if m is None:
        raise InputError(source, "expected ROOT(1-6) + YYMMDD + C|P + 8-digit strike×1000")
    root, pad = m.group("root"), m.group("pad")
    if pad and len(root) + len(pad) != 6:
        raise InputError(source, "padded root must be exactly 6 characters wide")
    if not _ROOT.match(root):
        raise InputError(source, f"root {root!r} must be upper-case letters/digits starting "
                                 "with a letter")
    digits = m.group("date")
    try:
        expiry = date(2000 + int(digits[:2]), int(digits[2:4]), int(digits[4:]))
    except ValueError:
        raise InputError(source, f"expiry {digits!r} is not a valid YYMMDD date") from None
    right = m.group("right")
    if right not in ("C", "P"):
        raise InputError(source, f"right {right!r} must be C or P")
    milli = int(m.group("strike"))
    if milli == 0:
        raise InputError(source, "strike is zero")
    if underlying is None:
        return OptionSymbol(root=root, expiry=expiry, right=right,
                            strike_milli=milli)
    try:
        return OptionSymbol(root=root, expiry=expiry, right=right,
                            strike_milli=milli, underlying=underlying)
    except InputError as exc:
        raise InputError(source, exc.problem) from None


def is_occ(text: str) -> bool:
    """True when ``text`` parses as an OCC option symbol in any accepted form."""
    try:
        parse_occ(text)
    except InputError:
        return False
    return True


def format_occ(symbol: OptionSymbol, *, massive: bool = False, osi: bool = False) -> str:
    """Format ``symbol`` compact (default), ``O:``-prefixed (``massive``) or OSI padded (``osi``).

    :raises ValueError: both ``massive`` and ``osi`` were requested.
    """
    if massive and osi:
        raise ValueError("choose one of massive= and osi=")
    return symbol.osi() if osi else symbol.occ(massive=massive)
