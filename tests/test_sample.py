"""The seeded sample-session generator: determinism, Massive format, realism, cache behaviour."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spxcc_core.errors import ConfigError
from spxcc_core.sample import (
    DATASETS,
    HEADERS,
    generate_columns,
    generate_session,
    occ_ticker,
    session_clock,
)
from spxcc_core.sample.options import bs_price

SMALL = 0.05  # ≈ 40k SPY quotes, 10k SPY trades


@pytest.fixture(scope="module")
def small_session(tmp_path_factory: pytest.TempPathFactory):
    return generate_session(tmp_path_factory.mktemp("cache"), scale=SMALL)


@pytest.fixture(scope="module")
def small_columns():
    return generate_columns(scale=SMALL)


def _lines(path: Path, n: int) -> list[str]:
    with gzip.open(path, "rt") as f:
        return [next(f).rstrip("\n") for _ in range(n)]


# --- clock -------------------------------------------------------------------------------------

def test_session_clock_is_new_york_time_dst_correct():
    # 2025-07-11 is EDT (UTC-4): 09:30 NY = 13:30 UTC; 2025-12-12 is EST (UTC-5): 14:30 UTC.
    summer = session_clock(dt.date(2025, 7, 11))
    assert summer.open_ns == 1_752_240_600_000_000_000
    assert summer.close_ns == 1_752_264_000_000_000_000
    winter = session_clock(dt.date(2025, 12, 12))
    assert winter.open_ns == 1_765_549_800_000_000_000
    assert winter.seconds == 23_400


# --- determinism and files ----------------------------------------------------------------------

def test_same_seed_gives_identical_bytes_and_other_seed_differs(tmp_path, small_session):
    again = generate_session(tmp_path / "a", scale=SMALL)
    assert not again.reused
    for ds in DATASETS:
        assert again.paths[ds].read_bytes() == small_session.paths[ds].read_bytes()
    other = generate_session(tmp_path / "b", scale=SMALL, seed=15)
    assert other.sha256["us_stocks_sip/quotes_v1"] != again.sha256["us_stocks_sip/quotes_v1"]


def test_files_have_exact_massive_headers_and_layout(small_session):
    assert small_session.root.name == "14-2025-12-12-0.05"
    expected = {
        "us_stocks_sip/trades_v1": "ticker,conditions,correction,exchange,id,participant_timestamp,"
        "price,sequence_number,sip_timestamp,size,tape,trf_id,trf_timestamp",
        "us_stocks_sip/quotes_v1": "ticker,ask_exchange,ask_price,ask_size,bid_exchange,bid_price,"
        "bid_size,conditions,indicators,participant_timestamp,sequence_number,sip_timestamp,tape,"
        "trf_timestamp",
        "us_options_opra/trades_v1": "ticker,conditions,correction,exchange,participant_timestamp,"
        "price,sip_timestamp,size",
        "us_options_opra/quotes_v1": "ticker,ask_exchange,ask_price,ask_size,bid_exchange,"
        "bid_price,bid_size,sequence_number,sip_timestamp",
        "us_indices/values_v1": "ticker,value,timestamp",
    }
    for ds, header in expected.items():
        path = small_session.paths[ds]
        assert path.relative_to(small_session.root).as_posix() == f"{ds}/2025/12/2025-12-12.csv.gz"
        assert _lines(path, 1)[0] == header
        assert ",".join(HEADERS[ds]) == header


def test_gzip_header_has_no_mtime_and_no_name(small_session):
    raw = small_session.paths["us_indices/values_v1"].read_bytes()
    assert raw[:2] == b"\x1f\x8b"
    assert raw[3] == 0  # FLG: no FNAME, no FEXTRA, no FCOMMENT
    assert raw[4:8] == b"\x00\x00\x00\x00"  # MTIME = 0


def test_manifest_records_counts_and_hashes(small_session):
    import json

    manifest = json.loads(small_session.manifest_path.read_text())
    assert manifest["seed"] == 14 and manifest["date"] == "2025-12-12"
    assert manifest["scale"] == SMALL
    for f in manifest["files"]:
        path = small_session.root / f["path"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == f["sha256"]
        with gzip.open(path, "rt") as fh:
            assert sum(1 for _ in fh) - 1 == f["rows"]


def test_rows_are_massive_formatted(small_session):
    with gzip.open(small_session.paths["us_stocks_sip/trades_v1"], "rt") as fh:
        text = fh.read()
    rows = text.splitlines()[1:]
    assert any(r.startswith('SPY,"14,37",') for r in rows)  # multi-id list quoted
    assert any(r.startswith("SPY,,0,") for r in rows)  # regular sale: empty conditions
    assert any(r.startswith("SPY,37,") for r in rows)  # single id: unquoted
    assert '"' not in "".join(r.split('"14,37"')[0] + r.split('"14,37"')[-1] for r in rows)
    quote = _lines(small_session.paths["us_stocks_sip/quotes_v1"], 2)[1].split(",")
    assert quote[0] == "SPY" and len(quote) == 14
    assert re.fullmatch(r"\d{19}", quote[11])  # sip_timestamp, ns


def test_reuse_and_rebuild_of_incomplete_folder(tmp_path):
    first = generate_session(tmp_path, scale=0.01)
    assert not first.reused
    second = generate_session(tmp_path, scale=0.01)
    assert second.reused and second.paths == first.paths
    sha = first.sha256["us_stocks_sip/trades_v1"]
    first.paths["us_stocks_sip/trades_v1"].write_bytes(b"truncated")
    rebuilt = generate_session(tmp_path, scale=0.01)
    assert not rebuilt.reused
    assert hashlib.sha256(rebuilt.paths["us_stocks_sip/trades_v1"].read_bytes()).hexdigest() == sha
    # A folder without a manifest (an interrupted run) is rebuilt, and no temp folder remains.
    rebuilt.manifest_path.unlink()
    assert not generate_session(tmp_path, scale=0.01).reused
    assert sorted(p.name for p in tmp_path.iterdir()) == ["14-2025-12-12-0.01"]


@pytest.mark.parametrize("scale", [0, -1, 41, float("nan"), "x"])
def test_bad_scale_is_a_config_error(tmp_path, scale):
    with pytest.raises(ConfigError, match="scale"):
        generate_session(tmp_path, scale=scale)


def test_unwritable_cache_dir_is_a_config_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="cannot write"):
        generate_session(blocker / "sub", scale=0.01)


# --- realism ----------------------------------------------------------------------------------

def test_event_counts_follow_scale(small_columns):
    c = small_columns.counts
    # scale 0.05: 800k × 0.05 = 40,000 quotes, 200k × 0.05 = 10,000 trades (Poisson, ±5%).
    assert 38_000 <= c["us_stocks_sip/quotes_v1"] <= 42_000
    assert 9_500 <= c["us_stocks_sip/trades_v1"] <= 10_500
    assert c["us_indices/values_v1"] == 23_400  # one value per second of 6.5 h


def test_times_lie_in_regular_hours(small_columns):
    clock = session_clock(dt.date(2025, 12, 12))
    q = small_columns.stock_quotes.columns["sip_timestamp"]
    assert q.min() >= clock.open_ns and q.max() < clock.close_ns
    t = small_columns.stock_trades.columns["sip_timestamp"]
    # Only the closing auction and its official-close marker print after 16:00.
    assert int(np.count_nonzero(t >= clock.close_ns)) == 2
    assert t.min() >= clock.open_ns


def test_quotes_realistic(small_columns):
    c = small_columns.stock_quotes.columns
    valid = (c["bid_size"] > 0) & (c["ask_size"] > 0) & (c["bid_price"] > 0) & (c["ask_price"] > 0)
    assert np.all(c["bid_size"] % 40 == 0) and np.all(c["ask_size"] % 40 == 0)
    spread_c = np.round((c["ask_price"] - c["bid_price"]) * 100)[valid]
    assert np.mean(spread_c == 1) > 0.8
    assert np.count_nonzero(spread_c < 0) >= 1  # crossed
    assert np.count_nonzero(spread_c == 0) >= 1  # locked (valid)
    empty = (c["bid_price"] == 0) & (c["bid_size"] == 0) | (c["ask_price"] == 0) & (c["ask_size"] == 0)
    assert np.count_nonzero(empty) >= 1
    assert np.count_nonzero((c["bid_size"] == 0) & (c["bid_price"] > 0)
                            | (c["ask_size"] == 0) & (c["ask_price"] > 0)) >= 1
    assert np.all(c["participant_timestamp"] <= c["sip_timestamp"])


def _late_and_dup(ts: np.ndarray, seq: np.ndarray | None) -> tuple[int, int]:
    prev_max = np.maximum.accumulate(ts)[:-1]
    late = int(np.count_nonzero(ts[1:] < prev_max))
    dup = 0 if seq is None else int(np.count_nonzero((ts[1:] == ts[:-1]) & (seq[1:] == seq[:-1])))
    return late, dup


def test_quarantine_paths_are_planted(small_columns):
    for table in (small_columns.stock_trades, small_columns.stock_quotes):
        c = table.columns
        late, dup = _late_and_dup(c["sip_timestamp"], c["sequence_number"])
        assert late >= 1 and dup >= 1
    assert np.count_nonzero(small_columns.stock_trades.columns["correction"]) >= 1


def test_trades_are_aggressor_consistent_and_conditioned(small_columns):
    t = small_columns.stock_trades.columns
    q = small_columns.stock_quotes.columns
    order = np.argsort(q["sip_timestamp"], kind="stable")
    qts = q["sip_timestamp"][order]
    j = np.searchsorted(qts, t["sip_timestamp"], side="left") - 1
    ok = j >= 0
    jj = order[np.maximum(j, 0)]
    bid, ask = q["bid_price"][jj], q["ask_price"][jj]
    good = ok & (bid > 0) & (ask >= bid) & (q["bid_size"][jj] > 0) & (q["ask_size"][jj] > 0)
    sets = small_columns.stock_trades.condition_sets
    auction = np.isin(t["conditions"], [sets.index(c) for c in [(25,), (16,), (8,), (15,)]])
    good &= ~auction
    px = t["price"]
    at_ask = good & np.isclose(px, ask)
    at_bid = good & np.isclose(px, bid)
    assert np.mean(at_ask | at_bid) > 0.6
    # Every print is within one cent of the touch in force (sweeps go one cent through).
    assert np.all((px[good] >= bid[good] - 0.0100001) & (px[good] <= ask[good] + 0.0100001))
    used = {sets[i] for i in np.unique(t["conditions"])}
    assert {(), (37,), (14,), (14, 37), (25,), (8,), (15,), (16,)} <= used
    odd = t["conditions"] == sets.index((37,))
    assert np.all(t["size"][odd] < 100)
    # ~5% of trades share their exact ns with a quote (a quote stamped with the trade).
    shared = np.isin(t["sip_timestamp"], q["sip_timestamp"])
    assert 0.03 < np.mean(shared) < 0.1


def test_black_scholes_hand_value():
    # S = K = 100, σ = 0.2, T = 1, r = 0: d1 = 0.1, d2 = -0.1,
    # C = 100 (N(0.1) − N(−0.1)) = 100 × (0.539828 − 0.460172) = 7.9656; P = C (parity, S = K).
    c = bs_price(np.array([100.0]), 100.0, np.array([1.0]), 0.2, True)[0]
    p = bs_price(np.array([100.0]), 100.0, np.array([1.0]), 0.2, False)[0]
    assert c == pytest.approx(7.9656, abs=2e-4)
    assert p == pytest.approx(c, abs=1e-6)


def test_options_are_spxw_0dte_near_the_money_and_priced_off_the_index(small_columns):
    oq = small_columns.option_quotes
    idx = small_columns.index_values.columns
    assert len(oq.tickers) == 6
    assert occ_ticker("SPXW", dt.date(2025, 12, 12), "C", 6890) == "O:SPXW251212C06890000"
    spx_open = idx["value"][0]
    for t in oq.tickers:
        m = re.fullmatch(r"O:SPXW251212([CP])(\d{8})", t)
        assert m, t
        assert abs(int(m.group(2)) / 1000 - spx_open) <= 10
    # Call − put at the same strike ≈ S − K (put-call parity, r = 0) over the first 15 minutes.
    c = oq.columns
    mid = (c["bid_price"] + c["ask_price"]) / 2
    strikes = sorted({t[-8:] for t in oq.tickers})
    k = strikes[1]
    end = session_clock(dt.date(2025, 12, 12)).open_ns + 900 * 10**9
    early = c["sip_timestamp"] < end
    call = mid[(c["ticker"] == oq.tickers.index(f"O:SPXW251212C{k}")) & early].mean()
    put = mid[(c["ticker"] == oq.tickers.index(f"O:SPXW251212P{k}")) & early].mean()
    spx = idx["value"][idx["timestamp"] < end].mean()
    assert call - put == pytest.approx(spx - int(k) / 1000, abs=3.0)
    # SPX ≈ 10 × SPY.
    spy = small_columns.stock_quotes.columns["bid_price"]
    spy_first = spy[spy > 0][0]
    assert spx_open / spy_first == pytest.approx(10.0, abs=0.01)


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_invariants_hold_for_any_seed(seed):
    s = generate_columns(seed=seed, scale=0.01)
    q = s.stock_quotes.columns
    assert np.all(q["bid_size"] % 40 == 0) and np.all(q["ask_size"] % 40 == 0)
    t = s.stock_trades.columns
    assert np.all(np.isfinite(t["price"])) and np.all(t["price"] > 0) and np.all(t["size"] > 0)
    late, _ = _late_and_dup(t["sip_timestamp"], None)
    assert late <= 5  # only the planted late rows break time order
    oq = s.option_quotes.columns
    assert np.all(oq["ask_price"] > 0) and np.all(oq["bid_price"] >= 0)
    assert np.all((oq["bid_price"] == 0) == (oq["bid_size"] == 0))


# --- summary and `spxcc demo` -----------------------------------------------------------------

def _bar(start, *, volume, vwap, delta, coverage, spread, bid, ask):
    from spxcc_core.contracts.microbar import MicrobarV2

    return MicrobarV2(symbol="SPY", start_ms=start, interval_ms=1000, open=10.0, high=10.0,
                      low=10.0, close=10.0, volume=volume, trade_count=1, vwap=vwap,
                      delta_volume=delta, bid_ask_imbalance=None,
                      ask_bid_size_ratio=None if bid is None else ask / bid,
                      quote_coverage_pct=coverage, avg_spread_bps=spread, bid_size_at_close=bid,
                      ask_size_at_close=ask, quote_count=0)


def test_summary_is_hand_computable():
    from spxcc_core.sample.summary import summarize_bars

    bars = [_bar(0, volume=100, vwap=10.0, delta=100, coverage=50.0, spread=10.0, bid=100.0,
                 ask=400.0),
            _bar(1000, volume=300, vwap=10.2, delta=-50, coverage=0.0, spread=None, bid=None,
                 ask=None),
            _bar(2000, volume=0, vwap=None, delta=0, coverage=100.0, spread=20.0, bid=400.0,
                 ask=100.0)]
    s = summarize_bars(bars, events_in=10, applied=7, quarantined={"late": 2}, duplicates=1)
    # VWAP (10.0·100 + 10.2·300) / 400 = 4060 / 400 = 10.15; coverage (50 + 0 + 100) / 3 = 50;
    # spread over non-null (10 + 20) / 2 = 15; ratios 4.0 (> 3) and 0.25 (< 0.33) of 2 bars.
    assert (s.bars, s.volume, s.delta_volume) == (3, 400, 50)
    assert s.vwap == pytest.approx(10.15, rel=1e-12)
    assert s.mean_quote_coverage_pct == pytest.approx(50.0)
    assert s.mean_spread_bps == pytest.approx(15.0)
    assert (s.bars_with_close_quote, s.heavy_offer_share, s.heavy_bid_share) == (2, 0.5, 0.5)
    assert s.quarantined == {"late": 2, "duplicate": 1}


def test_demo_command_json_and_table(tmp_path, capsys):
    import json

    from spxcc_core.cli import main

    assert main(["demo", "--scale", "0.02", "--cache-dir", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    summary, session = out["summary"], out["session"]
    assert session["reused"] is False and session["seed"] == 14
    assert all(Path(p).is_file() for p in session["paths"].values())
    assert summary["bars"] > 1000 and summary["volume"] > 0
    assert 600 < summary["vwap"] < 800
    assert 50 < summary["meanQuoteCoveragePct"] <= 100
    assert summary["eventsIn"] == (session["counts"]["us_stocks_sip/trades_v1"]
                                   + session["counts"]["us_stocks_sip/quotes_v1"])
    assert {"late", "correction", "crossed_quote", "empty_side", "duplicate"} <= set(
        summary["quarantined"])
    assert summary["eventsIn"] == summary["applied"] + sum(summary["quarantined"].values())

    assert main(["demo", "--scale", "0.02", "--cache-dir", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "SPY microbars" in text and "quarantined: late" in text
    assert "Session reused in" in text


def test_demo_bad_input_is_one_line_exit_2(tmp_path, capsys):
    from spxcc_core.cli import main

    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["demo", "--cache-dir", str(blocker)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("spxcc: error: --cache-dir") and err.count("\n") == 1
    assert main(["demo", "--scale", "-1", "--cache-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("spxcc: error: scale")
