"""The session cache: one day of Massive flat files converted once into memory-mappable columns.

Layout of a cache folder::

    manifest.json           session_manifest@2 (msgspec): date, datasets, symbols, conditions,
                            chain snapshot
    stocks_trades.arrow     TradeColumns  (ts, symbol, seq, price, size, cond, correction, line)
    stocks_quotes.arrow     QuoteColumns  (ts, symbol, seq, bid, bid_size, ask, ask_size, line)
    options_trades.arrow    TradeColumns
    options_quotes.arrow    QuoteColumns
    index_values.arrow      IndexColumns  (ts, symbol, value, line)
    chain_snapshot.json     the option-chain snapshot (Massive JSON, copied unchanged)

Only the datasets given are present. The chain snapshot is found beside the flat files as
``<...>/chain_snapshot/<YYYY-MM-DD>.json`` (:mod:`spxcc_core.chain`); it is validated when
ingested, and its date (from the file name) must be the session's. Each ``.arrow`` file is an uncompressed Arrow IPC file, so
:func:`pyarrow.memory_map` reads it without copying; rows keep the source's arrival order and
``line`` is the 1-based data row of the source file. Symbol ids index ``manifest.symbols`` and
condition-set ids ``manifest.conditionSets`` (one table shared by every dataset). Units are those
of :mod:`spxcc_core.aggregate.columns`.

Ingesting the same sources gives byte-identical files. A cache is built in a temporary folder
beside the destination and renamed into place, so a folder with a manifest is complete; bad input
raises :class:`~spxcc_core.errors.InputError` and leaves nothing behind. The folder also holds
the marker :data:`spxcc_core.outputs.MARKER`: an existing folder is replaced only when it has the
marker and nothing but cache files (:func:`spxcc_core.outputs.check_replaceable`), and never
when it is, contains or lies inside a source.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import msgspec
import pyarrow as pa
import pyarrow.ipc as ipc

from spxcc_core.aggregate.columns import ConditionTable, QuoteColumns, SymbolTable, TradeColumns
from spxcc_core.errors import ConfigError, InputError
from spxcc_core.hashing import sha256_file_size
from spxcc_core.massive.columns import IndexColumns
from spxcc_core.outputs import check_paths, check_replaceable, mark_owned, swap_folder
from spxcc_core.replay.wire import CacheChainSnapshot, CacheDataset, SessionManifestV2
from spxcc_core.session import earliest_event_ns

if TYPE_CHECKING:
    from spxcc_core.chain import ChainSnapshot

__all__ = [
    "CHAIN_FILE",
    "CHAIN_KIND",
    "DATASET_KINDS",
    "FORMAT_VERSION",
    "MANIFEST",
    "SessionCache",
    "classify_source",
    "discover_chain",
    "discover_sources",
    "ingest",
    "is_session_cache",
    "open_cache",
]

#: Version of the cache layout; a reader rejects any other.
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: Source kind of an option-chain snapshot (a key of :func:`ingest`'s mapping) and its cache file.
CHAIN_KIND = "chain_snapshot"
CHAIN_FILE = "chain_snapshot.json"

#: Dataset kinds in storage order.
DATASET_KINDS: tuple[str, ...] = ("stocks_trades", "stocks_quotes", "options_trades",
                                  "options_quotes", "index_values")

#: Massive bucket dataset folders → cache dataset kind.
_BUCKET_KINDS = {
    "us_stocks_sip/trades_v1": "stocks_trades",
    "us_stocks_sip/quotes_v1": "stocks_quotes",
    "us_options_opra/trades_v1": "options_trades",
    "us_options_opra/quotes_v1": "options_quotes",
    "us_indices/values_v1": "index_values",
}

_TRADE_SCHEMA = pa.schema([("ts", pa.int64()), ("symbol", pa.int32()), ("seq", pa.int64()),
                           ("price", pa.float64()), ("size", pa.float64()),
                           ("cond", pa.int32()), ("correction", pa.int32()),
                           ("line", pa.int64())])
_QUOTE_SCHEMA = pa.schema([("ts", pa.int64()), ("symbol", pa.int32()), ("seq", pa.int64()),
                           ("bid", pa.float64()), ("bid_size", pa.float64()),
                           ("ask", pa.float64()), ("ask_size", pa.float64()),
                           ("line", pa.int64())])
_INDEX_SCHEMA = pa.schema([("ts", pa.int64()), ("symbol", pa.int32()), ("value", pa.float64()),
                           ("line", pa.int64())])
_SCHEMAS = {"stocks_trades": _TRADE_SCHEMA, "stocks_quotes": _QUOTE_SCHEMA,
            "options_trades": _TRADE_SCHEMA, "options_quotes": _QUOTE_SCHEMA,
            "index_values": _INDEX_SCHEMA}

#: Names a cache folder may hold besides the marker: only such a folder is ever replaced.
_OWNED = frozenset({MANIFEST, CHAIN_FILE, *(f"{k}.arrow" for k in DATASET_KINDS)})
_DATE_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")
_encoder = msgspec.json.Encoder(order="deterministic")
_decoder = msgspec.json.Decoder(SessionManifestV2)  # reads v1 manifests too



# ----------------------------------------------------------------------------- sources


def _open_text(path: Path) -> Any:
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if path.name.lower().endswith(".gz") or magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _head(path: Path) -> tuple[list[str], str | None]:
    """Header names and the first data row's ticker (None when the file has no data rows)."""
    src = str(path)
    try:
        with _open_text(path) as fh:
            header = fh.readline()
            first = fh.readline()
    except FileNotFoundError:
        raise InputError(src, "file not found") from None
    except IsADirectoryError:
        raise InputError(src, "is a directory, not a file") from None
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputError(src, f"cannot read the header: {exc}") from None
    names = [n.strip().lstrip("\ufeff") for n in header.strip().split(",")]
    if not header.strip():
        raise InputError(src, "file is empty (no header row)")
    ticker = first.split(",", 1)[0].strip() if first.strip() else None
    return names, ticker


