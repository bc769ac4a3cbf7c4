"""Live Massive websocket client: handshake, subscription, decoded frames, reconnect with backoff.

Handshake (``reference/massive.md`` §1.2): the server greets with status ``connected``; the client
sends ``{"action":"auth","params":KEY}``; the server answers ``auth_success`` (or
``auth_failed``); only then the client sends ``{"action":"subscribe","params":"T.SPY,Q.SPY"}``.

Contract:

- :meth:`LiveClient.frames` yields one :class:`~spxcc_core.massive.websocket.WsFrame` per data
  message after the handshake, decoded exactly like a recording (``line`` = 1-based message index
  over every event received on this client, handshake statuses included, across reconnects), so
  a recording of the same messages replays to the same columns.
- ``auth_failed`` raises :class:`MassiveAuthError`; ``max_connections`` (Massive closed this
  connection because another one opened with the key) raises :class:`MassiveMaxConnectionsError`;
  neither is retried. Any other drop (network error, close, ``force_disconnect``, handshake
  timeout, a **stall**: no message for ``stall_timeout_s`` seconds on an open connection)
  reconnects after a jittered exponential backoff and re-subscribes; after
  ``Backoff.max_attempts`` consecutive failures :class:`MassiveConnectionError` is raised.
  ``on_link`` hears of every handshake (``connected``) and every drop of a connection that had
  one (``disconnected``, with the reason): the host turns them into feed gaps.
  The backoff is waited through the injected ``sleep`` (default ``asyncio.sleep``: an event
  loop wait, cancellable and not blocking; tests pass a recorder that returns at once).
- The API key is never in a message, log line, exception or ``repr`` (server texts are scrubbed
  of it too). It travels only in the auth message.
- A malformed message (not JSON, not an array of events, a known event with wrong fields) is
  **quarantined**: ``on_quarantine(message, reason)`` gets it with the reason, it is counted
  in ``quarantined``, it adds no event to the message indexes and is not passed to
  ``on_message`` (so a recording holds only what a replay can read); the feed goes on. Without
  ``on_quarantine`` it raises :class:`~spxcc_core.errors.InputError` naming the URL and the
  message index (the feed stops: nothing is dropped silently).
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import attrs
import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidURI,
    WebSocketException,
)

from spxcc_core.aggregate.columns import ConditionTable, QuoteColumns, SymbolTable, TradeColumns
from spxcc_core.errors import ConfigError, InputError, SpxccError
from spxcc_core.massive.columns import IndexColumns
from spxcc_core.massive.websocket import FrameDecoder, WsFrame, WsStats
from spxcc_core.secrets.redact import Redactor

__all__ = [
    "ApiKey",
    "Backoff",
    "LiveClient",
    "MassiveAuthError",
    "MassiveConnectionError",
    "MassiveMaxConnectionsError",
    "NoFrameDebug",
    "massive_url",
    "public_url",
]

log = logging.getLogger("spxcc.massive.live")

_encoder = msgspec.json.Encoder()
#: Statuses of a healthy connection (the official client treats these as normal).
NORMAL_STATUSES = frozenset({"connected", "auth_success", "success"})


class MassiveAuthError(SpxccError):
    """The server answered ``auth_failed``: the key is wrong or not entitled. Not retried."""


class MassiveMaxConnectionsError(SpxccError):
    """The server reported ``max_connections`` (another connection uses the key). Not retried."""


class MassiveConnectionError(SpxccError):
    """The feed could not be (re)established within the backoff's attempt limit."""


