"""Massive websocket frames (JSON arrays of events) decoded into columnar batches.

Events (``reference/massive.md`` §1.3–1.5):

- ``T`` trade (stocks, options, futures): ``sym``, ``p``, ``s`` (``ds``, a decimal-size string,
  wins when present), ``c`` int list (may be absent), ``t`` SIP time in **ms** (→ ns ×1,000,000),
  ``q`` sequence number (absent → ``seq = -1``). Websocket trades carry no correction (0).
- ``Q`` quote: ``bp bs ap as t q``; ``c`` is a single quote condition (not used). An absent price
  or size is 0 (side absent).
- ``V`` index value: the ticker is in ``T`` (not ``sym``), ``val`` the value, ``t`` ms.
- ``status`` frames are skipped and counted by status; any other ``ev`` (``A``, ``AM``, ``LULD``,
  ...) is skipped and counted by its name — never an error.

**Message index.** ``line`` is the 1-based index of the event among *all* events of the
recording or connection (status and unknown events and other tickers' events included), so it
names the exact message. With ``ticker`` given, events of other tickers are not events of the
run: not yielded and not counted in :class:`WsStats`.

A recording is one frame per line (blank lines are skipped; a bare JSON object is a frame of one
event; ``.gz`` files are read through gzip). A malformed line, an event of a known type whose
fields do not match, an empty ticker, a ``t`` too large for milliseconds or a negative index
value ``t`` raises :class:`~spxcc_core.errors.InputError` naming the file and line. A trade or
quote with a negative ``t`` passes through; the aggregator quarantines it (``bad_timestamp``).
"""

from __future__ import annotations

import gzip
import os
from collections import Counter
from collections.abc import Iterator
from typing import IO, Any

import attrs
import msgspec
import numpy as np

from spxcc_core.aggregate.columns import ConditionTable, QuoteColumns, SymbolTable, TradeColumns
from spxcc_core.errors import InputError
from spxcc_core.massive._common import (
    SKIP,
    ConditionStrings,
    TickerSelector,
    os_error,
    source_name,
)
from spxcc_core.massive.columns import IndexColumns

__all__ = [
    "FrameDecoder",
    "WsFrame",
    "WsStats",
    "decode_frame",
    "iter_ws_decoded",
    "iter_ws_frames",
]

_MS_TO_NS = 1_000_000
_MAX_MS = (2**63 - 1) // _MS_TO_NS


class WsTrade(msgspec.Struct, kw_only=True, tag_field="ev", tag="T"):
    """A ``T`` event (unknown fields skipped)."""

    sym: str
    p: float
    s: float = 0.0
    ds: str | None = None
    c: list[int] | None = None
    t: int
    q: int | None = None


class WsQuote(msgspec.Struct, kw_only=True, tag_field="ev", tag="Q", rename={"as_": "as"}):
    """A ``Q`` event (unknown fields skipped)."""

    sym: str
    bp: float = 0.0
    bs: float = 0.0
    ap: float = 0.0
    as_: float = 0.0
    t: int
    q: int | None = None


class WsValue(msgspec.Struct, kw_only=True, tag_field="ev", tag="V"):
    """A ``V`` index-value event; the ticker is in ``T``."""

    T: str
    val: float
    t: int


class WsStatus(msgspec.Struct, kw_only=True, tag_field="ev", tag="status"):
    """A status event (``connected``, ``auth_success``, ``success``, ``auth_failed``, ...)."""

    status: str = ""
    message: str = ""


class _Peek(msgspec.Struct):
    ev: str


_Event = WsTrade | WsQuote | WsValue | WsStatus
_KNOWN: dict[str, msgspec.json.Decoder[Any]] = {
    "T": msgspec.json.Decoder(WsTrade), "Q": msgspec.json.Decoder(WsQuote),
    "V": msgspec.json.Decoder(WsValue), "status": msgspec.json.Decoder(WsStatus),
}
_frame_decoder = msgspec.json.Decoder(list[_Event])
_raw_frame_decoder = msgspec.json.Decoder(list[msgspec.Raw])
_peek_decoder = msgspec.json.Decoder(_Peek)


@attrs.frozen(eq=False)
class WsFrame:
    """One decoded frame.

    ``events`` counts every event of the frame (the next frame's first ``line`` is this frame's
    first line + ``events``); ``statuses`` are the ``(status, message)`` pairs of its status
    events; ``unknown`` the ``ev`` names of events of other types, in order.
    """

    trades: TradeColumns
    quotes: QuoteColumns
    values: IndexColumns
    events: int
    statuses: tuple[tuple[str, str], ...] = ()
    unknown: tuple[str, ...] = ()


