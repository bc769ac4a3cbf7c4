"""Flat files with and without sequence numbers (``spec/microbar.md``: a trade's or quote's ``seq``
may be absent, per symbol and kind always or never).

Hand-worked session, S an exact second, ticker SPY, one quote at S (9.99 x 1 / 10.01 x 1):
trades at S+100 ms 10.00 x 100, again S+100 ms 10.00 x 100 (identical), S+300 ms 10.02 x 50.
Without sequence numbers identical events are all kept: one bar, volume 250, 3 trades, no
duplicate. With the same sequence number on the two identical rows the second is a duplicate:
volume 150, 2 trades, ``duplicates`` 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spxcc_core.aggregate import AggregatorConfig, aggregate_columns
from spxcc_core.aggregate.columns import ConditionTable, SymbolTable
from spxcc_core.cli import main
from spxcc_core.errors import InputError
from spxcc_core.massive import open_quotes, open_trades

S_NS = 1_700_000_000_000_000_000
S_MS = S_NS // 1_000_000
MS = 1_000_000
TRADE_HEADER = "ticker,conditions,correction,exchange,price,sequence_number,sip_timestamp,size"
QUOTE_HEADER = "ticker,ask_price,ask_size,bid_price,bid_size,sequence_number,sip_timestamp"


def _trade(ticker: str, ms: int, price: str, size: int, seq: str) -> str:
    return f"{ticker},,0,4,{price},{seq},{S_NS + ms * MS},{size}"


def _write(tmp: Path, trades: list[str], quotes: list[str]) -> tuple[Path, Path]:
    t, q = tmp / "trades.csv", tmp / "quotes.csv"
    t.write_text("\n".join([TRADE_HEADER, *trades]) + "\n")
    q.write_text("\n".join([QUOTE_HEADER, *quotes]) + "\n")
    return t, q


def _bars(tmp: Path, t: Path, q: Path, *extra: str) -> tuple[list[dict], dict, list[dict]]:
    out, rep, qua = tmp / "bars.jsonl", tmp / "report.json", tmp / "q.jsonl"
    assert main(["bars", "--trades", str(t), "--quotes", str(q), "--out", str(out),
                 "--report", str(rep), "--quarantine", str(qua), *extra]) == 0
    return ([json.loads(x) for x in out.read_text().splitlines()], json.loads(rep.read_text()),
            [json.loads(x) for x in qua.read_text().splitlines()])


@pytest.mark.parametrize("engine", ["batch", "stream"])
def test_a_file_without_sequence_numbers_keeps_identical_events(engine: str, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]
                                                                ) -> None:
    t, q = _write(tmp_path, [_trade("SPY", 100, "10.00", 100, ""),
                             _trade("SPY", 100, "10.00", 100, ""),
                             _trade("SPY", 300, "10.02", 50, "")],
                  [f"SPY,10.01,1,9.99,1,,{S_NS}"])
    bars, report, quarantine = _bars(tmp_path, t, q, "--engine", engine)
    assert [(b["startMs"], b["open"], b["high"], b["low"], b["close"], b["volume"],
             b["tradeCount"], b["quoteCount"]) for b in bars] == [
        (S_MS, 10.00, 10.02, 10.00, 10.02, 250, 3, 1)]
    assert (report["eventsIn"], report["applied"], report["duplicates"], report["quarantined"]
            ) == (4, 4, 0, {})
    assert quarantine == []


def test_the_same_rows_with_sequence_numbers_drop_the_duplicate(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    t, q = _write(tmp_path, [_trade("SPY", 100, "10.00", 100, "7"),
                             _trade("SPY", 100, "10.00", 100, "7"),
                             _trade("SPY", 300, "10.02", 50, "8")],
                  [f"SPY,10.01,1,9.99,1,3,{S_NS}"])
    bars, report, quarantine = _bars(tmp_path, t, q)
    assert [(b["volume"], b["tradeCount"]) for b in bars] == [(150, 2)]
    assert (report["applied"], report["duplicates"]) == (3, 1)
    assert [(r["reason"], r["seq"], r["line"]) for r in quarantine] == [("duplicate", 7, 2)]


def test_without_sequence_numbers_quarantine_records_carry_null(tmp_path: Path) -> None:
    t, q = _write(tmp_path, [_trade("SPY", 100, "10.00", 100, ""),
                             _trade("SPY", 50, "10.00", 100, "")],  # 50 ms behind: late
                  [f"SPY,10.01,1,9.99,1,,{S_NS}"])
    _, report, quarantine = _bars(tmp_path, t, q)
    assert report["quarantined"] == {"late": 1}
    assert quarantine == [{"kind": "trade", "reason": "late", "symbol": "SPY",
                           "ts": S_NS + 50 * MS, "seq": None, "line": 2}]


def test_symbols_may_differ_one_with_and_one_without(tmp_path: Path) -> None:
    t, q = _write(tmp_path, [_trade("SPY", 100, "10.00", 100, "1"),
                             _trade("QQQ", 100, "5.00", 10, ""),
                             _trade("SPY", 200, "10.01", 100, "2"),
                             _trade("QQQ", 200, "5.01", 10, "")],
                  [f"SPY,10.01,1,9.99,1,,{S_NS}", f"QQQ,5.01,1,4.99,1,4,{S_NS}"])
    bars, report, _ = _bars(tmp_path, t, q)
    assert sorted((b["symbol"], b["volume"]) for b in bars) == [("QQQ", 20), ("SPY", 200)]
    assert report["applied"] == 6


@pytest.mark.parametrize(("seqs", "row", "what"), [
    (["1", "2", ""], 3, "empty here but given in earlier rows"),
    (["", "", "5"], 3, "given here but empty in earlier rows"),
    (["", "9", ""], 2, "given here but empty in earlier rows"),
])
def test_a_mix_within_one_symbol_is_one_line_naming_the_row(
        seqs: list[str], row: int, what: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    trades = [_trade("QQQ", 0, "5.00", 1, "")]  # another symbol without: not a mix
    trades += [_trade("SPY", 100 * i, "10.00", 1, s) for i, s in enumerate(seqs, start=1)]
    t, q = _write(tmp_path, trades, [f"SPY,10.01,1,9.99,1,1,{S_NS}"])
    capsys.readouterr()
    code = main(["bars", "--trades", str(t), "--quotes", str(q),
                 "--out", str(tmp_path / "bars.jsonl")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [f"spxcc: error: {t}, row {row + 1}: column 'sequence_number': {what} of "
                   "'SPY' (a file gives every row of a symbol a sequence number, or none)"]
    assert not (tmp_path / "bars.jsonl").exists()


def test_a_mix_is_found_across_read_blocks(tmp_path: Path) -> None:
    """More than one 1 MiB CSV block: the row that breaks the rule is in a later block."""
    n = 60_000
    rows = [_trade("SPY", i // 10, "10.00", 1, str(i + 1)) for i in range(n)]
    rows.append(_trade("SPY", n, "10.00", 1, ""))
    t = tmp_path / "trades.csv"
    t.write_text("\n".join([TRADE_HEADER, *rows]) + "\n")
    assert t.stat().st_size > 2 * (1 << 20)
    with pytest.raises(InputError) as info:
        for _ in open_trades(t, ticker=None, symbols=SymbolTable(), conditions=ConditionTable()):
            pass
    assert str(info.value).startswith(f"{t}, row {n + 1}: column 'sequence_number': empty here")


def test_rows_of_other_tickers_are_not_checked(tmp_path: Path) -> None:
    """With a ticker selected, other tickers' rows are not events: their mix is no error."""
    t, q = _write(tmp_path, [_trade("QQQ", 0, "5.00", 1, "1"), _trade("QQQ", 1, "5.00", 1, ""),
                             _trade("SPY", 100, "10.00", 100, "")],
                  [f"SPY,10.01,1,9.99,1,,{S_NS}"])
    symbols, conditions = SymbolTable(), ConditionTable()
    result = aggregate_columns(
        open_trades(t, ticker="SPY", symbols=symbols, conditions=conditions),
        open_quotes(q, ticker="SPY", symbols=symbols), symbols=symbols, conditions=conditions,
        config=AggregatorConfig(ticker="SPY"))
    assert result.report.applied == 2


