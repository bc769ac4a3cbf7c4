"""The replay engine: a recorded session through the same pipeline as live.

Pipeline (identical to the live host from the aggregator on; only the source and the clock
differ): :class:`~spxcc_core.aggregate.StreamingAggregator` fed batch by batch → each final
microbar to the ``spxcc_on_microbar`` observers → :class:`~spxcc_core.detect.DetectorRunner`
(detectors, gating, setup lifecycle and outcomes) → setup state changes upserted into the SQLite
store, one transaction per batch.

Sources (:func:`replay_session`'s ``session``):

- a session-cache folder (:mod:`spxcc_core.replay.cache`): every dataset is cut into batches by
  the **replay clock**, which advances in steps of ``step_ms`` of event time; each step pushes,
  per dataset and in arrival order, the rows whose running maximum timestamp is before the clock;
- a folder of Massive flat files of one day: ingested into a temporary cache first;
- a websocket recording (``.jsonl`` / ``.jsonl.gz``, one frame per line): pushed frame by frame.

Microbars do not depend on batch boundaries (``spec/microbar.md``, finality), and every output
is written in an order that does not depend on them either, so a replay's outputs are the same
for any ``step_ms`` and byte-identical from run to run. Index values are read and counted, not
aggregated (an index has no trades or quotes).

Gamma context: when the cache holds an option-chain snapshot, it is set on the runner's
:class:`~spxcc_core.detect.market.SessionMarket` (``runner.market``) before the first batch, and
the values of the chain's underlying index are pushed to it by the same replay clock, each step
*before* that step's trades and quotes (so an underlying bar ending at ``t`` always sees every
index value stamped before ``t``, whatever the step). Option microbars reach the market through
the runner. A detector that reads cross-symbol context (``ctx.gamma``'s flow proxy) sees the
option bars final when its own bar is processed: its outputs are byte-identical from run to run
for a given ``step_ms``, but the step can move when a quiet contract's flow first shows up; the
``sessionEnd`` values in the report are computed after the input has ended and do not depend on
the step.

Outputs (``out_dir``): ``microbars.jsonl`` (``microbar@2``, by symbol then ``startMs``),
``setups.jsonl`` (final state of every setup, by detection time then id),
``gate_decisions.jsonl`` (every gate decision, by bar start then symbol),
``quarantine.jsonl`` (every event not applied, trades then quotes, by time) and ``report.json``
(``replay_report@1``). No wall-clock time or absolute path appears in any of them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs
import msgspec
import numpy as np
import numpy.typing as npt
import pluggy

from spxcc_core.aggregate.config import AggregatorConfig
from spxcc_core.aggregate.engine import StreamingAggregator
from spxcc_core.aggregate.report import PluginErrorRecord, QuarantineRecord
from spxcc_core.contracts.microbar import MicrobarV2
from spxcc_core.contracts.setup import GateDecision, SetupInstance
from spxcc_core.detect.profile import DetectorConfig, Profile, default_profile, load_profile
from spxcc_core.detect.runner import DetectorRunner
from spxcc_core.errors import ConfigError, InputError
from spxcc_core.plugins import PluginFailure, call_isolated, get_plugin_manager
from spxcc_core.replay.cache import SessionCache, ingest, is_session_cache, open_cache
from spxcc_core.replay.progress import NullProgress, Progress, make_progress
from spxcc_core.replay.wire import ReplayReport, ReplayResult, ReplaySource
from spxcc_core.setups.lifecycle import summarize
from spxcc_core.setups.store import SetupStore
from spxcc_core.store.sqlite import Store

__all__ = [
    "DEFAULT_STEP_MS",
    "OUTPUT_FILES",
    "ReplayRun",
    "SessionInput",
    "replay_session",
    "run_replay",
    "session_kind",
]

#: Default replay-clock step: one minute of event time per batch.
DEFAULT_STEP_MS = 60_000
#: Default store file name inside ``out_dir``.
DB_NAME = "spxcc.sqlite3"
#: Output files, in the order they are written.
OUTPUT_FILES = ("microbars.jsonl", "setups.jsonl", "gate_decisions.jsonl", "quarantine.jsonl",
                "report.json")

SessionInput = str | os.PathLike[str] | SessionCache

_line_encoder = msgspec.json.Encoder()
_report_encoder = msgspec.json.Encoder(order="deterministic")
_NS_PER_MS = 1_000_000


# ----------------------------------------------------------------------------- sources


def session_kind(session: SessionInput) -> str:
    """``cache``, ``flatfiles`` or ``websocket`` for a replay source.

    :raises InputError: the path does not exist or is none of the three.
    """
    if isinstance(session, SessionCache):
        return "cache"
    p = Path(session)
    if p.is_dir():
        return "cache" if is_session_cache(p) else "flatfiles"
    if p.is_file():
        if p.name.lower().endswith((".jsonl", ".jsonl.gz")):
            return "websocket"
        raise InputError(str(p), "not a session: expected a session-cache folder, a folder of "
                                 "Massive flat files or a websocket recording (.jsonl)")
    raise InputError(str(p), "session not found")


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _slice(cols: Any, start: int, stop: int) -> Any:
    """Rows ``[start, stop)`` of a column batch, as views (no copy)."""
    cls = type(cols)
    return cls(**{f.name: getattr(cols, f.name)[start:stop] for f in attrs.fields(cls)})


@attrs.define(eq=False)
class _Cursor:
    """Cuts one dataset's batches (arrival order) at replay-clock instants."""

    batches: Iterator[Any]
    current: Any = None
    cummax: npt.NDArray[np.int64] | None = None
    pos: int = 0
    carry: int = -(2**63)
    done: bool = False

    def _load(self) -> bool:
        while self.current is None or self.pos >= len(self.current):
            nxt = next(self.batches, None)
            if nxt is None:
                self.done = True
                self.current = None
                return False
            if len(nxt) == 0:
                continue
            cm = np.maximum.accumulate(nxt.ts)
            np.maximum(cm, self.carry, out=cm)
            self.current, self.cummax, self.pos = nxt, cm, 0
            self.carry = int(cm[-1])
        return True

    def next_ts(self) -> int | None:
        """Running-max timestamp of the next row to push (None when exhausted)."""
        if not self._load():
            return None
        assert self.cummax is not None
        return int(self.cummax[self.pos])

    def take_until(self, t_ns: int) -> list[Any]:
        """The next rows whose running-max timestamp is before ``t_ns``, as batch slices."""
        out: list[Any] = []
        while self._load():
            assert self.cummax is not None
            cut = int(np.searchsorted(self.cummax, t_ns, side="left"))
            if cut <= self.pos:
                break
            cur = self.current
            if self.pos == 0 and cut == len(cur):
                out.append(cur)
            else:
                out.append(_slice(cur, self.pos, cut))
            self.pos = cut
        return out


