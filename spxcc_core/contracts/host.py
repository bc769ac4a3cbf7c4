"""Wire contracts of the live host: hub status messages (``hub_status@1``) and the live run
report (``live_report@1``, ``live.json``).

Subscribers receive every message in the envelope ``{type, version, seq, ts, data}``
(:class:`~spxcc_core.contracts.envelope.Envelope`); status messages travel on their own channel
``hub_status@1`` with their own ``seq``. Times are epoch milliseconds (UTC) of the host's wall
clock; durations are seconds. No secret and no absolute path is ever written.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import msgspec

from spxcc_core.contracts.base import Contract

__all__ = [
    "FeedProblem",
    "HubStats",
    "HubStatus",
    "InputEnd",
    "LiveLink",
    "LiveReport",
    "StopReason",
]

#: Why a live session ended: the feed was silent for the idle timeout (``idle``), the configured
#: duration elapsed (``duration``), the host was asked to stop (``stopped``, e.g. Ctrl-C), or
#: the feed failed for good (``feed_error``: authentication, ``max_connections``, reconnects
#: exhausted, a malformed message).
StopReason = Literal["idle", "duration", "stopped", "feed_error"]


class HubStatus(Contract, frozen=True, kw_only=True):
    """A status message of the websocket hub to one subscriber (``hub_status@1``).

    ``status``: ``connected`` (sent first; ``channels`` lists every channel the hub serves),
    ``subscribed`` / ``unsubscribed`` (``channels`` is the connection's channel set after the
    request), ``error`` (a bad request: ``message`` says what was wrong, nothing changed),
    ``disconnected`` (the hub drops this connection, ``message`` says why, e.g. a slow
    consumer) or ``end`` (the live session ended; the hub closes every connection).
    """

    contract_name: ClassVar[str] = "hub_status"
    contract_version: ClassVar[int] = 1

    status: Literal["connected", "subscribed", "unsubscribed", "error", "disconnected", "end"]
    message: str
    channels: list[str] = msgspec.field(default_factory=list)


class HubStats(Contract, frozen=True, kw_only=True):
    """Counts of one hub's lifetime.

    ``connections``: subscriber connections accepted; ``peak_connections``: most open at once;
    ``sent``: envelopes queued for sending per channel (``microbar@2``, ...; status messages
    under ``hub_status@1``); ``slow_disconnects``: connections dropped because their send queue
    was full; ``bad_requests``: requests answered with an ``error`` status.
    """

    url: str
    connections: int
    peak_connections: int
    sent: dict[str, int]
    slow_disconnects: int
    bad_requests: int


class FeedProblem(Contract, frozen=True, kw_only=True):
    """An abnormal status the Massive feed sent (``message`` scrubbed of the API key)."""

    status: str
    message: str


class InputEnd(Contract, frozen=True, kw_only=True):
    """When and why the host ended the aggregator's input, forcing every held bar final.

    A configured feed that stays silent holds bars back (``spec/microbar.md``, finality); the
    host ends the input at its idle timeout, at the end of the duration, on a stop request or a
    feed failure. ``at_ms``: wall time it happened; ``silent_s``: seconds since the last data
    frame (trades or quotes) was received (None when none was); ``last_event_ms``: event time
    of the newest trade or quote received (None when none was); ``bars_released``: bars that
    became final only because the input ended.
    """

    reason: StopReason
    at_ms: int
    silent_s: float | None
    last_event_ms: int | None
    bars_released: int


class LiveLink(Contract, frozen=True, kw_only=True):
    """One Massive connection of a live session: its URL (no user info or query), the channels
    sent to it, its successful handshakes and the websocket messages it received."""

    url: str
    subscriptions: list[str]
    connections: int
    messages: int


class LiveReport(Contract, frozen=True, kw_only=True):
    """``live.json`` of a live session (``live_report@1``); the pipeline's own report is
    ``report.json`` (``replay_report@1``, source kind ``websocket``), exactly what a replay of
    the session's recording writes.

    ``url`` is the feed URL without user info or query; ``feeds`` the aggregator's configured
    feeds (from the subscriptions: ``T.*`` → trades, ``Q.*`` → quotes); ``connections`` the
    successful Massive handshakes (reconnects = connections − 1); ``messages`` the websocket
    messages received; ``unconfigured`` counts events of a feed that is not configured (not
    aggregated; kept in the recording); ``recording`` the recording's file name (None when
    not recording); ``digests`` the SHA-256 of every output file as in ``replay_result@1``;
    ``error`` the feed failure for ``stop_reason`` ``feed_error`` (None otherwise).

    A session may hold several connections, one per Massive cluster (e.g. stocks and
    indices): ``url`` is then the first one's, ``connections``, ``messages`` and ``problems``
    are over all of them, and ``links`` lists each (in the order the URLs were given; empty in
    reports written before it existed).
    """

    contract_name: ClassVar[str] = "live_report"
    contract_version: ClassVar[int] = 1

    url: str
    subscriptions: list[str]
    feeds: list[str]
    started_ms: int
    ended_ms: int
    stop_reason: StopReason
    input_end: InputEnd
    idle_timeout_s: float | None
    duration_s: float | None
    connections: int
    messages: int
    problems: list[FeedProblem]
    unconfigured: dict[str, int]
    recording: str | None
    hub: HubStats | None
    digests: dict[str, str]
    error: str | None = None
    links: list[LiveLink] = msgspec.field(default_factory=list)

