"""``spxcc parity``: a real live run (the fake Massive server on loopback, the golden
``gap_and_flush`` session with ``I:SPX`` values and a chain snapshot) replayed from its own
folder, then tampered copies of that folder: one bar field changed, a decision dropped, a
difference moved into a recorded feed gap. Bad input exits 2 with one line.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from fake_massive import FakeMassive, Script
from secret_tokens import MASSIVE_TEST_API_KEY
from test_live_parity import SUBSCRIPTIONS, chain_json, index_values, ws_frames, ws_shaped

from spxcc_core.cli import main
from spxcc_core.golden.sessions import case_events
from spxcc_core.host.live import run_live

CASE = "gap_and_flush"


async def _live(tmp: Path, frames: list[str]) -> None:
    async with FakeMassive(MASSIVE_TEST_API_KEY, [Script(frames=frames, then="hold")]) as fake:
        await run_live(url=fake.url, api_key=MASSIVE_TEST_API_KEY, subscriptions=SUBSCRIPTIONS,
                       out_dir=tmp / "live", record=tmp / "live" / "day.jsonl",
                       idle_timeout_s=1.0, connect_kwargs={"proxy": None},
                       chain=tmp / "chain.json")


@pytest.fixture(scope="module")
def live_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A live run folder: outputs, live.json, day.jsonl, chain_snapshot.json, spxcc.sqlite3."""
    tmp = tmp_path_factory.mktemp("parity-cli")
    (tmp / "chain.json").write_bytes(chain_json())
    events = ws_shaped(case_events(CASE))
    frames = ws_frames(events, seed=20261206, values=index_values(events))
    asyncio.run(asyncio.wait_for(_live(tmp, frames), 120))
    return tmp / "live"


@pytest.fixture(autouse=True)
def _no_user_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SPXCC_DB", str(tmp_path / "no-such-profile-store.sqlite3"))


def _copy(live_run: Path, tmp: Path) -> Path:
    dest = tmp / "copy"
    shutil.copytree(live_run, dest)
    return dest


