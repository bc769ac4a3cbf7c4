"""Rolling slippage statistics: hand-worked EWMA and quantiles, the minimum-sample fallback,
paper and broker apart, and hypothesis properties of the bounded window."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prices import px

from spxcc_core.contracts.slippage import SlippageRecord
from spxcc_core.slippage.rolling import BucketKey, RollingConfig, RollingSlippage, RollingStat


def rec(dollars: float, *, detector: str | None = "orb", time_bucket: str = "open",
        regime: str = "tight", source: str = "broker", n: int = 0) -> SlippageRecord:
    return SlippageRecord(
        fill_id=f"f{n}", intent_id=f"i{n}", setup_id=None, detector=detector,
        symbol="SPXW261125C05900000", side="buy_to_open", quantity=1.0, fill_price=1.0,
        arrival_bid=1.0, arrival_ask=1.0, arrival_mid=1.0, arrival_spread=0.0, tick_size=0.05,
        slippage_dollars=dollars, slippage_ticks=dollars / 5.0, slippage_bps=None,
        slippage_spread_fraction=None, time_bucket=time_bucket,  # type: ignore[arg-type]
        spread_regime=regime, moneyness=None, otm_points=None,  # type: ignore[arg-type]
        dte=0, source=source, at_ms=n)  # type: ignore[arg-type]


def test_ewma_with_a_one_fill_half_life() -> None:
    # halflife 1 fill: α = 1 − 0.5^(1/1) = 0.5
    stat = RollingStat(window=10, alpha=RollingConfig(halflife_fills=1.0).alpha)
    stat.update(10.0)
    assert stat.ewma == px(10.0)      # first value
    stat.update(0.0)
    assert stat.ewma == px(5.0)       # 10 + 0.5 × (0 − 10)
    stat.update(4.0)
    assert stat.ewma == px(4.5)       # 5 + 0.5 × (4 − 5)


def test_alpha_of_a_twenty_fill_half_life() -> None:
    # 1 − 0.5^(1/20) = 1 − 0.965936329 = 0.034063671
    assert RollingConfig(halflife_fills=20.0).alpha == px(0.034063671)


def test_windowed_quantiles_by_hand() -> None:
    stat = RollingStat(window=4, alpha=0.5)
    for x in (9.0, 1.0, 5.0, 3.0, 7.0):   # window keeps the last 4: 1, 5, 3, 7
        stat.update(x)
    assert stat.recent() == (1.0, 5.0, 3.0, 7.0)
    assert stat.count == 5 and stat.window_count == 4
    # sorted 1, 3, 5, 7; p50 at position (4 − 1) × 0.5 = 1.5 → 3 + 0.5 × (5 − 3) = 4
    assert stat.quantile(0.5) == px(4.0)
    # p90 at position 3 × 0.9 = 2.7 → 5 + 0.7 × (7 − 5) = 6.4
    assert stat.quantile(0.9) == px(6.4)
    assert RollingStat(window=4, alpha=0.5).quantile(0.5) is None


def test_a_short_bucket_falls_back_to_the_coarser_one_and_says_so() -> None:
    rolling = RollingSlippage(RollingConfig(min_samples=3, halflife_fills=1.0))
    # two fills in orb × open × tight, one in orb × open × wide, one in orb × midday × tight
    for n, (d, tb, regime) in enumerate([(2.0, "open", "tight"), (4.0, "open", "tight"),
                                         (10.0, "open", "wide"), (6.0, "midday", "tight")]):
        rolling.update(rec(d, time_bucket=tb, regime=regime, n=n))
    est = rolling.estimate("broker", "orb", "open", "tight")
    # orb × open × tight has 2 < 3 fills → orb × open has 3 (2, 4, 10)
    assert est.bucket == BucketKey("broker", "detector_time", "orb", "open")
    assert (est.count, est.sufficient) == (3, True)
    assert est.ewma == px(6.5)          # α = 0.5: 2 → 2 + 0.5·(4 − 2) = 3 → 3 + 0.5·(10 − 3)
    assert est.p50 == px(4.0)           # sorted 2, 4, 10: position 2 × 0.5 = 1 → 4
    assert est.p90 == px(8.8)           # position 2 × 0.9 = 1.8 → 4 + 0.8 × (10 − 4)


def test_no_level_with_enough_fills_is_not_sufficient() -> None:
    rolling = RollingSlippage(RollingConfig(min_samples=5))
    rolling.update(rec(3.0))
    est = rolling.estimate("broker", "orb", "open", "tight")
    assert est.bucket.level == "all" and est.count == 1 and not est.sufficient
    empty = rolling.estimate("paper", "orb", "open", None)
    assert (empty.count, empty.ewma, empty.p50, empty.sufficient) == (0, None, None, False)


def test_paper_and_broker_fills_are_kept_apart() -> None:
    rolling = RollingSlippage(RollingConfig(min_samples=1))
    rolling.update(rec(5.0, source="paper", n=1))
    rolling.update(rec(15.0, source="broker", n=2))
    assert rolling.estimate("paper", "orb", "open", "tight").ewma == px(5.0)
    assert rolling.estimate("broker", "orb", "open", "tight").ewma == px(15.0)
    assert [k.source for k, _ in rolling.buckets()] == ["broker"] * 4 + ["paper"] * 4


def test_a_fill_without_a_detector_counts_under_none() -> None:
    rolling = RollingSlippage(RollingConfig(min_samples=1))
    rolling.update(rec(1.0, detector=None))
    labels = [k.label for k, _ in rolling.buckets()]
    assert labels == ["(none) × open × tight", "(none) × open", "(none)", "all"]
    assert rolling.estimate("broker", None, "open").bucket.level == "detector_time"


def test_min_samples_above_the_window_is_refused() -> None:
    with pytest.raises(ValueError, match="min_samples"):
        RollingConfig(window=5, min_samples=6)


_values = st.lists(st.floats(min_value=-500, max_value=500, allow_nan=False), min_size=1,
                   max_size=120)


@given(values=_values, window=st.integers(min_value=1, max_value=40),
       q=st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]))
def test_windowed_quantiles_equal_numpys_on_the_window(values: list[float], window: int,
                                                       q: float) -> None:
    stat = RollingStat(window=window, alpha=0.1)
    for v in values:
        stat.update(v)
    kept = values[-window:]
    assert stat.recent() == tuple(kept)
    assert stat.quantile(q) == pytest.approx(float(np.quantile(kept, q)), rel=1e-12, abs=1e-9)


@given(value=st.floats(min_value=-1e4, max_value=1e4, allow_nan=False),
       n=st.integers(min_value=1, max_value=200),
       halflife=st.floats(min_value=0.1, max_value=500))
def test_ewma_of_a_constant_is_the_constant(value: float, n: int, halflife: float) -> None:
    stat = RollingStat(window=8, alpha=RollingConfig(halflife_fills=halflife).alpha)
    for _ in range(n):
        stat.update(value)
    assert stat.ewma == pytest.approx(value, rel=1e-12, abs=1e-12)


@given(values=_values, halflife=st.floats(min_value=0.1, max_value=500))
def test_ewma_stays_within_the_range_of_its_inputs(values: list[float],
                                                   halflife: float) -> None:
    stat = RollingStat(window=8, alpha=RollingConfig(halflife_fills=halflife).alpha)
    for v in values:
        stat.update(v)
    assert stat.ewma is not None
    assert min(values) - 1e-9 <= stat.ewma <= max(values) + 1e-9


_fills = st.lists(st.tuples(st.sampled_from(["orb", "vwap", None]),
                            st.sampled_from(["open", "midday"]),
                            st.sampled_from(["tight", "wide"]),
                            st.sampled_from(["paper", "broker"]),
                            st.integers(min_value=-20, max_value=40)), max_size=60)


@given(fills=_fills, min_samples=st.integers(min_value=1, max_value=8),
       asked=st.tuples(st.sampled_from(["orb", "vwap", None]),
                       st.sampled_from(["open", "midday"]),
                       st.sampled_from(["tight", "wide", None]),
                       st.sampled_from(["paper", "broker"])))
def test_the_estimate_is_the_finest_bucket_with_enough_fills(
        fills: list[tuple[str | None, str, str, str, int]], min_samples: int,
        asked: tuple[str | None, str, str | None, str]) -> None:
    rolling = RollingSlippage(RollingConfig(min_samples=min_samples))
    for n, (det, tb, regime, source, dollars) in enumerate(fills):
        rolling.update(rec(float(dollars), detector=det, time_bucket=tb, regime=regime,
                           source=source, n=n))
    det, tb, regime, source = asked

    def fills_in(level: str) -> int:   # counted here from the raw list, not from the buckets
        return sum(1 for d, t, r, s, _ in fills if s == source and (
            level == "all" or (d == det and (level == "detector" or (t == tb and (
                level == "detector_time" or r == regime))))))

    levels = (["detector_time_spread"] if regime is not None else []) + [
        "detector_time", "detector", "all"]
    est = rolling.estimate(source, det, tb, regime)  # type: ignore[arg-type]
    enough = [lv for lv in levels if fills_in(lv) >= min_samples]
    assert est.bucket.level == (enough[0] if enough else "all")
    assert est.sufficient == bool(enough)
    assert est.count == fills_in(est.bucket.level)
