"""``spxcc ingest`` and ``spxcc replay`` end to end through ``main``."""

from __future__ import annotations

from pathlib import Path

import pytest

from spxcc_core.cli import main
from spxcc_core.replay.engine import OUTPUT_FILES
from spxcc_core.sample import generate_session


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_session(tmp_path_factory.mktemp("sample"), scale=0.02).root


def test_ingest_then_replay_twice_is_byte_identical(sample_root: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPXCC_DB", raising=False)
    cache = tmp_path / "cache"
    assert main(["ingest", str(sample_root), "--out", str(cache)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("session 2025-12-12: stocks trades ")
    assert (cache / "manifest.json").is_file()
    assert main(["replay", str(cache), "--out", str(tmp_path / "a")]) == 0
    assert main(["replay", str(cache), "--out", str(tmp_path / "b")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("session 2025-12-12: ") and " bars, " in lines[0]
    for name in OUTPUT_FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / "spxcc.sqlite3").is_file()


def test_explicit_files_detectors_and_db_from_environment(sample_root: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    trades = next(sample_root.glob("us_stocks_sip/trades_v1/**/*.csv.gz"))
    quotes = next(sample_root.glob("us_stocks_sip/quotes_v1/**/*.csv.gz"))
    cache = tmp_path / "cache"
    assert main(["ingest", "--trades", str(trades), "--quotes", str(quotes),
                 "--out", str(cache)]) == 0
    db = tmp_path / "env.sqlite3"
    monkeypatch.setenv("SPXCC_DB", str(db))
    assert main(["replay", str(cache), "--detectors", "vwap,orb_pullback",
                 "--out", str(tmp_path / "out")]) == 0
    assert db.is_file() and not (tmp_path / "out" / "spxcc.sqlite3").exists()
    text = (tmp_path / "out" / "report.json").read_text()
    assert '"orb_pullback"' in text and '"volume_climax"' not in text
    capsys.readouterr()


@pytest.mark.parametrize(("argv", "message"), [
    (["ingest", "--out", "X"], "nothing to ingest"),
    (["ingest", "SRC", "--trades", "t.csv", "--out", "X"], "either a SOURCE folder"),
    (["ingest", "--trades", "missing.csv", "--out", "X"], "missing.csv"),
    (["replay", "missing", "--out", "X"], "session not found"),
    (["replay", "CACHE", "--detectors", "nope", "--out", "X"], "unknown detector 'nope'"),
    (["replay", "CACHE", "--detectors", ",", "--out", "X"], "--detectors"),
    (["replay", "CACHE", "--profile", "missing.toml", "--out", "X"], "missing.toml"),
    (["replay", "CACHE", "--chain", "missing", "--out", "X"], "missing: file not found"),
])
def test_errors_are_one_line_and_exit_2(sample_root: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str], argv: list[str],
                                        message: str) -> None:
    cache = tmp_path / "cache"
    assert main(["ingest", str(sample_root), "--out", str(cache)]) == 0
    capsys.readouterr()
    subst = {"X": str(tmp_path / "x"), "CACHE": str(cache), "SRC": str(sample_root),
             "missing": str(tmp_path / "missing")}
    assert main([subst.get(a, a) for a in argv]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("spxcc: error: ") and message in err[0]
    assert "Traceback" not in captured.err
    assert not (tmp_path / "x").exists()


def test_demo_replays_the_sample_and_reads_the_store(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["demo", "--scale", "0.02", "--cache-dir", str(tmp_path), "--json"]) == 0
    replay = json.loads(capsys.readouterr().out)["replay"]
    out = Path(replay["outDir"])
    report = json.loads((out / "report.json").read_text())
    setups = [json.loads(x) for x in (out / "setups.jsonl").read_text().splitlines()]
    assert replay["sessionId"] == "2025-12-12"
    assert replay["bars"] == report["outputs"]["microbars.jsonl"] > 1000
    assert replay["setupsByDetector"] == report["setupsByDetector"]
    statuses: dict[str, int] = {}
    for s in setups:
        statuses[s["status"]] = statuses.get(s["status"], 0) + 1
    assert replay["statuses"] == dict(sorted(statuses.items()))
    assert replay["triggered"] == report["outcomes"]["triggered"]
    assert replay["t1HitRate"] == report["outcomes"]["t1HitRate"]
    assert replay["expectancyR"] == pytest.approx(report["outcomes"]["expectancyR"])
    assert replay["gateBlocks"] == {k: v["reasons"] for k, v in report["detection"]["gates"].items()
                                    if v["reasons"]}
    assert Path(replay["db"]) == out / "spxcc.sqlite3"
    # gross beside gap-aware, and the underlying apart from the option contracts (issue 9)
    assert replay["expectancyGapR"] == report["detection"]["expectancyGapR"]
    by = replay["byInstrument"]
    assert sorted(by) == ["option", "underlying"]
    assert by["option"]["detectors"] == [] and by["option"]["evaluated"] == 0
    assert by["underlying"]["detectors"] == ["orb_pullback", "volume_climax", "vwap"]
    assert by["underlying"]["setupsByDetector"] == replay["setupsByDetector"]
    assert main(["demo", "--scale", "0.02", "--cache-dir", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "Replay — session 2025-12-12" in text and "T1 hit rate" in text
    assert "expectancy (R), gross" in text and "expectancy (R), gap-aware" in text
    assert "gross = fills exactly at the entry and the stop; gap-aware" in " ".join(text.split())
    assert "option contracts: detectors" in text and "none (by default)" in text
