"""Session cache (``spxcc ingest``): layout, arrival order, determinism, zero copy, bad input."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from spxcc_core.errors import ConfigError, InputError
from spxcc_core.outputs import MARKER
from spxcc_core.replay.cache import (
    MANIFEST,
    classify_source,
    discover_sources,
    ingest,
    is_session_cache,
    open_cache,
)
from spxcc_core.sample import generate_session

TRADES_HEADER = ("ticker,conditions,correction,exchange,id,participant_timestamp,price,"
                 "sequence_number,sip_timestamp,size,tape,trf_id,trf_timestamp")
QUOTES_HEADER = ("ticker,ask_exchange,ask_price,ask_size,bid_exchange,bid_price,bid_size,"
                 "conditions,indicators,participant_timestamp,sequence_number,sip_timestamp,"
                 "tape,trf_timestamp")
OPT_TRADES_HEADER = "ticker,conditions,correction,exchange,participant_timestamp,price,sip_timestamp,size"

# 2024-01-02 09:30:00 New York = 1704205800 s.
T0 = 1_704_205_800_000_000_000


def write_day(folder: Path, *, name_date: str | None = "2024-01-02") -> Path:
    """A hand-made day: 3 SPY trades (arrival order not time order), 2 SPY quotes, 1 option trade."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = f"{name_date}.csv" if name_date else "day.csv"
    (folder / f"trades-{suffix}").write_text(
        TRADES_HEADER + "\n"
        f"SPY,,0,11,1,0,470.10,11,{T0 + 500_000_000},100,2,0,0\n"
        f'SPY,"12,37",0,4,2,0,470.20,12,{T0 + 100_000_000},5,2,0,0\n'
        f"SPY,14,0,12,3,0,470.30,13,{T0 + 1_200_000_000},300,2,0,0\n")
    (folder / f"quotes-{suffix}").write_text(
        QUOTES_HEADER + "\n"
        f"SPY,12,470.11,4,11,470.09,2,,,0,21,{T0 + 50_000_000},2,0\n"
        f"SPY,12,470.31,1,11,470.29,3,,,0,22,{T0 + 1_100_000_000},2,0\n")
    (folder / f"opt-{suffix}").write_text(
        OPT_TRADES_HEADER + "\n"
        f"O:SPXW240102C04750000,,0,302,0,3.20,{T0 + 700_000_000},2\n")
    return folder


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory):
    return generate_session(tmp_path_factory.mktemp("sample"), scale=0.02)


def test_hand_made_day_is_stored_in_arrival_order(tmp_path: Path) -> None:
    src = write_day(tmp_path / "src")
    cache = ingest(src, tmp_path / "cache")
    m = cache.manifest
    assert m.format_version == 1
    assert m.session_date == "2024-01-02"
    assert [d.kind for d in m.datasets] == ["stocks_trades", "stocks_quotes", "options_trades"]
    assert [d.rows for d in m.datasets] == [3, 2, 1]
    assert [d.source for d in m.datasets] == ["trades-2024-01-02.csv", "quotes-2024-01-02.csv",
                                              "opt-2024-01-02.csv"]
    assert m.symbols == ["SPY", "O:SPXW240102C04750000"]
    assert m.condition_sets == [[], [12, 37], [14]]
    (trades,) = list(cache.batches("stocks_trades"))
    assert trades.ts.tolist() == [T0 + 500_000_000, T0 + 100_000_000, T0 + 1_200_000_000]
    assert trades.price.tolist() == [470.10, 470.20, 470.30]
    assert trades.size.tolist() == [100.0, 5.0, 300.0]
    assert trades.cond.tolist() == [0, 1, 2]
    assert trades.seq.tolist() == [11, 12, 13]
    assert trades.line.tolist() == [1, 2, 3]
    (quotes,) = list(cache.batches("stocks_quotes"))
    assert quotes.bid.tolist() == [470.09, 470.29]
    assert quotes.ask_size.tolist() == [4.0, 1.0]
    (opt,) = list(cache.batches("options_trades"))
    assert opt.symbol.tolist() == [1] and opt.seq.tolist() == [-1]
    assert list(cache.batches("index_values")) == []
    assert cache.total_events == 6


