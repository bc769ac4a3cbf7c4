"""An event stamped before the epoch (``ts < 0``) is quarantined as ``bad_timestamp`` on every
ingestion path (flat file, REST pages, websocket recording), by both engines, byte for byte.

Hand-worked session (S = an exact second): trades, in arrival order, SPY at -1 s (bad), SPY at
S+100 ms 10.00 x 100, SPY at S+200 ms 10.02 x 10; quotes SPY at -1 ns (bad) and at S 9.99 x 1 /
10.01 x 1. Expected: one bar at S (open 10.00, close 10.02, volume 110, two trades, one quote),
``eventsIn`` 5 = 3 applied + 2 ``bad_timestamp``; no bar with a negative ``startMs``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from spxcc_core.cli import main

S_NS = 1_700_000_000_000_000_000
S_MS = S_NS // 1_000_000
MS = 1_000_000

TRADE_HEADER = "ticker,conditions,correction,exchange,price,sequence_number,sip_timestamp,size"
QUOTE_HEADER = "ticker,ask_price,ask_size,bid_price,bid_size,sequence_number,sip_timestamp"

#: (ts ns, price, size, seq) and (ts ns, bid, bid size, ask, ask size, seq), arrival order.
TRADES = [(-1_000_000_000, 10.01, 5, 1), (S_NS + 100 * MS, 10.00, 100, 2),
          (S_NS + 200 * MS, 10.02, 10, 3)]
QUOTES = [(-1 * MS, 9.98, 1, 10.00, 1, 1), (S_NS, 9.99, 1, 10.01, 1, 2)]


def _flat(tmp: Path) -> list[str]:
    t, q = tmp / "trades.csv", tmp / "quotes.csv"
    t.write_text("\n".join([TRADE_HEADER] + [f"SPY,,0,4,{p},{s},{ts},{z}"
                                             for ts, p, z, s in TRADES]) + "\n")
    q.write_text("\n".join([QUOTE_HEADER] + [f"SPY,{a},{az},{b},{bz},{s},{ts}"
                                             for ts, b, bz, a, az, s in QUOTES]) + "\n")
    return ["--trades", str(t), "--quotes", str(q)]


def _rest(tmp: Path) -> list[str]:
    t, q = tmp / "trades.json", tmp / "quotes.json"
    t.write_text(json.dumps({"status": "OK", "results": [
        {"ticker": "SPY", "sip_timestamp": ts, "price": p, "size": z, "sequence_number": s}
        for ts, p, z, s in TRADES]}))
    q.write_text(json.dumps({"status": "OK", "results": [
        {"ticker": "SPY", "sip_timestamp": ts, "bid_price": b, "bid_size": bz, "ask_price": a,
         "ask_size": az, "sequence_number": s} for ts, b, bz, a, az, s in QUOTES]}))
    return ["--trades", str(t), "--quotes", str(q)]


def _ws(tmp: Path) -> list[str]:
    ws = tmp / "frames.jsonl"
    frames = [[{"ev": "Q", "sym": "SPY", "bp": b, "bs": bz, "ap": a, "as": az, "t": ts // MS,
                "q": s}] for ts, b, bz, a, az, s in QUOTES]
    frames += [[{"ev": "T", "sym": "SPY", "p": p, "s": z, "t": ts // MS, "q": s}]
               for ts, p, z, s in TRADES]
    ws.write_text("\n".join(json.dumps(f) for f in frames) + "\n")
    return ["--ws", str(ws)]


@pytest.mark.parametrize("source", [_flat, _rest, _ws], ids=["flat", "rest", "websocket"])
def test_events_before_the_epoch_are_quarantined_as_bad_timestamp(
        source: Callable[[Path], list[str]], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    args = source(tmp_path)
    runs = {}
    for engine in ("batch", "stream"):
        out, rep, qua = (tmp_path / f"{engine}.{n}" for n in ("bars.jsonl", "report.json",
                                                              "q.jsonl"))
        assert main(["bars", *args, "--engine", engine, "--out", str(out), "--report", str(rep),
                     "--quarantine", str(qua)]) == 0
        runs[engine] = (out.read_bytes(), rep.read_bytes(), qua.read_bytes())
    capsys.readouterr()
    assert runs["batch"] == runs["stream"]
    bars = [json.loads(x) for x in runs["batch"][0].splitlines()]
    assert [(b["startMs"], b["open"], b["close"], b["volume"], b["tradeCount"], b["quoteCount"])
            for b in bars] == [(S_MS, 10.00, 10.02, 110, 2, 1)]
    report = json.loads(runs["batch"][1])
    assert (report["eventsIn"], report["applied"], report["quarantined"], report["late"]) == (
        5, 3, {"bad_timestamp": 2}, 0)
    quarantine = sorted((r["kind"], r["reason"], r["ts"], r["seq"])
                        for r in map(json.loads, runs["batch"][2].splitlines()))
    assert quarantine == [("quote", "bad_timestamp", -1 * MS, 1),
                          ("trade", "bad_timestamp", -1_000_000_000, 1)]


def test_a_bad_timestamp_after_good_events_is_not_late(tmp_path: Path) -> None:
    """bad_timestamp is checked before late: a pre-epoch event after good ones is reported as
    bad_timestamp, and it never moves the watermark (the next good event is not late)."""
    t = tmp_path / "trades.csv"
    t.write_text("\n".join([TRADE_HEADER, f"SPY,,0,4,10.00,1,{S_NS},1",
                            "SPY,,0,4,10.00,2,-5,1", f"SPY,,0,4,10.01,3,{S_NS + 1},1"]) + "\n")
    out, rep = tmp_path / "b.jsonl", tmp_path / "r.json"
    assert main(["bars", "--trades", str(t), "--out", str(out), "--report", str(rep)]) == 0
    report = json.loads(rep.read_text())
    assert (report["applied"], report["quarantined"]) == (2, {"bad_timestamp": 1})