@attrs.define
class WsStats:
    """Counts over a recording or connection (events of filtered-out tickers excluded)."""

    events: int = 0
    trades: int = 0
    quotes: int = 0
    values: int = 0
    statuses: Counter[str] = attrs.field(factory=Counter)
    unknown: Counter[str] = attrs.field(factory=Counter)

    def add(self, frame: WsFrame) -> None:
        """Count one frame's events."""
        self.events += frame.events
        self.trades += len(frame.trades)
        self.quotes += len(frame.quotes)
        self.values += len(frame.values)
        self.statuses.update(s for s, _ in frame.statuses)
        self.unknown.update(frame.unknown)


class FrameDecoder:
    """Decodes frames of one recording or connection, keeping its symbol and condition caches.

    :param ticker: keep only this ticker's events (None: all).
    :param symbols: shared symbol table; :param conditions: shared condition table.
    :param source: how the input is named in errors (a file name, or a URL without secrets).
    """

    def __init__(self, *, ticker: str | None, symbols: SymbolTable,
                 conditions: ConditionTable, source: str = "<websocket>") -> None:
        self.source = source
        self._tickers = TickerSelector(ticker, symbols)
        self._conditions = ConditionStrings(conditions)

    def decode(self, data: bytes | str, *, first_line: int = 1,
               where: str | None = None) -> WsFrame:
        """Decode one frame whose first event has message index ``first_line``.

        :param where: location named in errors (default ``"message <first_line>"``).
        :raises InputError: malformed JSON or a known event with mismatching fields.
        """
        where = where or f"message {first_line}"
        if isinstance(data, str):
            data = data.encode()
        body = data.strip()
        if body[:1] == b"{":
            body = b"[" + body + b"]"
        try:
            events: list[Any] = _frame_decoder.decode(body)
            unknown: list[str] = []
        except msgspec.DecodeError:
            events, unknown = self._slow(body, where)
        return self._columns(events, unknown, first_line, where)

    def _slow(self, body: bytes, where: str) -> tuple[list[Any], list[str]]:
        """Per-event decoding: finds unknown ``ev`` values and the exact bad event."""
        try:
            raws = _raw_frame_decoder.decode(body)
        except msgspec.DecodeError as exc:
            raise InputError(self.source, f"{where}: not a JSON array of events ({exc})") from None
        events: list[Any] = []
        unknown: list[str] = []
        for i, raw in enumerate(raws):
            try:
                ev = _peek_decoder.decode(raw).ev
            except msgspec.DecodeError:
                raise InputError(self.source, f"{where}: event {i + 1} is not an object with a "
                                              "string 'ev'") from None
            decoder = _KNOWN.get(ev)
            if decoder is None:
                events.append(None)
                unknown.append(ev)
                continue
            try:
                events.append(decoder.decode(raw))
            except msgspec.DecodeError as exc:
                raise InputError(self.source,
                                 f"{where}: event {i + 1} ({ev!r}): {exc}") from None
        return events, unknown

    def _symbol(self, name: str, where: str) -> int:
        if name == "":
            raise InputError(self.source, f"{where}: empty ticker")
        return self._tickers.id_of(name)

    def _ns(self, t: int, where: str, *, before_epoch: bool = False) -> int:
        """``t`` ms as ns. With ``before_epoch`` a negative ``t`` passes through (a trade or
        quote before the epoch is quarantined as ``bad_timestamp`` by the aggregator)."""
        if not (-_MAX_MS if before_epoch else 0) <= t <= _MAX_MS:
            raise InputError(self.source, f"{where}: timestamp t={t} is not epoch milliseconds")
        return t * _MS_TO_NS

    def _columns(self, events: list[Any], unknown: list[str], first_line: int,
                 where: str) -> WsFrame:
        tr: list[tuple[int, int, int, float, float, int, int, int]] = []
        qu: list[tuple[int, int, int, float, float, float, float, int]] = []
        va: list[tuple[int, int, float, int]] = []
        statuses: list[tuple[str, str]] = []
        for i, e in enumerate(events):
            line = first_line + i
            if isinstance(e, WsTrade):
                sid = self._symbol(e.sym, where)
                if sid == SKIP:
                    continue
                size = e.s
                if e.ds is not None:
                    try:
                        size = float(e.ds)
                    except ValueError:
                        raise InputError(self.source, f"{where}: ds {e.ds[:40]!r} is not a "
                                                      "number") from None
                cond = self._conditions.intern_ids(tuple(e.c)) if e.c else 0
                ts = self._ns(e.t, where, before_epoch=True)
                tr.append((ts, sid, -1 if e.q is None else e.q, e.p, size, cond, 0, line))
            elif isinstance(e, WsQuote):
                sid = self._symbol(e.sym, where)
                if sid == SKIP:
                    continue
                ts = self._ns(e.t, where, before_epoch=True)
                qu.append((ts, sid, -1 if e.q is None else e.q, e.bp, e.bs, e.ap, e.as_, line))
            elif isinstance(e, WsValue):
                sid = self._symbol(e.T, where)
                if sid == SKIP:
                    continue
                va.append((self._ns(e.t, where), sid, e.val, line))
            elif isinstance(e, WsStatus):
                statuses.append((e.status, e.message))
        return WsFrame(trades=_trades(tr), quotes=_quotes(qu), values=_values(va),
                       events=len(events), statuses=tuple(statuses), unknown=tuple(unknown))


