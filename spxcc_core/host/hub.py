"""The websocket hub: the live pipeline's outputs to any number of subscribers.

Protocol (one JSON object per text message):

- on connect the hub sends a ``hub_status@1`` ``connected`` status listing its channels;
- a client sends ``{"action": "subscribe", "channels": ["microbar@2", ...]}`` (or
  ``"unsubscribe"``); the hub answers ``subscribed`` / ``unsubscribed`` with the connection's
  channel set. A malformed request, an unknown action or an unknown channel is answered with an
  ``error`` status naming the problem and changes nothing (the connection stays open);
- every output is one envelope ``{type, version, seq, ts, data}``: ``seq`` counts from 1 per
  channel per connection (status messages have their own channel ``hub_status@1``), ``ts`` is
  the epoch millisecond at which the hub queued it, ``data`` the contract payload.

Channels (:data:`CHANNELS`): ``microbar@2`` (every field), ``microbar@1`` (the v1 view: a
``MicrobarV1`` Struct holding only the v1 fields), ``setup@1`` (every setup state change),
``gate_decision@1`` (every gate decision), plus ``hub_status@1`` which every connection gets.

Each output's payload is encoded once per (type, version) per message, only for channels that
have a subscriber; each connection then gets its own envelope around those bytes.

**Slow consumers.** :meth:`Hub.publish` never waits: each connection has a bounded send queue
(``queue_size`` messages). A connection whose queue is full is dropped: its pending messages are
discarded, it is sent a ``disconnected`` status saying why and closed with code 1008 (aborted
if it does not take even that within ``close_timeout_s``). The pipeline is never blocked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any, Literal

import attrs
import msgspec
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from spxcc_core.clock import Clock, SystemClock
from spxcc_core.contracts.base import Contract
from spxcc_core.contracts.envelope import Envelope
from spxcc_core.contracts.microbar import MicrobarV2
from spxcc_core.contracts.setup import GateDecision, SetupInstance
from spxcc_core.errors import ConfigError
from spxcc_core.host.wire import HubStats, HubStatus
from spxcc_core.run.views import to_v1

__all__ = ["CHANNELS", "STATUS_CHANNEL", "Hub", "parse_hostport", "to_v1"]

log = logging.getLogger("spxcc.host.hub")

#: Output channels a client may subscribe to.
CHANNELS: tuple[str, ...] = ("microbar@1", "microbar@2", "setup@1", "gate_decision@1")
#: The status channel every connection receives.
STATUS_CHANNEL = "hub_status@1"

_payload_encoder = msgspec.json.Encoder()
_envelope_encoder = msgspec.json.Encoder()


class _Request(msgspec.Struct, forbid_unknown_fields=True):
    action: Literal["subscribe", "unsubscribe"]
    channels: list[str]


_request_decoder = msgspec.json.Decoder(_Request)
_REQUEST_SHAPE = '{"action": "subscribe"|"unsubscribe", "channels": ["microbar@2", ...]}'


def parse_hostport(text: str, *, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """``HOST:PORT`` (or ``:PORT`` / ``PORT``; IPv6 as ``[::1]:PORT``) → ``(host, port)``.

    :raises ConfigError: no valid port (0–65535; 0 picks a free port).
    """
    host, sep, port_text = text.strip().rpartition(":")
    if not sep:
        host, port_text = "", text.strip()
    host = host.strip("[]") or default_host
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigError(f"--serve {text!r}: expected HOST:PORT") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"--serve {text!r}: port must be 0-65535")
    return host, port


@attrs.define(eq=False)
class _Conn:
    ws: ServerConnection
    queue: asyncio.Queue[bytes | None]
    channels: set[str] = attrs.field(factory=set)
    seq: dict[str, int] = attrs.field(factory=dict)
    dropped: bool = False
    ending: bool = False
    writer: asyncio.Task[None] | None = None


class Hub:
    """A websocket server broadcasting pipeline outputs (module docstring).

    :param host: interface to listen on (default loopback only).
    :param port: TCP port (0: any free port; see :attr:`url`).
    :param queue_size: send-queue bound per connection, in messages (>= 1).
    :param clock: source of the envelope ``ts`` (default the system clock).
    :param close_timeout_s: seconds a closing connection gets to take its last messages.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, queue_size: int = 10_000,
                 clock: Clock | None = None, close_timeout_s: float = 2.0) -> None:
        if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
            raise ConfigError(f"queue_size must be a positive integer, got {queue_size!r}")
        self.host = host
        self.port = port
        self.queue_size = queue_size
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.close_timeout_s = close_timeout_s
        self._server: Server | None = None
        self._conns: set[_Conn] = set()
        self._connections = 0
        self._peak = 0
        self._sent: dict[str, int] = {}
        self._slow = 0
        self._bad = 0
        self._closed = False

    def __repr__(self) -> str:
        return f"Hub(url={self.url if self._server else None!r}, connections={len(self._conns)})"

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> Hub:
        """Start listening; returns the hub.

        :raises ConfigError: the address cannot be bound.
        """
        try:
            self._server = await serve(self._handle, self.host, self.port, max_size=65_536,
                                       logger=logging.getLogger("spxcc.host.hub.ws"))
        except OSError as exc:
            raise ConfigError(f"hub: cannot listen on {self.host}:{self.port} "
                              f"({exc.strerror or exc})") from None
        return self

    @property
    def url(self) -> str:
        """``ws://host:port`` the hub listens on (after :meth:`start`)."""
        if self._server is None:
            raise RuntimeError("the hub is not started")
        host, port = next(iter(self._server.sockets)).getsockname()[:2]
        host = f"[{host}]" if ":" in host else host
        return f"ws://{host}:{port}"

    @property
    def subscribers(self) -> int:
        """Open connections."""
        return len(self._conns)

    async def close(self, message: str = "the live session ended") -> None:
        """Send every connection its pending messages and an ``end`` status, then close them
        (waiting at most ``close_timeout_s``) and stop listening. Idempotent."""
        if self._closed:
            return
        self._closed = True
        writers = []
        for conn in list(self._conns):
            if not conn.dropped:
                conn.ending = True
                self._enqueue_status(conn, "end", message, force=True)
                conn.queue.put_nowait(None)
            if conn.writer is not None:
                writers.append(conn.writer)
        if writers:
            _, pending = await asyncio.wait(writers, timeout=self.close_timeout_s)
            for conn in list(self._conns):
                if conn.writer in pending:
                    conn.ws.transport.abort()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def __aenter__(self) -> Hub:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ publishing

    def publish(self, items: Iterable[Contract]) -> int:
        """Queue ``items`` (``MicrobarV2``, ``SetupInstance``, ``GateDecision``) for every
        subscriber of their channels, in the given order. Never waits.

        :returns: the envelopes queued.
        :raises TypeError: an item of a type no channel carries.
        """
        if not self._conns:
            for item in items:
                _check_type(item)
            return 0
        ts = self.clock.now_ms()
        queued = 0
        for item in items:
            for channel, payload in self._payloads(item):
                for conn in list(self._conns):
                    if channel in conn.channels and not conn.dropped and not conn.ending:
                        queued += self._enqueue(conn, channel, payload, ts)
        return queued

    def _payloads(self, item: Contract) -> list[tuple[str, bytes]]:
        wanted = {c for conn in self._conns for c in conn.channels}
        if isinstance(item, MicrobarV2):
            out = []
            if "microbar@2" in wanted:
                out.append(("microbar@2", _payload_encoder.encode(item)))
            if "microbar@1" in wanted:
                out.append(("microbar@1", _payload_encoder.encode(to_v1(item))))
            return out
        channel = _check_type(item)
        return [(channel, _payload_encoder.encode(item))] if channel in wanted else []

    def _enqueue(self, conn: _Conn, channel: str, payload: bytes, ts: int, *,
                 force: bool = False) -> int:
        if not force and conn.queue.qsize() >= self.queue_size:
            self._drop(conn)
            return 0
        seq = conn.seq.get(channel, 0) + 1
        conn.seq[channel] = seq
        type_, _, version = channel.partition("@")
        message = _envelope_encoder.encode(Envelope(type=type_, version=int(version), seq=seq,
                                                    ts=ts, data=msgspec.Raw(payload)))
        conn.queue.put_nowait(message)
        self._sent[channel] = self._sent.get(channel, 0) + 1
        return 1

    def _enqueue_status(self, conn: _Conn, status: Any, message: str, *,
                        channels: Iterable[str] | None = None, force: bool = False) -> None:
        body = HubStatus(status=status, message=message,
                         channels=sorted(conn.channels if channels is None else channels))
        self._enqueue(conn, STATUS_CHANNEL, _payload_encoder.encode(body), self.clock.now_ms(),
                      force=force)

    def _drop(self, conn: _Conn) -> None:
        """Disconnect a slow consumer: discard its backlog, tell it why, close it."""
        if conn.dropped:
            return
        conn.dropped = True
        self._slow += 1
        while not conn.queue.empty():
            conn.queue.get_nowait()
        self._enqueue_status(conn, "disconnected",
                             f"slow consumer: {self.queue_size} messages waiting; "
                             "reconnect and read faster", force=True)
        conn.queue.put_nowait(None)
        log.warning("hub: dropped a slow subscriber (%d messages waiting)", self.queue_size)
        asyncio.get_running_loop().call_later(self.close_timeout_s, _abort_if_open, conn.ws)

    # ------------------------------------------------------------------ connections

    async def _handle(self, ws: ServerConnection) -> None:
        conn = _Conn(ws=ws, queue=asyncio.Queue())
        if self._closed:
            await ws.close(1001, "the live session ended")
            return
        self._conns.add(conn)
        self._connections += 1
        self._peak = max(self._peak, len(self._conns))
        conn.writer = asyncio.create_task(self._write(conn))
        self._enqueue_status(conn, "connected", "send {\"action\": \"subscribe\", "
                             "\"channels\": [...]}", channels=CHANNELS, force=True)
        try:
            async for message in ws:
                if conn.dropped or conn.ending:
                    continue
                self._request(conn, message)
        except ConnectionClosed:
            pass
        finally:
            self._conns.discard(conn)
            if conn.writer is not None and not conn.writer.done():
                conn.writer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await conn.writer

    def _request(self, conn: _Conn, message: str | bytes) -> None:
        try:
            req = _request_decoder.decode(message)
        except msgspec.DecodeError as exc:
            self._bad += 1
            self._enqueue_status(conn, "error", f"bad request ({exc}); expected "
                                 f"{_REQUEST_SHAPE}")
            return
        unknown = [c for c in req.channels if c not in CHANNELS]
        if unknown or not req.channels:
            self._bad += 1
            what = (f"unknown channel{'s' if len(unknown) > 1 else ''} "
                    f"{', '.join(repr(c[:40]) for c in unknown[:5])}" if unknown
                    else "no channel given")
            self._enqueue_status(conn, "error", f"{what}; channels: {', '.join(CHANNELS)}")
            return
        if req.action == "subscribe":
            conn.channels.update(req.channels)
            self._enqueue_status(conn, "subscribed", f"subscribed to {', '.join(req.channels)}")
        else:
            conn.channels.difference_update(req.channels)
            self._enqueue_status(conn, "unsubscribed",
                                 f"unsubscribed from {', '.join(req.channels)}")

    async def _write(self, conn: _Conn) -> None:
        ws = conn.ws
        try:
            while True:
                message = await conn.queue.get()
                if message is None:
                    await ws.close(1008 if conn.dropped else 1000,
                                   "slow consumer" if conn.dropped else "end of session")
                    return
                await ws.send(message, text=True)
        except ConnectionClosed:
            return

    def stats(self) -> HubStats:
        """Counts so far (see :class:`HubStats`)."""
        return HubStats(url=self.url if self._server is not None else "",
                        connections=self._connections, peak_connections=self._peak,
                        sent=dict(sorted(self._sent.items())), slow_disconnects=self._slow,
                        bad_requests=self._bad)


def _check_type(item: object) -> str:
    if isinstance(item, MicrobarV2):
        return "microbar@2"
    if isinstance(item, SetupInstance):
        return "setup@1"
    if isinstance(item, GateDecision):
        return "gate_decision@1"
    raise TypeError(f"the hub carries no {type(item).__name__}")


def _abort_if_open(ws: ServerConnection) -> None:
    if ws.state.name != "CLOSED":
        ws.transport.abort()
