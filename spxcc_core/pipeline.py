"""One session's per-batch pipeline — the single code path of replay and live.

With a ``broker`` the pipeline also executes: an :class:`~spxcc_core.execute.Executor` with the
profile's execution policy gets every step's raw quotes and setup changes after step 4, so
replay and live place the same orders (``docs/execution.md``). With an ``[ev_floor]`` table,
each fill the executor measures also updates the rolling statistics that gate reads (live: the
routing worker measures and updates them), so later setups face the measured slippage.

From the batch on, replay (:mod:`spxcc_core.replay.engine`) and the live host
(:mod:`spxcc_core.host.live`) run the same object, :class:`Pipeline`; they differ only in where
the batches come from and when they arrive. One :meth:`Pipeline.push` is one step:

1. the step's index values (``V`` events, e.g. ``I:SPX``) go to the runner's
   :class:`~spxcc_core.detect.market.SessionMarket` (``pipeline.market``) — *before* the step's
   trades and quotes, so a bar that a trade or quote of this step makes final sees every index
   value that arrived with or before it;
2. the trades and quotes go to the :class:`~spxcc_core.aggregate.StreamingAggregator`;
3. each microbar that became final goes, in emission order, to the ``spxcc_on_microbar``
   observers (through pluggy, isolated per plugin: :mod:`spxcc_core.registry`) and to the
   :class:`~spxcc_core.detect.DetectorRunner` (context providers, detectors, gating, setup
   lifecycle; the runner calls the ``spxcc_on_setup`` observers);
4. the setup state changes and gate decisions of the step are upserted into the store
   (``spx_setup_instances``, ``spx_gate_decisions``), one transaction per step, through a
   :class:`~spxcc_core.setups.writer.SetupWriter` (``pipeline.setup_writer``): a write a lost
   store connection interrupts is written again, or carried by the next step's, and what is
   still unwritten at the end is counted, never silently lost.

It returns a :class:`StepOutputs`: the step's new bars, setup changes and gate decisions, each
in production order (what the live hub broadcasts). :meth:`Pipeline.finish` ends the input (every
held bar becomes final, open setups expire, providers give their session-end values) and
:meth:`Pipeline.report` shapes everything into a :class:`~spxcc_core.run.RunResult` (the
run layer's result of replay and live alike) — the output files'
contents and the ``replay_report@1`` report — in an order that does not depend on batch
boundaries.

Gamma context: with a chain snapshot (``chain``), the market is given the snapshot for the
session's New York date — ``session_date`` when given, else the date of the earliest trade or
quote (``ts >= 0``) of the first step that has any (or the date set by
:meth:`Pipeline.set_session_date`).

An observer, provider or detector that raises is isolated: recorded under its plugin's name with
a count and reported in ``pluginErrors``; the pipeline goes on. Every failure of the run is in
one collector, ``pipeline.registry.failures``.
"""

from __future__ import annotations

import os
import re
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import msgspec
import pluggy

from spxcc_core.aggregate.engine import StreamingAggregator
from spxcc_core.aggregate.report import PluginErrorRecord, QuarantineRecord, RunReport
from spxcc_core.contracts.microbar import MicrobarV2
from spxcc_core.contracts.replay import ReplayReport, ReplaySource, WebsocketCounts
from spxcc_core.contracts.setup import GateDecision, SetupInstance
from spxcc_core.detect.profile import Profile
from spxcc_core.detect.runner import DetectorRunner
from spxcc_core.errors import ConfigError
from spxcc_core.execute.engine import Executor
from spxcc_core.execute.policy import ExecutionPolicy
from spxcc_core.registry import PluginRegistry, as_registry
from spxcc_core.run.result import RunResult, StepOutputs
from spxcc_core.run.setup import resolve_profile
from spxcc_core.setups.lifecycle import summarize
from spxcc_core.setups.store import SetupStore
from spxcc_core.setups.writer import SetupWriter
from spxcc_core.slippage.rolling import RollingSlippage
from spxcc_core.slippage.store import SlippageStore

