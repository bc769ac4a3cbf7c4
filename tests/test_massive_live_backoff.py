"""The live Massive client waits its reconnect backoff through the injected ``sleep``: the
delays it asks for are exact, and no test waits for them (real websocket connections on
loopback, refused or closed by the fake server)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from fake_massive import FakeMassive, Script

from spxcc_core.aggregate.columns import ConditionTable, SymbolTable
from spxcc_core.massive.live import Backoff, LiveClient, MassiveConnectionError

KEY = "sk_live_Zx9TopSecretKey0123"
DATA = [line for line in (Path(__file__).parent / "fixtures" / "massive" / "ws_frames.jsonl")
        .read_text().splitlines() if line.strip() and '"status"' not in line]


def client(url: str, backoff: Backoff, slept: list[float]) -> LiveClient:
    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    return LiveClient(url=url, api_key=KEY, subscriptions=["T.SPY"], ticker=None,
                      symbols=SymbolTable(), conditions=ConditionTable(), backoff=backoff,
                      connect_kwargs={"proxy": None}, sleep=sleep)


def test_unreachable_server_backs_off_exponentially_then_gives_up() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    slept: list[float] = []
    c = client(f"ws://127.0.0.1:{port}/stocks",
               Backoff(initial_s=0.5, factor=2.0, max_s=3.0, max_attempts=5, jitter=0), slept)

    async def main() -> None:
        async for _ in c.frames():
            pass

    with pytest.raises(MassiveConnectionError, match="no connection after 5 attempts"):
        asyncio.run(asyncio.wait_for(main(), 15))
    # 0.5 doubling, capped at 3 s; five waits, none after the sixth failure
    assert slept == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_a_successful_handshake_resets_the_backoff() -> None:
    slept: list[float] = []

    async def main() -> int:
        # two connections closed by the server right after the handshake, then data
        scripts = [Script([], then="close"), Script([], then="close"), Script(DATA[:1])]
        async with FakeMassive(KEY, scripts) as fake:
            c = client(fake.url, Backoff(initial_s=0.25, max_attempts=2, jitter=0), slept)
            async for frame in c.frames():
                if len(frame.trades) or len(frame.quotes):
                    break
            await c.close()
            return fake.connections

    assert asyncio.run(asyncio.wait_for(main(), 15)) == 3
    assert slept == [0.25, 0.25]  # each close follows a good handshake: attempt 1 again
