"""``I:SPX`` index values and SPXW 0DTE option quotes and trades near the money.

The index is 10 × the efficient SPY price, one value per second. Option quote mids follow a
rough Black–Scholes price of the simulated index (European, no rates or dividends, time to the
16:00 New York expiry); quotes are on the SPXW tick grid (0.05 below 3.00, 0.10 from 3.00), a
bid that would be worth less than one tick is written as an empty side (price and size 0).
Sizes are contracts. Trades print at the bid, the ask or the midpoint of the quote in force.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import numpy.typing as npt

from spxcc_core.sample.process import LatentPath, event_times
from spxcc_core.sample.tables import SampleTable

__all__ = ["INDEX_TICKER", "OPTION_CONDITION_SETS", "bs_price", "index_table", "occ_ticker",
           "option_tables"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

INDEX_TICKER = "I:SPX"
#: Option trade condition sets (OPRA ids, massive.md §3.5): none, AUTO, ISO, multi-leg.
OPTION_CONDITION_SETS: tuple[tuple[int, ...], ...] = ((), (209,), (219,), (232,), (233,))
_OPT_COND_P = np.array([0.15, 0.62, 0.1, 0.08, 0.05])
_YEAR_S = 365.0 * 24 * 3600
_NS = 1_000_000_000
_VOL = 0.13


def occ_ticker(root: str, expiry: dt.date, right: str, strike: float) -> str:
    """Massive option ticker ``O:{root}{YYMMDD}{C|P}{strike×1000:08d}``."""
    return f"O:{root}{expiry:%y%m%d}{right}{round(strike * 1000):08d}"


def _norm_cdf(x: F64) -> F64:
    # Abramowitz–Stegun 7.1.26 erf (|error| < 1.5e-7), vectorised.
    z = np.abs(x) / np.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741
                + t * (-1.453152027 + t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-z * z)
    return np.asarray(0.5 * (1.0 + np.sign(x) * erf), dtype=np.float64)


def bs_price(spot: F64, strike: float, years: F64, vol: float | F64, call: bool) -> F64:
    """Black–Scholes price (zero rate and dividend) of a European option, in index points;
    ``years`` to expiry (floored at 1e-9), ``vol`` annualised (scalar or per element)."""
    t = np.maximum(years, 1e-9)
    sd = vol * np.sqrt(t)
    d1 = (np.log(spot / strike) + 0.5 * sd * sd) / sd
    d2 = d1 - sd
    if call:
        return np.asarray(spot * _norm_cdf(d1) - strike * _norm_cdf(d2), dtype=np.float64)
    return np.asarray(strike * _norm_cdf(-d2) - spot * _norm_cdf(-d1), dtype=np.float64)


def _index_at(path: LatentPath, ts: I64) -> F64:
    return np.asarray(np.round(path.price_at(ts) * 1000.0) / 100.0, dtype=np.float64)


def index_table(rng: np.random.Generator, path: LatentPath) -> SampleTable:
    """``I:SPX`` values, one per second of the session (a few ms after each second)."""
    clock = path.clock
    ts = clock.open_ns + np.arange(clock.seconds, dtype=np.int64) * _NS \
        + rng.integers(1_000_000, 60_000_000, size=clock.seconds)
    cols: dict[str, npt.NDArray[Any]] = {
        "ticker": np.zeros(len(ts), dtype=np.int32),
        "value": _index_at(path, ts),
        "timestamp": ts,
    }
    return SampleTable(dataset="us_indices/values_v1", columns=cols, tickers=(INDEX_TICKER,))


def _tick_down(x: F64) -> F64:
    tick = np.where(x < 3.0, 0.05, 0.10)
    return np.asarray(np.floor(x / tick + 1e-9) * tick, dtype=np.float64)


def _contract(rng: np.random.Generator, path: LatentPath, strike: float, call: bool,
              n_quotes: float, n_trades: float) -> tuple[dict[str, Any], dict[str, Any]]:
    clock = path.clock
    q_ts = event_times(rng, path, n_quotes, mean_cluster=1.3)
    years = (clock.close_ns - q_ts) / _NS / _YEAR_S
    vol = _VOL * np.sqrt(path.activity_at(q_ts))
    fair = bs_price(_index_at(path, q_ts), strike, years, vol, call)
    tick = np.where(fair < 3.0, 0.05, 0.10)
    width = tick * rng.integers(1, 4, size=len(q_ts))
    bid = np.round(_tick_down(fair - width / 2.0), 2)
    ask = np.round(np.maximum(bid, 0.0) + width, 2)
    bid_size = 1 + rng.geometric(1.0 / 30.0, size=len(q_ts))
    ask_size = 1 + rng.geometric(1.0 / 30.0, size=len(q_ts))
    no_bid = bid < 0.05
    bid = np.where(no_bid, 0.0, bid)
    bid_size = np.where(no_bid, 0, bid_size)
    seq = np.cumsum(1 + rng.poisson(2.0, size=len(q_ts))) + 10_000
    quotes = {"ts": q_ts, "bid": bid, "ask": ask, "bid_size": bid_size, "ask_size": ask_size,
              "seq": seq}

    t_ts = event_times(rng, path, n_trades, mean_cluster=1.5,
                       weight=path.activity ** 1.5)
    j = np.maximum(np.searchsorted(q_ts, t_ts, side="left") - 1, 0)
    side = rng.random(len(t_ts))
    t_bid = np.where(bid[j] > 0, bid[j], ask[j] - 0.05)
    t_price = np.where(side < 0.45, ask[j], np.where(side < 0.9, t_bid, (t_bid + ask[j]) / 2))
    t_price = np.round(np.maximum(t_price, 0.05), 2)
    trades = {"ts": t_ts, "price": t_price, "size": rng.geometric(0.25, size=len(t_ts)),
              "cond": rng.choice(len(OPTION_CONDITION_SETS), size=len(t_ts), p=_OPT_COND_P)}
    return quotes, trades


def option_tables(rng: np.random.Generator, path: LatentPath, *, quotes: float, trades: float,
                  strikes_each_side: int = 1) -> tuple[SampleTable, SampleTable]:
    """SPXW 0DTE (trades, quotes) for calls and puts at ``2 × strikes_each_side + 1`` strikes
    5 points apart around the opening index level; rows sorted by ticker, then time."""
    clock = path.clock
    atm = round(float(path.price[0]) * 10.0 / 5.0) * 5.0
    strikes = [atm + 5.0 * k for k in range(-strikes_each_side, strikes_each_side + 1)]
    specs = sorted((occ_ticker("SPXW", clock.date, r, k), k, r == "C")
                   for k in strikes for r in ("C", "P"))
    n = len(specs)
    qparts: list[dict[str, Any]] = []
    tparts: list[dict[str, Any]] = []
    for _, strike, call in specs:  # one iteration per contract (a handful)
        q, t = _contract(rng, path, strike, call, quotes / n, trades / n)
        qparts.append(q)
        tparts.append(t)
    tickers = tuple(s[0] for s in specs)

    def cat(parts: list[dict[str, Any]], key: str) -> npt.NDArray[Any]:
        return np.concatenate([p[key] for p in parts])

    q_code = np.concatenate([np.full(len(p["ts"]), i, dtype=np.int32)
                             for i, p in enumerate(qparts)])
    nq = len(q_code)
    qcols: dict[str, npt.NDArray[Any]] = {
        "ticker": q_code,
        "ask_exchange": np.full(nq, 302, dtype=np.int16),
        "ask_price": cat(qparts, "ask"),
        "ask_size": cat(qparts, "ask_size").astype(np.int64),
        "bid_exchange": np.full(nq, 302, dtype=np.int16),
        "bid_price": cat(qparts, "bid"),
        "bid_size": cat(qparts, "bid_size").astype(np.int64),
        "sequence_number": cat(qparts, "seq").astype(np.int64),
        "sip_timestamp": cat(qparts, "ts"),
    }
    t_code = np.concatenate([np.full(len(p["ts"]), i, dtype=np.int32)
                             for i, p in enumerate(tparts)])
    nt = len(t_code)
    t_ts = cat(tparts, "ts")
    tcols: dict[str, npt.NDArray[Any]] = {
        "ticker": t_code,
        "conditions": cat(tparts, "cond").astype(np.int16),
        "correction": np.zeros(nt, dtype=np.int8),
        "exchange": np.where(rng.random(nt) < 0.85, 302, 322).astype(np.int16),
        "participant_timestamp": t_ts - rng.integers(10_000, 400_000, size=nt),
        "price": cat(tparts, "price"),
        "sip_timestamp": t_ts,
        "size": cat(tparts, "size").astype(np.float64),
    }
    return (SampleTable(dataset="us_options_opra/trades_v1", columns=tcols, tickers=tickers,
                        condition_sets=OPTION_CONDITION_SETS),
            SampleTable(dataset="us_options_opra/quotes_v1", columns=qcols, tickers=tickers))
