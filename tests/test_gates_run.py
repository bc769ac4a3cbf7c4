"""``spxcc gates run`` end to end on generated sessions, and the one trade source."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest

from spxcc_core.cli import main
from spxcc_core.contracts.setup import GateCheck, GateDecision, SetupInstance
from spxcc_core.gates.trades import Trade, block_reasons, trades_from_run
from spxcc_core.plugins import get_plugin_manager
from spxcc_core.replay.cache import ingest
from spxcc_core.replay.engine import run_replay
from spxcc_core.run.profiles import default_profile_toml, named_profile
from spxcc_core.run.result import RunResult
from spxcc_core.sample import generate_session

SCHEMA = Path(__file__).resolve().parent.parent / "contracts" / \
    "release_decision.v1.schema.json"
DEFAULT_ID = "e1a954d6a5628683"


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Three generated session caches on three dates (the last given first: the run puts
    them in date order) and one folder of flat files."""
    root = tmp_path_factory.mktemp("gates")
    out = []
    for seed, day in ((31, "2025-12-10"), (32, "2025-12-08"), (33, "2025-12-09")):
        s = generate_session(root / "samples", seed=seed, scale=0.02,
                             date=dt.date.fromisoformat(day))
        out.append(str(ingest(s.root, root / f"cache-{day}").root))
    return out


@pytest.fixture(scope="module")
def profiles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("profiles")
    text = default_profile_toml(get_plugin_manager())
    paths = {"same": root / "same.toml", "silent": root / "silent.toml"}
    paths["same"].write_text(text.replace('name = "default"', 'name = "same"'))
    # every detector disabled: no trade at all, the throughput collapses
    paths["silent"].write_text(text.replace('name = "default"', 'name = "silent"')
                               .replace("enabled = true", "enabled = false"))
    return paths


@pytest.fixture(autouse=True)
def _store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPXCC_DB", str(tmp_path / "profiles.sqlite3"))


def _run(out: Path, *args: str) -> int:
    return main(["gates", "run", "--out", str(out), *args])


def test_identical_profiles_promote_with_zero_deltas_and_identical_bytes(
        sessions: list[str], profiles: dict[str, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--candidate", str(profiles["same"]), "--baseline", "default", "--sessions",
            *sessions, "--seed", "3", "--resamples", "200", "--min-trades", "1",
            "--min-sessions", "3"]
    assert _run(tmp_path / "a", *args) == 0
    out = capsys.readouterr().out
    assert out.startswith("decision: promote (candidate ")
    assert f"spxcc profile revert --to {DEFAULT_ID}" in out
    a = (tmp_path / "a" / "decision.json").read_bytes()
    d = json.loads(a)
    jsonschema.validate(d, json.loads(SCHEMA.read_text()))
    assert d["decision"] == "promote"
    # the name is part of the id (it is hashed), the parameters are the same
    assert d["baseline"]["id"] == DEFAULT_ID
    assert d["candidate"]["id"] != DEFAULT_ID and d["candidate"]["name"] == "same"
    for k in d["kpis"]:
        assert k["delta"]["value"] in (0.0, None)
        assert (k["delta"]["low"], k["delta"]["high"]) in ((0.0, 0.0), (None, None))
    assert [s["sessionDate"] for s in d["sessions"]] == ["2025-12-08", "2025-12-09",
                                                         "2025-12-10"]
    assert d["sessions"][0]["source"] == sessions[1]
    assert d["evidence"]["candidateTrades"] == sum(s["candidateTrades"] for s in d["sessions"])
    assert d["evidence"]["candidateTrades"] > 0
    assert d["rollbackCommand"] == f"spxcc profile revert --to {DEFAULT_ID}"
    assert (d["seed"], d["resamples"], d["tradeSource"]) == (3, 200, "setups")
    # same inputs and seed: byte-identical; --json prints those bytes
    assert _run(tmp_path / "b", *args, "--json") == 0
    assert capsys.readouterr().out.encode() == a == (tmp_path / "b" / "decision.json") \
        .read_bytes()


def test_default_thresholds_say_insufficient_evidence(sessions: list[str],
                                                       profiles: dict[str, Path],
                                                       tmp_path: Path) -> None:
    # three sessions < the default minimum of five: fail-closed even for profiles that trade
    # alike (the renamed default: zero deltas)
    assert _run(tmp_path, "--candidate", str(profiles["same"]), "--baseline", "default",
                "--sessions", *sessions, "--resamples", "50") == 1
    d = json.loads((tmp_path / "decision.json").read_bytes())
    assert d["decision"] == "insufficient_evidence"
    assert d["reasons"][0]["code"] == "evidence"
    assert "3 sessions" in d["reasons"][0]["message"]


def test_a_candidate_that_stops_trading_is_rejected(sessions: list[str],
                                                    profiles: dict[str, Path],
                                                    tmp_path: Path) -> None:
    assert _run(tmp_path, "--candidate", str(profiles["silent"]), "--baseline", "default",
                "--sessions", *sessions, "--resamples", "50", "--min-trades", "1",
                "--min-sessions", "1") == 1
    d = json.loads((tmp_path / "decision.json").read_bytes())
    codes = [r["code"] for r in d["reasons"]]
    # no candidate trade: not enough evidence comes first, the throughput failure is listed
    assert d["decision"] == "insufficient_evidence"
    assert "throughput" in codes
    assert d["throughput"]["candidatePerSession"] == 0.0 and not d["throughput"]["holds"]
    # the silent candidate evaluated nothing, so it blocked nothing
    assert d["blockReasons"]["candidate"] == {}


def test_process_pool_gives_the_same_bytes(sessions: list[str], profiles: dict[str, Path],
                                           tmp_path: Path) -> None:
    args = ["--candidate", str(profiles["same"]), "--baseline", "default", "--sessions",
            *sessions, "--resamples", "100"]
    assert _run(tmp_path / "one", *args) == 1
    assert _run(tmp_path / "two", *args, "--jobs", "2") == 1
    assert (tmp_path / "one" / "decision.json").read_bytes() == \
        (tmp_path / "two" / "decision.json").read_bytes()


@pytest.mark.parametrize(("args", "message"), [
    (["--candidate", "nope.toml"], "profile nope.toml: no such file"),
    (["--candidate", "abcd"], "profile 'abcd': not a stored profile id"),
    (["--confidence", "1"], "--confidence must be in (0, 1), got 1.0"),
    (["--resamples", "0"], "--resamples must be >= 1"),
    (["--throughput-floor", "2"], "--throughput-floor must be in [0, 1], got 2.0"),
    (["--min-trades", "0"], "--min-trades must be >= 1, got 0"),
    (["--jobs", "0"], "--jobs must be >= 1"),
])
def test_bad_input_exits_2_with_one_line(sessions: list[str], tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str], args: list[str],
                                        message: str) -> None:
    base = {"--candidate": "default", "--baseline": "default"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    argv = [x for kv in base.items() for x in kv]
    assert _run(tmp_path / "out", *argv, "--sessions", *sessions) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "out").exists()


