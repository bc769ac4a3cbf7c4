"""The setup lifecycle's documented rules, one hand-worked case per rule and boundary.

Rules (``spxcc_core.setups.lifecycle`` docstring, docs/detectors.md "Setup lifecycle"): the
stop is checked on the trigger bar but no target is credited on it; a bar touching both the
current stop and a target counts as the stop; "touching" a level includes reaching it exactly;
a bar starting at the trigger deadline closes the setup untriggered; ``realized_r = Σ fraction ×
signed(exit − entry) / |entry − stop|`` with half out at T1 and the stop moved to the entry.

Every trigger bar here trades through the entry (its low is at or below and its high at or above
it): the trigger needs a trade at the entry (issue 9 item 3). The gap-aware R (fills at the open
of a bar that gaps past the entry or a stop) is worked at the end.
Risks are chosen different from 1 (0.5 and 2.0) so that dividing by the risk matters.
"""

from __future__ import annotations

from typing import Any

import pytest
from prices import px

from spxcc_core.contracts.microbar import MicrobarV2
from spxcc_core.contracts.setup import SetupInstance
from spxcc_core.setups.lifecycle import (
    OutcomePolicy,
    SetupTracker,
    gap_expectancy,
    instrument_kind,
    summarize,
)

T0 = 1_710_163_800_000  # 2024-03-11 09:30 New York
DEADLINE_S = 10


def bar(sec: int, high: float | None, low: float | None,
        close: float | None = None, open_: float | None = None) -> MicrobarV2:
    c = close if close is not None or high is None or low is None else (high + low) / 2
    return MicrobarV2(symbol="SPY", start_ms=T0 + sec * 1000, interval_ms=1000,
                      open=c if open_ is None else open_,
                      high=high, low=low, close=c, volume=10.0, trade_count=1, vwap=c,
                      delta_volume=0.0, bid_ask_imbalance=0.0)


def setup(direction: str, entry: float, stop: float, t1: float, t2: float) -> SetupInstance:
    return SetupInstance(id="r", session_id="2024-03-11", detector="d", detector_version=1,
                         symbol="SPY", direction=direction,  # type: ignore[arg-type]
                         entry=entry, stop=stop, t1=t1, t2=t2, detected_ms=T0,
                         trigger_deadline_ms=T0 + DEADLINE_S * 1000)


# Long: entry 50, stop 49.5 (1R = 0.5), T1 50.5 (+1R), T2 51 (+2R).
LONG = ("long", 50.0, 49.5, 50.5, 51.0)
# Short: entry 100, stop 102 (1R = 2), T1 98 (+1R), T2 96 (+2R).
SHORT = ("short", 100.0, 102.0, 98.0, 96.0)


def tracker(spec: tuple[str, float, float, float, float],
            policy: OutcomePolicy | None = None) -> SetupTracker:
    return SetupTracker(setup(*spec), policy or OutcomePolicy())


def run(tr: SetupTracker, bars: list[MicrobarV2]) -> list[SetupInstance]:
    return [u for b in bars if (u := tr.on_bar(b)) is not None]


def statuses(ups: list[SetupInstance]) -> list[str]:
    return [u.status for u in ups]


# Trigger bars that trade through the entry and nothing else.
LONG_TRIGGER = bar(1, 50.1, 49.9)
SHORT_TRIGGER = bar(1, 100.5, 99.5)


# -- stop first -------------------------------------------------------------------------------


def test_long_bar_touching_stop_and_t1_counts_the_stop() -> None:
    tr = tracker(LONG)
    ups = run(tr, [LONG_TRIGGER, bar(2, 50.6, 49.4)])  # T1 50.5 and stop 49.5 both inside
    assert statuses(ups) == ["triggered", "stopped"]
    assert ups[-1].t1_ms is None and ups[-1].exit_price == 49.5
    assert ups[-1].realized_r == px(-1.0)  # (49.5 − 50) / 0.5


