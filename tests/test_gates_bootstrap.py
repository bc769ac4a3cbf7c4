"""Session bootstrap of the gate KPIs: hand-worked sums, drawdown composition, paired deltas,
seeding, and coverage on a known distribution."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spxcc_core.gates.bootstrap import (
    KPIS,
    bootstrap,
    kpi_point,
    resample_indices,
    session_inputs,
)

# three sessions of (realized R, reached T1); None = triggered, never closed
DAYS = [
    [(1.5, True), (-1.0, False), (-1.0, False)],  # run 0, 1.5, 0.5, -0.5
    [],
    [(2.0, True), (None, True)],                   # run 0, 2.0
]


def test_per_session_sums_by_hand() -> None:
    x = session_inputs(DAYS)
    assert x.triggered.tolist() == [3, 0, 2]
    assert x.t1_hits.tolist() == [1, 0, 2]
    assert x.closed.tolist() == [3, 0, 1]
    assert x.sum_r.tolist() == [-0.5, 0.0, 2.0]
    assert x.min_run_r.tolist() == [-0.5, 0.0, 0.0]
    assert x.max_run_r.tolist() == [1.5, 0.0, 2.0]
    # day 1: peak 1.5 then down to -0.5 = 2.0 R
    assert x.drawdown_r.tolist() == [2.0, 0.0, 0.0]


def test_point_kpis_by_hand() -> None:
    p = kpi_point(session_inputs(DAYS))
    assert p["trades_per_session"] == pytest.approx(5 / 3)  # 5 triggered over 3 sessions
    assert p["t1_hit_rate"] == pytest.approx(3 / 5)         # 3 of 5 reached T1
    assert p["expectancy_r"] == pytest.approx(1.5 / 4)      # (1.5-1-1+2) / 4 closed
    # curve 0, 1.5, 0.5, -0.5 | (empty) | 1.5: worst fall 1.5 -> -0.5 = 2.0
    assert p["max_drawdown_r"] == pytest.approx(2.0)


def test_drawdown_spans_sessions() -> None:
    # the fall starts in one session and ends in a later one: no single day has more than
    # 3 R of drawdown (B: 0 -> -3 from its own start), the sequence A, C, B has 5
    a = [(1.0, True)]
    b = [(-1.0, False), (-1.0, False), (-1.0, False)]
    c = [(0.5, False), (-2.0, False)]
    x = session_inputs([a, c, b])
    # curve: 0, 1, 1.5, -0.5, -1.5, -2.5, -3.5 -> peak 1.5, trough -3.5: 5.0 R
    assert kpi_point(x)["max_drawdown_r"] == pytest.approx(5.0)


def test_undefined_kpis_without_trades() -> None:
    p = kpi_point(session_inputs([[], []]))
    assert p["trades_per_session"] == 0.0
    assert p["t1_hit_rate"] is None and p["expectancy_r"] is None
    assert p["max_drawdown_r"] == 0.0
    r = bootstrap(session_inputs([[], []]), session_inputs([[], []]), resamples=50, seed=1)
    assert r.candidate["t1_hit_rate"].low is None
    assert r.delta["expectancy_r"].value is None


_trade = st.tuples(st.one_of(st.none(), st.floats(-3, 3, allow_nan=False)), st.booleans())
_days = st.lists(st.lists(_trade, max_size=6), min_size=1, max_size=6)


def _brute_drawdown(days: list[list[tuple[float | None, bool]]], order: list[int]) -> float:
    run, peak, worst = 0.0, 0.0, 0.0
    for i in order:
        for r, _ in days[i]:
            if r is None:
                continue
            run += r
            peak = max(peak, run)
            worst = max(worst, peak - run)
    return worst


@given(_days, st.integers(0, 2**32 - 1))
def test_vectorised_kpis_equal_a_loop_over_the_drawn_sessions(days: list[list[tuple[float | None, bool]]],
                                                              seed: int) -> None:
    x = session_inputs(days)
    idx = resample_indices(len(days), 8, seed)
    from spxcc_core.gates.bootstrap import _kpis

    got = _kpis(x, idx)
    for row, order in enumerate(idx.tolist()):
        trades = [t for i in order for t in days[i]]
        closed = [r for r, _ in trades if r is not None]
        assert got["trades_per_session"][row] == pytest.approx(len(trades) / len(order))
        assert got["max_drawdown_r"][row] == pytest.approx(_brute_drawdown(days, order),
                                                           abs=1e-9)
        if closed:
            assert got["expectancy_r"][row] == pytest.approx(sum(closed) / len(closed))
        else:
            assert np.isnan(got["expectancy_r"][row])


@given(_days, st.integers(0, 2**32 - 1))
def test_a_candidate_identical_to_the_baseline_has_zero_deltas(
        days: list[list[tuple[float | None, bool]]], seed: int) -> None:
    x = session_inputs(days)
    r = bootstrap(x, session_inputs(days), resamples=64, seed=seed)
    for k in KPIS:
        d = r.delta[k]
        if d.value is not None:
            assert d.value == 0.0
        if d.low is not None:
            assert d.low == 0.0 and d.high == 0.0


def test_same_seed_same_intervals_other_seed_other_draws() -> None:
    rng = np.random.default_rng(7)
    days = [[(float(r), bool(r > 0)) for r in rng.normal(0.3, 1.0, 6)] for _ in range(12)]
    x = session_inputs(days)
    a = bootstrap(x, x, resamples=300, seed=5)
    assert a == bootstrap(x, x, resamples=300, seed=5)
    assert a.candidate["expectancy_r"] != bootstrap(x, x, resamples=300, seed=6).candidate[
        "expectancy_r"]
    assert (resample_indices(12, 300, 5) == resample_indices(12, 300, 5)).all()


def test_paired_deltas_see_a_constant_shift_exactly() -> None:
    # the candidate wins exactly 0.25 R more on every trade of every day: paired resampling
    # gives a delta interval of exactly [0.25, 0.25], whatever the day-to-day noise
    rng = np.random.default_rng(3)
    base = [[(float(r), False) for r in rng.normal(0.0, 2.0, 5)] for _ in range(15)]
    cand = [[(r + 0.25, hit) for r, hit in day] for day in base]
    out = bootstrap(session_inputs(cand), session_inputs(base), resamples=500, seed=0)
    d = out.delta["expectancy_r"]
    assert d.value == pytest.approx(0.25)
    assert d.low == pytest.approx(0.25) and d.high == pytest.approx(0.25)
    # while each profile's own interval is wide (the noise is 2 R per trade)
    c = out.candidate["expectancy_r"]
    assert c.high - c.low > 0.5


def test_coverage_on_a_known_distribution() -> None:
    # 20 sessions of 8 trades, R ~ N(0.4, 1): the 90 % interval of the expectancy should
    # cover 0.4 in about 90 % of independent replications (percentile bootstrap is slightly
    # narrow with 20 clusters; 300 replications, binomial sd 1.7 %: accept 85..95 %)
    rng = np.random.default_rng(2026)
    covered = 0
    reps = 300
    for rep in range(reps):
        days = [[(float(r), False) for r in rng.normal(0.4, 1.0, 8)] for _ in range(20)]
        x = session_inputs(days)
        i = bootstrap(x, x, resamples=400, seed=rep, confidence=0.90).candidate["expectancy_r"]
        assert i.low is not None and i.high is not None
        covered += i.low <= 0.4 <= i.high
    assert 0.85 * reps <= covered <= 0.95 * reps


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"resamples": 0, "seed": 0}, "resamples must be >= 1"),
    ({"resamples": 10, "seed": 0, "confidence": 1.0}, "confidence must be in"),
])
def test_bad_arguments(kwargs: dict[str, float], message: str) -> None:
    x = session_inputs(DAYS)
    with pytest.raises(ValueError, match=message):
        bootstrap(x, x, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="candidate has 3 sessions, baseline 1"):
        bootstrap(x, session_inputs(DAYS[:1]), resamples=10, seed=0)
