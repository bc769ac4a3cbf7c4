"""The detector runner: bars in, gate decisions and setup state changes out.

``DetectorRunner(source, profile)`` takes either a plugin manager or a
:class:`~spxcc_core.registry.PluginRegistry` (detectors and context providers are discovered
through ``spxcc_register_detectors`` / ``spxcc_register_context_providers``, and
``spxcc_on_setup`` observers are notified; failures go to the registry's collector) or a
sequence of detector classes (no observers). For every bar, in this order:

1. open setups of the bar's symbol advance with the bar (lifecycle, see
   :mod:`spxcc_core.setups.lifecycle`); setups detected before the RTH close expire on the first
   bar at or after the close, and every open setup expires when the symbol's New York date
   changes or at :meth:`DetectorRunner.finish`;
2. the context takes the bar, providers publish their values;
3. each detector's ``on_bar`` is called directly (detectors and providers run in name order); every candidate is gated (one
   :class:`GateDecision` each) and a passing one becomes a :class:`SetupInstance`.

Detector and provider instances live per (symbol, New York date), so each day is processed
independently of the days before it. A detector or provider that raises is recorded under its
name (count and first error) and the run goes on; bars of a symbol that do not start after the
previous one are quarantined (``outOfOrder``), never processed twice.

Session-scoped data (option chain, option flow, index values) lives in one
:class:`~spxcc_core.detect.market.SessionMarket` per runner (``runner.market``): every processed
bar is passed to it before the providers run, and every provider gets it as ``provider.market``.
When a symbol's day ends (a bar of a later day, or :meth:`DetectorRunner.finish`) each provider's
``on_session_end`` value is kept and reported under ``sessionEnd``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import msgspec
import pluggy

from spxcc_core.contracts.microbar import MicrobarV1
from spxcc_core.contracts.replay import (
    DetectionReport,
    DetectorErrors,
    GateCounts,
    InstrumentDetection,
    OutcomeStats,
    ProfileRef,
    RunnerPluginFailure,
)
from spxcc_core.contracts.setup import GateCheck, GateDecision, SetupCandidate, SetupInstance
from spxcc_core.detect.base import ContextProvider, Detector
from spxcc_core.detect.context import BarContext, context_slots
from spxcc_core.detect.gating import decide
from spxcc_core.detect.market import SessionMarket
from spxcc_core.detect.profile import (
    Profile,
    ResolvedDetector,
    ResolvedProvider,
    default_profile,
    profile_hash,
    resolve_detectors,
    resolve_providers,
)
from spxcc_core.registry import (
    FailureCount,
    IsolatedCaller,
    Kind,
    PluginFailure,
    PluginFailures,
    PluginRegistry,
    as_registry,
    require_unique_names,
)
from spxcc_core.session import SessionCalendar, TradingDay, get_calendar
from spxcc_core.setups.lifecycle import (
    INSTRUMENT_KINDS,
    SetupTracker,
    gap_expectancy,
    instrument_kind,
    make_setup_id,
    summarize,
)
from spxcc_core.slippage.ev_floor import OutcomeTally, ev_floor_checks, ev_floor_inputs
from spxcc_core.slippage.rolling import RollingSlippage

__all__ = ["CONTEXT_PROVIDERS", "DETECTORS", "DetectorRunner", "RunnerOutput"]

#: Detector classes, registered through ``spxcc_register_detectors``.
DETECTORS: Kind[Detector[Any]] = Kind("spxcc_register_detectors", "detector")
#: Context provider classes, registered through ``spxcc_register_context_providers``.
CONTEXT_PROVIDERS: Kind[ContextProvider] = Kind("spxcc_register_context_providers",
                                                "context provider")
#: The hooks whose failures the runner reports under ``pluginFailures``.
_RUNNER_HOOKS = (DETECTORS.hook, CONTEXT_PROVIDERS.hook, "spxcc_on_setup")
#: The hook name detector and provider ``on_bar`` failures are counted under.
_ON_BAR = "on_bar"

RunnerOutput = SetupInstance | GateDecision

_value_encoder = msgspec.json.Encoder()


@attrs.define
class _GateCounts:
    evaluated: int = 0
    passed: int = 0
    blocked: int = 0
    reasons: dict[str, int] = attrs.field(factory=dict)


@attrs.define
class _SymbolState:
    day: TradingDay
    ctx: BarContext
    detectors: list[tuple[str, Detector[Any]]]
    providers: list[tuple[str, ContextProvider]]
    trackers: list[SetupTracker] = attrs.field(factory=list)
    seen_ids: set[str] = attrs.field(factory=set)
    last_start_ms: int = -(1 << 62)


class DetectorRunner:
    """Runs detectors and gating bar by bar; pure and deterministic for a given input order.

    :param source: a plugin manager or plugin registry, or the detector classes to run.
    :param profile: the profile (default: :func:`default_profile` of the runner's detectors,
        each with its ``params_class`` defaults).
    :param providers: context provider classes when ``source`` is a class list.
    :param calendar: the RTH calendar (default: XNYS).
    :param run_id: passed to observers in ``context``.
    :param market: the session-scoped market data handed to providers (default: an empty
        :class:`SessionMarket`; the host sets its chain and pushes index values).
    :param slippage: rolling slippage statistics read by the ``ev_floor`` gate (only when the
        profile has an ``[ev_floor]`` table); None uses the table's prior slippage. The caller
        may keep updating it (live fills) between bars.
    :raises PluginError: malformed registrations (blank or duplicate names, non-list results).
    :raises ConfigError: the profile does not fit the installed detectors or providers
        (``[providers.NAME]`` tables: unknown provider or key, invalid value).
    """

    def __init__(self, source: pluggy.PluginManager | PluginRegistry
                 | Sequence[type[Detector[Any]]],
                 profile: Profile | None = None, *,
                 providers: Sequence[type[ContextProvider]] = (),
                 calendar: SessionCalendar | None = None, run_id: str = "",
                 market: SessionMarket | None = None,
                 slippage: RollingSlippage | None = None) -> None:
        self._on_setup: IsolatedCaller | None = None
        self.slippage = slippage
        self._tally = OutcomeTally()
        if isinstance(source, pluggy.PluginManager | PluginRegistry):
            registry = as_registry(source)
            self.failures: PluginFailures = registry.failures
            detector_classes = registry.classes(DETECTORS)
            provider_classes = registry.classes(CONTEXT_PROVIDERS)
            self._on_setup = registry.caller("spxcc_on_setup")
        else:
            self.failures = PluginFailures()
            detector_classes = list(source)
            provider_classes = list(providers)
            require_unique_names(DETECTORS.label, detector_classes)
            require_unique_names(CONTEXT_PROVIDERS.label, provider_classes)
            # a stable order whatever the plugin load order: outputs are byte-identical
            detector_classes.sort(key=lambda c: c.name)
            provider_classes.sort(key=lambda c: c.name)
        self.profile = (profile if profile is not None
                        else default_profile(detector_classes))
        self.resolved: list[ResolvedDetector] = resolve_detectors(
            self.profile, detector_classes, strict=profile is not None)
        self.resolved_providers: list[ResolvedProvider] = resolve_providers(
            self.profile, provider_classes, strict=profile is not None)
        self.profile_hash = profile_hash(self.profile, self.resolved, self.resolved_providers)
        self._providers = [(r.cls, r.params) for r in self.resolved_providers]
        self._slots = context_slots([r.cls for r in self.resolved_providers])
        self.calendar = calendar if calendar is not None else get_calendar()
        self.market = market if market is not None else SessionMarket(self.calendar)
        self.run_id = run_id
        self._session_end: dict[str, dict[str, dict[str, Any]]] = {}
        self._states: dict[str, _SymbolState] = {}
        self._setups: dict[str, SetupInstance] = {}
        self._gates: dict[str, _GateCounts] = {r.cls.name: _GateCounts() for r in self.resolved}
        # the same counts split by instrument kind ("underlying" / "option")
        self._gates_by_kind: dict[str, dict[str, _GateCounts]] = {}
        self._gap_r: dict[str, float] = {}
        self._bars = 0
        self._out_of_order = 0
        self._window = self.profile.context.window_bars

    # -- per bar -----------------------------------------------------------------------------

    def _new_state(self, symbol: str, day: TradingDay) -> _SymbolState:
        kind = instrument_kind(symbol)
        providers: list[tuple[str, ContextProvider]] = []
        for cls, params in self._providers:
            provider = cls(params, symbol=symbol)
            provider.market = self.market
            providers.append((cls.name, provider))
        return _SymbolState(
            day=day, ctx=BarContext(symbol, day, self._window, self._slots),
            detectors=[(r.cls.name, r.cls(r.params, symbol=symbol)) for r in self.resolved
                       if kind in getattr(r.cls, "instruments", INSTRUMENT_KINDS)],
            providers=providers)

    def _end_session(self, st: _SymbolState) -> None:
        """Collect the providers' ``on_session_end`` values of ``st``'s symbol and day."""
        for name, provider in st.providers:
            try:
                value = provider.on_session_end(st.ctx)
                if value is None:
                    continue
                data = msgspec.json.decode(_value_encoder.encode(value))  # JSON-shaped
            except Exception as exc:
                self._record_error(name, exc)
                continue
            day = self._session_end.setdefault(st.day.session_id, {})
            day.setdefault(st.ctx.symbol, {})[name] = data

    def on_bar(self, bar: MicrobarV1) -> list[RunnerOutput]:
        """Process one bar; returns the gate decisions and setup state changes it caused."""
        out: list[RunnerOutput] = []
        start = bar.start_ms
        st = self._states.get(bar.symbol)
        if st is None or not st.day.day_start_ms <= start < st.day.day_end_ms:
            day = self.calendar.day_for_ms(start)
            if st is not None:
                if start <= st.last_start_ms:
                    self._out_of_order += 1
                    return out
                self._expire_all(st, out)
                self._end_session(st)
            st = self._new_state(bar.symbol, day)
            self._states[bar.symbol] = st
        elif start <= st.last_start_ms:
            self._out_of_order += 1
            return out
        st.last_start_ms = start
        self._bars += 1
        self.market.observe(bar)
        if st.trackers:
            self._advance_setups(st, bar, out)
        ctx = st.ctx
        ctx.advance(bar)
        for name, provider in st.providers:
            try:
                value = provider.on_bar(bar, ctx)
            except Exception as exc:
                self._record_error(name, exc)
                continue
            if value is not None:
                ctx.publish(name, value)
        for name, detector in st.detectors:
            try:
                candidates = detector.on_bar(bar, ctx)
            except Exception as exc:
                self._record_error(name, exc)
                continue
            if candidates:
                for c in candidates:
                    if not isinstance(c, SetupCandidate):
                        self._record_error(name, TypeError(
                            f"on_bar returned {type(c).__name__}, expected SetupCandidate"))
                        continue
                    try:
                        self._gate(name, c, bar, st, out)
                    except Exception as exc:  # a malformed candidate must not stop the run
                        self._record_error(name, exc)
        return out

    def _record_error(self, name: str, exc: Exception) -> None:
        self.failures.count(name, _ON_BAR, exc)

    @property
    def _errors(self) -> dict[str, FailureCount]:
        """Detector and provider ``on_bar`` failures by name (count, first message), sorted."""
        return self.failures.counted(_ON_BAR)

    @property
    def _plugin_failures(self) -> list[PluginFailure]:
        """Listed failures of the hooks the runner calls (registration, ``spxcc_on_setup``)."""
        return self.failures.listed(_RUNNER_HOOKS)

    def _advance_setups(self, st: _SymbolState, bar: MicrobarV1,
                        out: list[RunnerOutput]) -> None:
        close_ms = st.day.close_ms
        start = bar.start_ms
        for tr in st.trackers:
            if close_ms is not None and start >= close_ms and tr.setup.detected_ms < close_ms:
                upd = tr.expire(close_ms, st.ctx.last_price)
            else:
                upd = tr.on_bar(bar)
            if upd is not None:
                self._emit(upd, out, st.day.session_id, tracker=tr)
        st.trackers = [tr for tr in st.trackers if not tr.closed]

    def _gate(self, name: str, c: SetupCandidate, bar: MicrobarV1, st: _SymbolState,
              out: list[RunnerOutput]) -> None:
        counts = self._gates.setdefault(name, _GateCounts())
        session_id = st.day.session_id
        setup_id = make_setup_id(session_id, c)
        if c.detector != name or c.symbol != bar.symbol or c.bar_start_ms != bar.start_ms:
            field = ("detector" if c.detector != name else
                     "symbol" if c.symbol != bar.symbol else "barStartMs")
            decision = GateDecision(
                setup_id=setup_id, session_id=session_id, detector=name,
                detector_version=c.detector_version, symbol=bar.symbol, direction=c.direction,
                bar_start_ms=bar.start_ms, passed=False,
                checks=(GateCheck(gate="candidate_invalid", input=field, comparison="",
                                  threshold=None, observed=None, passed=False),))
        else:
            decision = decide(c, bar, self.profile.gating, setup_id=setup_id,
                              session_id=session_id)
            ev = self.profile.ev_floor
            if ev is not None and decision.checks[0].gate != "candidate_invalid":
                inputs = ev_floor_inputs(
                    c, ev, t1_fraction=self.profile.outcome.t1_fraction,
                    breakeven_after_t1=self.profile.outcome.breakeven_after_t1,
                    tally=self._tally, slippage=self.slippage)
                decision = msgspec.structs.replace(
                    decision, passed=decision.passed and inputs.passed,
                    checks=(*decision.checks, *ev_floor_checks(inputs)))
            if decision.passed and setup_id in st.seen_ids:
                decision = msgspec.structs.replace(decision, passed=False, checks=(
                    *decision.checks, GateCheck(gate="duplicate_setup", input="", comparison="",
                                                threshold=None, observed=None, passed=False)))
        by_kind = self._gates_by_kind.setdefault(instrument_kind(bar.symbol), {})
        both = (counts, by_kind.setdefault(name, _GateCounts()))
        out.append(decision)
        for cnt in both:
            cnt.evaluated += 1
            if not decision.passed:
                cnt.blocked += 1
                for ch in decision.checks:
                    if not ch.passed:
                        cnt.reasons[ch.gate] = cnt.reasons.get(ch.gate, 0) + 1
            else:
                cnt.passed += 1
        if not decision.passed:
            return
        st.seen_ids.add(setup_id)
        setup = SetupInstance(
            id=setup_id, session_id=session_id, detector=c.detector,
            detector_version=c.detector_version, symbol=c.symbol, direction=c.direction,
            entry=c.entry, stop=c.stop, t1=c.t1, t2=c.t2, detected_ms=c.bar_start_ms,
            trigger_deadline_ms=c.trigger_deadline_ms, note=c.note,
            profile_hash=self.profile_hash)
        st.trackers.append(SetupTracker(setup, self.profile.outcome))
        self._emit(setup, out, session_id, decision)

    def _emit(self, setup: SetupInstance, out: list[RunnerOutput], session_id: str,
              gate: GateDecision | None = None, tracker: SetupTracker | None = None) -> None:
        self._setups[setup.id] = setup
        self._tally.observe(setup)
        if tracker is not None and tracker.gap_r is not None:
            self._gap_r[setup.id] = tracker.gap_r
        out.append(setup)
        if self._on_setup:
            context: dict[str, Any] = {"run_id": self.run_id, "profile_hash": self.profile_hash,
                                       "session_id": session_id}
            if gate is not None:
                context["gate"] = gate
            self._on_setup(setup=setup, context=context)

    def _expire_all(self, st: _SymbolState, out: list[RunnerOutput]) -> None:
        day = st.day
        for tr in st.trackers:
            at = (day.close_ms if day.close_ms is not None and tr.setup.detected_ms < day.close_ms
                  else day.day_end_ms)
            upd = tr.expire(at, st.ctx.last_price)
            if upd is not None:
                self._emit(upd, out, day.session_id, tracker=tr)
        st.trackers = []

    # -- end of run --------------------------------------------------------------------------

    def finish(self) -> list[RunnerOutput]:
        """Expire every open setup at its session end and collect the providers' session-end
        values; returns the setup state changes."""
        out: list[RunnerOutput] = []
        for symbol in sorted(self._states):
            self._expire_all(self._states[symbol], out)
        for symbol in sorted(self._states):
            self._end_session(self._states[symbol])
        return out

    def setups(self) -> list[SetupInstance]:
        """Latest state of every setup created so far, ordered by (detected_ms, id)."""
        return sorted(self._setups.values(), key=lambda s: (s.detected_ms, s.id))

    def gap_r(self) -> dict[str, float]:
        """Gap-aware R of every closed triggered setup, by setup id (see
        :mod:`spxcc_core.setups.lifecycle`; the gross R is the setup's ``realized_r``)."""
        return dict(self._gap_r)

    def _gate_counts(self, gates: dict[str, _GateCounts]) -> dict[str, GateCounts]:
        return {name: GateCounts(evaluated=g.evaluated, passed=g.passed, blocked=g.blocked,
                                 reasons=dict(sorted(g.reasons.items())))
                for name, g in sorted(gates.items())}

    def _by_instrument(self, setups: list[SetupInstance]) -> dict[str, InstrumentDetection]:
        """Setups, gate counts and outcomes per instrument kind (``underlying``, ``option``),
        with the detectors that run on that kind."""
        out: dict[str, InstrumentDetection] = {}
        for kind in INSTRUMENT_KINDS:
            mine = [s for s in setups if instrument_kind(s.symbol) == kind]
            by_det: dict[str, int] = {}
            for s in mine:
                by_det[s.detector] = by_det.get(s.detector, 0) + 1
            out[kind] = InstrumentDetection(
                detectors=sorted(r.cls.name for r in self.resolved
                                 if kind in getattr(r.cls, "instruments", INSTRUMENT_KINDS)),
                setups_by_detector=dict(sorted(by_det.items())),
                gates=self._gate_counts(self._gates_by_kind.get(kind, {})),
                stats=OutcomeStats.of(summarize(mine)),
                expectancy_gap_r=gap_expectancy(mine, self._gap_r))
        return out

    def report(self) -> DetectionReport:
        """Run report (``detection`` of ``replay_report@1``): bars, quarantine, per-detector
        gate counts and reasons, detector/provider errors, plugin failures, outcome statistics
        (``stats``: gross R; ``expectancy_gap_r``: gap-aware, see
        :mod:`spxcc_core.setups.lifecycle`), the same split by instrument kind
        (``by_instrument``: ``underlying`` / ``option``) and the providers' session-end values
        (``session_end``: session id → symbol → provider name → value; UNSET when none)."""
        setups = self.setups()
        return DetectionReport(
            profile=ProfileRef(name=self.profile.name, version=self.profile.version,
                               hash=self.profile_hash),
            detectors={r.cls.name: r.cls.version for r in self.resolved},
            defaults_used=sorted(r.cls.name for r in self.resolved if not r.from_profile),
            bars=self._bars,
            quarantined={"outOfOrder": self._out_of_order} if self._out_of_order else {},
            gates=self._gate_counts(self._gates),
            errors={name: DetectorErrors(count=e.count, first=e.first)
                    for name, e in sorted(self._errors.items())},
            plugin_failures=[RunnerPluginFailure(plugin=f.plugin, hook=f.hook, error=f.error)
                             for f in self._plugin_failures],
            stats=OutcomeStats.of(summarize(setups)),
            expectancy_gap_r=gap_expectancy(setups, self._gap_r),
            by_instrument=self._by_instrument(setups),
            session_end={sid: {sym: dict(sorted(vals.items()))
                               for sym, vals in sorted(syms.items())}
                         for sid, syms in sorted(self._session_end.items())}
            if self._session_end else msgspec.UNSET)