def test_short_bar_touching_stop_and_both_targets_counts_the_stop() -> None:
    tr = tracker(SHORT)
    ups = run(tr, [SHORT_TRIGGER, bar(2, 102.5, 95.5)])  # stop 102, T1 98, T2 96 all inside
    assert statuses(ups) == ["triggered", "stopped"]
    assert ups[-1].t1_ms is None and ups[-1].exit_price == 102.0
    assert ups[-1].realized_r == px(-1.0)  # (100 − 102) / 2


def test_after_t1_a_bar_touching_the_breakeven_stop_and_t2_counts_the_stop() -> None:
    tr = tracker(LONG)
    ups = run(tr, [LONG_TRIGGER,
                   bar(2, 50.6, 50.2),    # T1 50.5: half out, stop to the entry 50
                   bar(3, 51.2, 49.9)])   # entry 50 and T2 51 both inside: the stop
    assert statuses(ups) == ["triggered", "t1", "t1"]
    assert ups[-1].exit_price == 50.0
    # 0.5 × (50.5 − 50) / 0.5 + 0.5 × 0 = 0.5R
    assert ups[-1].realized_r == px(0.5)


def test_short_after_t1_breakeven_stop_touched_exactly() -> None:
    tr = tracker(SHORT)
    ups = run(tr, [SHORT_TRIGGER,
                   bar(2, 99.0, 98.0),     # low exactly T1 98: half out, stop to 100
                   bar(3, 100.0, 99.0)])   # high exactly the moved stop 100
    assert statuses(ups) == ["triggered", "t1", "t1"]
    assert ups[-1].exit_price == 100.0
    # 0.5 × (100 − 98) / 2 + 0.5 × 0 = 0.5R
    assert ups[-1].realized_r == px(0.5)


# -- the trigger bar ---------------------------------------------------------------------------


def test_long_trigger_bar_reaching_t2_credits_no_target() -> None:
    tr = tracker(LONG)
    ups = run(tr, [bar(1, 51.2, 49.9),       # entry, T1 and T2 on the trigger bar
                   bar(2, 50.3, 50.1)])      # a quiet bar: nothing remembered from bar 1
    assert statuses(ups) == ["triggered"]
    assert ups[0].t1_ms is None and ups[0].triggered_ms == T0 + 1000
    closed = tr.expire(T0 + 60_000, 50.25)
    assert closed is not None and closed.status == "expired" and closed.t1_ms is None
    assert closed.realized_r == px(0.5)  # (50.25 − 50) / 0.5


def test_short_trigger_bar_reaching_t1_credits_no_target() -> None:
    tr = tracker(SHORT)
    ups = run(tr, [bar(1, 100.4, 97.5)])   # entry 100 and T1 98 on the trigger bar
    assert statuses(ups) == ["triggered"] and ups[0].t1_ms is None
    ups = run(tr, [bar(2, 99.0, 98.0)])    # T1 reached on a later bar: credited there
    assert statuses(ups) == ["t1"] and ups[0].t1_ms == T0 + 2000


def test_trigger_bar_touching_the_stop_exactly_is_stopped() -> None:
    tr = tracker(LONG)
    ups = run(tr, [bar(1, 50.2, 49.5)])    # low exactly the stop 49.5
    assert statuses(ups) == ["stopped"]
    assert ups[0].triggered_ms == ups[0].closed_ms == T0 + 1000
    assert ups[0].realized_r == px(-1.0)
    tr = tracker(SHORT)
    ups = run(tr, [bar(1, 102.0, 99.8)])   # high exactly the stop 102
    assert statuses(ups) == ["stopped"] and ups[0].realized_r == px(-1.0)


def test_trigger_bar_inside_the_stop_is_only_triggered() -> None:
    tr = tracker(SHORT)
    ups = run(tr, [bar(1, 101.9, 99.9)])   # high 101.9 below the stop 102
    assert statuses(ups) == ["triggered"]


# -- exact touches of the targets and the stop after the trigger ------------------------------


