"""The live runner and ``spxcc live`` against the fake Massive server on loopback."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fake_massive import FakeMassive, Script
from secret_tokens import MASSIVE_TEST_API_KEY
from websockets.asyncio.client import connect

from spxcc_core.aggregate.columns import ConditionTable, SymbolTable
from spxcc_core.cli import build_parser, main
from spxcc_core.errors import ConfigError
from spxcc_core.host.hub import Hub
from spxcc_core.host.live import feeds_for, run_live
from spxcc_core.host.record import Recorder
from spxcc_core.massive.live import Backoff, MassiveAuthError
from spxcc_core.massive.websocket import iter_ws_decoded

R = TypeVar("R")
KEY = MASSIVE_TEST_API_KEY
T0 = 1_709_821_800_000  # 2024-03-07 09:30:00 New York
NO_PROXY = {"proxy": None}
FAST = Backoff(initial_s=0.01, factor=2.0, max_s=0.05, max_attempts=2)


def run(coro: Awaitable[R]) -> R:
    async def guarded() -> R:
        return await asyncio.wait_for(coro, 30)
    return asyncio.run(guarded())


def trade(t: int, p: float, s: int, q: int) -> dict[str, Any]:
    return {"ev": "T", "sym": "SPY", "p": p, "s": s, "t": T0 + t, "q": q}


def quote(t: int, q: int) -> dict[str, Any]:
    return {"ev": "Q", "sym": "SPY", "bp": 511.0, "bs": 2, "ap": 511.02, "as": 3, "t": T0 + t,
            "q": q}


#: Second 0: two trades (511.01 x 100, 511.03 x 50); second 1: one trade (511.02 x 10);
#: quotes in both; one index value.
FRAMES = [
    json.dumps([quote(0, 1), trade(100, 511.01, 100, 2)]),
    json.dumps([trade(600, 511.03, 50, 3), {"ev": "V", "T": "I:SPX", "val": 5100.5,
                                             "t": T0 + 700}]),
    json.dumps([quote(900, 4)]),
    json.dumps([trade(1200, 511.02, 10, 5), quote(1300, 6)]),
]


async def first_message(ws: Any, channel: str) -> dict[str, Any]:
    while True:
        m = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if f"{m['type']}@{m['version']}" == channel:
            out: dict[str, Any] = m
            return out


def test_feeds_for() -> None:
    assert feeds_for(["T.SPY", "Q.SPY"]) == ("trades", "quotes")
    assert feeds_for(["T.*"]) == ("trades",)
    assert feeds_for(["q.SPY", "V.I:SPX"]) == ("quotes",)
    assert feeds_for(["V.I:SPX"]) == ("trades", "quotes")


def test_trades_only_bars_go_out_live_and_the_idle_end_releases_the_last(tmp_path: Path) -> None:
    async def scenario() -> tuple[Any, dict[str, Any], bool]:
        async with FakeMassive(KEY, [Script(frames=FRAMES)]) as fake, Hub() as hub, \
                connect(hub.url, proxy=None) as sub:
            await sub.recv()
            await sub.send('{"action": "subscribe", "channels": ["microbar@2"]}')
            await sub.recv()
            task = asyncio.create_task(run_live(
                url=fake.url, api_key=KEY, subscriptions=["T.SPY"], hub=hub,
                out_dir=tmp_path, idle_timeout_s=1.0, connect_kwargs=NO_PROXY))
            first = await first_message(sub, "microbar@2")
            running = not task.done()  # bar 0 was final before the input ended
            result = await task
        return result, first, running

    result, first, running = run(scenario())
    assert running
    assert first["seq"] == 1 and first["data"]["startMs"] == T0
    assert (first["data"]["open"], first["data"]["high"], first["data"]["low"],
            first["data"]["close"], first["data"]["volume"], first["data"]["tradeCount"]) == \
        (511.01, 511.03, 511.01, 511.03, 150.0, 2)
    r = result.report
    assert r.feeds == ["trades"] and r.unconfigured == {"quotes": 3}
    assert r.stop_reason == "idle" and r.input_end.bars_released == 1  # second 1's bar
    assert r.input_end.last_event_ms == T0 + 1300
    bars = [json.loads(line) for line in (tmp_path / "microbars.jsonl").read_bytes().splitlines()]
    assert [(b["startMs"], b["volume"], b["close"]) for b in bars] == [
        (T0, 150.0, 511.03), (T0 + 1000, 10.0, 511.02)]
    report = json.loads((tmp_path / "report.json").read_bytes())
    assert report["indexValues"] == 1
    assert report["source"] == {"kind": "websocket", "sessionDate": "2024-03-07", "datasets": [],
                                "recording": None, "recordingSha256": None}
    assert report["aggregation"]["trades"] == 3 and report["aggregation"]["quotes"] == 0


def test_duration_ends_a_silent_session(tmp_path: Path) -> None:
    async def scenario() -> Any:
        async with FakeMassive(KEY, [Script(frames=[])]) as fake:
            return await run_live(url=fake.url, api_key=KEY, subscriptions=["T.SPY", "Q.SPY"],
                                  out_dir=tmp_path, duration_s=0.3, idle_timeout_s=None,
                                  record=tmp_path / "rec.jsonl", connect_kwargs=NO_PROXY)

    result = run(scenario())
    r = result.report
    assert r.stop_reason == "duration" and r.input_end.silent_s is None
    assert r.input_end.bars_released == 0 and r.input_end.last_event_ms is None
    assert r.connections == 1 and r.messages == 4  # the handshake only
    assert (tmp_path / "microbars.jsonl").read_bytes() == b""
    assert len((tmp_path / "rec.jsonl").read_bytes().splitlines()) == 4


def test_stop_event_ends_the_session() -> None:
    async def scenario() -> Any:
        stop = asyncio.Event()
        async with FakeMassive(KEY, [Script(frames=FRAMES)]) as fake:
            task = asyncio.create_task(run_live(
                url=fake.url, api_key=KEY, subscriptions=["T.SPY", "Q.SPY"], stop=stop,
                idle_timeout_s=None, connect_kwargs=NO_PROXY))
            while fake.connections == 0 or not fake.subscriptions:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)
            stop.set()
            return await task

    result = run(scenario())
    assert result.report.stop_reason == "stopped"
    assert [b.start_ms for b in result.run.bars] == [T0, T0 + 1000]
    assert result.out_dir is None


def test_auth_failure_raises_and_never_shows_the_key(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with FakeMassive("another-key", [Script(frames=FRAMES)]) as fake:
            await run_live(url=fake.url, api_key=KEY, subscriptions=["T.SPY"], out_dir=tmp_path,
                           connect_kwargs=NO_PROXY, backoff=FAST)

    with pytest.raises(MassiveAuthError) as info:
        run(scenario())
    assert KEY not in str(info.value) and "authentication failed" in str(info.value)
    assert not (tmp_path / "live.json").exists()


def test_a_feed_failure_after_data_still_writes_every_output(tmp_path: Path) -> None:
    async def scenario() -> Any:
        async with FakeMassive(KEY, [Script(frames=FRAMES, then="max_connections")]) as fake:
            return await run_live(url=fake.url, api_key=KEY, subscriptions=["T.SPY", "Q.SPY"],
                                  out_dir=tmp_path, connect_kwargs=NO_PROXY, backoff=FAST)

    result = run(scenario())
    r = result.report
    assert r.stop_reason == "feed_error" and r.error is not None
    assert "max_connections" in r.error and KEY not in r.error
    assert [p.status for p in r.problems] == ["max_connections"]
    # second 0's bar went out when both watermarks passed its end (trade at +1.2 s, quote at
    # +1.3 s); second 1's bar waited for the end of the input
    assert r.input_end.bars_released == 1
    assert len((tmp_path / "microbars.jsonl").read_bytes().splitlines()) == 2
    assert json.loads((tmp_path / "live.json").read_bytes())["stopReason"] == "feed_error"


def test_bad_arguments_are_config_errors() -> None:
    for kwargs, match in [({"subscriptions": [" "]}, "subscribe to at least one"),
                          ({"duration_s": 0}, "duration_s"),
                          ({"idle_timeout_s": -1.0}, "idle_timeout_s"),
                          ({"api_key": " "}, "API key is empty")]:
        args: dict[str, Any] = {"url": "ws://127.0.0.1:9/x", "api_key": KEY,
                                "subscriptions": ["T.SPY"], **kwargs}
        with pytest.raises(ConfigError, match=match):
            run(run_live(**args))


# ------------------------------------------------------------------------------- recorder


def test_recorder_writes_one_line_per_message_and_scrubs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"must be a \.jsonl or \.jsonl\.gz"):
        Recorder(tmp_path / "rec.txt")
    rec = Recorder(tmp_path / "r.jsonl", scrub=lambda b: b.replace(b"SECRET", b"***"))
    rec.write(b'[{"ev":"status","status":"connected","message":"hi SECRET"}]')
    rec.write(b'[\n {"ev":"T","sym":"SPY","p":1.5,"s":2,"t":1709821800000}\r\n]\n')
    sha = rec.close()
    assert rec.close() == sha and "messages=2" in repr(rec)
    assert (tmp_path / "r.jsonl").read_bytes() == (
        b'[{"ev":"status","status":"connected","message":"hi ***"}]\n'
        b'[  {"ev":"T","sym":"SPY","p":1.5,"s":2,"t":1709821800000}  ]\n')
    gz = Recorder(tmp_path / "r.jsonl.gz")
    for line in (tmp_path / "r.jsonl").read_bytes().splitlines():
        gz.write(line)
    gz.close()
    assert gzip.decompress((tmp_path / "r.jsonl.gz").read_bytes()) == \
        (tmp_path / "r.jsonl").read_bytes()
    frames = list(iter_ws_decoded(tmp_path / "r.jsonl.gz", ticker=None, symbols=SymbolTable(),
                                  conditions=ConditionTable()))
    assert [len(f.trades) for f in frames] == [0, 1]


# ------------------------------------------------------------------------------- CLI


class _FakeInThread:
    """The fake Massive server on its own event loop in a thread (the CLI runs asyncio.run)."""

    def __init__(self, scripts: list[Script]) -> None:
        self.scripts = scripts
        self.url = ""
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with FakeMassive(KEY, self.scripts) as fake:
            self.url = fake.url
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> _FakeInThread:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for var in ("MASSIVE_API_KEY", "SPXCC_DB", "SPXCC_MASTER_KEY", "HTTP_PROXY", "HTTPS_PROXY",
                "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    yield monkeypatch


def test_cli_live_runs_a_session(tmp_path: Path, clean_env: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    clean_env.setenv("SPXCC_LIVE_KEY", KEY)
    with _FakeInThread([Script(frames=FRAMES)]) as fake:
        code = main(["live", "--url", fake.url, "--subscribe", "T.SPY,Q.SPY",
                     "--api-key-env", "SPXCC_LIVE_KEY", "--serve", "127.0.0.1:0",
                     "--record", str(tmp_path / "rec.jsonl"), "--out", str(tmp_path / "out"),
                     "--idle-timeout", "0.5"])
    out = capsys.readouterr()
    assert code == 0, out.err
    lines = out.out.splitlines()
    assert lines[0].startswith("hub listening on ws://127.0.0.1:")
    assert lines[1] == ("live session ended (no trade or quote for 0.5 s): 6 events, 2 bars "
                        "(1 released at the end), 0 setups, 1 connection(s)")
    assert KEY not in out.out + out.err
    for name in ("microbars.jsonl", "setups.jsonl", "gate_decisions.jsonl", "quarantine.jsonl",
                 "report.json", "live.json", "spxcc.sqlite3"):
        assert (tmp_path / "out" / name).is_file(), name
    # the recording replays to the same bars
    assert main(["replay", str(tmp_path / "rec.jsonl"), "--out", str(tmp_path / "rep")]) == 0
    assert (tmp_path / "rep" / "microbars.jsonl").read_bytes() == \
        (tmp_path / "out" / "microbars.jsonl").read_bytes()


@pytest.mark.parametrize(("argv", "message"), [
    (["--subscribe", " , "], "--subscribe: give at least one channel"),
    (["--duration", "0"], "--duration must be a positive number"),
    (["--idle-timeout", "-2"], "--idle-timeout must be a positive number"),
    (["--serve", "localhost:http"], "--serve 'localhost:http': expected HOST:PORT"),
    (["--serve", "127.0.0.1:0", "--queue-size", "0"], "--queue-size must be >= 1"),
    (["--serve", "127.0.0.1:0", "--queue-bytes", "0"], "--queue-bytes must be >= 1"),
    (["--serve", "127.0.0.1:0", "--retain", "-1"], "--retain must be >= 0"),
    (["--stall-timeout", "-1"], "--stall-timeout must be a positive number"),
    (["--serve", "127.0.0.1:0", "--hub-token-hash", "not-a-hash"],
     "--hub-token-hash: expected sha256: followed by"),
    (["--serve", "127.0.0.1:0", "--hub-origin", "file:///x"], "allowed origin 'file:///x'"),
    (["--detectors", ","], "--detectors: give at least one detector name"),
    (["--chain", "/nonexistent-spxcc/chain.json"], "chain.json: file not found"),
])
def test_cli_bad_options_exit_2_with_one_line(argv: list[str], message: str,
                                              clean_env: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    clean_env.setenv("MASSIVE_API_KEY", KEY)
    base = ["live", "--url", "ws://127.0.0.1:9/stocks", "--subscribe", "T.SPY"]
    code = main([*base, *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err == f"spxcc: error: {err.removeprefix('spxcc: error: ').strip()}\n"
    assert message in err


def test_cli_without_a_key_says_where_it_looked(tmp_path: Path, clean_env: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["live", "--url", "ws://127.0.0.1:9/stocks", "--subscribe", "T.SPY",
                 "--db", str(tmp_path / "vault.sqlite3")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1
    assert "MASSIVE_API_KEY is not set" in err and "SPXCC_MASTER_KEY" in err


@pytest.mark.parametrize("option", [["--api-key", KEY], [f"--api-key={KEY}"]])
def test_cli_refuses_a_key_on_the_command_line_without_repeating_it(
        option: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["live", "--url", "ws://x", "--subscribe", "T.SPY", *option])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert "never taken from the command line" in err or "unrecognized" in err
    assert KEY not in err


def test_cli_serve_beyond_loopback_needs_bind_any_and_a_token(
        clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """``spxcc live --serve 0.0.0.0:0`` opened the hub to the network with no token (a
    review); it is refused as ``spxcc serve`` refuses it, before any key is read."""
    base = ["live", "--url", "ws://127.0.0.1:9/stocks", "--subscribe", "T.SPY",
            "--serve", "0.0.0.0:0"]
    assert main(base) == 2
    assert "--serve 0.0.0.0: not a loopback address" in capsys.readouterr().err
    assert main([*base, "--bind-any"]) == 2
    assert "needs a hub token hash" in capsys.readouterr().err
