"""The flat-file fast path (compiled CSV parser, ISA-L inflate, reading in a thread) changes speed
only: the same columns, the same errors and the same bars as Arrow's reader and stdlib zlib."""

from __future__ import annotations

import gzip
import subprocess
import sys
import threading
import zlib
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spxcc_core.aggregate.columns import ConditionTable, SymbolTable
from spxcc_core.errors import InputError
from spxcc_core.massive import flatfile, open_index_values, open_quotes, open_trades
from spxcc_core.massive._fastcsv import Fallback, fast_csv_batches
from spxcc_core.massive._inflate import InflateError, read_chunks
from spxcc_core.massive._prefetch import Prefetcher, prefetch, threads_enabled

_OPEN = {"trades_v1": open_trades, "quotes_v1": open_quotes, "values_v1": open_index_values}
_DATASETS = {"trades_v1": flatfile._TRADES, "quotes_v1": flatfile._QUOTES,
             "values_v1": flatfile._INDEX}


def _read(path: Path, kind: str, *, fast: bool, monkeypatch: pytest.MonkeyPatch,
          ticker: str | None = None) -> tuple[dict[str, list[Any]], list[str], list[Any]]:
    """Every column of every chunk (as lists), the symbol names and the condition sets."""
    monkeypatch.setattr(flatfile, "FAST_PATH", fast)
    symbols, conditions = SymbolTable(), ConditionTable()
    kwargs: dict[str, Any] = {"ticker": ticker, "symbols": symbols, "chunk_rows": 4_001}
    if kind == "trades_v1":
        kwargs["conditions"] = conditions
    cols: dict[str, list[Any]] = {}
    for batch in _OPEN[kind](path, **kwargs):
        for field in attrs.fields(type(batch)):
            cols.setdefault(field.name, []).extend(getattr(batch, field.name).tolist())
    return cols, list(symbols.names), list(conditions.sets)


def _same(a: dict[str, list[Any]], b: dict[str, list[Any]]) -> None:
    """Columns equal bit for bit (NaN == NaN, -0.0 != 0.0)."""
    assert a.keys() == b.keys()
    for name in a:
        x, y = np.asarray(a[name]), np.asarray(b[name])
        assert x.dtype == y.dtype, name
        assert x.tobytes() == y.tobytes(), name


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from spxcc_core.sample import generate_session

    return generate_session(tmp_path_factory.mktemp("sample"), scale=0.05)


@pytest.mark.parametrize("dataset", ["us_stocks_sip/trades_v1", "us_stocks_sip/quotes_v1",
                                     "us_options_opra/trades_v1", "us_options_opra/quotes_v1",
                                     "us_indices/values_v1"])