def test_long_exact_touches() -> None:
    tr = tracker(LONG)
    ups = run(tr, [LONG_TRIGGER, bar(2, 50.5, 50.2), bar(3, 51.0, 50.6)])
    assert statuses(ups) == ["triggered", "t1", "t2"]  # high exactly T1, then exactly T2
    assert ups[-1].exit_price == 51.0
    assert ups[-1].realized_r == px(1.5)  # 0.5 × 1R + 0.5 × 2R
    tr = tracker(LONG)
    ups = run(tr, [LONG_TRIGGER, bar(2, 50.3, 49.5)])  # low exactly the stop
    assert statuses(ups) == ["triggered", "stopped"]


def test_long_levels_not_reached_do_nothing() -> None:
    tr = tracker(LONG)
    ups = run(tr, [LONG_TRIGGER, bar(2, 50.49, 49.51), bar(3, 50.49, 49.51)])
    assert statuses(ups) == ["triggered"]


def test_short_exact_touches() -> None:
    tr = tracker(SHORT)
    ups = run(tr, [SHORT_TRIGGER, bar(2, 99.0, 98.0), bar(3, 97.0, 96.0)])
    assert statuses(ups) == ["triggered", "t1", "t2"]
    assert ups[-1].realized_r == px(1.5)  # 0.5 × 2/2 + 0.5 × 4/2
    tr = tracker(SHORT)
    ups = run(tr, [SHORT_TRIGGER, bar(2, 102.0, 100.5)])  # high exactly the stop
    assert statuses(ups) == ["triggered", "stopped"]
    assert ups[-1].realized_r == px(-1.0)


def test_short_levels_not_reached_do_nothing() -> None:
    tr = tracker(SHORT)
    ups = run(tr, [SHORT_TRIGGER, bar(2, 101.9, 98.1), bar(3, 101.9, 98.1)])
    assert statuses(ups) == ["triggered"]


def test_one_bar_from_entry_to_t2_credits_t1_and_t2_on_that_bar() -> None:
    tr = tracker(LONG)
    ups = run(tr, [LONG_TRIGGER, bar(3, 51.1, 50.1)])  # over T1 and T2, stop not touched
    assert statuses(ups) == ["triggered", "t2"]
    assert ups[-1].t1_ms == ups[-1].closed_ms == T0 + 3000
    assert ups[-1].realized_r == px(1.5)


# -- R multiples and the scale-out policy -----------------------------------------------------


def test_quarter_out_at_t1_then_t2() -> None:
    tr = tracker(SHORT, OutcomePolicy(t1_fraction=0.25))
    ups = run(tr, [SHORT_TRIGGER, bar(2, 99.5, 97.9), bar(3, 98.5, 95.9)])
    assert statuses(ups) == ["triggered", "t1", "t2"]
    # 0.25 × (100 − 98) / 2 + 0.75 × (100 − 96) / 2 = 0.25 + 1.5 = 1.75R
    assert ups[-1].realized_r == px(1.75)


def test_full_exit_at_t1_closes_on_that_bar() -> None:
    tr = tracker(LONG, OutcomePolicy(t1_fraction=1.0))
    ups = run(tr, [LONG_TRIGGER, bar(2, 50.6, 50.1)])
    assert statuses(ups) == ["triggered", "t1"]
    assert ups[-1].closed_ms == T0 + 2000 and ups[-1].exit_price == 50.5
    assert ups[-1].realized_r == px(1.0)
    assert run(tr, [bar(3, 51.5, 49.0)]) == []  # closed: later bars change nothing


def test_no_breakeven_keeps_the_original_stop_after_t1() -> None:
    tr = tracker(LONG, OutcomePolicy(t1_fraction=0.5, breakeven_after_t1=False))
    ups = run(tr, [LONG_TRIGGER, bar(2, 50.6, 50.1),
                   bar(3, 50.3, 49.8),    # below the entry, above the stop: still open
                   bar(4, 49.9, 49.4)])   # the original stop 49.5
    assert statuses(ups) == ["triggered", "t1", "t1"]
    assert ups[-1].exit_price == 49.5
    # 0.5 × 1R + 0.5 × (49.5 − 50) / 0.5 = 0
    assert ups[-1].realized_r == px(0.0)


