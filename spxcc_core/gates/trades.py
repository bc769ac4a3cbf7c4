"""The one trade source of a gate run: what a replayed session traded under one profile.

:func:`trades_from_run` is the only place a gate run reads trades. Today a trade is a
*triggered setup* with the setup's own outcome (``realized_r`` gross of costs, T1 reached or
not; ``source = "setups"``). When the execution loop supplies R after slippage, this function
reads its fills instead and names the new source — nothing else in the gates changes.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from spxcc_core.contracts.setup import GateDecision, SetupInstance
from spxcc_core.run.result import RunResult

__all__ = ["TRADE_SOURCE", "SessionTrades", "Trade", "block_reasons", "session_trades",
           "trades_from_run"]

#: Name of the trade source written into ``decision.json`` (``trade_source``).
TRADE_SOURCE = "setups"


@attrs.frozen
class Trade:
    """One trade: ``realized_r`` (R multiple; None while not closed), ``reached_t1``, and when
    it was entered (``entered_ms``, epoch ms)."""

    realized_r: float | None
    reached_t1: bool
    entered_ms: int


@attrs.frozen
class SessionTrades:
    """A session's trades under one profile, in entry order, and its failed gate checks by
    gate name (``block_reasons``)."""

    session_date: str
    trades: tuple[Trade, ...]
    block_reasons: dict[str, int]


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
    """The trades of one replayed session: its triggered setups by trigger time (then id),
    each with its realized R and whether it reached T1, and the block-reason mix of its gate
    decisions."""
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
