"""The replay engine: a recorded session through the same pipeline as live.

The pipeline is :class:`spxcc_core.pipeline.Pipeline` (run id prefix ``replay``), the very
object the live host drives: per step, index values to the runner's market, then trades and
quotes → :class:`~spxcc_core.aggregate.StreamingAggregator` → each final microbar to the
``spxcc_on_microbar`` observers → :class:`~spxcc_core.detect.DetectorRunner` (providers,
detectors, gating, setup lifecycle and outcomes) → setup state changes upserted into the SQLite
store, one transaction per step. This module only supplies the source and the clock.

Sources (:func:`replay_session`'s ``session``):

- a session-cache folder (:mod:`spxcc_core.replay.cache`): every dataset is cut into batches by
  the **replay clock**, which advances in steps of ``step_ms`` of event time; each step pushes,
  per dataset and in arrival order, the rows whose running maximum timestamp is before the clock;
- a folder of Massive flat files of one day: ingested into a temporary cache first;
- a websocket recording (``.jsonl`` / ``.jsonl.gz``, one frame per line): pushed frame by frame
  (each frame's index values, then its trades and quotes), exactly as live pushes them.

Microbars do not depend on batch boundaries (``spec/microbar.md``, finality), and every output
is written in an order that does not depend on them either, so a replay's outputs are the same
for any ``step_ms`` and byte-identical from run to run. Index values are not aggregated (an
index has no trades or quotes): they are counted and given to the market.

Gamma context: the session's option-chain snapshot — ``chain`` when given, else the cache's own
(none for a recording without ``chain``) — is set on the pipeline's
:class:`~spxcc_core.detect.market.SessionMarket` before the first batch. From a cache, the index
values are pushed to it (only when there is a chain: nothing else reads them) by the same
replay clock, each step *before* that step's trades and quotes, so an underlying bar ending at
``t`` always sees every index value stamped before ``t``, whatever the step; from a recording,
each frame's values go before its trades and quotes, so a bar sees every value that arrived
before the event that made it final — the same values when the feed delivered them in time
order. Option microbars reach the market through the runner. A detector that reads cross-symbol
context (``ctx.gamma``'s flow proxy) sees the option bars final when its own bar is processed:
its outputs are byte-identical from run to run for a given ``step_ms``, but the step can move
when a quiet contract's flow first shows up; the ``sessionEnd`` values in the report are
computed after the input has ended and do not depend on the step.

Outputs (``out_dir``): ``microbars.jsonl`` (``microbar@2``, by symbol then ``startMs``),
``setups.jsonl`` (final state of every setup, by detection time then id),
``gate_decisions.jsonl`` (every gate decision, by bar start then symbol),
``quarantine.jsonl`` (every event not applied, trades then quotes, by time) and ``report.json``
(``replay_report@1``). No wall-clock time, run id or absolute path appears in any of them.

Execution (``execute``, ``spxcc replay --execute paper``): the pipeline also runs the profile's
execution policy against a broker adapter from the registry, fed the session's raw option
quotes in event time (:mod:`spxcc_core.execute.engine`) — from a cache, every option quote sorted
by time and cut by the replay clock after each step (flat files list them contract by
contract); the outputs add ``intents.jsonl``,
``fills.jsonl``, ``positions.jsonl`` (end-of-session book) and ``slippage.jsonl``, and the
report an ``execution`` section. The paper adapter runs on the replay clock (``clock=replay``)
with a 250 ms submit latency unless ``execute_options`` say otherwise, with an in-memory
account ``replay`` (never the store's: a rerun starts from the same book).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import attrs
import numpy as np
import numpy.typing as npt
import pluggy

from spxcc_core.aggregate.config import AggregatorConfig
from spxcc_core.aggregate.engine import StreamingAggregator
from spxcc_core.contracts.replay import WebsocketCounts
from spxcc_core.detect.profile import Profile
from spxcc_core.errors import ConfigError, InputError
from spxcc_core.hashing import digests, sha256_file
from spxcc_core.outputs import atomic_write
from spxcc_core.pipeline import Pipeline
from spxcc_core.replay.cache import SessionCache, ingest, is_session_cache, open_cache
from spxcc_core.replay.progress import NullProgress, Progress, make_progress
from spxcc_core.replay.wire import ReplayResult, ReplaySource
from spxcc_core.run.result import OUTPUT_FILES, Format, RunResult, output_names
from spxcc_core.run.setup import (
    DB_NAME,
    PAPER_REPLAY_OPTIONS,
    REPLAY_ACCOUNT,
    RunInputs,
    check_run_paths,
    execution_broker,
    make_out_dir,
    resolve_inputs,
    run_store,
    ws_counts,
)
from spxcc_core.store.sqlite import Store

if TYPE_CHECKING:
    from spxcc_core.aggregate.columns import QuoteColumns
    from spxcc_core.broker.interface import BrokerAdapter
    from spxcc_core.chain import ChainSnapshot

__all__ = [
    "DB_NAME",
    "DEFAULT_STEP_MS",
    "OUTPUT_FILES",
    "PAPER_REPLAY_OPTIONS",
    "REPLAY_ACCOUNT",
    "BarsSource",
    "PreparedBars",
    "ReplayRun",
    "RunResult",
    "SessionInput",
    "check_recording",
    "check_run_paths",
    "replay_session",
    "run_replay",
    "session_kind",
    "ws_counts",
]

#: Default replay-clock step: one minute of event time per batch.
DEFAULT_STEP_MS = 60_000

SessionInput = str | os.PathLike[str] | SessionCache
#: The former name of :class:`~spxcc_core.run.RunResult` (kept for existing callers).
ReplayRun = RunResult

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


# ----------------------------------------------------------------------------- drivers


class Sink(Protocol):
    """What the drivers push into: a :class:`Pipeline`, or the bars-cache recorder
    (:mod:`spxcc_core.replay.bars`), which aggregates and records instead of detecting."""

    @property
    def aggregator(self) -> StreamingAggregator:
        """The aggregator whose symbol and condition tables the batches refer to."""

    def push(self, trades: Any, quotes: Any, index_values: Any = None) -> object:
        """One step: index values, then trades and quotes (each None or empty: none)."""


class PreparedBars(Protocol):
    """A session's microbars, aggregated earlier (:mod:`spxcc_core.replay.bars`)."""

    def replay(self, inputs: RunInputs, store: Store,
               config: AggregatorConfig | None) -> RunResult:
        """Detection, gating and outcomes over the bars: the session's full replay result."""