def test_manifest_hashes_match_the_source_files(sample, tmp_path: Path) -> None:
    cache = ingest(sample.root, tmp_path / "cache")
    by_source = {d.source: d for d in cache.manifest.datasets}
    for dataset, path in sample.paths.items():
        rel = path.relative_to(sample.root).as_posix()
        d = by_source[rel]
        assert d.source_sha256 == sample.sha256[dataset]  # the generator's own manifest
        assert d.rows == sample.counts[dataset]
        assert d.source_bytes == path.stat().st_size
    assert cache.manifest.session_date == sample.date.isoformat()


def test_ingesting_twice_gives_identical_bytes_wherever_the_input_lies(sample,
                                                                       tmp_path: Path) -> None:
    a = ingest(sample.root, tmp_path / "a")
    moved = tmp_path / "elsewhere" / "copy"
    shutil.copytree(sample.root, moved)
    b = ingest(moved, tmp_path / "b", chunk_rows=1_000_000)
    names = sorted(p.name for p in a.root.iterdir())
    assert names == sorted(p.name for p in b.root.iterdir())
    # 5 datasets, the chain snapshot, manifest and the marker of a folder spxcc made
    assert MANIFEST in names and MARKER in names and len(names) == 8
    for name in names:
        assert (a.root / name).read_bytes() == (b.root / name).read_bytes(), name
    assert str(tmp_path) not in (a.root / MANIFEST).read_text()


def test_arrow_files_are_uncompressed_and_read_without_copy(sample, tmp_path: Path) -> None:
    cache = ingest(sample.root, tmp_path / "cache")
    with pa.memory_map(str(cache.root / "stocks_quotes.arrow")) as mm:
        reader = ipc.open_file(mm)
        assert reader.num_record_batches >= 1
        assert reader.get_batch(0).num_rows > 0
    batch = next(cache.batches("stocks_quotes"))
    assert not batch.ts.flags.owndata and not batch.ts.flags.writeable
    assert not batch.bid.flags.owndata


def test_every_row_of_the_source_is_in_the_cache(sample, tmp_path: Path) -> None:
    cache = ingest(sample.root, tmp_path / "cache", chunk_rows=7_000)
    for kind in cache.kinds:
        batches = list(cache.batches(kind))
        lines = np.concatenate([b.line for b in batches])
        assert lines.tolist() == list(range(1, cache.rows(kind) + 1))
        assert len(batches) == -(-cache.rows(kind) // 7_000)


def test_date_from_the_first_event_when_names_have_none(tmp_path: Path) -> None:
    src = write_day(tmp_path / "src", name_date=None)
    assert ingest(src, tmp_path / "c").manifest.session_date == "2024-01-02"


def test_explicit_files_and_ticker_filter(tmp_path: Path) -> None:
    src = write_day(tmp_path / "src")
    cache = ingest({"stocks_trades": src / "trades-2024-01-02.csv",
                    "options_trades": src / "opt-2024-01-02.csv"}, tmp_path / "c", ticker="SPY")
    assert [(d.kind, d.rows, d.source) for d in cache.manifest.datasets] == [
        ("stocks_trades", 3, "trades-2024-01-02.csv"), ("options_trades", 0, "opt-2024-01-02.csv")]
    assert cache.manifest.ticker == "SPY"
    assert cache.manifest.symbols == ["SPY"]


def test_classification_by_bucket_path_then_header(sample, tmp_path: Path) -> None:
    kinds = {k: p.relative_to(sample.root).as_posix()
             for k, p in discover_sources(sample.root).items()}
    assert kinds == {
        "stocks_trades": "us_stocks_sip/trades_v1/2025/12/2025-12-12.csv.gz",
        "stocks_quotes": "us_stocks_sip/quotes_v1/2025/12/2025-12-12.csv.gz",
        "options_trades": "us_options_opra/trades_v1/2025/12/2025-12-12.csv.gz",
        "options_quotes": "us_options_opra/quotes_v1/2025/12/2025-12-12.csv.gz",
        "index_values": "us_indices/values_v1/2025/12/2025-12-12.csv.gz",
    }
    src = write_day(tmp_path / "src")
    assert classify_source(src / "opt-2024-01-02.csv") == "options_trades"
    assert classify_source(src / "quotes-2024-01-02.csv") == "stocks_quotes"
    gz = tmp_path / "values.csv.gz"
    gz.write_bytes(gzip.compress(b"ticker,value,timestamp\nI:SPX,4742.5,1\n"))
    assert classify_source(gz) == "index_values"


@pytest.mark.shared_data
def test_real_es_files_ingest(shared_data: Path, tmp_path: Path) -> None:
    src = tmp_path / "es"
    src.mkdir()
    for suffix in ("trades", "quotes"):
        name = f"glbx_esu4_2024-07-01_mbp1.{suffix}.csv.gz"
        shutil.copy(shared_data / name, src / name)
    cache = ingest(src, tmp_path / "c")
    assert [(d.kind, d.rows) for d in cache.manifest.datasets] == [
        ("stocks_trades", 120), ("stocks_quotes", 2167)]
    assert cache.manifest.session_date == "2024-07-01"
    assert cache.manifest.datasets[0].source_sha256 == (
        "7862562274948edfebbab0bf2ded0273970d4bea78db8d830ffd5c993f8ef4a8")


# ----------------------------------------------------------------------------- bad input


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir())


