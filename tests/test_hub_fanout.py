"""The hub's send path: one socket write per connection per burst, frames built by the hub,
compression only when configured, a reader that falls behind and catches up."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest
from test_host_hub import SETUP, bar, drain, recv, run, subscribe
from websockets.asyncio.client import ClientConnection, connect
from websockets.frames import Frame, Opcode

from spxcc_core.host.hub import Hub, HubConfig, _text_frame_header


def test_text_frame_header_hand_worked() -> None:
    # RFC 6455 §5.2: byte 0 = FIN (0x80) | opcode text (0x1) = 0x81; byte 1 = MASK bit 0 | length
    # when < 126, else 126 + a 16-bit length, else 127 + a 64-bit length (network order).
    assert _text_frame_header(0) == b"\x81\x00"
    assert _text_frame_header(5) == b"\x81\x05"
    assert _text_frame_header(125) == b"\x81\x7d"
    assert _text_frame_header(126) == b"\x81\x7e\x00\x7e"  # 126 = 0x007e
    assert _text_frame_header(480) == b"\x81\x7e\x01\xe0"  # 480 = 256 + 224 = 0x01e0
    assert _text_frame_header(65_535) == b"\x81\x7e\xff\xff"
    assert _text_frame_header(65_536) == b"\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00"


@pytest.mark.parametrize("length", [0, 1, 125, 126, 127, 500, 65_535, 65_536, 70_000])
def test_text_frame_header_is_what_the_websockets_library_writes(length: int) -> None:
    payload = b"x" * length
    theirs = Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[])
    assert _text_frame_header(length) + payload == theirs


async def _extensions(ws: ClientConnection) -> list[str]:
    return [e.name for e in ws.protocol.extensions]


@pytest.mark.parametrize("compression", [False, True])
def test_compression_only_when_configured_and_every_message_arrives(compression: bool) -> None:
    """A client offering permessage-deflate (the websockets client does by default) gets it
    only from a hub configured for it; either way a burst arrives whole and in order."""
    async def scenario() -> tuple[list[str], list[dict[str, Any]], Any]:
        async with Hub(config=HubConfig(compression=compression)) as hub:
            ws = await subscribe(hub, "microbar@2", "setup@1")
            names = await _extensions(ws)
            hub.publish([bar(i) for i in range(50)])
            hub.publish([SETUP])
            await hub.close()
            return names, await drain(ws), ws.close_code

    names, got, code = run(scenario())
    assert names == (["permessage-deflate"] if compression else [])
    assert [(m["type"], m["seq"]) for m in got] == (
        [("microbar", i) for i in range(1, 51)] + [("setup", 1), ("hub_status", 3)])
    assert [m["data"]["startMs"] for m in got[:50]] == [bar(i).start_ms for i in range(50)]
    assert got[-1]["data"]["status"] == "end" and code == 1000


def test_a_burst_goes_to_each_socket_in_one_write() -> None:
    """Three bars and a setup published in one event-loop step reach each connection's socket
    as one write holding the four frames (not four sends per connection)."""
    async def scenario() -> tuple[list[int], list[list[tuple[str, int]]]]:
        async with Hub() as hub:
            clients = [await subscribe(hub, "microbar@2", "setup@1") for _ in range(3)]
            await asyncio.sleep(0.05)  # the subscribe replies are written
            writes: list[int] = []
            for conn in list(hub._conns):
                transport: Any = conn.ws.transport
                index = len(writes)
                writes.append(0)

                def counting(data: bytes, _real: Any = transport.write, _i: int = index) -> None:
                    writes[_i] += 1
                    _real(data)

                transport.write = counting
            hub.publish([bar(0), bar(1), bar(2)])
            hub.publish([SETUP])
            got = [[(m["type"], m["seq"]) for m in [await recv(ws) for _ in range(4)]]
                   for ws in clients]
            counted = list(writes)  # before the closing handshakes write their close frames
            for ws in clients:
                await ws.close()
            return counted, got

    writes, got = run(scenario())
    assert writes == [1, 1, 1]
    assert got == [[("microbar", 1), ("microbar", 2), ("microbar", 3), ("setup", 1)]] * 3


def test_a_reader_that_falls_behind_gets_every_message_in_order() -> None:
    """A client stops reading until its socket and the hub's socket buffer are full (the hub
    then queues and waits for the socket), then reads again: it gets every message, in order,
    none twice, and is not dropped (its backlog stays under the limits)."""
    async def scenario() -> tuple[int, int, list[int], int]:
        async with Hub(queue_size=100_000) as hub:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect
            host, port = hub.url.removeprefix("ws://").split(":")
            sock.connect((host, int(port)))
            ws = await connect(hub.url, sock=sock, proxy=None, max_queue=4)
            await recv(ws)
            await ws.send(json.dumps({"action": "subscribe", "channels": ["microbar@2"]}))
            await recv(ws)
            (conn,) = hub._conns
            sent = 0
            while not conn.backlog and sent < 200_000:  # until the hub has to hold messages
                hub.publish([bar(sent + i) for i in range(100)])
                sent += 100
                await asyncio.sleep(0)
            held = len(conn.backlog)
            seqs = [json.loads(await asyncio.wait_for(ws.recv(), 5))["seq"] for _ in range(sent)]
            slow = hub.stats().slow_disconnects
            await ws.close()
            return sent, held, seqs, slow

    sent, held, seqs, slow = run(scenario())
    assert held > 0  # the hub really had to wait for the socket
    assert seqs == list(range(1, sent + 1))
    assert slow == 0
