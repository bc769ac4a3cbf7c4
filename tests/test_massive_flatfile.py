"""Flat-file readers: every dataset, both extensions, header order, ticker filter, line numbers."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spxcc_core.aggregate.columns import (
    ConditionTable,
    QuoteColumns,
    SymbolTable,
    TradeColumns,
)
from spxcc_core.errors import InputError
from spxcc_core.massive import open_index_values, open_quotes, open_trades

FIX = Path(__file__).parent / "fixtures" / "massive"
T0 = 1704205800_000_000_000  # 2024-01-02 14:30:00 UTC in ns


def gz_copy(src: Path, dest_dir: Path) -> Path:
    """A deterministic .csv.gz of a fixture (mtime 0, no file name in the header)."""
    out = dest_dir / (src.name + ".gz")
    out.write_bytes(gzip.compress(src.read_bytes(), mtime=0))
    return out


def trades_of(path: Path, ticker: str | None = None, chunk_rows: int = 1_000_000,
              symbols: SymbolTable | None = None,
              conditions: ConditionTable | None = None) -> list[TradeColumns]:
    return list(open_trades(path, ticker=ticker,
                            symbols=SymbolTable() if symbols is None else symbols,
                            conditions=ConditionTable() if conditions is None else conditions,
                            chunk_rows=chunk_rows))


def concat_trades(batches: list[TradeColumns]) -> dict[str, list[object]]:
    fields = ("ts", "symbol", "seq", "price", "size", "cond", "correction", "line")
    return {f: [x for b in batches for x in getattr(b, f).tolist()] for f in fields}


# ----------------------------------------------------------------------------- stocks trades


def test_stock_trades_all_tickers() -> None:
    symbols, conditions = SymbolTable(), ConditionTable()
    cols = concat_trades(trades_of(FIX / "stocks_trades.csv", symbols=symbols,
                                   conditions=conditions))
    assert symbols.names == ["SPY", "NA", "NULL"]  # null-looking tickers are real tickers
    assert cols["symbol"] == [0, 1, 0, 2, 0, 0]
    assert cols["line"] == [1, 2, 3, 4, 5, 6]
    assert cols["ts"] == [T0 + 200_000, T0 + 400_000, T0 + 1_100_000, T0 + 2_100_000,
                          T0 + 3_100_000, T0 + 4_100_000]
    assert cols["seq"] == [1001, 1002, 1003, 1004, 1005, 1006]
    assert cols["size"] == [100.0, 5.0, 0.0015, 300.0, 200.0, -5.0]
    assert cols["correction"] == [0, 0, 0, 0, 1, 0]
    # Condition sets interned in first-seen order: () is 0, (12, 37) 1, (14,) 2, (14, 41) 3.
    assert conditions.sets == [(), (12, 37), (14,), (14, 41)]
    assert cols["cond"] == [0, 1, 1, 2, 2, 3]
    # Invalid values pass through (NaN price, negative size) for the aggregator to quarantine.
    assert str(cols["price"][5]) == "nan"
    assert cols["price"][:5] == [472.65, 10.5, 472.66, 20.25, 472.7]


def test_ticker_filter_keeps_real_line_numbers_and_interns_nothing_else() -> None:
    symbols, conditions = SymbolTable(), ConditionTable()
    cols = concat_trades(trades_of(FIX / "stocks_trades.csv", ticker="SPY", symbols=symbols,
                                   conditions=conditions))
    assert symbols.names == ["SPY"]
    assert cols["line"] == [1, 3, 5, 6]
    assert cols["seq"] == [1001, 1003, 1005, 1006]
    # The filtered-out NULL row's condition string "14" is still interned by SPY row 5;
    # nothing of the NA row beyond the shared "12,37" set.
    assert conditions.sets == [(), (12, 37), (14,), (14, 41)]


def test_ticker_named_like_a_null() -> None:
    symbols = SymbolTable()
    cols = concat_trades(trades_of(FIX / "stocks_trades.csv", ticker="NULL", symbols=symbols))
    assert symbols.names == ["NULL"]
    assert cols["line"] == [4]
    assert cols["price"] == [20.25]


def test_absent_ticker_yields_nothing() -> None:
    symbols = SymbolTable()
    assert trades_of(FIX / "stocks_trades.csv", ticker="IWM", symbols=symbols) == []
    assert symbols.names == []


def test_header_order_and_extra_columns_do_not_matter() -> None:
    a = concat_trades(trades_of(FIX / "stocks_trades.csv"))
    b = concat_trades(trades_of(FIX / "stocks_trades_reordered.csv"))
    assert str(a) == str(b)  # str(): NaN != NaN in a plain comparison


def test_gzip_equals_plain(tmp_path: Path) -> None:
    gz = gz_copy(FIX / "stocks_trades.csv", tmp_path)
    assert str(concat_trades(trades_of(gz))) == str(concat_trades(
        trades_of(FIX / "stocks_trades.csv")))


def test_gzip_detected_by_magic_bytes_in_a_dot_csv(tmp_path: Path) -> None:
    disguised = tmp_path / "trades.csv"
    disguised.write_bytes(gzip.compress((FIX / "stocks_trades.csv").read_bytes(), mtime=0))
    assert len(concat_trades(trades_of(disguised))["ts"]) == 6


def test_multi_member_gzip(tmp_path: Path) -> None:
    text = (FIX / "stocks_trades.csv").read_bytes()
    head, rest = text.split(b"\n", 2)[0] + b"\n", b"\n".join(text.split(b"\n")[1:])
    path = tmp_path / "multi.csv.gz"
    path.write_bytes(gzip.compress(head, mtime=0) + gzip.compress(rest, mtime=0))
    assert concat_trades(trades_of(path))["line"] == [1, 2, 3, 4, 5, 6]


@given(st.integers(min_value=1, max_value=8))
@settings(max_examples=8)
def test_chunking_is_invisible(chunk_rows: int) -> None:
    batches = trades_of(FIX / "stocks_trades.csv", chunk_rows=chunk_rows)
    assert all(0 < len(b) <= chunk_rows for b in batches)
    assert str(concat_trades(batches)) == str(concat_trades(trades_of(FIX / "stocks_trades.csv")))


def test_chunks_over_many_blocks(tmp_path: Path) -> None:
    """A file larger than one parse block, two tickers: lines stay exact across blocks."""
    rows = ["ticker,conditions,correction,price,sip_timestamp,size"]
    for i in range(1, 30_001):
        rows.append(f"{'SPY' if i % 3 else 'QQQ'},{'37' if i % 7 == 0 else ''},0,"
                    f"{100 + i / 100:.2f},{T0 + i},{i}")
    path = tmp_path / "big.csv"
    path.write_text("\n".join(rows) + "\n")
    batches = trades_of(path, ticker="QQQ", chunk_rows=4_000)
    assert [len(b) for b in batches][:2] == [4_000, 4_000]
    lines = np.concatenate([b.line for b in batches])
    assert lines.tolist() == list(range(3, 30_001, 3))
    ts = np.concatenate([b.ts for b in batches])
    assert (ts - T0).tolist() == lines.tolist()
    cond = np.concatenate([b.cond for b in batches])
    assert (cond != 0).sum() == len([i for i in range(3, 30_001, 3) if i % 7 == 0])


# ----------------------------------------------------------------------------- other datasets


@pytest.mark.parametrize("name", ["options_trades_docs.csv", "options_trades_speedup.csv"])
def test_options_trades_both_header_variants(name: str, tmp_path: Path) -> None:
    for path in (FIX / name, gz_copy(FIX / name, tmp_path)):
        symbols, conditions = SymbolTable(), ConditionTable()
        cols = concat_trades(trades_of(path, symbols=symbols, conditions=conditions))
        assert symbols.names == ["O:SPXW240102C04750000", "O:SPXW240102P04700000"]
        assert cols["seq"] == [-1, -1, -1]  # no sequence_number column
        assert cols["ts"] == [T0 + 100_000_100, T0 + 200_000_100, T0 + 300_000_100]
        assert cols["price"] == [3.2, 1.15, 3.25]
        assert cols["size"] == [2.0, 10.0, 1.0]
        assert conditions.sets == [(), (209,), (219, 233), (201,)]
        # 209 regular (15), 219+233 multi-leg ISO -> volume only (4), 201 cancel (0).
        assert conditions.flags.tolist() == [15, 15, 4, 0]


def quotes_of(path: Path, ticker: str | None = None,
              symbols: SymbolTable | None = None) -> QuoteColumns:
    batches = list(open_quotes(path, ticker=ticker,
                               symbols=SymbolTable() if symbols is None else symbols))
    assert len(batches) == 1
    return batches[0]


def test_stock_quotes(tmp_path: Path) -> None:
    for path in (FIX / "stocks_quotes.csv", gz_copy(FIX / "stocks_quotes.csv", tmp_path)):
        symbols = SymbolTable()
        q = quotes_of(path, symbols=symbols)
        assert symbols.names == ["SPY", "QQQ"]
        assert q.line.tolist() == [1, 2, 3, 4]
        assert q.seq.tolist() == [5001, 5002, 5003, 5004]
        assert q.ts.tolist() == [T0 - 999_900_000, T0 + 50_000, T0 + 70_000, T0 + 1_050_000]
        # Empty pre-open book (0/0) and a crossed quote pass through unchanged.
        assert q.bid.tolist() == [0.0, 472.65, 400.01, 472.65]
        assert q.bid_size.tolist() == [0.0, 2.0, 4.0, 5.0]
        assert q.ask.tolist() == [0.0, 472.66, 400.02, 472.64]
        assert q.ask_size.tolist() == [0.0, 3.0, 1.0, 1.0]


def test_stock_quotes_filtered() -> None:
    q = quotes_of(FIX / "stocks_quotes.csv", ticker="QQQ")
    assert q.line.tolist() == [3]
    assert q.symbol.tolist() == [0]


def test_option_quotes() -> None:
    q = quotes_of(FIX / "options_quotes.csv")
    assert q.ts.tolist() == [1680010200067217664, 1704205800050000000]  # exact 19 digits
    assert q.seq.tolist() == [81779, 81780]
    assert q.bid.tolist() == [321.77, 3.1]
    assert q.ask.tolist() == [326.77, 3.3]
    assert q.bid_size.tolist() == [1.0, 40.0]
    assert q.ask_size.tolist() == [1.0, 25.0]


def test_index_values(tmp_path: Path) -> None:
    for path in (FIX / "index_values.csv", gz_copy(FIX / "index_values.csv", tmp_path)):
        symbols = SymbolTable()
        (v,) = list(open_index_values(path, ticker="I:SPX", symbols=symbols))
        assert symbols.names == ["I:SPX"]
        assert v.ts.tolist() == [T0, T0 + 1_000_000_000]
        assert v.value.tolist() == [4742.83, 4743.1]
        assert v.line.tolist() == [1, 3]
    (allv,) = list(open_index_values(FIX / "index_values.csv", ticker=None,
                                     symbols=SymbolTable()))
    assert allv.ts.tolist()[1] == 1784295061137000000


# ----------------------------------------------------------------------------- errors

HEADER = "ticker,conditions,correction,price,sip_timestamp,size,sequence_number"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(path: Path, reader: str = "trades") -> str:
    with pytest.raises(InputError) as info:
        if reader == "trades":
            list(open_trades(path, ticker=None, symbols=SymbolTable(),
                             conditions=ConditionTable()))
        elif reader == "quotes":
            list(open_quotes(path, ticker=None, symbols=SymbolTable()))
        else:
            list(open_index_values(path, ticker=None, symbols=SymbolTable()))
    message = str(info.value)
    assert "\n" not in message
    return message


def test_error_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv.gz"
    assert error_of(path) == f"{path}: file not found"


def test_error_directory_and_unknown_extension(tmp_path: Path) -> None:
    d = tmp_path / "dir.csv"
    d.mkdir()
    assert error_of(d) == f"{d}: is a directory, not a file"
    other = write(tmp_path, "trades.parquet", "x")
    assert error_of(other) == f"{other}: unknown file type (expected .csv, .csv.gz or .json)"


def test_error_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", "")
    assert error_of(path) == f"{path}: file is empty (no header row)"


def test_error_missing_required_column(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", "ticker,price,sip_timestamp,size\nSPY,1,2,3\n")
    assert error_of(path) == (f"{path}: missing required columns 'conditions', 'correction' "
                              "(header: ticker,price,sip_timestamp,size)")


def test_error_quotes_file_given_as_trades(tmp_path: Path) -> None:
    msg = error_of(FIX / "stocks_quotes.csv")
    assert msg.startswith(f"{FIX / 'stocks_quotes.csv'}: missing required columns 'price', "
                          "'size'")


def test_error_wrong_field_count(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", f"{HEADER}\nSPY,,0,1.5,{T0},1,1\nSPY,,0,1.5,{T0},1\n")
    assert error_of(path) == (f"{path}, row 2: expected 7 fields, found 6: "
                              f"SPY,,0,1.5,{T0},1")


def test_error_number_does_not_parse(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", f"{HEADER}\nSPY,,0,1.5,{T0},1,1\nSPY,,0,1.5,{T0},1,1\n"
                                    f"SPY,,0,abc,{T0},1,1\n")
    assert error_of(path) == f"{path}, row 3: column 'price': 'abc' is not a number"


def test_error_empty_number(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", f"{HEADER}\nSPY,,0,,{T0},1,1\n")
    assert error_of(path) == f"{path}, row 1: column 'price': '' is not a number"


def test_error_timestamp_does_not_parse(tmp_path: Path) -> None:
    # A float-looking timestamp is not an integer nanosecond count.
    path = write(tmp_path, "t.csv", f"{HEADER}\nSPY,,0,1.5,1.704205800e18,1,1\n")
    assert error_of(path) == (f"{path}, row 1: column 'sip_timestamp': '1.704205800e18' "
                              "is not an integer")


def test_error_timestamp_overflow(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", f"{HEADER}\nSPY,,0,1.5,99999999999999999999,1,1\n")
    assert error_of(path) == (f"{path}, row 1: column 'sip_timestamp': "
                              "'99999999999999999999' is not an integer")


def test_error_row_numbers_beyond_the_first_block(tmp_path: Path) -> None:
    good = f"SPY,,0,1.5,{T0},1,1\n" * 50_000
    path = write(tmp_path, "t.csv", f"{HEADER}\n{good}SPY,,0,1.5,{T0},x,1\n")
    assert error_of(path) == f"{path}, row 50001: column 'size': 'x' is not a number"


def test_error_empty_ticker(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", f"{HEADER}\nSPY,,0,1.5,{T0},1,1\n,,0,1.5,{T0},1,2\n")
    assert error_of(path) == f"{path}, row 2: empty ticker"
    # Even when filtering on another ticker: the row is malformed, not "another ticker".
    with pytest.raises(InputError, match="row 2: empty ticker"):
        list(open_trades(path, ticker="SPY", symbols=SymbolTable(),
                         conditions=ConditionTable()))


def test_error_bad_condition_list(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", f'{HEADER}\nSPY,"12,x",0,1.5,{T0},1,1\n')
    assert error_of(path) == (f"{path}, row 1: column 'conditions': condition 'x' in "
                              "'12,x' is not a non-negative integer")


def test_error_bad_utf8(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(f"{HEADER}\nSPY,,0,1.5,{T0},1,1\n".encode() + b"SP\xff,,0,1.5,1,1,1\n")
    assert error_of(path) == f"{path}, row 2: column 'ticker': invalid UTF8 data"


def test_error_not_gzip(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv.gz", "ticker,price\n")
    assert error_of(path) == f"{path}, byte 0: bad gzip stream: not a gzip stream (wrong header)"


def test_error_truncated_gzip(tmp_path: Path) -> None:
    body = (HEADER + "\n" + f"SPY,,0,1.5,{T0},1,1\n" * 20_000).encode()
    data = gzip.compress(body, mtime=0)
    path = tmp_path / "t.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    assert error_of(path) == (f"{path}, byte {len(data) // 2}: bad gzip stream: stream ends "
                              "early (truncated file)")


def test_error_corrupted_gzip(tmp_path: Path) -> None:
    body = (HEADER + "\n" + "".join(f"SPY,,0,{i}.5,{T0 + i},1,{i}\n" for i in range(5_000)))
    data = bytearray(gzip.compress(body.encode(), mtime=0))
    data[-6] ^= 0xFF  # the CRC-32 trailer: detected only at the end of the stream
    path = tmp_path / "t.csv.gz"
    path.write_bytes(bytes(data))
    msg = error_of(path)
    assert msg.startswith(f"{path}, byte ")
    assert msg.endswith(": bad gzip stream: checksum mismatch (corrupted data)")
    assert int(msg.split("byte ")[1].split(":")[0]) >= len(data) - 8


def test_error_garbage_after_gzip(tmp_path: Path) -> None:
    data = gzip.compress((FIX / "stocks_trades.csv").read_bytes(), mtime=0)
    path = tmp_path / "t.csv.gz"
    path.write_bytes(data + b"garbage!")
    try:
        batches = trades_of(path)
    except InputError as exc:
        assert str(exc) == (f"{path}, byte {len(data)}: bad gzip stream: unexpected data "
                            "after the end of the gzip stream")
    else:  # pyarrow may stop at the end of the last member: then the rows are all there
        assert concat_trades(batches)["line"] == [1, 2, 3, 4, 5, 6]


def test_error_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    shutil.copy(FIX / "stocks_trades.csv", path)
    path.chmod(0)
    try:
        if path.open("rb"):  # running as root: permissions do not apply
            pytest.skip("file permissions are not enforced for this user")
    except PermissionError:
        assert error_of(path) == f"{path}: cannot read the file: permission denied"
    finally:
        path.chmod(0o644)


def test_error_index_values_missing_column(tmp_path: Path) -> None:
    path = write(tmp_path, "v.csv", "ticker,value\nI:SPX,1\n")
    assert error_of(path, "index") == f"{path}: missing required column 'timestamp' (header: ticker,value)"


def test_error_damage_inside_the_deflate_stream(tmp_path: Path) -> None:
    body = (HEADER + "\n" + "".join(f"SPY,,0,{i}.5,{T0 + i},1,{i}\n" for i in range(20_000)))
    data = bytearray(gzip.compress(body.encode(), mtime=0))
    damaged_at = len(data) // 3
    data[damaged_at: damaged_at + 64] = bytes(64)  # zero a run of compressed bytes
    path = tmp_path / "t.csv.gz"
    path.write_bytes(bytes(data))
    msg = error_of(path)
    assert ": bad gzip stream: " in msg
    offset = int(msg.split("byte ")[1].split(":")[0])
    assert damaged_at <= offset < len(data)


def test_header_only_file_yields_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", HEADER + "\n")
    assert trades_of(path) == []


def test_crlf_line_endings_and_no_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(f"{HEADER}\r\nSPY,,0,1.5,{T0},1,7\r\nSPY,\"37\",0,1.25,{T0 + 1},2,8".encode())
    cols = concat_trades(trades_of(path))
    assert cols["seq"] == [7, 8]
    assert cols["price"] == [1.5, 1.25]
    assert cols["line"] == [1, 2]


_ROW = st.tuples(
    st.sampled_from(["SPY", "NA", "NULL", "O:SPXW240102C04750000"]),
    st.lists(st.integers(min_value=0, max_value=250), max_size=3),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(width=64),
    st.floats(width=64),
    st.integers(min_value=0, max_value=2**63 - 1),  # a negative sequence number is an error
)


@given(rows=st.lists(_ROW, max_size=40), ticker=st.sampled_from([None, "SPY", "NA"]),
       chunk_rows=st.integers(min_value=1, max_value=50), compress=st.booleans())
@settings(max_examples=40)
def test_round_trip_property(tmp_path_factory: pytest.TempPathFactory,
                             rows: list[tuple[str, list[int], int, float, float, int]],
                             ticker: str | None, chunk_rows: int, compress: bool) -> None:
    """Whatever rows are written (any int64 timestamp, any double incl. NaN/inf), the reader
    returns exactly the selected ticker's rows, in order, with their file row numbers."""
    lines = ["sequence_number,size,ticker,price,sip_timestamp,correction,conditions,junk"]
    for tk, conds, ts, price, size, seq in rows:
        cond_text = '"' + ",".join(map(str, conds)) + '"' if conds else ""
        lines.append(f"{seq},{size!r},{tk},{price!r},{ts},0,{cond_text},j")
    body = ("\n".join(lines) + "\n").encode()
    path = tmp_path_factory.mktemp("rt") / ("t.csv.gz" if compress else "t.csv")
    path.write_bytes(gzip.compress(body, mtime=0) if compress else body)
    symbols, conditions = SymbolTable(), ConditionTable()
    cols = concat_trades(trades_of(path, ticker=ticker, chunk_rows=chunk_rows,
                                   symbols=symbols, conditions=conditions))
    want = [(i + 1, r) for i, r in enumerate(rows) if ticker is None or r[0] == ticker]
    assert cols["line"] == [i for i, _ in want]
    assert cols["ts"] == [r[2] for _, r in want]
    assert cols["seq"] == [r[5] for _, r in want]
    assert [symbols.name(s) for s in cols["symbol"]] == [r[0] for _, r in want]  # type: ignore[arg-type]
    assert str(cols["price"]) == str([r[3] for _, r in want])
    assert str(cols["size"]) == str([r[4] for _, r in want])
    assert [conditions.sets[int(c)] for c in cols["cond"]] == [  # type: ignore[call-overload]
        tuple(sorted(set(r[1]))) for _, r in want]
