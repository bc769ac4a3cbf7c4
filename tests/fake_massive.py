"""A small fake Massive websocket server on 127.0.0.1 for integration tests.

It speaks the real handshake (``connected`` → auth → ``auth_success``/``auth_failed`` →
subscribe → one ``success`` status per channel) and then replays recorded frames. Behaviour per
connection is scripted with :class:`Script`; everything it received is recorded for assertions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from typing import Any

import attrs
from websockets.asyncio.server import Server, ServerConnection, serve


def status(name: str, message: str) -> str:
    return json.dumps([{"ev": "status", "status": name, "message": message}])


@attrs.define
class Script:
    """What one connection does after a successful subscribe.

    ``frames``: messages to send, in order. ``then``: ``"hold"`` (stay open until the client
    closes), ``"close"`` (clean close), ``"drop"`` (abort the TCP connection without a close
    frame), or ``"max_connections"`` (send that status, then close).
    """

    frames: Sequence[str] = ()
    then: str = "hold"


@attrs.define
class FakeMassive:
    """``async with FakeMassive(key, scripts) as fake: fake.url`` — one script per connection
    (the last one repeats)."""

    api_key: str
    scripts: Sequence[Script]
    path: str = "/stocks"
    auths: list[str] = attrs.field(factory=list)
    subscriptions: list[str] = attrs.field(factory=list)
    connections: int = 0
    _server: Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = next(iter(self._server.sockets)).getsockname()[:2]
        return f"ws://{host}:{port}{self.path}"

    async def __aenter__(self) -> FakeMassive:
        self._server = await serve(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, ws: ServerConnection) -> None:
        script = self.scripts[min(self.connections, len(self.scripts) - 1)]
        self.connections += 1
        await ws.send(status("connected", "Connected Successfully"))
        auth = json.loads(await ws.recv())
        self.auths.append(auth.get("params", ""))
        if auth != {"action": "auth", "params": self.api_key}:
            # Massive answers with a status; the message never echoes the key back.
            await ws.send(status("auth_failed", "authentication failed"))
            await ws.close()
            return
        await ws.send(status("auth_success", "authenticated"))
        sub = json.loads(await ws.recv())
        assert sub["action"] == "subscribe", sub
        self.subscriptions.append(sub["params"])
        for channel in sub["params"].split(","):
            await ws.send(status("success", f"subscribed to: {channel}"))
        for frame in script.frames:
            await ws.send(frame)
        if script.then == "hold":
            with contextlib.suppress(asyncio.CancelledError):
                await ws.wait_closed()
        elif script.then == "close":
            await ws.close()
        elif script.then == "drop":
            ws.transport.abort()
        elif script.then == "max_connections":
            await ws.send(status("max_connections", "Maximum number of websocket connections "
                                                    "exceeded. You have reached the connection "
                                                    "limit for your account."))
            await ws.close()