class ApiKey:
    """An API key that never shows itself: ``repr``/``str`` print ``ApiKey(***)``."""

    __slots__ = ("_redactor", "_value")

    def __init__(self, value: str) -> None:
        if not value or not value.strip():
            raise ConfigError("the Massive API key is empty")
        self._value = value
        self._redactor = Redactor([value], fragment=None)

    def reveal(self) -> str:
        """The key itself, for the auth message only."""
        return self._value

    def scrub(self, text: str) -> str:
        """``text`` with every occurrence of the key replaced by ``***``: verbatim, base64,
        URL-encoded or hex (:class:`~spxcc_core.secrets.Redactor`)."""
        return self._redactor.scrub(text)

    def scrub_bytes(self, data: bytes) -> bytes:
        """:meth:`scrub` for a raw message."""
        return self._redactor.scrub_bytes(data)

    def __repr__(self) -> str:
        return "ApiKey(***)"

    __str__ = __repr__

    def __reduce__(self) -> Any:  # never pickle the key into another process by accident
        raise TypeError("ApiKey cannot be pickled")


@attrs.frozen
class Backoff:
    """Reconnect delays: ``initial_s × factor^(attempt−1)``, capped at ``max_s`` seconds, then
    shortened by a random fraction of at most ``jitter`` (0–1), so many clients dropped at
    once (a Massive restart) do not all come back in the same instant.

    ``max_attempts`` consecutive failed attempts (None = retry forever) raise
    :class:`MassiveConnectionError`; a successful handshake resets the count.
    """

    initial_s: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    factor: float = attrs.field(default=2.0, validator=attrs.validators.ge(1))
    max_s: float = attrs.field(default=30.0, validator=attrs.validators.ge(0))
    max_attempts: int | None = None
    jitter: float = attrs.field(default=0.2, validator=[attrs.validators.ge(0),
                                                        attrs.validators.le(1)])

    def delay(self, attempt: int, u: float = 0.0) -> float:
        """Seconds to wait before reconnect attempt ``attempt`` (1-based): the capped
        exponential delay × (1 − ``jitter`` × ``u``), ``u`` a uniform draw in [0, 1)."""
        base = min(self.max_s, self.initial_s * self.factor ** max(0, attempt - 1))
        return float(base * (1.0 - self.jitter * u))


def massive_url(cluster: str = "stocks", *, delayed: bool = False) -> str:
    """The websocket URL of a Massive cluster (``stocks``, ``options``, ``indices``, ...)."""
    host = "delayed.massive.com" if delayed else "socket.massive.com"
    return f"wss://{host}/{cluster}"


