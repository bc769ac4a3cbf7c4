"""Replays racing into one output folder, and replays that stop on bad input (issue 7, item 3):
real processes released together by a file barrier, real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_replay import write_flat_day, write_ws_day
from together import spxcc_together

from spxcc_core.cli import main
from spxcc_core.replay.engine import OUTPUT_FILES, replay_session


def _shifted(path: Path, cents: int) -> Path:
    """A recording like :func:`write_ws_day`'s with every price moved by ``cents``."""
    write_ws_day(path)
    frames = [json.loads(line) for line in path.read_text().splitlines()]
    for frame in frames:
        for e in frame:
            for k in ("p", "bp", "ap"):
                if k in e:
                    e[k] = round(e[k] + cents / 100, 2)
    path.write_text("\n".join(json.dumps(f) for f in frames) + "\n")
    return path


def _files(folder: Path) -> dict[str, bytes]:
    return {n: (folder / n).read_bytes() for n in OUTPUT_FILES}


def test_concurrent_replays_into_one_folder_last_complete_writer_wins(tmp_path: Path) -> None:
    recs = [_shifted(tmp_path / "a.jsonl", 0), _shifted(tmp_path / "b.jsonl", 7)]
    solo = []
    for n, rec in enumerate(recs):
        replay_session(rec, out_dir=tmp_path / f"solo{n}")
        solo.append(_files(tmp_path / f"solo{n}"))
    assert solo[0]["report.json"] != solo[1]["report.json"]
    out = tmp_path / "shared"
    runs = spxcc_together([["replay", str(recs[n % 2]), "--out", str(out)] for n in range(4)],
                          tmp_path / "barrier", env={"SPXCC_DB": ""})
    for r in runs:
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert _files(out) in solo  # one run's complete set, never a mix of two
    store = {"spxcc.sqlite3", "spxcc.sqlite3-wal", "spxcc.sqlite3-shm"}
    assert {p.name for p in out.iterdir()} - store == set(OUTPUT_FILES)  # no temporary file


@pytest.mark.parametrize("kind", ["recording", "flat files"])
def test_replay_stopping_on_bad_input_leaves_nothing_behind(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        kind: str) -> None:
    monkeypatch.delenv("SPXCC_DB", raising=False)
    if kind == "recording":
        session = write_ws_day(tmp_path / "rec.jsonl")
        with session.open("a") as fh:  # good frames first, then a malformed one
            fh.write('[{"ev":"T","sym":"SPY"}]\n')
    else:
        session = write_flat_day(tmp_path / "day")
        trades = next(session.glob("trades-*"))
        trades.write_text(trades.read_text() + "SPY,,0,11,9,0,oops,9,1,1,2,0,0\n")
    out = tmp_path / "out"
    assert main(["replay", str(session), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("spxcc: error: ")
    assert not out.exists()  # no folder, no store, no partial output


def test_a_concurrent_writers_temporary_file_is_never_touched(tmp_path: Path) -> None:
    """Deterministic form of the race above: another writer is half-way through writing its
    temporary file in the output folder (any name it may have chosen, including the fixed
    one older versions used) while this replay writes its outputs. That file is not
    overwritten or moved, and this replay's outputs are complete."""
    out = tmp_path / "out"
    out.mkdir()
    theirs = {out / f".{name}.tmp": f"half of another writer's {name}".encode()
              for name in OUTPUT_FILES}
    for path, data in theirs.items():
        path.write_bytes(data)
    rec = write_ws_day(tmp_path / "rec.jsonl")
    replay_session(rec, out_dir=out)
    replay_session(rec, out_dir=tmp_path / "solo")
    assert {p: p.read_bytes() for p in theirs} == theirs
    assert _files(out) == _files(tmp_path / "solo")
