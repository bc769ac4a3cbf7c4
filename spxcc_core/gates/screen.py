"""The optimizer's screening pass: a profile's trades on a session, from its recorded bars.

:func:`screen` is compiled where it can be (below); :func:`screen_with_runner` runs the
real :class:`~spxcc_core.detect.runner.DetectorRunner` (detectors,
gating, setup lifecycle and outcomes) over a session's bar tape
(:mod:`spxcc_core.replay.bars`) exactly as the replay pipeline does — the session market's
chain and index values, the bars in production order, the end of input — but without the
parts that cannot change a trade: no store, no ``spxcc_on_microbar``/``spxcc_on_setup``
observers, no output files. Its trades equal :func:`~spxcc_core.gates.trades.trades_from_run`
of a full replay (``tests/test_optimize.py`` checks it on the golden sessions and a
generated one). The candidate the optimizer hands to the release gate is replayed again
through the full pipeline there.

Context-provider values (the gamma context) depend on the bars, the session market and the
provider and context settings — never on detector, gating or outcome parameters. The first
screen of a session under given provider and context settings records every value the
providers publish; later screens with the same settings replay those values instead of
recomputing them (the trades are the same, the tests above run both ways).

**Compiled screening.** When every detector the profile enables has a compiled
:meth:`~spxcc_core.detect.base.Detector.scan` (the built-ins do) and the profile has no
``[ev_floor]`` (whose verdicts depend on the outcomes of earlier setups), :func:`screen` does
not run the runner: each detector scans each (symbol, day) of the session's bars at once
(:mod:`spxcc_core.detect.columns`), every candidate is gated by the runner's own gating code
(:func:`~spxcc_core.detect.gating.evaluate_gates`, duplicates refused as the runner does), and
the passing setups' outcomes come from the compiled lifecycle
(:func:`spxcc_core.setups.batch.track_day`). Its trades equal the runner's
(:func:`screen_with_runner`) to the bit — checked on the golden sessions, generated sessions
and random profiles by ``tests/test_optimize.py``, and again by the optimizer for its best
candidate and the baseline on every run. Context providers are not run: no built-in
detector reads their values (a detector that does must not offer a scan).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import pluggy

from spxcc_core.contracts.bartape import BarTapeV1
from spxcc_core.contracts.microbar import MicrobarV2
from spxcc_core.contracts.setup import GateCheck, GateDecision, SetupCandidate
from spxcc_core.detect.base import ContextProvider, Detector, offers_scan
from spxcc_core.detect.columns import BarColumns, day_columns
from spxcc_core.detect.gating import GatingProfile, evaluate_gates
from spxcc_core.detect.profile import (
    Profile,
    ResolvedDetector,
    resolve_detectors,
    resolve_providers,
)
from spxcc_core.detect.runner import CONTEXT_PROVIDERS, DETECTORS, DetectorRunner
from spxcc_core.errors import ConfigError
from spxcc_core.gates.trades import SessionTrades, Trade, session_trades
from spxcc_core.registry import PluginRegistry, as_registry
from spxcc_core.session import get_calendar
from spxcc_core.setups.lifecycle import (
    INSTRUMENT_KINDS,
    OutcomePolicy,
    instrument_kind,
    make_setup_id,
)
from spxcc_core.slippage.rolling import RollingSlippage

__all__ = ["ScreenSession", "Screener", "scan_screen", "screen", "screen_with_runner"]

_IndexCall = tuple[str, Any, Any]


@attrs.frozen(eq=False)
class ScreenSession:
    """A session ready for screening: its date, its chain (None: none) and its steps as
    (index values per market call — only when they reach the market —, bars)."""

    session_date: str
    chain: Any
    steps: tuple[tuple[tuple[_IndexCall, ...], tuple[MicrobarV2, ...]], ...]
    #: provider values recorded per (provider and context settings) → (provider, symbol,
    #: bar start) → value
    memo: dict[Any, dict[tuple[str, str, int], Any]] = attrs.field(factory=dict)
    #: the bars as (symbol, trading day) columns, once asked for (:meth:`columns`)
    _columns: list[BarColumns] = attrs.field(factory=list, alias="_columns")
    _columned: list[bool] = attrs.field(factory=list, alias="_columned")

    def columns(self) -> list[BarColumns]:
        """The session's bars grouped as the runner groups them
        (:func:`~spxcc_core.detect.columns.day_columns`, XNYS calendar), built once."""
        if not self._columned:
            self._columns.extend(day_columns((b for _, bars in self.steps for b in bars),
                                             get_calendar()))
            self._columned.append(True)
        return self._columns

    @classmethod
    def of(cls, tape: BarTapeV1, chain: Any) -> ScreenSession:
        """From a tape and the session's own chain (as a replay uses them)."""
        with_index = tape.kind == "websocket" or chain is not None
        steps = []
        for step in tape.steps:
            index = tuple((v.symbol, np.asarray(v.ts, dtype=np.int64),
                           np.asarray(v.value, dtype=np.float64))
                          for v in step.index) if with_index else ()
            if index or step.bars:
                steps.append((index, tuple(step.bars)))
        return cls(tape.session_date, chain, tuple(steps))


