"""The promotion rule on hand-made intervals: evidence, throughput, sign-aware
non-inferiority, targets, fail-closed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spxcc_core.gates.bootstrap import KPIS, BootstrapResult, Interval, Kpi
from spxcc_core.gates.rules import GateRules, judge

RULES = GateRules(min_trades=30, min_sessions=5, throughput_floor=0.5)


def _result(delta: dict[Kpi, tuple[float, float, float]] | None = None,
            cand_tps: float = 4.0, base_tps: float = 4.0,
            cand: dict[Kpi, Interval] | None = None) -> BootstrapResult:
    """Both profiles with the same made-up values, except the given deltas."""
    same: dict[Kpi, Interval] = {"trades_per_session": Interval(4.0, 3.0, 5.0),
                                 "t1_hit_rate": Interval(0.6, 0.5, 0.7),
                                 "expectancy_r": Interval(0.3, 0.1, 0.5),
                                 "max_drawdown_r": Interval(5.0, 3.0, 8.0)}
    c = dict(same, **(cand or {}))
    c["trades_per_session"] = Interval(cand_tps, cand_tps - 1, cand_tps + 1)
    b = dict(same, trades_per_session=Interval(base_tps, base_tps - 1, base_tps + 1))
    d = {k: Interval(0.0, 0.0, 0.0) for k in KPIS}
    for k, (v, lo, hi) in (delta or {}).items():
        d[k] = Interval(v, lo, hi)
    return BootstrapResult(candidate=c, baseline=b, delta=d)


def _judge(r: BootstrapResult, trades: int = 100, sessions: int = 10) -> tuple[str, set[str]]:
    j = judge(r, candidate_trades=trades, baseline_trades=trades, sessions=sessions,
              rules=RULES)
    return j.decision, {x.code for x in j.reasons}


def test_zero_deltas_promote() -> None:
    assert _judge(_result()) == ("promote", {"all_non_inferior"})


@pytest.mark.parametrize(("trades", "sessions"), [(29, 10), (30, 4), (0, 0)])
def test_too_little_data_is_insufficient_whatever_the_deltas(trades: int, sessions: int) -> None:
    decision, codes = _judge(_result(), trades=trades, sessions=sessions)
    assert decision == "insufficient_evidence" and "evidence" in codes
    # a clearly better candidate with too little data still does not pass (fail-closed)
    better = _result({"expectancy_r": (0.5, 0.4, 0.6)})
    assert _judge(better, trades=trades, sessions=sessions)[0] == "insufficient_evidence"


def test_throughput_collapse_rejects() -> None:
    # 1.9 < 0.5 x 4.0 = 2.0: the hit-rate "improvement" of trading half as often is refused
    r = _result({"t1_hit_rate": (0.2, 0.15, 0.25)}, cand_tps=1.9, base_tps=4.0)
    assert _judge(r) == ("reject", {"throughput"})
    assert _judge(_result(cand_tps=2.0, base_tps=4.0))[0] == "promote"  # exactly the floor


def test_expectancy_worse_beyond_tolerance_rejects() -> None:
    # tolerance 0.10 R: delta interval [-0.30, -0.12] lies wholly below -0.10
    decision, codes = _judge(_result({"expectancy_r": (-0.2, -0.30, -0.12)}))
    assert (decision, codes) == ("reject", {"kpi_worse"})


def test_an_interval_straddling_the_tolerance_is_insufficient_not_promote() -> None:
    # [-0.15, +0.20]: the upper bound is not below -0.10, but a 0.15 R loss is not ruled out
    decision, codes = _judge(_result({"expectancy_r": (0.02, -0.15, 0.20)}))
    assert (decision, codes) == ("insufficient_evidence", {"kpi_inconclusive"})


def test_a_loss_inside_the_tolerance_promotes() -> None:
    # T1 tolerance 0.05: [-0.04, +0.01] stays above -0.05
    assert _judge(_result({"t1_hit_rate": (-0.015, -0.04, 0.01)}))[0] == "promote"


def test_drawdown_is_sign_aware() -> None:
    # tolerance 2 R; for drawdown a *positive* delta is worse
    assert _judge(_result({"max_drawdown_r": (3.0, 2.5, 4.0)}))[0] == "reject"   # 2.5 > 2
    assert _judge(_result({"max_drawdown_r": (1.0, -1.0, 3.0)}))[0] == "insufficient_evidence"
    assert _judge(_result({"max_drawdown_r": (-3.0, -4.0, -2.5)}))[0] == "promote"  # shallower


def test_an_undefined_delta_interval_never_promotes() -> None:
    r = _result()
    r.delta["t1_hit_rate"] = Interval(None, None, None)
    assert _judge(r) == ("insufficient_evidence", {"kpi_inconclusive"})


def test_worse_wins_over_inconclusive_and_every_reason_is_listed() -> None:
    r = _result({"expectancy_r": (-0.2, -0.30, -0.12), "t1_hit_rate": (0.0, -0.1, 0.1)},
                cand_tps=1.0)
    decision, codes = _judge(r)
    assert decision == "reject"
    assert codes == {"throughput", "kpi_worse", "kpi_inconclusive"}


def test_targets_are_reported_not_blocking() -> None:
    r = _result(cand={"t1_hit_rate": Interval(0.5, 0.45, 0.55),     # wholly below 0.64
                      "expectancy_r": Interval(0.6, 0.45, 0.75)})  # straddles 0.50
    j = judge(r, candidate_trades=100, baseline_trades=100, sessions=10, rules=RULES)
    assert j.decision == "promote"
    assert {t.kpi: t.status for t in j.targets} == {"t1_hit_rate": "missed",
                                                    "expectancy_r": "uncertain"}
    r2 = _result(cand={"t1_hit_rate": Interval(0.7, 0.65, 0.75)})
    j2 = judge(r2, candidate_trades=100, baseline_trades=100, sessions=10, rules=RULES)
    assert j2.targets[0].status == "met"


def test_rule_thresholds_are_validated() -> None:
    with pytest.raises(ValueError):
        GateRules(throughput_floor=1.5)
    with pytest.raises(ValueError):
        GateRules(min_trades=0)


_bound = st.floats(-1.0, 1.0, allow_nan=False)


@given(st.tuples(_bound, _bound), st.tuples(_bound, _bound), st.floats(0.0, 1.0))
def test_a_better_candidate_never_gets_a_worse_decision(t1: tuple[float, float],
                                                        exp: tuple[float, float],
                                                        shift: float) -> None:
    # moving every delta interval towards "better" can only move the decision from reject
    # to insufficient_evidence to promote, never back
    rank = {"reject": 0, "insufficient_evidence": 1, "promote": 2}

    def decide(s: float) -> str:
        lo1, hi1 = sorted(t1)
        lo2, hi2 = sorted(exp)
        r = _result({"t1_hit_rate": (lo1 + s, lo1 + s, hi1 + s),
                     "expectancy_r": (lo2 + s, lo2 + s, hi2 + s)})
        return _judge(r)[0]

    assert rank[decide(shift)] >= rank[decide(0.0)]
