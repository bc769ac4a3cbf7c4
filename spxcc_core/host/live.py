"""The live runner: Massive live websocket → the session pipeline → the websocket hub.

:func:`run_live` connects a :class:`~spxcc_core.massive.live.LiveClient` per Massive cluster
(one URL, or several routed by :mod:`spxcc_core.host.routing`, e.g. stocks for ``T.SPY``/``Q.SPY``
and indices for ``V.I:SPX``), merges their frames into one stream in arrival order — the order
they are processed, recorded and numbered (``line``) in — and pushes every frame — its index
values, then its trades and quotes — through :class:`spxcc_core.pipeline.Pipeline`,
exactly as a replay of a websocket recording does, and publishes each step's new microbars,
setup changes and gate decisions on a :class:`~spxcc_core.host.hub.Hub`. Optionally every
received message is recorded (:class:`~spxcc_core.host.record.Recorder`) so the session can be
replayed later with ``spxcc replay``: the replay's outputs are byte-identical to the live ones.

**Gamma context.** With an option-chain snapshot (``chain``: Massive snapshot JSON, read with
:mod:`spxcc_core.chain`), the pipeline's market gets the chain for the New York date of the
first trade or quote received, and every index value (``V`` events, e.g. ``V.I:SPX``) as it
arrives — so the ``gamma`` provider sees the same spot live as in a replay of the recording
with the same snapshot (``spxcc replay REC.jsonl --chain FILE``).

**Ending the input.** A configured feed that stays silent holds bars back (``spec/microbar.md``,
finality). The session ends — and the aggregator's input ends with it, making every held bar
final — when no trade or quote arrived for ``idle_timeout_s`` seconds (``idle``), after
``duration_s`` seconds (``duration``), when ``stop`` is set (``stopped``) or when the feed fails
for good (``feed_error``). The live report (``live.json``) records which, when, how long the
feed had been silent and how many bars only the end of the input released. Ending the input
rather than forcing individual bars keeps the session replayable byte for byte: the recording
ends where the live input ended.

**Feed truth** (``docs/live.md``, reconnects, stalls and gaps). Every connection reconnects
with a jittered backoff and re-subscribes; one silent for ``stall_timeout_s`` is re-established.
Each outage is a :class:`~spxcc_core.host.wire.FeedGap` (from the newest event before it to the
oldest after) in the report and on the hub's ``feed_status@1`` channel; bars keep the coverage
they really had. A malformed message is quarantined (reason in the report, not in the
recording) and the feed goes on. ``Q.*`` channels of a delayed URL (no quote stream) are not
subscribed and the report says every bar's quote coverage is 0.

**A lost store connection** (PostgreSQL; ``docs/operations.md``) never ends the session with a
traceback nor loses a record silently: the pipeline writes a step's setup states and gate
decisions again after the reconnect (:mod:`spxcc_core.setups.writer`), and an interrupted
order-routing step halts new entries for the rest of the run
(:class:`~spxcc_core.execute.routing.WorkerRouter`). ``live.json``'s ``store``
(:class:`~spxcc_core.host.wire.StoreHealth`) reports the store's reconnects, the interrupted
writes by site, those written again, what stayed unwritten and why entries were halted.

Outputs (``out_dir``): the replay engine's files (``microbars.jsonl``, ``setups.jsonl``,
``gate_decisions.jsonl``, ``quarantine.jsonl``, ``report.json``) plus ``live.json``
(``live_report@3``) and, when the chain snapshot was given as a file, an unchanged copy of it
(``chain_snapshot.json``). The API key never appears in any of them, in a log line or an
exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs
import msgspec
import pluggy

from spxcc_core.aggregate.config import AggregatorConfig
from spxcc_core.chain import ChainSnapshot
from spxcc_core.clock import Clock, SystemClock
from spxcc_core.contracts.replay import ReplaySource
from spxcc_core.detect.profile import Profile
from spxcc_core.errors import ConfigError, SpxccError
from spxcc_core.hashing import digests
from spxcc_core.host.hub import Hub
from spxcc_core.host.record import Recorder
from spxcc_core.host.routing import route
from spxcc_core.host.wire import (
    FeedGap,
    FeedProblem,
    FeedStatus,
    FrameQuarantine,
    InputEnd,
    LiveLink,
    LiveReportV3,
    StopReason,
    StoreHealth,
)
from spxcc_core.massive.live import (
    ApiKey,
    Backoff,
    LiveClient,
    MassiveConnectionError,
    public_url,
)
from spxcc_core.massive.websocket import WsFrame, WsStats
from spxcc_core.outputs import atomic_write
from spxcc_core.pipeline import Pipeline
from spxcc_core.registry import as_registry
from spxcc_core.run.result import OUTPUT_FILES, RunResult, StepOutputs, json_document
from spxcc_core.run.setup import (
    check_run_paths,
    make_out_dir,
    open_store,
    resolve_inputs,
    ws_counts,
)
from spxcc_core.session import ny_date_of_ms
from spxcc_core.store.sqlite import Store

if TYPE_CHECKING:
    from spxcc_core.aggregate.columns import QuoteColumns, TradeColumns
    from spxcc_core.broker.interface import BrokerAdapter
    from spxcc_core.broker.reconcile import ReconcilePolicy
    from spxcc_core.broker.routing import RoutingLimits
    from spxcc_core.execute.routing import WorkerRouter

__all__ = ["CHAIN_COPY", "DEFAULT_IDLE_TIMEOUT_S", "DEFAULT_STALL_TIMEOUT_S", "LIVE_REPORT",
           "MAX_QUARANTINED_FRAMES", "LiveResult", "check_live_paths", "check_routes", "feeds_for",
           "is_delayed", "run_live"]

log = logging.getLogger("spxcc.host.live")

#: Default idle timeout: a minute without a trade or a quote ends the session.
DEFAULT_IDLE_TIMEOUT_S = 60.0
#: Default stall timeout: a connection silent this long is re-established.
DEFAULT_STALL_TIMEOUT_S = 15.0
#: Quarantined messages listed in the live report (all are counted).
MAX_QUARANTINED_FRAMES = 1000
#: File name of the live report in ``out_dir``.
LIVE_REPORT = "live.json"
#: File name, in ``out_dir``, of the copy of the chain snapshot file a session used.
CHAIN_COPY = "chain_snapshot.json"

_NS_PER_MS = 1_000_000


@attrs.define(eq=False)
class LiveResult:
    """A finished live session: the pipeline's outputs (as a replay shapes them), the live
    report and where they were written (None: not written)."""

    run: RunResult
    report: LiveReportV3
    out_dir: Path | None
    #: Why the latest failed connection attempt failed (``URL: reason``), None when none did.
    last_failure: str | None = None

    @property
    def digests(self) -> dict[str, str]:
        """SHA-256 of every output file (:data:`~spxcc_core.replay.engine.OUTPUT_FILES`)."""
        return self.report.digests


def feeds_for(subscriptions: Sequence[str]) -> tuple[str, ...]:
    """The aggregator feeds a subscription list configures: ``T.*`` → trades, ``Q.*`` → quotes
    (both when it has neither, e.g. index values only)."""
    feeds = tuple(f for f, prefix in (("trades", "T."), ("quotes", "Q."))
                  if any(s.strip().upper().startswith(prefix) for s in subscriptions))
    return feeds or ("trades", "quotes")


def is_delayed(url: str) -> bool:
    """Whether a Massive URL is a 15-minute delayed feed (host ``delayed.…`` or
    ``delayed-….``), which carries no quotes (``reference/massive.md`` §1, note 5)."""
    host = urlsplit(url).hostname or ""
    return host.startswith(("delayed.", "delayed-"))


def _check_seconds(name: str, value: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{name} must be a positive number of seconds or None, got {value!r}")


def _scrubber(key: ApiKey) -> Callable[[bytes], bytes]:
    return key.scrub_bytes


@attrs.define(eq=False)
class _Session:
    """Mutable state of one live session (the loop's bookkeeping)."""

    feeds: tuple[str, ...]
    pipe: Pipeline
    hub: Hub | None
    clock: Clock
    messages: int = 0
    quarantined: list[FrameQuarantine] = attrs.field(factory=list)
    quarantined_count: int = 0
    gaps: list[FeedGap] = attrs.field(factory=list)
    unconfigured: dict[str, int] = attrs.field(factory=dict)
    last_data: float | None = None
    last_event_ns: int | None = None
    session_date: str | None = None

    def frame(self, frame: WsFrame) -> None:
        trades: TradeColumns | None = frame.trades
        quotes: QuoteColumns | None = frame.quotes
        stamps = [c.ts for c in (frame.trades, frame.quotes) if len(c)]
        if stamps:
            newest = max(int(s.max()) for s in stamps)
            self.last_event_ns = (newest if self.last_event_ns is None
                                  else max(self.last_event_ns, newest))
            if self.session_date is None:  # as a replay of the recording dates it
                first = min(int(s.min()) for s in stamps)
                self.session_date = ny_date_of_ms(first // _NS_PER_MS).isoformat()
                self.pipe.set_session_date(self.session_date)
            if len(frame.trades) and "trades" not in self.feeds:
                self.unconfigured["trades"] = (self.unconfigured.get("trades", 0)
                                               + len(frame.trades))
                trades = None
            if len(frame.quotes) and "quotes" not in self.feeds:
                self.unconfigured["quotes"] = (self.unconfigured.get("quotes", 0)
                                               + len(frame.quotes))
                quotes = None
        if trades is not None or quotes is not None or len(frame.values):
            self.publish(self.pipe.push(trades, quotes, frame.values))
        if stamps:
            self.last_data = self.clock.monotonic()  # after the work: idle counts waiting only

    def publish(self, out: StepOutputs) -> None:
        if self.hub is not None and len(out):
            self.hub.publish(out.bars)
            self.hub.publish(out.setups)
            self.hub.publish(out.decisions)

    def feed_status(self, status: FeedStatus) -> None:
        if self.hub is not None:
            self.hub.publish([status])


@attrs.define(eq=False)
class _Feed:
    """One Massive connection of the session and how its message indexes map onto the merged
    stream's (``offset``: merged ``line`` − the client's own, for its current message)."""

    url: str
    subscriptions: list[str]
    client: LiveClient | None = None
    offset: int = 0
    messages: int = 0
    #: Event time (ms) of the newest trade, quote or index value received on this link.
    last_event_ms: int | None = None
    #: The link's gap still waiting for its first data after the drop (index in the session's
    #: gap list), None when there is none.
    open_gap: int | None = None

    def linked(self, s: _Session, event: str, reason: str | None, attempts: int) -> None:
        """A handshake (``connected``) or a drop (``disconnected``) of this link: opens and
        completes its gap, published as ``feed_status@1``."""
        url, now = public_url(self.url), s.clock.now_ms()
        if event == "disconnected":
            if self.open_gap is None:  # drops without data in between make one window
                self.open_gap = len(s.gaps)
                s.gaps.append(FeedGap(url=url, from_ms=self.last_event_ms, to_ms=None,
                                      disconnected_at_ms=now, reconnected_at_ms=None,
                                      reason=reason or "", attempts=0))
            s.feed_status(FeedStatus(event="disconnected", url=url, at_ms=now, reason=reason,
                                     gap=s.gaps[self.open_gap]))
        elif self.open_gap is None:
            s.feed_status(FeedStatus(event="connected", url=url, at_ms=now))
        else:
            old = s.gaps[self.open_gap]
            gap = s.gaps[self.open_gap] = msgspec.structs.replace(
                old, reconnected_at_ms=now, attempts=old.attempts + attempts)
            s.feed_status(FeedStatus(event="reconnected", url=url, at_ms=now, gap=gap))

    def received(self, s: _Session, frame: WsFrame) -> None:
        """Event times of a data frame of this link: the first after a drop closes the gap."""
        stamps = [c.ts for c in (frame.trades, frame.quotes, frame.values) if len(c)]
        if not stamps:
            return
        oldest = min(int(t.min()) for t in stamps) // _NS_PER_MS
        newest = max(int(t.max()) for t in stamps) // _NS_PER_MS
        if self.open_gap is not None:
            gap = s.gaps[self.open_gap] = msgspec.structs.replace(s.gaps[self.open_gap],
                                                                  to_ms=oldest)
            self.open_gap = None
            s.feed_status(FeedStatus(event="gap", url=gap.url, at_ms=s.clock.now_ms(),
                                     gap=gap))
        self.last_event_ms = newest if self.last_event_ms is None else max(self.last_event_ms,
                                                                          newest)

    def quarantine(self, s: _Session, message: bytes, reason: str) -> None:
        """A malformed message of this link, set aside (listed up to the report's limit)."""
        s.quarantined_count += 1
        if len(s.quarantined) < MAX_QUARANTINED_FRAMES:
            s.quarantined.append(FrameQuarantine(
                message=s.messages + s.quarantined_count, url=public_url(self.url),
                received_ms=s.clock.now_ms(), reason=reason[:300],
                excerpt=message[:80].decode("utf-8", "replace")))
        log.warning("live feed %s: message quarantined: %s", public_url(self.url), reason[:200])


class _Ended:
    """A pump's feed ended without an error (its client was closed)."""


_ENDED = _Ended()
_Item = tuple[WsFrame | None, BaseException | _Ended | None]


def _shift(frame: WsFrame, offset: int) -> WsFrame:
    """The frame with every ``line`` moved by ``offset`` (merged-stream message indexes)."""
    if offset == 0:
        return frame
    return attrs.evolve(
        frame,
        trades=attrs.evolve(frame.trades, line=frame.trades.line + offset),
        quotes=attrs.evolve(frame.quotes, line=frame.quotes.line + offset),
        values=attrs.evolve(frame.values, line=frame.values.line + offset))


def _merged_stats(feeds: Sequence[_Feed]) -> WsStats:
    total = WsStats()
    for f in feeds:
        if f.client is None:
            continue
        st = f.client.stats
        total.events += st.events
        total.trades += st.trades
        total.quotes += st.quotes
        total.values += st.values
        total.statuses.update(st.statuses)
        total.unknown.update(st.unknown)
    return total


async def _pump(feed: _Feed, s: _Session, queue: asyncio.Queue[_Item]) -> None:
    """Moves one client's frames onto the merged queue. A frame is queued in the same event
    loop step its message was received and recorded in, so the queue's order is the
    recording's order."""
    assert feed.client is not None
    try:
        async for frame in feed.client.frames():
            feed.received(s, frame)
            queue.put_nowait((_shift(frame, feed.offset), None))
    except Exception as exc:  # handed to the consumer, which decides
        queue.put_nowait((None, exc))
    else:
        queue.put_nowait((None, _ENDED))


async def _consume(feeds: Sequence[_Feed], s: _Session, *, idle_timeout_s: float | None,
                   duration_s: float | None, stop: asyncio.Event | None,
                   connect_timeout_s: float | None,
                   ) -> tuple[StopReason, SpxccError | None]:
    """Feed the merged frames of every connection to the session until a stop condition;
    returns (reason, feed error). Every frame received — hence recorded — is processed, the
    ones still queued when the session stops included."""
    queue: asyncio.Queue[_Item] = asyncio.Queue()
    pumps = [asyncio.ensure_future(_pump(f, s, queue)) for f in feeds]
    try:
        result = await _wait(queue, feeds, s, idle_timeout_s=idle_timeout_s,
                             duration_s=duration_s, stop=stop,
                             connect_timeout_s=connect_timeout_s)
    finally:
        for task in pumps:  # no message is received (nor recorded) after this
            task.cancel()
        for task in pumps:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for f in feeds:
            if f.client is not None:
                with contextlib.suppress(Exception):
                    await f.client.close()
    while not queue.empty():  # received and recorded before the stop: processed too
        frame, _ = queue.get_nowait()
        if frame is not None:
            s.frame(frame)
    return result


def _never_connected(feeds: Sequence[_Feed], seconds: float) -> MassiveConnectionError | None:
    """The error for the links without a handshake at the connect deadline (None: none)."""
    missing = [f for f in feeds if f.client is None or f.client.connections == 0]
    if not missing:
        return None
    why = "; ".join(f"{public_url(f.url)}: {f.client.last_failure if f.client else None}"
                    for f in missing)
    return MassiveConnectionError(f"never connected within {seconds:g} s ({why})")


async def _wait(queue: asyncio.Queue[_Item], feeds: Sequence[_Feed], s: _Session, *,
                idle_timeout_s: float | None, duration_s: float | None,
                stop: asyncio.Event | None,
                connect_timeout_s: float | None) -> tuple[StopReason, SpxccError | None]:
    clock = s.clock
    t0 = clock.monotonic()
    n_feeds = len(feeds)
    ended = 0
    next_task: asyncio.Future[_Item] | None = None
    stop_task = asyncio.ensure_future(stop.wait()) if stop is not None else None
    try:
        while True:
            now = clock.monotonic()
            deadlines: list[tuple[float, StopReason]] = []
            if idle_timeout_s is not None:
                base = s.last_data if s.last_data is not None else t0
                deadlines.append((base + idle_timeout_s, "idle"))
            if duration_s is not None:
                deadlines.append((t0 + duration_s, "duration"))
            connecting = connect_timeout_s is not None and any(
                f.client is None or f.client.connections == 0 for f in feeds)
            if connecting:
                assert connect_timeout_s is not None
                deadlines.append((t0 + connect_timeout_s, "feed_error"))
            timeout: float | None = None
            why: StopReason = "stopped"
            if deadlines:
                at, why = min(deadlines)
                timeout = at - now
                if timeout <= 0:
                    if why == "feed_error":
                        assert connect_timeout_s is not None
                        return why, _never_connected(feeds, connect_timeout_s)
                    return why, None
            if next_task is None:
                next_task = asyncio.ensure_future(queue.get())
            waiting: set[asyncio.Future[Any]] = {next_task}
            if stop_task is not None:
                waiting.add(stop_task)
            done, _ = await asyncio.wait(waiting, timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
            if next_task in done:
                task, next_task = next_task, None
                frame, problem = task.result()
                if frame is not None:
                    s.frame(frame)
                    continue
                if isinstance(problem, _Ended):
                    ended += 1
                    if ended == n_feeds:
                        return "stopped", None
                    continue
                if isinstance(problem, SpxccError):  # auth, max_connections, reconnects, bad message
                    return "feed_error", problem
                assert problem is not None
                raise problem
            if stop_task is not None and stop_task in done:
                return "stopped", None
            if not done:
                if why == "feed_error":
                    assert connect_timeout_s is not None
                    failure = _never_connected(feeds, connect_timeout_s)
                    if failure is None:
                        continue  # connected meanwhile
                    return why, failure
                return why, None
    finally:
        for t in (next_task, stop_task):
            if t is None or t.done():
                continue
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t  # a cancelled get leaves its item in the queue (drained by the caller)


def check_live_paths(*, out_dir: str | os.PathLike[str] | None,
                     record: str | os.PathLike[str] | None,
                     store: Store | str | os.PathLike[str] | None,
                     chain: ChainSnapshot | str | os.PathLike[str] | None,
                     profile: Profile | str | os.PathLike[str] | None) -> None:
    """Refuse a live session's outputs (the files written in ``out_dir``, the store file, the
    recording) that are the same file, nest, or are, contain or lie inside an input (the chain
    snapshot file, the profile file): :func:`spxcc_core.run.check_run_paths`.

    :raises ConfigError: one line naming both paths.
    """
    check_run_paths(session=None, out_dir=out_dir, store=store, profile=profile, chain=chain,
                    names=(*OUTPUT_FILES, LIVE_REPORT, CHAIN_COPY),
                    extra=[("recording", record)])


async def run_live(*, url: str | Sequence[str], api_key: str | ApiKey, subscriptions: Sequence[str],
                   hub: Hub | None = None, out_dir: str | os.PathLike[str] | None = None,
                   store: Store | str | os.PathLike[str] | None = None,
                   record: str | os.PathLike[str] | None = None,
                   duration_s: float | None = None,
                   idle_timeout_s: float | None = DEFAULT_IDLE_TIMEOUT_S,
                   profile: Profile | str | os.PathLike[str] | None = None,
                   detectors: Sequence[str] | None = None,
                   config: AggregatorConfig | None = None,
                   pm: pluggy.PluginManager | None = None, clock: Clock | None = None,
                   backoff: Backoff | None = None, stop: asyncio.Event | None = None,
                   connect_kwargs: dict[str, Any] | None = None,
                   chain: ChainSnapshot | str | os.PathLike[str] | None = None,
                   stall_timeout_s: float | None = DEFAULT_STALL_TIMEOUT_S,
                   connect_timeout_s: float | None = None,
                   broker: BrokerAdapter | None = None,
                   limits: RoutingLimits | None = None,
                   reconcile_policy: ReconcilePolicy | None = None,
                   on_ready: Callable[[], Awaitable[object]] | None = None) -> LiveResult:
    """Run one live session (module docstring) and return its outputs.

    :param url: the Massive websocket URL (e.g. ``wss://socket.massive.com/stocks``), or
        several, one per cluster (e.g. ``.../stocks`` and ``.../indices``): one connection
        each, the subscriptions routed by :func:`spxcc_core.host.routing.route`, their
        messages merged into one stream in arrival order (processed, recorded and numbered in
        that order).
    :param api_key: the Massive key (never logged, recorded or reported).
    :param subscriptions: channel params such as ``T.SPY``, ``Q.SPY``, ``V.I:SPX``.
    :param hub: where outputs are published (started and closed by the caller); None: nowhere.
    :param out_dir: folder for the output files and ``live.json`` (None: nothing written).
    :param store: a :class:`Store` (left open), a store file, or None: ``out_dir/spxcc.sqlite3``
        (in memory without ``out_dir``).
    :param record: write every received message to this ``.jsonl``/``.jsonl.gz`` file.
    :param duration_s: end the session after this many seconds (None: no limit).
    :param idle_timeout_s: end it when no trade or quote arrived for this many seconds
        (None: never).
    :param profile, detectors, config, pm: as :func:`spxcc_core.replay.engine.run_replay`.
    :param clock: wall clock for the report and the timeouts (default the system clock).
    :param backoff: reconnect policy of the Massive client.
    :param stop: set it to end the session (e.g. on Ctrl-C).
    :param connect_kwargs: extra keyword arguments for the websocket connection.
    :param chain: an option-chain snapshot (or its Massive JSON file) for the ``gamma``
        context (None: none). A file is copied unchanged to ``out_dir/chain_snapshot.json``
        (:data:`CHAIN_COPY`), the ``--chain`` for a replay of the recording.
    :param stall_timeout_s: a connection that receives no message for this many seconds is
        re-established, the silence recorded as a gap (None: never).
    :param connect_timeout_s: every connection must complete its first handshake within this
        many seconds, else the session ends with ``feed_error`` (when no connection ever
        succeeded: :class:`MassiveConnectionError` is raised and nothing is written); None:
        wait as long as the other limits allow.
    :param broker: execute triggered setups on this broker, fed the received option quotes in
        event time (``docs/execution.md``; the paper adapter with ``clock=replay``), every
        intent through a :class:`~spxcc_core.broker.routing.RoutingWorker` on the run's store
        (``limits``); the outputs add the execution files, as ``spxcc replay --execute``.
        None: none.
    :param limits: the routing worker's pre-trade limits (default
        :class:`~spxcc_core.broker.routing.RoutingLimits`).
    :param reconcile_policy: the routing worker's reconciliation actions and limits (default
        :class:`~spxcc_core.broker.reconcile.ReconcilePolicy`): it reconciles at start-up
        and periodically with the registry's reconcilers.
    :param on_ready: awaited once, when every argument is checked and the profile, detectors,
        chain, store, output folder and recording are open, before the first connection (e.g.
        to start the hub and say where it listens: a bad input never follows that line). If it
        raises, the session ends there (the store is closed, an empty recording removed) and
        the error propagates.
    :raises ConfigError: a bad argument, profile, detector name, store or output path; outputs
        that overlap each other or an input (:func:`check_live_paths`), before anything is
        written.
    :raises InputError: the chain snapshot cannot be read.
    :raises MassiveAuthError: the key was refused at the first connection (nothing to write).
    """
    _check_seconds("duration_s", duration_s)
    _check_seconds("idle_timeout_s", idle_timeout_s)
    _check_seconds("stall_timeout_s", stall_timeout_s)
    _check_seconds("connect_timeout_s", connect_timeout_s)
    check_live_paths(out_dir=out_dir, record=record, store=store, chain=chain, profile=profile)
    subs = [s.strip() for s in subscriptions if s.strip()]
    urls = [url] if isinstance(url, str) else list(url)
    routes, notes = check_routes(urls, subs)
    key = api_key if isinstance(api_key, ApiKey) else ApiKey(api_key)
    clock = clock if clock is not None else SystemClock()
    inputs = resolve_inputs(pm=pm, profile=profile, detectors=detectors, chain=chain)
    chain_file = None if chain is None or isinstance(chain, ChainSnapshot) else Path(chain)
    out = make_out_dir(out_dir)
    feeds = feeds_for([c for _, channels in routes for c in channels])
    db, owned = open_store(store, out)
    recorder: Recorder | None = None
    try:
        recorder = Recorder(record, scrub=_scrubber(key)) if record is not None else None
        router: WorkerRouter | None = None
        registry = as_registry(inputs.pm)
        if broker is not None:
            from spxcc_core.broker.routing import RoutingWorker
            from spxcc_core.broker.store import BrokerStore
            from spxcc_core.execute.routing import WorkerRouter as _WorkerRouter

            # the registry the pipeline uses too: the worker's spxcc_on_fill observers,
            # reconcilers (start-up and periodic reconciliation) and failures are the run's
            router = _WorkerRouter(RoutingWorker(broker, BrokerStore(db), limits=limits,
                                                clock=clock, registry=registry,
                                                reconcile_policy=reconcile_policy))
        pipe = Pipeline(registry, inputs.profile, store=db, config=config, feeds=feeds,
                        run_id_prefix="live", chain=inputs.chain, broker=broker, router=router)
        if router is not None and pipe.slippage is not None:  # fills feed the ev_floor gate
            router.worker.on_slippage = pipe.slippage.update
        agg = pipe.aggregator
        s = _Session(feeds=feeds, pipe=pipe, hub=hub, clock=clock)

        feeds_ = [_Feed(url=u, subscriptions=channels) for u, channels in routes]

        def receiver(feed: _Feed) -> Callable[[bytes], None]:
            def on_message(message: bytes) -> None:
                # every earlier message of every connection is decoded by now: the merged
                # stream's events so far give this message's first line
                assert feed.client is not None
                merged = sum(f.client.stats.events for f in feeds_ if f.client is not None)
                feed.offset = merged - feed.client.stats.events
                feed.messages += 1
                s.messages += 1
                if recorder is not None:
                    recorder.write(message)

            return on_message

        def linker(feed: _Feed) -> Callable[[str, str | None, int], None]:
            return lambda event, reason, attempts: feed.linked(s, event, reason, attempts)

        def quarantiner(feed: _Feed) -> Callable[[bytes, str], None]:
            return lambda message, reason: feed.quarantine(s, message, reason)

        for f in feeds_:
            f.client = LiveClient(url=f.url, api_key=key, subscriptions=f.subscriptions,
                                  ticker=None, symbols=agg.symbols, conditions=agg.conditions,
                                  backoff=backoff, on_message=receiver(f),
                                  connect_kwargs=connect_kwargs, stall_timeout_s=stall_timeout_s,
                                  on_link=linker(f), on_quarantine=quarantiner(f))
        clients = [f.client for f in feeds_ if f.client is not None]
        if on_ready is not None:
            try:
                await on_ready()
            except BaseException:
                if recorder is not None and recorder.messages == 0:
                    recorder.close()
                    with contextlib.suppress(OSError):
                        recorder.path.unlink()
                    recorder = None
                raise
        started_ms = clock.now_ms()
        reason, failure = await _consume(feeds_, s, idle_timeout_s=idle_timeout_s,
                                         duration_s=duration_s, stop=stop,
                                         connect_timeout_s=connect_timeout_s)
        connections = sum(c.connections for c in clients)
        if failure is not None and connections == 0:
            raise failure  # nothing was received: there is no session to write
        ended = clock.now_ms()
        silent = (None if s.last_data is None
                  else round(clock.monotonic() - s.last_data, 3))
        held = pipe.finish()
        s.publish(held)
        sha = recorder.close() if recorder is not None else None
        source = ReplaySource(
            kind="websocket",
            session_date=s.session_date or ny_date_of_ms(started_ms).isoformat(),
            recording=recorder.path.name if recorder is not None else None,
            recording_sha256=sha)
        run = pipe.report(source, websocket=ws_counts(_merged_stats(feeds_)))
        files = run.outputs()
        if "quotes" in feeds and run.report.aggregation.quotes == 0 and len(run.bars):
            notes.append("no quote was received: every bar's quoteCoveragePct is 0")
        health = _store_health(db, pipe, router)
        report = LiveReportV3(
            url=public_url(urls[0]), subscriptions=subs, feeds=list(feeds),
            started_ms=started_ms, ended_ms=ended, stop_reason=reason,
            input_end=InputEnd(reason=reason, at_ms=ended, silent_s=silent,
                               last_event_ms=(None if s.last_event_ns is None
                                              else s.last_event_ns // _NS_PER_MS),
                               bars_released=len(held.bars)),
            idle_timeout_s=idle_timeout_s, duration_s=duration_s,
            connections=connections, messages=s.messages,
            problems=[FeedProblem(status=p, message=m) for c in clients for p, m in c.problems],
            unconfigured=dict(sorted(s.unconfigured.items())),
            recording=source.recording, hub=hub.stats() if hub is not None else None,
            digests=digests(files),
            error=None if failure is None else str(failure),
            links=[LiveLink(url=public_url(f.url), subscriptions=f.subscriptions,
                            connections=f.client.connections if f.client else 0,
                            messages=f.messages) for f in feeds_],
            gaps=list(s.gaps), quarantined_frames=list(s.quarantined),
            quarantined_frame_count=s.quarantined_count, stall_timeout_s=stall_timeout_s,
            notes=notes, store=health)
        if out is not None:
            files[LIVE_REPORT] = json_document(report)
            if chain_file is not None:  # what a replay of the recording needs besides it
                files[CHAIN_COPY] = chain_file.read_bytes()
            atomic_write({out / name: data for name, data in files.items()})
        log.info("live session ended (%s): %d bars, %d setups", reason, len(run.bars),
                 len(run.setups))
        failures = [f"{public_url(c.url)}: {c.last_failure}" for c in clients
                    if c.last_failure is not None]
        return LiveResult(run=run, report=report, out_dir=out,
                          last_failure=failures[-1] if failures else None)
    finally:
        if recorder is not None:
            recorder.close()
        if owned:
            db.close()


def _store_health(db: Store, pipe: Pipeline, router: WorkerRouter | None) -> StoreHealth:
    """How the run's store fared (``live_report@3`` ``store``); logs what a lost connection
    left unwritten (one line)."""
    writer = pipe.setup_writer
    interrupted = {"setups": writer.interrupted} if writer.interrupted else {}
    if router is not None:
        interrupted.update(router.interrupted)
    unwritten = writer.unwritten
    if unwritten:
        log.error("store %s: %s not written (a lost connection; they are in setups.jsonl and "
                  "gate_decisions.jsonl)", db.location,
                  " and ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in unwritten.items()))
    return StoreHealth(backend=db.backend, reconnects=db.reconnects,
                       interrupted_writes=dict(sorted(interrupted.items())),
                       rewritten=writer.rewritten, unwritten=unwritten,
                       entries_halted=router.entries_halted if router is not None else None)


def check_routes(urls: Sequence[str], subscriptions: Sequence[str],
                 ) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """The connections a live session opens: each URL with the channels routed to it
    (:func:`~spxcc_core.host.routing.route`), without the ``Q.*`` channels of a delayed URL,
    and a note per URL that lost some. Reads nothing and connects to nothing, so a command can
    check its feed options before it reads a key or starts a hub.

    :raises ConfigError: no channel, a bad URL, a channel no URL serves, or a delayed URL left
        with no channel.
    """
    subs = [s.strip() for s in subscriptions if s.strip()]
    if not subs:
        raise ConfigError("subscribe to at least one channel, e.g. T.SPY,Q.SPY")
    return _without_delayed_quotes(route(list(urls), subs))


def _without_delayed_quotes(routes: list[tuple[str, list[str]]],
                            ) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """Routes without the ``Q.*`` channels of delayed URLs (a delayed plan has no quote
    stream), and a note per URL saying so.

    :raises ConfigError: a delayed URL left with no channel.
    """
    kept: list[tuple[str, list[str]]] = []
    notes: list[str] = []
    for url, channels in routes:
        if not is_delayed(url):
            kept.append((url, channels))
            continue
        quotes = [c for c in channels if c.strip().upper().startswith("Q.")]
        rest = [c for c in channels if c not in quotes]
        if quotes:
            if not rest:
                raise ConfigError(f"--url {public_url(url)}: a delayed feed carries no quotes "
                                  f"(no NBBO stream); {', '.join(quotes)} cannot be served")
            notes.append(f"{public_url(url)} is a 15-minute delayed feed: it carries no quotes "
                         f"(no NBBO stream), so {', '.join(quotes)} "
                         f"{'was' if len(quotes) == 1 else 'were'} not subscribed and every "
                         "bar's quoteCoveragePct is 0")
        kept.append((url, rest))
    return kept, notes