def public_url(url: str) -> str:
    """The URL without user info, query or fragment (safe to print, log or write)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class NoFrameDebug(logging.LoggerAdapter):  # type: ignore[type-arg]
    """websockets logs every frame at DEBUG — the auth frame included. This logger keeps its
    INFO and above and reports DEBUG as disabled, so frames are never formatted or logged
    (used by the Massive client and by the hub)."""

    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


#: A quarantined message's stand-in: no event.
_EMPTY = WsFrame(trades=TradeColumns.empty(), quotes=QuoteColumns.empty(),
                 values=IndexColumns.empty(), events=0)
#: The decoder names the message by its first event's index; a quarantined one has none.
_MESSAGE_PREFIX = re.compile(r"^message \d+: ")


class _Drop(Exception):
    """The connection must be re-established (internal)."""


class LiveClient:
    """An asyncio Massive websocket client yielding decoded frames.

    :param url: the cluster URL, e.g. :func:`massive_url` ``("stocks")``.
    :param api_key: the key (a ``str`` is wrapped in :class:`ApiKey`).
    :param subscriptions: channel params such as ``"T.SPY"``, ``"Q.SPY"``, ``"V.I:SPX"``.
    :param ticker: keep only this ticker's events in the yielded columns (None: all).
    :param symbols: shared symbol table; :param conditions: shared condition table.
    :param backoff: reconnect policy.
    :param handshake_timeout_s: seconds allowed for each handshake step.
    :param on_message: called with every raw message received (handshake included), in order —
        e.g. to write a recording that :func:`iter_ws_frames` replays identically.
    :param connect_kwargs: extra keyword arguments for ``websockets.asyncio.client.connect``.
    :param sleep: waits the reconnect backoff, in seconds (default ``asyncio.sleep``).
    :param stall_timeout_s: an open connection that receives no message for this many seconds
        is dropped and re-established (None: never).
    :param on_link: called with ``("connected", None, attempts)`` after every handshake
        (``attempts``: connection attempts it took, 1 when the first succeeded) and
        ``("disconnected", reason, 0)`` when a connection that had one ends other than by
        :meth:`close`.
    :param on_quarantine: called with a malformed message (key scrubbed) and the reason; None:
        a malformed message raises (module docstring).
    :param rng: draws the backoff jitter (default an unseeded ``random.Random``).
    """

    def __init__(self, *, url: str, api_key: str | ApiKey, subscriptions: Sequence[str],
                 ticker: str | None, symbols: SymbolTable, conditions: ConditionTable,
                 backoff: Backoff | None = None, handshake_timeout_s: float = 10.0,
                 on_message: Callable[[bytes], None] | None = None,
                 connect_kwargs: dict[str, Any] | None = None,
                 sleep: Callable[[float], Awaitable[None]] | None = None,
                 stall_timeout_s: float | None = None,
                 on_link: Callable[[str, str | None, int], None] | None = None,
                 on_quarantine: Callable[[bytes, str], None] | None = None,
                 rng: random.Random | None = None) -> None:
        if not subscriptions or any(not s.strip() or "," in s for s in subscriptions):
            raise ConfigError("subscriptions must be non-empty channel params like 'T.SPY'")
        self.url = url
        self._key = api_key if isinstance(api_key, ApiKey) else ApiKey(api_key)
        self.subscriptions = tuple(subscriptions)
        self.backoff = backoff or Backoff()
        self.handshake_timeout_s = handshake_timeout_s
        self.on_message = on_message
        self._sleep = sleep if sleep is not None else asyncio.sleep
        if stall_timeout_s is not None and not stall_timeout_s > 0:
            raise ConfigError(f"stall_timeout_s must be a positive number of seconds or None, "
                              f"got {stall_timeout_s!r}")
        self.stall_timeout_s = stall_timeout_s
        self.on_link = on_link
        self.on_quarantine = on_quarantine
        self._rng = rng if rng is not None else random.Random()
        self._connect_kwargs = dict(connect_kwargs or {})
        self._connect_kwargs.setdefault(
            "logger", NoFrameDebug(logging.getLogger("websockets.client"), {}))
        self._source = public_url(url)
        self._decoder = FrameDecoder(ticker=ticker, symbols=symbols, conditions=conditions,
                                     source=self._source)
        self.stats = WsStats()
        #: Successful handshakes so far (1 after the first connection).
        self.connections = 0
        #: ``(status, message)`` of abnormal statuses seen, key scrubbed.
        self.problems: list[tuple[str, str]] = []
        #: Why the latest connection attempt failed or ended (key scrubbed); None before any.
        self.last_failure: str | None = None
        #: Malformed messages quarantined so far.
        self.quarantined = 0
        self._next_line = 1
        self._ws: ClientConnection | None = None
        self._closing = False

    def __repr__(self) -> str:
        return (f"LiveClient(url={self._source!r}, subscriptions={list(self.subscriptions)!r}, "
                f"connections={self.connections})")

    async def close(self) -> None:
        """Stop the feed: :meth:`frames` ends after the current message."""
        self._closing = True
        if self._ws is not None:
            await self._ws.close()

    async def frames(self) -> AsyncIterator[WsFrame]:
        """Decoded data frames, reconnecting as needed (module docstring)."""
        failures = 0  # consecutive: the backoff's attempt number
        tries = 0  # connection attempts since the last handshake
        while not self._closing:
            tries += 1
            linked = False
            try:
                async with connect(self.url, open_timeout=self.handshake_timeout_s,
                                   **self._connect_kwargs) as ws:
                    self._ws = ws
                    await self._handshake(ws)
                    linked = True
                    self.connections += 1
                    if self.on_link is not None:
                        self.on_link("connected", None, tries)
                    failures = tries = 0
                    while True:
                        frame = self._decode(await self._receive(ws))
                        if frame.events:
                            yield frame
            except ConnectionClosed as exc:
                reason = self._key.scrub(
                    f"closed by the server (code {exc.rcvd.code})" if exc.rcvd is not None
                    else "connection lost without a close frame (code 1006)")
            except (OSError, TimeoutError, WebSocketException, _Drop) as exc:
                if isinstance(exc, InvalidURI):
                    raise ConfigError(f"invalid websocket URL {self._source!r}") from None
                reason = self._key.scrub(_describe(exc))
            finally:
                self._ws = None
            if self._closing:
                return
            self.last_failure = reason
            if linked and self.on_link is not None:
                self.on_link("disconnected", reason, 0)
            failures += 1
            attempt = failures
            limit = self.backoff.max_attempts
            if limit is not None and attempt > limit:
                raise MassiveConnectionError(
                    f"{self._source}: no connection after {limit} attempt"
                    f"{'s' if limit != 1 else ''}: {reason}")
            delay = self.backoff.delay(attempt, self._rng.random())
            log.warning("massive feed %s: %s; reconnecting in %.2f s (attempt %d)",
                        self._source, reason, delay, attempt)
            await self._sleep(delay)

    async def _receive(self, ws: ClientConnection) -> str | bytes:
        """The next message; a stall (no message for ``stall_timeout_s``) drops the link."""
        if self.stall_timeout_s is None:
            return await ws.recv()
        try:
            return await asyncio.wait_for(ws.recv(), self.stall_timeout_s)
        except TimeoutError:
            raise _Drop(f"stalled: no message for {self.stall_timeout_s:g} s") from None

    async def _handshake(self, ws: ClientConnection) -> None:
        await self._await_status(ws, "connected")
        await ws.send(_encoder.encode({"action": "auth", "params": self._key.reveal()}).decode())
        await self._await_status(ws, "auth_success")
        await ws.send(_encoder.encode({"action": "subscribe",
                                       "params": ",".join(self.subscriptions)}).decode())

    async def _await_status(self, ws: ClientConnection, wanted: str) -> None:
        while True:
            try:
                message = await asyncio.wait_for(ws.recv(), self.handshake_timeout_s)
            except TimeoutError:
                raise _Drop(f"no {wanted!r} status within {self.handshake_timeout_s} s") from None
            frame = self._decode(message)
            if any(status == wanted for status, _ in frame.statuses):
                return

    def _decode(self, message: str | bytes) -> WsFrame:
        data = message.encode() if isinstance(message, str) else message
        try:
            frame = self._decoder.decode(data, first_line=self._next_line)
        except InputError as exc:
            if self.on_quarantine is None:
                raise
            self.quarantined += 1
            reason = self._key.scrub(_MESSAGE_PREFIX.sub("", exc.problem))
            self.on_quarantine(self._key.scrub_bytes(data), reason)
            return _EMPTY
        if self.on_message is not None:
            self.on_message(data)
        self._next_line += frame.events
        self.stats.add(frame)
        for status, text in frame.statuses:
            if status in NORMAL_STATUSES:
                continue
            text = self._key.scrub(text)[:200]
            self.problems.append((status, text))
            if status == "auth_failed":
                self._closing = True
                raise MassiveAuthError(f"{self._source}: authentication failed ({text})")
            if status == "max_connections":
                self._closing = True
                raise MassiveMaxConnectionsError(
                    f"{self._source}: max_connections: another connection uses this key "
                    f"({text})")
            log.warning("massive feed %s: status %s: %s", self._source, status, text)
        return frame


def _describe(exc: BaseException) -> str:
    if isinstance(exc, _Drop):
        return str(exc)
    if isinstance(exc, InvalidHandshake):
        return f"websocket handshake failed: {exc}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError):
        return f"network error: {exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}"