class BarsSource(Protocol):
    """Where a replay gets a session's microbars instead of aggregating now
    (:class:`spxcc_core.replay.bars.BarsCache`)."""

    def prepare(self, session: SessionInput, *, config: AggregatorConfig | None,
                step_ms: int) -> PreparedBars:
        """The session's bars, read (or aggregated and kept) before any output is created.

        :raises InputError: unreadable session input.
        """


def _push_index(pipe: Sink, cursor: _Cursor, until_ns: int) -> None:
    for b in cursor.take_until(until_ns):
        pipe.push(None, None, index_values=b)


def _replay_cache(cache: SessionCache, pipe: Sink, step_ms: int,
                  progress: Progress, *, with_index: bool,
                  executor_feed: Pipeline | None = None) -> None:
    """Feed a cache through ``pipe`` by the replay clock; ``with_index``: push the index
    values too (the gamma context reads them with a chain, the executor for its index value);
    ``executor_feed``: the pipeline whose executor also gets the session's option quotes in
    time order, by the same clock (None: no execution)."""
    groups = [(cache.batches(f"{c}_trades"), cache.batches(f"{c}_quotes"))
              for c in ("stocks", "options")]
    cursors = [(_Cursor(t), _Cursor(q)) for t, q in groups]
    index = (_Cursor(cache.batches("index_values"))
             if with_index and cache.rows("index_values") else None)
    step = step_ms * _NS_PER_MS
    options = (time_ordered_option_quotes(cache)
               if executor_feed is not None and executor_feed.executor is not None else None)
    if executor_feed is not None and options is not None:
        executor_feed.external_option_quotes = True
    fed = 0
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
        if options is not None:  # the executor's option quotes up to the clock, by time
            cut = int(np.searchsorted(options.ts, clock, side="left"))
            if cut > fed and executor_feed is not None:
                executor_feed.feed_option_quotes(_slice(options, fed, cut))
                fed = cut
    if executor_feed is not None and options is not None and fed < len(options):
        executor_feed.feed_option_quotes(_slice(options, fed, len(options)))
    if index is not None:  # the rest, before the final bars are released
        _push_index(pipe, index, 2**63 - 1)


