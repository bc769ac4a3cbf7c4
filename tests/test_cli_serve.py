"""``spxcc serve``: a replayed session served and summarised; loopback unless ``--bind-any``
with a token hash (exit 2, one line); a live feed that never connects exits 2; bad options and
configuration files exit 2 naming the problem."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from host_session import write_flat_folder, write_recording
from secret_tokens import MASSIVE_TEST_API_KEY

from spxcc_core.cli import main
from spxcc_core.host.auth import hash_token


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_recording(tmp_path_factory.mktemp("serve") / "rec.jsonl")


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("spxcc: error: "), err
    assert "Traceback" not in err
    return err


def test_replay_is_served_and_summarised(recording: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--replay", str(recording), "--speed", "0", "--bind", "127.0.0.1:0",
                 "--linger", "0"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("serving the command center on http://127.0.0.1:")
    # the golden case: 5,273 websocket events, 1,773 bars, one setup, two gate decisions
    assert out[1] == "replay ended: 5,273 events, 1,773 bars, 1 setups, 2 gate decisions"
    assert recording.stat().st_size > 0  # its input is only read


@pytest.mark.parametrize(("extra", "message"), [
    ([], "not a loopback address; serving other machines needs --bind-any"),
    (["--bind-any"], "binding beyond loopback needs a hub token hash"),
])
def test_binding_beyond_loopback_is_refused(recording: Path, extra: list[str], message: str,
                                            capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPXCC_HUB_TOKEN_HASH", raising=False)
    assert main(["serve", "--replay", str(recording), "--bind", "0.0.0.0:0", *extra]) == 2
    assert message in _one_line_error(capsys)


def test_bind_any_with_a_token_hash_is_allowed(recording: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--replay", str(recording), "--speed", "0", "--bind", "0.0.0.0:0",
                 "--bind-any", "--hub-token-hash", hash_token("t"), "--linger", "0"]) == 0
    assert capsys.readouterr().out.startswith("serving the command center on http://0.0.0.0:")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_live_that_never_connects_exits_2(capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASSIVE_API_KEY", MASSIVE_TEST_API_KEY)
    assert main(["serve", "--live", "--url", f"ws://127.0.0.1:{_closed_port()}",
                 "--subscribe", "T.SPY", "--connect-timeout", "0.5",
                 "--bind", "127.0.0.1:0"]) == 2
    captured = capsys.readouterr()
    assert "never connected" in captured.err and captured.err.count("\n") == 1
    assert MASSIVE_TEST_API_KEY not in captured.out + captured.err


@pytest.mark.parametrize(("argv", "message"), [
    (["serve"], "give --live or --replay SESSION"),
    (["serve", "--live"], "--live needs --url and --subscribe"),
    (["serve", "--replay", "x.jsonl", "--speed", "-1"], "--speed must be >= 0"),
    (["serve", "--replay", "x.jsonl", "--linger", "-1"], "--linger must be >= 0"),
    (["serve", "--replay", "x.jsonl", "--bind", "127.0.0.1:99999"], "port must be 0-65535"),
])
def test_bad_options_exit_2(argv: list[str], message: str,
                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert message in _one_line_error(capsys)


def test_a_folder_of_flat_files_is_served(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    flat = write_flat_folder(tmp_path / "flat")
    before = sorted((p.relative_to(flat), p.read_bytes()) for p in flat.rglob("*") if p.is_file())
    assert main(["serve", "--replay", str(flat), "--speed", "0", "--bind", "127.0.0.1:0",
                 "--linger", "0"]) == 0
    # every row of the two files (less their headers) is an event
    rows = sum(len(p.read_text().splitlines()) - 1 for p in flat.rglob("*.csv"))
    assert rows == 5273
    assert capsys.readouterr().out.splitlines()[1] == \
        "replay ended: 5,273 events, 1,773 bars, 1 setups, 2 gate decisions"
    after = sorted((p.relative_to(flat), p.read_bytes()) for p in flat.rglob("*") if p.is_file())
    assert after == before  # ingested into a temporary cache; the folder is only read


def test_a_missing_session_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--replay", str(tmp_path / "none.jsonl"), "--bind",
                 "127.0.0.1:0"]) == 2
    assert "session not found" in _one_line_error(capsys)
    (tmp_path / "bars.csv").write_text("x\n")
    assert main(["serve", "--replay", str(tmp_path / "bars.csv"), "--bind", "127.0.0.1:0"]) == 2
    assert "not a session" in _one_line_error(capsys)


def test_config_file_unknown_key_exits_2(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "host.toml"
    cfg.write_text('[replay]\nsession = "rec.jsonl"\nsped = 60\n')
    assert main(["serve", "--config", str(cfg)]) == 2
    assert "unknown field `sped`" in _one_line_error(capsys)


def test_live_from_a_fake_massive_server(capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """``--live`` against the fake Massive server (its own event loop in a thread): the
    session runs for ``--duration`` and is summarised; the key never shows."""
    import asyncio
    import queue
    import threading

    from fake_massive import FakeMassive, Script
    from test_live_parity import ws_frames, ws_shaped

    from spxcc_core.golden.sessions import case_events

    frames = ws_frames(ws_shaped(case_events("gap_and_flush")), 3)
    urls: queue.Queue[str] = queue.Queue()
    done = threading.Event()

    async def fake() -> None:
        async with FakeMassive(MASSIVE_TEST_API_KEY, [Script(frames=frames)]) as server:
            urls.put(server.url)
            while not done.is_set():
                await asyncio.sleep(0.05)

    thread = threading.Thread(target=lambda: asyncio.run(fake()), daemon=True)
    thread.start()
    monkeypatch.setenv("MASSIVE_API_KEY", MASSIVE_TEST_API_KEY)
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    try:
        code = main(["serve", "--live", "--url", urls.get(timeout=30), "--subscribe",
                     "T.SPY,Q.SPY", "--duration", "4", "--bind", "127.0.0.1:0"])
    finally:
        done.set()
        thread.join(timeout=30)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = captured.out.splitlines()
    assert lines[0].startswith("serving the command center on http://127.0.0.1:")
    # every frame arrives well within the duration: the whole session, 1 connection
    assert lines[1] == ("live session ended (duration): 5,273 events, 1,773 bars, 1 setups, "
                        "1 connection(s)")
    assert MASSIVE_TEST_API_KEY not in captured.out + captured.err


def test_live_settings_from_the_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """``[live]`` of ``--config``: URLs, channels, the key's variable and the connect
    timeout; the key is read from that variable (so the failure is the connection's)."""
    monkeypatch.delenv("MASSIVE_API_KEY", raising=False)
    monkeypatch.setenv("DESK_MASSIVE_KEY", MASSIVE_TEST_API_KEY)
    cfg = tmp_path / "host.toml"
    cfg.write_text(f'[hub]\nbind = "127.0.0.1:0"\n[live]\n'
                   f'urls = ["ws://127.0.0.1:{_closed_port()}"]\nsubscribe = ["T.SPY"]\n'
                   'api_key_env = "DESK_MASSIVE_KEY"\nconnect_timeout_s = 0.5\n')
    assert main(["serve", "--config", str(cfg)]) == 2
    err = _one_line_error(capsys)
    assert "never connected" in err and MASSIVE_TEST_API_KEY not in err


def test_the_store_never_writes_over_the_session(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    rec = write_recording(tmp_path / "rec.jsonl")
    before = rec.read_bytes()
    assert main(["serve", "--replay", str(rec), "--db", str(rec), "--bind", "127.0.0.1:0"]) == 2
    assert "refusing to write over an input" in _one_line_error(capsys)
    flat = write_flat_folder(tmp_path / "flat")
    assert main(["serve", "--replay", str(flat), "--db", str(flat / "x.sqlite3"),
                 "--bind", "127.0.0.1:0"]) == 2
    assert "lies inside the input" in _one_line_error(capsys)
    assert rec.read_bytes() == before and not (flat / "x.sqlite3").exists()


def test_serve_executes_a_replay_on_paper(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """``--execute paper``: the replay's setups are traded through the host's routing worker
    and the summary says what the execution did, as ``spxcc replay --execute paper`` does."""
    from spxcc_core.sample import generate_session

    monkeypatch.setenv("SPXCC_DB", str(tmp_path / "profiles.sqlite3"))
    flat = generate_session(tmp_path / "sample", scale=0.02).root
    assert main(["serve", "--replay", str(flat), "--speed", "0", "--bind", "127.0.0.1:0",
                 "--linger", "0", "--execute", "paper"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2].startswith("  execution (paper): ")
    assert main(["replay", str(flat), "--out", str(tmp_path / "r"), "--execute", "paper"]) == 0
    replay_lines = [ln for ln in capsys.readouterr().out.splitlines()
                    if ln.startswith("  execution") or ln.startswith("  realized")]
    assert [ln for ln in out if ln.startswith(("  execution", "  realized"))] == replay_lines
    # live and --execute do not go together in serve (one routing worker per broker)
    assert main(["serve", "--live", "--url", "ws://127.0.0.1:9", "--subscribe", "T.SPY",
                 "--execute", "paper"]) == 2
    assert "spxcc serve --execute runs with --replay" in capsys.readouterr().err