def _parity(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    code = main(["parity", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def _files(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["file"]: f for f in report["files"]}


def test_an_untouched_live_run_is_identical(live_run: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _parity([str(live_run)], capsys)
    assert code == 0 and report["verdict"] == "identical"
    files = _files(report)
    assert list(files) == ["microbars.jsonl", "setups.jsonl", "gate_decisions.jsonl",
                           "quarantine.jsonl", "report.json", "intents.jsonl", "fills.jsonl",
                           "positions.jsonl", "slippage.jsonl"]
    for name in ("microbars.jsonl", "setups.jsonl", "gate_decisions.jsonl",
                 "quarantine.jsonl", "report.json"):
        assert files[name]["status"] == "identical", name
        assert files[name]["differences"] == 0 and files[name]["first"] is None
    bars = (live_run / "microbars.jsonl").read_bytes().splitlines()
    assert files["microbars.jsonl"]["liveRecords"] == len(bars) == 1773
    for name in ("intents.jsonl", "fills.jsonl", "positions.jsonl", "slippage.jsonl"):
        assert files[name]["status"] == "not_present"
        assert files[name]["note"] == f"the live run has no {name} (it did not execute orders)"
    assert report["gaps"] == [] and report["notes"] == []
    assert report["replayed"] == str(live_run / "day.jsonl")
    assert report["sessionDate"] == "2024-03-07"
    assert report["fillRealism"]["status"] == "not_present"
    assert report["fillRealism"]["note"] == ("the store's slippage ledger has no paper and "
                                             "broker fill: nothing to compare")


def test_a_missing_profile_store_is_read_as_empty_and_never_created(
        live_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "typo" / "profiles.sqlite3"
    code, report = _parity([str(live_run), "--profile-db", str(missing)], capsys)
    assert code == 0 and report["verdict"] == "identical"
    assert not missing.parent.exists()
    assert not (tmp_path / "no-such-profile-store.sqlite3").exists()  # $SPXCC_DB either


def _tamper_line(path: Path, index: int, field: str, new: Any) -> tuple[dict[str, Any], Any]:
    lines = path.read_bytes().splitlines(keepends=True)
    record = json.loads(lines[index])
    old = record[field]
    needle = f'"{field}":{json.dumps(old)}'.encode()
    assert lines[index].count(needle) == 1
    lines[index] = lines[index].replace(needle, f'"{field}":{json.dumps(new)}'.encode())
    path.write_bytes(b"".join(lines))
    return record, old


def test_one_changed_bar_field_is_named_exactly(live_run: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    run = _copy(live_run, tmp_path)
    bar = json.loads((run / "microbars.jsonl").read_bytes().splitlines()[99])  # the 100th
    old = bar["volume"]
    bar_volume = old + 7  # seven shares more
    _tamper_line(run / "microbars.jsonl", 99, "volume", bar_volume)
    code, report = _parity([str(run)], capsys)
    assert code == 1 and report["verdict"] == "different"
    bars = _files(report)["microbars.jsonl"]
    assert bars["status"] == "different" and (bars["differences"], bars["expected"]) == (1, 0)
    assert bars["fieldCounts"] == {"volume": 1}
    assert bars["first"] == {
        "key": f"SPY@{bar['startMs']}", "kind": "changed", "line": 100,
        "atMs": bar["startMs"], "inGap": False,
        "fields": [{"field": "volume", "live": bar_volume, "replay": old}]}
    # everything downstream of the bars was computed live from the untampered bar
    for name in ("setups.jsonl", "gate_decisions.jsonl", "quarantine.jsonl", "report.json"):
        assert _files(report)[name]["status"] == "identical", name
    # the text summary names the bar, the line and the field too
    assert main(["parity", str(run)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"parity: different (the live outputs in {run} vs the replay of ")
    assert (f"    first: line 100: SPY@{bar['startMs']}: volume: live {bar_volume} != "
            f"replay {old}\n") in out


def test_a_dropped_decision_is_missing_in_live(live_run: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    run = _copy(live_run, tmp_path)
    path = run / "gate_decisions.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    dropped = json.loads(lines[1])
    path.write_bytes(b"".join(lines[:1] + lines[2:]))
    code, report = _parity([str(run)], capsys)
    assert code == 1
    f = _files(report)["gate_decisions.jsonl"]
    assert (f["liveRecords"], f["replayRecords"]) == (len(lines) - 1, len(lines))
    assert f["first"] == {"key": f"{dropped['setupId']}@{dropped['barStartMs']}",
                          "kind": "missing_in_live", "line": 2,
                          "atMs": dropped["barStartMs"], "inGap": False, "fields": []}


def _with_gap(run: Path, from_ms: int, to_ms: int | None) -> None:
    live = json.loads((run / "live.json").read_bytes())
    live["gaps"] = [{"url": "ws://127.0.0.1:1/stocks", "fromMs": from_ms, "toMs": to_ms,
                     "disconnectedAtMs": 1, "reconnectedAtMs": 2, "reason": "test",
                     "attempts": 1}]
    (run / "live.json").write_text(json.dumps(live))


def test_a_difference_inside_a_feed_gap_is_expected(live_run: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Window of a gap from 10:00:05.400 to 10:00:07.100, stale 2 s, bars of 1 s: from the
    bar holding 05.400 (05.000) to 07.100 + 2 s + 1 s = 10.100, open at the end. A bar
    starting at 10.000 is inside; at 11.000 outside."""
    run = _copy(live_run, tmp_path)
    bars = [json.loads(x) for x in (run / "microbars.jsonl").read_bytes().splitlines()]
    i = next(k for k, b in enumerate(bars) if b["startMs"] - bars[k - 1]["startMs"] == 1000
             and k > 200)
    t = bars[i]["startMs"]  # the tampered bar, 1 s after the one before it
    _tamper_line(run / "microbars.jsonl", i, "tradeCount", bars[i]["tradeCount"] + 1)
    _with_gap(run, t - 4600, t - 2900)  # window [t - 5000, t + 100)
    code, report = _parity([str(run)], capsys)
    assert code == 0 and report["verdict"] == "expected_differences"
    assert report["gaps"] == [{"url": "ws://127.0.0.1:1/stocks", "fromMs": t - 4600,
                               "toMs": t - 2900, "windowFromMs": t - 5000,
                               "windowToMs": t + 100}]
    f = _files(report)["microbars.jsonl"]
    assert f["status"] == "expected_differences" and (f["differences"], f["expected"]) == (1, 1)
    assert f["first"]["inGap"] is True and f["first"]["key"] == f"SPY@{t}"
    # the same gap 1.1 s earlier ends at t - 1000: the bar at t is outside, a real difference
    _with_gap(run, t - 5700, t - 4000)
    code, report = _parity([str(run)], capsys)
    assert code == 1 and _files(report)["microbars.jsonl"]["first"]["inGap"] is False


def test_intents_present_live_are_reported_not_compared(
        live_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _copy(live_run, tmp_path)
    (run / "intents.jsonl").write_text('{"intentId": "a"}\n')
    code, report = _parity([str(run)], capsys)
    f = _files(report)["intents.jsonl"]
    assert code == 0 and f["status"] == "not_compared" and f["liveRecords"] == 1
    assert f["note"] == ("the replay wrote no intents.jsonl: report.json has no execution "
                         "section")


def test_out_writes_the_report_and_the_replay(live_run: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "parity-out"
    assert main(["parity", str(live_run), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[-1] == f"report -> {out / 'parity.json'}"
    assert json.loads((out / "parity.json").read_bytes())["verdict"] == "identical"
    for name in ("microbars.jsonl", "setups.jsonl", "gate_decisions.jsonl",
                 "quarantine.jsonl", "report.json"):
        assert (out / "replay" / name).read_bytes() == (live_run / name).read_bytes(), name


@pytest.mark.parametrize(("make", "message"), [
    (lambda run, tmp: [str(tmp / "nope")], "nope: not a folder (give the --out folder of "
                                           "spxcc live)"),
    (lambda run, tmp: [str(run), "--out", str(run / "p")],
     "lies inside the input LIVE_RUN_DIR"),
    (lambda run, tmp: [str(run), "--session", str(tmp / "none.jsonl")],
     "none.jsonl: no such file or folder"),
    (lambda run, tmp: [str(run), "--profile", "deadbeef"], "profile deadbeef:"),
    (lambda run, tmp: [str(run), "--db", str(tmp / "none.sqlite3")],
     "none.sqlite3: no such store file (parity never creates one)"),
])
def test_bad_input_is_one_line_and_exit_2(live_run: Path, tmp_path: Path, make: Any,
                                          message: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parity", *make(live_run, tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and message in captured.err
    assert not (live_run / "p").exists() and not (tmp_path / "none.sqlite3").exists()


def test_a_missing_recording_is_named(live_run: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    run = _copy(live_run, tmp_path)
    (run / "day.jsonl").unlink()
    assert main(["parity", str(run)]) == 2
    assert capsys.readouterr().err == (
        f"spxcc: error: {run / 'day.jsonl'}: the recording live.json names is not in the run "
        "folder; give it with --session FILE\n")


async def _live_with_drop(tmp: Path, scripts: list[Script]) -> None:
    from spxcc_core.massive.live import Backoff

    async with FakeMassive(MASSIVE_TEST_API_KEY, scripts) as fake:
        await run_live(url=fake.url, api_key=MASSIVE_TEST_API_KEY, subscriptions=SUBSCRIPTIONS,
                       out_dir=tmp / "live", record=tmp / "live" / "day.jsonl",
                       idle_timeout_s=1.5, stall_timeout_s=None,
                       backoff=Backoff(initial_s=0.01, max_s=0.05),
                       connect_kwargs={"proxy": None}, chain=tmp / "chain.json")


def test_a_real_outage_against_the_clean_session(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The connection drops after a third of the frames and 15 frames are lost. Against its
    own recording the run is identical (the recording holds what was received). Against the
    clean session (every frame) the bars differ only inside the recorded gap's window."""
    (tmp_path / "chain.json").write_bytes(chain_json())
    events = ws_shaped(case_events(CASE))
    frames = ws_frames(events, seed=20261206, values=index_values(events))
    a = len(frames) // 3
    scripts = [Script(frames=frames[:a], then="drop"), Script(frames=frames[a + 15:])]
    asyncio.run(asyncio.wait_for(_live_with_drop(tmp_path, scripts), 120))
    clean = tmp_path / "clean.jsonl"
    clean.write_text("".join(f + "\n" for f in frames))
    run = tmp_path / "live"
    code, report = _parity([str(run)], capsys)
    assert code == 0 and report["verdict"] == "identical"
    [gap] = report["gaps"]
    newest_before = max(e["t"] for f in frames[:a] for e in json.loads(f))
    oldest_after = min(e["t"] for e in json.loads(frames[a + 15]))
    assert (gap["fromMs"], gap["toMs"]) == (newest_before, oldest_after)
    assert gap["windowFromMs"] == newest_before // 1000 * 1000
    assert gap["windowToMs"] == oldest_after + 2000 + 1000
    code, report = _parity([str(run), "--session", str(clean)], capsys)
    files = _files(report)
    bars = files["microbars.jsonl"]
    assert bars["status"] == "expected_differences", bars["first"]
    assert bars["differences"] == bars["expected"] > 0
    assert all(gap["windowFromMs"] <= d["atMs"] < gap["windowToMs"] for d in bars["listed"])
    for name in ("quarantine.jsonl", "report.json"):
        assert files[name]["status"] == "not_compared"
    # the one gate decision that differs is on a bar inside the window too: expected
    assert files["gate_decisions.jsonl"]["status"] == "expected_differences"
    assert files["setups.jsonl"]["status"] == "identical"
    assert code == 0 and report["verdict"] == "expected_differences"


@pytest.mark.slow
def test_a_paper_executing_live_run_compares_intents_and_fills(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The seeded sample session traded live on the paper broker through the routing worker
    (``tests/test_execute_live.py``): parity replays it executing on paper; intents, fills,
    positions and slippage are identical; one intent's limit price changed is named."""
    from test_execute_live import _frames_of_cache, _live_sample

    from spxcc_core.detect.profile import DEFAULT_PROFILE_TOML
    from spxcc_core.replay.cache import ingest
    from spxcc_core.sample import generate_session

    sample = generate_session(tmp_path / "sample", scale=0.05)
    ingest(sample.root, tmp_path / "cache")
    profile = tmp_path / "profile.toml"
    profile.write_text(DEFAULT_PROFILE_TOML + "\n[execution]\nmax_quote_age_ms = 120000\n"
                       "max_spread = 1.0\n", encoding="utf-8")
    frames = _frames_of_cache(tmp_path / "cache")
    asyncio.run(asyncio.wait_for(_live_sample(tmp_path, frames, profile), 300))
    run = tmp_path / "live"
    args = [str(run), "--session", str(tmp_path / "recording.jsonl"), "--profile", str(profile)]
    code, report = _parity(args, capsys)
    files = _files(report)
    assert code == 0 and report["verdict"] == "identical", report
    for name in ("intents.jsonl", "fills.jsonl", "positions.jsonl", "slippage.jsonl",
                 "report.json"):
        assert files[name]["status"] == "identical", name
    intents = (run / "intents.jsonl").read_bytes().splitlines()
    assert files["intents.jsonl"]["liveRecords"] == len(intents) > 4
    # the paper fills were measured in the run's store only: nothing to set against them
    assert report["fillRealism"]["status"] == "not_present"
    assert report["fillRealism"]["paper"]["fills"] > 0
    assert report["fillRealism"]["note"].startswith(
        "the store's slippage ledger has no broker fill (it has ")
    first = json.loads(intents[0])
    limit = first["limitPrice"]
    _tamper_line(run / "intents.jsonl", 0, "limitPrice", round(limit + 0.05, 2))
    code, report = _parity(args, capsys)
    f = _files(report)["intents.jsonl"]
    assert code == 1 and f["differences"] == 1
    assert f["first"]["key"] == first["intentId"] and f["first"]["line"] == 1
    assert f["first"]["fields"] == [{"field": "limitPrice", "live": round(limit + 0.05, 2),
                                     "replay": limit}]
    # the same run as if it had filled on a real broker: fills and what follows them are fill
    # realism's business, the report is compared without its execution section
    report_path = run / "report.json"
    doc = json.loads(report_path.read_bytes())
    doc["execution"]["broker"] = "tradier"
    report_path.write_text(json.dumps(doc, indent=2) + "\n")
    code, report = _parity(args, capsys)
    files = _files(report)
    for name in ("fills.jsonl", "positions.jsonl", "slippage.jsonl"):
        assert files[name]["status"] == "not_compared", name
        assert files[name]["note"].startswith("the live run filled on tradier, the replay on paper")
    assert files["report.json"]["status"] == "identical"
    assert files["report.json"]["note"] == ("the execution section is not compared: the live run "
                                            "filled on tradier, the replay on paper")