def classify_source(path: str | os.PathLike[str]) -> str:
    """The cache dataset kind of a flat file.

    By its Massive bucket folder when the path has one (``us_stocks_sip/trades_v1/...``), else by
    its header (``value`` + ``timestamp``: index values; ``bid_price``: quotes; ``price`` +
    ``size``: trades) and its first ticker (``O:`` prefix: options, else stocks).

    :raises InputError: unreadable file or a header of no known dataset.
    """
    p = Path(path)
    posix = p.as_posix()
    for bucket, kind in _BUCKET_KINDS.items():
        if f"{bucket}/" in posix or posix.startswith(bucket):
            return kind
    names, ticker = _head(p)
    cluster = "options" if ticker is not None and ticker.startswith("O:") else "stocks"
    cols = set(names)
    if {"value", "timestamp"} <= cols:
        return "index_values"
    if "bid_price" in cols:
        return f"{cluster}_quotes"
    if {"price", "size"} <= cols:
        return f"{cluster}_trades"
    raise InputError(str(p), "not a Massive trades, quotes or index-values flat file "
                             f"(header: {','.join(names)[:80]})")


def discover_sources(directory: str | os.PathLike[str]) -> dict[str, Path]:
    """The flat files (``*.csv``, ``*.csv.gz``) under ``directory``, by dataset kind.

    :raises InputError: not a directory, no flat file, or two files of the same kind.
    """
    root = Path(directory)
    if not root.is_dir():
        raise InputError(str(root), "not a directory")
    found: dict[str, Path] = {}
    files = sorted(p for p in root.rglob("*")
                   if p.is_file() and p.name.lower().endswith((".csv", ".csv.gz")))
    for p in files:
        kind = classify_source(p)
        if kind in found:
            raise InputError(str(root), f"two {kind.replace('_', ' ')} files: "
                                        f"{found[kind].relative_to(root)} and "
                                        f"{p.relative_to(root)} (one day, one file per dataset)")
        found[kind] = p
    if not found:
        raise InputError(str(root), "no Massive flat files (*.csv, *.csv.gz) found")
    return found


def discover_chain(directory: str | os.PathLike[str]) -> Path | None:
    """The option-chain snapshot under ``directory`` (a ``*.json`` file inside a folder named
    ``chain_snapshot``), None when there is none.

    :raises InputError: more than one.
    """
    from spxcc_core.chain import CHAIN_FOLDER

    root = Path(directory)
    found = sorted(p for p in root.rglob("*.json")
                   if p.is_file() and p.parent.name == CHAIN_FOLDER)
    if len(found) > 1:
        raise InputError(str(root), f"two chain snapshots: {found[0].relative_to(root)} and "
                                    f"{found[1].relative_to(root)} (one day, one snapshot)")
    return found[0] if found else None


def _sha256(path: Path) -> tuple[str, int]:
    try:
        return sha256_file_size(path)
    except OSError as exc:
        raise InputError(str(path), f"cannot read the file: {exc.strerror or exc}") from None


# ----------------------------------------------------------------------------- ingest


