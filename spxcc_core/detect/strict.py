"""A strict cattrs converter for human-written configuration tables (profiles).

:func:`structure` builds an attrs class from a TOML table with **no silent coercion**: ``"5"``
is not a float, ``1`` not a bool, ``1.0`` not an int (an int is accepted for a float and
becomes a float); a ``Literal`` takes only its listed values; a table must be a table. Unknown
keys are rejected (``forbid_extra_keys``). Errors are :class:`StrictError` with one message in
the spelling the profile loader has always used (msgspec's)::

    Expected `float`, got `str` - at `$.max_avg_spread_bps`
    Invalid enum value 'ignore' - at `$.missing`
    Object contains unknown field `enable`
    Object missing required field `version`

(the ``- at`` path is left out at the top of the table; a mapping's values are ``[...]``).
Exceptions an attrs validator raises (``ValueError``, ``TypeError``) pass through unchanged.
"""

from __future__ import annotations

import datetime as dt
import typing
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
)

__all__ = ["StrictError", "structure", "type_name"]

T = TypeVar("T")


class StrictError(ValueError):
    """A table that does not fit its class; the message says what and where."""


class _Leaf(Exception):
    """A leaf problem, before its path is known."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_NAMES: tuple[tuple[type, str], ...] = (
    (bool, "bool"), (int, "int"), (float, "float"), (str, "str"), (dict, "object"),
    (list, "array"), (tuple, "array"), (dt.datetime, "datetime"), (dt.date, "date"),
    (dt.time, "time"), (type(None), "null"))


def type_name(value: object) -> str:
    """The configuration-language name of a value's type (``int``, ``float``, ``object``,
    ``array``, ``date``, ...)."""
    for cls, name in _NAMES:
        if isinstance(value, cls):
            return name
    return type(value).__name__


def _mismatch(expected: str, value: object) -> _Leaf:
    return _Leaf(f"Expected `{expected}`, got `{type_name(value)}`")


def _float(value: object, _: type) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _mismatch("float", value)
    return float(value)


def _int(value: object, _: type) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _mismatch("int", value)
    return value


def _bool(value: object, _: type) -> bool:
    if not isinstance(value, bool):
        raise _mismatch("bool", value)
    return value


def _str(value: object, _: type) -> str:
    if not isinstance(value, str):
        raise _mismatch("str", value)
    return value


def _any(value: object, _: type) -> object:
    return value


def _is_literal(t: Any) -> bool:
    return typing.get_origin(t) is typing.Literal


def _literal(value: object, t: Any) -> object:
    allowed = typing.get_args(t)
    kinds = {type(a) for a in allowed}
    if type(value) not in kinds:
        raise _mismatch(type_name(allowed[0]), value)
    if value not in allowed:
        raise _Leaf(f"Invalid enum value {value!r}")
    return value


def _is_str_mapping(t: Any) -> bool:
    return typing.get_origin(t) in (dict, Mapping)


def _mapping_hook(conv: cattrs.Converter) -> Callable[[Any], Callable[[object, Any], object]]:
    def factory(t: Any) -> Callable[[object, Any], object]:
        args = typing.get_args(t)
        value_type = args[1] if len(args) == 2 else Any

        def hook(value: object, _: Any) -> object:
            if not isinstance(value, dict):
                raise _mismatch("object", value)
            out: dict[str, object] = {}
            for k, v in value.items():
                try:
                    out[k] = conv.structure(v, value_type)
                except _Leaf as exc:
                    raise _Leaf(f"{exc.message}\x00[...]") from None
                except ClassValidationError as exc:
                    raise _Leaf(f"{_describe(exc, '')}\x00[...]") from None
            return out

        return hook

    return factory


@cache
def _converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    conv.register_structure_hook(float, _float)
    conv.register_structure_hook(int, _int)
    conv.register_structure_hook(bool, _bool)
    conv.register_structure_hook(str, _str)
    conv.register_structure_hook(Any, _any)
    conv.register_structure_hook_func(_is_literal, _literal)
    conv.register_structure_hook_factory(_is_str_mapping, _mapping_hook(conv))
    return conv


def _split(message: str) -> tuple[str, str]:
    """A leaf message and the path suffix a mapping hook attached (``\\x00`` separated)."""
    text, _, tail = message.partition("\x00")
    return text, tail


def _at(message: str, path: str) -> str:
    return f"{message} - at `$" + path + "`" if path else message


def _name(exc: BaseException) -> str | None:
    for note in getattr(exc, "__notes__", ()):
        name = getattr(note, "name", None)
        if isinstance(name, str):
            return name
        index = getattr(note, "index", None)
        if isinstance(index, int):
            return f"[{index}]"
    return None


def _describe(exc: BaseException, path: str) -> str:
    """The first problem inside a (nested) cattrs validation error, with its path."""
    if isinstance(exc, ForbiddenExtraKeysError):
        return _at(f"Object contains unknown field `{sorted(exc.extra_fields)[0]}`", path)
    if isinstance(exc, ClassValidationError | IterableValidationError):
        sub = exc.exceptions
        # unknown keys first, as a reader fixes those first
        first = next((e for e in sub if isinstance(e, ForbiddenExtraKeysError)), sub[0])
        name = _name(first)
        if name is None:
            return _describe(first, path)
        if isinstance(first, KeyError):
            return _at(f"Object missing required field `{name}`", path)
        child = path + (name if name.startswith("[") else f".{name}")
        return _describe(first, child)
    if isinstance(exc, _Leaf):
        text, tail = _split(exc.message)
        return _at(text, path + tail)
    raise exc


def structure(values: Mapping[str, Any], cls: type[T]) -> T:
    """Build attrs class ``cls`` from the table ``values`` (see the module docstring).

    :raises StrictError: an unknown key, a missing one, or a value of the wrong type.
    :raises ValueError: an attrs validator refused a value (its own message).
    """
    if not attrs.has(cls):
        raise TypeError(f"{cls!r} is not an attrs class")
    try:
        built: T = _converter().structure(dict(values), cls)  # type: ignore[assignment]
    except (ClassValidationError, ForbiddenExtraKeysError) as exc:
        raise StrictError(_describe(exc, "")) from None
    return built
