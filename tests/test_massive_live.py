"""Live websocket client against a real local websocket server speaking the Massive handshake."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest
from fake_massive import FakeMassive, Script

from spxcc_core.aggregate.columns import ConditionTable, SymbolTable
from spxcc_core.errors import ConfigError
from spxcc_core.massive import iter_ws_decoded
from spxcc_core.massive.live import (
    ApiKey,
    Backoff,
    LiveClient,
    MassiveAuthError,
    MassiveConnectionError,
    MassiveMaxConnectionsError,
    massive_url,
)
from spxcc_core.massive.websocket import WsFrame

FIX = Path(__file__).parent / "fixtures" / "massive"
KEY = "sk_live_Zx9TopSecretKey0123"
DATA = [line for line in (FIX / "ws_frames.jsonl").read_text().splitlines()
        if line.strip() and '"status"' not in line]  # 3 data frames: 2, 4 and 1 events
FAST = Backoff(initial_s=0.01, factor=2.0, max_s=0.05, max_attempts=3)

R = TypeVar("R")


def run(coro: Awaitable[R]) -> R:
    async def guarded() -> R:
        return await asyncio.wait_for(coro, 15)
    return asyncio.run(guarded())


def client(url: str, *, key: str = KEY, **kw: object) -> LiveClient:
    return LiveClient(url=url, api_key=key, subscriptions=["T.SPY", "Q.SPY"], ticker=None,
                      symbols=SymbolTable(), conditions=ConditionTable(),
                      backoff=FAST, connect_kwargs={"proxy": None}, **kw)  # type: ignore[arg-type]


def is_data(frame: WsFrame) -> bool:
    return bool(len(frame.trades) or len(frame.quotes) or len(frame.values) or frame.unknown)


async def collect(c: LiveClient, n_data: int) -> list[WsFrame]:
    out: list[WsFrame] = []
    async for frame in c.frames():
        out.append(frame)
        if sum(map(is_data, out)) == n_data:
            break
    return out


def test_handshake_subscribe_and_frames() -> None:
    async def main() -> tuple[FakeMassive, LiveClient, list[WsFrame]]:
        async with FakeMassive(KEY, [Script(DATA)]) as fake:
            c = client(fake.url)
            frames = await collect(c, 3)
            return fake, c, frames

    fake, c, frames = run(main())
    assert fake.auths == [KEY]
    assert fake.subscriptions == ["T.SPY,Q.SPY"]
    # connected 1, auth_success 2, success 3 and 4 (yielded), then data from message 5.
    assert [f.statuses for f in frames[:2]] == [(("success", "subscribed to: T.SPY"),),
                                                (("success", "subscribed to: Q.SPY"),)]
    data = [f for f in frames if is_data(f)]
    assert data[0].trades.line.tolist() == [5]
    assert data[0].quotes.line.tolist() == [6]
    assert data[0].trades.ts.tolist() == [1704205800000 * 1_000_000]
    assert data[1].unknown == ("A",)
    assert data[1].values.line.tolist() == [8]
    assert data[1].trades.line.tolist() == [9, 10]
    assert data[2].quotes.line.tolist() == [11]
    assert c.connections == 1
    assert (c.stats.events, c.stats.trades, c.stats.quotes) == (11, 3, 2)
    assert dict(c.stats.statuses) == {"connected": 1, "auth_success": 1, "success": 2}
    assert c.problems == []


def test_reconnect_after_a_drop_resubscribes_and_keeps_counting() -> None:
    async def main() -> tuple[FakeMassive, LiveClient, list[WsFrame]]:
        scripts = [Script(DATA[:1], then="drop"), Script(DATA[1:])]
        async with FakeMassive(KEY, scripts) as fake:
            c = client(fake.url)
            frames = await collect(c, 3)
            return fake, c, frames

    fake, c, frames = run(main())
    assert fake.connections == 2
    assert fake.auths == [KEY, KEY]
    assert fake.subscriptions == ["T.SPY,Q.SPY", "T.SPY,Q.SPY"]
    assert c.connections == 2
    data = [f for f in frames if is_data(f)]
    # Connection 1: messages 1-4 handshake, 5-6 data. Connection 2: 7-10 handshake, then data.
    assert data[0].trades.line.tolist() == [5]
    assert data[1].trades.line.tolist() == [13, 14]
    assert data[2].quotes.line.tolist() == [15]


def test_recording_replays_to_the_same_columns(tmp_path: Path) -> None:
    recording = tmp_path / "live.jsonl"
    messages: list[bytes] = []

    async def main() -> list[WsFrame]:
        async with FakeMassive(KEY, [Script(DATA)]) as fake:
            c = client(fake.url, on_message=messages.append)
            return await collect(c, 3)

    live = run(main())
    recording.write_bytes(b"".join(m + b"\n" for m in messages))
    assert KEY.encode() not in recording.read_bytes()
    replay = list(iter_ws_decoded(recording, ticker=None, symbols=SymbolTable(),
                                  conditions=ConditionTable()))

    def flat(frames: list[WsFrame]) -> list[list[object]]:
        t = [f.trades for f in frames]
        q = [f.quotes for f in frames]
        return [np.concatenate([getattr(x, k) for x in t]).tolist()
                for k in ("ts", "price", "size", "seq", "line")] + \
               [np.concatenate([getattr(x, k) for x in q]).tolist()
                for k in ("ts", "bid", "ask", "seq", "line")]

    assert flat(live) == flat(replay)


def test_auth_failed_is_typed_and_never_shows_the_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def main() -> tuple[FakeMassive, str, LiveClient, MassiveAuthError]:
        async with FakeMassive("the-right-key", [Script(DATA)]) as fake:
            c = client(fake.url)
            with pytest.raises(MassiveAuthError) as info:
                await collect(c, 1)
            return fake, fake.url, c, info.value

    fake, url, c, err = run(main())
    assert fake.connections == 1  # not retried
    assert fake.auths == [KEY]
    assert str(err) == f"{url}: authentication failed (authentication failed)"
    # Every log record but the fake server's own (it logs what it received) is key-free,
    # including websockets' DEBUG frame log on the client side.
    client_logs = [r.getMessage() for r in caplog.records
                   if not r.name.startswith("websockets.server")]
    assert client_logs  # DEBUG logging was really on
    for text in (str(err), repr(err), repr(c), *client_logs, str(c.problems)):
        assert KEY not in text
    assert c.problems == [("auth_failed", "authentication failed")]


def test_max_connections_is_typed_and_not_retried() -> None:
    async def main() -> tuple[FakeMassive, MassiveMaxConnectionsError]:
        async with FakeMassive(KEY, [Script(DATA[:1], then="max_connections")]) as fake:
            c = client(fake.url)
            with pytest.raises(MassiveMaxConnectionsError) as info:
                await collect(c, 5)
            return fake, info.value

    fake, err = run(main())
    assert fake.connections == 1
    assert "max_connections: another connection uses this key" in str(err)
    assert KEY not in str(err)


def test_unreachable_server_gives_up_after_the_attempt_limit() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Nothing listens on the port now.
    c = client(f"ws://127.0.0.1:{port}/stocks?apiKey={KEY}")
    with pytest.raises(MassiveConnectionError) as info:
        run(collect(c, 1))
    msg = str(info.value)
    assert msg.startswith(f"ws://127.0.0.1:{port}/stocks: no connection after 3 attempts: ")
    assert KEY not in msg


def test_clean_server_close_reconnects() -> None:
    async def main() -> tuple[FakeMassive, list[WsFrame]]:
        scripts = [Script(DATA[:2], then="close"), Script(DATA[2:])]
        async with FakeMassive(KEY, scripts) as fake:
            return fake, await collect(client(fake.url), 3)

    fake, frames = run(main())
    assert fake.connections == 2
    assert [f for f in frames if is_data(f)][2].quotes.line.tolist() == [15]


def test_close_ends_the_stream() -> None:
    async def main() -> list[WsFrame]:
        async with FakeMassive(KEY, [Script(DATA)]) as fake:
            c = client(fake.url)
            got: list[WsFrame] = []
            async for frame in c.frames():
                got.append(frame)
                if is_data(frame):
                    await c.close()
            return got

    got = run(main())
    assert sum(map(is_data, got)) >= 1


def test_api_key_and_config_checks() -> None:
    key = ApiKey(KEY)
    assert repr(key) == str(key) == "ApiKey(***)"
    assert KEY not in f"{key} {key!r} {[key]}"
    assert key.scrub(f"bad key {KEY}!") == "bad key ***!"
    with pytest.raises(ConfigError):
        ApiKey("  ")
    with pytest.raises(ConfigError):
        LiveClient(url="ws://127.0.0.1:1/x", api_key=KEY, subscriptions=[], ticker=None,
                   symbols=SymbolTable(), conditions=ConditionTable())
    assert Backoff(initial_s=0.5, factor=2.0, max_s=3.0).delay(1) == 0.5
    assert Backoff(initial_s=0.5, factor=2.0, max_s=3.0).delay(3) == 2.0
    assert Backoff(initial_s=0.5, factor=2.0, max_s=3.0).delay(4) == 3.0
    assert massive_url("options") == "wss://socket.massive.com/options"
    assert massive_url("stocks", delayed=True) == "wss://delayed.massive.com/stocks"
