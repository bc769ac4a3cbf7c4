"""SPY-like NBBO quotes and trades (``us_stocks_sip`` flat-file tables).

Quotes: spreads mostly 1 cent (some 2–3, a few locked), sizes in shares as multiples of 40
(the post-2025-11-03 unit for a $250–1,000 stock), sizes tilted by order-flow pressure, plus a
few crossed quotes, one-sided quotes (one side ``0 × 0``: valid since the microbar spec's
revision 2026-12-06) and zero sizes on a priced side (quarantined as ``empty_side``). Trades:
at the bid or ask with an aggressor-consistent side, at the midpoint, inside with sub-penny
improvement, or through the touch as intermarket sweeps; odd lots (37), ISO (14), trade-through
exempt (41), fractional shares, opening/closing prints (25, 8) with official open/close markers
(16, 15), rare corrections; about 5% of trades share their exact timestamp with a following
quote.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from spxcc_core.sample.anomalies import count_for, disorder_index
from spxcc_core.sample.process import LatentPath, event_times
from spxcc_core.sample.tables import SampleTable

__all__ = ["STOCK_CONDITION_SETS", "stock_tables"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

TICKER = "SPY"
#: Trade condition sets used (index = code in the ``conditions`` column).
STOCK_CONDITION_SETS: tuple[tuple[int, ...], ...] = (
    (), (37,), (14,), (14, 37), (41,), (25,), (16,), (8,), (15,))
_REG, _ODD, _ISO, _ISO_ODD, _TTE, _OPEN, _OFF_OPEN, _CLOSE, _OFF_CLOSE = range(9)

#: Stock exchange ids (massive.md §3.4) and their weights as trade venues (4 = TRF).
_EXCHANGES = np.array([4, 11, 12, 19, 8, 21, 10, 15, 7, 17, 2, 3, 18, 20])
_EXCH_P = np.array([.36, .12, .12, .08, .07, .06, .04, .04, .03, .02, .02, .02, .01, .01])
_QUOTE_EXCH = np.array([11, 12, 19, 8, 21, 10, 15])
_TAPE_B = 2  # SPY is NYSE Arca-listed: tape B

_ROUND_LOT = 40


def _cents(x: F64) -> I64:
    return np.asarray(np.floor(x + 0.5), dtype=np.int64)


def _sequence(rng: np.random.Generator, n: int, start: int) -> I64:
    gaps = 1 + rng.poisson(0.4, size=n)
    return np.asarray(start + np.cumsum(gaps), dtype=np.int64)


def _participant(rng: np.random.Generator, sip: I64) -> I64:
    return np.asarray(sip - rng.integers(15_000, 900_000, size=len(sip)), dtype=np.int64)


def _quotes(rng: np.random.Generator, path: LatentPath, ts: I64, scale: float) -> SampleTable:
    n = len(ts)
    mid_c = path.price_at(ts) * 100.0
    z = path.pressure_at(ts)
    u = rng.random(n)
    spread = np.select([u < 0.004, u < 0.88, u < 0.975], [0, 1, 2], 3)
    bid_c = _cents(mid_c - spread / 2.0)
    ask_c = bid_c + spread
    bid_lots = rng.geometric(1.0 / (1.0 + 11.0 * np.exp(0.45 * z)))
    ask_lots = rng.geometric(1.0 / (1.0 + 11.0 * np.exp(-0.45 * z)))
    bid_size = np.asarray(bid_lots * _ROUND_LOT, dtype=np.int64)
    ask_size = np.asarray(ask_lots * _ROUND_LOT, dtype=np.int64)

    bad = rng.choice(n, size=min(n, 3 * count_for(1e-5, n, scale)), replace=False)
    # crossed -> crossed_quote; empty (one side 0 x 0) -> applied, one-sided; zero (size 0 on a
    # priced side) -> empty_side
    crossed, empty, zero = np.array_split(bad, 3)
    ask_c[crossed] = bid_c[crossed] - 1
    empty_bid = rng.random(len(empty)) < 0.5
    bid_c[empty[empty_bid]] = 0
    bid_size[empty[empty_bid]] = 0
    ask_c[empty[~empty_bid]] = 0
    ask_size[empty[~empty_bid]] = 0
    zero_bid = rng.random(len(zero)) < 0.5
    bid_size[zero[zero_bid]] = 0
    ask_size[zero[~zero_bid]] = 0

    cols: dict[str, npt.NDArray[Any]] = {
        "ticker": np.zeros(n, dtype=np.int32),
        "ask_exchange": rng.choice(_QUOTE_EXCH, size=n),
        "ask_price": ask_c / 100.0,
        "ask_size": ask_size,
        "bid_exchange": rng.choice(_QUOTE_EXCH, size=n),
        "bid_price": bid_c / 100.0,
        "bid_size": bid_size,
        "conditions": np.zeros(n, dtype=np.int8),
        "indicators": np.zeros(n, dtype=np.int8),
        "participant_timestamp": _participant(rng, ts),
        "sequence_number": _sequence(rng, n, 1_000),
        "sip_timestamp": ts,
        "tape": np.full(n, _TAPE_B, dtype=np.int8),
        "trf_timestamp": np.zeros(n, dtype=np.int64),
    }
    index = disorder_index(rng, ts, late=count_for(5, n, scale),
                           duplicates=count_for(3, n, scale))
    return SampleTable(dataset="us_stocks_sip/quotes_v1",
                       columns={k: v[index] for k, v in cols.items()},
                       tickers=(TICKER,), quote_conditions="1")


def _touch_in_force(path: LatentPath, quotes: SampleTable, ts: I64) -> tuple[I64, I64]:
    """Bid/ask (in 1e-4 dollars) of the quote in force strictly before each trade; an invalid
    or missing quote falls back to a 1-cent market around the efficient price."""
    qc = quotes.columns
    q_ts = qc["sip_timestamp"]
    order = np.argsort(q_ts, kind="stable")
    j = np.searchsorted(q_ts[order], ts, side="left") - 1
    jj = order[np.maximum(j, 0)]
    bid = np.round(qc["bid_price"][jj] * 100).astype(np.int64)
    ask = np.round(qc["ask_price"][jj] * 100).astype(np.int64)
    ok = (j >= 0) & (bid > 0) & (ask >= bid) & (qc["bid_size"][jj] > 0) & (qc["ask_size"][jj] > 0)
    fb = np.floor(path.price_at(ts) * 100.0).astype(np.int64)
    bid = np.where(ok, bid, fb)
    ask = np.where(ok, ask, fb + 1)
    return bid * 100, ask * 100


def _trades(rng: np.random.Generator, path: LatentPath, ts: I64, quotes: SampleTable,
            scale: float) -> SampleTable:
    n = len(ts)
    bid4, ask4 = _touch_in_force(path, quotes, ts)
    z = path.pressure_at(ts)
    buy = rng.random(n) < 0.5 + 0.35 * np.tanh(0.6 * z)
    kind = rng.random(n)
    touch = kind < 0.80
    midpoint = (kind >= 0.80) & (kind < 0.90)
    inside = (kind >= 0.90) & (kind < 0.975)
    through = kind >= 0.975
    half = (ask4 - bid4) // 2
    improve = np.minimum(rng.integers(1, 5, size=n) * 10, np.maximum(half - 10, 0))
    price4 = np.where(buy, ask4, bid4)
    price4 = np.where(midpoint, (bid4 + ask4) // 2, price4)
    price4 = np.where(inside, np.where(buy, ask4 - improve, bid4 + improve), price4)
    price4 = np.where(through, np.where(buy, ask4 + 100, bid4 - 100), price4)

    odd = rng.random(n) < 0.38
    fractional = odd & (rng.random(n) < 0.03)
    size = np.where(odd, rng.integers(1, 100, size=n).astype(np.float64),
                    100.0 * rng.geometric(0.4, size=n))
    size = np.where(fractional, rng.integers(1, 1000, size=n) / 1000.0, size)
    iso = through | (touch & (rng.random(n) < 0.25))
    cond = np.where(odd, _ODD, _REG)
    cond = np.where(iso, np.where(odd, _ISO_ODD, _ISO), cond)
    cond = np.where((cond == _REG) & (rng.random(n) < 0.015), _TTE, cond)

    # Opening and closing auctions with their official-price markers (RTH bounds).
    clock = path.clock
    open_px = float(np.round(path.price[0] * 100) / 100)
    close_px = float(np.round(path.price[-1] * 100) / 100)
    auction_ts = np.array([clock.open_ns + 31_000_000, clock.open_ns + 31_000_000,
                           clock.close_ns + 212_000_000, clock.close_ns + 212_000_000])
    auction_px4 = np.round(np.array([open_px, open_px, close_px, close_px]) * 1e4).astype(np.int64)
    auction_size = np.round(np.array([1.0, 1.0, 4.0, 4.0]) * 250_000 * max(scale, 0.01))
    auction_cond = np.array([_OPEN, _OFF_OPEN, _CLOSE, _OFF_CLOSE])

    all_ts = np.concatenate([ts, auction_ts])
    order = np.argsort(all_ts, kind="stable")
    all_ts = all_ts[order]
    m = len(all_ts)
    price = (np.concatenate([price4, auction_px4]) / 1e4)[order]
    size_all = np.concatenate([size, auction_size])[order]
    cond_all = np.concatenate([cond, auction_cond])[order].astype(np.int16)
    correction = np.zeros(m, dtype=np.int8)
    fix = rng.choice(m, size=count_for(2e-5, m, scale), replace=False)
    correction[fix] = rng.choice(np.array([1, 8], dtype=np.int8), size=len(fix))
    exchange = rng.choice(_EXCHANGES, size=m, p=_EXCH_P)
    exchange[np.isin(cond_all, (_OPEN, _OFF_OPEN, _CLOSE, _OFF_CLOSE))] = 11  # NYSE Arca auctions
    trf = exchange == 4
    participant = _participant(rng, all_ts)
    cols: dict[str, npt.NDArray[Any]] = {
        "ticker": np.zeros(m, dtype=np.int32),
        "conditions": cond_all,
        "correction": correction,
        "exchange": exchange,
        "id": np.arange(1, m + 1, dtype=np.int64) * 7 + 50_000,
        "participant_timestamp": participant,
        "price": price,
        "sequence_number": _sequence(rng, m, 2_000),
        "sip_timestamp": all_ts,
        "size": size_all,
        "tape": np.full(m, _TAPE_B, dtype=np.int8),
        "trf_id": np.where(trf, rng.choice(np.array([201, 202, 203]), size=m), 0),
        "trf_timestamp": np.where(trf, participant + rng.integers(1_000, 50_000, size=m), 0),
    }
    index = disorder_index(rng, all_ts, late=count_for(5, m, scale),
                           duplicates=count_for(3, m, scale))
    return SampleTable(dataset="us_stocks_sip/trades_v1",
                       columns={k: v[index] for k, v in cols.items()},
                       tickers=(TICKER,), condition_sets=STOCK_CONDITION_SETS)


def stock_tables(rng: np.random.Generator, path: LatentPath, *, quotes: float, trades: float,
                 scale: float) -> tuple[SampleTable, SampleTable]:
    """SPY (trades, quotes) with about ``trades`` and ``quotes`` rows over the session."""
    trade_ts = event_times(rng, path, trades, mean_cluster=1.8)
    echo = trade_ts[rng.random(len(trade_ts)) < 0.05]  # quotes stamped with a trade's ts
    quote_ts = np.sort(np.concatenate([event_times(rng, path, quotes - len(echo),
                                                   mean_cluster=1.5), echo]), kind="stable")
    q = _quotes(rng, path, quote_ts, scale)
    t = _trades(rng, path, trade_ts, q, scale)
    return t, q
