"""Latent market state of the sample session: volatility regimes, order-flow pressure, the
efficient SPY price, and clustered event arrival times.

Everything is vectorised numpy driven by one :class:`numpy.random.Generator`; the only Python
loops run over fixed, small ranges (never over events).
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from spxcc_core.sample.clock import SessionClock

__all__ = ["GRID_NS", "LatentPath", "event_times", "latent_path"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

#: Resolution of the latent price path (100 ms).
GRID_NS = 100_000_000
_NS = 1_000_000_000

#: Volatility multipliers of the three regimes (calm, normal, volatile) and their weights.
_REGIME_VOL = np.array([0.6, 1.0, 2.2])
_REGIME_P = np.array([0.35, 0.5, 0.15])
#: Daily volatility of SPY returns (fraction), before regimes and the intraday U shape.
_DAILY_VOL = 0.009


@attrs.frozen(eq=False)
class LatentPath:
    """Per-second activity and pressure, and the efficient price on a 100 ms grid.

    ``activity`` (per second, mean 1) scales event intensity and volatility; ``pressure`` (per
    second, roughly N(0, 1)) tilts drift, trade side and quote-size imbalance; ``price`` is the
    efficient SPY price in dollars per 100 ms step from the open.
    """

    clock: SessionClock
    activity: F64
    pressure: F64
    price: F64

    def price_at(self, ts: I64) -> F64:
        """Efficient price (dollars) at each timestamp (ns); clamped to the session."""
        i = np.clip((ts - self.clock.open_ns) // GRID_NS, 0, len(self.price) - 1)
        return self.price[i]

    def pressure_at(self, ts: I64) -> F64:
        """Order-flow pressure at each timestamp (ns); clamped to the session."""
        i = np.clip((ts - self.clock.open_ns) // _NS, 0, len(self.pressure) - 1)
        return self.pressure[i]

    def activity_at(self, ts: I64) -> F64:
        """Activity multiplier at each timestamp (ns); clamped to the session."""
        i = np.clip((ts - self.clock.open_ns) // _NS, 0, len(self.activity) - 1)
        return self.activity[i]


def _ar1(rng: np.random.Generator, n: int, phi: float) -> F64:
    """A stationary unit-variance AR(1) series of length ``n`` (FIR-truncated, vectorised)."""
    k = int(np.ceil(np.log(1e-4) / np.log(phi)))
    kernel = phi ** np.arange(k)
    eps = rng.standard_normal(n + k)
    series = np.convolve(eps, kernel, mode="valid")[:n]
    return np.asarray(series * np.sqrt(1.0 - phi * phi), dtype=np.float64)


def latent_path(rng: np.random.Generator, clock: SessionClock, start_price: float) -> LatentPath:
    """Draw the session's latent state: U-shaped intraday activity times sticky per-minute
    volatility regimes, an AR(1) pressure signal, and a geometric random walk price."""
    n_sec = clock.seconds
    t = np.arange(n_sec, dtype=np.float64)
    ushape = 1.0 + 1.6 * np.exp(-t / 1200.0) + 0.9 * np.exp(-(n_sec - t) / 1800.0)
    n_min = (n_sec + 59) // 60
    switch = rng.random(n_min) < 0.07
    switch[0] = True
    states = rng.choice(3, size=n_min, p=_REGIME_P)
    last_switch = np.maximum.accumulate(np.where(switch, np.arange(n_min), 0))
    regime = _REGIME_VOL[states[last_switch]][np.arange(n_sec) // 60]
    activity = ushape * regime
    activity /= activity.mean()
    pressure = _ar1(rng, n_sec, 0.985)

    steps_per_sec = _NS // GRID_NS
    n_steps = n_sec * steps_per_sec
    sigma = _DAILY_VOL / np.sqrt(n_steps) * np.repeat(np.sqrt(activity), steps_per_sec)
    drift = 0.02 * sigma * np.repeat(pressure, steps_per_sec)
    log_ret = drift + sigma * rng.standard_normal(n_steps)
    price = start_price * np.exp(np.cumsum(log_ret))
    return LatentPath(clock=clock, activity=activity, pressure=pressure, price=price)


def event_times(rng: np.random.Generator, path: LatentPath, total: float, *,
                mean_cluster: float = 1.6, weight: F64 | None = None) -> I64:
    """Sorted arrival times (epoch ns) of about ``total`` events over the session.

    Parents arrive as a Poisson process whose per-second intensity follows ``weight`` (default:
    the path's activity); each parent starts a cluster of 1 + geometric more events, half of
    them at the parent's exact nanosecond and the rest a few microseconds apart (same-ms
    bursts). Times are clamped to ``[open, close)``.
    """
    clock = path.clock
    w: Any = path.activity if weight is None else weight
    lam = w / w.sum() * (total / mean_cluster)
    n_par = rng.poisson(lam)
    second = np.repeat(np.arange(len(lam), dtype=np.int64), n_par)
    parent = clock.open_ns + second * _NS + rng.integers(0, _NS, size=len(second))
    size = rng.geometric(1.0 / mean_cluster, size=len(second))
    idx = np.repeat(np.arange(len(second)), size)
    n = len(idx)
    gaps = np.where(rng.random(n) < 0.5, 0, rng.integers(1, 20_000, size=n))
    starts = np.cumsum(size) - size
    gaps[starts] = 0
    csum = np.cumsum(gaps)
    offsets = csum - np.repeat(csum[starts], size)
    ts = np.minimum(parent[idx] + offsets, clock.close_ns - 1)
    ts.sort(kind="stable")
    return np.asarray(ts, dtype=np.int64)
