"""``spxcc replay`` over several sessions: globs, one folder per session, ``--jobs``,
``--dask local``, the bars cache — every session's files the same bytes as its own replay."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from spxcc_core.cli import main
from spxcc_core.replay.cache import ingest
from spxcc_core.replay.engine import OUTPUT_FILES
from spxcc_core.sample import generate_session


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two session caches and a folder of flat files, all under ``days/``."""
    root = tmp_path_factory.mktemp("many")
    out = []
    for seed, day in ((51, "2025-12-01"), (52, "2025-12-02")):
        s = generate_session(root / "samples", seed=seed, scale=0.01,
                             date=dt.date.fromisoformat(day))
        out.append(ingest(s.root, root / "days" / f"cache-{day}").root)
    flat = generate_session(root / "samples", seed=53, scale=0.01,
                            date=dt.date(2025, 12, 3)).root
    link = root / "days" / "flat-2025-12-03"
    link.symlink_to(flat, target_is_directory=True)
    out.append(link)
    return out


@pytest.fixture(scope="module")
def singles(sessions: list[Path], tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Each session replayed on its own, no cache: the reference bytes."""
    root = tmp_path_factory.mktemp("singles")
    for i, s in enumerate(sessions):
        assert main(["replay", str(s), "--out", str(root / str(i))]) == 0
    return [root / str(i) for i in range(len(sessions))]


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPXCC_DB", str(tmp_path / "profiles.sqlite3"))


def _same(out: Path, sessions: list[Path], singles: list[Path]) -> None:
    folders = sorted(p for p in out.iterdir() if p.is_dir())
    assert [f.name for f in folders] == [f"{i:03d}-{s.name}" for i, s in enumerate(sessions)]
    for folder, single in zip(folders, singles, strict=True):
        for name in OUTPUT_FILES:
            assert (folder / name).read_bytes() == (single / name).read_bytes(), (folder, name)


def test_a_glob_replays_each_session_into_its_own_folder(
        sessions: list[Path], singles: list[Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPXCC_CACHE_DIR", str(tmp_path / "user-cache"))
    pattern = str(sessions[0].parent / "*")
    assert main(["replay", pattern, "--out", str(tmp_path / "out")]) == 0
    _same(tmp_path / "out", sessions, singles)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("000-cache-2025-12-01: session 2025-12-01, ")
    assert printed[-1].startswith(f"3 sessions -> {tmp_path / 'out'}, bars cache "
                                  f"{tmp_path / 'user-cache' / 'bars'}")
    # one tape per session in the user cache folder
    assert len(list((tmp_path / "user-cache" / "bars").iterdir())) == 3


def test_jobs_and_a_second_run_from_the_cache_give_the_same_bytes(
        sessions: list[Path], singles: list[Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["replay", *map(str, sessions), "--bars-cache", str(tmp_path / "bars")]
    assert main([*args, "--out", str(tmp_path / "a"), "--jobs", "2"]) == 0
    _same(tmp_path / "a", sessions, singles)
    tapes = sorted(p.name for p in (tmp_path / "bars").iterdir())
    assert main([*args, "--out", str(tmp_path / "b")]) == 0  # every tape read, none added
    _same(tmp_path / "b", sessions, singles)
    assert sorted(p.name for p in (tmp_path / "bars").iterdir()) == tapes
    # without the cache: aggregated now, nothing cached
    monkeypatch.setenv("SPXCC_CACHE_DIR", str(tmp_path / "user-cache"))
    assert main(["replay", *map(str, sessions), "--no-bars-cache", "--out",
                 str(tmp_path / "c")]) == 0
    _same(tmp_path / "c", sessions, singles)
    assert not (tmp_path / "user-cache" / "bars").exists()


def test_dask_local_cluster_gives_the_same_bytes(sessions: list[Path], singles: list[Path],
                                                 tmp_path: Path) -> None:
    pytest.importorskip("dask.distributed", reason="the dask extra is not installed")
    assert main(["replay", *map(str, sessions), "--out", str(tmp_path / "d"), "--dask",
                 "local", "--jobs", "2", "--no-bars-cache"]) == 0
    _same(tmp_path / "d", sessions, singles)


def test_bad_many_session_input_is_one_line(sessions: list[Path], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(tmp_path / "nothing-*"), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip().endswith("no session matches this pattern")
    assert main(["replay", str(sessions[0]), str(sessions[1]), "--out",
                 str(sessions[0] / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "inside" in err
    assert main(["replay", str(sessions[0]), "--jobs", "0", "--out", str(tmp_path / "o")]) == 2
    assert "--jobs must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_progress_bar_does_not_change_outputs(sessions: list[Path], singles: list[Path],
                                              tmp_path: Path) -> None:
    import concurrent.futures

    from spxcc_core.replay.executor import replay_many

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        replay_many(sessions, executor=pool, out_root=tmp_path / "p", progress=True,
                    bars_cache=tmp_path / "bars")
    _same(tmp_path / "p", sessions, singles)


def test_several_sessions_execute_like_each_session_on_its_own(
        sessions: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``--execute paper`` reaches every session of a many-session run (the bars cache is
    not used: execution needs the raw option quotes): each folder's execution files are the
    bytes of that session's own executing replay."""
    monkeypatch.setenv("SPXCC_CACHE_DIR", str(tmp_path / "user-cache"))
    two = sessions[:2]
    assert main(["replay", *map(str, two), "--out", str(tmp_path / "many"),
                 "--execute", "paper"]) == 0
    assert "bars cache" not in capsys.readouterr().out
    for i, s in enumerate(two):
        assert main(["replay", str(s), "--out", str(tmp_path / f"one-{i}"),
                     "--execute", "paper"]) == 0
        folder = tmp_path / "many" / f"{i:03d}-{s.name}"
        for name in ("intents.jsonl", "fills.jsonl", "positions.jsonl", "slippage.jsonl",
                     "report.json"):
            assert (folder / name).read_bytes() == (tmp_path / f"one-{i}" / name).read_bytes()
        assert b'"execution"' in (folder / "report.json").read_bytes()


# ------------------------------------------------------------- options that would do nothing

@pytest.mark.parametrize(("extra", "line"), [
    (["--execute", "paper", "--bars-cache", "BARS"],
     "spxcc replay: --bars-cache has no effect with --execute (an executed replay aggregates "
     "every session itself, no tape is read or written)"),
    (["--jobs", "2", "--dask", "tcp://127.0.0.1:9"],
     "spxcc replay: --jobs has no effect with --dask tcp://127.0.0.1:9 (an existing scheduler "
     "has its own workers; --jobs sizes --dask local or the process pool)"),
    (["--execute-option", "fill=mid"], "--execute-option needs --execute BROKER"),
])
@pytest.mark.parametrize("many", [False, True])
def test_an_option_that_would_do_nothing_is_refused(
        sessions: list[Path], extra: list[str], line: str, many: bool, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """One line, exit 2, nothing written (no output folder, no bars cache, no store)."""
    chosen = sessions if many else sessions[:1]
    out = tmp_path / "o"
    argv = [a.replace("BARS", str(tmp_path / "bars")) for a in extra]
    code = main(["replay", *map(str, chosen), "--out", str(out), "--db",
                 str(tmp_path / "db" / "s.sqlite3"), *argv])
    captured = capsys.readouterr()
    assert (code, captured.out, captured.err) == (2, "", f"spxcc: error: {line}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