if TYPE_CHECKING:
    from spxcc_core.aggregate.columns import (
        ConditionTable,
        QuoteColumns,
        SymbolTable,
        TradeColumns,
    )
    from spxcc_core.aggregate.config import AggregatorConfig
    from spxcc_core.broker.interface import BrokerAdapter
    from spxcc_core.chain import ChainSnapshot
    from spxcc_core.contracts.broker import Fill, OrderIntent
    from spxcc_core.detect.market import SessionMarket
    from spxcc_core.execute.routing import Router
    from spxcc_core.massive.columns import IndexColumns
    from spxcc_core.store.sqlite import Store

__all__ = [
    "FEEDS",
    "Pipeline",
    "ReplayRun",
    "RunResult",
    "StepOutputs",
    "index_groups",
    "resolve_profile",
]

#: Every aggregator feed, the default of :class:`Pipeline`'s ``feeds``.
FEEDS: tuple[str, ...] = ("trades", "quotes")

_NS_PER_MS = 1_000_000
_PREFIX = re.compile(r"^[a-z][a-z0-9_]*$")
#: Per-bar calls whose failures are counted, in ``pluginErrors`` order (then the listed ones).
_COUNTED_HOOKS = ("spxcc_on_microbar", "on_bar")

#: An underlying symbol whose last bar ended this long before the newest one no longer holds
#: back the executor's decision frontier (:meth:`Pipeline.decision_frontier_ms`), in ms.
QUIET_SYMBOL_MS = 60_000

#: The former name of :class:`~spxcc_core.run.RunResult` (kept for existing callers).
ReplayRun = RunResult


# ----------------------------------------------------------------------------- configuration


def index_groups(values: IndexColumns, names: Sequence[str]) -> list[tuple[str, Any, Any]]:
    """A non-empty batch of index values as the market receives it: (symbol, ts, value) per
    symbol, symbols in order of first appearance, each symbol's rows in arrival order."""
    sym = values.symbol
    first = int(sym[0])
    if bool((sym == first).all()):
        return [(names[first], values.ts, values.value)]
    out = []
    for sid in dict.fromkeys(sym.tolist()):
        mask = sym == sid
        out.append((names[sid], values.ts[mask], values.value[mask]))
    return out


# ----------------------------------------------------------------------------- pipeline


