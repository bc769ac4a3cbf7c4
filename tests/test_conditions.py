"""The trade-condition table: hand-checked rows from massive.md §3.2/§3.5 and the AND rule."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from spxcc_core.aggregate.columns import (
    ELIG_CLASSIFY,
    ELIG_HL,
    ELIG_OC,
    ELIG_V,
    ConditionTable,
)
from spxcc_core.conditions import ALL_FLAGS, CONDITIONS, eligibility

HL, OC, V, CL = ELIG_HL, ELIG_OC, ELIG_V, ELIG_CLASSIFY


def test_empty_set_is_regular_sale() -> None:
    assert eligibility(()) == (15, ())
    assert ALL_FLAGS == 15


def test_stock_rows_from_the_reference_table() -> None:
    # (id, HL, OC, V) copied from massive.md §3.2, one by one.
    expected = {
        0: (1, 1, 1), 1: (1, 1, 1), 2: (0, 0, 1), 5: (1, 0, 1), 7: (0, 0, 1), 10: (1, 0, 1),
        12: (0, 0, 1), 13: (0, 0, 1), 14: (1, 1, 1), 15: (0, 0, 0), 16: (0, 0, 0),
        17: (1, 0, 1), 20: (0, 0, 1), 21: (0, 0, 1), 22: (1, 0, 1), 29: (0, 0, 1),
        32: (1, 0, 1), 33: (1, 0, 1), 37: (0, 0, 1), 38: (1, 1, 0), 52: (0, 0, 1),
        53: (0, 0, 1), 55: (1, 1, 1),
    }
    for cid, (hl, oc, v) in expected.items():
        flags, unknown = eligibility((cid,))
        assert unknown == ()
        assert (bool(flags & HL), bool(flags & OC), bool(flags & V)) == (
            bool(hl), bool(oc), bool(v)), cid


def test_policy_rows_17_and_29() -> None:
    assert eligibility((17,)) == (HL | V | CL, ())
    assert eligibility((29,)) == (V | CL, ())


def test_and_over_ids() -> None:
    # 14 (regular) AND 37 (odd lot: volume only) -> volume only.
    assert eligibility((14, 37)) == (V | CL, ())
    # 5 (HL, V) AND 10 (HL, V) -> HL, V; 38 (HL, OC, no V) AND 22 (HL, V) -> HL only.
    assert eligibility((5, 10)) == (HL | V | CL, ())
    assert eligibility((38, 22)) == (HL | CL, ())
    # Markers take everything away.
    assert eligibility((14, 15)) == (0, ())


def test_ids_without_rules_are_ignored_and_not_unknown() -> None:
    for cid in (41, 57, 58, 59, 60, *range(62, 72)):
        assert eligibility((cid,)) == (15, ()), cid
    assert eligibility((41, 37)) == (V | CL, ())


def test_unknown_ids_are_ignored_in_the_and_and_reported_sorted_once() -> None:
    assert eligibility((999, 37, 26, 999)) == (V | CL, (26, 999))
    assert eligibility((211,)) == (15, (211,))


def test_options_cancels_late_and_multileg() -> None:
    for cid in (201, 203, 205, 207):
        assert eligibility((cid,)) == (0, ()), cid
    for cid in (202, 204, 206, 208):
        assert eligibility((cid,)) == (V | CL, ()), cid
    for cid in range(232, 247):
        assert eligibility((cid,)) == (V, ()), cid
    assert eligibility((209,)) == (15, ())
    assert eligibility((219, 209)) == (15, ())
    # A multi-leg auction with ISO: volume, not classified.
    assert eligibility((233, 219)) == (V, ())


def test_every_record_names_a_source_and_a_valid_mask() -> None:
    assert len(CONDITIONS) > 80
    for cid, rec in CONDITIONS.items():
        assert rec.id == cid
        assert rec.source
        assert rec.asset_class == ("options" if cid >= 200 else "stocks")
        assert rec.flags is None or 0 <= rec.flags <= 15


@given(st.lists(st.integers(min_value=0, max_value=300), max_size=6))
def test_and_is_order_free_and_monotone(ids: list[int]) -> None:
    flags, unknown = eligibility(tuple(ids))
    assert eligibility(tuple(reversed(ids))) == (flags, unknown)
    for cid in ids:  # adding an id never adds a bit
        single, _ = eligibility((cid,))
        assert flags & ~single == 0 or CONDITIONS.get(cid) is None
    assert set(unknown) == {c for c in ids if c not in CONDITIONS}


def test_condition_table_uses_eligibility_by_default() -> None:
    table = ConditionTable()
    a = table.intern([37, 14])
    b = table.intern((14, 37, 14))
    assert a == b == 1
    assert table.flags.tolist() == [15, V | CL]
    assert table.unknown[table.intern([500])] == (500,)
