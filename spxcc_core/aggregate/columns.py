"""Columnar event batches: the interface between sources (ingestion) and the aggregation kernel.

A batch holds one feed's events in **arrival order** (file row order, or message order for a
live feed) as numpy columns of equal length. Symbols and trade-condition sets are interned into
small integer ids by a :class:`SymbolTable` and a :class:`ConditionTable` that the source and the
aggregator share.

Units: ``ts`` int64 nanoseconds since the UTC epoch; prices float64 in quote currency; sizes
float64 in source units; ``seq`` int64 with ``-1`` meaning "the source gave none"; ``line`` int64,
the 1-based data row in its file or the 1-based message index of a live feed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Self

import attrs
import numpy as np
import numpy.typing as npt

# The eligibility bits live with the condition table; re-exported for the kernel and readers.
from spxcc_core.conditions import ELIG_CLASSIFY, ELIG_HL, ELIG_OC, ELIG_V

__all__ = [
    "ELIG_CLASSIFY",
    "ELIG_HL",
    "ELIG_OC",
    "ELIG_V",
    "NO_SEQ",
    "ConditionTable",
    "QuoteColumns",
    "SymbolTable",
    "TradeColumns",
]

#: ``seq`` value meaning "no sequence number from the source" (sorts before any real one).
NO_SEQ = -1

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def _same_length(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    n = len(instance.ts)
    if len(value) != n:
        raise ValueError(f"column {attribute.name} has {len(value)} rows, ts has {n}")


def _i64(a: Any) -> I64:
    return np.ascontiguousarray(a, dtype=np.int64)


def _i32(a: Any) -> I32:
    return np.ascontiguousarray(a, dtype=np.int32)


def _f64(a: Any) -> F64:
    return np.ascontiguousarray(a, dtype=np.float64)


class _Rows:
    """Row selection and concatenation shared by the column batches (attrs classes whose
    fields are arrays of one length)."""

    def take(self, index: npt.NDArray[Any]) -> Self:
        """Rows selected by an integer index or boolean mask, in that order."""
        cls = type(self)
        return cls(**{f.name: getattr(self, f.name)[index]
                      for f in attrs.fields(cls)})  # type: ignore[arg-type]

    @classmethod
    def concat(cls, parts: Sequence[Self]) -> Self:
        """The rows of ``parts`` one batch after the other (one part: itself, not a copy).

        :raises ValueError: no part.
        """
        if not parts:
            raise ValueError("concat of no batch")
        if len(parts) == 1:
            return parts[0]
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts])
                      for f in attrs.fields(cls)})  # type: ignore[arg-type]


@attrs.frozen(eq=False)
class TradeColumns(_Rows):
    """Trades of one batch in arrival order. ``cond`` are :class:`ConditionTable` ids."""

    ts: I64 = attrs.field(converter=_i64)
    symbol: I32 = attrs.field(converter=_i32, validator=_same_length)
    seq: I64 = attrs.field(converter=_i64, validator=_same_length)
    price: F64 = attrs.field(converter=_f64, validator=_same_length)
    size: F64 = attrs.field(converter=_f64, validator=_same_length)
    cond: I32 = attrs.field(converter=_i32, validator=_same_length)
    correction: I32 = attrs.field(converter=_i32, validator=_same_length)
    line: I64 = attrs.field(converter=_i64, validator=_same_length)

    def __len__(self) -> int:
        return len(self.ts)

    @classmethod
    def empty(cls) -> TradeColumns:
        """A batch with no rows."""
        z = np.zeros(0)
        return cls(ts=z, symbol=z, seq=z, price=z, size=z, cond=z, correction=z, line=z)



@attrs.frozen(eq=False)
class QuoteColumns(_Rows):
    """Quotes of one batch in arrival order. A side with price or size ``<= 0`` is absent."""

    ts: I64 = attrs.field(converter=_i64)
    symbol: I32 = attrs.field(converter=_i32, validator=_same_length)
    seq: I64 = attrs.field(converter=_i64, validator=_same_length)
    bid: F64 = attrs.field(converter=_f64, validator=_same_length)
    bid_size: F64 = attrs.field(converter=_f64, validator=_same_length)
    ask: F64 = attrs.field(converter=_f64, validator=_same_length)
    ask_size: F64 = attrs.field(converter=_f64, validator=_same_length)
    line: I64 = attrs.field(converter=_i64, validator=_same_length)

    def __len__(self) -> int:
        return len(self.ts)

    @classmethod
    def empty(cls) -> QuoteColumns:
        """A batch with no rows."""
        z = np.zeros(0)
        return cls(ts=z, symbol=z, seq=z, bid=z, bid_size=z, ask=z, ask_size=z, line=z)



@attrs.define
class SymbolTable:
    """Interns ticker strings to dense int32 ids (0, 1, 2, ... in first-seen order)."""

    names: list[str] = attrs.field(factory=list)
    _ids: dict[str, int] = attrs.field(factory=dict, init=False)

    def __attrs_post_init__(self) -> None:
        self._ids = {n: i for i, n in enumerate(self.names)}

    def intern(self, name: str) -> int:
        """The id of ``name``, assigning the next id on first sight."""
        i = self._ids.get(name)
        if i is None:
            i = len(self.names)
            self._ids[name] = i
            self.names.append(name)
        return i

    def intern_many(self, names: Iterable[str]) -> I32:
        """Ids of many names, in order."""
        return np.fromiter((self.intern(n) for n in names), dtype=np.int32)

    def name(self, symbol_id: int) -> str:
        """The ticker of an id."""
        return self.names[symbol_id]

    def __len__(self) -> int:
        return len(self.names)


@attrs.define
class ConditionTable:
    """Interns trade-condition sets (sorted tuples of ids) to dense int32 ids.

    ``flags[i]`` holds the eligibility bits of set ``i`` (``ELIG_*``); ``unknown[i]`` the ids of
    set ``i`` missing from the rule table (reported as ``unknownConditions``). Set 0 is always
    the empty set (a regular sale). ``rules`` maps a set of ids to ``(flags, unknown_ids)``;
    it defaults to :func:`spxcc_core.conditions.eligibility`.
    """

    rules: Callable[[tuple[int, ...]], tuple[int, tuple[int, ...]]] | None = None
    sets: list[tuple[int, ...]] = attrs.field(factory=list, init=False)
    unknown: list[tuple[int, ...]] = attrs.field(factory=list, init=False)
    _flags: list[int] = attrs.field(factory=list, init=False)
    _ids: dict[tuple[int, ...], int] = attrs.field(factory=dict, init=False)

    def __attrs_post_init__(self) -> None:
        if self.rules is None:
            from spxcc_core.conditions import eligibility

            self.rules = eligibility
        self.intern(())

    def intern(self, conditions: Iterable[int]) -> int:
        """The id of a condition set (order and repeats do not matter)."""
        key = tuple(sorted(set(int(c) for c in conditions)))
        i = self._ids.get(key)
        if i is None:
            assert self.rules is not None
            flags, unknown = self.rules(key)
            i = len(self.sets)
            self._ids[key] = i
            self.sets.append(key)
            self._flags.append(flags)
            self.unknown.append(unknown)
        return i

    @property
    def flags(self) -> npt.NDArray[np.uint8]:
        """Eligibility bits per set id, as a uint8 array indexed by set id."""
        return np.asarray(self._flags, dtype=np.uint8)

    def __len__(self) -> int:
        return len(self.sets)