def test_bad_row_names_file_and_row_and_leaves_nothing(tmp_path: Path) -> None:
    src = write_day(tmp_path / "src")
    with open(src / "quotes-2024-01-02.csv", "a") as fh:
        fh.write(f"SPY,12,abc,1,11,470.29,3,,,0,23,{T0},2,0\n")
    out_parent = tmp_path / "out"
    out_parent.mkdir()
    with pytest.raises(InputError) as err:
        ingest(src, out_parent / "cache")
    msg = str(err.value)
    assert "quotes-2024-01-02.csv" in msg and "row 3" in msg and "ask_price" in msg
    assert _leftovers(out_parent) == []


def test_failed_reingest_keeps_the_previous_cache(tmp_path: Path) -> None:
    src = write_day(tmp_path / "src")
    cache = ingest(src, tmp_path / "cache")
    before = (cache.root / MANIFEST).read_bytes()
    (src / "trades-2024-01-02.csv").write_text(TRADES_HEADER + "\nSPY,,0,11\n")
    with pytest.raises(InputError, match="row 1"):
        ingest(src, tmp_path / "cache")
    assert (tmp_path / "cache" / MANIFEST).read_bytes() == before
    assert _leftovers(tmp_path) == ["cache", "src"]


def test_reingest_replaces_a_cache(tmp_path: Path) -> None:
    src = write_day(tmp_path / "src")
    ingest(src, tmp_path / "cache")
    (src / "opt-2024-01-02.csv").unlink()
    cache = ingest(src, tmp_path / "cache")
    assert open_cache(tmp_path / "cache").kinds == ["stocks_trades", "stocks_quotes"]
    assert not (cache.root / "options_trades.arrow").exists()
    assert _leftovers(tmp_path) == ["cache", "src"]


def test_refuses_to_overwrite_a_folder_that_is_not_a_cache(tmp_path: Path) -> None:
    src = write_day(tmp_path / "src")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not made by spxcc"):
        ingest(src, tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize(("setup", "match"), [
    ("two_trades", "two stocks trades files"),
    ("two_days", "different days"),
    ("no_files", "no Massive flat files"),
    ("unknown_header", "not a Massive trades, quotes or index-values"),
    ("empty", "file is empty"),
])
def test_bad_folders(tmp_path: Path, setup: str, match: str) -> None:
    src = write_day(tmp_path / "src")
    if setup == "two_trades":
        shutil.copy(src / "trades-2024-01-02.csv", src / "more-trades-2024-01-02.csv")
    elif setup == "two_days":
        (src / "quotes-2024-01-02.csv").rename(src / "quotes-2024-01-03.csv")
    elif setup == "no_files":
        for p in src.iterdir():
            p.rename(p.with_suffix(".txt"))
    elif setup == "unknown_header":
        (src / "x.csv").write_text("a,b,c\n1,2,3\n")
    else:
        (src / "x.csv").write_text("")
    with pytest.raises(InputError, match=match):
        ingest(src, tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_open_cache_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no manifest\.json"):
        open_cache(tmp_path)
    cache = ingest(write_day(tmp_path / "src"), tmp_path / "c")
    assert is_session_cache(cache.root) and not is_session_cache(tmp_path / "src")
    text = (cache.root / MANIFEST).read_text()
    (cache.root / MANIFEST).write_text(text.replace('"formatVersion":1', '"formatVersion":9'))
    with pytest.raises(InputError, match="format version 9 is not supported"):
        open_cache(cache.root)
    (cache.root / MANIFEST).write_text(text)
    (cache.root / "stocks_quotes.arrow").unlink()
    with pytest.raises(InputError, match=r"stocks_quotes\.arrow: dataset file missing"):
        open_cache(cache.root)
