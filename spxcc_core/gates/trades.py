"""The one trade source of a gate run: what a replayed session traded under one profile.

:func:`trades_from_run` is the only place a gate run reads trades, from one of two sources:

- ``execution`` (the run executed, ``replay --execute`` / ``gates run --execute paper``): a
  trade is an entry that filled, its ``realized_r`` the round trip's P&L at the actual fill
  prices — so **after slippage** — over its planned risk, T1 reached when the partial exit was
  sent (:class:`spxcc_core.execute.engine.ExecutedTrade`);
- ``setups`` (a detection-only run): a trade is a *triggered setup* with the setup's own
  outcome on the underlying (``realized_r`` gross of costs, T1 reached or not).

An executed run also hands on its fills' slippage records (``slippage``), which the gate run
keeps per profile for the report's slippage distribution.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from spxcc_core.contracts.setup import GateDecision, SetupInstance
from spxcc_core.contracts.slippage import SlippageRecord
from spxcc_core.run.result import RunResult

__all__ = ["EXECUTION_SOURCE", "TRADE_SOURCE", "SessionTrades", "Trade", "block_reasons",
           "session_trades", "trades_from_run"]

#: Name of the detection-only trade source written into ``decision.json`` (``trade_source``).
TRADE_SOURCE = "setups"
#: Name of the executed trade source (R after slippage).
EXECUTION_SOURCE = "execution"


@attrs.frozen
class Trade:
    """One trade: ``realized_r`` (R multiple; None while not closed), ``reached_t1``, and when
    it was entered (``entered_ms``, epoch ms)."""

    realized_r: float | None
    reached_t1: bool
    entered_ms: int


@attrs.frozen
class SessionTrades:
    """A session's trades under one profile, in entry order, its failed gate checks by gate
    name (``block_reasons``), where the trades came from (``source``: ``setups`` or
    ``execution``) and, when executed, the slippage record of every measured fill in the
    run's order (``slippage``; empty for ``setups``)."""

    session_date: str
    trades: tuple[Trade, ...]
    block_reasons: dict[str, int]
    source: str = TRADE_SOURCE
    slippage: tuple[SlippageRecord, ...] = ()


def block_reasons(decisions: Iterable[GateDecision]) -> dict[str, int]:
    """Failed checks by gate name over the blocked decisions (names sorted)."""
    counts: dict[str, int] = {}
    for d in decisions:
        if d.passed:
            continue
        for c in d.checks:
            if not c.passed:
                counts[c.gate] = counts.get(c.gate, 0) + 1
    return dict(sorted(counts.items()))


def _trade(s: SetupInstance) -> Trade:
    assert s.triggered_ms is not None
    r = s.realized_r if s.closed_ms is not None else None
    return Trade(realized_r=r, reached_t1=s.t1_ms is not None, entered_ms=s.triggered_ms)


def trades_from_run(run: RunResult) -> SessionTrades:
    """The trades of one replayed session and the block-reason mix of its gate decisions: the
    executed round trips when the run executed (R after slippage; with the fills' slippage
    records), else its triggered setups by trigger time (then id), each with its realized R
    and whether it reached T1."""
    if run.execution is not None:
        executed = tuple(Trade(realized_r=t.realized_r, reached_t1=t.reached_t1,
                               entered_ms=t.entered_ms) for t in run.execution.trades)
        return SessionTrades(session_date=run.report.source.session_date, trades=executed,
                             block_reasons=block_reasons(run.decisions),
                             source=EXECUTION_SOURCE, slippage=tuple(run.execution.slippage))
    return session_trades(run.report.source.session_date, run.setups, run.decisions)


def session_trades(session_date: str, setups: Iterable[SetupInstance],
                   decisions: Iterable[GateDecision]) -> SessionTrades:
    """:func:`trades_from_run` of a session's final setups and gate decisions (the
    optimizer's screening pass reads them straight from a detector runner)."""
    triggered = sorted((s for s in setups if s.triggered_ms is not None),
                       key=lambda s: (s.triggered_ms, s.id))
    return SessionTrades(session_date=session_date,
                         trades=tuple(_trade(s) for s in triggered),
                         block_reasons=block_reasons(decisions))