# ----------------------------------------------------------------------------- pipeline


@attrs.define(eq=False)
class _ObserverCalls:
    """Direct calls of the ``spxcc_on_microbar`` implementations (pluggy only discovers them);
    failures are counted per plugin, the first message kept."""

    impls: list[Any]
    errors: dict[str, tuple[int, str]] = attrs.field(factory=dict)

    def __call__(self, bar: MicrobarV2, context: Mapping[str, Any]) -> None:
        for impl in self.impls:
            try:
                impl.function(**{n: (bar if n == "bar" else context) for n in impl.argnames})
            except Exception as exc:  # isolation: record under the plugin's name, go on
                count, first = self.errors.get(impl.plugin_name, (0, ""))
                self.errors[impl.plugin_name] = (count + 1,
                                                 first or f"{type(exc).__name__}: {exc}")


@attrs.define(eq=False)
class ReplayRun:
    """Everything a replay produced, in memory, in output order."""

    bars: list[MicrobarV2]
    setups: list[SetupInstance]
    decisions: list[GateDecision]
    quarantine: list[QuarantineRecord]
    report: ReplayReport

    def outputs(self) -> dict[str, bytes]:
        """The exact bytes of every output file, by file name (:data:`OUTPUT_FILES`)."""
        report = msgspec.json.format(_report_encoder.encode(self.report), indent=2) + b"\n"
        return {
            "microbars.jsonl": _line_encoder.encode_lines(self.bars),
            "setups.jsonl": _line_encoder.encode_lines(self.setups),
            "gate_decisions.jsonl": _line_encoder.encode_lines(self.decisions),
            "quarantine.jsonl": _line_encoder.encode_lines(self.quarantine),
            "report.json": report,
        }