def time_ordered_option_quotes(cache: SessionCache) -> QuoteColumns | None:
    """Every option quote of the cache in time order (stable: arrival order within one
    instant), for the executor: a flat file lists quotes contract by contract, so its arrival
    order says nothing about time across contracts. None when the cache has none."""
    from spxcc_core.aggregate.columns import QuoteColumns

    parts = list(cache.batches("options_quotes"))
    if not parts:
        return None
    whole = QuoteColumns.concat(parts)
    return whole.take(np.argsort(whole.ts, kind="stable"))


def _replay_ws(path: Path, pipe: Sink, progress: Progress) -> WebsocketCounts:
    """Push a recording frame by frame (index values, then trades and quotes, as live does);
    returns the websocket event counts."""
    from spxcc_core.massive.websocket import WsStats, iter_ws_decoded

    stats = WsStats()
    agg = pipe.aggregator
    for frame in iter_ws_decoded(path, ticker=None, symbols=agg.symbols,
                                 conditions=agg.conditions, stats=stats):
        pipe.push(frame.trades, frame.quotes, frame.values)
        progress.advance(1)
    return ws_counts(stats)


def check_recording(path: Path) -> tuple[str, int]:
    """Read a whole recording once before anything is written (or served): the New York date
    of its first trade or quote and its number of lines (for the progress bar).

    :raises InputError: an unreadable or malformed recording, or one without trades or quotes.
    """
    from spxcc_core.aggregate.columns import ConditionTable, SymbolTable
    from spxcc_core.massive.websocket import iter_ws_decoded
    from spxcc_core.session import earliest_event_ns, ny_date_of_ms

    first: int | None = None
    lines = 0
    for frame in iter_ws_decoded(path, ticker=None, symbols=SymbolTable(),
                                 conditions=ConditionTable()):
        lines += 1
        if first is None:
            first = earliest_event_ns(frame.trades.ts, frame.quotes.ts)
    if first is None:
        raise InputError(str(path), "the recording holds no trades or quotes")
    return ny_date_of_ms(first // _NS_PER_MS).isoformat(), lines


@attrs.frozen(eq=False)
class _Source:
    """A replay source read and checked before any output or store is opened."""

    kind: str
    cache: SessionCache | None = None
    recording: Path | None = None
    date: str = ""
    lines: int = 0


@contextmanager
def _prepared(session: SessionInput, kind: str) -> Iterator[_Source]:
    """The source of ``kind``, read and checked: a cache opened, flat files ingested into a
    temporary cache (removed on exit), a recording decoded once.

    :raises InputError: unreadable or malformed input.
    """
    if kind == "cache":
        yield _Source(kind, cache=session if isinstance(session, SessionCache)
                      else open_cache(session))
        return
    path = Path(session)  # type: ignore[arg-type]
    if kind == "websocket":
        date, lines = check_recording(path)
        yield _Source(kind, recording=path, date=date, lines=lines)
        return
    tmp = Path(tempfile.mkdtemp(prefix="spxcc-replay-"))
    try:
        yield _Source(kind, cache=ingest(path, tmp / "cache"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ----------------------------------------------------------------------------- configuration


def _check_step(step_ms: int) -> None:
    if isinstance(step_ms, bool) or not isinstance(step_ms, int) or step_ms < 1:
        raise ConfigError(f"step_ms must be a positive integer of milliseconds, got {step_ms!r}")


# ----------------------------------------------------------------------------- public API


def run_replay(session: SessionInput, *, detectors: Sequence[str] | None = None,
               profile: Profile | str | os.PathLike[str] | None = None,
               store: Store | str | os.PathLike[str] | None = None,
               config: AggregatorConfig | None = None, step_ms: int = DEFAULT_STEP_MS,
               pm: pluggy.PluginManager | None = None,
               progress: bool | None = False,
               chain: ChainSnapshot | str | os.PathLike[str] | None = None,
               execute: str | None = None,
               execute_options: Mapping[str, object] | None = None,
               bars_cache: BarsSource | None = None) -> RunResult:
    """Replay a session in memory (nothing written but the store).

    :param session: a session-cache folder or :class:`SessionCache`, a folder of Massive flat
        files of one day, or a websocket recording (``.jsonl``).
    :param detectors: names of the detectors to run (None: every installed detector the profile
        enables).
    :param profile: a :class:`Profile` or a profile TOML file (None: the default profile).
    :param store: a :class:`Store` (left open), a store file (None: an in-memory store).
    :param config: aggregation settings (default :class:`AggregatorConfig`).
    :param step_ms: replay-clock step in milliseconds of event time (>= 1).
    :param pm: the plugin manager (default: :func:`~spxcc_core.plugins.get_plugin_manager`).
    :param progress: show a progress bar on stderr (None: only when stderr is a terminal).
    :param chain: an option-chain snapshot (or its Massive JSON file) for the ``gamma``
        context; it replaces the session cache's own snapshot. None: the cache's snapshot, none
        for a websocket recording.
    :param execute: execute triggered setups on this registered broker (``paper``), None: no
        execution (module docstring).
    :param execute_options: the broker's options (strings accepted; paper:
        :data:`PAPER_REPLAY_OPTIONS` are the defaults).
    :param bars_cache: aggregate through a bars cache (:mod:`spxcc_core.replay.bars`):
        the session's microbars are recorded once per content and aggregator settings, and
        detection runs over them; the outputs are the same bytes. None: aggregate now. Not
        used with ``execute``: execution needs the session's raw option quotes.
    :returns: the run's :class:`~spxcc_core.run.RunResult` (``to_arrow()``, ``to_polars()``,
        ``to_pandas()``, ``outputs()``).
    :raises InputError: unreadable session input or chain snapshot.
    :raises ConfigError: a bad profile, detector name, step or store; a store file that is,
        contains or lies inside an input.
    """
    _check_step(step_ms)
    kind = session_kind(session)
    check_run_paths(session=_session_path(session), out_dir=None, store=store,
                    profile=profile, chain=chain)
    inputs = resolve_inputs(pm=pm, profile=profile, detectors=detectors, chain=chain)
    broker = execution_broker(inputs.pm, execute, execute_options)
    if bars_cache is not None and broker is None:
        bars = bars_cache.prepare(session, config=config, step_ms=step_ms)
        with run_store(store, None) as db:
            return bars.replay(inputs, db, config)
    with _prepared(session, kind) as src, run_store(store, None) as db:
        return _replay(src, inputs, db, config, step_ms, progress, broker)


def _session_path(session: SessionInput) -> str | os.PathLike[str]:
    return session.root if isinstance(session, SessionCache) else session


def _replay(src: _Source, inputs: RunInputs, store: Store, config: AggregatorConfig | None,
            step_ms: int, progress: bool | None, broker: BrokerAdapter | None) -> RunResult:
    if src.cache is not None:
        return _run(src.cache, src.kind, inputs, store, config, step_ms, progress, broker)
    assert src.recording is not None
    return _run_ws(src, inputs, store, config, progress, broker)


def _run(cache: SessionCache, kind: str, inputs: RunInputs, store: Store,
         config: AggregatorConfig | None, step_ms: int, progress: bool | None,
         broker: BrokerAdapter | None) -> RunResult:
    kinds = set(cache.kinds)
    feeds = [f for f in ("trades", "quotes") if {f"stocks_{f}", f"options_{f}"} & kinds]
    if not feeds:
        raise InputError(str(cache.root), "the session holds no trades or quotes")
    date = cache.manifest.session_date
    pipe = Pipeline(inputs.pm, inputs.profile, store=store, config=config, feeds=feeds,
                    run_id_prefix="replay", chain=inputs.chain if inputs.chain is not None
                    else cache.chain_snapshot(), session_date=date,
                    symbols=cache.symbol_table(), conditions=cache.condition_table(),
                    broker=broker)
    bar = make_progress(cache.total_events, f"replay {date}", enabled=progress)
    try:
        # index values matter to the gamma context (with a chain) and to the executor
        _replay_cache(cache, pipe, step_ms, bar,
                      with_index=pipe.market.chain is not None or pipe.executor is not None,
                      executor_feed=pipe)
        pipe.finish()
    finally:
        bar.close()
    source = ReplaySource(kind=kind, session_date=date,  # type: ignore[arg-type]
                          datasets=list(cache.manifest.datasets))
    return pipe.report(source, index_values=cache.rows("index_values"))


def _run_ws(src: _Source, inputs: RunInputs, store: Store, config: AggregatorConfig | None,
            progress: bool | None, broker: BrokerAdapter | None) -> RunResult:
    path, date = src.recording, src.date
    assert path is not None
    pipe = Pipeline(inputs.pm, inputs.profile, store=store, config=config,
                    run_id_prefix="replay", chain=inputs.chain, session_date=date,
                    broker=broker)
    bar: Progress = NullProgress()
    if progress is not False:
        bar = make_progress(src.lines, f"replay {path.name}", enabled=progress)
    try:
        ws = _replay_ws(path, pipe, bar)
        pipe.finish()
    finally:
        bar.close()
    source = ReplaySource(kind="websocket", session_date=date, recording=path.name,
                          recording_sha256=sha256_file(path))
    return pipe.report(source, websocket=ws)


def replay_session(session: SessionInput, *, detectors: Sequence[str] | None = None,
                   profile: Profile | str | os.PathLike[str] | None = None,
                   out_dir: str | os.PathLike[str] | None = None,
                   store: Store | str | os.PathLike[str] | None = None,
                   config: AggregatorConfig | None = None, step_ms: int = DEFAULT_STEP_MS,
                   pm: pluggy.PluginManager | None = None,
                   progress: bool | None = False,
                   chain: ChainSnapshot | str | os.PathLike[str] | None = None,
                   fmt: Format = "jsonl", execute: str | None = None,
                   execute_options: Mapping[str, object] | None = None,
                   bars_cache: BarsSource | None = None) -> ReplayResult:
    """Replay one session through the live pipeline and write its outputs.

    Parameters as :func:`run_replay`, plus:

    :param out_dir: folder for the output files (created; existing files replaced). None
        writes no files (the digests are still computed).
    :param store: a :class:`Store`, a store file, or None: ``out_dir/spxcc.sqlite3`` (an
        in-memory store without ``out_dir``).
    :param bars_cache: as for :func:`run_replay`.
    :param fmt: ``jsonl`` (default: :data:`OUTPUT_FILES`), ``parquet`` (the Parquet files of
        :data:`~spxcc_core.run.PARQUET_FILES` and ``report.json``) or ``both``
        (:func:`~spxcc_core.run.result.output_names`). Parquet is written with fixed options:
        the same bytes on every run.
    :param execute: see :func:`run_replay`; adds ``intents.jsonl``, ``fills.jsonl``,
        ``positions.jsonl`` and ``slippage.jsonl`` to the outputs.
    :param execute_options: see :func:`run_replay`.
    :returns: the report, the digests of the files of ``fmt`` and where they were written.
    :raises ConfigError: an unknown ``fmt``; an output (a file of ``fmt`` in ``out_dir``, or
        the store file) is, contains or lies inside an input (``session``, ``profile``,
        ``chain``), or two outputs are the same file: refused before anything is read or
        written.
    :raises InputError: unreadable input: the session is read and checked before the output
        folder and the store are created, so nothing is left behind.
    """
    names = output_names(fmt, execute=execute is not None)
    _check_step(step_ms)
    kind = session_kind(session)
    check_run_paths(session=_session_path(session), out_dir=out_dir, store=store,
                    profile=profile, chain=chain, names=names)
    inputs = resolve_inputs(pm=pm, profile=profile, detectors=detectors, chain=chain)
    broker = execution_broker(inputs.pm, execute, execute_options)
    if bars_cache is not None and broker is None:
        bars = bars_cache.prepare(session, config=config, step_ms=step_ms)
        out = make_out_dir(out_dir)
        with run_store(store, out) as db:
            run = bars.replay(inputs, db, config)
    else:
        with _prepared(session, kind) as src:
            out = make_out_dir(out_dir)
            with run_store(store, out) as db:
                run = _replay(src, inputs, db, config, step_ms, progress, broker)
    files = run.outputs(fmt)
    if out is not None:
        atomic_write({out / name: files[name] for name in names})
    return ReplayResult(session_date=run.report.source.session_date,
                        out_dir=None if out is None else str(out), report=run.report,
                        digests=digests(files))
