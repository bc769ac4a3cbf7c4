"""``spxcc bars`` end to end on real files in tmp_path (Massive flat-file CSV, gzip, WS frames)."""

from __future__ import annotations

import gzip
import json
import sys
import textwrap
from pathlib import Path

import pytest

from spxcc_core import plugins
from spxcc_core.cli import main

S_NS = 1_700_000_000_000_000_000  # an exact second, ns
S_MS = S_NS // 1_000_000
MS = 1_000_000

TRADE_HEADER = ("ticker,conditions,correction,exchange,id,participant_timestamp,price,"
                "sequence_number,sip_timestamp,size,tape,trf_id,trf_timestamp")
QUOTE_HEADER = ("ticker,ask_exchange,ask_price,ask_size,bid_exchange,bid_price,bid_size,"
                "conditions,indicators,participant_timestamp,sequence_number,sip_timestamp,tape,"
                "trf_timestamp")


def trade_row(ticker: str, ms: int, price: str, size: str, seq: int, cond: str = "",
              corr: int = 0) -> str:
    ts = S_NS + ms * MS
    return f'{ticker},"{cond}",{corr},4,{seq},{ts},{price},{seq},{ts},{size},1,0,0'


def quote_row(ticker: str, ms: int, bid: str, bsz: str, ask: str, asz: str, seq: int) -> str:
    ts = S_NS + ms * MS
    return f"{ticker},11,{ask},{asz},12,{bid},{bsz},,,{ts},{seq},{ts},1,0"


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    trades = [
        trade_row("SPY", 100, "10.03", "100", 1),
        trade_row("QQQ", 150, "5.00", "10", 2),           # other ticker (filtered with --ticker)
        trade_row("SPY", 400, "10.05", "50", 3, corr=1),  # correction: quarantined
        trade_row("SPY", 600, "10.00", "30", 4, cond="12,37"),
        trade_row("SPY", 1200, "10.06", "20", 5),
    ]
    quotes = [
        quote_row("SPY", 0, "10.00", "3", "10.04", "1", 1),
        quote_row("SPY", 500, "10.02", "1", "10.01", "1", 2),  # crossed: quarantined
        quote_row("SPY", 500, "10.01", "2", "10.03", "2", 3),
        quote_row("SPY", 1500, "10.02", "1", "10.04", "4", 4),
    ]
    tp = tmp_path / "trades.csv"
    tp.write_text("\n".join([TRADE_HEADER, *trades]) + "\n")
    qp = tmp_path / "quotes.csv.gz"
    qp.write_bytes(gzip.compress(("\n".join([QUOTE_HEADER, *quotes]) + "\n").encode()))
    return tp, qp