class _Pipeline:
    def __init__(self, pm: pluggy.PluginManager, profile: Profile, store: Store,
                 aggregator: StreamingAggregator) -> None:
        self.run_id = f"replay-{uuid.uuid4().hex}"
        self.pm = pm
        self.runner = DetectorRunner(pm, profile, run_id=self.run_id)
        self.agg = aggregator
        self.setup_store = SetupStore(store)
        self.observe = _ObserverCalls(list(reversed(pm.hook.spxcc_on_microbar.get_hookimpls())))
        self.context = MappingProxyType({"run_id": self.run_id, "engine": "stream",
                                         "interval_ms": aggregator.config.interval_ms})
        self.bars: list[MicrobarV2] = []
        self.decisions: list[tuple[int, str, int, GateDecision]] = []
        self.failures: list[PluginFailure] = []

    def push(self, trades: Any, quotes: Any) -> None:
        self._bars(self.agg.push_events(trades, quotes))

    def _bars(self, bars: list[MicrobarV2]) -> None:
        changed: dict[str, SetupInstance] = {}
        runner, observe, context = self.runner, self.observe, self.context
        decisions = self.decisions
        for bar in bars:
            if observe.impls:
                observe(bar, context)
            for out in runner.on_bar(bar):
                if isinstance(out, GateDecision):
                    decisions.append((out.bar_start_ms, out.symbol, len(decisions), out))
                else:
                    changed[out.id] = out
        self.bars.extend(bars)
        if changed:
            self.setup_store.upsert(changed.values())

    def finish(self) -> None:
        self._bars(self.agg.close())
        changed = {s.id: s for s in self.runner.finish() if isinstance(s, SetupInstance)}
        if changed:
            self.setup_store.upsert(changed.values())

    def plugin_errors(self) -> list[PluginErrorRecord]:
        errs = [PluginErrorRecord(plugin=name, hook="spxcc_on_microbar",
                                  error=first if count == 1 else f"{first} ({count} times)")
                for name, (count, first) in sorted(self.observe.errors.items())]
        for name, e in self.runner.report()["errors"].items():
            count, first = e["count"], e["first"]
            errs.append(PluginErrorRecord(plugin=name, hook="on_bar",
                                          error=first if count == 1 else
                                          f"{first} ({count} times)"))
        errs.extend(PluginErrorRecord(plugin=f.plugin, hook=f.hook, error=f.error)
                    for f in [*self.runner.failures, *self.failures])
        return errs

    def result(self, source: ReplaySource, *, index_values: int,
               websocket: dict[str, Any] | None) -> ReplayRun:
        rank = {name: i for i, name in enumerate(sorted(self.agg.symbols.names))}
        bars = sorted(self.bars, key=lambda b: (rank[b.symbol], b.start_ms))
        decisions = [d for *_, d in sorted(self.decisions, key=lambda x: x[:3])]
        quarantine = sorted(self.agg.quarantine,
                            key=lambda q: (q.kind, q.ts, q.symbol, q.line, q.reason))
        setups = self.runner.setups()
        detection = self.runner.report()
        agg_report = self.agg.report
        outputs = {"microbars.jsonl": len(bars), "setups.jsonl": len(setups),
                   "gate_decisions.jsonl": len(decisions), "quarantine.jsonl": len(quarantine)}
        report = ReplayReport(
            source=source, aggregation=agg_report, detection=detection,
            setups_by_detector=dict(sorted(Counter(s.detector for s in setups).items())),
            outcomes=summarize(setups), plugin_errors=self.plugin_errors(), outputs=outputs,
            index_values=index_values, websocket=websocket)
        summary: list[str] = []
        for lines in call_isolated(self.pm, "spxcc_on_run_end", self.failures,
                                   report=MappingProxyType(msgspec.to_builtins(report)),
                                   context=self.context):
            summary.extend(str(line) for line in lines)
        report = msgspec.structs.replace(report, summary=summary,
                                         plugin_errors=self.plugin_errors())
        return ReplayRun(bars=bars, setups=setups, decisions=decisions, quarantine=quarantine,
                         report=report)


