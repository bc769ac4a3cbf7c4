"""Random trading days of microbars for property tests of whole-day code paths (detector
scans, the compiled setup lifecycle): a seeded random walk from before the open to after the
close, with uneven gaps, volume spikes, one-sided delta, null prices, bars out of order, and
now and then a second symbol or a second day."""

from __future__ import annotations

import datetime as dt

import numpy as np

from spxcc_core.contracts.microbar import MicrobarV2

#: 2025-12-03, a Wednesday: RTH 14:30-21:00 UTC
DAY0_MS = int(dt.datetime(2025, 12, 3, tzinfo=dt.UTC).timestamp() * 1000)
OPEN_MS = DAY0_MS + (14 * 60 + 30) * 60_000
CLOSE_MS = DAY0_MS + 21 * 60 * 60_000


def _walk(rng: np.random.Generator, symbol: str, start_ms: int, end_ms: int,
          price: float) -> list[MicrobarV2]:
    bars: list[MicrobarV2] = []
    t = start_ms
    step_choices = np.array([1_000, 1_000, 1_000, 2_000, 5_000, 30_000, 120_000])
    vol_scale = float(rng.uniform(0.5, 5.0))
    drift = float(rng.normal(0.0, 0.0004))
    while t < end_ms:
        move = price * (drift + float(rng.normal(0.0, 0.0006)))
        if rng.random() < 0.01:  # a jump
            move += price * float(rng.normal(0.0, 0.004))
        o = price
        c = max(0.01, round(price + move, 2))
        hi = round(max(o, c) + abs(float(rng.normal(0.0, price * 0.0002))), 2)
        lo = round(min(o, c) - abs(float(rng.normal(0.0, price * 0.0002))), 2)
        volume = float(rng.integers(0, 50)) * vol_scale
        if rng.random() < 0.04:
            volume *= float(rng.uniform(3.0, 12.0))  # a spike
        delta = volume * float(rng.uniform(-1.0, 1.0))
        if rng.random() < 0.1:
            delta = volume * float(rng.choice([-1.0, 1.0]))
        nulls = rng.random() < 0.03 or volume == 0.0
        bars.append(MicrobarV2(
            symbol=symbol, start_ms=t, interval_ms=1000,
            open=None if nulls else o, high=None if nulls else hi, low=None if nulls else lo,
            close=None if nulls else c, volume=0.0 if nulls else volume,
            trade_count=0 if nulls else 1,
            vwap=None if nulls else round((hi + lo + c) / 3.0, 4),
            delta_volume=0.0 if nulls else delta,
            bid_ask_imbalance=float(rng.uniform(-1.0, 1.0)),
            ask_bid_size_ratio=float(rng.uniform(0.1, 4.0)),
            quote_coverage_pct=float(rng.uniform(50.0, 100.0)),
            avg_spread_bps=float(rng.uniform(0.5, 9.0)),
            bid_size_at_close=float(rng.integers(1, 20)),
            ask_size_at_close=float(rng.integers(1, 20)), quote_count=3))
        price = c
        t += int(rng.choice(step_choices))
    return bars


def random_day(seed: int, *, minutes: int = 40) -> list[MicrobarV2]:
    """Bars in production order: SPY from 5 minutes before the open for ``minutes`` minutes
    (sometimes instead around the close, into the evening), sometimes a second symbol
    interleaved, a second day, and a few bars repeated out of order."""
    rng = np.random.default_rng(seed)
    where = rng.random()
    start = CLOSE_MS - 20 * 60_000 if where < 0.2 else OPEN_MS - 5 * 60_000
    bars = _walk(rng, "SPY", start, start + minutes * 60_000, float(rng.uniform(50.0, 700.0)))
    if rng.random() < 0.25:  # the next day too
        nxt = start + 24 * 60 * 60_000
        bars += _walk(rng, "SPY", nxt, nxt + minutes * 60_000, bars[-1].close or 100.0)
    if rng.random() < 0.25:  # another symbol, interleaved by start
        other = _walk(rng, "QQQ", start, start + minutes * 60_000, 400.0)
        bars = sorted(bars + other, key=lambda b: (b.start_ms, b.symbol))
    if rng.random() < 0.3 and len(bars) > 10:  # repeats out of order (quarantined)
        for _ in range(3):
            i = int(rng.integers(5, len(bars)))
            bars.insert(i, bars[int(rng.integers(0, i))])
    return bars
