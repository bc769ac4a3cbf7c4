"""SPX option prices: the tick grid, entry limit prices and the estimated stop premium.

Units: option prices in dollars per share; the underlying distance ``d`` in index points;
delta per index point, gamma per index point squared. The SPX/SPXW tick is 0.05 for prices
below 3.00 and 0.10 from 3.00 (Cboe; ``GLOSSARY.md``).
"""

from __future__ import annotations

import math

from spxcc_core.slippage.ledger import tick_size

__all__ = ["TICK_BREAK", "entry_limit", "grid_ceil", "grid_floor", "stop_premium",
           "tick_size"]

#: Prices below this trade in 0.05 ticks, prices at or above it in 0.10 ticks
#: (:func:`tick_size`, the slippage ledger's).
TICK_BREAK = 3.00
_EPS = 1e-9


def _cents(price: float) -> float:
    return round(price * 100.0, 6)


def grid_ceil(price: float) -> float:
    """The smallest price on the tick grid at or above ``price`` (``price`` >= 0)."""
    c = _cents(price)
    step = 5 if c < 300 else 10
    out = math.ceil(c / step - _EPS) * step
    return round(out / 100.0, 2)


def grid_floor(price: float) -> float:
    """The largest price on the tick grid at or below ``price`` (``price`` >= 0)."""
    c = _cents(price)
    step = 5 if c < 300 else 10
    out = math.floor(c / step + _EPS) * step
    return round(out / 100.0, 2)


def entry_limit(bid: float, ask: float, ticks: int) -> float:
    """Limit price of a buy: ``mid + ticks × tick(mid)`` rounded up to the grid, capped at the
    ask. ``bid``/``ask`` are a two-sided quote (0 < bid <= ask), ``ticks`` >= 0."""
    mid = (bid + ask) / 2.0
    return min(ask, grid_ceil(mid + ticks * tick_size(mid)))


def stop_premium(premium: float, delta: float, gamma: float, distance: float) -> float:
    """The option premium expected when the underlying has moved ``distance`` index points
    against the position (second-order Taylor step of the option price):

        stop_premium = premium − (|Δ|·d − ½·Γ·d²)

    rounded to 4 decimals and floored at one tick (0.05): an option is never worth less than
    what it can be sold for at the smallest tick. The result may be at or above ``premium``
    when the gamma term outweighs the delta term (then the sizing rule sizes to zero).

    :param premium: entry premium (> 0).
    :param delta: the option's delta (its sign is ignored).
    :param gamma: the option's gamma (>= 0).
    :param distance: |entry − stop| of the underlying, in index points (>= 0).
    """
    loss = abs(delta) * distance - 0.5 * gamma * distance * distance
    return max(round(premium - loss, 4), 0.05)
