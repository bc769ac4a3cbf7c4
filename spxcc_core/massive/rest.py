"""Saved Massive REST v3 ``/v3/trades/{ticker}`` and ``/v3/quotes/{ticker}`` response pages.

A ``.json`` file holds one page object (``{"status", "request_id", "next_url", "results": [...]}``),
a JSON array of page objects, or JSON Lines with one page per line; stocks and options result
shapes are both accepted (options lack ``sequence_number``, which becomes ``seq = -1``). Fields
Massive omits when zero or empty (``conditions``, ``correction``, quote prices and sizes) default
to ``()``/``0``; a trade's ``decimal_size`` string, when present, is its size.

**Ticker.** Results carry no ticker. Each result's ticker is, in this order: a ``ticker`` field
in the result (files merged by other tools), the ticker in the page's ``next_url`` path, the one
ticker named by the other pages' ``next_url`` in the file, the ``ticker`` argument. If none is
known, :class:`~spxcc_core.errors.InputError`. With ``ticker`` given, results of other tickers are
not events (not yielded, not counted).

**Order.** Massive returns newest first by default (``order=desc``). Rows are reversed into
ascending arrival order when the file says so (a ``next_url`` with ``order=desc`` or
``sort=…desc``), or — when no page says — when the ``sip_timestamp`` column of the whole file is
non-increasing with at least one strict decrease. A file with ``order=asc`` or with rising or
mixed timestamps is kept as written. ``line`` is always the 1-based position of the result in
the file (pages in file order), so after a reversal lines run backwards.

``next_url`` is never echoed in messages (a saved URL may carry an ``apiKey``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

import msgspec
import numpy as np

from spxcc_core.aggregate.columns import ConditionTable, QuoteColumns, SymbolTable, TradeColumns
from spxcc_core.errors import InputError
from spxcc_core.massive._common import (
    SKIP,
    Columns,
    ConditionStrings,
    Rechunker,
    TickerSelector,
    check_chunk_rows,
    empty_ticker_error,
    os_error,
    source_name,
)

__all__ = ["read_quotes", "read_trades"]


class RestTrade(msgspec.Struct, kw_only=True):
    """One ``/v3/trades`` result (stocks or options); unknown fields are skipped."""

    sip_timestamp: int
    price: float
    size: float = 0.0
    decimal_size: str | None = None
    conditions: list[int] | None = None
    correction: int = 0
    sequence_number: int | None = None
    ticker: str | None = None


class RestQuote(msgspec.Struct, kw_only=True):
    """One ``/v3/quotes`` result (stocks or options); an omitted price or size is 0 (absent)."""

    sip_timestamp: int
    bid_price: float = 0.0
    bid_size: float = 0.0
    ask_price: float = 0.0
    ask_size: float = 0.0
    sequence_number: int | None = None
    ticker: str | None = None


class TradePage(msgspec.Struct, kw_only=True):
    """A ``/v3/trades`` response page."""

    results: list[RestTrade] = []
    status: str | None = None
    request_id: str | None = None
    next_url: str | None = None
    error: str | None = None
    message: str | None = None


class QuotePage(msgspec.Struct, kw_only=True):
    """A ``/v3/quotes`` response page."""

    results: list[RestQuote] = []
    status: str | None = None
    request_id: str | None = None
    next_url: str | None = None
    error: str | None = None
    message: str | None = None


_trade_page_decoder = msgspec.json.Decoder(TradePage)
_quote_page_decoder = msgspec.json.Decoder(QuotePage)
_raw_list_decoder = msgspec.json.Decoder(list[msgspec.Raw])
_raw_decoder = msgspec.json.Decoder(msgspec.Raw)

_OK_STATUS = frozenset({"OK", "DELAYED"})
_RESULT_PATH = re.compile(r"`\$(?:\[\d+\])?\.results\[(\d+)\](\.?[^`]*)`")
_URL_PATH = re.compile(r"/v3/(trades|quotes)/([^/?#]+)")

P = TypeVar("P", TradePage, QuotePage)


def read_trades(path: str | os.PathLike[str], *, ticker: str | None, symbols: SymbolTable,
                conditions: ConditionTable,
                chunk_rows: int = 1_000_000) -> Iterator[TradeColumns]:
    """Trades of a saved ``/v3/trades`` page file, in ascending arrival order (module docstring).

    :raises InputError: unreadable file, malformed JSON, a result that does not match the
        shape, an error page, an empty or unknown ticker, a page of quotes.
    """
    check_chunk_rows(chunk_rows)
    src = source_name(path)
    pages = _load(path, src, _trade_page_decoder, "trades")
    strings = ConditionStrings(conditions)
    rows = [r for page in pages for r in page.results]
    tickers = _tickers(src, pages, ticker, symbols)
    n = len(rows)
    sizes = np.empty(n, dtype=np.float64)
    for i, r in enumerate(rows):
        if r.decimal_size is not None:
            try:
                sizes[i] = float(r.decimal_size)
            except ValueError:
                raise InputError(src, f"decimal_size {r.decimal_size[:40]!r} is not a number",
                                 row=i + 1) from None
        else:
            sizes[i] = r.size
    cols: Columns = {
        "ts": np.fromiter((r.sip_timestamp for r in rows), np.int64, n),
        "symbol": tickers,
        "seq": np.fromiter((-1 if r.sequence_number is None else r.sequence_number
                            for r in rows), np.int64, n),
        "price": np.fromiter((r.price for r in rows), np.float64, n),
        "size": sizes,
        "cond": np.fromiter((strings.intern_ids(tuple(r.conditions)) if r.conditions else 0
                             for r in rows), np.int32, n),
        "correction": np.fromiter((r.correction for r in rows), np.int32, n),
        "line": np.arange(1, n + 1, dtype=np.int64),
    }
    for chunk in _ordered_chunks(cols, pages, chunk_rows):
        yield TradeColumns(**chunk)


def read_quotes(path: str | os.PathLike[str], *, ticker: str | None, symbols: SymbolTable,
                chunk_rows: int = 1_000_000) -> Iterator[QuoteColumns]:
    """Quotes of a saved ``/v3/quotes`` page file, in ascending arrival order (module docstring).

    :raises InputError: as :func:`read_trades`.
    """
    check_chunk_rows(chunk_rows)
    src = source_name(path)
    pages = _load(path, src, _quote_page_decoder, "quotes")
    rows = [r for page in pages for r in page.results]
    tickers = _tickers(src, pages, ticker, symbols)
    n = len(rows)
    cols: Columns = {
        "ts": np.fromiter((r.sip_timestamp for r in rows), np.int64, n),
        "symbol": tickers,
        "seq": np.fromiter((-1 if r.sequence_number is None else r.sequence_number
                            for r in rows), np.int64, n),
        "bid": np.fromiter((r.bid_price for r in rows), np.float64, n),
        "bid_size": np.fromiter((r.bid_size for r in rows), np.float64, n),
        "ask": np.fromiter((r.ask_price for r in rows), np.float64, n),
        "ask_size": np.fromiter((r.ask_size for r in rows), np.float64, n),
        "line": np.arange(1, n + 1, dtype=np.int64),
    }
    for chunk in _ordered_chunks(cols, pages, chunk_rows):
        yield QuoteColumns(**chunk)


# ----------------------------------------------------------------------------- loading


def _load(path: str | os.PathLike[str], src: str, decoder: msgspec.json.Decoder[P],
          kind: str) -> list[P]:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise os_error(src, exc) from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    body = data.lstrip()
    lead = len(data) - len(body)
    if not body:
        raise InputError(src, "file is empty (expected REST v3 response pages)")
    raws: list[tuple[str, bytes]]
    if body[:1] == b"[":
        try:
            items = _raw_list_decoder.decode(body)
        except msgspec.DecodeError as exc:
            raise _json_error(src, exc, lead) from None
        raws = [(f"page {i + 1}", bytes(r)) for i, r in enumerate(items)]
    elif body[:1] == b"{":
        try:
            _raw_decoder.decode(body)
            raws = [("page 1", body)]
        except msgspec.DecodeError as exc:
            if "trailing characters" not in str(exc):
                raise _json_error(src, exc, lead) from None
            raws = _json_lines(src, data)
    else:
        raise InputError(src, "not REST v3 JSON (expected a page object, an array of pages "
                              "or one page per line)", offset=lead)
    pages: list[P] = []
    row_base = 0
    for label, raw in raws:
        try:
            page = decoder.decode(raw)
        except msgspec.ValidationError as exc:
            raise _validation_error(src, label, exc, row_base) from None
        except msgspec.DecodeError as exc:  # pragma: no cover - raws are well-formed JSON
            raise InputError(src, f"{label}: {exc}") from None
        if page.status is not None and page.status not in _OK_STATUS and not page.results:
            detail = page.error or page.message or "no results"
            raise InputError(src, f"{label} is an error response: status "
                                  f"{page.status[:40]!r}: {detail[:120]}")
        url_kind, _ = _parse_next_url(page.next_url)
        if url_kind is not None and url_kind != kind:
            raise InputError(src, f"{label} is a /v3/{url_kind} page, expected /v3/{kind}")
        pages.append(page)
        row_base += len(page.results)
    return pages


def _json_lines(src: str, data: bytes) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            _raw_decoder.decode(line)
        except msgspec.DecodeError as exc:
            raise InputError(src, f"line {number}: {exc}") from None
        out.append((f"page on line {number}", line))
    return out


def _json_error(src: str, exc: msgspec.DecodeError, lead: int) -> InputError:
    text = str(exc)
    m = re.search(r"\(byte (\d+)\)", text)
    if m:
        problem = re.sub(r"\s*\(byte \d+\)", "", text)
        return InputError(src, problem, offset=int(m[1]) + lead)
    return InputError(src, text)


def _validation_error(src: str, label: str, exc: msgspec.ValidationError,
                      row_base: int) -> InputError:
    text = str(exc)
    m = _RESULT_PATH.search(text)
    problem = text.split(" - at `", 1)[0]
    if m:
        field = m[2].lstrip(".") or "result"
        return InputError(src, f"{label}, result {int(m[1]) + 1}, field {field!r}: {problem}",
                          row=row_base + int(m[1]) + 1)
    return InputError(src, f"{label}: {text}")


# ----------------------------------------------------------------------------- tickers, order


def _parse_next_url(url: str | None) -> tuple[str | None, str | None]:
    """``(kind, ticker)`` from a ``next_url`` path (``None`` parts when absent)."""
    if not url:
        return None, None
    m = _URL_PATH.search(urlsplit(url).path)
    if not m:
        return None, None
    return m[1], unquote(m[2])


def _url_order(url: str | None) -> str | None:
    if not url:
        return None
    query = parse_qs(urlsplit(url).query)
    for value in query.get("order", []):
        if value.lower() in ("asc", "desc"):
            return value.lower()
    for value in query.get("sort", []):
        if value.lower().endswith(".desc"):
            return "desc"
        if value.lower().endswith(".asc"):
            return "asc"
    return None


def _tickers(src: str, pages: Sequence[TradePage | QuotePage], ticker: str | None,
             symbols: SymbolTable) -> np.ndarray[Any, np.dtype[np.int32]]:
    """Symbol id per result (or SKIP for other tickers) in file order."""
    url_tickers = [_parse_next_url(p.next_url)[1] for p in pages]
    named = {t for t in url_tickers if t}
    file_ticker = next(iter(named)) if len(named) == 1 else None
    selector = TickerSelector(ticker, symbols)
    out: list[int] = []
    row = 0
    for page, page_ticker in zip(pages, url_tickers, strict=True):
        default = page_ticker or file_ticker or ticker
        for r in page.results:
            row += 1
            name = r.ticker if r.ticker is not None else default
            if name is None:
                raise InputError(src, "the results carry no ticker and no next_url names one: "
                                      "give the ticker", row=row)
            if name == "":
                raise empty_ticker_error(src, row)
            out.append(selector.id_of(name))
    return np.asarray(out, dtype=np.int32)


def _is_desc(pages: Sequence[TradePage | QuotePage], ts: np.ndarray[Any, Any]) -> bool:
    hints = {_url_order(p.next_url) for p in pages} - {None}
    if len(hints) == 1:
        return hints == {"desc"}
    if len(ts) < 2:
        return False
    step = np.diff(ts)
    return bool((step <= 0).all() and (step < 0).any())


def _ordered_chunks(cols: Columns, pages: Sequence[TradePage | QuotePage],
                    chunk_rows: int) -> Iterator[Columns]:
    if _is_desc(pages, cols["ts"]):
        cols = {k: v[::-1] for k, v in cols.items()}
    keep = cols["symbol"] != SKIP
    if not keep.all():
        cols = {k: v[keep] for k, v in cols.items()}
    if len(cols["ts"]) == 0:
        return
    chunker = Rechunker(chunk_rows)
    yield from chunker.push(cols)
    yield from chunker.finish()
