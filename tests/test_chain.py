"""Option-chain snapshots: the Massive snapshot JSON read into an OptionChain, rows skipped by
reason, clear errors, and the snapshot carried into the session cache."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spxcc_core.chain import load_chain_snapshot, parse_chain_snapshot
from spxcc_core.errors import ConfigError, InputError
from spxcc_core.replay.cache import CHAIN_FILE, discover_chain, ingest, open_cache

# 2024-03-11 is EDT (UTC−4): 16:00 New York = 20:00 UTC; 2024-03-11 00:00 UTC = 1 710 115 200 s
PM_2024_03_11 = 1_710_187_200_000  # + 20 h
AM_2024_03_11 = 1_710_163_800_000  # + 13 h 30 min (09:30 New York)


def row(ticker: str | None = "O:SPXW240311C05100000", kind: str = "call",
        strike: Any = 5100, expiry: str = "2024-03-11", oi: Any = 1500,
        iv: Any = 0.14, **extra: Any) -> dict[str, Any]:
    details: dict[str, Any] = {"contract_type": kind, "exercise_style": "european",
                               "expiration_date": expiry, "shares_per_contract": 100,
                               "strike_price": strike}
    if ticker is not None:
        details["ticker"] = ticker
    r: dict[str, Any] = {"details": details, "open_interest": oi, "implied_volatility": iv,
                         "greeks": {"gamma": 0.001},
                         "underlying_asset": {"ticker": "I:SPX", "value": 5117.09,
                                              "timeframe": "REAL-TIME"}}
    if oi is None:
        del r["open_interest"]
    if iv is None:
        del r["implied_volatility"]
    r.update(extra)
    return r


def doc(*rows: dict[str, Any]) -> bytes:
    return json.dumps({"status": "OK", "request_id": "x", "results": list(rows)}).encode()


def test_rows_become_chain_columns() -> None:
    snap = parse_chain_snapshot(doc(
        row(),
        row("O:SPXW240311P05050000", "put", 5050, oi=800, iv=None,
            last_quote={"bid": 1.1, "ask": 1.3, "midpoint": 1.2, "last_updated": 1}),
        row("O:SPX240315C05100000", "call", 5100.0, "2024-03-11", oi=20)))
    c = snap.chain
    assert snap.underlying == "I:SPX" and snap.underlying_price == 5117.09
    assert c.symbols == ("O:SPXW240311C05100000", "O:SPXW240311P05050000",
                         "O:SPX240315C05100000")
    assert c.strike.tolist() == [5100.0, 5050.0, 5100.0]
    assert c.is_call.tolist() == [True, False, True]
    assert c.open_interest.tolist() == [1500.0, 800.0, 20.0]
    assert c.iv[0] == 0.14 and math.isnan(c.iv[1]) and c.iv[2] == 0.14
    assert math.isnan(c.bid[0]) and (c.bid[1], c.ask[1]) == (1.1, 1.3)
    # SPXW settles at 16:00 New York; the SPX root (AM-settled) at 09:30 on its expiry date
    assert c.expiry_ms.tolist() == [PM_2024_03_11, PM_2024_03_11, AM_2024_03_11]
    assert snap.skipped == {} and snap.open_interest_missing == 0 and len(snap) == 3


def test_unusable_rows_are_counted_by_reason_never_dropped_silently() -> None:
    snap = parse_chain_snapshot(doc(
        row(),
        row(ticker=None),
        {"open_interest": 3},
        row("O:X1", kind="other"),
        row("O:X2", strike=0),
        row("O:X3", strike=None),
        row("O:X4", expiry="2024-13-01"),
        row("O:X5", shares_per_contract=10, details={
            "contract_type": "call", "expiration_date": "2024-03-11", "strike_price": 5,
            "shares_per_contract": 10, "ticker": "O:X5"}),
        row(),  # the same ticker again
        row("O:SPXW240311P05100000", "put", oi=None)))
    assert snap.chain.symbols == ("O:SPXW240311C05100000", "O:SPXW240311P05100000")
    assert snap.skipped == {"contractType": 1, "duplicate": 1, "expiry": 1, "noTicker": 2,
                            "sharesPerContract": 1, "strike": 2}
    assert snap.open_interest_missing == 1
    assert snap.chain.open_interest.tolist() == [1500.0, 0.0]


def test_pages_and_stock_underlyings() -> None:
    page1 = {"status": "OK", "results": [row("O:SPY240311C00510000", strike=510,
                                             underlying_asset={"ticker": "SPY", "price": 511.2})],
             "next_url": "https://api.massive.com/v3/snapshot/options/SPY?cursor=abc"}
    page2 = {"status": "OK", "results": [row("O:SPY240311P00505000", "put", 505,
                                             underlying_asset={"ticker": "SPY", "price": 511.3})]}
    snap = parse_chain_snapshot(json.dumps([page1, page2]).encode())
    assert snap.underlying == "SPY" and snap.underlying_price == 511.2
    assert len(snap) == 2


@pytest.mark.parametrize(("data", "match"), [
    (b"{not json", "not a Massive option-chain snapshot"),
    (b'{"results": 5}', "not a Massive option-chain snapshot"),
    (b'{"results": [{"details": {"strike_price": "high"}}]}', "strike_price"),
    (b'{"status": "OK", "results": []}', r"no usable option contract \(no rows\)"),
    (doc(row(kind="other")), r"no usable option contract \(contractType 1\)"),
    (doc(row(), row("O:Y", underlying_asset={"ticker": "I:NDX", "value": 1.0})),
     "more than one underlying: I:NDX, I:SPX"),
    (doc(row(underlying_asset=None)), "no underlying_asset.ticker"),
])
def test_bad_documents_name_the_input_and_the_problem(data: bytes, match: str) -> None:
    with pytest.raises(InputError, match=match) as err:
        parse_chain_snapshot(data, "snap.json")
    assert str(err.value).startswith("snap.json: ")


def test_underlying_may_be_given_when_rows_name_none(tmp_path: Path) -> None:
    p = tmp_path / "snap.json"
    p.write_bytes(doc(row(underlying_asset=None)))
    snap = load_chain_snapshot(p, underlying="I:SPX")
    assert snap.underlying == "I:SPX" and snap.underlying_price is None
    with pytest.raises(InputError, match="file not found"):
        load_chain_snapshot(tmp_path / "missing.json")
    with pytest.raises(InputError, match="is a directory"):
        load_chain_snapshot(tmp_path)


@given(st.lists(st.tuples(st.integers(1, 9999), st.booleans(), st.integers(0, 10**6)),
                min_size=1, max_size=30, unique_by=lambda t: (t[0], t[1])))
def test_every_valid_row_is_kept_in_order(rows: list[tuple[int, bool, int]]) -> None:
    items = [row(f"O:SPXW240311{'C' if c else 'P'}{k * 1000:08d}", "call" if c else "put", k,
                 oi=oi) for k, c, oi in rows]
    snap = parse_chain_snapshot(doc(*items))
    assert snap.chain.strike.tolist() == [float(k) for k, _, _ in rows]
    assert snap.chain.is_call.tolist() == [c for _, c, _ in rows]
    assert snap.chain.open_interest.sum() == sum(oi for *_, oi in rows)
    assert snap.skipped == {}


# ----------------------------------------------------------------------------- session cache

T0 = 1_704_205_800_000  # 2024-01-02 09:30 New York
NS = 1_000_000
TRADES = ("ticker,conditions,correction,exchange,id,participant_timestamp,price,"
          "sequence_number,sip_timestamp,size,tape,trf_id,trf_timestamp\n"
          f"SPY,,0,11,1,0,470.0,1,{T0 * NS},100,2,0,0\n")


def day_folder(root: Path, *chains: tuple[str, bytes]) -> Path:
    root.mkdir(parents=True)
    (root / "trades-2024-01-02.csv").write_text(TRADES)
    for name, data in chains:
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return root


CHAIN = doc(row("O:SPXW240102C04700000", strike=4700, expiry="2024-01-02"),
            row("O:SPXW240102P04700000", "put", 4700, "2024-01-02"))


def test_ingest_carries_the_chain_snapshot_into_the_cache(tmp_path: Path) -> None:
    src = day_folder(tmp_path / "day",
                     ("us_options_opra/chain_snapshot/2024-01-02.json", CHAIN),
                     ("notes/other.json", b"{}"))  # a JSON file elsewhere is not a snapshot
    cache = ingest(src, tmp_path / "cache")
    entry = cache.manifest.chain_snapshot
    assert entry is not None
    assert (entry.file, entry.source, entry.underlying, entry.contracts, entry.source_bytes) == (
        CHAIN_FILE, "us_options_opra/chain_snapshot/2024-01-02.json", "I:SPX", 2, len(CHAIN))
    assert (cache.root / CHAIN_FILE).read_bytes() == CHAIN
    again = open_cache(cache.root)
    snap = again.chain_snapshot()
    assert snap is not None and snap.chain.symbols[0] == "O:SPXW240102C04700000"
    assert cache.root / CHAIN_FILE in list(again.files())
    # by mapping, and without one
    mapped = ingest({"stocks_trades": src / "trades-2024-01-02.csv",
                     "chain_snapshot": src / "us_options_opra/chain_snapshot/2024-01-02.json"},
                    tmp_path / "mapped")
    assert mapped.manifest.chain_snapshot == entry.__class__(
        **{**{f: getattr(entry, f) for f in entry.__struct_fields__},
           "source": "2024-01-02.json"})
    plain = ingest({"stocks_trades": src / "trades-2024-01-02.csv"}, tmp_path / "plain")
    assert plain.manifest.chain_snapshot is None and plain.chain_snapshot() is None


def test_bad_or_foreign_snapshots_are_refused_and_leave_nothing(tmp_path: Path) -> None:
    bad = day_folder(tmp_path / "bad", ("chain_snapshot/2024-01-02.json", b"[1, 2]"))
    with pytest.raises(InputError, match=r"2024-01-02\.json: not a Massive option-chain"):
        ingest(bad, tmp_path / "c1")
    assert not (tmp_path / "c1").exists()
    other_day = day_folder(tmp_path / "other", ("chain_snapshot/2024-01-03.json", CHAIN))
    with pytest.raises(InputError, match="chain snapshot of 2024-01-03 for a session of "
                                         "2024-01-02"):
        ingest(other_day, tmp_path / "c2")
    two = day_folder(tmp_path / "two", ("a/chain_snapshot/2024-01-02.json", CHAIN),
                     ("b/chain_snapshot/2024-01-02.json", CHAIN))
    with pytest.raises(InputError, match="two chain snapshots"):
        discover_chain(two)
    with pytest.raises(ConfigError, match="chain_snapshot"):
        ingest({"chain_snapshots": two / "a/chain_snapshot/2024-01-02.json"}, tmp_path / "c3")


def test_cache_missing_its_snapshot_is_an_error(tmp_path: Path) -> None:
    src = day_folder(tmp_path / "day", ("chain_snapshot/2024-01-02.json", CHAIN))
    cache = ingest(src, tmp_path / "cache")
    (cache.root / CHAIN_FILE).unlink()
    with pytest.raises(InputError, match="chain snapshot missing from the session cache"):
        open_cache(cache.root)
