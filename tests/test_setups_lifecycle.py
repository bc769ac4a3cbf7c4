"""Setup lifecycle, outcomes, ids and the SQLite store — hand-worked cases.

The reference long setup: entry 100, stop 99 (1R = 1.0), T1 101 (1R), T2 102 (2R), detected on
the bar starting at 0 s; trigger deadline 10 s. Default policy: half out at T1, stop to entry.
"""

from __future__ import annotations

import sqlite3

import pytest

from spxcc_core.contracts.microbar import MicrobarV2
from spxcc_core.contracts.setup import SetupCandidate, SetupInstance
from spxcc_core.setups.lifecycle import (
    OutcomePolicy,
    SetupTracker,
    gap_expectancy,
    instrument_kind,
    make_setup_id,
    summarize,
)
from spxcc_core.setups.store import SetupStore
from spxcc_core.store import Store

T0 = 1_710_163_800_000  # 2024-03-11 13:30:00 UTC = 09:30 New York


def bar(sec: int, high: float | None, low: float | None, close: float | None,
        open_: float | None = None) -> MicrobarV2:
    """A one-second bar; its open is ``open_`` (default: the close)."""
    return MicrobarV2(symbol="SPY", start_ms=T0 + sec * 1000, interval_ms=1000,
                      open=close if open_ is None else open_,
                      high=high, low=low, close=close, volume=10.0, trade_count=1, vwap=close,
                      delta_volume=0.0, bid_ask_imbalance=0.0)


def setup(direction: str = "long") -> SetupInstance:
    if direction == "long":
        entry, stop, t1, t2 = 100.0, 99.0, 101.0, 102.0
    else:
        entry, stop, t1, t2 = 100.0, 101.0, 99.0, 98.0
    return SetupInstance(id="x", session_id="2024-03-11", detector="d", detector_version=1,
                         symbol="SPY", direction=direction,  # type: ignore[arg-type]
                         entry=entry, stop=stop, t1=t1, t2=t2, detected_ms=T0,
                         trigger_deadline_ms=T0 + 10_000)


def run(tr: SetupTracker, bars: list[MicrobarV2]) -> list[SetupInstance]:
    return [u for b in bars if (u := tr.on_bar(b)) is not None]


def tracker(direction: str = "long", policy: OutcomePolicy | None = None) -> SetupTracker:
    return SetupTracker(setup(direction), policy or OutcomePolicy())


def test_trigger_then_t1_then_t2_scales_out() -> None:
    tr = tracker()
    ups = run(tr, [bar(1, 99.8, 99.5, 99.7),      # below entry: nothing
                   bar(2, 100.2, 99.9, 100.1),    # trades through 100: triggered
                   bar(3, 101.0, 100.5, 100.9),   # touches T1 101
                   bar(4, 102.1, 101.5, 102.0)])  # touches T2 102
    assert [u.status for u in ups] == ["triggered", "t1", "t2"]
    final = ups[-1]
    assert final.triggered_ms == T0 + 2000 and final.t1_ms == T0 + 3000
    assert final.closed_ms == T0 + 4000 and final.exit_price == 102.0
    # 0.5 × (+1R at T1) + 0.5 × (+2R at T2) = 1.5R
    assert final.realized_r == pytest.approx(1.5)


def test_t1_then_breakeven_stop() -> None:
    tr = tracker()
    ups = run(tr, [bar(1, 100.0, 99.6, 100.0),    # touches entry: triggered
                   bar(2, 101.2, 100.4, 101.0),   # T1
                   bar(3, 100.3, 99.95, 100.0)])  # back to the entry (the moved stop)
    assert [u.status for u in ups] == ["triggered", "t1", "t1"]
    # 0.5 × 1R + 0.5 × 0R (exit at entry 100) = 0.5R
    assert ups[-1].realized_r == pytest.approx(0.5)
    assert ups[-1].exit_price == 100.0


def test_stop_before_t1_is_minus_one_r() -> None:
    tr = tracker()
    ups = run(tr, [bar(1, 100.1, 99.9, 100.0), bar(2, 99.5, 98.9, 99.0)])
    assert [u.status for u in ups] == ["triggered", "stopped"]
    assert ups[-1].realized_r == pytest.approx(-1.0)


