"""Run outputs as Arrow tables and deterministic Parquet files.

Each table has one column per wire field (the camelCase wire name, wire order, the JSON Lines
values unchanged) and, right after every epoch-time field, a tz-aware timestamp column in
America/New_York named without the ``Ms`` suffix plus ``Time`` (``startMs`` → ``startTime``,
``timestamp[ms, tz=America/New_York]``; the quarantine's ``ts`` in ns → ``time``,
``timestamp[ns, tz=America/New_York]``). Durations such as ``intervalMs`` stay integers.
Nested structs (a gate decision's ``checks``) become ``list<struct>``. The schema is derived
from the contract, so an empty run gives an empty table with the same columns.

Parquet files are written with fixed options (:data:`PARQUET_OPTIONS`): the same rows give the
same bytes on every run with the same pyarrow version.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import pyarrow as pa

from spxcc_core.session import NEW_YORK

__all__ = ["PARQUET_OPTIONS", "TIME_FIELDS", "arrow_schema", "parquet_bytes", "structs_to_arrow"]

_TZ = NEW_YORK.key
#: Epoch-time fields per contract wire name → (unit of the integer, timestamp column name).
TIME_FIELDS: dict[str, tuple[str, str]] = {
    "startMs": ("ms", "startTime"), "detectedMs": ("ms", "detectedTime"),
    "triggerDeadlineMs": ("ms", "triggerDeadlineTime"), "triggeredMs": ("ms", "triggeredTime"),
    "t1Ms": ("ms", "t1Time"), "closedMs": ("ms", "closedTime"),
    "barStartMs": ("ms", "barStartTime"), "ts": ("ns", "time"),
}
#: Options of every Parquet file the run layer writes (fixed: deterministic bytes).
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd", "compression_level": 3, "use_dictionary": True,
    "write_statistics": True, "row_group_size": 1 << 20, "version": "2.6",
    "data_page_version": "1.0", "store_schema": True,
}


def _arrow_type(t: msgspec.inspect.Type) -> tuple[pa.DataType, bool]:
    """(Arrow type, nullable) of a msgspec type."""
    if isinstance(t, msgspec.inspect.UnionType):
        inner = [x for x in t.types if not isinstance(x, msgspec.inspect.NoneType)]
        if len(inner) != 1:
            raise TypeError(f"unsupported union {t}")
        return _arrow_type(inner[0])[0], True
    if isinstance(t, msgspec.inspect.BoolType):
        return pa.bool_(), False
    if isinstance(t, msgspec.inspect.IntType):
        return pa.int64(), False
    if isinstance(t, msgspec.inspect.FloatType):
        return pa.float64(), False
    if isinstance(t, msgspec.inspect.StrType | msgspec.inspect.LiteralType):
        return pa.string(), False
    if isinstance(t, msgspec.inspect.ListType | msgspec.inspect.VarTupleType):
        return pa.list_(_arrow_type(t.item_type)[0]), False
    if isinstance(t, msgspec.inspect.StructType):
        return pa.struct([pa.field(f.encode_name, *_arrow_type(f.type)) for f in t.fields]), False
    raise TypeError(f"unsupported field type {t}")


def arrow_schema(cls: type[msgspec.Struct]) -> pa.Schema:
    """The table schema of a contract class (module docstring)."""
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    fields = []
    for f in info.fields:
        typ, nullable = _arrow_type(f.type)
        fields.append(pa.field(f.encode_name, typ, nullable=nullable))
        if f.encode_name in TIME_FIELDS and pa.types.is_integer(typ):
            unit, name = TIME_FIELDS[f.encode_name]
            fields.append(pa.field(name, pa.timestamp(unit, tz=_TZ), nullable=nullable))
    return pa.schema(fields)


def structs_to_arrow(rows: Sequence[msgspec.Struct], cls: type[msgspec.Struct]) -> pa.Table:
    """The rows (instances of ``cls``) as a table with :func:`arrow_schema` ``(cls)``."""
    schema = arrow_schema(cls)
    builtins = msgspec.to_builtins(list(rows))
    columns: dict[str, list[Any]] = {}
    for field in schema:
        name = field.name
        source = next((k for k, (_, n) in TIME_FIELDS.items() if n == name
                       and pa.types.is_timestamp(field.type)), None)
        columns[name] = [r[source if source is not None else name] for r in builtins]
    return pa.table(columns, schema=schema)


def parquet_bytes(table: pa.Table) -> bytes:
    """The table as Parquet file bytes, written with :data:`PARQUET_OPTIONS`."""
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **PARQUET_OPTIONS)
    return bytes(sink.getvalue())
