"""The promotion rule (G5): confidence-aware, non-inferiority on deltas, fail-closed.

Order of the checks (the first that fails decides; every reason found is recorded):

1. **Evidence** — each profile has at least ``min_trades`` trades and the run at least
   ``min_sessions`` sessions; otherwise ``insufficient_evidence``.
2. **Throughput guardrail** — candidate trades per session >= ``throughput_floor`` × the
   baseline's; otherwise ``reject`` (the failure of an optimizer that "improves" hit rate by
   hardly trading).
3. **Non-inferiority** of each judged KPI's paired delta (candidate − baseline), sign-aware
   (for drawdown lower is better, so the delta is turned round first): its interval's
   *upper* bound below ``−tolerance`` means the evidence says worse → ``reject``; its *lower*
   bound below ``−tolerance`` (or no interval) means a loss beyond the tolerance cannot be
   ruled out → ``insufficient_evidence``. Only when every judged delta's whole interval lies
   above ``−tolerance`` is the candidate promoted. This is stricter than "no upper bound below
   −tolerance" on purpose: a wide interval is not evidence of non-inferiority.

Absolute targets (T1 hit rate >= 0.64, expectancy >= 0.50 R) are reported with the
candidate's interval and never block.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from spxcc_core.contracts.gates import (
    Decision,
    DecisionReason,
    Estimate,
    EvidenceCheck,
    KpiComparison,
    TargetCheck,
    TargetStatus,
    ThroughputCheck,
    Verdict,
)
from spxcc_core.gates.bootstrap import KPIS, BootstrapResult, Interval, Kpi

__all__ = ["DEFAULT_TARGETS", "DEFAULT_TOLERANCES", "GateRules", "Judgement", "judge"]

#: Non-inferiority margins per KPI, in the KPI's unit (None: not judged by a margin).
DEFAULT_TOLERANCES: Mapping[Kpi, float | None] = {
    "trades_per_session": None,  # guarded by the throughput floor
    "t1_hit_rate": 0.05,         # 5 percentage points
    "expectancy_r": 0.10,        # 0.10 R per trade
    "max_drawdown_r": 2.0,       # 2 R deeper drawdown
}
#: Absolute targets (reported, not blockers).
DEFAULT_TARGETS: Mapping[Kpi, float] = {"t1_hit_rate": 0.64, "expectancy_r": 0.50}

_UNITS: Mapping[Kpi, str] = {"trades_per_session": "trades", "t1_hit_rate": "fraction",
                             "expectancy_r": "R", "max_drawdown_r": "R"}
_HIGHER_IS_BETTER: Mapping[Kpi, bool] = {"trades_per_session": True, "t1_hit_rate": True,
                                         "expectancy_r": True, "max_drawdown_r": False}


def _tolerances() -> dict[Kpi, float | None]:
    return dict(DEFAULT_TOLERANCES)


def _targets() -> dict[Kpi, float]:
    return dict(DEFAULT_TARGETS)


@attrs.frozen(kw_only=True)
class GateRules:
    """Thresholds of the promotion rule.

    ``min_trades``: trades each profile needs (>= 1); ``min_sessions`` (>= 1);
    ``throughput_floor``: candidate/baseline trades-per-session floor, in [0, 1];
    ``tolerances``: non-inferiority margin per KPI (>= 0; None: not judged);
    ``targets``: absolute targets reported with their intervals.
    """

    min_trades: int = attrs.field(default=30, validator=attrs.validators.ge(1))
    min_sessions: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    throughput_floor: float = attrs.field(
        default=0.5, validator=[attrs.validators.ge(0.0), attrs.validators.le(1.0)])
    tolerances: Mapping[Kpi, float | None] = attrs.field(factory=_tolerances)
    targets: Mapping[Kpi, float] = attrs.field(factory=_targets)


@attrs.frozen
class Judgement:
    """The rule's outcome: ``decision``, its ``reasons`` and the checks behind it."""

    decision: Decision
    reasons: list[DecisionReason]
    kpis: list[KpiComparison]
    targets: list[TargetCheck]
    throughput: ThroughputCheck
    evidence: EvidenceCheck


def _estimate(i: Interval) -> Estimate:
    return Estimate(value=i.value, low=i.low, high=i.high)