def run_cli(*argv: str) -> int:
    return main(["bars", *argv])


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_bars_report_and_quarantine(files, tmp_path, capsys) -> None:
    tp, qp = files
    out, rep, qua = tmp_path / "bars.jsonl", tmp_path / "report.json", tmp_path / "q.jsonl"
    assert run_cli("--trades", str(tp), "--quotes", str(qp), "--ticker", "SPY", "--out", str(out),
                   "--report", str(rep), "--quarantine", str(qua)) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "2 bars from 8 events" in captured.err
    b0, b1 = read_lines(out)
    # bucket 0: quote 1 (10.00×3 / 10.04×1, mid 10.02) in force over [0, 500), quote 3
    # (10.01×2 / 10.03×2, mid 10.02) over [500, 1000). Trade 10.03 > 10.02 → buy 100;
    # trade 10.00 (cond 12 = Form T: volume only, no HL/OC) < 10.02 → sell 30.
    assert b0["symbol"] == "SPY" and b0["startMs"] == S_MS
    assert (b0["open"], b0["high"], b0["low"], b0["close"]) == (10.03, 10.03, 10.03, 10.03)
    assert (b0["volume"], b0["tradeCount"], b0["deltaVolume"]) == (130, 2, 70)
    assert b0["vwap"] == pytest.approx((10.03 * 100 + 10.00 * 30) / 130)
    assert b0["bidAskImbalance"] == pytest.approx(0.5 * 0.5 + 0.5 * 0.0)
    assert b0["quoteCoveragePct"] == 100
    assert (b0["bidSizeAtClose"], b0["askSizeAtClose"], b0["askBidSizeRatio"]) == (2, 2, 1)
    assert b0["quoteCount"] == 2
    # bucket 1: trade 10.06 > mid 10.02 → buy 20; quote 4 at 1500 ms counts
    assert (b1["startMs"], b1["deltaVolume"], b1["quoteCount"]) == (S_MS + 1000, 20, 1)
    assert (b1["bidSizeAtClose"], b1["askSizeAtClose"], b1["askBidSizeRatio"]) == (1, 4, 4)
    report = json.loads(rep.read_text())
    assert report == {
        "eventsIn": 8, "trades": 4, "quotes": 4, "barsOut": 2, "applied": 6,
        "quarantined": {"correction": 1, "crossed_quote": 1}, "duplicates": 0, "late": 0,
        "unknownConditions": {}, "config": {"intervalMs": 1000, "staleMs": 2000,
                                            "latenessMs": 0, "ticker": "SPY"},
        "pluginErrors": []}
    assert read_lines(qua) == [
        {"kind": "trade", "reason": "correction", "symbol": "SPY", "ts": S_NS + 400 * MS,
         "seq": 3, "line": 3},
        {"kind": "quote", "reason": "crossed_quote", "symbol": "SPY", "ts": S_NS + 500 * MS,
         "seq": 2, "line": 2}]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bars.jsonl", "q.jsonl", "quotes.csv.gz", "report.json", "trades.csv"]


def test_engines_agree_byte_for_byte_and_v1(files, tmp_path) -> None:
    tp, qp = files
    outs = {}
    for engine in ("batch", "stream"):
        out = tmp_path / f"{engine}.jsonl"
        rep = tmp_path / f"{engine}.report.json"
        assert run_cli("--trades", str(tp), "--quotes", str(qp), "--engine", engine,
                       "--out", str(out), "--report", str(rep)) == 0
        outs[engine] = (out.read_bytes(), rep.read_bytes())
    assert outs["batch"] == outs["stream"]
    symbols = [b["symbol"] for b in (json.loads(x) for x in outs["batch"][0].splitlines())]
    assert symbols == ["QQQ", "SPY", "SPY"]  # symbol order, then startMs
    v1 = tmp_path / "v1.jsonl"
    assert run_cli("--trades", str(tp), "--quotes", str(qp), "--schema-version", "1",
                   "--out", str(v1)) == 0
    first = read_lines(v1)[0]
    assert list(first) == ["symbol", "startMs", "intervalMs", "open", "high", "low", "close",
                           "volume", "tradeCount", "vwap", "deltaVolume", "bidAskImbalance"]


def test_trades_only_run(files, tmp_path) -> None:
    tp, _ = files
    out, rep = tmp_path / "t.jsonl", tmp_path / "t.json"
    assert run_cli("--trades", str(tp), "--ticker", "SPY", "--out", str(out),
                   "--report", str(rep)) == 0
    bars = read_lines(out)
    assert [b["quoteCoveragePct"] for b in bars] == [0, 0]
    assert [b["deltaVolume"] for b in bars] == [-30, 20]  # tick test: 10.00 < 10.03, 10.06 > 10.00
    assert json.loads(rep.read_text())["quotes"] == 0


@pytest.mark.parametrize("engine", ["batch", "stream"])
def test_bad_row_stops_the_run_without_partial_outputs(files, tmp_path, capsys, engine) -> None:
    tp, qp = files
    bad = tmp_path / "bad.csv"
    lines = tp.read_text().splitlines()
    lines[4] = lines[4].replace("10.00", "ten")
    bad.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out" / "bars.jsonl"
    out.parent.mkdir()
    rc = run_cli("--trades", str(bad), "--quotes", str(qp), "--engine", engine, "--out", str(out),
                 "--report", str(out.parent / "r.json"))
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("spxcc: error: ")
    assert str(bad) in err and "row 4" in err
    assert list(out.parent.iterdir()) == []