def test_sample_files_take_the_fast_path_and_read_as_arrow_reads_them(
        sample: Any, dataset: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = sample.paths[dataset]
    kind = dataset.split("/")[1]
    spec = _DATASETS[kind]
    header = flatfile._read_header(path, str(path), True)
    wanted = {**spec.required, **spec.optional}
    rows = sum(b.num_rows for _, b in fast_csv_batches(path, True, header, wanted))  # no Fallback
    assert rows == sample.counts[dataset]
    fast = _read(path, kind, fast=True, monkeypatch=monkeypatch)
    arrow = _read(path, kind, fast=False, monkeypatch=monkeypatch)
    _same(fast[0], arrow[0])
    assert fast[1:] == arrow[1:]


# Cells the fast path takes, and cells it must leave to Arrow (which accepts or rejects them).
_NUMBERS = ["1", "0", "-0", "0.5", "-2.25", "007", "10.010", "689.53", "0.1", "750000",
            "123456789012345", "1.23456789012345", "1234567890123456", "0.30000000000000004",
            "1e3", "1E-2", "nan", "inf", "-inf", "", " 1", "+1", "1.", ".5", "abc", '"1.5"',
            "1,5"]
_INTS = ["1765549800031000000", "9223372036854775807", "9223372036854775808",
         "-9223372036854775808", "922337203685477580", "0", "-5", "12", "", "1.0", "+3",
         "0012", '"7"', "x"]
_TEXT = ["SPY", "NA", "", '"12,37"', "37", '"14"', "ÄÖ", '"a""b"', "A B"]


@st.composite
def _quote_files(draw: st.DrawFn) -> bytes:
    rows = []
    for _ in range(draw(st.integers(1, 30))):
        cells = [draw(st.sampled_from(["SPY", "SPY", "QQQ", "NA"])),
                 draw(st.sampled_from(_NUMBERS[:12] + _NUMBERS)),
                 draw(st.sampled_from(_NUMBERS[:12] + _NUMBERS)),
                 draw(st.sampled_from(["1", "1", "2", "-3", *_NUMBERS])),
                 draw(st.sampled_from(["5", "6", *_NUMBERS])),
                 draw(st.sampled_from(_INTS[:1] * 6 + _INTS)),
                 draw(st.sampled_from(["7", "8", "9", *_INTS])),
                 draw(st.sampled_from(["x", "", '"q,r"', "a\"b"]))]
        rows.append(",".join(cells))
    end = draw(st.sampled_from(["\n", "\n", "\r\n", ""]))
    body = "\n".join(rows) + end
    if draw(st.booleans()):
        body = body.replace("\n", "\n\n", 1)  # an empty line
    header = "ticker,bid_price,ask_price,bid_size,ask_size,sip_timestamp,sequence_number,extra\n"
    return (header + body).encode()


@st.composite
def _trade_files(draw: st.DrawFn) -> bytes:
    rows = []
    for _ in range(draw(st.integers(1, 30))):
        cells = [draw(st.sampled_from(["SPY", "SPY", *_TEXT])),
                 draw(st.sampled_from(_INTS[:1] * 6 + _INTS)),
                 draw(st.sampled_from(["689.53", "1.5", *_NUMBERS])),
                 draw(st.sampled_from(["100", "0.5", *_NUMBERS])),
                 draw(st.sampled_from(["", "", '"12,37"', "37", *_TEXT])),
                 draw(st.sampled_from(["0", "0", "1", "2147483648", "-2147483649", *_INTS]))]
        rows.append(",".join(cells))
    header = "ticker,sip_timestamp,price,size,conditions,correction\n"
    return (header + "\n".join(rows) + "\n").encode()


def _outcome(path: Path, kind: str, fast: bool,
             monkeypatch: pytest.MonkeyPatch) -> tuple[str, Any]:
    try:
        return "ok", _read(path, kind, fast=fast, monkeypatch=monkeypatch)
    except InputError as exc:
        return "error", (str(exc), exc.row)


def _check_same_outcome(data: bytes, kind: str, tmp_path: Path,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    for i, (name, payload) in enumerate((("f.csv", data), ("f.csv.gz", gzip.compress(data)))):
        path = tmp_path / f"{i}{name}"
        path.write_bytes(payload)
        fast = _outcome(path, kind, True, monkeypatch)
        arrow = _outcome(path, kind, False, monkeypatch)
        assert fast[0] == arrow[0], (fast, arrow)
        if fast[0] == "ok":
            _same(fast[1][0], arrow[1][0])
            assert fast[1][1:] == arrow[1][1:]
            continue
        # Arrow converts a whole block before any row of it is checked further, so in a file
        # with several problems it may name a later row; the fast path names the first.
        (fast_msg, fast_row), (arrow_msg, arrow_row) = fast[1], arrow[1]
        if fast_row == arrow_row:
            assert fast_msg == arrow_msg
        else:
            assert fast_row is not None and arrow_row is not None and fast_row < arrow_row, \
                (fast_msg, arrow_msg)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_quote_files())
def test_any_quote_file_reads_or_fails_exactly_as_with_arrow(
        data: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _check_same_outcome(data, "quotes_v1", tmp_path, monkeypatch)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_trade_files())
def test_any_trade_file_reads_or_fails_exactly_as_with_arrow(
        data: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _check_same_outcome(data, "trades_v1", tmp_path, monkeypatch)


def test_fast_path_values_hand_checked(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_bytes(b"ticker,bid_price,bid_size,ask_price,ask_size,sip_timestamp\n"
                     b"SPY,689.53,80,689.54,1000,1765549800004221266\n"
                     b"SPY,0.1,-0,123456789012.345,007,922337203685477580\n")
    header = flatfile._read_header(path, str(path), False)
    ((first, batch),) = list(fast_csv_batches(path, False, header, flatfile._QUOTES.required))
    assert first == 1
    assert batch.column("bid_price").to_pylist() == [689.53, 0.1]
    assert batch.column("ask_price").to_pylist() == [689.54, 123456789012.345]
    assert [str(x) for x in batch.column("bid_size").to_pylist()] == ["80.0", "-0.0"]
    assert batch.column("ask_size").to_pylist() == [1000.0, 7.0]
    assert batch.column("sip_timestamp").to_pylist() == [1765549800004221266,
                                                         922337203685477580]
    assert batch.column("ticker").to_pylist() == ["SPY", "SPY"]


def test_fast_path_hands_over_at_the_first_row_it_does_not_take(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_bytes(b"ticker,bid_price,bid_size,ask_price,ask_size,sip_timestamp\n"
                     b"SPY,1,1,2,1,10\nSPY,1,1,2,1,11\nSPY,1e0,1,2,1,12\nSPY,1,1,2,1,13\n")
    header = flatfile._read_header(path, str(path), False)
    got = []
    with pytest.raises(Fallback) as stop:
        for first, batch in fast_csv_batches(path, False, header, flatfile._QUOTES.required):
            got.append((first, batch.num_rows))
    assert got == [(1, 2)] and stop.value.rows == 2
    cols = [b for _, b in flatfile.read_csv_batches(path, required=flatfile._QUOTES.required)]
    assert [c.column("sip_timestamp").to_pylist() for c in cols] == [[10, 11], [12, 13]]


# ----------------------------------------------------------------------------- inflate


def test_isal_and_stdlib_zlib_inflate_the_same_bytes(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    parts = [rng.integers(0, 10, 300_000).astype(np.uint8).tobytes() + b"\n" for _ in range(3)]
    path = tmp_path / "multi.gz"
    path.write_bytes(b"".join(gzip.compress(p, mtime=0) for p in parts))  # three members
    fast = b"".join(read_chunks(path, True, read_size=4096))
    slow = b"".join(read_chunks(path, True, library=zlib, read_size=4096))
    assert fast == slow == b"".join(parts)


@pytest.mark.parametrize("damage", ["truncated", "garbage after", "bad checksum"])
def test_damaged_gzip_is_refused_by_every_library(damage: str, tmp_path: Path) -> None:
    good = gzip.compress(b"a,b\n1,2\n" * 1000, mtime=0)
    bad = {"truncated": good[:-20], "garbage after": good + b"junk",
           "bad checksum": good[:-8] + bytes([good[-8] ^ 1]) + good[-7:]}[damage]
    path = tmp_path / "bad.gz"
    path.write_bytes(bad)
    for lib in (None, zlib):
        with pytest.raises(InflateError):
            b"".join(read_chunks(path, True, library=lib))


def test_bars_identical_with_stdlib_zlib_and_with_arrow(sample: Any, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from spxcc_core.cli import main
    from spxcc_core.massive import _inflate

    t = sample.paths["us_stocks_sip/trades_v1"]
    q = sample.paths["us_stocks_sip/quotes_v1"]
    outputs = []
    for name, lib, fast in (("isal", _inflate._ZLIB, True), ("zlib", zlib, True),
                            ("arrow", _inflate._ZLIB, False)):
        monkeypatch.setattr(_inflate, "_ZLIB", lib)
        monkeypatch.setattr(flatfile, "FAST_PATH", fast)
        out, rep, qua = (tmp_path / f"{name}.{ext}" for ext in ("jsonl", "json", "q.jsonl"))
        assert main(["bars", "--trades", str(t), "--quotes", str(q), "--out", str(out),
                     "--report", str(rep), "--quarantine", str(qua)]) == 0
        outputs.append((out.read_bytes(), rep.read_bytes(), qua.read_bytes()))
    assert outputs[0] == outputs[1] == outputs[2]
    assert outputs[0][0].count(b"\n") > 100


# ----------------------------------------------------------------------------- prefetch


def test_prefetch_keeps_order_and_raises_where_the_source_raised() -> None:
    def source() -> Any:
        yield from range(5)
        raise InputError("f.csv", "broken", row=6)

    got = []
    with pytest.raises(InputError, match="row 6"):
        for x in Prefetcher(source(), depth=2):
            got.append(x)
    assert got == [0, 1, 2, 3, 4]


def test_prefetch_closed_early_stops_its_thread() -> None:
    before = threading.active_count()
    it = Prefetcher(iter(range(1_000_000)), depth=2)
    assert next(it) == 0
    it.close()
    assert threading.active_count() == before


def test_reading_a_flat_file_does_not_import_pandas(sample: Any) -> None:
    # pa.array(numpy) and DataType.to_pandas_dtype() import pandas (0.6 s of every run).
    code = ("import sys; from spxcc_core.massive import open_trades, open_quotes;"
            "from spxcc_core.aggregate.columns import SymbolTable, ConditionTable;"
            f"list(open_trades({str(sample.paths['us_stocks_sip/trades_v1'])!r}, ticker=None,"
            " symbols=SymbolTable(), conditions=ConditionTable()));"
            f"list(open_quotes({str(sample.paths['us_stocks_sip/quotes_v1'])!r}, ticker=None,"
            " symbols=SymbolTable()));"
            "print('pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_small_blocks_cut_rows_anywhere_and_read_the_same(sample: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from spxcc_core.massive import _fastcsv

    path = sample.paths["us_stocks_sip/trades_v1"]
    arrow = _read(path, "trades_v1", fast=False, monkeypatch=monkeypatch)
    monkeypatch.setattr(_fastcsv, "READ_SIZE", 333)  # rows and reads cut mid-line
    fast = _read(path, "trades_v1", fast=True, monkeypatch=monkeypatch)
    _same(fast[0], arrow[0])
    assert fast[1:] == arrow[1:]


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.text(alphabet="ab,\r", max_size=12), max_size=30),
       final_newline=st.booleans(), read_size=st.integers(1, 40), gz=st.booleans())
def test_row_blocks_are_the_rows_after_the_header_in_order(
        rows: list[str], final_newline: bool, read_size: int, gz: bool,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks in place of the inflated pieces: together exactly the text after the header
    line (a missing last line end added), each block whole lines (empty lines included, for
    the parser to refuse), none empty, whatever the piece size."""
    from spxcc_core.massive import _fastcsv

    body = "\n".join(rows) + ("\n" if final_newline and rows else "")
    text = ("h1,h2\n" + body).encode()
    path = tmp_path / ("f.csv.gz" if gz else "f.csv")
    path.write_bytes(gzip.compress(text, mtime=0) if gz else text)
    monkeypatch.setattr(_fastcsv, "READ_SIZE", read_size)
    blocks = [data[start:end] for data, start, end in _fastcsv._row_blocks(path, gz)]
    expected = body.encode()
    if expected and not expected.endswith(b"\n"):
        expected += b"\n"
    assert b"".join(blocks) == expected
    assert all(b and b.endswith(b"\n") for b in blocks)


def test_rechunker_passes_large_writable_batches_on_and_copies_the_rest() -> None:
    from spxcc_core.massive._common import Rechunker

    def cols(start: int, n: int) -> dict[str, np.ndarray]:
        return {"ts": np.arange(start, start + n, dtype=np.int64)}

    chunker = Rechunker(chunk_rows=100, min_rows=10)
    small, big = cols(0, 3), cols(3, 50)
    out = [*chunker.push(small), *chunker.push(big)]
    # the 3 pending rows first (merged: a copy), then the big batch as it is
    assert [c["ts"].tolist() for c in out] == [[0, 1, 2], list(range(3, 53))]
    assert not np.shares_memory(out[0]["ts"], small["ts"])
    assert out[1]["ts"] is big["ts"]
    frozen = cols(53, 50)
    frozen["ts"].flags.writeable = False  # e.g. Arrow's own buffers: copied, writable
    (copied,) = chunker.push(frozen)
    assert copied["ts"].flags.writeable and not np.shares_memory(copied["ts"], frozen["ts"])
    assert copied["ts"].tolist() == list(range(53, 103))
    strided = {"ts": np.arange(0, 40, dtype=np.int64)[::2]}  # 20 rows, not contiguous
    (merged,) = chunker.push(strided)
    assert merged["ts"].flags.c_contiguous and merged["ts"].tolist() == list(range(0, 40, 2))
    too_big = cols(0, 250)  # more than chunk_rows: cut into copies
    assert [len(c["ts"]) for c in chunker.push(too_big)] == [100, 100, 50]
    assert list(chunker.finish()) == []


@pytest.mark.parametrize(("setting", "load", "threads"), [
    ("1", 9.0, True), ("0", 0.0, False), ("auto", 0.5, True), ("auto", 2.0, False),
    ("", 1.99, True), ("", 7.0, False)])
def test_reader_threads_follow_the_setting_and_else_the_load(
        setting: str, load: float, threads: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Threads when asked, never when refused, and by default only while the 1-minute load
    average leaves one of the (here 2) CPUs free; the items are the same either way."""
    import os

    if setting:
        monkeypatch.setenv("SPXCC_READ_THREADS", setting)
    else:
        monkeypatch.delenv("SPXCC_READ_THREADS", raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert threads_enabled() is threads
    it = prefetch(iter(range(5)))
    assert isinstance(it, Prefetcher) is threads
    assert list(it) == [0, 1, 2, 3, 4]
