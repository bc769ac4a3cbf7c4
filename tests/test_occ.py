"""OCC option symbols: hand-written examples, every rejection, and a round-trip property."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spxcc_core.errors import InputError
from spxcc_core.occ import OptionSymbol, format_occ, is_occ, parse_occ


def test_spxw_call_from_glossary() -> None:
    s = parse_occ("SPXW261125C05900000")
    assert (s.root, s.expiry, s.right, s.strike, s.underlying) == (
        "SPXW", date(2026, 11, 25), "C", Decimal("5900"), "SPX")
    assert s.strike_milli == 5_900_000
    assert s.is_call


def test_massive_prefix_and_osi_padding_are_the_same_contract() -> None:
    plain = parse_occ("SPY190605P00282500")
    assert parse_occ("O:SPY190605P00282500") == plain
    assert parse_occ("SPY   190605P00282500") == plain
    assert plain.strike == Decimal("282.5")
    assert plain.underlying == "SPY"
    assert plain.occ(massive=True) == "O:SPY190605P00282500"
    assert plain.osi() == "SPY   190605P00282500"
    assert format_occ(plain) == "SPY190605P00282500"
    assert format_occ(plain, osi=True) == "SPY   190605P00282500"
    assert str(plain) == "SPY190605P00282500"


def test_root_mapping_and_explicit_underlying() -> None:
    assert parse_occ("SPX261218P04000000").underlying == "SPX"
    assert parse_occ("AAPL7140118C00195000").underlying == "AAPL7"
    assert parse_occ("AAPL7140118C00195000", underlying="AAPL").underlying == "AAPL"


def test_of_builds_from_price_units() -> None:
    s = OptionSymbol.of("SPXW", date(2026, 11, 25), "P", "5912.5")
    assert s.occ() == "SPXW261125P05912500"
    assert OptionSymbol.of("XSP", date(2026, 1, 2), "C", 0.5).occ() == "XSP260102C00000500"
    with pytest.raises(InputError, match="more than 3 decimals"):
        OptionSymbol.of("SPXW", date(2026, 11, 25), "P", "5912.0005")
    with pytest.raises(InputError, match="outside"):
        OptionSymbol.of("SPXW", date(2026, 11, 25), "P", 100_000)


@pytest.mark.parametrize(("text", "problem"), [
    ("", "expected ROOT"),
    ("SPXW261125X05900000", "right 'X' must be C or P"),
    ("SPXW261131C05900000", "not a valid YYMMDD date"),
    ("SPXW261125C5900000", "expected ROOT"),
    ("SPXWXYZ261125C05900000", "expected ROOT"),
    ("spxw261125C05900000", "upper-case"),
    ("1SPX261125C05900000", "upper-case letters/digits starting with a letter"),
    ("SPXW 261125C05900000", "exactly 6 characters wide"),
    ("SPXW261125C00000000", "strike is zero"),
    ("O:SPXW261125C05900000 ", "expected ROOT"),
])
def test_rejections_name_the_symbol_and_problem(text: str, problem: str) -> None:
    with pytest.raises(InputError) as info:
        parse_occ(text)
    assert repr(text) in str(info.value)
    assert problem in str(info.value)
    assert not is_occ(text)


def test_format_refuses_two_forms() -> None:
    with pytest.raises(ValueError, match="choose one"):
        format_occ(parse_occ("SPY190605P00282500"), massive=True, osi=True)


roots = st.from_regex(r"\A[A-Z][A-Z0-9]{0,5}\Z")
symbols = st.builds(
    lambda root, day, right, milli: OptionSymbol(root=root, expiry=day, right=right,
                                                 strike_milli=milli),
    roots, st.dates(date(2000, 1, 1), date(2099, 12, 31)), st.sampled_from(["C", "P"]),
    st.integers(1, 99_999_999))


@given(symbols)
def test_round_trip_in_every_form(sym: OptionSymbol) -> None:
    for text in (sym.occ(), sym.occ(massive=True), sym.osi()):
        assert parse_occ(text) == sym
    assert len(sym.osi()) == 21
    assert OptionSymbol.of(sym.root, sym.expiry, sym.right, sym.strike) == sym