def test_bar_touching_stop_and_target_counts_the_stop() -> None:
    tr = tracker()
    ups = run(tr, [bar(1, 100.1, 99.9, 100.0),
                   bar(2, 102.5, 98.5, 100.0)])  # wide bar: T1, T2 and the stop all touched
    assert ups[-1].status == "stopped"
    assert ups[-1].t1_ms is None
    assert ups[-1].realized_r == pytest.approx(-1.0)


def test_trigger_bar_checks_stop_but_credits_no_target() -> None:
    tr = tracker()
    ups = run(tr, [bar(1, 101.5, 99.9, 101.2)])  # through the entry and T1 on one bar
    assert [u.status for u in ups] == ["triggered"]
    assert ups[0].t1_ms is None
    tr2 = tracker()
    ups2 = run(tr2, [bar(1, 100.2, 98.8, 99.0)])  # through the entry and the stop
    assert [u.status for u in ups2] == ["stopped"]
    assert ups2[0].triggered_ms == ups2[0].closed_ms == T0 + 1000


def test_gap_across_the_entry_triggers() -> None:
    tr = tracker()
    ups = run(tr, [bar(1, 100.6, 100.3, 100.5)])  # the whole bar above the entry 100
    assert [u.status for u in ups] == ["triggered"]
    tr = tracker("short")
    ups = run(tr, [bar(1, 99.7, 99.4, 99.5)])  # the whole bar below a short's entry 100
    assert [u.status for u in ups] == ["triggered"]


def test_detection_bar_closing_at_the_entry_does_not_trigger_the_next_bar() -> None:
    """Issue 9: the detection bar closed exactly at the entry (100); the next bars trade
    below it. No trade at the entry after detection: not triggered (the old rule extended the
    first bar's range to the detection bar's close and triggered at any price), and a later bar
    that does reach 100 triggers."""
    tr = tracker()
    ups = run(tr, [bar(1, 99.9, 99.2, 99.3),    # below the entry: nothing
                   bar(2, 99.4, 98.9, 99.0),    # would be a stop-out of a phantom position
                   bar(3, 100.0, 99.1, 99.9)])  # trades at 100: triggered now
    assert [(u.status, u.triggered_ms) for u in ups] == [("triggered", T0 + 3000)]
    tr = tracker("short")  # mirror: a short whose detection bar closed at its entry 100
    assert run(tr, [bar(1, 100.8, 100.1, 100.7)]) == []


def test_gap_aware_fills_at_the_open_of_a_bar_that_gaps_past_entry_and_stop() -> None:
    # long 100 / stop 99: the trigger bar opens at 100.40 (gap through the entry), the next
    # bar opens at 98.60 (gap through the stop). Gross −1R; filled at those opens:
    # (98.60 − 100.40) / 1.0 = −1.8R
    tr = tracker()
    ups = run(tr, [bar(1, 100.6, 100.3, 100.5, open_=100.4),
                   bar(2, 98.7, 98.5, 98.6, open_=98.6)])
    assert [u.status for u in ups] == ["triggered", "stopped"]
    assert ups[-1].realized_r == pytest.approx(-1.0) and ups[-1].exit_price == 99.0
    assert (tr.entry_fill, tr.exit_fill) == (100.4, 98.6)
    assert tr.gap_r == pytest.approx(-1.8)


def test_gap_aware_breakeven_stop_and_short_mirror() -> None:
    # long: entry touched from below (no gap, fill 100), T1, then a bar opening at 99.70
    # through the breakeven stop 100: gross 0.5 × 1 + 0.5 × 0 = 0.5R;
    # gap-aware 0.5 × 1 + 0.5 × (99.70 − 100) = 0.35R
    tr = tracker()
    run(tr, [bar(1, 100.1, 99.9, 100.0, open_=99.95), bar(2, 101.2, 100.4, 101.0),
             bar(3, 99.8, 99.6, 99.7, open_=99.7)])
    assert tr.setup.realized_r == pytest.approx(0.5)
    assert tr.gap_r == pytest.approx(0.35)
    # short 100 / stop 101: opens 99.80 below the entry (fill 99.80), then opens 101.30 above
    # the stop: gross −1R, gap-aware (99.80 − 101.30) / 1 = −1.5R
    tr = tracker("short")
    run(tr, [bar(1, 99.9, 99.7, 99.8, open_=99.8), bar(2, 101.4, 101.2, 101.3, open_=101.3)])
    assert tr.setup.realized_r == pytest.approx(-1.0)
    assert tr.gap_r == pytest.approx(-1.5)


