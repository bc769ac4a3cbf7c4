"""Wire contracts of the live host: hub status messages (``hub_status@1``) and the live run
report (``live_report@1``, ``live.json``).

Subscribers receive every message in the envelope ``{type, version, seq, ts, data}``
(:class:`~spxcc_core.contracts.envelope.Envelope`); status messages travel on their own channel
``hub_status@1`` with their own ``seq``. Times are epoch milliseconds (UTC) of the host's wall
clock; durations are seconds. No secret and no absolute path is ever written.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import msgspec

from spxcc_core.contracts.base import Contract

__all__ = [
    "FeedEvent",
    "FeedGap",
    "FeedProblem",
    "FeedStatus",
    "FrameQuarantine",
    "HubReply",
    "HubStats",
    "HubStatus",
    "InputEnd",
    "LiveLink",
    "LiveReport",
    "LiveReportV2",
    "LiveReportV3",
    "ReconcileStatus",
    "StopReason",
    "StoreHealth",
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
    #: Connections refused before the websocket opened, by reason: ``origin`` (Origin header
    #: not in the allow list), ``connections`` (the connection limit was reached), ``token``
    #: (a wrong ``Authorization`` header). Appended; empty in reports written before.
    refused: dict[str, int] = msgspec.field(default_factory=dict)
    #: Open connections the hub closed, by reason: ``slow_bytes`` / ``slow_messages`` (the
    #: send queue exceeded its byte / message bound), ``auth_failures`` (too many wrong
    #: tokens). Appended; empty in reports written before.
    dropped: dict[str, int] = msgspec.field(default_factory=dict)
    #: ``auth`` requests answered with a wrong token.
    auth_failures: int = 0
    #: ``replay`` requests served, and the envelopes they re-sent.
    replays: int = 0
    replayed: int = 0


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



class HubReply(Contract, frozen=True, kw_only=True):
    """The hub's answer to one ``auth`` or ``replay`` request of a subscriber (``hub_reply@1``,
    sent on its own per-connection channel ``hub_reply@1``; a client that never sends either
    request never receives one).

    ``request``: what is answered; ``ok``: whether it was granted; ``message``: what happened,
    in words (never the token). For ``replay``: ``channel`` the channel asked for, ``fromSeq``
    the first sequence number asked for, ``toSeq`` the last one re-sent (None when nothing
    was re-sent), ``oldestSeq`` the oldest sequence number the hub still retains for the
    channel (None when it retains none). The re-sent envelopes are queued before the reply.
    """

    contract_name: ClassVar[str] = "hub_reply"
    contract_version: ClassVar[int] = 1

    request: Literal["auth", "replay"]
    ok: bool
    message: str
    channel: str | None = None
    from_seq: int | None = None
    to_seq: int | None = None
    oldest_seq: int | None = None


class ReconcileStatus(Contract, frozen=True, kw_only=True):
    """One reconciliation result as the hub shows it (``reconcile_status@1``, account channel
    ``reconcile_status@1``: only token-authenticated subscribers get it).

    ``accountId`` the broker account; ``atMs`` when the reconciliation ran (epoch ms);
    ``status``: ``clean`` (no difference), ``differences`` (some, none halting), ``halted``
    (no new risk until a person clears it), ``failed`` (the broker gave no usable answer);
    ``halted`` whether the account is halted after it; ``differences`` how many differences
    were found (>= 0); ``message`` one sentence for the page.
    """

    contract_name: ClassVar[str] = "reconcile_status"
    contract_version: ClassVar[int] = 1

    account_id: str
    at_ms: int
    status: Literal["clean", "differences", "halted", "failed"]
    halted: bool
    differences: Annotated[int, msgspec.Meta(ge=0)]
    message: str


class FeedGap(Contract, frozen=True, kw_only=True):
    """A window in which one Massive connection delivered nothing because it was down.

    ``fromMs``: event time (epoch ms) of the newest trade, quote or index value received on
    the connection before it dropped (None when none had been); ``toMs``: event time of the
    oldest event of the first data message after it came back (None when the session ended
    first). Events stamped inside ``(fromMs, toMs)`` were never received: Massive does not
    resend them, so bars of that window hold only what arrived (their ``quoteCoveragePct``
    is the coverage they really had). ``disconnectedAtMs`` / ``reconnectedAtMs`` are wall times
    (None: never reconnected); ``reason`` why the connection dropped (e.g. ``stalled: no
    message for 15 s``, ``closed by the server (code 1000)``; the first drop's when the link
    dropped again before any data came); ``attempts`` the connection attempts it took to come
    back (over every drop of the window).
    """

    url: str
    from_ms: int | None
    to_ms: int | None
    disconnected_at_ms: int
    reconnected_at_ms: int | None
    reason: str
    attempts: int


#: What happened to a feed connection (:class:`FeedStatus`).
FeedEvent = Literal["connected", "disconnected", "reconnected", "gap"]


class FeedStatus(Contract, frozen=True, kw_only=True):
    """A change of a Massive connection's state (``feed_status@1``, hub channel
    ``feed_status@1``).

    ``event``: ``connected`` (the first handshake succeeded), ``disconnected`` (the connection
    dropped; ``reason`` says why, ``gap`` holds the open window with ``toMs`` null),
    ``reconnected`` (a handshake after a drop succeeded), ``gap`` (the first data after a drop
    arrived: ``gap`` is the closed window). ``url`` is the connection's URL without secrets;
    ``atMs`` the wall time of the change.
    """

    contract_name: ClassVar[str] = "feed_status"
    contract_version: ClassVar[int] = 1

    event: FeedEvent
    url: str
    at_ms: int
    reason: str | None = None
    gap: FeedGap | None = None


class FrameQuarantine(Contract, frozen=True, kw_only=True):
    """A websocket message of the feed that could not be decoded, set aside with its reason.

    ``message`` is the 1-based index of the message among every message of the session
    (handshakes included); ``url`` the connection's URL without secrets; ``receivedMs`` the
    wall time; ``reason`` what was wrong (e.g. ``not a JSON array of events``); ``excerpt``
    the message's first 80 characters (the API key scrubbed). Quarantined messages are not
    in the recording (a replay would refuse them) and add no event to the message indexes.
    """

    message: int
    url: str
    received_ms: int
    reason: str
    excerpt: str


class LiveReportV2(LiveReport, frozen=True, kw_only=True):
    """``live_report@2``: v1 plus what the feed really delivered.

    ``gaps`` every window a connection was down (:class:`FeedGap`, in the order they opened);
    ``quarantinedFrames`` the malformed messages set aside (at most the first 1,000;
    ``quarantinedFrameCount`` counts all); ``stallTimeoutS`` the silence after which a
    connection is treated as stalled and re-established (None: never); ``notes`` plain
    statements about the data's limits, e.g. that a delayed feed carries no quotes so every
    bar's ``quoteCoveragePct`` is 0.
    """

    contract_version: ClassVar[int] = 2

    gaps: list[FeedGap] = msgspec.field(default_factory=list)
    quarantined_frames: list[FrameQuarantine] = msgspec.field(default_factory=list)
    quarantined_frame_count: int = 0
    stall_timeout_s: float | None = None
    notes: list[str] = msgspec.field(default_factory=list)


class StoreHealth(Contract, frozen=True, kw_only=True):
    """How the run's store fared (``live_report@3`` ``store``; ``docs/operations.md``,
    "A live run and a lost store connection").

    ``backend``: ``sqlite`` or ``postgresql``; ``reconnects``: times the store re-established a
    lost connection (always 0 on SQLite); ``interruptedWrites``: writes a lost connection
    interrupted (the store raised instead of reconnecting and repeating), by write site
    (``setups``: setup states and gate decisions, ``routing``: an order-routing step,
    ``routing_poll``: the routing worker's event poll); ``rewritten``: interrupted ``setups``
    writes written again after the reconnect (upserts, so writing them again is safe whatever
    became of the first try); ``unwritten``: records still not in the store when the run ended,
    by kind (``setups``, ``gate_decisions``; they are in the run's output files) — empty when
    nothing was lost; ``entriesHalted``: why the run stopped sending new entries after a
    routing step was interrupted (None: it did not), the intent's fate being left to
    reconciliation by tag at the next start.
    """

    backend: str
    reconnects: int = 0
    interrupted_writes: dict[str, int] = msgspec.field(default_factory=dict)
    rewritten: int = 0
    unwritten: dict[str, int] = msgspec.field(default_factory=dict)
    entries_halted: str | None = None


class LiveReportV3(LiveReportV2, frozen=True, kw_only=True):
    """``live_report@3``: v2 plus ``store`` (:class:`StoreHealth`: reconnects and writes a lost
    store connection interrupted; None in reports written before it existed)."""

    contract_version: ClassVar[int] = 3

    store: StoreHealth | None = None
