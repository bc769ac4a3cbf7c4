"""The optimizer's screening pass: a profile's trades on a session, from its recorded bars.

:func:`screen` runs the real :class:`~spxcc_core.detect.runner.DetectorRunner` (detectors,
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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import pluggy

from spxcc_core.contracts.bartape import BarTapeV1
from spxcc_core.contracts.microbar import MicrobarV2
from spxcc_core.contracts.setup import GateDecision
from spxcc_core.detect.base import ContextProvider, Detector
from spxcc_core.detect.profile import Profile
from spxcc_core.detect.runner import CONTEXT_PROVIDERS, DETECTORS, DetectorRunner
from spxcc_core.gates.trades import SessionTrades, session_trades
from spxcc_core.registry import PluginRegistry, as_registry
from spxcc_core.slippage.rolling import RollingSlippage

__all__ = ["ScreenSession", "Screener", "screen"]

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
    """The trades ``profile`` makes on ``session`` (module docstring)."""
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
