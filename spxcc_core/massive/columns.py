"""Index-value columns (``us_indices/values_v1``, websocket ``V``): values, no size, no bid/ask.

Units as in :mod:`spxcc_core.aggregate.columns`: ``ts`` int64 ns since the UTC epoch, ``symbol``
:class:`~spxcc_core.aggregate.columns.SymbolTable` ids, ``value`` float64 index points, ``line``
the 1-based data row in its file or message index of a feed.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

__all__ = ["IndexColumns"]


def _same_length(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    n = len(instance.ts)
    if len(value) != n:
        raise ValueError(f"column {attribute.name} has {len(value)} rows, ts has {n}")


def _i64(a: Any) -> npt.NDArray[np.int64]:
    return np.ascontiguousarray(a, dtype=np.int64)


def _i32(a: Any) -> npt.NDArray[np.int32]:
    return np.ascontiguousarray(a, dtype=np.int32)


def _f64(a: Any) -> npt.NDArray[np.float64]:
    return np.ascontiguousarray(a, dtype=np.float64)


@attrs.frozen(eq=False)
class IndexColumns:
    """Index values of one batch in arrival order."""

    ts: npt.NDArray[np.int64] = attrs.field(converter=_i64)
    symbol: npt.NDArray[np.int32] = attrs.field(converter=_i32, validator=_same_length)
    value: npt.NDArray[np.float64] = attrs.field(converter=_f64, validator=_same_length)
    line: npt.NDArray[np.int64] = attrs.field(converter=_i64, validator=_same_length)

    def __len__(self) -> int:
        return len(self.ts)

    @classmethod
    def empty(cls) -> IndexColumns:
        """A batch with no rows."""
        z = np.zeros(0)
        return cls(ts=z, symbol=z, value=z, line=z)

    def take(self, index: npt.NDArray[Any]) -> IndexColumns:
        """Rows selected by an integer index or boolean mask, in that order."""
        return IndexColumns(ts=self.ts[index], symbol=self.symbol[index],
                            value=self.value[index], line=self.line[index])
