"""The embeddable host: one object that owns a session's parts and runs it live or replayed.

A :class:`Host` is built from a :class:`~spxcc_core.host.config.HostConfig` (or its TOML file,
:meth:`Host.from_file`) and owns:

- the **plugin manager** (:func:`~spxcc_core.plugins.get_plugin_manager`) with the host
  application's own hook specifications (``hookspecs=``) and plugins (``plugins=``) added and
  checked (a plugin implementing an unknown hook is refused), and its
  :class:`~spxcc_core.registry.PluginRegistry` (one failure collector);
- the **store** (``db``: an SQLite file, a ``postgresql://`` URL, or memory), opened by
  :meth:`Host.start` and closed by :meth:`Host.stop`;
- the **hub** (:class:`~spxcc_core.host.hub.Hub`) on ``hub.bind``, serving the command-center
  page at ``/`` (``hub.page``) — loopback unless ``hub.bind_any`` and a token hash
  (:func:`check_bind`);
- the **pipeline** of the running session: :meth:`Host.replay` builds one
  (:class:`~spxcc_core.pipeline.Pipeline`, the same object ``spxcc replay`` runs) and paces a
  recording (or a session cache's steps) in event time; :meth:`Host.live` runs :func:`~spxcc_core.host.live.run_live` with
  the host's plugin manager, store and hub;
- the **broker routing worker** (:class:`~spxcc_core.broker.routing.RoutingWorker`) when a
  ``broker`` adapter is given: started (restart reconciliation) by :meth:`Host.start`, polled
  every ``routing.poll_interval_s`` (broker events, periodic reconciliation); every fill it
  records reaches the host through the ``spxcc_on_fill`` hook, and the broker's orders of an
  account with open intents are published when their status or filled quantity changes.

Every output goes one way, in production order, for live and replay alike: the host's callbacks
(:meth:`Host.on_microbar`, :meth:`Host.on_setup`, :meth:`Host.on_gate_decision`,
:meth:`Host.on_feed_status`, :meth:`Host.on_fill`, :meth:`Host.on_reconcile`), then the hub
(microbars, setups, gate decisions, feed status; orders on ``broker_order@1``, fills on
``fill@1``, the account's positions
on ``position@1`` after a fill, each reconciliation on ``reconcile_status@1``). A callback that
raises is counted (plugin ``host:<name>``, :meth:`Host.failures`) and logged once; the session
goes on.

**Execution seam.** The host never turns a setup into an order itself: each step's setup
changes are handed to the ``executor`` (:class:`SetupExecutor`, a constructor argument) —
:meth:`Host._hand_to_executor` is the one place that does it. Without one, setups are only
published.

Threads: everything runs on the event loop's thread (the routing worker's broker calls
included), as ``spxcc live`` does. See ``docs/embedding.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

import attrs
import pluggy

from spxcc_core.clock import Clock, SystemClock
from spxcc_core.contracts.base import Contract
from spxcc_core.contracts.broker import Fill
from spxcc_core.contracts.microbar import MicrobarV2
from spxcc_core.contracts.reconcile import ReconcileRun, RunStatus
from spxcc_core.contracts.replay import ReplaySource
from spxcc_core.contracts.setup import GateDecision, SetupInstance
from spxcc_core.errors import ConfigError, InputError, PluginError
from spxcc_core.hashing import sha256_file
from spxcc_core.hookspecs import hookimpl
from spxcc_core.host.auth import TokenHash
from spxcc_core.host.config import HostConfig, is_loopback, load_host_config
from spxcc_core.host.hub import Hub, HubConfig, parse_hostport
from spxcc_core.host.pace import Pacer
from spxcc_core.host.wire import FeedStatus, ReconcileStatus
from spxcc_core.pipeline import Pipeline
from spxcc_core.registry import PluginFailure, PluginRegistry
from spxcc_core.run.result import RunResult, StepOutputs
from spxcc_core.run.setup import (
    RunInputs,
    check_run_paths,
    open_store,
    resolve_inputs,
    ws_counts,
)
from spxcc_core.run.steps import RecordedSession
from spxcc_core.store import Store

if TYPE_CHECKING:
    from spxcc_core.broker.interface import BrokerAdapter
    from spxcc_core.broker.reconcile import ReconcilePolicy
    from spxcc_core.broker.routing import RouteResult, RoutingLimits, RoutingWorker
    from spxcc_core.contracts.broker import OrderIntent
    from spxcc_core.detect.profile import Profile
    from spxcc_core.host.live import LiveResult

__all__ = ["HOST_PLUGIN_NAME", "Host", "SetupExecutor", "check_bind", "hub_config_of",
           "reconcile_status"]

log = logging.getLogger("spxcc.host.app")

#: Name under which the host registers its own hook implementations (``spxcc_on_fill``).
HOST_PLUGIN_NAME = "spxcc_host"

F = TypeVar("F", bound=Callable[..., Any])

#: The host's own calls whose failures are counted (:meth:`Host.failures`).
_HOST_HOOKS = ("on_microbar", "on_setup", "on_gate_decision", "on_feed_status", "on_fill",
               "on_reconcile", "on_setups")


@runtime_checkable
class SetupExecutor(Protocol):
    """Turns setups into orders (the execution policy lives outside the host).

    :meth:`on_setups` gets one step's setup state changes (``detected``, ``triggered``,
    ``t1``, closed ...), in production order, each step once; it may route orders through
    ``host.submit`` (or its own broker connection). It runs on the event loop's thread and
    should not block.
    """

    def on_setups(self, setups: Sequence[SetupInstance], host: Host) -> None:
        """Handle one step's setup changes."""


