"""Writing :class:`SampleTable` rows as Massive flat files (gzip CSV), byte-identically.

Format as Massive publishes it: an unquoted header row, unquoted values, multi-valued
``conditions`` as a quoted comma list only when there are several ids (``"14,37"``), empty for
none. The gzip stream has ``mtime=0`` and no file name, so the bytes depend only on the rows.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from spxcc_core.sample.tables import HEADERS, SampleTable

__all__ = ["COMPRESS_LEVEL", "write_flat_file"]

#: gzip level: a balance of generation time and file size (level 6 is ~3× slower here).
COMPRESS_LEVEL = 3
_CHUNK_ROWS = 500_000
_WRITE = pacsv.WriteOptions(include_header=False, quoting_style="needed")


def _condition_text(cond: tuple[int, ...]) -> str:
    # Placeholders survive Arrow's quoting and are turned into Massive's quoting afterwards.
    if len(cond) > 1:
        return "{" + "|".join(str(c) for c in cond) + "}"
    return "".join(str(c) for c in cond)


def _chunk_table(table: SampleTable, start: int, stop: int) -> pa.Table:
    arrays: list[Any] = []
    for name, col in table.columns.items():
        part = col[start:stop]
        if name == "ticker":
            arrays.append(pa.DictionaryArray.from_arrays(
                pa.array(part, type=pa.int32()), pa.array(table.tickers, type=pa.string())))
        elif name == "conditions" and table.condition_sets:
            texts = [_condition_text(c) for c in table.condition_sets]
            arrays.append(pa.DictionaryArray.from_arrays(
                pa.array(part.astype(np.int32), type=pa.int32()), pa.array(texts, pa.string())))
        elif name in ("conditions", "indicators"):
            text = table.quote_conditions if name == "conditions" else table.quote_indicators
            arrays.append(pa.DictionaryArray.from_arrays(
                pa.array(np.zeros(len(part), dtype=np.int32)), pa.array([text], pa.string())))
        else:
            arrays.append(pa.array(part))
    return pa.Table.from_arrays(arrays, names=list(table.columns))


def _render(table: SampleTable, start: int, stop: int) -> bytes:
    buf = io.BytesIO()
    pacsv.write_csv(_chunk_table(table, start, stop), buf, _WRITE)
    data = buf.getvalue().replace(b'"', b"")
    if any(len(c) > 1 for c in table.condition_sets):
        data = data.replace(b"{", b'"').replace(b"}", b'"').replace(b"|", b",")
    return data


def write_flat_file(table: SampleTable, path: Path, *, level: int = COMPRESS_LEVEL) -> int:
    """Write ``table`` to ``path`` as gzip CSV with its dataset's exact header; returns rows."""
    header = ",".join(HEADERS[table.dataset]).encode() + b"\n"
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                                compresslevel=level) as gz:
        gz.write(header)
        for start in range(0, len(table), _CHUNK_ROWS):
            gz.write(_render(table, start, min(start + _CHUNK_ROWS, len(table))))
    return len(table)
