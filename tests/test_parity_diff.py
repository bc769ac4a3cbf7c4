"""The pure comparison of ``spxcc parity`` (hand-made files) and its fill-realism summary (a
real SQLite store with hand-made slippage records)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spxcc_core.contracts.host import FeedGap
from spxcc_core.contracts.parity import FieldDifference
from spxcc_core.contracts.slippage import SlippageRecord, SlippageSource
from spxcc_core.errors import InputError
from spxcc_core.parity.check import fill_realism
from spxcc_core.parity.diff import GapWindows, compare_document, compare_lines, flatten, gap_windows
from spxcc_core.slippage.store import SlippageStore
from spxcc_core.store import Store

NONE = GapWindows()


def lines(*records: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in records)


def bar(start: int, volume: float = 10.0, **more: Any) -> dict[str, Any]:
    return {"symbol": "SPY", "startMs": start, "volume": volume, **more}


def test_flatten_names_nested_fields_by_path() -> None:
    doc = {"a": 1, "b": {"c": [5, {"d": None}], "e": {}}, "f": []}
    assert list(flatten(doc)) == [("a", 1), ("b.c[0]", 5), ("b.c[1].d", None), ("b.e", {}),
                                  ("f", [])]


def test_a_nested_gate_check_field_is_named_by_path() -> None:
    check = {"gate": "spread", "observed": 0.02, "passed": True}
    live = lines({"setupId": "s1", "barStartMs": 5000, "checks": [check, check]})
    replay = lines({"setupId": "s1", "barStartMs": 5000,
                    "checks": [check, {**check, "observed": 0.03, "passed": False}]})
    f = compare_lines("gate_decisions.jsonl", live, replay, windows=NONE)
    assert f.first is not None and f.first.key == "s1@5000"
    assert f.first.fields == [FieldDifference(field="checks[1].observed", live=0.02, replay=0.03),
                              FieldDifference(field="checks[1].passed", live=True, replay=False)]
    assert f.field_counts == {"checks[1].observed": 1, "checks[1].passed": 1}


def test_an_integer_and_a_float_of_the_same_value_differ() -> None:
    """``1`` and ``1.0`` are different bytes on the wire: parity is byte parity."""
    f = compare_lines("microbars.jsonl", lines(bar(0, 1)), lines(bar(0, 1.0)), windows=NONE)
    assert f.status == "different" and f.field_counts == {"volume": 1}


def test_the_same_records_in_another_order_are_one_order_difference() -> None:
    a, b = bar(0), bar(1000)
    f = compare_lines("microbars.jsonl", lines(a, b), lines(b, a), windows=NONE)
    assert f.differences == 1 and f.first is not None
    assert (f.first.kind, f.first.key, f.first.line) == ("order", "SPY@0", 1)


def test_repeated_keys_are_numbered_in_file_order() -> None:
    d = {"setupId": "s", "barStartMs": 0, "passed": True}
    f = compare_lines("gate_decisions.jsonl", lines(d, d), lines(d, {**d, "passed": False}),
                      windows=NONE)
    assert f.first is not None and (f.first.key, f.first.line) == ("s@0#2", 2)


def test_a_file_without_a_record_kind_is_keyed_by_line() -> None:
    f = compare_lines("other.jsonl", lines({"q": 1}), lines({"q": 2}), windows=NONE)
    assert f.first is not None and f.first.key == "line 1" and f.first.at_ms is None


def test_a_line_that_is_not_json_names_the_file_and_the_line() -> None:
    with pytest.raises(InputError) as info:
        compare_lines("setups.jsonl", b'{"id": "a"}\n{oops\n', b'{"id": "a"}\n', windows=NONE)
    assert str(info.value).startswith("live setups.jsonl, row 2: not JSON Lines")


def test_gap_windows_hand_worked() -> None:
    """fromMs 10:00:05.400 → bar 05.000; toMs 07.100 + stale 2,000 + one bar 1,000 = 10.100.
    An open gap runs to the end; a gap with nothing before it from the start."""
    t = 1_709_820_000_000
    gaps = [FeedGap(url="u", from_ms=t + 5_400, to_ms=t + 7_100, disconnected_at_ms=1,
                    reconnected_at_ms=2, reason="r", attempts=1),
            FeedGap(url="u", from_ms=None, to_ms=t - 60_000, disconnected_at_ms=1,
                    reconnected_at_ms=2, reason="r", attempts=1),
            FeedGap(url="u", from_ms=t + 3_600_000, to_ms=None, disconnected_at_ms=1,
                    reconnected_at_ms=None, reason="r", attempts=1)]
    windows, shown = gap_windows(gaps, interval_ms=1000, stale_ms=2000)
    assert [(w.window_from_ms, w.window_to_ms) for w in shown] == [
        (t + 5_000, t + 10_100), (None, t - 57_000), (t + 3_600_000, None)]
    assert windows.meets(t + 5_000, t + 5_000) and windows.meets(t + 10_000, t + 10_000)
    assert not windows.meets(t + 4_999, t + 4_999) and not windows.meets(t + 10_100, t + 10_100)
    assert windows.meets(t - 10**9, t - 10**9) and not windows.meets(t - 57_000, t - 57_000)
    assert windows.meets(t + 10**9, t + 10**9)
    # a setup detected before a window and closed after it meets it
    assert windows.meets(t + 1_000, t + 20_000)
    assert not windows.meets(None, None)


def test_differences_split_into_expected_and_unexpected() -> None:
    windows = GapWindows(((5_000.0, 10_100.0),))
    live = lines(bar(4_000), bar(5_000, 11.0), bar(12_000, 3.0))
    replay = lines(bar(4_000), bar(5_000), bar(12_000))
    f = compare_lines("microbars.jsonl", live, replay, windows=windows)
    assert (f.status, f.differences, f.expected) == ("different", 2, 1)
    assert f.first is not None and f.first.key == "SPY@12000"  # the unexpected one first
    assert [d.key for d in f.listed] == ["SPY@5000", "SPY@12000"]  # file order
    only_gap = compare_lines("microbars.jsonl", lines(bar(5_000, 11.0)), lines(bar(5_000)),
                             windows=windows)
    assert only_gap.status == "expected_differences"


def test_report_documents_list_every_differing_path() -> None:
    live = json.dumps({"a": {"b": 1, "c": 2}, "d": [1]}).encode()
    replay = json.dumps({"a": {"b": 1, "c": 3}, "d": [1, 2]}).encode()
    f = compare_document("report.json", live, replay)
    assert f.first is not None and f.first.fields == [
        FieldDifference(field="a.c", live=2, replay=3),
        FieldDifference(field="d[1]", live=None, replay=2)]


records = st.lists(st.fixed_dictionaries({"startMs": st.integers(0, 50).map(lambda k: k * 1000),
                                          "volume": st.integers(0, 3)}),
                   max_size=12)


@given(records, records)
def test_identical_exactly_when_the_bytes_are(a: list[dict[str, Any]],
                                              b: list[dict[str, Any]]) -> None:
    la = lines(*({"symbol": "SPY", **r} for r in a))
    lb = lines(*({"symbol": "SPY", **r} for r in b))
    f = compare_lines("microbars.jsonl", la, lb, windows=NONE)
    assert (f.status == "identical") == (la == lb)
    assert (f.differences == 0) == (la == lb)


def _record(fill: str, source: SlippageSource, dollars: float) -> SlippageRecord:
    return SlippageRecord(
        fill_id=fill, intent_id=f"i-{fill}", setup_id=None, detector="vwap",
        symbol="SPXW240307C05100000", side="buy_to_open", quantity=1.0, fill_price=3.1,
        arrival_bid=3.0, arrival_ask=3.2, arrival_mid=3.1, arrival_spread=0.2, tick_size=0.1,
        slippage_dollars=dollars, slippage_ticks=dollars / 10, slippage_bps=None,
        slippage_spread_fraction=None, time_bucket="morning", spread_regime="normal",
        moneyness=None, otm_points=None, dte=0, source=source, at_ms=1_709_821_000_000)


def test_fill_realism_hand_worked(tmp_path: Path) -> None:
    """Paper $5 and $10 a contract: mean 7.5, median 7.5. Broker $10, $20, $60: mean 30,
    median 20. Broker − paper = 30 − 7.5 = 22.5 dollars a contract."""
    db = tmp_path / "run.sqlite3"
    with Store(db) as store:
        slip = SlippageStore(store)
        for i, (source, dollars) in enumerate((("paper", 5.0), ("paper", 10.0), ("broker", 10.0),
                                               ("broker", 20.0), ("broker", 60.0))):
            slip.record(_record(f"f{i}", source, dollars))  # type: ignore[arg-type]
    fr = fill_realism(db)
    assert fr.status == "compared" and fr.paper is not None and fr.broker is not None
    assert (fr.paper.fills, fr.paper.mean_dollars, fr.paper.median_dollars) == (2, 7.5, 7.5)
    assert (fr.broker.fills, fr.broker.mean_dollars, fr.broker.median_dollars) == (3, 30.0, 20.0)
    assert fr.difference_dollars == 22.5
    assert {b.level for b in fr.buckets} >= {"all"}


def test_fill_realism_needs_both_sources(tmp_path: Path) -> None:
    db = tmp_path / "run.sqlite3"
    with Store(db) as store:
        SlippageStore(store).record(_record("f", "paper", 5.0))
    fr = fill_realism(db)
    assert fr.status == "not_present" and fr.difference_dollars is None
    assert fr.note == ("the store's slippage ledger has no broker fill (it has 1 paper): "
                       "nothing to compare")
    assert fill_realism(None).status == "not_present"


def test_ignored_report_members_are_left_out() -> None:
    live = json.dumps({"a": 1, "execution": {"broker": "tradier", "fills": 3}}).encode()
    replay = json.dumps({"a": 1, "execution": {"broker": "paper", "fills": 2}}).encode()
    assert compare_document("report.json", live, replay).status == "different"
    assert compare_document("report.json", live, replay,
                            ignore=("execution",)).status == "identical"
    other = json.dumps({"a": 2, "execution": {}}).encode()
    f = compare_document("report.json", live, other, ignore=("execution",))
    assert f.first is not None and f.first.fields == [FieldDifference(field="a", live=1,
                                                                      replay=2)]