def test_a_negative_sequence_number_is_an_error(tmp_path: Path) -> None:
    t, _ = _write(tmp_path, [_trade("SPY", 100, "10.00", 1, "3"),
                             _trade("SPY", 200, "10.00", 1, "-1")], [])
    with pytest.raises(InputError) as info:
        list(open_trades(t, ticker=None, symbols=SymbolTable(), conditions=ConditionTable()))
    assert str(info.value) == (f"{t}, row 2: column 'sequence_number': -1 is not a sequence "
                               "number (>= 0; leave the cell empty when there is none)")


@pytest.mark.parametrize(("column", "what"), [("price", "a number"),
                                              ("sip_timestamp", "an integer"),
                                              ("correction", "an integer")])
def test_an_empty_cell_elsewhere_is_still_an_error(column: str, what: str,
                                                   tmp_path: Path) -> None:
    row = {"ticker": "SPY", "conditions": "", "correction": "0", "exchange": "4",
           "price": "10.00", "sequence_number": "", "sip_timestamp": str(S_NS), "size": "1"}
    row[column] = ""
    t = tmp_path / "trades.csv"
    t.write_text(TRADE_HEADER + "\n" + _trade("SPY", 0, "10.00", 1, "") + "\n"
                 + ",".join(row[c] for c in TRADE_HEADER.split(",")) + "\n")
    with pytest.raises(InputError) as info:
        list(open_trades(t, ticker=None, symbols=SymbolTable(), conditions=ConditionTable()))
    assert str(info.value) == f"{t}, row 2: column {column!r}: '' is not {what}"


def test_a_quoted_empty_cell_is_absent_too(tmp_path: Path) -> None:
    """Writers that quote every field write an absent value as ``""``."""
    t = tmp_path / "trades.csv"
    t.write_text(TRADE_HEADER + "\n" + f'"SPY","","0","4","10.00","","{S_NS}","1"' + "\n")
    (cols,) = open_trades(t, ticker=None, symbols=SymbolTable(), conditions=ConditionTable())
    assert cols.seq.tolist() == [-1] and cols.price.tolist() == [10.0]