def test_expiry_marks_at_the_last_price_in_r() -> None:
    tr = tracker(SHORT)
    run(tr, [SHORT_TRIGGER])
    closed = tr.expire(T0 + 60_000, 99.0)
    assert closed is not None and closed.status == "expired"
    assert closed.closed_ms == T0 + 60_000 and closed.exit_price == 99.0
    assert closed.realized_r == px(0.5)  # (100 − 99) / 2
    tr = tracker(SHORT)
    run(tr, [SHORT_TRIGGER, bar(2, 99.0, 97.9)])
    closed = tr.expire(T0 + 60_000, 101.0)
    # T1 kept: 0.5 × 1R + 0.5 × (100 − 101) / 2 = 0.25R
    assert closed is not None and closed.status == "t1"
    assert closed.realized_r == px(0.25)


def test_expiry_of_an_untriggered_setup_has_no_r() -> None:
    tr = tracker(LONG)
    run(tr, [bar(1, 49.9, 49.7)])
    closed = tr.expire(T0 + 60_000, 50.3)
    assert closed is not None and closed.status == "untriggered"
    assert closed.realized_r is None and closed.exit_price is None
    assert closed.closed_ms == T0 + 60_000


# -- the trigger deadline ---------------------------------------------------------------------


def test_a_bar_just_before_the_deadline_triggers() -> None:
    tr = tracker(LONG)
    ups = run(tr, [bar(DEADLINE_S - 1, 50.1, 49.9)])
    assert statuses(ups) == ["triggered"] and ups[0].triggered_ms == T0 + 9000


def test_a_bar_at_the_deadline_closes_untriggered_even_through_the_entry() -> None:
    tr = tracker(SHORT)
    ups = run(tr, [bar(DEADLINE_S, 100.5, 99.5)])
    assert statuses(ups) == ["untriggered"]
    assert ups[0].closed_ms == T0 + 10_000 and ups[0].realized_r is None


def test_a_priceless_bar_after_the_deadline_still_closes_untriggered() -> None:
    tr = tracker(LONG)
    assert statuses(run(tr, [bar(DEADLINE_S + 1, None, None)])) == ["untriggered"]


def test_priceless_bars_after_the_trigger_change_nothing() -> None:
    tr = tracker(LONG)
    ups = run(tr, [LONG_TRIGGER, bar(2, None, None), bar(3, 50.6, 50.1)])
    assert statuses(ups) == ["triggered", "t1"]


# -- statistics --------------------------------------------------------------------------------


def test_summary_denominators_are_triggered_setups() -> None:
    def closed(spec: tuple[str, float, float, float, float],
               bars: list[MicrobarV2], last: float) -> SetupInstance:
        tr = tracker(spec)
        run(tr, bars)
        tr.expire(T0 + 60_000, last)
        return tr.setup

    stopped = closed(LONG, [LONG_TRIGGER, bar(2, 50.0, 49.4)], 50.0)           # −1R
    t2 = closed(SHORT, [SHORT_TRIGGER, bar(2, 99, 97.9), bar(3, 97, 95.9)], 99)  # +1.5R
    untriggered = closed(LONG, [bar(1, 49.9, 49.8)], 50.0)                     # no R
    expired = closed(SHORT, [SHORT_TRIGGER], 101.0)                            # −0.5R
    open_one = tracker(LONG).setup                                             # never closed
    st = summarize([stopped, t2, untriggered, expired, open_one])
    assert (st.setups, st.triggered, st.untriggered, st.open) == (5, 3, 1, 1)
    assert (st.t1_hits, st.t2_hits, st.stopped, st.expired) == (1, 1, 1, 1)
    assert st.t1_hit_rate == px(1 / 3)
    # (−1 + 1.5 − 0.5) / 3 = 0
    assert st.expectancy_r == px(0.0)
    only_open = summarize([open_one])
    assert only_open.triggered == 0 and only_open.t1_hit_rate is None
    assert only_open.expectancy_r is None and only_open.open == 1