def test_usage_errors_are_one_line(files, tmp_path, capsys) -> None:
    tp, _qp = files
    out = str(tmp_path / "o.jsonl")
    cases = [
        (["--trades", str(tmp_path / "missing.csv"), "--out", out], "missing.csv"),
        (["--trades", str(tp), "--out", out, "--interval-ms", "7"], "--interval-ms"),
        (["--trades", str(tp), "--out", out, "--engine", "polars"], "--engine"),
        (["--trades", str(tp), "--out", out, "--schema-version", "3"], "--schema-version"),
        (["--out", out], "--trades"),
        (["--trades", str(tp)], "--out"),
        (["--trades", str(tp), "--ws", str(tp), "--out", out], "--ws"),
        (["--trades", str(tp), "--out", str(tmp_path / "nope" / "o.jsonl")], "does not exist"),
    ]
    for argv, needle in cases:
        assert run_cli(*argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("spxcc: error: ") and err.count("\n") == 1, err
        assert needle in err
    assert not (tmp_path / "o.jsonl").exists()


def test_websocket_recording(tmp_path) -> None:
    t0 = S_MS
    frames = [
        [{"ev": "Q", "sym": "SPY", "bp": 10.00, "bs": 1, "ap": 10.02, "as": 3, "t": t0, "q": 1}],
        [{"ev": "T", "sym": "SPY", "p": 10.02, "s": 5, "c": [], "t": t0 + 10, "q": 1},
         {"ev": "T", "sym": "SPY", "p": 10.00, "s": 2, "t": t0 + 20, "q": 2},
         {"ev": "status", "status": "success", "message": "x"}],
        [{"ev": "Q", "sym": "SPY", "bp": 10.00, "bs": 1, "ap": 10.02, "as": 3, "t": t0 + 1000,
          "q": 2},
         {"ev": "T", "sym": "SPY", "p": 10.02, "s": 5, "c": [], "t": t0 + 10, "q": 1}],
    ]
    ws = tmp_path / "frames.jsonl"
    ws.write_text("\n".join(json.dumps(f) for f in frames) + "\n")
    outs = []
    for engine in ("batch", "stream"):
        out, qua = tmp_path / f"{engine}.jsonl", tmp_path / f"{engine}.q.jsonl"
        assert run_cli("--ws", str(ws), "--engine", engine, "--out", str(out),
                       "--quarantine", str(qua), "--lateness-ms", "50") == 0
        outs.append((out.read_bytes(), qua.read_bytes()))
    assert outs[0] == outs[1]
    (bar,) = read_lines(tmp_path / "batch.jsonl")
    # mid 10.01: 10.02 buy 5, 10.00 sell 2; the repeated trade (same q and values), 10 ms
    # behind max_ts (within the 50 ms lateness), is a duplicate
    assert (bar["volume"], bar["deltaVolume"], bar["quoteCount"]) == (7, 3, 1)
    (dup,) = read_lines(tmp_path / "batch.q.jsonl")
    assert (dup["kind"], dup["reason"], dup["seq"]) == ("trade", "duplicate", 1)


def test_plugin_failures_are_recorded(files, tmp_path, monkeypatch) -> None:
    (tmp_path / "boom_plugin.py").write_text(textwrap.dedent("""
        from spxcc_core.hookspecs import hookimpl

        @hookimpl
        def spxcc_on_microbar(bar, context):
            raise ValueError("boom " + bar.symbol)
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(plugins.BUILTIN_PLUGINS, "boom", "boom_plugin")
    tp, _qp = files
    out, rep = tmp_path / "b.jsonl", tmp_path / "r.json"
    try:
        assert run_cli("--trades", str(tp), "--ticker", "SPY", "--out", str(out),
                       "--report", str(rep)) == 0
    finally:
        sys.modules.pop("boom_plugin", None)
    errors = json.loads(rep.read_text())["pluginErrors"]
    assert errors == [{"plugin": "boom", "hook": "spxcc_on_microbar",
                       "error": "ValueError: boom SPY"}] * 2
    assert len(read_lines(out)) == 2