class Pipeline:
    """One session's per-batch pipeline (module docstring), used by replay and live alike.

    :param pm: the plugin manager (detectors, context providers, observers), or a
        :class:`~spxcc_core.registry.PluginRegistry` of one (its failure collector then holds
        the run's failures).
    :param profile: a :class:`Profile`, a profile TOML file, or None (the embedded default).
    :param detectors: names of the detectors to run (None: every installed detector the
        profile enables), see :func:`resolve_profile`.
    :param store: the store setup state changes and gate decisions are upserted into (left
        open).
    :param config: aggregation settings (default :class:`AggregatorConfig`).
    :param feeds: the aggregator's configured feeds, a non-empty subset of :data:`FEEDS`; a bar
        is final once every configured feed's watermark passed its end.
    :param run_id_prefix: the run id is ``<prefix>-<32 hex digits>`` (``replay``, ``live``, ...;
        lower-case letters, digits and ``_``, starting with a letter). The run id reaches
        observers in ``context["run_id"]`` and never any output file.
    :param chain: the session's option-chain snapshot for the ``gamma`` context (None: none).
    :param session_date: the session's New York date ``YYYY-MM-DD`` (None: from the first
        step with trades or quotes, or :meth:`set_session_date`).
    :param symbols: the symbol table batches refer to (default: a new, empty one that decoders
        fill — pass ``pipeline.aggregator.symbols`` to them).
    :param conditions: the condition table batches refer to (default: a new, empty one).
    :param broker: execute triggered setups on this broker (fed the raw quotes in event time,
        :mod:`spxcc_core.execute.engine`); None: detect only.
    :param router: how the executor's intents reach ``broker`` (None: directly; live passes
        the routing worker, :class:`~spxcc_core.execute.routing.WorkerRouter`).
    :raises ConfigError: a bad profile, detector name, feed list or prefix; a broker that
        cannot be fed in event time.
    :raises InputError: a bad ``session_date``.
    """

    def __init__(self, pm: pluggy.PluginManager | PluginRegistry,
                 profile: Profile | str | os.PathLike[str] | None = None, *,
                 detectors: Sequence[str] | None = None, store: Store,
                 config: AggregatorConfig | None = None, feeds: Sequence[str] = FEEDS,
                 run_id_prefix: str, chain: ChainSnapshot | None = None,
                 session_date: str | None = None, symbols: SymbolTable | None = None,
                 conditions: ConditionTable | None = None,
                 broker: BrokerAdapter | None = None, router: Router | None = None) -> None:
        if not isinstance(run_id_prefix, str) or not _PREFIX.match(run_id_prefix):
            raise ConfigError(f"run id prefix must be lower-case letters, digits and '_', "
                              f"starting with a letter; got {run_id_prefix!r}")
        self.run_id = f"{run_id_prefix}-{uuid.uuid4().hex}"
        self.registry = as_registry(pm)
        self.pm = self.registry.pm
        self.profile = resolve_profile(self.registry, profile, detectors)
        self.aggregator = StreamingAggregator(config, symbols=symbols, conditions=conditions,
                                              feeds=tuple(feeds))
        #: rolling slippage the ``ev_floor`` gate reads (profile ``[ev_floor]`` only): the
        #: store's recorded fills of the table's source, oldest first; update it with each
        #: newly measured fill of that source
        self.slippage: RollingSlippage | None = None
        ev = self.profile.ev_floor
        if ev is not None:
            self.slippage = RollingSlippage.of(SlippageStore(store).records(source=ev.source),
                                               ev.rolling_config())
        self.runner = DetectorRunner(self.registry, self.profile, run_id=self.run_id,
                                     slippage=self.slippage)
        #: writes the steps' setup states and gate decisions; a write a lost store
        #: connection interrupts is written again, never silently lost (its counts)
        self.setup_writer = SetupWriter(SetupStore(store))
        self._observe = self.registry.caller("spxcc_on_microbar", counted=True)
        self.context: Mapping[str, Any] = MappingProxyType({
            "run_id": self.run_id, "engine": "stream",
            "interval_ms": self.aggregator.config.interval_ms})
        self._chain = chain
        self._session_date: str | None = None
        self._bars: list[MicrobarV2] = []
        self._decisions: list[tuple[int, str, int, GateDecision]] = []
        self._index_values = 0
        self._finished = False
        self._reported = False
        self.executor: Executor | None = None
        #: end of the last released bar per underlying symbol (the decision frontier)
        self._bar_ends: dict[str, int] = {}
        #: True when the source gives the executor its option quotes itself, in time order
        #: (:meth:`feed_option_quotes`), instead of the pushed quote batches (a session cache
        #: stores option quotes by contract, not by time)
        self.external_option_quotes = False
        if broker is not None:
            self.executor = Executor(
                broker, self.profile.execution or ExecutionPolicy(),
                t1_fraction=self.profile.outcome.t1_fraction, market=self.market,
                symbols=self.aggregator.symbols, interval_ms=self.aggregator.config.interval_ms,
                router=router,
                on_slippage=self.slippage.update if self.slippage is not None else None,
                on_fill=self._fill_observer(broker))
        if session_date is not None:
            self.set_session_date(session_date)

    def _fill_observer(self, broker: BrokerAdapter) -> Callable[[Fill, OrderIntent, float], None]:
        """The ``spxcc_on_fill`` observers as the executor's ``on_fill`` (``source``
        ``replay``: fills the executor records itself, without a routing worker)."""
        observers = self.registry.caller("spxcc_on_fill")

        def observe(fill: Fill, intent: OrderIntent, filled: float) -> None:
            account = self.executor.account_id if self.executor is not None else None
            observers(fill=fill, intent=intent, context={
                "broker": broker.name, "account_id": account, "source": "replay",
                "filled_quantity": filled,
                "state": "filled" if filled >= intent.quantity else "partially_filled"})

        return observe

    # -- properties --------------------------------------------------------------------------

    @property
    def market(self) -> SessionMarket:
        """The runner's session market (chain, option flow, index values)."""
        return self.runner.market

    @property
    def session_date(self) -> str | None:
        """The session's New York date, None until known."""
        return self._session_date

    @property
    def finished(self) -> bool:
        """True once :meth:`finish` ran."""
        return self._finished

    @property
    def index_values(self) -> int:
        """Index values pushed so far (every symbol)."""
        return self._index_values

    # -- steps -------------------------------------------------------------------------------

    def set_session_date(self, session_date: str) -> None:
        """Fix the session's New York date (``YYYY-MM-DD``) and give the market the chain
        snapshot for it. A no-op when already set (the first date wins): call it before the
        first step whose bars need the chain.

        :raises InputError: ``session_date`` is not a valid date.
        """
        if self._session_date is not None:
            return
        if self._chain is not None:
            self.market.set_chain(self._chain, session_date)
        if self.executor is not None:
            self.executor.set_session_date(session_date)
        self._session_date = session_date

    def push(self, trades: TradeColumns | None, quotes: QuoteColumns | None,
             index_values: IndexColumns | None = None) -> StepOutputs:
        """One step: ``index_values`` to the market, then ``trades`` and ``quotes`` (each
        None or empty: none; arrival order) through the aggregator, the observers, the runner
        and the store. Symbol and condition ids refer to this pipeline's tables.

        :returns: what the step produced.
        :raises InputError: a batch refers to an id the tables do not hold.
        :raises RuntimeError: the pipeline was already finished.
        """
        if self._finished:
            raise RuntimeError("push() after finish(): the input has ended")
        if index_values is not None and len(index_values):
            self._add_index(index_values)
        t = trades if trades is not None and len(trades) else None
        q = quotes if quotes is not None and len(quotes) else None
        if t is None and q is None:
            return StepOutputs()
        if self._session_date is None:
            from spxcc_core.session import earliest_event_ns, ny_date_of_ms

            first = earliest_event_ns(*(c.ts for c in (t, q) if c is not None))
            if first is not None:
                self.set_session_date(ny_date_of_ms(first // _NS_PER_MS).isoformat())
        out = self._step(self.aggregator.push_events(t, q))
        if self.executor is not None:
            self.executor.step(None if self.external_option_quotes else q, out.setups,
                               self.decision_frontier_ms())
        return out

    def decision_frontier_ms(self) -> int | None:
        """Up to when every setup change is known (epoch ms): the end of the last released
        bar of the slowest underlying symbol (non-option symbols whose last bar ended within
        :data:`QUIET_SYMBOL_MS` of the newest; a quieter one no longer holds the others
        back); -1 before any such bar (nothing known yet); None without underlying bars
        at all once the input has ended. The executor decides nothing and applies no quote
        after it, so replay and live decide with the same quotes whatever the steps."""
        ends = self._bar_ends
        if not ends:
            return None if self._finished else -1
        newest = max(ends.values())
        return min(e for e in ends.values() if e >= newest - QUIET_SYMBOL_MS)

    def feed_option_quotes(self, quotes: QuoteColumns) -> None:
        """Give the executor option quotes in time order (with
        :attr:`external_option_quotes`); a no-op without a broker."""
        if self.executor is not None and len(quotes):
            self.executor.step(quotes, [], self.decision_frontier_ms())

    def push_bars(self, bars: Sequence[MicrobarV2],
                  index_values: Sequence[tuple[str, Any, Any]] = ()) -> StepOutputs:
        """One step of bars aggregated earlier (a bars-cache replay, :mod:`spxcc_core.replay.
        bars`): ``index_values`` — (symbol, ts ns array, value array) per market call, in
        order — to the market, then ``bars`` (production order) through the observers, the
        runner and the store, exactly as :meth:`push` hands its aggregator's bars on.

        :raises RuntimeError: the pipeline was already finished.
        """
        if self._finished:
            raise RuntimeError("push_bars() after finish(): the input has ended")
        market = self.market
        for name, ts, values in index_values:
            self._index_values += len(ts)
            market.add_index_values(name, ts, values)
        return self._step(list(bars)) if bars else StepOutputs()

    def finish(self) -> StepOutputs:
        """End the input: every held bar becomes final, open setups expire, providers give
        their session-end values. Idempotent (a second call returns empty outputs)."""
        if self._finished:
            return StepOutputs()
        self._finished = True
        out = self._step(self.aggregator.close())
        expired = [s for s in self.runner.finish() if isinstance(s, SetupInstance)]
        if expired:
            self.setup_writer.write({s.id: s for s in expired}.values(), ())
        if self.executor is not None:
            self.executor.finish([*out.setups, *expired])
        return StepOutputs(bars=out.bars, setups=[*out.setups, *expired],
                           decisions=out.decisions)

    def _add_index(self, values: IndexColumns) -> None:
        self._index_values += len(values)
        market = self.market
        for name, ts, value in index_groups(values, self.aggregator.symbols.names):
            market.add_index_values(name, ts, value)

    def _step(self, bars: list[MicrobarV2]) -> StepOutputs:
        changed: dict[str, SetupInstance] = {}
        setups: list[SetupInstance] = []
        decisions: list[GateDecision] = []
        runner, observe, context = self.runner, self._observe, self.context
        ranked = self._decisions
        for bar in bars:
            if observe:
                observe(bar=bar, context=context)
            for out in runner.on_bar(bar):
                if isinstance(out, GateDecision):
                    ranked.append((out.bar_start_ms, out.symbol, len(ranked), out))
                    decisions.append(out)
                else:
                    changed[out.id] = out
                    setups.append(out)
        self._bars.extend(bars)
        ends = self._bar_ends
        for bar in bars:
            if not bar.symbol.startswith(("O:", "I:")):
                ends[bar.symbol] = bar.start_ms + bar.interval_ms
        if changed or decisions:
            self.setup_writer.write(changed.values(), decisions)
        return StepOutputs(bars=bars, setups=setups, decisions=decisions)

    # -- report ------------------------------------------------------------------------------

    def plugin_errors(self) -> list[PluginErrorRecord]:
        """Every plugin failure so far: observers (with counts), detectors and providers (with
        counts), failed registrations and ``spxcc_on_setup`` / ``spxcc_on_run_end`` calls."""
        return [PluginErrorRecord(plugin=f.plugin, hook=f.hook, error=f.error)
                for f in self.registry.failures.entries(_COUNTED_HOOKS)]

    def report(self, source: ReplaySource, *, index_values: int | None = None,
               websocket: WebsocketCounts | None = None,
               aggregation: RunReport | None = None,
               quarantine: Sequence[QuarantineRecord] | None = None) -> RunResult:
        """The run's outputs and ``replay_report@1``, after the ``spxcc_on_run_end`` observers
        added their summary lines. Ends the input first when :meth:`finish` was not called.
        Call once.

        :param source: what the run read (written into the report as is).
        :param index_values: the index-value count to report (None: those pushed).
        :param websocket: the websocket event counts of a websocket source (None: none).
        :param aggregation: the aggregation run report (None: this pipeline's aggregator's;
            given by a bars-cache replay, whose aggregation ran earlier).
        :param quarantine: the quarantined events, as ``aggregation`` (None: the
            aggregator's).
        :raises RuntimeError: called a second time.
        """
        if self._reported:
            raise RuntimeError("report() was already called for this run")
        self._reported = True
        self.finish()
        bars = sorted(self._bars, key=lambda b: (b.symbol, b.start_ms))
        decisions = [d for *_, d in sorted(self._decisions, key=lambda x: x[:3])]
        quarantine = sorted(self.aggregator.quarantine if quarantine is None else quarantine,
                            key=lambda q: (q.kind, q.ts, q.symbol, q.line, q.reason))
        setups = self.runner.setups()
        outputs = {"microbars.jsonl": len(bars), "setups.jsonl": len(setups),
                   "gate_decisions.jsonl": len(decisions), "quarantine.jsonl": len(quarantine)}
        execution = self.executor.outputs() if self.executor is not None else None
        if execution is not None:
            outputs.update(execution.counts())
        report = ReplayReport(
            source=source,
            aggregation=self.aggregator.report if aggregation is None else aggregation,
            detection=self.runner.report(),
            setups_by_detector=dict(sorted(Counter(s.detector for s in setups).items())),
            outcomes=summarize(setups), plugin_errors=self.plugin_errors(), outputs=outputs,
            index_values=self._index_values if index_values is None else index_values,
            websocket=websocket,
            execution=execution.report if execution is not None else msgspec.UNSET)
        summary: list[str] = []
        for lines in self.registry.call("spxcc_on_run_end",
                                        report=MappingProxyType(msgspec.to_builtins(report)),
                                        context=self.context):
            summary.extend(str(line) for line in lines)
        report = msgspec.structs.replace(report, summary=summary,
                                         plugin_errors=self.plugin_errors())
        return RunResult(bars=bars, setups=setups, decisions=decisions, quarantine=quarantine,
                         report=report, execution=execution)