def _reader(kind: str, path: Path, ticker: str | None, symbols: SymbolTable,
            conditions: ConditionTable, chunk_rows: int) -> Iterator[Any]:
    from spxcc_core.massive.flatfile import open_index_values, open_quotes, open_trades

    if kind.endswith("_trades"):
        return open_trades(path, ticker=ticker, symbols=symbols, conditions=conditions,
                           chunk_rows=chunk_rows)
    if kind.endswith("_quotes"):
        return open_quotes(path, ticker=ticker, symbols=symbols, chunk_rows=chunk_rows)
    return open_index_values(path, ticker=ticker, symbols=symbols, chunk_rows=chunk_rows)


def _record_batch(cols: Any, schema: pa.Schema) -> pa.RecordBatch:
    return pa.record_batch([pa.array(getattr(cols, f.name), type=f.type) for f in schema],
                           schema=schema)


def _session_date(sources: Mapping[str, Path], first_ts: int | None) -> str:
    dates = {m.group(1) for p in sources.values() for m in [_DATE_IN_NAME.search(p.name)] if m}
    if len(dates) > 1:
        raise InputError(", ".join(sorted(p.name for p in sources.values())),
                         f"the files are of different days ({', '.join(sorted(dates))}); "
                         "a session cache holds one day")
    if dates:
        return dates.pop()
    if first_ts is None:
        raise InputError(", ".join(sorted(p.name for p in sources.values())),
                         "no events and no YYYY-MM-DD date in the file names: the session "
                         "date is unknown")
    from spxcc_core.session import ny_date_of_ms

    return ny_date_of_ms(first_ts // 1_000_000).isoformat()


def _source_name(path: Path, base: Path | None) -> str:
    if base is not None:
        try:
            return path.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            pass
    return path.name


def ingest(sources: str | os.PathLike[str] | Mapping[str, str | os.PathLike[str]],
           out: str | os.PathLike[str], *, ticker: str | None = None,
           chunk_rows: int = 1_000_000) -> SessionCache:
    """Convert one day of flat files into a session cache at ``out``.

    :param sources: a folder of flat files (found by :func:`discover_sources`, with the chain
        snapshot found by :func:`discover_chain`), or a mapping of dataset kind
        (:data:`DATASET_KINDS`, or :data:`CHAIN_KIND` for a chain snapshot) to file.
    :param out: the cache folder; created, or replaced when it is one spxcc made (it holds the
        :data:`~spxcc_core.outputs.MARKER` file and nothing but cache files). It must not be,
        contain or lie inside a source.
    :param ticker: keep only this ticker's events (None: every ticker).
    :param chunk_rows: rows per stored record batch (>= 1).
    :returns: the opened cache.
    :raises InputError: unreadable or unparsable input (nothing is written).
    :raises ConfigError: an unknown dataset kind; ``out`` is, contains or lies inside a source;
        or ``out`` exists and is not a cache folder spxcc made (nothing is written).
    """
    base: Path | None = None
    chain: Path | None = None
    if isinstance(sources, Mapping):
        paths: dict[str, Path] = {}
        for kind, p in sources.items():
            if kind == CHAIN_KIND:
                chain = Path(p)
                continue
            if kind not in DATASET_KINDS:
                raise ConfigError(f"unknown dataset kind {kind!r} "
                                  f"(known: {', '.join((*DATASET_KINDS, CHAIN_KIND))})")
            paths[kind] = Path(p)
        if not paths:
            raise ConfigError("no source files given")
    else:
        base = Path(sources)
        paths = discover_sources(base)
        chain = discover_chain(base)
    dest = Path(out)
    check_paths({"cache folder": dest},
                {"source folder": base, **{f"{k.replace('_', ' ')} file": p
                                           for k, p in paths.items()},
                 "chain snapshot": chain})
    check_replaceable(dest, "cache folder", _OWNED)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    except OSError as exc:
        raise ConfigError(f"cache {dest}: cannot write ({exc.strerror or exc})") from None
    try:
        manifest = _build(tmp, paths, base, ticker, chunk_rows)
        if chain is not None:
            manifest = _add_chain(tmp, manifest, chain, base)
        mark_owned(tmp, "session cache")
        swap_folder(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return SessionCache(dest, manifest)


def _build(tmp: Path, paths: Mapping[str, Path], base: Path | None, ticker: str | None,
           chunk_rows: int) -> SessionManifestV2:
    symbols = SymbolTable()
    conditions = ConditionTable()
    datasets: list[CacheDataset] = []
    first_ts: int | None = None
    for kind in DATASET_KINDS:
        src = paths.get(kind)
        if src is None:
            continue
        sha, size = _sha256(src)
        schema = _SCHEMAS[kind]
        fname = f"{kind}.arrow"
        rows = 0
        with pa.OSFile(str(tmp / fname), "wb") as sink, ipc.new_file(sink, schema) as writer:
            for cols in _reader(kind, src, ticker, symbols, conditions, chunk_rows):
                if len(cols) == 0:
                    continue
                if first_ts is None and kind != "index_values":
                    first_ts = earliest_event_ns(cols.ts)
                writer.write_batch(_record_batch(cols, schema))
                rows += len(cols)
        datasets.append(CacheDataset(kind=kind, file=fname, rows=rows,  # type: ignore[arg-type]
                                     source=_source_name(src, base), source_sha256=sha,
                                     source_bytes=size))
    if first_ts is None:
        first_ts = _first_ts_of_index(tmp, datasets)
    manifest = SessionManifestV2(
        format_version=FORMAT_VERSION, session_date=_session_date(paths, first_ts),
        ticker=ticker, datasets=datasets, symbols=list(symbols.names),
        condition_sets=[list(s) for s in conditions.sets])
    (tmp / MANIFEST).write_bytes(_encoder.encode(manifest) + b"\n")
    return manifest


def _add_chain(tmp: Path, manifest: SessionManifestV2, src: Path,
               base: Path | None) -> SessionManifestV2:
    """Validate the chain snapshot, copy it into the cache and record it in the manifest."""
    from spxcc_core.chain import parse_chain_snapshot

    sha, size = _sha256(src)
    data = src.read_bytes()
    snap = parse_chain_snapshot(data, str(src))
    m = _DATE_IN_NAME.search(src.name)
    if m is not None and m.group(1) != manifest.session_date:
        raise InputError(str(src), f"chain snapshot of {m.group(1)} for a session of "
                                   f"{manifest.session_date}")
    (tmp / CHAIN_FILE).write_bytes(data)
    entry = CacheChainSnapshot(file=CHAIN_FILE, source=_source_name(src, base),
                               source_sha256=sha, source_bytes=size,
                               underlying=snap.underlying, contracts=len(snap))
    manifest = msgspec.structs.replace(manifest, chain_snapshot=entry)
    (tmp / MANIFEST).write_bytes(_encoder.encode(manifest) + b"\n")
    return manifest


def _first_ts_of_index(tmp: Path, datasets: list[CacheDataset]) -> int | None:
    for d in datasets:
        if d.kind == "index_values" and d.rows:
            with pa.memory_map(str(tmp / d.file)) as mm:
                return int(ipc.open_file(mm).get_batch(0).column("ts")[0].as_py())
    return None


# ----------------------------------------------------------------------------- reading


def is_session_cache(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a folder holding a session-cache ``manifest.json``."""
    p = Path(path) / MANIFEST
    if not p.is_file():
        return False
    try:
        return b'"formatVersion"' in p.read_bytes()[:4096]
    except OSError:
        return False


def open_cache(path: str | os.PathLike[str]) -> SessionCache:
    """Open a session cache folder.

    :raises InputError: no manifest, an unreadable manifest, an unsupported format version, a
        missing dataset file, or one that is not the Arrow IPC file the manifest describes
        (truncated, foreign bytes, other columns or another row count).
    """
    root = Path(path)
    mpath = root / MANIFEST
    try:
        manifest = _decoder.decode(mpath.read_bytes())
    except FileNotFoundError:
        raise InputError(str(root), "not a session cache (no manifest.json)") from None
    except OSError as exc:
        raise InputError(str(mpath), f"cannot read: {exc.strerror or exc}") from None
    except msgspec.DecodeError as exc:
        raise InputError(str(mpath), f"not a session-cache manifest ({exc})") from None
    if manifest.format_version != FORMAT_VERSION:
        raise InputError(str(mpath), f"cache format version {manifest.format_version} is not "
                                     f"supported (this spxcc reads {FORMAT_VERSION}); "
                                     "re-run `spxcc ingest`")
    for d in manifest.datasets:
        if not (root / d.file).is_file():
            raise InputError(str(root / d.file), "dataset file missing from the session cache")
        _check_dataset(root / d.file, d)
    if manifest.chain_snapshot is not None and not (root / manifest.chain_snapshot.file).is_file():
        raise InputError(str(root / manifest.chain_snapshot.file),
                         "chain snapshot missing from the session cache")
    return SessionCache(root, manifest)


def _arrow_error(path: Path, exc: BaseException) -> InputError:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return InputError(str(path), f"not a readable Arrow IPC dataset file ({text}); the session "
                                 "cache is damaged: run `spxcc ingest` again")


def _check_dataset(path: Path, d: CacheDataset) -> None:
    """The dataset file opens as an Arrow IPC file with the kind's schema and the manifest's
    row count (reads the footer and batch headers only; the data stay memory-mapped).

    :raises InputError: truncated or foreign bytes, another schema, or another row count.
    """
    try:
        with pa.memory_map(str(path)) as source:
            reader = ipc.open_file(source)
            schema = reader.schema
            rows = sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
    except (pa.ArrowException, OSError) as exc:
        raise _arrow_error(path, exc) from None
    if not schema.equals(_SCHEMAS[d.kind]):
        raise InputError(str(path), f"columns {', '.join(schema.names) or 'none'} are not those "
                                    f"of a {d.kind} dataset; the session cache is damaged: run "
                                    "`spxcc ingest` again")
    if rows != d.rows:
        raise InputError(str(path), f"holds {rows:,} rows, the manifest says {d.rows:,}; the "
                                    "session cache is damaged: run `spxcc ingest` again")


_MAKERS: dict[str, Any] = {"stocks_trades": TradeColumns, "options_trades": TradeColumns,
                           "stocks_quotes": QuoteColumns, "options_quotes": QuoteColumns,
                           "index_values": IndexColumns}


@attrs.frozen(eq=False)
class SessionCache:
    """An opened session cache (read-only). Batches are zero-copy views of memory-mapped files."""

    root: Path
    manifest: SessionManifestV2

    @property
    def session_date(self) -> dt.date:
        """The session's New York date."""
        return dt.date.fromisoformat(self.manifest.session_date)

    @property
    def kinds(self) -> list[str]:
        """The dataset kinds present, in storage order."""
        return [d.kind for d in self.manifest.datasets]

    def rows(self, kind: str) -> int:
        """Events stored for ``kind`` (0 when absent)."""
        return sum(d.rows for d in self.manifest.datasets if d.kind == kind)

    @property
    def total_events(self) -> int:
        """Trades and quotes over every dataset (index values excluded)."""
        return sum(d.rows for d in self.manifest.datasets if d.kind != "index_values")

    def symbol_table(self) -> SymbolTable:
        """A fresh symbol table holding the cache's symbols (ids as stored)."""
        return SymbolTable(names=list(self.manifest.symbols))

    def condition_table(self) -> ConditionTable:
        """A fresh condition table holding the cache's condition sets (ids as stored)."""
        table = ConditionTable()
        for i, s in enumerate(self.manifest.condition_sets):
            if table.intern(s) != i:
                raise InputError(str(self.root / MANIFEST),
                                 f"conditionSets[{i}] repeats an earlier set")
        return table

    def batches(self, kind: str) -> Iterator[Any]:
        """The stored batches of ``kind`` in arrival order, as :class:`TradeColumns`,
        :class:`QuoteColumns` or :class:`IndexColumns` over memory-mapped buffers (read-only).
        Nothing when the dataset is absent."""
        for d in self.manifest.datasets:
            if d.kind != kind:
                continue
            make = _MAKERS[kind]
            path = self.root / d.file
            try:
                source = pa.memory_map(str(path))
                reader = ipc.open_file(source)
                names = reader.schema.names
                count = reader.num_record_batches
            except (pa.ArrowException, OSError) as exc:
                raise _arrow_error(path, exc) from None
            for i in range(count):
                try:
                    batch = reader.get_batch(i)
                    cols = {n: batch.column(j).to_numpy(zero_copy_only=True)
                            for j, n in enumerate(names)}
                except (pa.ArrowException, OSError) as exc:
                    raise _arrow_error(path, exc) from None
                yield make(**cols)

    def chain_snapshot(self) -> ChainSnapshot | None:
        """The session's option-chain snapshot, None when the cache has none.

        :raises InputError: the stored snapshot cannot be read.
        """
        entry = self.manifest.chain_snapshot
        if entry is None:
            return None
        from spxcc_core.chain import load_chain_snapshot

        return load_chain_snapshot(self.root / entry.file)

    def files(self) -> Iterable[Path]:
        """Every file of the cache (manifest last)."""
        chain = self.manifest.chain_snapshot
        extra = [self.root / chain.file] if chain is not None else []
        return [*(self.root / d.file for d in self.manifest.datasets), *extra,
                self.root / MANIFEST]
