"""`Secret`: a string that redacts itself everywhere except through :meth:`Secret.reveal`.

``repr``, ``str``, f-strings / ``format`` with any spec, ``%s`` / ``%r`` (and so ``logging``),
tracebacks with locals and rich pretty-printing all show :data:`REDACTED`. ``json.dumps`` and a
plain msgspec encoder raise ``TypeError`` naming only the type; :func:`secret_enc_hook` makes a
msgspec encoder emit :data:`REDACTED` instead. Pickling and ``copy`` across processes are refused.
"""

from __future__ import annotations

import hmac
from typing import Any, NoReturn, final

__all__ = ["REDACTED", "Secret", "secret_enc_hook"]

#: What every rendering of a secret shows instead of its value.
REDACTED = "***"


@final
class Secret:
    """An immutable secret string (e.g. a broker API token).

    :param value: the plaintext; must be a non-empty ``str``.
    :param name: a non-secret label used in reprs and error messages (e.g. ``tradier_token``).
    :param source: a non-secret description of where the value came from (``vault``,
        ``env SPXCC_TRADIER_TOKEN``, ``stdin``), shown in ``repr``.
    """

    __slots__ = ("_name", "_source", "_value")

    _name: str
    _source: str
    _value: str

    def __init__(self, value: str, *, name: str = "secret", source: str = "") -> None:
        if not isinstance(value, str):
            raise TypeError(f"secret {name!r}: value must be str, not {type(value).__name__}")
        if not value:
            raise ValueError(f"secret {name!r}: value is empty")
        object.__setattr__(self, "_value", value)
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_source", source)

    @property
    def name(self) -> str:
        """The non-secret label given at construction."""
        return self._name

    @property
    def source(self) -> str:
        """Where the value came from (non-secret; may be empty)."""
        return self._source

    def reveal(self) -> str:
        """The plaintext. The only way to get it; call it at the point of use, never to log."""
        return self._value

    def __repr__(self) -> str:
        src = f", source={self._source!r}" if self._source else ""
        return f"Secret(name={self._name!r}{src}, value={REDACTED!r})"

    def __str__(self) -> str:
        return REDACTED

    def __format__(self, format_spec: str) -> str:
        return REDACTED

    def __bytes__(self) -> NoReturn:
        raise TypeError(f"secret {self._name!r} cannot be converted to bytes; use reveal()")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    __hash__ = None  # type: ignore[assignment]  # hashing would leak equality classes cheaply

    def __setattr__(self, key: str, value: object) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __delattr__(self, key: str) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError(f"refusing to pickle secret {self._name!r}")

    def __reduce__(self) -> NoReturn:
        raise TypeError(f"refusing to pickle secret {self._name!r}")

    def __getstate__(self) -> NoReturn:
        raise TypeError(f"refusing to pickle secret {self._name!r}")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self


def secret_enc_hook(obj: Any) -> Any:
    """A msgspec ``enc_hook`` that encodes a :class:`Secret` as :data:`REDACTED`.

    Any other unsupported type raises ``TypeError`` (as msgspec does without a hook).
    """
    if isinstance(obj, Secret):
        return REDACTED
    raise TypeError(f"objects of type {type(obj).__name__} are not supported")