# ----------------------------------------------------------------------------- drivers


def _index_feed(cache: SessionCache, pipe: _Pipeline) -> tuple[_Cursor, int, str] | None:
    """A cursor over the index values with the symbol id and name of the chain's underlying,
    when the runner's market has a chain whose underlying has index values in the cache."""
    chain = pipe.runner.market.chain
    if chain is None or not cache.rows("index_values"):
        return None
    names = cache.manifest.symbols
    if chain.underlying not in names:
        return None
    return (_Cursor(cache.batches("index_values")), names.index(chain.underlying),
            chain.underlying)


def _push_index(pipe: _Pipeline, feed: tuple[_Cursor, int, str], until_ns: int) -> None:
    cursor, sid, symbol = feed
    market = pipe.runner.market
    for b in cursor.take_until(until_ns):
        mask = b.symbol == sid
        if mask.any():
            market.add_index_values(symbol, b.ts[mask], b.value[mask])


def _replay_cache(cache: SessionCache, pipe: _Pipeline, step_ms: int,
                  progress: Progress) -> int:
    """Feed a cache through the pipeline by the replay clock; returns index values read."""
    groups = [(cache.batches(f"{c}_trades"), cache.batches(f"{c}_quotes"))
              for c in ("stocks", "options")]
    cursors = [(_Cursor(t), _Cursor(q)) for t, q in groups]
    index = _index_feed(cache, pipe)
    step = step_ms * _NS_PER_MS
    while True:
        pending = [ts for pair in cursors for c in pair if (ts := c.next_ts()) is not None]
        if not pending:
            break
        clock = (min(pending) // step + 1) * step
        if index is not None:
            _push_index(pipe, index, clock)
        for tc, qc in cursors:
            tp = tc.take_until(clock)
            qp = qc.take_until(clock)
            for i in range(max(len(tp), len(qp))):
                t = tp[i] if i < len(tp) else None
                q = qp[i] if i < len(qp) else None
                pipe.push(t, q)
                progress.advance((len(t) if t is not None else 0)
                                 + (len(q) if q is not None else 0))
    if index is not None:  # the rest, before the final bars are released
        _push_index(pipe, index, 2**63 - 1)
    return cache.rows("index_values")


def _replay_ws(path: Path, pipe: _Pipeline, progress: Progress) -> tuple[int, dict[str, Any]]:
    from spxcc_core.massive.websocket import WsStats, iter_ws_decoded

    stats = WsStats()
    values = 0
    for frame in iter_ws_decoded(path, ticker=None, symbols=pipe.agg.symbols,
                                 conditions=pipe.agg.conditions, stats=stats):
        values += len(frame.values)
        if len(frame.trades) or len(frame.quotes):
            pipe.push(frame.trades if len(frame.trades) else None,
                      frame.quotes if len(frame.quotes) else None)
        progress.advance(1)
    ws = {"events": stats.events, "trades": stats.trades, "quotes": stats.quotes,
          "values": stats.values, "statuses": dict(sorted(stats.statuses.items())),
          "unknown": dict(sorted(stats.unknown.items()))}
    return values, ws


def _first_event_date(path: Path) -> str:
    from spxcc_core.aggregate.columns import ConditionTable, SymbolTable
    from spxcc_core.massive.websocket import iter_ws_decoded
    from spxcc_core.session import ny_date_of_ms

    for frame in iter_ws_decoded(path, ticker=None, symbols=SymbolTable(),
                                 conditions=ConditionTable()):
        stamps = [int(c.ts.min()) for c in (frame.trades, frame.quotes) if len(c)]
        if stamps:
            return ny_date_of_ms(min(stamps) // _NS_PER_MS).isoformat()
    raise InputError(str(path), "the recording holds no trades or quotes")


# ----------------------------------------------------------------------------- configuration


def _resolve_profile(profile: Profile | str | os.PathLike[str] | None) -> Profile:
    if profile is None:
        return default_profile()
    if isinstance(profile, Profile):
        return profile
    return load_profile(Path(profile))


def _select_detectors(pm: pluggy.PluginManager, profile: Profile,
                      names: Sequence[str] | None) -> Profile:
    """``profile`` with every detector not in ``names`` disabled (None: unchanged)."""
    if names is None:
        return profile
    if isinstance(names, str):
        raise ConfigError("detectors must be a list of names, not a string")
    classes: list[Any] = []
    for result in call_isolated(pm, "spxcc_register_detectors", []):
        classes.extend(result)
    installed = {c.name: c for c in classes}
    unknown = [n for n in names if n not in installed]
    if unknown:
        raise ConfigError(f"unknown detector{'s' if len(unknown) > 1 else ''} "
                          f"{', '.join(map(repr, unknown))} (installed: "
                          f"{', '.join(sorted(installed)) or 'none'})")
    wanted = set(names)
    detectors = dict(profile.detectors)
    for name, cls in installed.items():
        if name not in wanted:
            detectors[name] = DetectorConfig(version=cls.version, enabled=False)
    return attrs.evolve(profile, detectors=detectors)


def _open_store(store: Store | str | os.PathLike[str] | None,
                out_dir: Path | None) -> tuple[Store, bool]:
    """The store to write and whether this module owns (closes) it."""
    if isinstance(store, Store):
        return store, False
    if store is None:
        path: str | Path = out_dir / DB_NAME if out_dir is not None else ":memory:"
    else:
        path = Path(store)
    return Store(path), True


def _check_step(step_ms: int) -> None:
    if isinstance(step_ms, bool) or not isinstance(step_ms, int) or step_ms < 1:
        raise ConfigError(f"step_ms must be a positive integer of milliseconds, got {step_ms!r}")


# ----------------------------------------------------------------------------- public API


def run_replay(session: SessionInput, *, detectors: Sequence[str] | None = None,
               profile: Profile | str | os.PathLike[str] | None = None,
               store: Store | str | os.PathLike[str] | None = None,
               config: AggregatorConfig | None = None, step_ms: int = DEFAULT_STEP_MS,
               pm: pluggy.PluginManager | None = None,
               progress: bool | None = False) -> ReplayRun:
    """Replay a session in memory (nothing written but the store).

    :param session: a session-cache folder or :class:`SessionCache`, a folder of Massive flat
        files of one day, or a websocket recording (``.jsonl``).
    :param detectors: names of the detectors to run (None: every installed detector the profile
        enables).
    :param profile: a :class:`Profile` or a profile TOML file (None: the default profile).
    :param store: a :class:`Store` (left open), a store file (None: an in-memory store).
    :param config: aggregation settings (default :class:`AggregatorConfig`).
    :param step_ms: replay-clock step in milliseconds of event time (>= 1).
    :param pm: the plugin manager (default: :func:`get_plugin_manager`).
    :param progress: show a progress bar on stderr (None: only when stderr is a terminal).
    :raises InputError: unreadable session input.
    :raises ConfigError: a bad profile, detector name, step or store.
    """
    _check_step(step_ms)
    kind = session_kind(session)
    pm = pm if pm is not None else get_plugin_manager()
    prof = _select_detectors(pm, _resolve_profile(profile), detectors)
    db, owned = _open_store(store, None)
    try:
        if kind == "flatfiles":
            tmp = Path(tempfile.mkdtemp(prefix="spxcc-replay-"))
            try:
                cache = ingest(Path(session), tmp / "cache")  # type: ignore[arg-type]
                return _run(cache, "flatfiles", pm, prof, db, config, step_ms, progress)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        if kind == "cache":
            cache = session if isinstance(session, SessionCache) else open_cache(session)
            return _run(cache, "cache", pm, prof, db, config, step_ms, progress)
        return _run_ws(Path(session), pm, prof, db, config,  # type: ignore[arg-type]
                       progress)
    finally:
        if owned:
            db.close()


def _run(cache: SessionCache, kind: str, pm: pluggy.PluginManager, profile: Profile,
         store: Store, config: AggregatorConfig | None, step_ms: int,
         progress: bool | None) -> ReplayRun:
    kinds = set(cache.kinds)
    feeds = [f for f in ("trades", "quotes") if {f"stocks_{f}", f"options_{f}"} & kinds]
    if not feeds:
        raise InputError(str(cache.root), "the session holds no trades or quotes")
    agg = StreamingAggregator(config, symbols=cache.symbol_table(),
                              conditions=cache.condition_table(), feeds=feeds)
    pipe = _Pipeline(pm, profile, store, agg)
    chain = cache.chain_snapshot()
    if chain is not None:
        pipe.runner.market.set_chain(chain, cache.manifest.session_date)
    bar = make_progress(cache.total_events, f"replay {cache.manifest.session_date}",
                        enabled=progress)
    try:
        values = _replay_cache(cache, pipe, step_ms, bar)
        pipe.finish()
    finally:
        bar.close()
    source = ReplaySource(kind=kind, session_date=cache.manifest.session_date,  # type: ignore[arg-type]
                          datasets=list(cache.manifest.datasets))
    return pipe.result(source, index_values=values, websocket=None)


def _run_ws(path: Path, pm: pluggy.PluginManager, profile: Profile, store: Store,
            config: AggregatorConfig | None, progress: bool | None) -> ReplayRun:
    date = _first_event_date(path)
    agg = StreamingAggregator(config)
    pipe = _Pipeline(pm, profile, store, agg)
    bar: Progress = NullProgress()
    if progress is not False:
        with open(path, "rb") as fh:
            lines = sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b""))
        bar = make_progress(lines, f"replay {path.name}", enabled=progress)
    try:
        values, ws = _replay_ws(path, pipe, bar)
        pipe.finish()
    finally:
        bar.close()
    source = ReplaySource(kind="websocket", session_date=date, recording=path.name,
                          recording_sha256=_sha256_file(path))
    return pipe.result(source, index_values=values, websocket=ws)