def test_gap_aware_equals_gross_without_gaps_and_inside_the_trigger_bar() -> None:
    tr = tracker()
    run(tr, [bar(1, 100.2, 99.9, 100.1, open_=99.9), bar(2, 101.0, 100.5, 100.9),
             bar(3, 102.1, 101.5, 102.0)])
    assert tr.setup.realized_r == tr.gap_r == pytest.approx(1.5)
    # trigger bar opening at 100.30 and falling through the stop inside the bar: entry fill
    # 100.30, the stop fills at 99 (no gap between bars): (99 − 100.30) / 1 = −1.3R
    tr = tracker()
    run(tr, [bar(1, 100.4, 98.9, 99.0, open_=100.3)])
    assert tr.setup.status == "stopped" and tr.exit_fill == 99.0
    assert tr.gap_r == pytest.approx(-1.3)
    # untriggered: no R of either kind
    tr = tracker()
    run(tr, [bar(10, 100.5, 99.9, 100.2)])
    assert tr.setup.status == "untriggered" and tr.gap_r is None


def test_gap_expectancy_is_the_mean_over_closed_triggered_setups() -> None:
    import msgspec

    base = setup()
    a = msgspec.structs.replace(base, id="a", triggered_ms=T0, closed_ms=T0 + 1)
    b = msgspec.structs.replace(base, id="b", triggered_ms=T0, closed_ms=T0 + 1)
    c = msgspec.structs.replace(base, id="c")  # never triggered
    # (−1.8 + 0.35) / 2 = −0.725
    assert gap_expectancy([a, b, c], {"a": -1.8, "b": 0.35}) == pytest.approx(-0.725)
    assert gap_expectancy([c], {}) is None


def test_instrument_kind() -> None:
    assert instrument_kind("SPY") == "underlying"
    assert instrument_kind("I:SPX") == "underlying"
    assert instrument_kind("O:SPXW240311C05100000") == "option"


def test_untriggered_after_deadline_has_no_r() -> None:
    tr = tracker()
    ups = run(tr, [bar(5, 99.8, 99.6, 99.7), bar(10, 100.5, 99.9, 100.2)])  # 10 s = deadline
    assert [u.status for u in ups] == ["untriggered"]
    assert ups[0].realized_r is None and ups[0].triggered_ms is None


def test_expiry_marks_at_last_price() -> None:
    tr = tracker()
    run(tr, [bar(1, 100.1, 99.9, 100.0)])
    up = tr.expire(T0 + 60_000, 100.4)
    assert up is not None and up.status == "expired"
    assert up.realized_r == pytest.approx(0.4)  # (100.4 − 100) / 1
    assert tr.expire(T0 + 61_000, 100.0) is None  # already closed


def test_expiry_after_t1_keeps_t1_status() -> None:
    tr = tracker()
    run(tr, [bar(1, 100.1, 99.9, 100.0), bar(2, 101.0, 100.5, 100.8)])
    up = tr.expire(T0 + 60_000, 100.6)
    assert up is not None and up.status == "t1"
    # 0.5 × 1R + 0.5 × 0.6R = 0.8R
    assert up.realized_r == pytest.approx(0.8)


def test_short_mirrors_long() -> None:
    tr = tracker("short")
    ups = run(tr, [bar(1, 100.2, 99.9, 100.0),   # trades through 100: triggered
                   bar(2, 99.5, 98.9, 99.0),     # T1 99
                   bar(3, 99.2, 97.9, 98.0)])    # T2 98
    assert [u.status for u in ups] == ["triggered", "t1", "t2"]
    assert ups[-1].realized_r == pytest.approx(1.5)


