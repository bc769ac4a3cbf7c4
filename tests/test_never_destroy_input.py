"""No command overwrites, deletes or empties its input (issue 7, item 2).

An output that is, contains or lies inside an input is refused with one line and exit code 2
before anything is written; a folder is replaced only when spxcc made it (its marker file and
nothing else in it). Each case checks the input is byte for byte what it was.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from broker_cli_helpers import intent_file
from test_replay import write_flat_day, write_ws_day

from spxcc_core.cli import main
from spxcc_core.errors import ConfigError
from spxcc_core.outputs import MARKER, AtomicFiles, check_paths, check_replaceable
from spxcc_core.sample import DEFAULT_DATE


def _digest(root: Path) -> dict[str, str]:
    """Relative path → SHA-256 of every file under ``root`` (or of ``root`` itself)."""
    if root.is_file():
        return {root.name: hashlib.sha256(root.read_bytes()).hexdigest()}
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _refused(capsys: pytest.CaptureFixture[str], argv: list[str], *words: str) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spxcc: error: "), captured.err
    for w in words:
        assert w in lines[0]
    assert "Traceback" not in captured.err
    return lines[0]


# ----------------------------------------------------------------------------- ingest


def test_ingest_into_its_own_source_folder_is_refused(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    day = write_flat_day(tmp_path / "day")
    before = _digest(day)
    _refused(capsys, ["ingest", str(day), "--out", str(day)], str(day), "is the input")
    _refused(capsys, ["ingest", str(day), "--out", str(day / "cache")], "lies inside")
    _refused(capsys, ["ingest", str(day), "--out", str(tmp_path)], "contains the input")
    trades = next(day.glob("trades-*"))
    _refused(capsys, ["ingest", "--trades", str(trades), "--out", str(trades)], "is the input")
    link = tmp_path / "link"
    link.symlink_to(day)
    _refused(capsys, ["ingest", str(day), "--out", str(link)], "is the input")
    assert _digest(day) == before


def test_ingest_never_replaces_a_folder_spxcc_did_not_make(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    day = write_flat_day(tmp_path / "day")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "manifest.json").write_text('{"formatVersion": 1}')  # looks like a cache
    (mine / "thesis.tex").write_text("years of work")
    before = _digest(mine)
    _refused(capsys, ["ingest", str(day), "--out", str(mine)], "not made by spxcc")
    assert _digest(mine) == before
    # a cache spxcc made is replaced; once a foreign file is put in it, it no longer is
    cache = tmp_path / "cache"
    assert main(["ingest", str(day), "--out", str(cache)]) == 0
    assert (cache / MARKER).is_file()
    assert main(["ingest", str(day), "--out", str(cache)]) == 0
    (cache / "notes.txt").write_text("mine")
    capsys.readouterr()
    _refused(capsys, ["ingest", str(day), "--out", str(cache)], "'notes.txt'")
    assert (cache / "notes.txt").read_text() == "mine"


def test_ingest_into_an_empty_folder_is_fine(tmp_path: Path) -> None:
    day = write_flat_day(tmp_path / "day")
    (tmp_path / "empty").mkdir()
    assert main(["ingest", str(day), "--out", str(tmp_path / "empty")]) == 0
    assert (tmp_path / "empty" / "manifest.json").is_file()


# ----------------------------------------------------------------------------- bars


@pytest.mark.parametrize("option", ["--out", "--report", "--quarantine"])
@pytest.mark.parametrize("victim", ["trades", "quotes"])
def test_bars_never_writes_over_its_input(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         option: str, victim: str) -> None:
    day = write_flat_day(tmp_path / "day")
    trades, quotes = next(day.glob("trades-*")), next(day.glob("quotes-*"))
    before = _digest(day)
    target = trades if victim == "trades" else quotes
    outputs = {"--out": tmp_path / "bars.jsonl", option: target}
    argv = ["bars", "--trades", str(trades), "--quotes", str(quotes)]
    for k, v in outputs.items():
        argv += [k, str(v)]
    _refused(capsys, argv, f"{option} {target}", f"is the input --{victim}")
    assert _digest(day) == before
    assert not (tmp_path / "bars.jsonl").exists()


def test_bars_output_through_a_symlink_or_hard_link_to_the_input(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    day = write_flat_day(tmp_path / "day")
    trades = next(day.glob("trades-*"))
    before = _digest(day)
    (tmp_path / "sym.csv").symlink_to(trades)
    os.link(trades, tmp_path / "hard.csv")
    for alias in ("sym.csv", "hard.csv"):
        _refused(capsys, ["bars", "--trades", str(trades), "--out", str(tmp_path / alias)],
                 "is the input --trades")
    assert _digest(day) == before


# ----------------------------------------------------------------------------- replay


def test_replay_of_a_recording_into_its_own_folder_keeps_the_recording(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "d"
    d.mkdir()
    rec = write_ws_day(d / "microbars.jsonl")
    before = _digest(d)
    _refused(capsys, ["replay", str(rec), "--out", str(d)], "is the input session")
    assert _digest(d) == before
    assert sorted(p.name for p in d.iterdir()) == ["microbars.jsonl"]  # no store either


def test_replay_never_writes_into_its_input_folder(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    day = write_flat_day(tmp_path / "day")
    cache = tmp_path / "cache"
    assert main(["ingest", str(day), "--out", str(cache)]) == 0
    capsys.readouterr()
    before = _digest(cache)
    _refused(capsys, ["replay", str(cache), "--out", str(cache)], "lies inside")
    _refused(capsys, ["replay", str(day), "--out", str(day / "out")], "lies inside")
    _refused(capsys, ["replay", str(cache), "--out", str(tmp_path / "o"),
                      "--db", str(cache / "manifest.json")], "store")
    assert _digest(cache) == before
    assert not (tmp_path / "o").exists()


# ----------------------------------------------------------------------------- live


def test_live_recording_must_not_be_one_of_the_output_files(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPXCC_DB", raising=False)
    run = tmp_path / "run"
    argv = ["live", "--url", "ws://127.0.0.1:9/stocks", "--subscribe", "T.SPY",
            "--out", str(run), "--record", str(run / "microbars.jsonl"), "--duration", "1"]
    _refused(capsys, argv, "same path")
    assert not run.exists()
    chain = tmp_path / "chain.json"
    chain.write_text("{}")
    _refused(capsys, ["live", "--url", "ws://127.0.0.1:9/stocks", "--subscribe", "T.SPY",
                      "--record", str(chain), "--chain", str(chain)], "is the input chain")
    assert chain.read_text() == "{}"


# ----------------------------------------------------------------------------- broker, secrets


def test_broker_store_must_not_be_the_intent_file(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = intent_file(tmp_path, "keep-me")
    before = path.read_bytes()
    _refused(capsys, ["broker", "submit", "--broker", "paper", "--account", "P1",
                      "--intent", str(path), "--db", str(path)], "is the input --intent")
    assert path.read_bytes() == before


def test_secrets_store_must_not_be_the_key_file(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    key = tmp_path / "master.key"
    assert main(["secrets", "keygen", "--out", str(key)]) == 0
    before = key.read_bytes()
    capsys.readouterr()
    _refused(capsys, ["secrets", "rotate", "--finish", "--key-file", str(key), "--db", str(key)],
             "--db", "is the input --key-file")
    assert key.read_bytes() == before


# ----------------------------------------------------------------------------- the helper


def test_check_paths_cases(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("x")
    check_paths({"--out": tmp_path / "out.jsonl"}, {"--in": tmp_path / "in"})
    check_paths({"--out": tmp_path / "in2"}, {"--in": tmp_path / "in"})  # a prefix, not a parent
    for out, how in [(tmp_path / "in", "is"), (tmp_path, "contains"),
                     (tmp_path / "in" / "a.csv", "lies inside"),
                     (tmp_path / "in" / "." / "new", "lies inside")]:
        with pytest.raises(ConfigError, match=f"{how} the input --in"):
            check_paths({"--out": out}, {"--in": tmp_path / "in"})
    with pytest.raises(ConfigError, match="same path"):
        check_paths({"--out": tmp_path / "x", "--report": tmp_path / "." / "x"})


def test_check_replaceable_cases(tmp_path: Path) -> None:
    check_replaceable(tmp_path / "missing", "f", set())
    (tmp_path / "empty").mkdir()
    check_replaceable(tmp_path / "empty", "f", set())
    ours = tmp_path / "ours"
    ours.mkdir()
    (ours / MARKER).write_text("")
    (ours / "a.arrow").write_text("")
    check_replaceable(ours, "f", {"a.arrow"})
    with pytest.raises(ConfigError, match=r"'a\.arrow'"):
        check_replaceable(ours, "f", {"b.arrow"})
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="not a folder"):
        check_replaceable(tmp_path / "file", "f", set())


def test_atomic_files_interleaved_writers_never_share_a_temporary_file(tmp_path: Path) -> None:
    """Two writers of the same files, interleaved: each keeps its own temporary files, the
    last to commit wins with its whole set, and nothing temporary is left."""
    names = [tmp_path / "a.jsonl", tmp_path / "b.json"]
    first, second = AtomicFiles(names), AtomicFiles(names)
    for f, data in zip(first.files, (b"A1", b"B1"), strict=True):
        f.write(data)
    for f, data in zip(second.files, (b"A2", b"B2"), strict=True):
        f.write(data)
    second.commit()
    first.commit()
    assert [p.read_bytes() for p in names] == [b"A1", b"B1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "b.json"]


# ----------------------------------------------------------------------------- demo, sample


def test_sample_generation_never_replaces_a_foreign_folder(tmp_path: Path) -> None:
    from spxcc_core.sample import generate_session
    from spxcc_core.sample.cache import session_folder_name

    folder = tmp_path / session_folder_name(14, DEFAULT_DATE, 0.01)
    folder.mkdir()
    (folder / "manifest.json").write_text("{}")  # not a sample manifest: not provably ours
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not made by spxcc"):
        generate_session(tmp_path, scale=0.01)
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "notes.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folder left


def test_demo_store_must_not_be_inside_the_sample_session(tmp_path: Path) -> None:
    from spxcc_core.cli.demo import replay_demo
    from spxcc_core.sample import generate_session

    session = generate_session(tmp_path, scale=0.01)
    before = _digest(session.root)
    with pytest.raises(ConfigError, match="lies inside the input sample session"):
        replay_demo(session, session.root / "spxcc.sqlite3")
    assert _digest(session.root) == before