def test_a_missing_session_or_an_output_inside_a_session_is_refused(
        sessions: list[str], profiles: dict[str, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(tmp_path / "out", "--candidate", str(profiles["same"]), "--baseline",
                "default", "--sessions", sessions[0], str(tmp_path / "missing")) == 2
    assert "session not found" in capsys.readouterr().err
    assert _run(Path(sessions[0]), "--candidate", str(profiles["same"]), "--baseline",
                "default", "--sessions", sessions[0]) == 2
    assert "session" in capsys.readouterr().err
    assert not (Path(sessions[0]) / "decision.json").exists()


# ----------------------------------------------------------------------------- trade source


def _setup(i: int, *, triggered: int | None, t1: int | None = None, closed: int | None = None,
           r: float | None = None) -> SetupInstance:
    return SetupInstance(id=f"s{i}", session_id="d", detector="vwap", detector_version=1,
                         symbol="SPY", direction="long", entry=100.0, stop=99.0, t1=101.0,
                         t2=102.0, detected_ms=0, trigger_deadline_ms=10, triggered_ms=triggered,
                         t1_ms=t1, closed_ms=closed, realized_r=r)


def _check(gate: str, passed: bool) -> GateCheck:
    return GateCheck(gate=gate, input="", comparison="", threshold=None, observed=None,
                     passed=passed)


def test_trades_are_the_triggered_setups_in_trigger_order(sessions: list[str]) -> None:
    report = run_replay(sessions[0], detectors=["vwap"]).report
    run = RunResult(
        bars=[], quarantine=[], report=report,
        setups=[_setup(1, triggered=None),                              # never triggered
                _setup(2, triggered=500, t1=600, closed=900, r=1.25),   # T1 then stopped at BE
                _setup(3, triggered=200, closed=300, r=-1.0),           # stopped
                _setup(4, triggered=700)],                              # still open
        decisions=[GateDecision(setup_id="x", session_id="d", detector="vwap",
                                detector_version=1, symbol="SPY", direction="long",
                                bar_start_ms=0, passed=False,
                                checks=(_check("spread", False), _check("quote_coverage", False),
                                        _check("ask_bid_size_ratio", True))),
                   GateDecision(setup_id="y", session_id="d", detector="vwap",
                                detector_version=1, symbol="SPY", direction="short",
                                bar_start_ms=0, passed=False, checks=(_check("spread", False),)),
                   GateDecision(setup_id="z", session_id="d", detector="vwap",
                                detector_version=1, symbol="SPY", direction="short",
                                bar_start_ms=0, passed=True, checks=(_check("spread", True),))])
    got = trades_from_run(run)
    assert got.session_date == "2025-12-10"
    assert got.trades == (Trade(-1.0, False, 200), Trade(1.25, True, 500),
                          Trade(None, False, 700))
    assert got.block_reasons == {"quote_coverage": 1, "spread": 2}
    assert block_reasons([]) == {}


def test_a_day_counts_once(sessions: list[str], profiles: dict[str, Path], tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    """The same session twice (however spelt), or two copies of one day, are refused: a
    repeated day would pass the evidence minimum on one day of data (a review promoted a
    candidate on one session given six times)."""
    import shutil

    link = tmp_path / "again"
    link.symlink_to(sessions[0], target_is_directory=True)
    for second in (sessions[0], str(link)):
        assert _run(tmp_path / "out", "--candidate", "default", "--baseline", "default",
                    "--sessions", sessions[0], second, "--resamples", "50") == 2
        err = capsys.readouterr().err
        assert err == (f"spxcc: error: gates: session {second} is given twice (as "
                       f"{sessions[0]}): each day counts once\n")
    copy = tmp_path / "copy"
    shutil.copytree(sessions[0], copy)
    assert _run(tmp_path / "out", "--candidate", str(profiles["same"]), "--baseline",
                "default", "--sessions", sessions[0], str(copy), "--resamples", "50") == 2
    err = capsys.readouterr().err
    assert err == (f"spxcc: error: gates: sessions {sessions[0]} and {copy} are the same day "
                   "(2025-12-10): each day counts once\n")
    assert not (tmp_path / "out" / "decision.json").exists()


def test_a_negative_seed_is_refused_before_any_replay(sessions: list[str], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(tmp_path / "out", "--candidate", "default", "--baseline", "default",
                "--sessions", *sessions, "--seed", "-1") == 2
    assert capsys.readouterr().err == "spxcc: error: --seed must be an integer >= 0, got -1\n"


def test_a_candidate_that_is_the_baseline_is_refused_before_any_replay(
        profiles: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Candidate and baseline with one id (the same profile however given: ``default`` twice,
    one file twice, a reformatted copy) have nothing to promote: bad input, exit 2, nothing
    written, no session read (the session named here does not exist)."""
    copy = tmp_path / "copy.toml"
    copy.write_text("# the default, reformatted\n" +
                    default_profile_toml(get_plugin_manager()).replace(" = ", "="))
    same = str(profiles["same"])
    same_id = named_profile(get_plugin_manager(), same).id
    for candidate, baseline, ident in (("default", "default", DEFAULT_ID),
                                       (same, same, same_id),
                                       (str(copy), "default", DEFAULT_ID)):
        assert _run(tmp_path / "out", "--candidate", candidate, "--baseline", baseline,
                    "--sessions", str(tmp_path / "no-such-session")) == 2
        err = capsys.readouterr().err
        assert err == (f"spxcc: error: gates: the candidate is the baseline (profile {ident}): "
                       "nothing to promote; give a candidate that differs from it\n")
    assert not (tmp_path / "out").exists()


def test_bad_sessions_never_create_the_store(sessions: list[str], profiles: dict[str, Path],
                                             tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """The profiles are recorded only once every argument and session has been checked and
    the decision made: a missing session, a file that is no session, or two sessions of one
    day exit 2 with one line and leave neither the store file nor its folder behind."""
    import shutil

    store = tmp_path / "new-folder" / "profiles.sqlite3"
    not_a_session = tmp_path / "notes.txt"
    not_a_session.write_text("not a session\n")
    copy = tmp_path / "copy"
    shutil.copytree(sessions[0], copy)
    for bad, message in ((str(tmp_path / "missing"), "session not found"),
                         (str(not_a_session), "not a session"),
                         (str(copy), "are the same day (2025-12-10)")):
        assert _run(tmp_path / "out", "--candidate", str(profiles["same"]), "--baseline",
                    "active", "--db", str(store), "--resamples", "20",
                    "--sessions", sessions[0], bad) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
        assert not store.exists() and not store.parent.exists()
        assert not (tmp_path / "out" / "decision.json").exists()
    # good input: the store is created and holds both profiles
    assert _run(tmp_path / "out", "--candidate", str(profiles["same"]), "--baseline",
                "active", "--db", str(store), "--resamples", "20", "--min-trades", "1",
                "--min-sessions", "1", "--sessions", sessions[0]) in (0, 1)
    assert store.is_file()
    capsys.readouterr()
    assert main(["profile", "show", "--db", str(store), DEFAULT_ID]) == 0
    assert "default" in capsys.readouterr().out