def _cols(rows: list[Any], dtypes: tuple[type[np.generic], ...]) -> list[Any]:
    return [np.array(col, dtype=dt) for col, dt in zip(zip(*rows, strict=True), dtypes,
                                                         strict=True)]


_TRADE_TYPES = (np.int64, np.int32, np.int64, np.float64, np.float64, np.int32, np.int32,
                np.int64)
_QUOTE_TYPES = (np.int64, np.int32, np.int64, np.float64, np.float64, np.float64, np.float64,
                np.int64)
_VALUE_TYPES = (np.int64, np.int32, np.float64, np.int64)


def _trades(rows: list[tuple[int, int, int, float, float, int, int, int]]) -> TradeColumns:
    if not rows:
        return TradeColumns.empty()
    ts, sym, seq, price, size, cond, corr, line = _cols(rows, _TRADE_TYPES)
    return TradeColumns(ts=ts, symbol=sym, seq=seq, price=price, size=size, cond=cond,
                        correction=corr, line=line)


def _quotes(rows: list[tuple[int, int, int, float, float, float, float, int]]) -> QuoteColumns:
    if not rows:
        return QuoteColumns.empty()
    ts, sym, seq, bid, bid_size, ask, ask_size, line = _cols(rows, _QUOTE_TYPES)
    return QuoteColumns(ts=ts, symbol=sym, seq=seq, bid=bid, bid_size=bid_size, ask=ask,
                        ask_size=ask_size, line=line)


def _values(rows: list[tuple[int, int, float, int]]) -> IndexColumns:
    if not rows:
        return IndexColumns.empty()
    ts, sym, value, line = _cols(rows, _VALUE_TYPES)
    return IndexColumns(ts=ts, symbol=sym, value=value, line=line)


def decode_frame(data: bytes | str, *, ticker: str | None, symbols: SymbolTable,
                 conditions: ConditionTable, first_line: int = 1,
                 source: str = "<websocket>") -> WsFrame:
    """Decode one websocket frame (a JSON array of events) into columns.

    A one-off convenience; a connection or recording should reuse one :class:`FrameDecoder`.
    :param first_line: message index of the frame's first event.
    :raises InputError: see the module docstring.
    """
    decoder = FrameDecoder(ticker=ticker, symbols=symbols, conditions=conditions, source=source)
    return decoder.decode(data, first_line=first_line)


def _open_lines(path: str | os.PathLike[str], src: str) -> IO[bytes]:
    try:
        if src.lower().endswith(".gz"):
            return gzip.GzipFile(os.fspath(path), "rb")  # type: ignore[return-value]
        return open(path, "rb")
    except OSError as exc:
        raise os_error(src, exc) from None


def iter_ws_decoded(path: str | os.PathLike[str], *, ticker: str | None,
                    symbols: SymbolTable, conditions: ConditionTable,
                    stats: WsStats | None = None) -> Iterator[WsFrame]:
    """Every frame of a recording (one JSON array per line), fully decoded.

    :param stats: when given, counts of every frame are added to it as frames are read.
    :raises InputError: see the module docstring.
    """
    src = source_name(path)
    decoder = FrameDecoder(ticker=ticker, symbols=symbols, conditions=conditions, source=src)
    next_line = 1
    with _open_lines(path, src) as fh:
        number = 0
        while True:
            try:
                raw = fh.readline()
            except (OSError, EOFError) as exc:
                raise InputError(src, f"line {number + 1}: cannot read: {exc}") from None
            if not raw:
                break
            number += 1
            if not raw.strip():
                continue
            frame = decoder.decode(raw, first_line=next_line, where=f"line {number}")
            next_line += frame.events
            if stats is not None:
                stats.add(frame)
            yield frame


def iter_ws_frames(path: str | os.PathLike[str], *, ticker: str | None, symbols: SymbolTable,
                   conditions: ConditionTable,
                   stats: WsStats | None = None) -> Iterator[tuple[TradeColumns, QuoteColumns]]:
    """``(trades, quotes)`` of every frame of a recording, one tuple per non-blank line.

    Index values (``V``), status and unknown events are not part of the tuple; pass ``stats``
    to count them, or use :func:`iter_ws_decoded`.
    :raises InputError: see the module docstring.
    """
    for frame in iter_ws_decoded(path, ticker=ticker, symbols=symbols, conditions=conditions,
                                 stats=stats):
        yield frame.trades, frame.quotes
