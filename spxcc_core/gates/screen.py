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
"""

from __future__ import annotations

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

    def runner(self, profile: Profile) -> DetectorRunner:
        """A fresh runner for ``profile`` (its ``ev_floor`` gate, if any, starts from its
        prior: a replay's in-memory store holds no fills).

        :raises ConfigError: the profile does not fit the installed detectors.
        """
        ev = profile.ev_floor
        slippage = None if ev is None else RollingSlippage.of([], ev.rolling_config())
        return DetectorRunner(list(self.detectors), profile, providers=list(self.providers),
                              slippage=slippage)


def screen(screener: Screener, profile: Profile, session: ScreenSession) -> SessionTrades:
    """The trades ``profile`` makes on ``session`` (module docstring)."""
    runner = screener.runner(profile)
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
