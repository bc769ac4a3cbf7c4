"""The websocket hub: the live pipeline's outputs to any number of subscribers.

Protocol (one JSON object per text message; details and examples in ``docs/live.md``):

- on connect the hub sends a ``hub_status@1`` ``connected`` status listing the channels it
  serves. Until a client sends its first ``subscribe`` or ``unsubscribe`` it receives
  ``microbar@1`` (:data:`DEFAULT_CHANNELS`: clients written before channels existed keep
  working); the first ``subscribe`` replaces that default with the channels asked for;
- ``{"action": "subscribe", "channels": [...]}`` / ``"unsubscribe"`` are answered with a
  ``subscribed`` / ``unsubscribed`` status holding the connection's channel set. A malformed
  request, an unknown action or channel, or an account channel without a token is answered
  with an ``error`` status naming the problem and changes nothing (the connection stays open);
- ``{"action": "auth", "token": "..."}`` unlocks the account channels (:data:`ACCOUNT_CHANNELS`:
  ``fill@1``, ``position@1``, ``reconcile_status@1``, ``broker_order@1``); a client may
  instead send the header ``Authorization: Bearer <token>`` when it connects. The hub knows
  only the token's SHA-256 (:mod:`spxcc_core.host.auth`) and compares in constant time;
  ``max_auth_failures`` wrong tokens close the connection (1008);
- ``{"action": "replay", "channel": "microbar@2", "fromSeq": N}`` re-sends the retained
  envelopes ``N..newest`` of a channel (a client that saw a ``seq`` gap, e.g. after a
  reconnect) — as many as its send queue takes; the reply's ``toSeq`` is the last one re-sent
  (ask again from ``toSeq + 1`` until a reply says there is nothing more). The hub retains the newest ``retain_messages`` envelopes (and at most
  ``retain_bytes`` bytes) per channel; asking for an older ``seq`` is refused with the oldest
  still held. ``auth`` and ``replay`` are answered on the connection's ``hub_reply@1`` channel;
- every output is one envelope ``{type, version, seq, ts, data}``. On a data channel ``seq`` is
  the message's position in the hub's stream of that channel (from 1, the same for every
  subscriber, so a gap is visible and replayable); ``hub_status@1`` and ``hub_reply@1`` count
  per connection from 1. ``ts`` is the epoch millisecond at which the hub published it.

**Admission.** Before the websocket opens: a request whose ``Origin`` header is not in
``allowed_origins`` is refused (HTTP 403; a request without ``Origin``, i.e. not from a browser,
is admitted), beyond ``max_connections`` open connections with HTTP 503, a wrong
``Authorization`` header with HTTP 401. Each refusal is counted by reason (:class:`HubStats`).

**Sending.** Each message is encoded once, whatever the number of subscribers, and queued on
every subscribed connection. At the end of the event-loop step each connection's queue goes
to its socket in one write (text frames the hub builds itself: a server's frames are not
masked, so one encoded message serves every connection); only a connection whose socket is
full, or that compresses, waits in a task of its own. Compression (permessage-deflate) is off
unless ``HubConfig.compression``: it deflates every message once per client.

**Slow consumers.** :meth:`Hub.publish` never waits: each connection's send queue is bounded in
bytes (``queue_bytes``) and in messages (``queue_size``). A connection over either bound is
dropped: its pending messages are discarded, it is sent a ``disconnected`` status saying why
and closed with code 1008 (aborted if it does not take even that within ``close_timeout_s``),
and the drop is counted by reason. The pipeline is never blocked.

**Pages.** A hub given ``pages`` (path → content type and bytes, e.g. the command-center page
of :mod:`spxcc_core.host.page`) answers a plain HTTP ``GET`` of such a path with it (any other
path that is not a websocket upgrade: 404), on the same port as the websocket, with a content
security policy that lets a page load and connect to nothing but this hub (and not be framed);
its own origin (``http://HOST:PORT`` as bound, and ``http://localhost:PORT`` on loopback) is
then allowed, so the page it serves may connect.

**v1 only.** ``v1_only=True`` is the rollback switch of the microbar v2 rollout: ``microbar@2``
is neither served nor encoded; subscribing to it is answered with an error saying so.

Secrets: the hub never sends a token, its hash or anything a client sent as a token; unknown
channel names are echoed only when they look like channel names; frames are never logged (the
websocket library's DEBUG frame log is off for the hub: an ``auth`` frame holds the token).
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import attrs
import msgspec
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from spxcc_core.clock import Clock, SystemClock
from spxcc_core.contracts.base import Contract
from spxcc_core.contracts.broker import BrokerOrder, Fill, Position
from spxcc_core.contracts.envelope import Envelope
from spxcc_core.contracts.microbar import MicrobarV2
from spxcc_core.contracts.setup import GateDecision, SetupInstance
from spxcc_core.errors import ConfigError
from spxcc_core.host.auth import TokenHash
from spxcc_core.host.wire import FeedStatus, HubReply, HubStats, HubStatus, ReconcileStatus
from spxcc_core.massive.live import NoFrameDebug
from spxcc_core.run.views import to_v1

__all__ = ["ACCOUNT_CHANNELS", "CHANNELS", "DEFAULT_CHANNELS", "REPLY_CHANNEL", "STATUS_CHANNEL",
           "Hub", "HubConfig", "parse_hostport", "to_v1"]

log = logging.getLogger("spxcc.host.hub")

#: Output channels any client may subscribe to.
CHANNELS: tuple[str, ...] = ("microbar@1", "microbar@2", "setup@1", "gate_decision@1",
                             "feed_status@1")
#: Channels with account data: only for a connection that presented the token.
ACCOUNT_CHANNELS: tuple[str, ...] = ("fill@1", "position@1", "reconcile_status@1",
                                     "broker_order@1")
#: What a connection receives until its first subscribe / unsubscribe request.
DEFAULT_CHANNELS: tuple[str, ...] = ("microbar@1",)
#: The status channel every connection receives.
STATUS_CHANNEL = "hub_status@1"
#: The channel of the answers to ``auth`` and ``replay`` requests.
REPLY_CHANNEL = "hub_reply@1"

#: Contract class carried by each channel that takes exactly one (microbars: see publish).
_CHANNEL_TYPES: dict[str, type[Contract]] = {
    "setup@1": SetupInstance, "gate_decision@1": GateDecision, "feed_status@1": FeedStatus,
    "fill@1": Fill, "position@1": Position, "reconcile_status@1": ReconcileStatus,
    "broker_order@1": BrokerOrder,
}
#: What a served page may load and connect to: this hub only (``'self'`` covers its websocket).
_PAGE_POLICY = ("default-src 'self'; connect-src 'self'; img-src 'self' data:; "
                "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
_CHANNEL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}@[0-9]{1,3}$")

_payload_encoder = msgspec.json.Encoder()
_envelope_encoder = msgspec.json.Encoder()


class _Subscribe(msgspec.Struct, tag_field="action", tag="subscribe",
                 forbid_unknown_fields=True):
    channels: list[str]


class _Unsubscribe(msgspec.Struct, tag_field="action", tag="unsubscribe",
                   forbid_unknown_fields=True):
    channels: list[str]


class _Auth(msgspec.Struct, tag_field="action", tag="auth", forbid_unknown_fields=True):
    token: str


class _Replay(msgspec.Struct, tag_field="action", tag="replay", forbid_unknown_fields=True,
              rename="camel"):
    channel: str
    from_seq: int


_request_decoder = msgspec.json.Decoder(_Subscribe | _Unsubscribe | _Auth | _Replay)
_REQUEST_SHAPE = ('{"action": "subscribe"|"unsubscribe", "channels": ["microbar@2", ...]}, '
                  '{"action": "auth", "token": "..."} or '
                  '{"action": "replay", "channel": "microbar@2", "fromSeq": 1}')


def parse_hostport(text: str, *, default_host: str = "127.0.0.1",
                   option: str = "--serve") -> tuple[str, int]:
    """``HOST:PORT`` (or ``:PORT`` / ``PORT``; IPv6 as ``[::1]:PORT``) → ``(host, port)``.

    :param option: the option or key that gave ``text``, named in the error.
    :raises ConfigError: no valid port (0–65535; 0 picks a free port).
    """
    host, sep, port_text = text.strip().rpartition(":")
    if not sep:
        host, port_text = "", text.strip()
    host = host.strip("[]") or default_host
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigError(f"{option} {text!r}: expected HOST:PORT") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"{option} {text!r}: port must be 0-65535")
    return host, port


def normalize_origin(origin: str) -> str:
    """``scheme://host[:port]`` in lower case, without a trailing slash (how origins are
    compared).

    :raises ConfigError: not an ``http``/``https`` origin without a path.
    """
    text = origin.strip().rstrip("/").lower()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path \
            or parts.query or parts.fragment or parts.username is not None:
        raise ConfigError(f"allowed origin {origin[:80]!r}: expected scheme://host[:port], "
                          "e.g. http://127.0.0.1:8765")
    return text


def _positive_int(name: str) -> Any:
    def check(_: Any, __: Any, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return check


def _non_negative_int(name: str) -> Any:
    def check(_: Any, __: Any, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{name} must be an integer >= 0, got {value!r}")
    return check


def _origins(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(normalize_origin(v) for v in values))


@attrs.frozen
class HubConfig:
    """Limits and access rules of a hub (module docstring).

    :param queue_size: send-queue bound per connection, in messages (>= 1).
    :param queue_bytes: send-queue bound per connection, in bytes of queued envelopes (>= 1).
    :param max_connections: open connections at most (>= 1); more are refused with HTTP 503.
    :param retain_messages: envelopes retained per channel for ``replay`` (0: no replay).
    :param retain_bytes: bytes retained per channel at most (the oldest go first).
    :param token_hash: the account-channel token's hash (None: account channels are off).
    :param allowed_origins: browser origins admitted (``scheme://host[:port]``); a request
        without ``Origin`` is always admitted.
    :param v1_only: serve ``microbar@1`` only (the rollback switch).
    :param close_timeout_s: seconds a closing connection gets to take its last messages.
    :param max_auth_failures: wrong tokens after which a connection is closed.
    :param compression: offer permessage-deflate (RFC 7692) to clients that ask for it. Off by
        default: a compressed connection deflates every message on its own (the hub cannot
        write one shared frame to all of them) and holds its own zlib state, so it costs CPU
        and memory per client for a few hundred bytes saved per message.
    """

    queue_size: int = attrs.field(default=10_000, validator=_positive_int("queue_size"))
    queue_bytes: int = attrs.field(default=8 * 1024 * 1024,
                                   validator=_positive_int("queue_bytes"))
    max_connections: int = attrs.field(default=1000, validator=_positive_int("max_connections"))
    retain_messages: int = attrs.field(default=10_000,
                                       validator=_non_negative_int("retain_messages"))
    retain_bytes: int = attrs.field(default=16 * 1024 * 1024,
                                    validator=_non_negative_int("retain_bytes"))
    token_hash: TokenHash | None = None
    allowed_origins: tuple[str, ...] = attrs.field(default=(), converter=_origins)
    v1_only: bool = False
    close_timeout_s: float = 2.0
    max_auth_failures: int = attrs.field(default=3, validator=_positive_int("max_auth_failures"))
    compression: bool = False

    @property
    def channels(self) -> tuple[str, ...]:
        """Every channel this configuration serves."""
        served = tuple(c for c in CHANNELS if not (self.v1_only and c == "microbar@2"))
        return (*served, *ACCOUNT_CHANNELS) if self.token_hash is not None else served


@attrs.define(eq=False)
class _Conn:
    """One client connection: its subscriptions and its send queue.

    ``backlog`` holds the envelopes not yet handed to the socket (``queued_bytes`` their
    size). The hub hands a connection's whole backlog to its socket in one write at the end of
    the event-loop step that queued it; ``writer`` exists only while that has to wait (the
    socket's buffer is over its high-water mark, the connection compresses, or it is being
    closed with ``close_code``).
    """

    ws: ServerConnection
    channels: set[str] = attrs.field(factory=lambda: set(DEFAULT_CHANNELS))
    asked: bool = False
    authorized: bool = False
    auth_failures: int = 0
    backlog: deque[bytes] = attrs.field(factory=deque)
    queued_bytes: int = 0
    seq: dict[str, int] = attrs.field(factory=dict)
    dropped: bool = False
    ending: bool = False
    close_code: int | None = None
    close_reason: str = ""
    close_started: bool = False
    pending: bool = False
    writer: asyncio.Task[None] | None = None


@attrs.define(eq=False)
class _Stream:
    """One data channel's position and retained envelopes ``(seq, bytes)``."""

    seq: int = 0
    retained: deque[tuple[int, bytes]] = attrs.field(factory=deque)
    retained_bytes: int = 0


class Hub:
    """A websocket server broadcasting pipeline outputs (module docstring).

    :param host: interface to listen on (default loopback only).
    :param port: TCP port (0: any free port; see :attr:`url`).
    :param config: limits and access rules (default :class:`HubConfig`).
    :param clock: source of the envelope ``ts`` (default the system clock).
    :param queue_size: shortcut overriding ``config.queue_size``.
    :param close_timeout_s: shortcut overriding ``config.close_timeout_s``.
    :param pages: plain HTTP pages served on the hub's port: path (``/``) → (content type,
        bytes); see "Pages" in the module docstring. None: none.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *,
                 config: HubConfig | None = None, clock: Clock | None = None,
                 queue_size: int | None = None, close_timeout_s: float | None = None,
                 pages: Mapping[str, tuple[str, bytes]] | None = None) -> None:
        cfg = config if config is not None else HubConfig()
        if queue_size is not None:
            cfg = attrs.evolve(cfg, queue_size=queue_size)
        if close_timeout_s is not None:
            cfg = attrs.evolve(cfg, close_timeout_s=close_timeout_s)
        self.config = cfg
        self.host = host
        self.port = port
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._served = frozenset(cfg.channels)
        self._server: Server | None = None
        self._url: str | None = None
        self._conns: set[_Conn] = set()
        self._streams: dict[str, _Stream] = {}
        self._connections = 0
        self._peak = 0
        self._sent: dict[str, int] = {}
        self._slow = 0
        self._bad = 0
        self._auth_failures = 0
        self._refused: dict[str, int] = {}
        self._dropped: dict[str, int] = {}
        self._replays = 0
        self._replayed = 0
        self._closed = False
        self._pages: dict[str, tuple[str, bytes]] = dict(pages or {})
        self._pending: list[_Conn] = []
        self._flush_handle: asyncio.Handle | None = None

    @property
    def queue_size(self) -> int:
        """Send-queue bound per connection, in messages."""
        return self.config.queue_size

    @property
    def close_timeout_s(self) -> float:
        """Seconds a closing connection gets to take its last messages."""
        return self.config.close_timeout_s

    def __repr__(self) -> str:
        return f"Hub(url={self.url if self._server else None!r}, connections={len(self._conns)})"

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> Hub:
        """Start listening; returns the hub.

        :raises ConfigError: the address cannot be bound.
        """
        try:
            self._server = await serve(
                self._handle, self.host, self.port, max_size=65_536, process_request=self._admit,
                compression="deflate" if self.config.compression else None,
                logger=NoFrameDebug(logging.getLogger("spxcc.host.hub.ws"), {}))
        except OSError as exc:
            raise ConfigError(f"hub: cannot listen on {self.host}:{self.port} "
                              f"({exc.strerror or exc})") from None
        host, port = next(iter(self._server.sockets)).getsockname()[:2]
        host = f"[{host}]" if ":" in host else host
        self._url = f"ws://{host}:{port}"
        if self._pages:  # the page this hub serves may connect back to it
            own = [f"http://{host}:{port}"]
            if host in ("127.0.0.1", "[::1]"):
                own.append(f"http://localhost:{port}")
            self.config = attrs.evolve(self.config,
                                       allowed_origins=(*self.config.allowed_origins, *own))
        return self

    @property
    def url(self) -> str:
        """``ws://host:port`` the hub listens on (after :meth:`start`)."""
        if self._url is None:
            raise RuntimeError("the hub is not started")
        return self._url

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
                self._close_after_backlog(conn, 1000, "end of session")
            if not conn.close_started and (conn.writer is None or conn.writer.done()):
                conn.writer = asyncio.create_task(self._write_later(conn))
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
        """Publish ``items`` in the given order, each on its channel: a ``MicrobarV2`` on
        ``microbar@2`` and (as its v1 view) ``microbar@1``; ``SetupInstance``,
        ``GateDecision``, ``FeedStatus``, ``Fill``, ``Position``, ``ReconcileStatus`` on their
        own (:meth:`publish_on`). Never waits.

        :returns: the envelopes queued (over all connections).
        :raises TypeError: an item of a type no channel carries.
        """
        queued = 0
        for item in items:
            if isinstance(item, MicrobarV2):
                queued += self._publish("microbar@2", item)
                queued += self._publish("microbar@1", item)
            else:
                queued += self._publish(_channel_of(item), item)
        return queued

    def publish_on(self, channel: str, message: Contract) -> int:
        """Publish one message on ``channel`` (e.g. ``fill@1`` with a ``Fill``). Never waits.

        :returns: the envelopes queued (over all connections).
        :raises ValueError: a channel the hub does not know.
        :raises TypeError: a message of another type than the channel carries.
        """
        if channel in ("microbar@1", "microbar@2"):
            if not isinstance(message, MicrobarV2):
                raise TypeError(f"{channel} carries MicrobarV2, not {type(message).__name__}")
            return self._publish(channel, message)
        expected = _CHANNEL_TYPES.get(channel)
        if expected is None:
            raise ValueError(f"the hub has no channel {channel!r}")
        if not isinstance(message, expected):
            raise TypeError(f"{channel} carries {expected.__name__}, "
                            f"not {type(message).__name__}")
        return self._publish(channel, message)

    def _publish(self, channel: str, item: Contract) -> int:
        if channel not in self._served:
            return 0
        cfg = self.config
        receivers = [c for c in self._conns
                     if channel in c.channels and not c.dropped and not c.ending]
        stream = self._streams.get(channel)
        if stream is None:
            stream = self._streams[channel] = _Stream()
        stream.seq += 1
        if not receivers and cfg.retain_messages == 0:
            return 0
        payload = item if channel != "microbar@1" else to_v1(item)  # type: ignore[arg-type]
        type_, _, version = channel.partition("@")
        message = _envelope_encoder.encode(Envelope(
            type=type_, version=int(version), seq=stream.seq, ts=self.clock.now_ms(),
            data=msgspec.Raw(_payload_encoder.encode(payload))))
        if cfg.retain_messages:
            stream.retained.append((stream.seq, message))
            stream.retained_bytes += len(message)
            while stream.retained and (len(stream.retained) > cfg.retain_messages
                                       or stream.retained_bytes > cfg.retain_bytes):
                stream.retained_bytes -= len(stream.retained.popleft()[1])
        queued = 0
        for conn in receivers:
            queued += self._enqueue_bytes(conn, channel, message)
        return queued

    def _enqueue_bytes(self, conn: _Conn, channel: str, message: bytes, *,
                       force: bool = False) -> int:
        if conn.close_code is not None:
            return 0  # nothing goes after the close
        if not force:
            if len(conn.backlog) >= self.config.queue_size:
                self._drop(conn, "slow_messages",
                           f"{len(conn.backlog)} messages waiting (limit {self.queue_size})")
                return 0
            if conn.queued_bytes + len(message) > self.config.queue_bytes:
                self._drop(conn, "slow_bytes", f"{conn.queued_bytes + len(message):,} bytes "
                           f"waiting (limit {self.config.queue_bytes:,})")
                return 0
        conn.backlog.append(message)
        conn.queued_bytes += len(message)
        self._sent[channel] = self._sent.get(channel, 0) + 1
        if not conn.pending:
            conn.pending = True
            self._pending.append(conn)
            if self._flush_handle is None:
                self._flush_handle = asyncio.get_running_loop().call_soon(self._flush)
        return 1

    def _close_after_backlog(self, conn: _Conn, code: int, reason: str) -> None:
        """Close the connection with ``code`` once what is queued before now is sent."""
        conn.close_code, conn.close_reason = code, reason

    def _enqueue_own(self, conn: _Conn, channel: str, body: Contract, *,
                     force: bool = False) -> None:
        """A per-connection message (status, reply) with the connection's own ``seq``."""
        seq = conn.seq.get(channel, 0) + 1
        conn.seq[channel] = seq
        type_, _, version = channel.partition("@")
        message = _envelope_encoder.encode(Envelope(
            type=type_, version=int(version), seq=seq, ts=self.clock.now_ms(),
            data=msgspec.Raw(_payload_encoder.encode(body))))
        self._enqueue_bytes(conn, channel, message, force=force)

    def _enqueue_status(self, conn: _Conn, status: Any, message: str, *,
                        channels: Iterable[str] | None = None, force: bool = False) -> None:
        body = HubStatus(status=status, message=message,
                         channels=sorted(conn.channels if channels is None else channels))
        self._enqueue_own(conn, STATUS_CHANNEL, body, force=force)

    def _drop(self, conn: _Conn, reason: str, detail: str) -> None:
        """Disconnect a connection: discard its backlog, tell it why, close it (1008)."""
        if conn.dropped:
            return
        conn.dropped = True
        self._dropped[reason] = self._dropped.get(reason, 0) + 1
        if reason.startswith("slow"):
            self._slow += 1
        conn.backlog.clear()
        conn.queued_bytes = 0
        why = ("slow consumer: " + detail + "; reconnect, read faster and replay what you "
               "missed" if reason.startswith("slow") else detail)
        self._enqueue_status(conn, "disconnected", why, force=True)
        self._close_after_backlog(conn, 1008, "dropped")
        log.warning("hub: dropped a subscriber (%s: %s)", reason, detail)
        asyncio.get_running_loop().call_later(self.close_timeout_s, _abort_if_open, conn.ws)

    # ------------------------------------------------------------------ connections

    def _admit(self, ws: ServerConnection, request: Request) -> Response | None:
        """Refuse a handshake before the websocket opens (module docstring, admission); answer
        a plain HTTP request with a page (module docstring, pages)."""
        if self._pages and "websocket" not in request.headers.get("Upgrade", "").lower():
            return self._page(request.path)
        origin = request.headers.get("Origin")
        if origin is not None:
            try:
                normal = normalize_origin(origin)
                allowed = normal in self.config.allowed_origins or (
                    # the page this hub served, bound to every interface and so reached at
                    # the machine's name or address: the browser's Origin is the Host it
                    # connected to (account channels still need the token)
                    bool(self._pages) and self.host in _WILDCARD_HOSTS
                    and normal == _own_origin(request.headers.get("Host")))
            except ConfigError:
                allowed = False
            if not allowed:
                return self._refuse(ws, "origin", http.HTTPStatus.FORBIDDEN,
                                    "origin not allowed\n")
        if len(self._conns) >= self.config.max_connections:
            return self._refuse(ws, "connections", http.HTTPStatus.SERVICE_UNAVAILABLE,
                                f"too many connections (limit {self.config.max_connections})\n")
        bearer = _bearer(request.headers.get("Authorization"))
        if bearer is not None and not self._token_ok(bearer):
            return self._refuse(ws, "token", http.HTTPStatus.UNAUTHORIZED, "wrong token\n")
        return None

    def _page(self, path: str) -> Response:
        page = self._pages.get(path.split("?", 1)[0])
        if page is None:
            body, status, ctype = b"not found\n", http.HTTPStatus.NOT_FOUND, "text/plain"
        else:
            (ctype, body), status = page, http.HTTPStatus.OK
        headers = Headers([("Content-Type", ctype), ("Content-Length", str(len(body))),
                           ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"),
                           ("Content-Security-Policy", _PAGE_POLICY), ("X-Frame-Options", "DENY"),
                           ("Connection", "close")])
        return Response(status.value, status.phrase, headers, body)

    def _refuse(self, ws: ServerConnection, reason: str, status: http.HTTPStatus,
                text: str) -> Response:
        self._refused[reason] = self._refused.get(reason, 0) + 1
        log.warning("hub: refused a connection (%s)", reason)
        return ws.respond(status, text)

    def _token_ok(self, token: str) -> bool:
        return self.config.token_hash is not None and self.config.token_hash.matches(token)

    async def _handle(self, ws: ServerConnection) -> None:
        conn = _Conn(ws=ws)
        if self._closed:
            await ws.close(1001, "the live session ended")
            return
        if ws.request is not None and _bearer(ws.request.headers.get("Authorization")):
            conn.authorized = True  # checked by _admit: a wrong one never gets here
        self._conns.add(conn)
        self._connections += 1
        self._peak = max(self._peak, len(self._conns))
        self._enqueue_status(conn, "connected", "until you subscribe you receive microbar@1; "
                             "send {\"action\": \"subscribe\", \"channels\": [...]}",
                             channels=self.config.channels, force=True)
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
            self._enqueue_status(conn, "error", f"bad request ({_no_values(exc)}); expected "
                                 f"{_REQUEST_SHAPE}")
            return
        if isinstance(req, _Auth):
            self._auth(conn, req.token)
        elif isinstance(req, _Replay):
            self._replay(conn, req.channel, req.from_seq)
        else:
            self._subscription(conn, req)

    def _channel_problem(self, conn: _Conn, channels: Sequence[str]) -> str | None:
        if not channels:
            return "no channel given"
        unknown = [c for c in channels if c not in CHANNELS and c not in ACCOUNT_CHANNELS]
        if unknown:
            return (f"unknown channel{'s' if len(unknown) > 1 else ''} "
                    f"{', '.join(_shown(c) for c in unknown[:5])}")
        if self.config.v1_only and "microbar@2" in channels:
            return "microbar@2 is switched off: this hub serves microbar@1 only (v1-only switch)"
        locked = [c for c in channels if c in ACCOUNT_CHANNELS]
        if locked and self.config.token_hash is None:
            return (f"{', '.join(locked)}: account channels are off (this hub has no token "
                    "configured)")
        if locked and not conn.authorized:
            return (f"{', '.join(locked)}: account channels need a token; send "
                    '{"action": "auth", "token": "..."} first')
        return None

    def _subscription(self, conn: _Conn, req: _Subscribe | _Unsubscribe) -> None:
        problem = self._channel_problem(conn, req.channels)
        if problem is not None:
            self._bad += 1
            self._enqueue_status(conn, "error", f"{problem}; channels: "
                                 f"{', '.join(self.config.channels)}")
            return
        if isinstance(req, _Subscribe):
            if not conn.asked:
                conn.channels.clear()  # the first request replaces the default
            conn.channels.update(req.channels)
            status, text = "subscribed", f"subscribed to {', '.join(req.channels)}"
        else:
            conn.channels.difference_update(req.channels)
            status, text = "unsubscribed", f"unsubscribed from {', '.join(req.channels)}"
        conn.asked = True
        self._enqueue_status(conn, status, text)

    def _auth(self, conn: _Conn, token: str) -> None:
        if self.config.token_hash is None:
            self._enqueue_own(conn, REPLY_CHANNEL, HubReply(
                request="auth", ok=False, message="this hub has no token configured: "
                                                  "account channels are off"), force=True)
            return
        if self._token_ok(token):
            conn.authorized = True
            self._enqueue_own(conn, REPLY_CHANNEL, HubReply(
                request="auth", ok=True,
                message=f"authenticated: {', '.join(ACCOUNT_CHANNELS)} may be subscribed"),
                force=True)
            return
        self._auth_failures += 1
        conn.auth_failures += 1
        left = self.config.max_auth_failures - conn.auth_failures
        self._enqueue_own(conn, REPLY_CHANNEL, HubReply(
            request="auth", ok=False,
            message=f"wrong token ({max(left, 0)} attempt{'s' if left != 1 else ''} left)"),
            force=True)
        if left <= 0:
            self._drop(conn, "auth_failures", f"{conn.auth_failures} wrong tokens")

    def _replay(self, conn: _Conn, channel: str, from_seq: int) -> None:
        problem = (f"{channel} is per connection and cannot be replayed"
                   if channel in (STATUS_CHANNEL, REPLY_CHANNEL)
                   else self._channel_problem(conn, [channel]))
        stream = self._streams.get(channel, _Stream())
        oldest = stream.retained[0][0] if stream.retained else None

        def reply(ok: bool, message: str, to_seq: int | None = None) -> None:
            self._enqueue_own(conn, REPLY_CHANNEL, HubReply(
                request="replay", ok=ok, message=message, channel=channel if problem is None
                else None, from_seq=from_seq, to_seq=to_seq, oldest_seq=oldest), force=True)

        if problem is not None:
            self._bad += 1
            reply(False, problem)
            return
        newest = stream.seq
        if from_seq < 1 or from_seq > newest + 1:
            reply(False, f"fromSeq {from_seq} is outside 1..{newest + 1} (the newest {channel} "
                         f"is seq {newest})")
            return
        if from_seq == newest + 1:
            reply(True, f"nothing to replay: seq {newest} is the newest {channel}")
            return
        if oldest is None or from_seq < oldest:
            kept = (f"the oldest retained is seq {oldest}" if oldest is not None
                    else "none is retained")
            reply(False, f"seq {from_seq} of {channel} is no longer retained ({kept}; the hub "
                         f"keeps the newest {self.config.retain_messages:,} messages and at most "
                         f"{self.config.retain_bytes:,} bytes per channel)")
            return
        budget = self.config.queue_bytes - conn.queued_bytes
        room = self.config.queue_size - len(conn.backlog) - 1  # one slot for the reply
        sent: list[tuple[int, bytes]] = []
        for seq, m in stream.retained:
            if seq < from_seq:
                continue
            if len(sent) >= room or len(m) > budget:
                break
            sent.append((seq, m))
            budget -= len(m)
        if not sent:
            reply(False, f"no room to replay: your send queue is full ({conn.queued_bytes:,} "
                         "bytes waiting); read what is queued, then ask again")
            return
        for _, m in sent:
            self._enqueue_bytes(conn, channel, m)
        self._replays += 1
        self._replayed += len(sent)
        last = sent[-1][0]
        more = (f"; more: ask again from {last + 1}" if last < newest else "")
        reply(True, f"replayed seq {from_seq}..{last} of {channel}{more}", last)

    # ------------------------------------------------------------------ sending

    def _flush(self) -> None:
        """Hand every connection that has something queued its backlog, one socket write per
        connection (event-loop callback, once per step that queued anything)."""
        self._flush_handle = None
        pending, self._pending = self._pending, []
        for conn in pending:
            conn.pending = False
            if conn.close_started or (conn.writer is not None and not conn.writer.done()):
                continue  # closed, or its writer waits for the socket and takes the backlog
            if conn.close_code is not None or not _write_backlog(conn):
                conn.writer = asyncio.create_task(self._write_later(conn))

    async def _write_later(self, conn: _Conn) -> None:
        """Send the backlog as the socket takes it, then close if a close was asked for."""
        ws = conn.ws
        try:
            while True:
                await ws.drain()  # until the socket's buffer is under its low-water mark
                if conn.backlog:
                    if not _write_backlog(conn):  # a compressed connection: one by one
                        message = conn.backlog.popleft()
                        conn.queued_bytes -= len(message)
                        await ws.send(message, text=True)
                    continue
                if conn.close_code is not None:
                    conn.close_started = True
                    await ws.close(conn.close_code, conn.close_reason)
                return
        except (ConnectionClosed, OSError):  # the connection is gone: nothing to send
            return

    def stats(self) -> HubStats:
        """Counts so far (see :class:`HubStats`)."""
        return HubStats(url=self._url or "",
                        connections=self._connections, peak_connections=self._peak,
                        sent=dict(sorted(self._sent.items())), slow_disconnects=self._slow,
                        bad_requests=self._bad, refused=dict(sorted(self._refused.items())),
                        dropped=dict(sorted(self._dropped.items())),
                        auth_failures=self._auth_failures, replays=self._replays,
                        replayed=self._replayed)


def _channel_of(item: object) -> str:
    for channel, cls in _CHANNEL_TYPES.items():
        if isinstance(item, cls):
            return channel
    raise TypeError(f"the hub carries no {type(item).__name__}")


def _bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header; ``""`` for an empty Bearer;
    None without the header or with another scheme (``Basic`` from a reverse proxy in front
    of the hub is not ours to judge)."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


#: Bind addresses meaning "every interface".
_WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})