def test_full_exit_at_t1_and_no_breakeven() -> None:
    tr = tracker(policy=OutcomePolicy(t1_fraction=1.0))
    ups = run(tr, [bar(1, 100.1, 99.9, 100.0), bar(2, 101.1, 100.5, 101.0)])
    assert ups[-1].status == "t1" and ups[-1].closed_ms == T0 + 2000
    assert ups[-1].realized_r == pytest.approx(1.0)
    tr2 = tracker(policy=OutcomePolicy(t1_fraction=0.5, breakeven_after_t1=False))
    ups2 = run(tr2, [bar(1, 100.1, 99.9, 100.0), bar(2, 101.1, 100.5, 101.0),
                     bar(3, 100.2, 99.95, 100.0),   # entry touched: not a stop any more
                     bar(4, 99.5, 98.9, 99.0)])     # original stop
    assert [u.status for u in ups2] == ["triggered", "t1", "t1"]
    # 0.5 × 1R + 0.5 × (−1R) = 0
    assert ups2[-1].realized_r == pytest.approx(0.0)


def test_bars_without_prices_only_advance_the_clock() -> None:
    tr = tracker()
    assert run(tr, [bar(1, None, None, None)]) == []
    assert [u.status for u in run(tr, [bar(11, None, None, None)])] == ["untriggered"]


def test_outcome_policy_validation() -> None:
    with pytest.raises(ValueError, match="'t1_fraction' must be in"):
        OutcomePolicy(t1_fraction=1.5)


def test_summary_stats_hand_worked() -> None:
    base = setup()

    def s(i: int, status: str, trig: bool, t1: bool, r: float | None) -> SetupInstance:
        import msgspec
        return msgspec.structs.replace(
            base, id=str(i), status=status, triggered_ms=T0 if trig else None,
            t1_ms=T0 if t1 else None, closed_ms=T0 + 1, realized_r=r)

    setups = [s(1, "t2", True, True, 1.5), s(2, "stopped", True, False, -1.0),
              s(3, "t1", True, True, 0.5), s(4, "untriggered", False, False, None),
              s(5, "expired", True, False, 0.2)]
    st = summarize(setups)
    assert (st.setups, st.triggered, st.untriggered, st.t1_hits, st.t2_hits, st.stopped,
            st.expired, st.open) == (5, 4, 1, 2, 1, 1, 1, 0)
    assert st.t1_hit_rate == pytest.approx(2 / 4)
    # (1.5 − 1.0 + 0.5 + 0.2) / 4 = 0.3
    assert st.expectancy_r == pytest.approx(0.3)
    empty = summarize([])
    assert empty.t1_hit_rate is None and empty.expectancy_r is None


def test_setup_id_is_deterministic_uuid5() -> None:
    c = SetupCandidate(detector="vwap", detector_version=1, symbol="SPY", direction="long",
                       entry=1.0, stop=0.5, t1=1.5, t2=2.0, bar_start_ms=T0,
                       trigger_deadline_ms=T0 + 1)
    a = make_setup_id("2024-03-11", c)
    assert a == make_setup_id("2024-03-11", c)
    assert a != make_setup_id("2024-03-12", c)
    import msgspec
    assert a != make_setup_id("2024-03-11", msgspec.structs.replace(c, detector_version=2))
    assert a[14] == "5"  # uuid version 5


def test_store_upsert_is_idempotent(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "s.sqlite3"
    tr = tracker()
    first = setup()
    with Store(path) as store:
        ss = SetupStore(store)
        assert ss.upsert([first]) == 1
        assert ss.upsert([first]) == 0  # same payload: untouched
        ups = run(tr, [bar(1, 100.1, 99.9, 100.0), bar(2, 99.5, 98.9, 99.0)])
        assert ss.upsert(ups) == 2
        assert ss.get("x") == ups[-1]
        assert ss.query(session_id="2024-03-11") == [ups[-1]]
        assert ss.query(detector="other") == []
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    rows = conn.execute("SELECT id, status, realized_r FROM spx_setup_instances").fetchall()
    assert rows == [("x", "stopped", -1.0)]
    conn.close()
