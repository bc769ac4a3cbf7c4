"""Corrupt or foreign input files: one line naming the file, exit 2, never a traceback.

Session caches whose ``.arrow`` files are truncated, garbage or of another shape, golden
expected files that are truncated or not UTF-8, and order intents with out-of-range numbers.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from broker_cli_helpers import intent_file
from test_session_cache import write_day

from spxcc_core.cli import main
from spxcc_core.errors import InputError
from spxcc_core.replay.cache import open_cache


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.strip().splitlines()


@pytest.fixture
def cache(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    out = tmp_path / "cache"
    assert main(["ingest", str(write_day(tmp_path / "day")), "--out", str(out)]) == 0
    capsys.readouterr()
    return out


def _truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _garbage(p: Path) -> None:
    p.write_bytes(b"ARROW1\x00\x00" + b"\x17garbage bytes, not an IPC file" * 9)


def _other_columns(p: Path) -> None:
    table = pa.table({"x": pa.array([1, 2, 3], pa.int64())})
    with pa.OSFile(str(p), "wb") as sink, ipc.new_file(sink, table.schema) as w:
        w.write_table(table)


def _fewer_rows(p: Path) -> None:
    with pa.memory_map(str(p)) as src:
        table = ipc.open_file(src).read_all()
    with pa.OSFile(str(p), "wb") as sink, ipc.new_file(sink, table.schema) as w:
        w.write_table(table.slice(0, 1))


@pytest.mark.parametrize(("damage", "problem"), [
    (_truncate, "not a readable Arrow IPC dataset file"),
    (_garbage, "not a readable Arrow IPC dataset file"),
    (_other_columns, "columns x are not those of a stocks_trades dataset"),
    (_fewer_rows, "holds 1 rows, the manifest says 3"),
])
def test_replay_of_a_damaged_cache_is_one_line(damage: Callable[[Path], None], problem: str,
                                               cache: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    arrow = cache / "stocks_trades.arrow"
    damage(arrow)
    with pytest.raises(InputError) as info:
        open_cache(cache)
    assert str(info.value).startswith(f"{arrow}: {problem}")
    code, err = _run(["replay", str(cache), "--out", str(tmp_path / "out")], capsys)
    assert code == 2
    assert len(err) == 1, err
    assert err[0].startswith(f"spxcc: error: {arrow}: {problem}"), err
    assert err[0].endswith("run `spxcc ingest` again")


def test_a_cache_damaged_after_it_was_opened_is_one_line(cache: Path) -> None:
    """A reader holding an opened cache whose file is replaced meanwhile gets an InputError
    naming the file, not a pyarrow exception."""
    opened = open_cache(cache)
    _garbage(cache / "stocks_quotes.arrow")
    with pytest.raises(InputError) as info:
        list(opened.batches("stocks_quotes"))
    assert str(info.value).startswith(f"{cache / 'stocks_quotes.arrow'}: not a readable Arrow")


def test_an_intact_cache_still_replays(cache: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(cache), "--out", str(tmp_path / "out")]) == 0
    assert json.loads((tmp_path / "out" / "report.json").read_text())["aggregation"][
        "eventsIn"] == 6


# ----------------------------------------------------------------------------- golden verify

GOLDEN = Path(__file__).resolve().parent / "golden"


def _copy_case(root: Path, case: str) -> str:
    """A copy of a committed golden case (inputs and expected files) under ``root``."""
    shutil.copytree(GOLDEN / case, root / case)
    return case


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _latin1_line(data: bytes) -> bytes:
    first, rest = data.split(b"\n", 1)
    return first.replace(b'"', b'"\xe9', 1) + b"\n" + rest  # an invalid UTF-8 byte in a key


@pytest.mark.parametrize(("name", "damage", "problem"), [
    ("microbars.jsonl", _half, "not a JSON object (Input data was truncated)"),
    ("setups.jsonl", _latin1_line, "not a JSON object (Invalid UTF-8 encoded string)"),
    ("quarantine.jsonl", lambda d: d + b"\xff\xfe\n", "not a JSON object (JSON is malformed"),
    ("report.json", _half, "not a JSON object (Input data was truncated)"),
])
def test_golden_verify_with_a_damaged_expected_file_is_one_line(
        name: str, damage: Callable[[bytes], bytes], problem: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    case = _copy_case(tmp_path, "chop_day")
    target = tmp_path / case / "expected" / name
    data = damage(target.read_bytes())
    target.write_bytes(data)
    lines = data.splitlines()
    bad = next(i for i, ln in enumerate(lines, start=1) if _not_json(ln))
    code, err = _run(["golden", "verify", "--golden-dir", str(tmp_path), "--case", case], capsys)
    assert code == 2
    assert len(err) == 1, err
    where = f"{target}" if name.endswith(".json") else f"{target}, row {bad}"
    assert err[0].startswith(f"spxcc: error: {where}: {problem}"), err
    assert target.read_bytes() == data  # the damaged file is left as it was


def _not_json(line: bytes) -> bool:
    try:
        json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return True
    return False


# ----------------------------------------------------------------------------- order intents


def _paper(tmp_path: Path, action: str = "submit") -> list[str]:
    return ["broker", action, "--broker", "paper", "--account", "P1",
            "--option", "cash=100000000", "--db", str(tmp_path / "s.sqlite3")]


@pytest.mark.parametrize(("field", "value", "problem"), [
    ("quantity", 10**30, "Expected `int` <= 1000000 - at `$.quantity`"),
    ("quantity", 2**63, "Expected `int` <= 1000000 - at `$.quantity`"),
    ("quantity", 1_000_001, "Expected `int` <= 1000000 - at `$.quantity`"),
    ("quantity", 0, "Expected `int` >= 1 - at `$.quantity`"),
    ("createdAtMs", 10**30, "Expected `int` <= 253402300799999 - at `$.createdAtMs`"),
    ("createdAtMs", -1, "Expected `int` >= 0 - at `$.createdAtMs`"),
])
def test_an_intent_with_an_out_of_range_integer_is_refused_when_decoded(
        field: str, value: int, problem: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = intent_file(tmp_path, "huge-1", **{field: value})
    code, err = _run([*_paper(tmp_path), "--intent", str(path)], capsys)
    assert code == 2 and err == [f"spxcc: error: {path}: {problem}"]
    assert not (tmp_path / "s.sqlite3").exists()  # refused before the store is opened


def test_submit_refuses_more_than_100_contracts_by_default(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    path = intent_file(tmp_path, "big-1", quantity=101, limitPrice=0.05)
    code, err = _run([*_paper(tmp_path), "--intent", str(path)], capsys)
    assert code == 2
    assert err == ["spxcc: error: intent 'big-1' refused by pre-trade checks: quantity 101 > "
                   "max contracts 100"]
    ok = intent_file(tmp_path, "big-2", quantity=101, limitPrice=0.05)
    code, err = _run([*_paper(tmp_path), "--intent", str(ok), "--max-contracts", "101"], capsys)
    assert (code, err) == (0, [])


def test_golden_regen_repairs_a_damaged_expected_file(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The remedy the verify error names works: regen replaces the damaged file (with the
    committed bytes again: the case is deterministic) and says it was unreadable."""
    case = _copy_case(tmp_path, "chop_day")
    target = tmp_path / case / "expected" / "microbars.jsonl"
    target.write_bytes(_half(target.read_bytes()))
    capsys.readouterr()
    assert main(["golden", "regen", "--golden-dir", str(tmp_path), "--case", case]) == 0
    out = capsys.readouterr().out
    assert f"  microbars.jsonl: the previous file was unreadable ({target}, row " in out
    assert target.read_bytes() == (GOLDEN / case / "expected" / "microbars.jsonl").read_bytes()