def test_r_multiples_with_t1_at_one_and_a_half_r() -> None:
    # long entry 50, stop 49.5 (1R = 0.5), T1 50.75 (+1.5R), T2 51.5 (+3R)
    spec = ("long", 50.0, 49.5, 50.75, 51.5)
    tr = tracker(spec)
    ups = run(tr, [LONG_TRIGGER, bar(2, 50.8, 50.2), bar(3, 50.3, 49.95)])
    assert statuses(ups) == ["triggered", "t1", "t1"]
    # 0.5 × 1.5R + 0.5 × 0R (breakeven) = 0.75R
    assert ups[-1].realized_r == px(0.75)
    tr = tracker(spec)
    ups = run(tr, [LONG_TRIGGER, bar(2, 50.8, 50.2), bar(3, 51.5, 50.9)])
    # 0.5 × 1.5R + 0.5 × 3R = 2.25R
    assert ups[-1].status == "t2" and ups[-1].realized_r == px(2.25)


def test_expiry_without_a_last_price_has_no_r() -> None:
    tr = tracker(LONG)
    run(tr, [LONG_TRIGGER])
    closed = tr.expire(T0 + 60_000, None)
    assert closed is not None and closed.status == "expired"
    assert closed.exit_price is None and closed.realized_r is None
    # a closed setup without R is not in the expectancy, but it is a triggered setup
    stopped = tracker(SHORT)
    run(stopped, [SHORT_TRIGGER, bar(2, 102.5, 100.5)])
    st = summarize([closed, stopped.setup])
    assert st.triggered == 2 and st.expectancy_r == px(-1.0)
    assert st.t1_hit_rate == px(0.0)


def test_outcome_policy_fraction_range_is_inclusive() -> None:
    assert OutcomePolicy(t1_fraction=0.0).t1_fraction == 0.0
    assert OutcomePolicy(t1_fraction=1.0).t1_fraction == 1.0
    for bad in (-0.01, 1.01):
        with pytest.raises(ValueError, match="'t1_fraction' must be in \\[0, 1\\]"):
            OutcomePolicy(t1_fraction=bad)


def close_only(sec: int, close: float) -> MicrobarV2:
    """A bar with trades that were not high/low-eligible: high and low null, close set."""
    return MicrobarV2(symbol="SPY", start_ms=T0 + sec * 1000, interval_ms=1000, open=close,
                      high=None, low=None, close=close, volume=10.0, trade_count=1, vwap=close,
                      delta_volume=0.0, bid_ask_imbalance=0.0)


def test_a_close_only_bar_is_a_trade_at_its_close() -> None:
    tr = tracker(LONG)
    ups = run(tr, [close_only(1, 50.0),      # a trade exactly at the entry: triggered
                   close_only(2, 50.5),      # exactly T1
                   close_only(3, 50.0)])     # exactly the breakeven stop
    assert statuses(ups) == ["triggered", "t1", "t1"]
    assert ups[-1].realized_r == px(0.5)


# -- gap-aware R (docs/detectors.md "gross vs gap-aware") --------------------------------------
# The entry fills at the trigger bar's open when that open is past the entry; a stop at the open
# of a bar that gaps through it; targets fill at their price; the R unit stays |entry - stop|.
# Prices are multiples of 1/8 (exact in binary).


def test_gap_aware_entry_fill_carries_into_both_targets() -> None:
    # long 50 / 49.5 (1R = 0.5): the trigger bar opens 50.25, past the entry (fill 50.25);
    # T1 50.5 on the next bar, T2 51 on the one after.
    # gross 0.5 x 1 + 0.5 x 2 = 1.5R;
    # gap-aware 0.5 x (50.5 - 50.25) / 0.5 + 0.5 x (51 - 50.25) / 0.5 = 0.25 + 0.75 = 1.0R
    tr = tracker(LONG)
    ups = run(tr, [bar(1, 50.375, 50.125, 50.25, open_=50.25),
                   bar(2, 50.5, 50.25, 50.375), bar(3, 51.0, 50.5, 50.875)])
    assert statuses(ups) == ["triggered", "t1", "t2"]
    assert ups[-1].realized_r == px(1.5)
    assert (tr.entry_fill, tr.exit_fill) == (px(50.25), px(51.0))
    assert tr.gap_r == px(1.0)