@attrs.frozen(eq=False)
class Screener:
    """The installed detector and provider classes, discovered once."""

    detectors: tuple[type[Detector[Any]], ...]
    providers: tuple[type[ContextProvider], ...]

    @classmethod
    def of(cls, pm: pluggy.PluginManager | PluginRegistry) -> Screener:
        """The classes a run with ``pm`` would use."""
        registry = as_registry(pm)
        return cls(tuple(registry.classes(DETECTORS)),
                   tuple(registry.classes(CONTEXT_PROVIDERS)))

    def runner(self, profile: Profile,
               providers: Sequence[type[ContextProvider]] | None = None) -> DetectorRunner:
        """A fresh runner for ``profile`` (its ``ev_floor`` gate, if any, starts from its
        prior: a replay's in-memory store holds no fills); ``providers`` replaces the
        installed provider classes (same names and parameters).

        :raises ConfigError: the profile does not fit the installed detectors.
        """
        ev = profile.ev_floor
        slippage = None if ev is None else RollingSlippage.of([], ev.rolling_config())
        return DetectorRunner(list(self.detectors), profile,
                              providers=list(self.providers if providers is None
                                             else providers), slippage=slippage)

    def providers_for(self, profile: Profile, session: ScreenSession,
                       ) -> list[type[ContextProvider]]:
        """Provider classes that record (first screen under these settings) or replay the
        session's provider values."""
        settings = (profile.context, tuple(sorted(
            (name, _frozen(table)) for name, table in profile.providers.items())))
        values = session.memo.get(settings)
        if values is None:
            values = session.memo[settings] = {}
            return [_recording(cls, values) for cls in self.providers]
        return [_replaying(cls, values) for cls in self.providers]


