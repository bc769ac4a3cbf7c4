"""Options-chain snapshots: a Massive ``GET /v3/snapshot/options/{underlying}`` response, saved as
JSON, read into an :class:`~spxcc_core.gamma.OptionChain` plus the underlying's ticker and price.

Accepted file shapes: one response page ``{"status", "results": [...], "next_url"?}`` or a JSON
array of such pages (a paginated chain saved page by page). Per result row (Massive field names):

- ``details.ticker`` (``O:SPXW251212C06800000``), ``details.contract_type`` (``call``|``put``),
  ``details.strike_price`` (> 0, index points), ``details.expiration_date`` (``YYYY-MM-DD``),
  ``details.shares_per_contract`` (must be 100 when present: GEX uses one multiplier);
- ``open_interest`` (contracts, previous close; a missing value is kept as 0 and counted);
- ``implied_volatility`` (annualised; missing → solved later from the quote mid);
- ``last_quote.bid`` / ``last_quote.ask`` (missing → NaN);
- ``underlying_asset.ticker`` (``I:SPX``) and ``underlying_asset.price`` (stocks) or ``.value``
  (indices). ``greeks`` are ignored: gamma is recomputed at the current spot.

Settlement instant (time to expiry): 16:00 New York on the expiry date (PM-settled SPXW and
equity options); 09:30 New York for the AM-settled roots in :data:`AM_SETTLED_ROOTS` (standard
monthly ``SPX``).

A row that cannot be used (no ticker, a contract type other than call/put, a bad strike or
expiry, another multiplier, a repeated ticker) is left out and counted by reason in
:attr:`ChainSnapshot.skipped` — never dropped silently. A file that is not JSON, not this shape,
names two underlyings, or holds no usable row raises :class:`~spxcc_core.errors.InputError`
naming the file.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from pathlib import Path

import attrs
import msgspec
import numpy as np

from spxcc_core.errors import InputError
from spxcc_core.gamma import OptionChain, settlement_ms

__all__ = [
    "AM_SETTLED_ROOTS",
    "CHAIN_FOLDER",
    "ChainSnapshot",
    "load_chain_snapshot",
    "parse_chain_snapshot",
]

#: Roots settled on the opening print (09:30 New York) instead of the close.
AM_SETTLED_ROOTS: frozenset[str] = frozenset({"SPX"})
#: Folder name of chain snapshot files beside Massive flat files
#: (``us_options_opra/chain_snapshot/<YYYY-MM-DD>.json``).
CHAIN_FOLDER = "chain_snapshot"
_MULTIPLIER = 100.0
_ROOT = re.compile(r"^(?:O:)?([A-Z][A-Z0-9]{0,5}?)\d{6}[CP]\d{8}$")


class _Details(msgspec.Struct, frozen=True):
    contract_type: str | None = None
    expiration_date: str | None = None
    shares_per_contract: float | None = None
    strike_price: float | None = None
    ticker: str | None = None


class _Quote(msgspec.Struct, frozen=True):
    bid: float | None = None
    ask: float | None = None


class _Underlying(msgspec.Struct, frozen=True):
    ticker: str | None = None
    price: float | None = None
    value: float | None = None


class _Result(msgspec.Struct, frozen=True):
    details: _Details | None = None
    open_interest: float | None = None
    implied_volatility: float | None = None
    last_quote: _Quote | None = None
    underlying_asset: _Underlying | None = None


class _Page(msgspec.Struct, frozen=True):
    results: list[_Result] | None = None
    status: str | None = None


_decoder = msgspec.json.Decoder(_Page | list[_Page])


@attrs.frozen(eq=False)
class ChainSnapshot:
    """An option chain at a point in time (open interest as of the previous close).

    :ivar underlying: the chain's underlying ticker as Massive names it (``I:SPX``).
    :ivar underlying_price: the underlying's price/value in the snapshot (None when absent).
    :ivar chain: one row per usable contract, ``symbols`` = the option tickers (``O:`` form).
    :ivar skipped: rows left out, by reason (``noTicker``, ``contractType``, ``strike``,
        ``expiry``, ``sharesPerContract``, ``duplicate``).
    :ivar open_interest_missing: rows kept with open interest 0 because none was given.
    """

    underlying: str
    underlying_price: float | None
    chain: OptionChain
    skipped: dict[str, int] = attrs.field(factory=dict)
    open_interest_missing: int = 0

    def __len__(self) -> int:
        return len(self.chain)


def _settle_time(ticker: str) -> dt.time:
    m = _ROOT.match(ticker)
    if m is not None and m.group(1) in AM_SETTLED_ROOTS:
        return dt.time(9, 30)
    return dt.time(16, 0)


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _nan(x: float | None) -> float:
    return x if x is not None and math.isfinite(x) else math.nan


def parse_chain_snapshot(data: bytes, source: str = "chain snapshot", *,
                         underlying: str | None = None) -> ChainSnapshot:
    """Read a Massive option-chain snapshot document (see the module docstring).

    :param data: the JSON bytes.
    :param source: the input's name, used in error messages.
    :param underlying: the underlying ticker when the rows name none (rows that do must agree
        with it).
    :raises InputError: not JSON of this shape, two underlyings, or no usable contract.
    """
    try:
        doc = _decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise InputError(source, f"not a Massive option-chain snapshot ({exc})") from None
    pages = doc if isinstance(doc, list) else [doc]
    skipped: dict[str, int] = {}
    seen: set[str] = set()
    tickers: list[str] = []
    strike: list[float] = []
    is_call: list[bool] = []
    expiry: list[int] = []
    oi: list[float] = []
    iv: list[float] = []
    bid: list[float] = []
    ask: list[float] = []
    oi_missing = 0
    names: set[str] = set()
    price: float | None = None

    def skip(reason: str) -> None:
        skipped[reason] = skipped.get(reason, 0) + 1

    for page in pages:
        for row in page.results or ():
            ua = row.underlying_asset
            if ua is not None:
                if ua.ticker:
                    names.add(ua.ticker)
                if price is None:
                    p = _finite(ua.price) if ua.price is not None else _finite(ua.value)
                    price = p if p is not None and p > 0 else None
            d = row.details
            if d is None or not d.ticker:
                skip("noTicker")
                continue
            kind = (d.contract_type or "").lower()
            if kind not in ("call", "put"):
                skip("contractType")
                continue
            k = _finite(d.strike_price)
            if k is None or k <= 0:
                skip("strike")
                continue
            try:
                exp = dt.date.fromisoformat(d.expiration_date or "")
            except ValueError:
                skip("expiry")
                continue
            if d.shares_per_contract is not None and d.shares_per_contract != _MULTIPLIER:
                skip("sharesPerContract")
                continue
            if d.ticker in seen:
                skip("duplicate")
                continue
            seen.add(d.ticker)
            o = _finite(row.open_interest)
            if o is None or o < 0:
                oi_missing += 1
                o = 0.0
            v = _finite(row.implied_volatility)
            q = row.last_quote
            tickers.append(d.ticker)
            strike.append(k)
            is_call.append(kind == "call")
            expiry.append(settlement_ms(exp, _settle_time(d.ticker)))
            oi.append(o)
            iv.append(v if v is not None and v > 0 else math.nan)
            bid.append(_nan(q.bid) if q is not None else math.nan)
            ask.append(_nan(q.ask) if q is not None else math.nan)
    if not tickers:
        detail = ", ".join(f"{r} {n}" for r, n in sorted(skipped.items())) or "no rows"
        raise InputError(source, f"no usable option contract ({detail})")
    if underlying is not None:
        names.add(underlying)
    if len(names) > 1:
        raise InputError(source, f"rows name more than one underlying: "
                                 f"{', '.join(sorted(names))}")
    if not names:
        raise InputError(source, "no underlying_asset.ticker in the rows and none given")
    symbols: tuple[str, ...] = tuple(tickers)
    chain = OptionChain(strike=strike, is_call=is_call, expiry_ms=expiry, open_interest=oi,
                        iv=iv, bid=np.asarray(bid, dtype=np.float64),
                        ask=np.asarray(ask, dtype=np.float64),
                        symbols=symbols)  # type: ignore[arg-type]  # attrs converter=tuple
    return ChainSnapshot(underlying=names.pop(), underlying_price=price, chain=chain,
                         skipped=dict(sorted(skipped.items())),
                         open_interest_missing=oi_missing)


def load_chain_snapshot(path: str | os.PathLike[str], *,
                        underlying: str | None = None) -> ChainSnapshot:
    """Read a chain snapshot file (see :func:`parse_chain_snapshot`).

    :raises InputError: the file cannot be read or is not a usable snapshot.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError(str(p), "file not found") from None
    except IsADirectoryError:
        raise InputError(str(p), "is a directory, not a file") from None
    except OSError as exc:
        raise InputError(str(p), f"cannot read: {exc.strerror or exc}") from None
    return parse_chain_snapshot(data, str(p), underlying=underlying)