def test_gap_aware_expiry_marks_the_remainder_from_the_entry_fill() -> None:
    # long filled at the open 50.25; the session ends at 50.375 without T1:
    # gross (50.375 - 50) / 0.5 = 0.75R; gap-aware (50.375 - 50.25) / 0.5 = 0.25R
    tr = tracker(LONG)
    run(tr, [bar(1, 50.375, 50.125, 50.25, open_=50.25)])
    closed = tr.expire(T0 + 60_000, 50.375)
    assert closed is not None and closed.status == "expired"
    assert closed.realized_r == px(0.75)
    assert (tr.exit_fill, tr.gap_r) == (px(50.375), px(0.25))


def test_gap_aware_stop_touched_inside_a_bar_fills_at_the_stop() -> None:
    # long filled at the open 50.25; a later bar opens 49.75 (above the stop) and trades down to
    # 49.375: the stop 49.5 fills at 49.5. gross -1R; gap-aware (49.5 - 50.25) / 0.5 = -1.5R
    tr = tracker(LONG)
    run(tr, [bar(1, 50.375, 50.125, 50.25, open_=50.25),
             bar(2, 49.875, 49.375, 49.5, open_=49.75)])
    assert tr.setup.status == "stopped" and tr.setup.realized_r == px(-1.0)
    assert (tr.exit_fill, tr.gap_r) == (px(49.5), px(-1.5))


def test_gap_aware_short_opening_above_its_entry_fills_at_the_entry() -> None:
    # short 100 / 102 (1R = 2): the trigger bar opens 100.5 (above: not past a short's entry)
    # and trades down through 100: fill 100. A bar opening 98.5 and falling to 98 reaches T1;
    # a later bar opens 100.5, past the breakeven stop 100 (fill 100.5).
    # gross 0.5 x 1 + 0.5 x 0 = 0.5R;
    # gap-aware 0.5 x (100 - 98) / 2 + 0.5 x (100 - 100.5) / 2 = 0.5 - 0.125 = 0.375R
    tr = tracker(SHORT)
    ups = run(tr, [bar(1, 100.75, 99.75, 99.875, open_=100.5),
                   bar(2, 98.5, 98.0, 98.25, open_=98.5),
                   bar(3, 100.75, 100.25, 100.5, open_=100.5)])
    assert statuses(ups) == ["triggered", "t1", "t1"]
    assert tr.entry_fill == px(100.0)
    assert ups[-1].realized_r == px(0.5)
    assert (tr.exit_fill, tr.gap_r) == (px(100.5), px(0.375))


def test_gap_expectancy_counts_only_closed_triggered_setups_with_a_value() -> None:
    base = setup(*LONG)
    closed = _replace(base, id="a", status="stopped", triggered_ms=T0 + 1000,
                      closed_ms=T0 + 2000)
    still_open = _replace(base, id="b", status="triggered", triggered_ms=T0 + 1000)
    untriggered = _replace(base, id="c", status="untriggered", closed_ms=T0 + 10_000)
    no_value = _replace(base, id="d", status="stopped", triggered_ms=T0 + 1000,
                        closed_ms=T0 + 2000)
    values = {"a": -1.5, "b": 9.0, "c": 7.0}
    # only "a" counts: mean -1.5
    assert gap_expectancy([closed, still_open, untriggered, no_value], values) == px(-1.5)
    assert gap_expectancy([still_open, untriggered, no_value], values) is None


def _replace(s: SetupInstance, **changes: Any) -> SetupInstance:
    import msgspec

    return msgspec.structs.replace(s, **changes)


@pytest.mark.parametrize(("symbol", "kind"), [
    ("SPY", "underlying"), ("I:SPX", "underlying"),
    ("O:SPXW240311C05100000", "option"),   # Massive form
    ("SPXW240311C05100000", "option"),     # OCC symbol without the prefix
    ("O:SPXW240311C5100", "option"),       # any O: symbol is on the options tape
])
def test_instrument_kind_o_prefix_or_occ_is_an_option(symbol: str, kind: str) -> None:
    assert instrument_kind(symbol) == kind