def _own_origin(host: str | None) -> str | None:
    """``http://HOST`` of a request's ``Host`` header (None without one)."""
    if not host or any(c in host for c in "/\\ @"):
        return None
    try:
        return normalize_origin(f"http://{host.strip()}")
    except ConfigError:
        return None


def _shown(channel: str) -> str:
    """A client's channel name as echoed back: only when it looks like one (a client that put
    a token there does not get it written back)."""
    return repr(channel) if _CHANNEL_NAME.match(channel) else "(not a channel name)"


def _no_values(exc: msgspec.DecodeError) -> str:
    """msgspec's message without any value the client sent (it names fields and paths)."""
    text = str(exc)
    return re.sub(r"Invalid value '.*?'", "Invalid value", text)[:200]


def _text_frame_header(length: int) -> bytes:
    """The header of a final, unmasked text frame of ``length`` payload bytes (RFC 6455 §5.2;
    a server never masks)."""
    if length < 126:
        return bytes((0x81, length))
    if length < 1 << 16:
        return b"\x81\x7e" + length.to_bytes(2, "big")
    return b"\x81\x7f" + length.to_bytes(8, "big")


def _write_backlog(conn: _Conn) -> bool:
    """Write the connection's whole backlog to its socket as text frames in one write,
    without waiting. False (nothing written) when that has to wait: the socket's buffer is over
    its high-water mark, or the connection compresses (the websockets library frames each
    message). A connection that is no longer open cannot be sent anything: its backlog is
    discarded."""
    ws = conn.ws
    if ws.protocol.state is not State.OPEN or ws.transport.is_closing():
        conn.backlog.clear()
        conn.queued_bytes = 0
        return True
    # ``paused`` / ``drain()``: the websockets asyncio connection's write flow control (the
    # transport's pause_writing / resume_writing), there since websockets 13.0.
    if ws.paused or ws.protocol.extensions:
        return False
    parts: list[bytes] = []
    for message in conn.backlog:
        parts.append(_text_frame_header(len(message)))
        parts.append(message)
    conn.backlog.clear()
    conn.queued_bytes = 0
    ws.transport.write(b"".join(parts))
    return True


def _abort_if_open(ws: ServerConnection) -> None:
    if ws.state.name != "CLOSED":
        ws.transport.abort()
