"""Bar rows become the same MicrobarV2 objects through the msgpack path as field by field."""

from __future__ import annotations

import math

import msgspec
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from spxcc_core.aggregate import _kernel as K
from spxcc_core.aggregate._barpack import unpack_bars
from spxcc_core.contracts.microbar import MicrobarV2

ENC = msgspec.json.Encoder()
floats = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([0.0, -0.0, 1e-310])
ints = st.integers(-(2**63), 2**63 - 1)


def expected(names: list[str], row: list[int], f: list[float], interval_ms: int) -> MicrobarV2:
    """Field-by-field construction, written independently of the packer."""
    sym, start_ms, tcount, qcount, flags = row
    oc, hl = flags & K.BF_OC, flags & K.BF_HL
    fresh, closeq = flags & K.BF_FRESH, flags & K.BF_CLOSEQ
    spread, ratio = flags & K.BF_SPREAD, flags & K.BF_RATIO
    return MicrobarV2(
        symbol=names[sym], start_ms=start_ms, interval_ms=interval_ms,
        open=f[K.O_OPEN] if oc else None, high=f[K.O_HIGH] if hl else None,
        low=f[K.O_LOW] if hl else None, close=f[K.O_CLOSE] if oc else None,
        volume=f[K.O_VOL], trade_count=tcount,
        vwap=f[K.O_VWAP] if flags & K.BF_VWAP else None, delta_volume=f[K.O_DELTA],
        bid_ask_imbalance=f[K.O_IMB] if fresh else None,
        ask_bid_size_ratio=f[K.O_RATIO] if ratio else None, quote_coverage_pct=f[K.O_COV],
        avg_spread_bps=f[K.O_SPREAD] if spread else None,
        bid_size_at_close=f[K.O_BSZ] if closeq else None,
        ask_size_at_close=f[K.O_ASZ] if closeq else None, quote_count=qcount)


@settings(max_examples=200)
@given(names=st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=5, unique=True),
       rows=st.lists(st.tuples(st.integers(0, 4), ints, ints, ints, st.integers(0, 127),
                               st.lists(floats, min_size=K.NBF, max_size=K.NBF)), max_size=20),
       interval_ms=st.sampled_from([1, 250, 1000, 60_000]), cut=st.integers(0, 20))
def test_packed_bars_equal_field_by_field(names, rows, interval_ms, cut) -> None:
    rows = [(s % len(names), *rest) for s, *rest in rows]
    bi = np.array([r[:5] for r in rows], dtype=np.int64).reshape(-1, K.NBI)
    bf = np.array([r[5] for r in rows], dtype=np.float64).reshape(-1, K.NBF)
    blocks = [(bi[:cut], bf[:cut]), (bi[cut:], bf[cut:])]  # split: blocks are concatenated
    got = unpack_bars(blocks, names, interval_ms)
    want = [expected(names, list(r[:5]), r[5], interval_ms) for r in rows]
    assert got == want
    assert [ENC.encode(b) for b in got] == [ENC.encode(b) for b in want]
    for g, w in zip(got, want, strict=True):  # the sign of zero survives
        assert math.copysign(1.0, g.volume) == math.copysign(1.0, w.volume)


def test_symbol_table_growth_is_seen() -> None:
    names = ["A"]
    row = np.array([[0, 1000, 0, 0, 0]], dtype=np.int64)
    vals = np.zeros((1, K.NBF))
    assert unpack_bars([(row, vals)], names, 1000)[0].symbol == "A"
    names.append("BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB")  # longer than any before
    row2 = np.array([[1, 2000, 1, 2, 0]], dtype=np.int64)
    bars = unpack_bars([(row, vals), (row2, vals)], names, 1000)
    assert [b.symbol for b in bars] == ["A", names[1]]
    assert (bars[1].start_ms, bars[1].trade_count, bars[1].quote_count) == (2000, 1, 2)
    assert unpack_bars([], names, 1000) == []
