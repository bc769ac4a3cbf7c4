"""Wire contract of a release-gate run's ``decision.json`` (``release_decision@1``).

A gate run replays the same sessions under a candidate and a baseline profile and decides
whether the candidate may replace the baseline (``docs/release-gates.md``). The record holds
everything needed to audit that decision: both profiles' hashes, every KPI with its bootstrap
interval for both profiles and the paired delta, the rule's thresholds, the sessions, the seed
and the number of resamples, and the command that rolls a promotion back. Same inputs and seed
give the same bytes (no wall-clock time, no absolute path that the caller did not give).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from spxcc_core.contracts.base import Contract

__all__ = [
    "Decision",
    "DecisionReason",
    "Estimate",
    "EvidenceCheck",
    "GateProfileRef",
    "GateSession",
    "KpiComparison",
    "ProfileActivationRecord",
    "ProfileHistoryReport",
    "ReleaseDecision",
    "TargetCheck",
    "TargetStatus",
    "ThroughputCheck",
    "Verdict",
]

#: The outcome of a gate run.
Decision = Literal["promote", "reject", "insufficient_evidence"]
#: An absolute target against the candidate's interval.
TargetStatus = Literal["met", "missed", "uncertain"]
#: ``non_inferior``: the delta's whole interval is above −tolerance (in the KPI's good
#: direction); ``worse``: the whole interval is beyond −tolerance; ``inconclusive``: the
#: interval straddles −tolerance or is undefined; ``not_judged``: the KPI is guarded otherwise
#: (throughput).
Verdict = Literal["non_inferior", "inconclusive", "worse", "not_judged"]


class Estimate(Contract, frozen=True, kw_only=True):
    """A KPI value on the observed sessions and its bootstrap percentile interval (``low``,
    ``high``); null where undefined (no trade) or, for the interval, undefined in more than 5 %
    of the resamples."""

    value: float | None
    low: float | None
    high: float | None


class KpiComparison(Contract, frozen=True, kw_only=True):
    """One KPI for both profiles and the paired delta (candidate − baseline).

    ``kpi``: ``trades_per_session``, ``t1_hit_rate`` (0..1), ``expectancy_r`` (R per trade) or
    ``max_drawdown_r`` (R, >= 0); ``higher_is_better``: False for drawdown; ``tolerance``: the
    non-inferiority margin in the KPI's unit (null: not judged).
    """

    kpi: str
    unit: str
    higher_is_better: bool
    candidate: Estimate
    baseline: Estimate
    delta: Estimate
    tolerance: float | None
    verdict: Verdict


class TargetCheck(Contract, frozen=True, kw_only=True):
    """An absolute target (``T1 hit rate >= 0.64``, ``expectancy >= 0.50 R``) reported with
    the candidate's interval; not a blocker. ``status``: ``met`` (interval above the target),
    ``missed`` (below), ``uncertain`` (straddles it or undefined)."""

    kpi: str
    target: float
    candidate: Estimate
    status: TargetStatus


class ThroughputCheck(Contract, frozen=True, kw_only=True):
    """The throughput guardrail: candidate trades per session >= ``floor_fraction`` × the
    baseline's (point estimates); ``holds`` False blocks promotion."""

    candidate_per_session: float
    baseline_per_session: float
    floor_fraction: float
    holds: bool


class EvidenceCheck(Contract, frozen=True, kw_only=True):
    """Whether there is enough data for the intervals to mean something: each profile needs
    ``min_trades`` triggered setups and the run ``min_sessions`` sessions."""

    candidate_trades: int
    baseline_trades: int
    sessions: int
    min_trades: int
    min_sessions: int
    enough: bool


class DecisionReason(Contract, frozen=True, kw_only=True):
    """One reason for the decision: a stable ``code`` (``evidence``, ``throughput``,
    ``kpi_worse``, ``kpi_inconclusive``, ``all_non_inferior``) and a one-line message."""

    code: str
    message: str


class GateProfileRef(Contract, frozen=True, kw_only=True):
    """A profile of the run: ``id`` (its hash, the id the profile store knows it by), its
    ``name`` and ``version`` and ``source`` (the argument the user gave)."""

    id: str
    name: str
    version: int
    source: str


class GateSession(Contract, frozen=True, kw_only=True):
    """One replayed session: its date, the path as given, and each profile's triggered
    setups (trades) on it."""

    session_date: str
    source: str
    candidate_trades: int
    baseline_trades: int


class ReleaseDecision(Contract, frozen=True, kw_only=True):
    """``decision.json`` of ``spxcc gates run`` (``release_decision@1``).

    ``decision``: ``promote``, ``reject`` (the evidence says the candidate is worse, or the
    throughput guardrail fails) or ``insufficient_evidence`` (too few trades or sessions, or an
    interval that cannot rule out a loss beyond the tolerance) — fail-closed: only
    ``promote`` lets ``spxcc profile promote`` proceed without ``--force``. ``trade_source``
    names where the trades came from (``setups``: the setups' own outcomes). ``block_reasons``:
    failed gate checks by gate name, per profile (``candidate``/``baseline``), summed over the
    sessions. ``rollback_command``: the exact command that makes the baseline active again
    after the candidate has been promoted.
    """

    contract_name: ClassVar[str] = "release_decision"
    contract_version: ClassVar[int] = 1

    decision: Decision
    reasons: list[DecisionReason]
    candidate: GateProfileRef
    baseline: GateProfileRef
    kpis: list[KpiComparison]
    targets: list[TargetCheck]
    throughput: ThroughputCheck
    evidence: EvidenceCheck
    block_reasons: dict[str, dict[str, int]]
    sessions: list[GateSession]
    seed: int
    resamples: int
    confidence: float
    trade_source: str
    code_version: str
    rollback_command: str


class ProfileActivationRecord(Contract, frozen=True, kw_only=True):
    """One change of the active profile, as ``spxcc profile history --json`` prints it:
    ``seq`` (1, 2, ...), ``profileId`` and its ``name``, ``activatedMs`` (epoch ms),
    ``action`` (``promote`` or ``revert``), ``forced`` (promoted without a ``promote``
    decision), ``decisionId`` (None when forced or reverted) and the one-line ``reason``."""

    contract_name: ClassVar[str] = "profile_activation"
    contract_version: ClassVar[int] = 1

    seq: int
    profile_id: str
    name: str | None
    activated_ms: int
    action: str
    forced: bool
    decision_id: str | None
    reason: str


class ProfileHistoryReport(Contract, frozen=True, kw_only=True):
    """``spxcc profile history --json``: the ``active`` profile id (None: no profile was ever
    promoted, the built-in default is active) and every activation, oldest first."""

    contract_name: ClassVar[str] = "profile_history"
    contract_version: ClassVar[int] = 1

    active: str | None
    activations: tuple[ProfileActivationRecord, ...] = ()
