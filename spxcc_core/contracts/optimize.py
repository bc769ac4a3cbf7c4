"""Wire contract of an optimizer run's ``optimize.json`` (``optimize_run@1``).

The optimizer (``spxcc optimize``, ``docs/release-gates.md``) draws candidate profiles from a
search space, scores each on the earlier sessions (fit), hands the best one to the release
gate on the later sessions (judge) and never promotes by itself. The record says what it
tried, what it chose and why — or why it stopped. Same inputs and seed give the same bytes.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from spxcc_core.contracts.base import Contract
from spxcc_core.contracts.gates import Decision, GateProfileRef

__all__ = ["OptimizeRunV1", "OptimizeSession", "OptimizeStatus", "OptimizeTrial"]

#: ``gated``: the best candidate went to the release gate (see ``decision``);
#: ``insufficient_data``: too few sessions to fit and judge; ``throughput_collapse``: every
#: candidate traded below the throughput floor on the fit sessions; ``no_improvement``: no
#: candidate beat the baseline's total R on the fit sessions.
OptimizeStatus = Literal["gated", "insufficient_data", "throughput_collapse", "no_improvement"]


class OptimizeSession(Contract, frozen=True, kw_only=True):
    """A session of the run: its New York date and the path as given."""

    session_date: str
    source: str


class OptimizeTrial(Contract, frozen=True, kw_only=True):
    """One profile scored on the fit sessions.

    ``trial``: 0 for the baseline, 1.. for candidates in draw order; ``params``: the drawn
    values by dotted name (empty for the baseline); ``trades``: triggered setups;
    ``trades_per_session``; ``total_r``: the sum of R over closed trades;
    ``expectancy_r``: mean R per closed trade (None without one); ``eligible``: passed the
    throughput floor; ``reason``: why not (None when eligible).
    """

    trial: int
    profile_id: str
    params: dict[str, float | int | bool | str]
    trades: int
    trades_per_session: float
    total_r: float
    expectancy_r: float | None
    eligible: bool
    reason: str | None


class OptimizeRunV1(Contract, frozen=True, kw_only=True):
    """``optimize.json``: the optimizer's record.

    ``status`` and ``reasons`` say what happened; ``decision`` is the release gate's
    decision on the judge sessions (None when the gate did not run; ``decision.json`` beside
    this file holds the full record); ``baseline``/``candidate`` the profiles (candidate None
    without one); ``method``, ``trials`` (requested), ``seed``, ``fit_fraction``, the fit and
    judge sessions, ``throughput_floor``; ``results`` every scored profile (baseline first);
    ``best`` the trial handed to the gate; ``promote_command`` the command a person runs to
    promote the candidate — only when the gate said ``promote``: the optimizer never promotes.
    """

    contract_name: ClassVar[str] = "optimize_run"
    contract_version: ClassVar[int] = 1

    status: OptimizeStatus
    reasons: list[str]
    decision: Decision | None
    baseline: GateProfileRef
    candidate: GateProfileRef | None
    method: Literal["random", "grid"]
    trials: int
    seed: int
    fit_fraction: float
    fit_sessions: list[OptimizeSession]
    judge_sessions: list[OptimizeSession]
    throughput_floor: float
    results: list[OptimizeTrial]
    best: int | None
    promote_command: str | None
    code_version: str