def replay_session(session: SessionInput, *, detectors: Sequence[str] | None = None,
                   profile: Profile | str | os.PathLike[str] | None = None,
                   out_dir: str | os.PathLike[str] | None = None,
                   store: Store | str | os.PathLike[str] | None = None,
                   config: AggregatorConfig | None = None, step_ms: int = DEFAULT_STEP_MS,
                   pm: pluggy.PluginManager | None = None,
                   progress: bool | None = False) -> ReplayResult:
    """Replay one session through the live pipeline and write its outputs.

    Parameters as :func:`run_replay`, plus:

    :param out_dir: folder for :data:`OUTPUT_FILES` (created; existing files replaced). None
        writes no files (the digests are still computed).
    :param store: a :class:`Store`, a store file, or None: ``out_dir/spxcc.sqlite3`` (an
        in-memory store without ``out_dir``).
    :returns: the report, the output digests and where they were written.
    """
    _check_step(step_ms)
    session_kind(session)
    pm = pm if pm is not None else get_plugin_manager()
    prof = _select_detectors(pm, _resolve_profile(profile), detectors)
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"output folder {out}: cannot create ({exc.strerror or exc})") \
                from None
    db, owned = _open_store(store, out)
    try:
        run = run_replay(session, profile=prof, store=db, config=config,
                         step_ms=step_ms, pm=pm, progress=progress)
    finally:
        if owned:
            db.close()
    files = run.outputs()
    if out is not None:
        for name in OUTPUT_FILES:
            tmp = out / f".{name}.tmp"
            tmp.write_bytes(files[name])
            tmp.replace(out / name)
    return ReplayResult(session_date=run.report.source.session_date,
                        out_dir=None if out is None else str(out), report=run.report,
                        digests={n: hashlib.sha256(b).hexdigest() for n, b in files.items()})