def _verdict(delta: Interval, tolerance: float | None, higher_is_better: bool) -> Verdict:
    if tolerance is None:
        return "not_judged"
    if delta.low is None or delta.high is None:
        return "inconclusive"
    # the gain interval: candidate better → positive, whatever the KPI's direction
    lo, hi = (delta.low, delta.high) if higher_is_better else (-delta.high, -delta.low)
    if hi < -tolerance:
        return "worse"
    if lo < -tolerance:
        return "inconclusive"
    return "non_inferior"


def _target(kpi: Kpi, target: float, i: Interval) -> TargetCheck:
    status: TargetStatus
    if i.low is not None and i.low >= target:
        status = "met"
    elif i.high is not None and i.high < target:
        status = "missed"
    else:
        status = "uncertain"
    return TargetCheck(kpi=kpi, target=target, candidate=_estimate(i), status=status)


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:+.4g}"


def judge(boot: BootstrapResult, *, candidate_trades: int, baseline_trades: int,
          sessions: int, rules: GateRules) -> Judgement:
    """Apply the promotion rule to a bootstrap result (see the module docstring)."""
    kpis: list[KpiComparison] = []
    for k in KPIS:
        tol = rules.tolerances.get(k)
        kpis.append(KpiComparison(
            kpi=k, unit=_UNITS[k], higher_is_better=_HIGHER_IS_BETTER[k],
            candidate=_estimate(boot.candidate[k]), baseline=_estimate(boot.baseline[k]),
            delta=_estimate(boot.delta[k]), tolerance=tol,
            verdict=_verdict(boot.delta[k], tol, _HIGHER_IS_BETTER[k])))
    targets = [_target(k, t, boot.candidate[k]) for k, t in rules.targets.items()]
    enough = (candidate_trades >= rules.min_trades and baseline_trades >= rules.min_trades
              and sessions >= rules.min_sessions)
    evidence = EvidenceCheck(candidate_trades=candidate_trades, baseline_trades=baseline_trades,
                             sessions=sessions, min_trades=rules.min_trades,
                             min_sessions=rules.min_sessions, enough=enough)
    c_tps = boot.candidate["trades_per_session"].value or 0.0
    b_tps = boot.baseline["trades_per_session"].value or 0.0
    throughput = ThroughputCheck(candidate_per_session=c_tps, baseline_per_session=b_tps,
                                 floor_fraction=rules.throughput_floor,
                                 holds=c_tps >= rules.throughput_floor * b_tps)
    reasons: list[DecisionReason] = []
    if not enough:
        reasons.append(DecisionReason(code="evidence", message=(
            f"too little data: candidate {candidate_trades} trades, baseline {baseline_trades} "
            f"trades over {sessions} sessions (need {rules.min_trades} trades each and "
            f"{rules.min_sessions} sessions)")))
    if not throughput.holds:
        reasons.append(DecisionReason(code="throughput", message=(
            f"throughput collapse: candidate {c_tps:.3g} trades/session < "
            f"{rules.throughput_floor:g} x baseline {b_tps:.3g}")))
    for c in kpis:
        if c.verdict in ("worse", "inconclusive"):
            what = ("worse than the baseline beyond" if c.verdict == "worse"
                    else "cannot rule out a loss beyond")
            reasons.append(DecisionReason(code=f"kpi_{c.verdict}", message=(
                f"{c.kpi}: delta {_fmt(c.delta.value)} [{_fmt(c.delta.low)}, "
                f"{_fmt(c.delta.high)}] {what} the tolerance {c.tolerance:g} {c.unit}")))
    codes = {r.code for r in reasons}
    decision: Decision
    if "evidence" in codes:
        decision = "insufficient_evidence"
    elif codes & {"throughput", "kpi_worse"}:
        decision = "reject"
    elif "kpi_inconclusive" in codes:
        decision = "insufficient_evidence"
    else:
        decision = "promote"
        reasons.append(DecisionReason(code="all_non_inferior", message=(
            "every judged KPI delta is above -tolerance, throughput holds, evidence suffices")))
    return Judgement(decision=decision, reasons=reasons, kpis=kpis, targets=targets,
                     throughput=throughput, evidence=evidence)
