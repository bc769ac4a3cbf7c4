"""The websocket hub against real websocket clients on loopback."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from spxcc_core.contracts.microbar import MicrobarV1, MicrobarV2
from spxcc_core.contracts.setup import GateDecision, SetupInstance
from spxcc_core.errors import ConfigError
from spxcc_core.host.clock import ManualClock
from spxcc_core.host.hub import CHANNELS, Hub, parse_hostport, to_v1

R = TypeVar("R")
EXAMPLES = Path(__file__).resolve().parent.parent / "contracts" / "examples"
T0 = 1_709_821_800_000  # 2024-03-07 09:30:00 New York


def run(coro: Awaitable[R]) -> R:
    async def guarded() -> R:
        return await asyncio.wait_for(coro, 30)
    return asyncio.run(guarded())


def bar(i: int) -> MicrobarV2:
    return MicrobarV2(symbol="SPY", start_ms=T0 + 1000 * i, interval_ms=1000, open=511.0 + i,
                      high=511.5 + i, low=510.5 + i, close=511.25 + i, volume=300.0,
                      trade_count=3, vwap=511.1 + i, delta_volume=-100.0,
                      bid_ask_imbalance=0.25, ask_bid_size_ratio=1.5, quote_coverage_pct=100.0,
                      avg_spread_bps=0.39, bid_size_at_close=4.0, ask_size_at_close=6.0,
                      quote_count=7)


SETUP = msgspec.json.decode((EXAMPLES / "setup.v1.detected.json").read_bytes(),
                            type=SetupInstance)
DECISION = msgspec.json.decode((EXAMPLES / "gate_decision.v1.blocked-heavy-offer.json")
                               .read_bytes(), type=GateDecision)


async def recv(ws: ClientConnection) -> dict[str, Any]:
    message = await asyncio.wait_for(ws.recv(), 5)
    out: dict[str, Any] = json.loads(message)
    return out


async def subscribe(hub: Hub, *channels: str, action: str = "subscribe") -> ClientConnection:
    ws = await connect(hub.url, proxy=None)
    hello = await recv(ws)
    assert hello["data"]["status"] == "connected"
    await ws.send(json.dumps({"action": action, "channels": list(channels)}))
    ack = await recv(ws)
    assert ack["data"]["status"] == "subscribed", ack
    return ws


async def drain(ws: ClientConnection) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    try:
        while True:
            out.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
    except ConnectionClosed:
        return out


def test_greeting_subscribe_and_v1_v2_envelopes() -> None:
    async def scenario() -> None:
        clock = ManualClock(start_ms=T0 + 5_000)
        async with Hub(clock=clock) as hub:
            ws = await connect(hub.url, proxy=None)
            hello = await recv(ws)
            assert hello == {"type": "hub_status", "version": 1, "seq": 1, "ts": T0 + 5_000,
                             "data": {"status": "connected", "message": hello["data"]["message"],
                                      "channels": sorted(CHANNELS)}}
            await ws.send('{"action": "subscribe", "channels": ["microbar@2", "microbar@1"]}')
            ack = await recv(ws)
            assert (ack["seq"], ack["data"]["status"], ack["data"]["channels"]) == \
                (2, "subscribed", ["microbar@1", "microbar@2"])
            clock.advance(1.5)
            assert hub.publish([bar(0), bar(1)]) == 4
            got = [await recv(ws) for _ in range(4)]
            await ws.close()
        # per bar: the v2 envelope, then the v1 one; seq per channel from 1; ts = send time
        assert [(m["type"], m["version"], m["seq"], m["ts"]) for m in got] == [
            ("microbar", 2, 1, T0 + 6_500), ("microbar", 1, 1, T0 + 6_500),
            ("microbar", 2, 2, T0 + 6_500), ("microbar", 1, 2, T0 + 6_500)]
        assert got[1]["data"] == {"symbol": "SPY", "startMs": T0, "intervalMs": 1000,
                                  "open": 511.0, "high": 511.5, "low": 510.5, "close": 511.25,
                                  "volume": 300.0, "tradeCount": 3, "vwap": 511.1,
                                  "deltaVolume": -100.0, "bidAskImbalance": 0.25}
        assert got[0]["data"] == {**got[1]["data"], "askBidSizeRatio": 1.5,
                                  "quoteCoveragePct": 100.0, "avgSpreadBps": 0.39,
                                  "bidSizeAtClose": 4.0, "askSizeAtClose": 6.0, "quoteCount": 7}
        assert got[3]["data"]["startMs"] == T0 + 1000 and got[3]["data"]["open"] == 512.0

    run(scenario())


def test_data_seq_is_the_channel_position_and_status_seq_is_per_connection() -> None:
    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with Hub() as hub:
            a = await subscribe(hub, "microbar@2", "setup@1", "gate_decision@1")
            hub.publish([bar(0)])
            b = await subscribe(hub, "microbar@2")
            hub.publish([bar(1), SETUP, DECISION])
            hub.publish([SETUP])
            await hub.close()
            return await drain(a), await drain(b)

    a, b = run(scenario())
    assert [(m["type"], m["seq"]) for m in a] == [
        ("microbar", 1), ("microbar", 2), ("setup", 1), ("gate_decision", 1), ("setup", 2),
        ("hub_status", 3)]
    # b joined after bar 0: its first microbar@2 is the channel's second message (seq 2),
    # its own status messages still count from 1 (connected, subscribed, end)
    assert [(m["type"], m["seq"]) for m in b] == [("microbar", 2), ("hub_status", 3)]
    assert b[0]["data"]["startMs"] == T0 + 1000
    assert a[2]["data"]["id"] == SETUP.id and a[3]["data"]["setupId"] == DECISION.setup_id
    assert a[-1]["data"]["status"] == b[-1]["data"]["status"] == "end"


def test_bad_requests_get_an_error_status_and_change_nothing(
        caplog: pytest.LogCaptureFixture) -> None:
    bad = [
        ("not json", "bad request"),
        ('[1, 2]', "bad request"),
        ('{"action": "subscribe"}', "missing required field `channels`"),
        ('{"action": "dance", "channels": ["microbar@2"]}', "bad request"),
        ('{"action": "subscribe", "channels": "microbar@2"}', "bad request"),
        ('{"action": "subscribe", "channels": ["microbar@2"], "x": 1}', "unknown field"),
        ('{"action": "subscribe", "channels": ["microbar@3", "microbar@2"]}',
         "unknown channel 'microbar@3'"),
        ('{"action": "subscribe", "channels": []}', "no channel given"),
    ]

    async def scenario() -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
        async with Hub() as hub:
            ws = await connect(hub.url, proxy=None)
            await recv(ws)
            answers = []
            for text, _ in bad:
                await ws.send(text)
                answers.append(await recv(ws))
            hub.publish([bar(0)])  # never asked: the default microbar@1
            default = await recv(ws)
            await ws.send('{"action": "subscribe", "channels": ["setup@1"]}')
            ack = await recv(ws)
            hub.publish([bar(1), SETUP])  # the request replaced the default
            first = await recv(ws)
            stats = hub.stats()
            await ws.close()
            return answers, stats.bad_requests, {"ack": ack, "first": first, "default": default}

    with caplog.at_level(logging.DEBUG):
        answers, bad_count, rest = run(scenario())
    for (text, expected), answer in zip(bad, answers, strict=True):
        assert answer["type"] == "hub_status" and answer["data"]["status"] == "error", text
        assert expected in answer["data"]["message"], (text, answer["data"]["message"])
        assert answer["data"]["channels"] == ["microbar@1"]  # nothing changed: the default
    assert ("microbar@1, microbar@2, setup@1, gate_decision@1, feed_status@1"
            in answers[-2]["data"]["message"])
    assert [a["seq"] for a in answers] == list(range(2, 2 + len(bad)))
    assert bad_count == len(bad)
    assert (rest["default"]["type"], rest["default"]["version"], rest["default"]["seq"],
            rest["default"]["data"]["startMs"]) == ("microbar", 1, 1, T0)
    assert rest["ack"]["data"]["channels"] == ["setup@1"]
    assert (rest["first"]["type"], rest["first"]["seq"]) == ("setup", 1)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "Traceback" not in caplog.text


def test_unsubscribe() -> None:
    async def scenario() -> list[dict[str, Any]]:
        async with Hub() as hub:
            ws = await subscribe(hub, "microbar@2", "setup@1")
            hub.publish([bar(0), SETUP])
            await ws.send('{"action": "unsubscribe", "channels": ["microbar@2"]}')
            got = [await recv(ws) for _ in range(3)]
            hub.publish([bar(1), SETUP])
            got.append(await recv(ws))
            await ws.close()
            return got

    got = run(scenario())
    assert [(m["type"], m["seq"]) for m in got] == [
        ("microbar", 1), ("setup", 1), ("hub_status", 3), ("setup", 2)]
    assert got[2]["data"]["status"] == "unsubscribed" and got[2]["data"]["channels"] == ["setup@1"]


def test_a_burst_beyond_the_queue_drops_the_connection_with_a_status() -> None:
    async def scenario() -> tuple[int, list[dict[str, Any]], Any, list[dict[str, Any]], int]:
        async with Hub(queue_size=4) as hub:
            slow = await subscribe(hub, "microbar@2")
            other = await subscribe(hub, "setup@1")
            queued = hub.publish([bar(i) for i in range(10)])  # returns at once
            hub.publish([SETUP])
            got = await drain(slow)
            code = slow.close_code
            hub.publish([SETUP])
            other_got = [await recv(other), await recv(other)]
            stats = hub.stats()
            await other.close()
            return queued, got, code, other_got, stats.slow_disconnects

    queued, got, code, other_got, slow = run(scenario())
    assert queued == 4  # four bars fit the queue; the fifth dropped the connection
    assert [m["data"]["status"] for m in got] == ["disconnected"]  # the backlog was discarded
    assert "slow consumer: 4 messages waiting (limit 4)" in got[0]["data"]["message"]
    assert got[0]["seq"] == 3
    assert code == 1008
    assert slow == 1
    assert [m["seq"] for m in other_got] == [1, 2]  # the other subscriber is unaffected


async def stalled_client(hub: Hub) -> asyncio.StreamWriter:
    """A raw websocket client (small receive buffer) that subscribes to microbar@2 and then
    never reads again: its stream buffer fills, then the socket's, then the hub's queue."""
    host, port = hub.url.removeprefix("ws://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
    writer.write(b"GET / HTTP/1.1\r\nHost: hub\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    payload = b'{"action": "subscribe", "channels": ["microbar@2"]}'
    mask = b"\x01\x02\x03\x04"
    writer.write(bytes([0x81, 0x80 | len(payload)]) + mask
                 + bytes(c ^ mask[i % 4] for i, c in enumerate(payload)))
    await writer.drain()
    await asyncio.sleep(0.05)  # the hub handles the request; the client never reads again
    return writer


def test_a_subscriber_that_stops_reading_is_dropped_and_never_blocks_the_others() -> None:
    async def scenario() -> tuple[int, int, int]:
        async with Hub(queue_size=64, close_timeout_s=0.5) as hub:
            reader = await subscribe(hub, "microbar@2")
            stalled = await stalled_client(hub)
            received = 0
            sent = 0
            while hub.stats().slow_disconnects == 0 and sent < 400_000:
                hub.publish([bar(sent + i) for i in range(16)])
                sent += 16
                for _ in range(16):
                    m = json.loads(await asyncio.wait_for(reader.recv(), 5))
                    assert m["seq"] == received + 1
                    received += 1
            slow = hub.stats().slow_disconnects
            await reader.close()
            stalled.close()
            return sent, received, slow

    sent, received, slow = run(scenario())
    assert slow == 1
    assert received == sent  # the reading subscriber got every bar, in order
    print(f"stalled subscriber dropped after {sent:,} bars")


def test_close_ends_every_connection_with_an_end_status() -> None:
    async def scenario() -> tuple[list[dict[str, Any]], Any, int]:
        hub = await Hub().start()
        ws = await subscribe(hub, "gate_decision@1")
        hub.publish([DECISION])
        await hub.close()
        await hub.close()  # idempotent
        got = await drain(ws)
        return got, ws.close_code, hub.subscribers

    got, code, open_after = run(scenario())
    assert [(m["type"], m["data"].get("status")) for m in got] == [
        ("gate_decision", None), ("hub_status", "end")]
    assert code == 1000 and open_after == 0


def test_publish_checks_types_and_needs_no_subscriber() -> None:
    async def scenario() -> None:
        async with Hub() as hub:
            assert hub.publish([bar(0), SETUP, DECISION]) == 0
            with pytest.raises(TypeError, match="the hub carries no MicrobarV1"):
                hub.publish([to_v1(bar(0))])

    run(scenario())
    with pytest.raises(ConfigError, match="queue_size"):
        Hub(queue_size=0)


def test_parse_hostport() -> None:
    assert parse_hostport("0.0.0.0:8765") == ("0.0.0.0", 8765)
    assert parse_hostport(":0") == ("127.0.0.1", 0)
    assert parse_hostport("9000") == ("127.0.0.1", 9000)
    assert parse_hostport("[::1]:9000") == ("::1", 9000)
    for bad in ("host:", "host:http", "host:70000", "host:-1"):
        with pytest.raises(ConfigError, match="--serve"):
            parse_hostport(bad)


def test_port_in_use_is_a_config_error() -> None:
    async def scenario() -> None:
        async with Hub() as first:
            port = int(first.url.rsplit(":", 1)[1])
            with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
                await Hub(port=port).start()

    run(scenario())


_floats = st.floats(allow_nan=False, allow_infinity=False, width=64)
_opt = st.none() | _floats


@given(open_=_opt, vol=_floats, count=st.integers(0, 10**6), extra=st.lists(_opt, min_size=5,
       max_size=5), quotes=st.none() | st.integers(0, 10**6))
def test_v1_view_is_what_a_v1_reader_decodes_from_v2(open_: float | None, vol: float,
                                                     count: int, extra: list[float | None],
                                                     quotes: int | None) -> None:
    b = MicrobarV2(symbol="SPY", start_ms=T0, interval_ms=1000, open=open_, high=open_,
                   low=open_, close=open_, volume=vol, trade_count=count, vwap=open_,
                   delta_volume=vol, bid_ask_imbalance=extra[0], ask_bid_size_ratio=extra[1],
                   quote_coverage_pct=extra[2], avg_spread_bps=extra[3],
                   bid_size_at_close=extra[4], ask_size_at_close=None, quote_count=quotes)
    v1 = to_v1(b)
    assert type(v1) is MicrobarV1
    assert msgspec.json.decode(msgspec.json.encode(b), type=MicrobarV1) == v1
    assert set(msgspec.json.decode(msgspec.json.encode(v1))) == {
        "symbol", "startMs", "intervalMs", "open", "high", "low", "close", "volume",
        "tradeCount", "vwap", "deltaVolume", "bidAskImbalance"}
