"""Every input of ``spxcc serve`` (and of ``spxcc live --serve``) is checked before the hub binds:
a bad one is one line naming it, exit 2, the address line never printed and the port left free
(one test per input class: options, configuration file, hub access rules, replay session,
profile, execution policy and broker, detectors, chain snapshot, store, feed and key)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from host_session import write_flat_folder, write_recording
from secret_tokens import MASSIVE_TEST_API_KEY

from spxcc_core.cli import main
from spxcc_core.errors import ConfigError
from spxcc_core.host.app import Host
from spxcc_core.host.config import HostConfig, HubSection, PipelineSection
from spxcc_core.plugins import get_plugin_manager
from spxcc_core.run.profiles import default_profile_toml

SERVING = "serving the command center on"
LISTENING = "hub listening on"


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_recording(tmp_path_factory.mktemp("serve-inputs") / "rec.jsonl")


@pytest.fixture(scope="module")
def profile_text() -> str:
    return default_profile_toml(get_plugin_manager(load_entrypoints=False))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _refused(argv: list[str], message: str, capsys: pytest.CaptureFixture[str], *,
             address_line: str = SERVING) -> None:
    """``argv`` (its address given as ``{port}``) exits 2 with one line holding ``message``;
    the address was never printed and nothing listens on the port."""
    port = _free_port()
    code = main([a.replace("{port}", str(port)) for a in argv])
    captured = capsys.readouterr()
    assert code == 2, captured
    assert captured.err.startswith("spxcc: error: ") and captured.err.count("\n") == 1, \
        captured.err
    assert "Traceback" not in captured.err
    assert message in captured.err, captured.err
    assert address_line not in captured.out, captured.out
    assert captured.out == ""
    assert _port_is_free(port)
    assert MASSIVE_TEST_API_KEY not in captured.out + captured.err


def _serve(*extra: str) -> list[str]:
    return ["serve", "--bind", "127.0.0.1:{port}", "--speed", "0", "--linger", "0", *extra]


# ---------------------------------------------------------------- options and configuration

@pytest.mark.parametrize(("extra", "message"), [
    (["--speed", "-1"], "--speed must be >= 0"),
    (["--speed", "nan"], "--speed must be >= 0"),
    (["--linger", "-1"], "--linger must be >= 0"),
])
def test_bad_numbers_and_lists(recording: Path, extra: list[str], message: str,
                               capsys: pytest.CaptureFixture[str]) -> None:
    _refused([*_serve("--replay", str(recording)), *extra], message, capsys)


@pytest.mark.parametrize(("extra", "message"), [
    (["--connect-timeout", "0"], "--connect-timeout must be > 0"),
    (["--duration", "0"], "--duration must be > 0"),
    (["--subscribe", " , "], "--subscribe: give at least one channel"),
])
def test_bad_live_numbers_and_lists(extra: list[str], message: str,
                                    capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASSIVE_API_KEY", MASSIVE_TEST_API_KEY)
    _refused(["serve", "--live", "--bind", "127.0.0.1:{port}", "--url", "ws://127.0.0.1:9/stocks",
              "--subscribe", "T.SPY", *extra], message, capsys)


def test_bad_configuration_file(recording: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "host.toml"
    cfg.write_text('[replay]\nspeed = "60"\n')
    _refused([*_serve("--replay", str(recording)), "--config", str(cfg)], "host config", capsys)
    _refused([*_serve("--replay", str(recording)), "--config", str(tmp_path / "none.toml")],
             "cannot read", capsys)


# ---------------------------------------------------------------- the hub's address and rules

@pytest.mark.parametrize(("bind", "extra", "message"), [
    ("127.0.0.1:99999", [], "--bind '127.0.0.1:99999': port must be 0-65535"),
    ("nowhere", [], "--bind 'nowhere': expected HOST:PORT"),
    ("0.0.0.0:{port}", [], "not a loopback address"),
    ("0.0.0.0:{port}", ["--bind-any"], "binding beyond loopback needs a hub token hash"),
    ("127.0.0.1:{port}", ["--hub-token-hash", "sha256:abc"],
     "--hub-token-hash: expected sha256: followed by 64"),
    ("127.0.0.1:{port}", ["--hub-origin", "file:///x"], "allowed origin 'file:///x'"),
])
def test_bad_hub_options(recording: Path, bind: str, extra: list[str], message: str,
                         capsys: pytest.CaptureFixture[str],
                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPXCC_HUB_TOKEN_HASH", raising=False)
    _refused(["serve", "--replay", str(recording), "--bind", bind, *extra], message, capsys)


def test_bad_token_hash_in_the_environment_is_named(recording: Path,
                                                    capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPXCC_HUB_TOKEN_HASH", "not-a-hash")
    _refused(_serve("--replay", str(recording)), "$SPXCC_HUB_TOKEN_HASH: expected sha256:",
             capsys)


def test_a_taken_port_is_one_line(recording: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["serve", "--replay", str(recording), "--bind", f"127.0.0.1:{port}"])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err.count("\n") == 1 and f"cannot listen on 127.0.0.1:{port}" in captured.err


# ---------------------------------------------------------------- the replay session

def test_bad_sessions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    malformed = tmp_path / "malformed.jsonl"
    malformed.write_text("not json\n")
    _refused(_serve("--replay", str(malformed)), "line 1: not a JSON array of events", capsys)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    _refused(_serve("--replay", str(empty)), "the recording holds no trades or quotes", capsys)
    (tmp_path / "nothing").mkdir()
    _refused(_serve("--replay", str(tmp_path / "nothing")), "no Massive flat files", capsys)
    _refused(_serve("--replay", str(tmp_path / "none.jsonl")), "session not found", capsys)
    (tmp_path / "bars.csv").write_text("x\n")
    _refused(_serve("--replay", str(tmp_path / "bars.csv")), "not a session", capsys)


def test_a_broken_session_cache(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from spxcc_core.replay.cache import ingest

    cache = ingest(write_flat_folder(tmp_path / "flat"), tmp_path / "cache").root
    victim = sorted(cache.glob("*.arrow"))[0]
    victim.unlink()
    _refused(_serve("--replay", str(cache)), "dataset file missing from the session cache",
             capsys)


def test_a_malformed_line_late_in_a_recording(recording: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The whole recording is read before the hub binds, not only its start."""
    bad = tmp_path / "late.jsonl"
    lines = recording.read_text().splitlines()
    bad.write_text("\n".join([*lines, "[1, 2"]) + "\n")
    _refused(_serve("--replay", str(bad)), f"line {len(lines) + 1}: not a JSON array",
             capsys)


