"""The bars cache: each session aggregated once, detection re-run over the recorded bars.

Aggregation (trades and quotes → microbars, quarantine, run report) does not depend on the
profile. :func:`record_tape` runs a session through the replay drivers of
:mod:`spxcc_core.replay.engine` into an aggregator only and records, step by step, what the
pipeline would have handed to detection (``bar_tape@1``, :mod:`spxcc_core.contracts.bartape`):
index values, then the bars that became final. :func:`replay_tape` pushes the tape through a
:class:`~spxcc_core.pipeline.Pipeline` (:meth:`~spxcc_core.pipeline.Pipeline.push_bars`), so
observers, detectors, gating, outcomes and the store see the same bars in the same order, and
the outputs are byte-identical to a full replay of the session (``tests/test_bars_cache.py``).

:class:`BarsCache` keeps tapes on disk, one folder per key under a root (default
``<user cache>/bars``, :func:`default_root`), each folder marked ``.spxcc-owned``
(:mod:`spxcc_core.outputs`) and holding only ``bars.msgpack``. The key (:func:`tape_key`) is a
SHA-256 of the session's content digest (:func:`session_digest`), its kind, the aggregator
settings, the replay-clock step (not for a recording) and the code that shapes a tape
(:func:`tape_code`): any change of those is a different key, never a stale hit. A stored tape
that cannot be read is recorded again and replaced.

What the code part covers (:func:`tape_code`): the spxcc version, the versions of the
libraries that parse, compute and encode a tape (:data:`TAPE_DEPENDENCIES`), and a fingerprint
of the source of every module that turns a session's events into tape steps — every module of
:data:`TAPE_PACKAGES` (Massive parsing, aggregation) and each of :data:`TAPE_MODULES` (why, per
module, in the table). A wrong choice costs differently each way: a module included without
need costs one recomputation of the tapes when it changes; a module left out that does shape a
tape makes a stale tape look current (wrong bars). So the sets are generous, and
``tests/test_bars_cache.py`` traces a recording of every kind of session and checks that each
spxcc module whose code runs is either fingerprinted or in :data:`NOT_TAPE_MODULES` with the
reason it cannot change a tape. Detection (detectors, gating, outcomes, the profile) is not part
of a tape and not part of the key.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.metadata
import pkgutil
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs
import msgspec
import numpy as np

from spxcc_core import __version__
from spxcc_core.aggregate.config import AggregatorConfig
from spxcc_core.aggregate.engine import StreamingAggregator
from spxcc_core.contracts.bartape import BarTapeV1, TapeIndexValues, TapeStep
from spxcc_core.contracts.replay import ReplaySource
from spxcc_core.errors import ConfigError, InputError
from spxcc_core.hashing import code_fingerprint, sha256_file
from spxcc_core.outputs import check_paths, check_replaceable, mark_owned, swap_folder
from spxcc_core.pipeline import FEEDS, Pipeline, index_groups
from spxcc_core.replay.cache import MANIFEST, SessionCache, discover_chain, discover_sources
from spxcc_core.replay.engine import (
    SessionInput,
    _prepared,
    _replay_cache,
    _replay_ws,
    session_kind,
)
from spxcc_core.replay.progress import NullProgress
from spxcc_core.run.result import RunResult
from spxcc_core.run.setup import RunInputs
from spxcc_core.store.sqlite import Store
from spxcc_core.userdirs import user_cache_dir

__all__ = [
    "NOT_TAPE_MODULES",
    "TAPE_DEPENDENCIES",
    "TAPE_FILE",
    "TAPE_FORMAT",
    "TAPE_MODULES",
    "TAPE_PACKAGES",
    "BarsCache",
    "TapedSession",
    "default_root",
    "record_tape",
    "replay_tape",
    "session_digest",
    "tape_chain",
    "tape_code",
    "tape_key",
    "tape_modules",
]

#: Layout version of a tape; part of the key.
TAPE_FORMAT = 1
#: The tape's file inside its cache folder.
TAPE_FILE = "bars.msgpack"

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(BarTapeV1)


def default_root() -> Path:
    """``<user cache folder>/bars`` (``$SPXCC_CACHE_DIR`` or the platform's; not created)."""
    return user_cache_dir() / "bars"


def session_digest(session: SessionInput, kind: str | None = None) -> str:
    """SHA-256 (hex) naming a session's content: a session cache's manifest (which holds the
    SHA-256 of every source it was ingested from), the sorted names and SHA-256 of a flat-file
    folder's sources, or a recording's bytes.

    :raises InputError: the session is none of the three.
    """
    kind = kind or session_kind(session)
    if isinstance(session, SessionCache):
        session = session.root
    p = Path(session)
    h = hashlib.sha256(kind.encode())
    if kind == "cache":
        h.update((p / MANIFEST).read_bytes())
    elif kind == "flatfiles":
        for source_kind, path in sorted(discover_sources(p).items()):
            h.update(f"\n{source_kind} {path.name} {sha256_file(path)}".encode())
    else:
        h.update(sha256_file(p).encode())
    return h.hexdigest()


#: Packages every module of which (subpackages too, present and future) shapes a tape.
TAPE_PACKAGES: tuple[str, ...] = (
    "spxcc_core.aggregate",  # aggregation: kernels, state, conversion, the run report
    "spxcc_core.massive",    # parsing: flat files (CSV, gzip), REST pages, websocket frames
)

#: Other modules that shape a tape, each with what of it does.
TAPE_MODULES: Mapping[str, str] = MappingProxyType({
    "spxcc_core.conditions": "trade-condition eligibility: what a trade may update",
    "spxcc_core.contracts.base": "the base of every contract a tape encodes",
    "spxcc_core.contracts.bartape": "bar_tape@1 itself",
    "spxcc_core.contracts.microbar": "the microbars",
    "spxcc_core.contracts.replay": "the source, its datasets and a recording's event counts",
    "spxcc_core.contracts.report": "the aggregation report and the quarantine records",
    "spxcc_core.hashing": "a recording's SHA-256 in the source; this fingerprint",
    "spxcc_core.pipeline": "the feeds, index values grouped as the market receives them",
    "spxcc_core.replay.bars": "the recorder and the key",
    "spxcc_core.replay.cache": "session-cache ingest and reading: flat files to columns, "
                               "symbol and condition tables, the manifest",
    "spxcc_core.replay.engine": "the replay drivers: the replay clock, a recording's frames",
    "spxcc_core.run.setup": "a recording's event counts (ws_counts)",
    "spxcc_core.session": "session dates from event times",
})

#: spxcc modules whose code runs while a tape is recorded but cannot change the tape, and why
#: (checked against a trace of recordings by ``tests/test_bars_cache.py``).
NOT_TAPE_MODULES: Mapping[str, str] = MappingProxyType({
    "spxcc_core._lazy": "lazy re-exports of a package's names",
    "spxcc_core.chain": "a flat-file folder's option-chain snapshot is parsed at ingest only to "
                        "check it; the tape does not hold it (tape_chain reads it per replay)",
    "spxcc_core.errors": "error types: a recording that fails stores no tape",
    "spxcc_core.gamma": "the chain snapshot's columns, as spxcc_core.chain",
    "spxcc_core.outputs": "writes and guards the cache folders, not what a tape holds",
    "spxcc_core.replay.progress": "progress display",
    "spxcc_core.userdirs": "where the caches are kept",
})

#: Distributions that parse, compute or encode a tape; their versions are part of the key.
TAPE_DEPENDENCIES: tuple[str, ...] = ("msgspec", "numba", "numpy", "pyarrow")


def tape_modules() -> tuple[str, ...]:
    """The sorted names of every module whose code :func:`tape_code` fingerprints: each
    package of :data:`TAPE_PACKAGES` with every module found in it, and :data:`TAPE_MODULES`."""
    names = set(TAPE_MODULES)
    for package in TAPE_PACKAGES:
        names.add(package)
        path = importlib.import_module(package).__path__
        names.update(m.name for m in pkgutil.walk_packages(path, package + "."))
    return tuple(sorted(names))


def _dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.cache
def tape_code() -> str:
    """The code part of a tape's key (64 hex digits), computed once per process: SHA-256 of
    the spxcc version, the versions of :data:`TAPE_DEPENDENCIES` and the fingerprint
    (:func:`~spxcc_core.hashing.code_fingerprint`) of :func:`tape_modules` — their source,
    content only, so the same code gives the same value on any machine and in any folder.
    Where an install has no source, a module's compiled code stands in for it (then a
    rebuild of the same version may give another value: a recomputation, never a stale hit).
    """
    doc = {"version": __version__, "modules": code_fingerprint(tape_modules()),
           "dependencies": {d: _dist_version(d) for d in TAPE_DEPENDENCIES}}
    return hashlib.sha256(msgspec.json.encode(doc, order="sorted")).hexdigest()


def tape_key(digest: str, kind: str, config: AggregatorConfig | None, step_ms: int, *,
             code: str | None = None) -> str:
    """The cache key (64 hex digits) of a session's tape under ``config`` and ``step_ms``.

    :param code: the code part (None: this process's :func:`tape_code`).
    """
    code = tape_code() if code is None else code
    doc = {"format": TAPE_FORMAT, "code": code, "kind": kind, "session": digest,
           "config": attrs.asdict(config if config is not None else AggregatorConfig()),
           "stepMs": None if kind == "websocket" else step_ms}
    return hashlib.sha256(msgspec.json.encode(doc, order="sorted")).hexdigest()


# ----------------------------------------------------------------------------- recording


class _Recorder:
    """A pipeline stand-in for the drivers: aggregates, and records each step's index values
    and final bars instead of detecting."""

    def __init__(self, aggregator: StreamingAggregator) -> None:
        self._aggregator = aggregator
        self.steps: list[TapeStep] = []
        self.index_values = 0

    @property
    def aggregator(self) -> StreamingAggregator:
        return self._aggregator

    def push(self, trades: Any, quotes: Any, index_values: Any = None) -> None:
        index: list[TapeIndexValues] = []
        if index_values is not None and len(index_values):
            self.index_values += len(index_values)
            index = [TapeIndexValues(symbol=name, ts=ts.tolist(), value=value.tolist())
                     for name, ts, value in index_groups(index_values,
                                                         self._aggregator.symbols.names)]
        t = trades if trades is not None and len(trades) else None
        q = quotes if quotes is not None and len(quotes) else None
        bars = self._aggregator.push_events(t, q) if t is not None or q is not None else []
        if index or bars:
            self.steps.append(TapeStep(index=index, bars=bars))

    def close(self) -> None:
        self.steps.append(TapeStep(index=[], bars=self._aggregator.close()))


def record_tape(session: SessionInput, *, config: AggregatorConfig | None = None,
                step_ms: int, key: str = "") -> BarTapeV1:
    """Aggregate ``session`` once and record its tape (nothing written).

    :param key: stored in the tape (:func:`tape_key`; empty for a tape kept in memory).
    :raises InputError: unreadable session input (as a replay would raise it).
    """
    kind = session_kind(session)
    with _prepared(session, kind) as src:
        if src.cache is not None:
            cache = src.cache
            kinds = set(cache.kinds)
            feeds = [f for f in FEEDS if {f"stocks_{f}", f"options_{f}"} & kinds]
            if not feeds:
                raise InputError(str(cache.root), "the session holds no trades or quotes")
            rec = _Recorder(StreamingAggregator(config, symbols=cache.symbol_table(),
                                                conditions=cache.condition_table(),
                                                feeds=feeds))
            _replay_cache(cache, rec, step_ms, NullProgress(), with_index=True)
            rec.close()
            date = cache.manifest.session_date
            source = ReplaySource(kind=kind, session_date=date,  # type: ignore[arg-type]
                                  datasets=list(cache.manifest.datasets))
            index_values, websocket = cache.rows("index_values"), None
        else:
            assert src.recording is not None
            feeds = list(FEEDS)
            rec = _Recorder(StreamingAggregator(config, feeds=feeds))
            websocket = _replay_ws(src.recording, rec, NullProgress())
            rec.close()
            date = src.date
            source = ReplaySource(kind="websocket", session_date=date,
                                  recording=src.recording.name,
                                  recording_sha256=sha256_file(src.recording))
            index_values = rec.index_values
        agg = rec.aggregator
        quarantine = sorted(agg.quarantine,
                            key=lambda q: (q.kind, q.ts, q.symbol, q.line, q.reason))
        return BarTapeV1(key=key, kind=kind, session_date=date,  # type: ignore[arg-type]
                         source=source, feeds=feeds, aggregation=agg.report,
                         quarantine=quarantine, index_values=index_values,
                         websocket=websocket, steps=rec.steps)


# ----------------------------------------------------------------------------- replaying


def tape_chain(session: SessionInput, kind: str) -> Any:
    """The option-chain snapshot a full replay of ``session`` would use by default: a
    cache's own, the one beside a flat-file folder, none for a recording.

    :raises InputError: the snapshot cannot be read.
    """
    from spxcc_core.chain import load_chain_snapshot
    from spxcc_core.replay.cache import open_cache

    if kind == "cache":
        cache = session if isinstance(session, SessionCache) else open_cache(session)
        return cache.chain_snapshot()
    if kind == "flatfiles":
        path = discover_chain(Path(session))  # type: ignore[arg-type]
        return None if path is None else load_chain_snapshot(path)
    return None


def replay_tape(tape: BarTapeV1, inputs: RunInputs, store: Store, *,
                config: AggregatorConfig | None = None, chain: Any = None) -> RunResult:
    """Detection, gating and outcomes over a recorded tape: the same
    :class:`~spxcc_core.run.RunResult` a full replay of the tape's session gives.

    :param inputs: the run's plugin manager, profile and detectors (``inputs.chain``, when
        set, replaces ``chain``).
    :param config: the aggregator settings the tape was recorded with (observers see its
        ``interval_ms``).
    :param chain: the session's own option-chain snapshot (:func:`tape_chain`).
    """
    chain = inputs.chain if inputs.chain is not None else chain
    pipe = Pipeline(inputs.pm, inputs.profile, store=store, config=config, feeds=tape.feeds,
                    run_id_prefix="replay", chain=chain, session_date=tape.session_date)
    # a cache replay gives the market index values only when there is a chain to use them
    with_index = tape.kind == "websocket" or pipe.market.chain is not None
    for step in tape.steps:
        index = ([(v.symbol, np.asarray(v.ts, dtype=np.int64),
                   np.asarray(v.value, dtype=np.float64)) for v in step.index]
                 if with_index else [])
        if index or step.bars:
            pipe.push_bars(step.bars, index)
    pipe.finish()
    return pipe.report(tape.source, index_values=tape.index_values, websocket=tape.websocket,
                       aggregation=tape.aggregation, quarantine=tape.quarantine)


@attrs.frozen(eq=False)
class TapedSession:
    """A session's tape and its own option-chain snapshot, ready to replay
    (:class:`~spxcc_core.replay.engine.PreparedBars`)."""

    tape: BarTapeV1
    chain: Any

    def replay(self, inputs: RunInputs, store: Store,
               config: AggregatorConfig | None) -> RunResult:
        """:func:`replay_tape` of the tape."""
        return replay_tape(self.tape, inputs, store, config=config, chain=self.chain)


# ----------------------------------------------------------------------------- the cache


@attrs.frozen
class BarsCache:
    """Tapes on disk under ``root`` (module docstring); safe to share between processes
    (a folder is written beside its place and renamed into it)."""

    root: Path = attrs.field(converter=Path)

    @classmethod
    def default(cls) -> BarsCache:
        """The cache in the user cache folder (:func:`default_root`)."""
        return cls(default_root())

    def folder(self, key: str) -> Path:
        """The folder of ``key``'s tape."""
        return self.root / key

    def load(self, key: str) -> BarTapeV1 | None:
        """The stored tape of ``key``; None when there is none or it cannot be read."""
        path = self.folder(key) / TAPE_FILE
        try:
            tape = _decoder.decode(path.read_bytes())
        except (OSError, msgspec.DecodeError, msgspec.ValidationError):
            return None
        return tape if tape.key == key else None

    def save(self, tape: BarTapeV1) -> Path:
        """Store ``tape`` under its key (replacing an unreadable one); returns its folder.

        :raises ConfigError: the folder exists and is not one this cache wrote, or the root
            cannot be created.
        """
        dest = self.folder(tape.key)
        check_replaceable(dest, "bars cache", {TAPE_FILE})
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{tape.key[:12]}.tmp-", dir=self.root))
        except OSError as exc:
            raise ConfigError(f"bars cache {self.root}: cannot create "
                              f"({exc.strerror or exc})") from None
        try:
            (tmp / TAPE_FILE).write_bytes(_encoder.encode(tape))
            mark_owned(tmp, "bars cache")
            try:
                swap_folder(tmp, dest)
            except OSError:
                if self.load(tape.key) is None:  # another process did not win the race
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return dest

    def tape(self, session: SessionInput, *, config: AggregatorConfig | None = None,
             step_ms: int) -> BarTapeV1:
        """``session``'s tape: from the cache, else recorded and stored.

        :raises ConfigError: the cache root is, contains or lies inside the session.
        :raises InputError: unreadable session input.
        """
        kind = session_kind(session)
        src = session.root if isinstance(session, SessionCache) else Path(session)
        check_paths([("bars cache", self.root)], [("session", src)])
        key = tape_key(session_digest(session, kind), kind, config, step_ms)
        found = self.load(key)
        if found is not None:
            return found
        tape = record_tape(session, config=config, step_ms=step_ms, key=key)
        self.save(tape)
        return tape

    def prepare(self, session: SessionInput, *, config: AggregatorConfig | None,
                step_ms: int) -> TapedSession:
        """The session's tape (:meth:`tape`) and chain (:func:`tape_chain`), for
        :func:`~spxcc_core.replay.engine.replay_session`'s ``bars_cache``."""
        return TapedSession(self.tape(session, config=config, step_ms=step_ms),
                            tape_chain(session, session_kind(session)))


class MemoryBars:
    """A bars source that records each session once and keeps its tape in memory (for runs
    that replay the same sessions several times, e.g. a gate run's two profiles)."""

    def __init__(self, cache: BarsCache | None = None) -> None:
        """``cache``: read and keep tapes there too (None: memory only)."""
        self._cache = cache
        self._sessions: dict[tuple[str, AggregatorConfig | None, int], TapedSession] = {}

    def prepare(self, session: SessionInput, *, config: AggregatorConfig | None,
                step_ms: int) -> TapedSession:
        """The session's tape and chain, recorded (or read from the cache) on first use."""
        root = session.root if isinstance(session, SessionCache) else Path(session)
        key = (str(root), config, step_ms)
        found = self._sessions.get(key)
        if found is None:
            if self._cache is not None:
                found = self._cache.prepare(session, config=config, step_ms=step_ms)
            else:
                found = TapedSession(record_tape(session, config=config, step_ms=step_ms),
                                     tape_chain(session, session_kind(session)))
            self._sessions[key] = found
        return found
