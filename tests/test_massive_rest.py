"""REST v3 page files: shapes (stocks/options), layouts (object/array/JSON Lines), order, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spxcc_core.aggregate.columns import ConditionTable, SymbolTable
from spxcc_core.errors import InputError
from spxcc_core.massive import open_quotes, open_trades

FIX = Path(__file__).parent / "fixtures" / "massive"
T0 = 1704205800_000_000_000


def read_trades(path: Path, ticker: str | None = None, symbols: SymbolTable | None = None,
                conditions: ConditionTable | None = None,
                chunk_rows: int = 1_000_000) -> dict[str, list[object]]:
    batches = list(open_trades(path, ticker=ticker,
                               symbols=SymbolTable() if symbols is None else symbols,
                               conditions=ConditionTable() if conditions is None else conditions,
                               chunk_rows=chunk_rows))
    fields = ("ts", "symbol", "seq", "price", "size", "cond", "correction", "line")
    return {f: [x for b in batches for x in getattr(b, f).tolist()] for f in fields}


def test_single_stock_page_ticker_from_next_url() -> None:
    symbols, conditions = SymbolTable(), ConditionTable()
    cols = read_trades(FIX / "rest_trades_page.json", symbols=symbols, conditions=conditions)
    assert symbols.names == ["SPY"]
    assert cols["ts"] == [T0 + 200_000, T0 + 1_100_000]
    assert cols["price"] == [472.65, 472.66]
    # decimal_size "0.25" wins over the integer size 0 of a fractional-share trade.
    assert cols["size"] == [5.0, 0.25]
    assert cols["seq"] == [1001, 1002]
    assert cols["correction"] == [0, 1]  # omitted correction is 0
    assert conditions.sets == [(), (12, 37)]
    assert cols["cond"] == [1, 0]  # omitted conditions = regular sale
    assert cols["line"] == [1, 2]


def test_desc_pages_are_reversed_into_ascending_order() -> None:
    cols = read_trades(FIX / "rest_trades_desc.json")
    assert cols["ts"] == [T0 + 1_000_000, T0 + 2_000_000, T0 + 3_000_000, T0 + 4_000_000]
    assert cols["seq"] == [1001, 1002, 1003, 1004]
    assert cols["size"] == [400.0, 300.0, 200.0, 100.0]
    # Lines stay the position in the file: page 1 holds results 1-2, page 2 results 3-4.
    assert cols["line"] == [4, 3, 2, 1]


def test_desc_inferred_from_timestamps_without_next_url(tmp_path: Path) -> None:
    page = json.loads((FIX / "rest_trades_desc.json").read_text())
    for p in page:
        p.pop("next_url", None)
    path = tmp_path / "desc.json"
    path.write_text(json.dumps(page))
    cols = read_trades(path, ticker="SPY")
    assert cols["seq"] == [1001, 1002, 1003, 1004]


def test_asc_hint_keeps_order_even_if_timestamps_fall(tmp_path: Path) -> None:
    page = json.loads((FIX / "rest_trades_desc.json").read_text())
    page[0]["next_url"] = page[0]["next_url"].replace("order=desc", "order=asc")
    path = tmp_path / "asc.json"
    path.write_text(json.dumps(page))
    assert read_trades(path)["seq"] == [1004, 1003, 1002, 1001]


def test_mixed_timestamps_are_kept_as_written(tmp_path: Path) -> None:
    page = {"status": "OK", "results": [
        {"price": 1.0, "sip_timestamp": 3, "size": 1}, {"price": 1.0, "sip_timestamp": 1, "size": 1},
        {"price": 1.0, "sip_timestamp": 2, "size": 1}]}
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps(page))
    assert read_trades(path, ticker="X")["ts"] == [3, 1, 2]


def test_options_trades_need_a_ticker() -> None:
    path = FIX / "rest_options_trades.json"
    with pytest.raises(InputError) as info:
        read_trades(path)
    assert str(info.value) == (f"{path}, row 1: the results carry no ticker and no next_url "
                               "names one: give the ticker")
    symbols, conditions = SymbolTable(), ConditionTable()
    cols = read_trades(path, ticker="O:SPXW240102C04750000", symbols=symbols,
                       conditions=conditions)
    assert symbols.names == ["O:SPXW240102C04750000"]
    assert cols["seq"] == [-1, -1]
    assert cols["ts"] == [T0 + 100_000_100, T0 + 200_000_100]
    assert conditions.sets == [(), (209,), (219, 233)]
    assert cols["cond"] == [1, 2]


def test_other_tickers_pages_are_not_events() -> None:
    symbols = SymbolTable()
    assert read_trades(FIX / "rest_trades_page.json", ticker="QQQ", symbols=symbols)["ts"] == []
    assert symbols.names == []


def test_results_with_their_own_ticker(tmp_path: Path) -> None:
    page = {"results": [
        {"ticker": "AAA", "price": 1.0, "sip_timestamp": 1, "size": 1},
        {"ticker": "BBB", "price": 2.0, "sip_timestamp": 2, "size": 1},
        {"ticker": "AAA", "price": 3.0, "sip_timestamp": 3, "size": 1}]}
    path = tmp_path / "merged.json"
    path.write_text(json.dumps(page))
    symbols = SymbolTable()
    cols = read_trades(path, ticker="AAA", symbols=symbols)
    assert cols["price"] == [1.0, 3.0]
    assert cols["line"] == [1, 3]
    assert symbols.names == ["AAA"]


def test_quotes_json_lines_options_shape() -> None:
    symbols = SymbolTable()
    (q,) = list(open_quotes(FIX / "rest_quotes.jsonl", ticker=None, symbols=symbols))
    assert symbols.names == ["O:SPXW240102C04750000"]  # from page 1's next_url, for page 2 too
    assert q.ts.tolist() == [T0 + 50_000_000, T0 + 60_000_000, T0 + 70_000_000]
    assert q.seq.tolist() == [81780, 81790, 81795]
    assert q.bid.tolist() == [3.1, 3.2, 0.0]  # omitted bid: side absent, passes through
    assert q.bid_size.tolist() == [40.0, 12.0, 0.0]
    assert q.ask.tolist() == [3.3, 3.4, 3.5]
    assert q.ask_size.tolist() == [25.0, 5.0, 7.0]
    assert q.line.tolist() == [1, 2, 3]


def test_chunking(tmp_path: Path) -> None:
    cols = read_trades(FIX / "rest_trades_desc.json", chunk_rows=3)
    assert cols["seq"] == [1001, 1002, 1003, 1004]


# ----------------------------------------------------------------------------- errors


def error_of(tmp_path: Path, text: str, *, quotes: bool = False, name: str = "p.json") -> str:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError) as info:
        if quotes:
            list(open_quotes(path, ticker="SPY", symbols=SymbolTable()))
        else:
            read_trades(path, ticker="SPY")
    message = str(info.value)
    assert "\n" not in message
    return message.replace(str(path), "P")


def test_error_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(InputError, match=r"nope\.json: file not found$"):
        read_trades(path)


def test_error_empty(tmp_path: Path) -> None:
    assert error_of(tmp_path, "  \n") == "P: file is empty (expected REST v3 response pages)"


def test_error_not_json(tmp_path: Path) -> None:
    assert error_of(tmp_path, "ticker,price\n") == (
        "P, byte 0: not REST v3 JSON (expected a page object, an array of pages or one page "
        "per line)")


def test_error_malformed_json(tmp_path: Path) -> None:
    assert error_of(tmp_path, '[{"results": [}]') == "P, byte 14: JSON is malformed: invalid character"  # the "}"


def test_error_malformed_json_line(tmp_path: Path) -> None:
    text = '{"results": []}\n{"results": [1,]}\n'
    assert error_of(tmp_path, text).startswith("P: line 2: JSON is malformed")


def test_error_wrong_type_names_the_row(tmp_path: Path) -> None:
    pages = [{"results": [{"price": 1.0, "sip_timestamp": 1}, {"price": 1.0, "sip_timestamp": 2}]},
             {"results": [{"price": "1.5", "sip_timestamp": 3}]}]
    assert error_of(tmp_path, json.dumps(pages)) == (
        "P, row 3: page 2, result 1, field 'price': Expected `float`, got `str`")


def test_error_float_timestamp(tmp_path: Path) -> None:
    page = {"results": [{"price": 1.0, "sip_timestamp": 1.7e18}]}
    assert error_of(tmp_path, json.dumps(page)) == (
        "P, row 1: page 1, result 1, field 'sip_timestamp': Expected `int`, got `float`")


def test_error_missing_timestamp(tmp_path: Path) -> None:
    page = {"results": [{"price": 1.0}]}
    assert error_of(tmp_path, json.dumps(page)) == (
        "P, row 1: page 1, result 1, field 'result': Object missing required field "
        "`sip_timestamp`")


def test_error_bad_decimal_size(tmp_path: Path) -> None:
    page = {"results": [{"price": 1.0, "sip_timestamp": 1, "decimal_size": "1/2"}]}
    assert error_of(tmp_path, json.dumps(page)) == "P, row 1: decimal_size '1/2' is not a number"


def test_error_error_page(tmp_path: Path) -> None:
    page = {"status": "NOT_AUTHORIZED", "request_id": "x",
            "message": "You are not entitled to this data."}
    assert error_of(tmp_path, json.dumps(page)) == (
        "P: page 1 is an error response: status 'NOT_AUTHORIZED': You are not entitled to "
        "this data.")


def test_error_quotes_page_read_as_trades(tmp_path: Path) -> None:
    page = {"next_url": "https://api.massive.com/v3/quotes/SPY?cursor=x&apiKey=SECRETKEY",
            "results": []}
    msg = error_of(tmp_path, json.dumps(page))
    assert msg == "P: page 1 is a /v3/quotes page, expected /v3/trades"
    assert "SECRETKEY" not in msg


def test_error_empty_ticker(tmp_path: Path) -> None:
    page = {"results": [{"ticker": "", "price": 1.0, "sip_timestamp": 1}]}
    assert error_of(tmp_path, json.dumps(page)) == "P, row 1: empty ticker"
