"""Recorded websocket frames: mixed T/Q/V/status/unknown events, message indices, errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spxcc_core.aggregate.columns import ConditionTable, SymbolTable
from spxcc_core.errors import InputError
from spxcc_core.massive import WsStats, decode_frame, iter_ws_decoded, iter_ws_frames

FIX = Path(__file__).parent / "fixtures" / "massive"
MS0 = 1704205800000  # 2024-01-02 14:30:00 UTC in ms


def test_recording_all_tickers() -> None:
    symbols, conditions, stats = SymbolTable(), ConditionTable(), WsStats()
    frames = list(iter_ws_decoded(FIX / "ws_frames.jsonl", ticker=None, symbols=symbols,
                                  conditions=conditions, stats=stats))
    assert len(frames) == 5  # the blank line is not a frame
    assert [f.events for f in frames] == [1, 1, 2, 4, 1]
    assert frames[0].statuses == (("connected", "Connected Successfully"),)
    assert frames[1].statuses == (("auth_success", "authenticated"),)
    t = frames[2].trades
    assert t.ts.tolist() == [MS0 * 1_000_000]
    assert t.seq.tolist() == [11]
    assert t.price.tolist() == [472.65]
    assert t.size.tolist() == [100.0]
    assert conditions.sets[t.cond[0]] == (12, 37)
    assert t.line.tolist() == [3]
    q = frames[2].quotes
    assert (q.bid.tolist(), q.bid_size.tolist(), q.ask.tolist(), q.ask_size.tolist()) == (
        [472.64], [2.0], [472.66], [3.0])
    assert q.ts.tolist() == [(MS0 + 1) * 1_000_000]
    assert q.line.tolist() == [4]
    f4 = frames[3]
    assert f4.unknown == ("A",)
    assert f4.values.value.tolist() == [4742.83]
    assert f4.values.line.tolist() == [6]
    assert symbols.name(int(f4.values.symbol[0])) == "I:SPX"  # ticker from "T"
    assert f4.trades.line.tolist() == [7, 8]
    assert f4.trades.seq.tolist() == [12, -1]  # "q" absent on the second trade
    assert f4.trades.cond.tolist() == [0, 0]  # "c" absent: regular sale
    assert frames[4].quotes.line.tolist() == [9]
    assert symbols.names == ["SPY", "I:SPX", "QQQ"]
    assert (stats.events, stats.trades, stats.quotes, stats.values) == (9, 3, 2, 1)
    assert dict(stats.statuses) == {"connected": 1, "auth_success": 1}
    assert dict(stats.unknown) == {"A": 1}


def test_recording_filtered_tuples() -> None:
    symbols, stats = SymbolTable(), WsStats()
    pairs = list(iter_ws_frames(FIX / "ws_frames.jsonl", ticker="SPY", symbols=symbols,
                                conditions=ConditionTable(), stats=stats))
    assert len(pairs) == 5
    assert [t.line.tolist() for t, _ in pairs] == [[], [], [3], [8], []]
    assert [q.line.tolist() for _, q in pairs] == [[], [], [4], [], [9]]
    assert symbols.names == ["SPY"]
    # QQQ's trade and the I:SPX value are not events of this run; statuses and "A" still count.
    assert (stats.events, stats.trades, stats.quotes, stats.values) == (9, 2, 2, 0)


def test_gzip_recording(tmp_path: Path) -> None:
    path = tmp_path / "frames.jsonl.gz"
    path.write_bytes(gzip.compress((FIX / "ws_frames.jsonl").read_bytes(), mtime=0))
    stats = WsStats()
    list(iter_ws_frames(path, ticker=None, symbols=SymbolTable(), conditions=ConditionTable(),
                        stats=stats))
    assert stats.events == 9


def test_decode_frame_options_and_fractional_size() -> None:
    frame = [
        {"ev": "T", "sym": "O:AMC210827C00037000", "x": 65, "p": 1.54, "s": 1, "c": [233],
         "t": 1629820676333, "q": 651921857},
        {"ev": "Q", "sym": "O:SPY241220P00720000", "bx": 302, "ax": 302, "bp": 9.71, "ap": 9.81,
         "bs": 17, "as": 24, "t": 1644506128351, "q": 844090872},
        {"ev": "T", "sym": "MSFT", "p": 114.125, "s": 0, "ds": "0.5", "t": 1536036818784},
    ]
    conditions = ConditionTable()
    out = decode_frame(json.dumps(frame).encode(), ticker=None, symbols=SymbolTable(),
                       conditions=conditions, first_line=41)
    assert out.trades.ts.tolist() == [1629820676333000000, 1536036818784000000]
    assert out.trades.size.tolist() == [1.0, 0.5]
    assert out.trades.line.tolist() == [41, 43]
    assert conditions.flags[out.trades.cond[0]] == 4  # multi-leg: volume only
    assert out.quotes.seq.tolist() == [844090872]
    assert out.quotes.line.tolist() == [42]


def test_single_object_line_is_a_frame_of_one() -> None:
    out = decode_frame(b'{"ev":"status","status":"success","message":"subscribed to: T.SPY"}',
                       ticker=None, symbols=SymbolTable(), conditions=ConditionTable())
    assert out.events == 1
    assert out.statuses == (("success", "subscribed to: T.SPY"),)


def test_unknown_events_with_clashing_field_types_are_counted() -> None:
    # Forex "C" has "p" as a string; an aggregate's "c" is a float: neither breaks decoding.
    frame = b'[{"ev":"C","p":"USD/CNH","a":6.8,"t":1},{"ev":"AM","sym":"SPY","c":472.6},' \
            b'{"ev":"T","sym":"SPY","p":1.5,"s":1,"t":2}]'
    out = decode_frame(frame, ticker=None, symbols=SymbolTable(), conditions=ConditionTable())
    assert out.unknown == ("C", "AM")
    assert out.trades.line.tolist() == [3]


def error_of(tmp_path: Path, text: str) -> str:
    path = tmp_path / "frames.jsonl"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        list(iter_ws_frames(path, ticker=None, symbols=SymbolTable(),
                            conditions=ConditionTable()))
    msg = str(info.value)
    assert "\n" not in msg
    return msg.replace(str(path), "P")


GOOD = '[{"ev":"T","sym":"SPY","p":1.5,"s":1,"t":1}]\n'


def test_error_malformed_line(tmp_path: Path) -> None:
    assert error_of(tmp_path, GOOD + '[{"ev":"T",\n') == (
        "P: line 2: not a JSON array of events (Input data was truncated)")


def test_error_bad_field_type(tmp_path: Path) -> None:
    text = GOOD + '\n[{"ev":"status"},{"ev":"Q","sym":"SPY","bp":"x","t":1}]\n'
    assert error_of(tmp_path, text) == (
        "P: line 3: event 2 ('Q'): Expected `float`, got `str` - at `$.bp`")


def test_error_missing_ev(tmp_path: Path) -> None:
    assert error_of(tmp_path, '[{"sym":"SPY"}]\n') == (
        "P: line 1: event 1 is not an object with a string 'ev'")


def test_error_empty_ticker(tmp_path: Path) -> None:
    assert error_of(tmp_path, '[{"ev":"V","T":"","val":1,"t":1}]\n') == "P: line 1: empty ticker"


def test_error_nanosecond_timestamp(tmp_path: Path) -> None:
    text = '[{"ev":"T","sym":"SPY","p":1.5,"s":1,"t":1704205800000000000}]\n'
    assert error_of(tmp_path, text) == (
        "P: line 1: timestamp t=1704205800000000000 is not epoch milliseconds")


def test_error_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.jsonl: file not found$"):
        list(iter_ws_frames(tmp_path / "nope.jsonl", ticker=None, symbols=SymbolTable(),
                            conditions=ConditionTable()))


_enc = msgspec.json.Encoder()


@given(st.lists(st.tuples(
    st.sampled_from(["T", "Q", "V", "status", "A"]),
    st.sampled_from(["SPY", "QQQ", "I:SPX"]),
    st.integers(min_value=0, max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
), max_size=30), st.integers(min_value=1, max_value=7))
def test_frames_split_anyhow_give_the_same_events(events: list[tuple[str, str, int, float]],
                                                  split: int) -> None:
    """Splitting one recording's events into frames changes neither values nor indices."""
    objs: list[dict[str, object]] = []
    for ev, sym, t, x in events:
        if ev == "T":
            objs.append({"ev": "T", "sym": sym, "p": x, "s": 1, "t": t})
        elif ev == "Q":
            objs.append({"ev": "Q", "sym": sym, "bp": x, "ap": x, "t": t, "q": t})
        elif ev == "V":
            objs.append({"ev": "V", "T": sym, "val": x, "t": t})
        else:
            objs.append({"ev": ev, "status": "success"})

    def run(frames: list[list[dict[str, object]]]) -> list[tuple[str, int, float, int]]:
        symbols, conditions = SymbolTable(), ConditionTable()
        out: list[tuple[str, int, float, int]] = []
        line = 1
        for f in frames:
            d = decode_frame(_enc.encode(f), ticker="SPY", symbols=symbols,
                             conditions=conditions, first_line=line)
            line += d.events
            out += [("T", a, b, c) for a, b, c in zip(d.trades.ts.tolist(),
                                                      d.trades.price.tolist(),
                                                      d.trades.line.tolist(), strict=True)]
            out += [("Q", a, b, c) for a, b, c in zip(d.quotes.ts.tolist(),
                                                      d.quotes.bid.tolist(),
                                                      d.quotes.line.tolist(), strict=True)]
        return sorted(out, key=lambda r: r[3])

    whole = run([objs]) if objs else []
    pieces = run([objs[i:i + split] for i in range(0, len(objs), split)])
    assert whole == pieces
    expected = [(ev, t * 1_000_000, x, i + 1) for i, (ev, sym, t, x) in enumerate(events)
                if ev in ("T", "Q") and sym == "SPY"]
    assert pieces == expected