# ---------------------------------------------------------------- profile, policy, detectors

def test_bad_profiles(recording: Path, tmp_path: Path, profile_text: str,
                      capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[nonsense]\nx = 1\n")
    _refused(_serve("--replay", str(recording), "--profile", str(bad)),
             "unknown field `nonsense`", capsys)
    _refused(_serve("--replay", str(recording), "--profile", str(tmp_path / "none.toml")),
             "cannot read", capsys)


def test_bad_execution_policy_and_broker(recording: Path, tmp_path: Path, profile_text: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(profile_text + "\n[execution]\ntarget_delta = 1.5\n")
    _refused(_serve("--replay", str(recording), "--profile", str(policy), "--execute", "paper"),
             "[execution]: 'target_delta' must be in (0, 1), got 1.5", capsys)
    _refused(_serve("--replay", str(recording), "--execute", "nosuch"),
             "--execute nosuch: unknown broker", capsys)
    _refused(_serve("--replay", str(recording), "--execute", "paper", "--execute-option",
                    "latency_ms=-5"), "latency_ms: must be a finite number >= 0", capsys)


def test_unknown_detector(recording: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _refused(_serve("--replay", str(recording), "--detectors", "nosuch"),
             "unknown detector 'nosuch'", capsys)


def test_bad_chain_snapshot(recording: Path, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "chain.json").write_text("{")
    cfg = tmp_path / "host.toml"
    cfg.write_text('[pipeline]\nchain = "chain.json"\n')
    _refused([*_serve("--replay", str(recording)), "--config", str(cfg)],
             "not a Massive option-chain snapshot", capsys)


# ---------------------------------------------------------------- the store

def test_unreadable_stores(recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database" * 100)
    _refused(_serve("--replay", str(recording), "--db", str(junk)),
             "not an SQLite database file", capsys)
    (tmp_path / "folder").mkdir()
    _refused(_serve("--replay", str(recording), "--db", str(tmp_path / "folder")),
             "cannot open", capsys)
    # the profile store (no --profile: its active profile is what serve runs)
    monkeypatch.setenv("SPXCC_DB", str(junk))
    _refused(_serve("--replay", str(recording)), "not an SQLite database file", capsys)


# ---------------------------------------------------------------- the live feed

@pytest.mark.parametrize(("extra", "message"), [
    (["--url", "wss://delayed.massive.com/stocks", "--subscribe", "Q.SPY"],
     "a delayed feed carries no quotes"),
    (["--url", "wss://socket.massive.com/stocks", "--url", "wss://socket.massive.com/stocks",
      "--subscribe", "T.SPY"], "two URLs of the 'stocks' cluster"),
    (["--url", "ws://127.0.0.1:9/stocks", "--subscribe", "T.SPY", "--detectors", "nosuch"],
     "unknown detector 'nosuch'"),
])
def test_bad_live_feed(extra: list[str], message: str, capsys: pytest.CaptureFixture[str],
                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASSIVE_API_KEY", MASSIVE_TEST_API_KEY)
    _refused(["serve", "--live", "--bind", "127.0.0.1:{port}", *extra], message, capsys)


def test_no_live_key(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MASSIVE_API_KEY", raising=False)
    monkeypatch.delenv("SPXCC_MASTER_KEY", raising=False)
    _refused(["serve", "--live", "--bind", "127.0.0.1:{port}", "--url",
              "ws://127.0.0.1:9/stocks", "--subscribe", "T.SPY", "--db",
              str(tmp_path / "vault.sqlite3")], "massive api key", capsys)


# ---------------------------------------------------------------- spxcc live --serve

def _live(*extra: str) -> list[str]:
    return ["live", "--url", "ws://127.0.0.1:9/stocks", "--subscribe", "T.SPY", "--serve",
            "127.0.0.1:{port}", "--connect-timeout", "0.5", *extra]


def test_live_serve_checks_its_inputs_before_listening(tmp_path: Path, profile_text: str,
                                                       capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASSIVE_API_KEY", MASSIVE_TEST_API_KEY)
    _refused(_live("--detectors", "nosuch"), "unknown detector 'nosuch'", capsys,
             address_line=LISTENING)
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database" * 100)
    good = tmp_path / "good.toml"
    good.write_text(profile_text)
    _refused(_live("--profile", str(good), "--db", str(junk)), "not an SQLite database file",
             capsys, address_line=LISTENING)
    (tmp_path / "file").write_text("x")
    _refused(_live("--out", str(tmp_path / "file" / "out")), "output folder", capsys,
             address_line=LISTENING)
    _refused(_live("--record", str(tmp_path / "file" / "rec.jsonl")), "cannot create the file",
             capsys, address_line=LISTENING)
    monkeypatch.setenv("MASSIVE_API_KEY", MASSIVE_TEST_API_KEY)
    _refused(["live", "--url", "wss://delayed.massive.com/stocks", "--subscribe", "Q.SPY",
              "--serve", "127.0.0.1:{port}"], "a delayed feed carries no quotes", capsys,
             address_line=LISTENING)


def test_live_serve_on_a_taken_port_leaves_no_empty_recording(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASSIVE_API_KEY", MASSIVE_TEST_API_KEY)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["live", "--url", "ws://127.0.0.1:9/stocks", "--subscribe", "T.SPY",
                     "--serve", f"127.0.0.1:{port}", "--record", str(tmp_path / "rec.jsonl")])
    captured = capsys.readouterr()
    assert code == 2 and LISTENING not in captured.out
    assert f"cannot listen on 127.0.0.1:{port}" in captured.err
    assert not (tmp_path / "rec.jsonl").exists()


# ---------------------------------------------------------------- the library

def test_host_start_resolves_its_inputs_before_binding() -> None:
    """``Host.start`` refuses an unknown detector before its hub exists (nothing listens)."""
    port = _free_port()
    host = Host(HostConfig(hub=HubSection(bind=f"127.0.0.1:{port}"),
                           pipeline=PipelineSection(detectors=["nosuch"])))

    async def start() -> None:
        await host.start()

    with pytest.raises(ConfigError, match="unknown detector 'nosuch'"):
        asyncio.run(start())
    with pytest.raises(RuntimeError, match="not started"):
        _ = host.hub
    assert _port_is_free(port)



# ---------------------------------------------------------------- options of the other mode

def _mode_line(option: str, mode: str, run: str, why: str) -> str:
    return (f"spxcc: error: spxcc serve: {option} is an option of {mode}, and this run is {run} "
            f"({why}): it would have no effect\n")


def _refused_exactly(argv: list[str], line: str, tmp_path: Path,
                     capsys: pytest.CaptureFixture[str]) -> None:
    """``argv`` (its address given as ``{port}``) exits 2 with exactly ``line`` on stderr,
    nothing on stdout, nothing listening on the port and nothing written: its ``--db`` store
    file and that file's folder stay absent."""
    store = tmp_path / "never" / "spxcc.sqlite3"
    port = _free_port()
    code = main([*(a.replace("{port}", str(port)) for a in argv), "--db", str(store)])
    captured = capsys.readouterr()
    assert code == 2, captured
    assert captured.err == line
    assert captured.out == ""
    assert _port_is_free(port)
    assert not store.parent.exists()


@pytest.mark.parametrize(("extra", "option"), [
    (["--speed", "60"], "--speed"),
    (["--speed", "-1"], "--speed"),  # the mode is checked before the value
    (["--linger", "5"], "--linger"),
    (["--execute-option", "latency_ms=5"], "--execute-option"),
])
def test_replay_options_refused_with_live(extra: list[str], option: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASSIVE_API_KEY", MASSIVE_TEST_API_KEY)
    argv = ["serve", "--live", "--bind", "127.0.0.1:{port}", "--url", "ws://127.0.0.1:9/stocks",
            "--subscribe", "T.SPY", *extra]
    line = _mode_line(option, "--replay", "live", "--live")
    _refused_exactly(argv, line, tmp_path, capsys)


def test_execute_refused_with_live(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASSIVE_API_KEY", MASSIVE_TEST_API_KEY)
    argv = ["serve", "--live", "--bind", "127.0.0.1:{port}", "--url", "ws://127.0.0.1:9/stocks",
            "--subscribe", "T.SPY", "--execute", "paper"]
    _refused_exactly(argv, "spxcc: error: spxcc serve --execute runs with --replay, this run is "
                           "live (--live); to execute live use spxcc live --execute NAME (with "
                           "--serve for the hub)\n", tmp_path, capsys)


@pytest.mark.parametrize(("extra", "option"), [
    (["--url", "ws://127.0.0.1:9/stocks"], "--url"),
    (["--subscribe", "T.SPY"], "--subscribe"),
    (["--api-key-env", "MY_KEY"], "--api-key-env"),
    (["--key-file", "master.key"], "--key-file"),
    (["--connect-timeout", "5"], "--connect-timeout"),
    (["--duration", "5"], "--duration"),
    (["--duration", "0"], "--duration"),  # the mode is checked before the value
])
def test_live_options_refused_with_replay(recording: Path, extra: list[str], option: str,
                                          tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    line = _mode_line(option, "--live", "a replay", "--replay")
    _refused_exactly([*_serve("--replay", str(recording)), *extra], line, tmp_path, capsys)


def test_execute_option_without_execute(recording: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    _refused_exactly([*_serve("--replay", str(recording)), "--execute-option", "fill=mid"],
                     "spxcc: error: spxcc serve: --execute-option needs --execute BROKER (it "
                     "would have no effect)\n", tmp_path, capsys)


def test_the_mode_of_the_configuration_file(recording: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --live or --replay the mode is the file's, and the message says so."""
    monkeypatch.setenv("MASSIVE_API_KEY", MASSIVE_TEST_API_KEY)
    cfg = tmp_path / "host.toml"
    cfg.write_text('[live]\nurls = ["ws://127.0.0.1:9/stocks"]\nsubscribe = ["T.SPY"]\n')
    _refused_exactly(["serve", "--bind", "127.0.0.1:{port}", "--config", str(cfg), "--linger",
                      "1"], _mode_line("--linger", "--replay", "live", "[live] in --config"),
                     tmp_path, capsys)
    cfg.write_text(f'[replay]\nsession = "{recording}"\n')
    _refused_exactly(["serve", "--bind", "127.0.0.1:{port}", "--config", str(cfg), "--duration",
                      "1"], _mode_line("--duration", "--live", "a replay", "[replay] in --config"),
                     tmp_path, capsys)