def check_bind(host: str, *, bind_any: bool, token_hash: TokenHash | None,
               option: str = "--bind (hub.bind)") -> None:
    """Refuse a listening address other than loopback unless explicitly allowed and guarded.

    :raises ConfigError: ``host`` is not loopback and ``bind_any`` is off, or it is on but
        no hub token hash is configured (the page and the feed would be open to the network
        without any account-channel protection).
    """
    if is_loopback(host):
        return
    if not bind_any:
        raise ConfigError(f"{option} {host}: not a loopback address; serving other machines "
                          "needs --bind-any (hub.bind_any = true) and a hub token hash")
    if token_hash is None:
        raise ConfigError(f"{option} {host}: binding beyond loopback needs a hub token hash "
                          "(--hub-token-hash, $SPXCC_HUB_TOKEN_HASH or hub.token_hash; "
                          "python -m spxcc_core.host.auth prints a token and its hash)")


def hub_config_of(config: HostConfig) -> tuple[str, int, HubConfig]:
    """The hub's address and :class:`HubConfig` from a host configuration, the bind checked
    (:func:`check_bind`).

    :raises ConfigError: a bad address, token hash, origin or limit.
    """
    section = config.hub
    host, port = parse_hostport(section.bind, option="hub.bind")
    hashed = section.token_hash
    where = "hub.token_hash"
    if hashed is None and section.token_hash_env:
        hashed = os.environ.get(section.token_hash_env) or None
        where = section.token_hash_env
    token = TokenHash.parse(hashed, where=where) if hashed else None
    check_bind(host, bind_any=section.bind_any, token_hash=token)
    for name, value, least in (("hub.queue_size", section.queue_size, 1),
                               ("hub.queue_bytes", section.queue_bytes, 1),
                               ("hub.max_connections", section.max_connections, 1),
                               ("hub.retain", section.retain, 0)):
        if value < least:
            raise ConfigError(f"{name} must be >= {least}, got {value}")
    return host, port, HubConfig(
        queue_size=section.queue_size, queue_bytes=section.queue_bytes,
        max_connections=section.max_connections, retain_messages=section.retain,
        token_hash=token, allowed_origins=tuple(section.allowed_origins),
        v1_only=section.v1_only)


@attrs.define
class _Callbacks:
    microbar: list[Callable[[MicrobarV2], object]] = attrs.field(factory=list)
    setup: list[Callable[[SetupInstance], object]] = attrs.field(factory=list)
    gate_decision: list[Callable[[GateDecision], object]] = attrs.field(factory=list)
    feed_status: list[Callable[[FeedStatus], object]] = attrs.field(factory=list)
    fill: list[Callable[[Fill], object]] = attrs.field(factory=list)
    reconcile: list[Callable[[ReconcileRun], object]] = attrs.field(factory=list)