def _frozen(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def _recording(cls: type[ContextProvider], values: dict[tuple[str, str, int], Any],
               ) -> type[ContextProvider]:
    name = cls.name

    class Recording(cls):  # type: ignore[valid-type,misc]
        def on_bar(self, bar: MicrobarV2, ctx: Any) -> object | None:
            value: object | None = super().on_bar(bar, ctx)
            if value is not None:
                values[(name, bar.symbol, bar.start_ms)] = value
            return value

    return Recording


def _replaying(cls: type[ContextProvider], values: dict[tuple[str, str, int], Any],
               ) -> type[ContextProvider]:
    name = cls.name

    class Replaying(cls):  # type: ignore[valid-type,misc]
        def on_bar(self, bar: MicrobarV2, ctx: Any) -> object | None:
            found: object | None = values.get((name, bar.symbol, bar.start_ms))
            return found

        def on_session_end(self, ctx: Any) -> object | None:
            return None  # only the run report reads it

    return Replaying


def screen(screener: Screener, profile: Profile, session: ScreenSession) -> SessionTrades:
    """The trades ``profile`` makes on ``session``: compiled when it can be
    (:func:`scan_screen`), else by the detector runner (:func:`screen_with_runner`)."""
    trades = scan_screen(screener, profile, session)
    if trades is not None:
        return trades
    return screen_with_runner(screener, profile, session)


def scan_screen(screener: Screener, profile: Profile, session: ScreenSession,
                ) -> SessionTrades | None:
    """:func:`screen_with_runner`'s trades from the detectors' compiled scans (module
    docstring); None when the profile cannot be screened that way (a detector without a
    scan, or one declining a day; an ``[ev_floor]`` table; a day outside the microbar
    contract; a parameter beyond what the kernels hold, such as a trigger deadline past
    int64).

    :raises ConfigError: the profile does not fit the installed plugins (as the runner).
    """
    try:
        return _scan_screen(screener, profile, session)
    except ConfigError:
        raise
    except Exception:  # the compiled path cannot hold this profile: the runner decides
        return None


def _scan_screen(screener: Screener, profile: Profile, session: ScreenSession,
                 ) -> SessionTrades | None:
    if profile.ev_floor is not None:
        return None
    resolved = resolve_detectors(profile, sorted(screener.detectors, key=lambda c: c.name))
    if not all(offers_scan(r.cls) for r in resolved):
        return None
    resolve_providers(profile, screener.providers)  # the runner's ConfigError, unchanged
    reasons: dict[str, int] = {}
    trades: list[_Entry] = []
    for day in session.columns():
        if not day.in_contract:
            return None
        kind = instrument_kind(day.symbol)
        mine = [r for r in resolved if kind in getattr(r.cls, "instruments", INSTRUMENT_KINDS)]
        found = _candidates(mine, day)
        if found is None:
            return None
        passed = _gated(found, day, profile.gating, reasons)
        if passed:
            trades += _outcomes(passed, day, profile.outcome)
    return SessionTrades(session_date=session.session_date, trades=_in_entry_order(trades),
                         block_reasons=dict(sorted(reasons.items())))


#: a trade with what orders it: (trigger ms, session id, candidate, trade)
_Entry = tuple[int, str, SetupCandidate, Trade]


def _candidates(resolved: Sequence[ResolvedDetector], day: BarColumns,
                ) -> list[tuple[int, SetupCandidate]] | None:
    """Every candidate of ``resolved`` detectors on ``day`` as (bar index, candidate), in the
    runner's order (bar, detector name, the detector's own order); None when a scan
    declines the day. Candidates are built by the detector's own ``candidate()``."""
    found: list[tuple[int, int, int, SetupCandidate]] = []
    for order, r in enumerate(resolved):
        hits = r.cls.scan(r.params, day)
        if hits is None:
            return None
        if not len(hits):
            continue
        maker = r.cls(r.params, symbol=day.symbol)
        for k, (i, is_long, entry, stop, note) in enumerate(zip(
                hits.index.tolist(), hits.long.tolist(), hits.entry.tolist(),
                hits.stop.tolist(), hits.note, strict=True)):
            found.append((i, order, k, maker.candidate(
                day.bars[i], "long" if is_long else "short", entry, stop, note)))
    found.sort(key=lambda f: f[:3])
    return [(i, c) for i, _, _, c in found]


def _gated(found: Sequence[tuple[int, SetupCandidate]], day: BarColumns,
           gating: GatingProfile, reasons: dict[str, int]) -> list[tuple[int, SetupCandidate]]:
    """The candidates that pass the runner's gates on their bar (a second setup with the same
    id refused as ``duplicate_setup``); each failed check of the others counted in
    ``reasons``."""
    seen: set[tuple[str, str, int]] = set()
    passed: list[tuple[int, SetupCandidate]] = []
    for i, c in found:
        checks = evaluate_gates(c, day.bars[i], gating)
        ok = all(ch.passed for ch in checks)
        key = (c.detector, c.direction, c.bar_start_ms)  # the setup id's variable part
        if ok and key in seen:
            ok = False
            checks = (*checks, GateCheck(gate="duplicate_setup", input="", comparison="",
                                         threshold=None, observed=None, passed=False))
        if not ok:
            for ch in checks:
                if not ch.passed:
                    reasons[ch.gate] = reasons.get(ch.gate, 0) + 1
            continue
        seen.add(key)
        passed.append((i, c))
    return passed


def _outcomes(passed: Sequence[tuple[int, SetupCandidate]], day: BarColumns,
              policy: OutcomePolicy) -> list[_Entry]:
    """The triggered setups of ``passed`` as trades, from the compiled lifecycle."""
    from spxcc_core.setups.batch import NONE_MS, track_day

    out = track_day(
        day, policy,
        detect_index=np.array([i for i, _ in passed], dtype=np.int64),
        long=np.array([c.direction == "long" for _, c in passed], dtype=np.bool_),
        entry=np.array([c.entry for _, c in passed], dtype=np.float64),
        stop=np.array([c.stop for _, c in passed], dtype=np.float64),
        t1=np.array([c.t1 for _, c in passed], dtype=np.float64),
        t2=np.array([c.t2 for _, c in passed], dtype=np.float64),
        deadline_ms=np.array([c.trigger_deadline_ms for _, c in passed], dtype=np.int64))
    session_id = day.day.session_id
    return [(trig, session_id, c, Trade(realized_r=None if math.isnan(r) else r,
                                        reached_t1=t1_ms != NONE_MS, entered_ms=trig))
            for (_, c), trig, t1_ms, r in zip(passed, out.triggered_ms.tolist(),
                                              out.t1_ms.tolist(), out.realized_r.tolist(),
                                              strict=True)
            if trig != NONE_MS]


def _in_entry_order(trades: list[_Entry]) -> tuple[Trade, ...]:
    """Trades by (trigger time, setup id) as :func:`session_trades` orders them; the ids
    (uuid5) are computed only for trades triggered at the same instant."""
    trades.sort(key=lambda t: t[0])
    out: list[Trade] = []
    i = 0
    while i < len(trades):
        j = i + 1
        while j < len(trades) and trades[j][0] == trades[i][0]:
            j += 1
        group = trades[i:j]
        if len(group) > 1:
            group.sort(key=lambda t: make_setup_id(t[1], t[2]))
        out.extend(t[3] for t in group)
        i = j
    return tuple(out)


def screen_with_runner(screener: Screener, profile: Profile, session: ScreenSession,
                       ) -> SessionTrades:
    """The trades ``profile`` makes on ``session``, by the detector runner (module
    docstring)."""
    runner = screener.runner(profile, screener.providers_for(profile, session))
    if session.chain is not None:
        runner.market.set_chain(session.chain, session.session_date)
    market = runner.market
    on_bar = runner.on_bar
    decisions: list[GateDecision] = []
    for index, bars in session.steps:
        for name, ts, value in index:
            market.add_index_values(name, ts, value)
        for bar in bars:
            for out in on_bar(bar):
                if isinstance(out, GateDecision):
                    decisions.append(out)
    runner.finish()
    return session_trades(session.session_date, runner.setups(), decisions)