class _HostHooks:
    """The host's own hook implementations (registered as :data:`HOST_PLUGIN_NAME`)."""

    def __init__(self, host: Host) -> None:
        self._host = host

    @hookimpl
    def spxcc_on_fill(self, fill: Fill, intent: OrderIntent, context: Any) -> None:
        self._host._fill(fill, str(context.get("account_id") or fill.account_id or ""))


class _TapHub(Hub):
    """The host's hub: everything published passes the host's callbacks first."""

    def __init__(self, owner: Host, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._owner = owner

    def publish(self, items: Iterable[Contract]) -> int:
        listed = list(items)
        self._owner._observe(listed)
        return super().publish(listed)


class Host:
    """The embeddable host (module docstring).

    :param config: the configuration (default: every section's defaults).
    :param hookspecs: the host application's hook specification modules or classes (marked
        with :data:`spxcc_core.hookspecs.hookspec`), added to the plugin manager.
    :param plugins: plugin objects to register (after the built-ins and entry points).
    :param profile: a profile overriding ``pipeline.profile`` (a :class:`Profile` or a file).
    :param store: a store to use instead of ``db`` (left open by :meth:`stop`).
    :param broker: a broker adapter: the host runs a routing worker on it (None: none).
    :param limits: the routing worker's pre-trade limits.
    :param reconcile_policy: the routing worker's reconciliation policy.
    :param executor: where each step's setup changes go (:class:`SetupExecutor`; None: none).
    :param clock: the injected clock (envelope times, pacing, broker records).
    :raises ConfigError: a bad configuration (the bind address included, :func:`check_bind`).
    :raises PluginError: a plugin implements a hook nobody specified, or a host hookspec
        redefines an existing hook.
    """

    def __init__(self, config: HostConfig | None = None, *,
                 hookspecs: Iterable[ModuleType | type] = (), plugins: Iterable[object] = (),
                 profile: Profile | str | os.PathLike[str] | None = None,
                 store: Store | None = None, broker: BrokerAdapter | None = None,
                 limits: RoutingLimits | None = None,
                 reconcile_policy: ReconcilePolicy | None = None,
                 executor: SetupExecutor | None = None, clock: Clock | None = None) -> None:
        from spxcc_core.plugins import get_plugin_manager

        self.config = config if config is not None else HostConfig()
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._bind = hub_config_of(self.config)
        self.pm: pluggy.PluginManager = get_plugin_manager(
            hookspecs=hookspecs, blocked=self.config.plugins.blocked,
            load_entrypoints=self.config.plugins.load_entrypoints)
        for plugin in plugins:
            self.pm.register(plugin)
        self.pm.register(_HostHooks(self), name=HOST_PLUGIN_NAME)
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin {exc.plugin!r}: {exc}") from None
        self.registry = PluginRegistry(self.pm)
        self.profile = profile if profile is not None else self.config.pipeline.profile
        self.executor = executor
        self._given_store = store
        self._broker = broker
        self._limits = limits
        self._reconcile_policy = reconcile_policy
        self._callbacks = _Callbacks()
        self._store: Store | None = None
        self._owns_store = False
        self._hub: _TapHub | None = None
        self.router: RoutingWorker | None = None
        #: the pipeline of the session :meth:`replay` is running (None: none yet)
        self.pipeline: Pipeline | None = None
        self._poller: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._seen_runs: set[str] = set()
        self._filled_accounts: set[str] = set()
        self._order_states: dict[str, tuple[str, float | None]] = {}
        self._started = False
        #: the profile, detectors and chain snapshot of the configuration, resolved by start()
        self._resolved: RunInputs | None = None

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **kwargs: Any) -> Host:
        """A host built from a TOML configuration file (:func:`load_host_config`); keyword
        arguments as the constructor.

        :raises ConfigError: unreadable file, unknown key (named), bad value.
        """
        return cls(load_host_config(path), **kwargs)

    def __repr__(self) -> str:
        where = self._hub.url if self._hub is not None and self._started else None
        return f"Host(hub={where!r}, started={self._started})"

    # ------------------------------------------------------------------ callbacks

    def on_microbar(self, fn: F) -> F:
        """Register ``fn(bar: MicrobarV2)`` for every final microbar (usable as a decorator)."""
        self._callbacks.microbar.append(fn)
        return fn

    def on_setup(self, fn: F) -> F:
        """Register ``fn(setup: SetupInstance)`` for every setup state change."""
        self._callbacks.setup.append(fn)
        return fn

    def on_gate_decision(self, fn: F) -> F:
        """Register ``fn(decision: GateDecision)`` for every gate decision (passed or
        blocked, with its checks)."""
        self._callbacks.gate_decision.append(fn)
        return fn

    def on_feed_status(self, fn: F) -> F:
        """Register ``fn(status: FeedStatus)`` for every live feed connect, drop and gap."""
        self._callbacks.feed_status.append(fn)
        return fn

    def on_fill(self, fn: F) -> F:
        """Register ``fn(fill: Fill)`` for every fill the routing worker records."""
        self._callbacks.fill.append(fn)
        return fn

    def on_reconcile(self, fn: F) -> F:
        """Register ``fn(run: ReconcileRun)`` for every reconciliation the routing worker
        runs (start-up, periodic, before a first entry)."""
        self._callbacks.reconcile.append(fn)
        return fn

    # ------------------------------------------------------------------ lifecycle

    @property
    def store(self) -> Store:
        """The store (after :meth:`start`)."""
        if self._store is None:
            raise RuntimeError("the host is not started")
        return self._store

    @property
    def hub(self) -> Hub:
        """The hub (after :meth:`start`)."""
        if self._hub is None:
            raise RuntimeError("the host is not started")
        return self._hub

    @property
    def page_url(self) -> str:
        """``http://host:port/``, where the command-center page is served (after
        :meth:`start`)."""
        return "http" + self.hub.url[2:] + "/"

    async def start(self) -> Host:
        """Check the inputs, open the store, start the hub (and the page), start the routing
        worker (restart reconciliation) and its polling. Idempotent; returns the host.

        Every input is checked before the hub binds its address: the store's place, the
        profile, the detector names (``pipeline.detectors``) and the chain snapshot are read
        and resolved first (the sessions then run on them), so a bad one never leaves a hub
        listening.

        :raises ConfigError: the store cannot be opened, is (or lies inside) the replay session,
            the profile or the chain snapshot; a bad profile or detector name; the address
            cannot be bound.
        :raises InputError: the chain snapshot cannot be read.
        """
        if self._started:
            return self
        profile = self.profile if isinstance(self.profile, str | os.PathLike) else None
        check_run_paths(session=self.config.replay.session, out_dir=None,
                        store=self.config.db if self._given_store is None else None,
                        profile=profile, chain=self.config.pipeline.chain)
        self._resolved = None
        self._resolved = self._inputs(None)
        if self._given_store is not None:
            self._store, self._owns_store = self._given_store, False
        else:
            self._store, self._owns_store = open_store(self.config.db, None)
        try:
            host, port, hub_config = self._bind
            pages = None
            if self.config.hub.page:
                from spxcc_core.host.page import page_files

                pages = page_files()
            self._hub = _TapHub(self, host, port, config=hub_config, clock=self.clock,
                                pages=pages)
            await self._hub.start()
            if self._broker is not None:
                self._start_router(self._broker, self._store)
        except BaseException:
            await self._close_parts()
            raise
        self._started = True
        self._stop.clear()
        return self

    def _start_router(self, broker: BrokerAdapter, store: Store) -> None:
        from spxcc_core.broker.routing import RoutingWorker
        from spxcc_core.broker.store import BrokerStore

        self.router = RoutingWorker(broker, BrokerStore(store), limits=self._limits,
                                    clock=self.clock, registry=self.registry,
                                    reconcile_policy=self._reconcile_policy)
        self.router.start()
        self._after_routing()
        self._poller = asyncio.get_running_loop().create_task(self._poll_loop())

    def request_stop(self) -> None:
        """Ask the running session (:meth:`replay`, :meth:`live`) to end, without waiting: its
        input ends there and it returns its outputs. Safe from a signal handler."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        """True once :meth:`request_stop` or :meth:`stop` was called."""
        return self._stop.is_set()

    async def stop(self) -> None:
        """End a running session (its outputs up to now are final), stop polling, close the
        hub (subscribers get an ``end`` status) and the store the host opened. Idempotent."""
        self._stop.set()
        if not self._started:
            return
        self._started = False
        await self._close_parts()

    async def _close_parts(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        if self._hub is not None:
            await self._hub.close("the host stopped")
        if self._store is not None and self._owns_store:
            self._store.close()
        self._store = None

    async def __aenter__(self) -> Host:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ sessions

    def _inputs(self, detectors: Sequence[str] | None) -> RunInputs:
        if detectors is None and self._resolved is not None:
            return self._resolved  # what start() checked
        return resolve_inputs(pm=self.pm, profile=self.profile,
                              detectors=detectors if detectors is not None
                              else self.config.pipeline.detectors,
                              chain=self.config.pipeline.chain)

    async def replay(self, session: str | os.PathLike[str] | RecordedSession | None = None, *,
                     speed: float | None = None,
                     detectors: Sequence[str] | None = None) -> RunResult:
        """Replay a recorded session through a new pipeline, paced in event time
        (:class:`~spxcc_core.host.pace.Pacer`), every step's outputs through the callbacks and
        the hub. :meth:`stop` / :meth:`request_stop` end it early (the input ends there, as a
        live session's does).

        :param session: a websocket recording (``.jsonl`` / ``.jsonl.gz``, what ``spxcc live
            --record`` writes), or a :class:`~spxcc_core.run.steps.RecordedSession` (a session
            cache or flat files, :func:`spxcc_core.replay.steps.cache_session`); None:
            ``replay.session``.
        :param speed: event seconds per wall second, 0: as fast as possible (None:
            ``replay.speed``).
        :param detectors: detector names (None: ``pipeline.detectors``).
        :returns: the run's outputs, as ``spxcc replay`` of the same session gives them.
        :raises ConfigError: no session, a bad speed, profile or detector.
        :raises RuntimeError: the host is not started.
        :raises InputError: the recording cannot be read or is malformed.
        """
        if session is None:
            session = self.config.replay.session
        if session is None:
            raise ConfigError("replay: no session given (pass one or set replay.session)")
        pacer = Pacer(self.config.replay.speed if speed is None else speed, clock=self.clock)
        store = self.store
        inputs = self._inputs(detectors)
        if isinstance(session, RecordedSession):
            return await self._replay_steps(session, inputs, store, pacer)
        return await self._replay_recording(Path(session), inputs, store, pacer)

    def _execution(self) -> dict[str, Any]:
        """The pipeline's execution arguments: a broker that takes its quotes and time from the
        stream (the paper broker) executes each triggered setup with the profile's
        ``[execution]`` policy, every intent through the host's routing worker; any other
        broker (or none): no execution in a replay."""
        broker = self._broker
        if broker is None or self.router is None or not all(
                callable(getattr(broker, a, None)) for a in ("on_quote", "advance_to",
                                                             "subscribe")):
            return {}
        from spxcc_core.execute.routing import WorkerRouter

        return {"broker": broker, "router": WorkerRouter(self.router)}

    async def _replay_recording(self, path: Path, inputs: RunInputs, store: Store,
                                pacer: Pacer) -> RunResult:
        from spxcc_core.massive.websocket import WsStats, iter_ws_decoded

        if not path.name.lower().endswith((".jsonl", ".jsonl.gz")):
            raise InputError(str(path), "not a recording (.jsonl or .jsonl.gz); pass a session "
                                        "cache as spxcc_core.replay.steps.cache_session(...)")
        if not path.is_file():
            raise InputError(str(path), "recording not found")
        pipe = self.pipeline = Pipeline(self.registry, inputs.profile, store=store,
                                        run_id_prefix="replay", chain=inputs.chain,
                                        **self._execution())
        stats = WsStats()
        for frame in iter_ws_decoded(path, ticker=None, symbols=pipe.aggregator.symbols,
                                     conditions=pipe.aggregator.conditions, stats=stats):
            stamps = [int(c.ts.max()) for c in (frame.trades, frame.quotes, frame.values)
                      if len(c)]
            await pacer.wait_for(max(stamps) if stamps else None)
            if self._stop.is_set():
                break
            self._deliver(pipe.push(frame.trades, frame.quotes, frame.values))
        self._deliver(pipe.finish())
        if pipe.session_date is None:
            raise InputError(str(path), "the recording holds no trades or quotes")
        source = ReplaySource(kind="websocket", session_date=pipe.session_date,
                              recording=path.name, recording_sha256=sha256_file(path))
        return pipe.report(source, websocket=ws_counts(stats))

    async def _replay_steps(self, session: RecordedSession, inputs: RunInputs, store: Store,
                            pacer: Pacer) -> RunResult:
        chain = inputs.chain if inputs.chain is not None else session.chain
        pipe = self.pipeline = Pipeline(
            self.registry, inputs.profile, store=store, feeds=session.feeds,
            run_id_prefix="replay", chain=chain, session_date=session.session_date,
            symbols=session.symbols, conditions=session.conditions, **self._execution())
        # an executing replay of a cache feeds the executor the steps' time-ordered option
        # quotes (cache_session(..., with_option_quotes=True)), as spxcc replay does
        pipe.external_option_quotes = pipe.executor is not None
        for step in session.steps:
            await pacer.wait_for(step.until_ns - 1)  # its events are before the instant
            if self._stop.is_set():
                break
            for values in step.index:
                pipe.push(None, None, index_values=values)
            for trades, quotes in step.pairs:
                self._deliver(pipe.push(trades, quotes))
            if pipe.executor is not None and step.option_quotes is not None:
                pipe.feed_option_quotes(step.option_quotes)
        self._deliver(pipe.finish())
        return pipe.report(session.source, index_values=session.index_values)

    async def live(self, *, api_key: str | None = None,
                   detectors: Sequence[str] | None = None,
                   out_dir: str | os.PathLike[str] | None = None,
                   record: str | os.PathLike[str] | None = None,
                   duration_s: float | None = None, **kwargs: Any) -> LiveResult:
        """Run a live Massive session (:func:`~spxcc_core.host.live.run_live`) with the
        host's plugin manager, store, hub and clock, the ``[live]`` URLs, channels and limits;
        it ends on :meth:`stop`, the idle timeout or ``duration_s``.

        :param api_key: the Massive key (None: the ``live.api_key_env`` variable).
        :param kwargs: further :func:`~spxcc_core.host.live.run_live` arguments (``backoff``,
            ``connect_kwargs``, ...).
        :raises ConfigError: no URL or channel configured, no key.
        :raises RuntimeError: the host is not started.
        :raises MassiveConnectionError: no connection ever succeeded.
        """
        from spxcc_core.host.live import run_live

        cfg = self.config.live
        if not cfg.urls or not cfg.subscribe:
            raise ConfigError("live: set live.urls and live.subscribe (e.g. "
                              "[\"wss://socket.massive.com/stocks\"] and [\"T.SPY\", \"Q.SPY\"])")
        key = api_key if api_key is not None else os.environ.get(cfg.api_key_env) or None
        if key is None:
            raise ConfigError(f"live: no Massive API key (${cfg.api_key_env} is not set)")
        return await run_live(
            url=cfg.urls, api_key=key, subscriptions=cfg.subscribe, hub=self.hub,
            store=self.store, profile=self.profile,
            detectors=detectors if detectors is not None else self.config.pipeline.detectors,
            pm=self.pm, clock=self.clock, stop=self._stop, chain=self.config.pipeline.chain,
            idle_timeout_s=cfg.idle_timeout_s, stall_timeout_s=cfg.stall_timeout_s,
            connect_timeout_s=cfg.connect_timeout_s, out_dir=out_dir, record=record,
            duration_s=duration_s, **kwargs)

    # ------------------------------------------------------------------ orders

    def submit(self, intent: OrderIntent) -> RouteResult:
        """Route one order intent through the host's routing worker (checks, store, broker),
        then publish what it produced (fills, positions, reconciliations).

        :raises ConfigError: the host has no broker.
        """
        if self.router is None:
            raise ConfigError("the host has no broker: pass broker= to Host")
        result = self.router.route(intent)
        self._after_routing()
        return result

    async def _poll_loop(self) -> None:
        interval = self.config.routing.poll_interval_s
        while True:
            await asyncio.sleep(interval)
            try:
                if self.router is not None:
                    self.router.poll()
                    self._after_routing()
            except Exception as exc:  # the broker may fail; the next poll tries again
                log.warning("host: routing poll failed: %s", exc)

    def _after_routing(self) -> None:
        """Publish the changed orders of accounts with open intents or fills, the positions of
        accounts that had fills, and every new reconciliation."""
        router = self.router
        if router is None:
            return
        for account in sorted({*router.book.accounts(), *self._filled_accounts}):
            try:
                orders = router.adapter.orders(account)
            except Exception as exc:
                log.warning("host: orders of %s unavailable: %s", account, exc)
                continue
            for order in orders:
                state = (order.status, order.filled_quantity)
                if self._order_states.get(order.id) != state:
                    self._order_states[order.id] = state
                    self.hub.publish_on("broker_order@1", order)
        for account in sorted(self._filled_accounts):
            try:
                positions = router.adapter.snapshot(account).positions
            except Exception as exc:
                log.warning("host: positions of %s unavailable: %s", account, exc)
                continue
            for position in positions:
                self.hub.publish_on("position@1", position)
        self._filled_accounts.clear()
        for _, run in sorted(router.guard.last.items()):
            if run.run_id in self._seen_runs:
                continue
            self._seen_runs.add(run.run_id)
            self._call(self._callbacks.reconcile, "on_reconcile", run)
            self.hub.publish_on("reconcile_status@1", reconcile_status(run))

    # ------------------------------------------------------------------ the one output path

    def _deliver(self, out: StepOutputs) -> None:
        """One step's outputs to the callbacks and the hub (live: the live runner publishes
        on the hub, which routes them through :meth:`_observe` the same way)."""
        if len(out):
            hub = self.hub
            hub.publish(out.bars)
            hub.publish(out.setups)
            hub.publish(out.decisions)
        if self.pipeline is not None and self.pipeline.executor is not None:
            self._after_routing()  # the executor's orders, fills and positions

    def _observe(self, items: Sequence[Contract]) -> None:
        setups: list[SetupInstance] = []
        cb = self._callbacks
        for item in items:
            if isinstance(item, MicrobarV2):
                self._call(cb.microbar, "on_microbar", item)
            elif isinstance(item, SetupInstance):
                setups.append(item)
                self._call(cb.setup, "on_setup", item)
            elif isinstance(item, GateDecision):
                self._call(cb.gate_decision, "on_gate_decision", item)
            elif isinstance(item, FeedStatus):
                self._call(cb.feed_status, "on_feed_status", item)
        if setups:
            self._hand_to_executor(setups)

    def _hand_to_executor(self, setups: Sequence[SetupInstance]) -> None:
        """THE execution seam: one step's setup changes to the executor (if any)."""
        if self.executor is None:
            return
        try:
            self.executor.on_setups(setups, self)
        except Exception as exc:
            self._failed("executor", "on_setups", exc)

    def _fill(self, fill: Fill, account: str) -> None:
        self._call(self._callbacks.fill, "on_fill", fill)
        if self._hub is not None:
            self._hub.publish_on("fill@1", fill)
        if account:
            self._filled_accounts.add(account)

    def _call(self, fns: Sequence[Callable[[Any], object]], hook: str, item: object) -> None:
        for fn in fns:
            try:
                fn(item)
            except Exception as exc:
                self._failed(getattr(fn, "__qualname__", repr(fn)), hook, exc)

    def _failed(self, name: str, hook: str, exc: Exception) -> None:
        plugin = f"host:{name}"
        failures = self.registry.failures
        first = plugin not in failures.counted(hook)
        failures.count(plugin, hook, exc)
        if first:  # once per callback and hook; the count is in failures()
            log.warning("host: %s (%s) raised %s: %s", name, hook, type(exc).__name__, exc)

    def failures(self) -> list[PluginFailure]:
        """Every failure of the host's callbacks and executor (counted: ``first message (N
        times)``), then every listed plugin failure of its registry."""
        return self.registry.failures.entries(_HOST_HOOKS)


def reconcile_status(run: ReconcileRun) -> ReconcileStatus:
    """The hub's ``reconcile_status@1`` view of a reconciliation run."""
    n = len(run.differences)
    if run.status == "failed":
        message = f"reconciliation failed: {run.error or 'no usable answer from the broker'}"
    elif run.halted:
        message = f"halted: {n} difference(s); no new risk until `spxcc reconcile --clear`"
    elif n:
        message = f"{n} difference(s), none halting"
    else:
        message = (f"clean: {run.positions_compared} position(s), {run.orders_compared} "
                   "order(s) compared")
    status: RunStatus = "failed" if run.status == "failed" else "halted" if run.halted else (
        "differences" if n else "clean")
    return ReconcileStatus(account_id=run.account_id, at_ms=run.at_ms, status=status,
                           halted=run.halted, differences=n, message=message)

