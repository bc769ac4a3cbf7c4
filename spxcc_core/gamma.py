"""Gamma pressure context (phase 14 G3): per-strike GEX from an option chain's open interest,
plus an intraday flow proxy from classified option trades.

Open interest is published once a day, so the intraday picture is modelled as the **OI
baseline** plus a **flow proxy**: the signed customer volume since the open (buyer-initiated
minus seller-initiated contracts, Lee–Ready classified) per contract. Output ``source`` says
which parts are in it (``oi_baseline`` or ``oi_baseline+flow_proxy``).

Definitions (``GLOSSARY.md``):

- Black–Scholes gamma ``e^{−qT} φ(d1) / (S σ √T)``, ``d1 = (ln(S/K) + (r − q + σ²/2) T) / (σ √T)``;
- GEX per contract ``gamma × contracts × multiplier × S² × 0.01`` (dollars of delta per 1% move),
  signed by the assumed dealer position: by default dealers are long calls (+1) and short puts
  (−1); the flow proxy assumes customers trade against dealers (``flow_sign = −1``: a customer
  buy makes the dealer shorter gamma). The signs are parameters, written into the output.
- Time to expiry: calendar time (ACT/365) to the contract's settlement instant (16:00 New York on
  the expiry date for PM-settled SPXW), floored at ``min_t_years`` so 0DTE gamma stays finite.
- IV: taken from the chain when given (finite, > 0); otherwise solved from the quote mid with a
  vectorised safeguarded Newton iteration (bisection fallback); rows where neither works are
  left out and counted (``skipped_contracts``).

Everything here is vectorised with numpy over the chain.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from spxcc_core.contracts.setup import GammaPressure, StrikeGamma
from spxcc_core.errors import InputError
from spxcc_core.session import NEW_YORK

__all__ = [
    "DEFAULT_MIN_T_YEARS",
    "MS_PER_YEAR",
    "OptionChain",
    "bs_delta",
    "bs_gamma",
    "bs_price",
    "bs_vega",
    "compute_gamma_pressure",
    "flow_from_trades",
    "implied_vol",
    "settlement_ms",
    "time_to_expiry_years",
]

F64 = npt.NDArray[np.float64]
ArrayLike = float | Sequence[float] | npt.NDArray[Any]

#: Milliseconds in a 365-day year (ACT/365 calendar time).
MS_PER_YEAR = 365 * 24 * 3600 * 1000
#: Default floor of the time to expiry: 5 minutes, in years.
DEFAULT_MIN_T_YEARS = 5.0 / (365 * 24 * 60)

_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_erf = np.frompyfunc(math.erf, 1, 1)


def _f(x: Any) -> F64:
    return np.asarray(x, dtype=np.float64)


def _pdf(x: F64) -> F64:
    return _INV_SQRT_2PI * np.exp(-0.5 * x * x)


def _cdf(x: F64) -> F64:
    return 0.5 * (1.0 + np.asarray(_erf(x / _SQRT2), dtype=np.float64))


def _d1(s: F64, k: F64, t: F64, sigma: F64, r: F64, q: F64) -> F64:
    return (np.log(s / k) + (r - q + 0.5 * sigma * sigma) * t) / (sigma * np.sqrt(t))


def bs_gamma(spot: ArrayLike, strike: ArrayLike, t_years: ArrayLike, sigma: ArrayLike,
             rate: ArrayLike = 0.0, dividend: ArrayLike = 0.0) -> F64:
    """Black–Scholes gamma (per 1 point of the underlying), elementwise."""
    s, k, t, v = _f(spot), _f(strike), _f(t_years), _f(sigma)
    r, q = _f(rate), _f(dividend)
    d1 = _d1(s, k, t, v, r, q)
    return np.exp(-q * t) * _pdf(d1) / (s * v * np.sqrt(t))


def bs_delta(spot: ArrayLike, strike: ArrayLike, t_years: ArrayLike, sigma: ArrayLike,
             is_call: bool | Sequence[bool] | npt.NDArray[np.bool_], rate: ArrayLike = 0.0,
             dividend: ArrayLike = 0.0) -> F64:
    """Black–Scholes delta (per 1 point of the underlying), elementwise: ``e^{−qT} N(d1)`` for
    a call (in (0, 1)), ``e^{−qT} (N(d1) − 1)`` for a put (in (−1, 0))."""
    s, k, t, v = _f(spot), _f(strike), _f(t_years), _f(sigma)
    r, q = _f(rate), _f(dividend)
    d1 = _d1(s, k, t, v, r, q)
    n = _cdf(d1)
    call = np.asarray(is_call, dtype=bool)
    return np.asarray(np.exp(-q * t) * np.where(call, n, n - 1.0), dtype=np.float64)


def bs_vega(spot: ArrayLike, strike: ArrayLike, t_years: ArrayLike, sigma: ArrayLike,
            rate: ArrayLike = 0.0, dividend: ArrayLike = 0.0) -> F64:
    """Black–Scholes vega (price change per 1.0 of volatility), elementwise."""
    s, k, t, v = _f(spot), _f(strike), _f(t_years), _f(sigma)
    r, q = _f(rate), _f(dividend)
    d1 = _d1(s, k, t, v, r, q)
    return s * np.exp(-q * t) * _pdf(d1) * np.sqrt(t)


def bs_price(spot: ArrayLike, strike: ArrayLike, t_years: ArrayLike, sigma: ArrayLike,
             is_call: bool | Sequence[bool] | npt.NDArray[np.bool_], rate: ArrayLike = 0.0,
             dividend: ArrayLike = 0.0) -> F64:
    """Black–Scholes price of European options, elementwise (``is_call`` True = call)."""
    s, k, t, v = _f(spot), _f(strike), _f(t_years), _f(sigma)
    r, q = _f(rate), _f(dividend)
    call = np.asarray(is_call, dtype=bool)
    d1 = _d1(s, k, t, v, r, q)
    d2 = d1 - v * np.sqrt(t)
    fs = s * np.exp(-q * t)
    dk = k * np.exp(-r * t)
    call_px = fs * _cdf(d1) - dk * _cdf(d2)
    put_px = dk * _cdf(-d2) - fs * _cdf(-d1)
    return np.asarray(np.where(call, call_px, put_px), dtype=np.float64)


def implied_vol(price: ArrayLike, spot: ArrayLike, strike: ArrayLike, t_years: ArrayLike,
                is_call: bool | Sequence[bool] | npt.NDArray[np.bool_], rate: ArrayLike = 0.0,
                dividend: ArrayLike = 0.0, *, lo: float = 1e-4, hi: float = 5.0,
                tol: float = 1e-10, max_iter: int = 100) -> F64:
    """Black–Scholes implied volatility, elementwise; NaN where ``price`` is outside the
    no-arbitrage bounds or no volatility in ``[lo, hi]`` reproduces it.

    Safeguarded Newton: each step keeps a bracket ``[lo, hi]`` around the root and falls back to
    bisection when the Newton step leaves it; stops at ``|model − price| <= tol`` (absolute).
    """
    target, s, k, t = np.broadcast_arrays(_f(price), _f(spot), _f(strike), _f(t_years))
    call = np.broadcast_to(np.asarray(is_call, dtype=bool), target.shape)
    r = np.broadcast_to(_f(rate), target.shape)
    q = np.broadcast_to(_f(dividend), target.shape)
    fs = s * np.exp(-q * t)
    dk = k * np.exp(-r * t)
    lower = np.where(call, np.maximum(fs - dk, 0.0), np.maximum(dk - fs, 0.0))
    upper = np.where(call, fs, dk)
    valid = np.isfinite(target) & (target > lower) & (target < upper) & (t > 0)
    a = np.full(target.shape, lo)
    b = np.full(target.shape, hi)
    sigma = np.full(target.shape, 0.3)
    done = ~valid
    for _ in range(max_iter):
        if done.all():
            break
        model = bs_price(s, k, t, sigma, call, r, q)
        diff = model - target
        done |= np.abs(diff) <= tol
        above = diff > 0.0
        b = np.where(above & ~done, sigma, b)
        a = np.where(~above & ~done, sigma, a)
        vega = bs_vega(s, k, t, sigma, r, q)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = sigma - diff / vega
        bad = ~np.isfinite(step) | (step <= a) | (step >= b)
        sigma = np.where(done, sigma, np.where(bad, 0.5 * (a + b), step))
    model = bs_price(s, k, t, sigma, call, r, q)
    ok = valid & (np.abs(model - target) <= max(tol * 1e3, 1e-8))
    return np.where(ok, sigma, np.nan)


def settlement_ms(expiry: dt.date, settle: dt.time = dt.time(16, 0)) -> int:
    """Epoch ms of the settlement instant: ``settle`` New York time on ``expiry`` (16:00 for
    PM-settled SPXW)."""
    return int(dt.datetime.combine(expiry, settle, tzinfo=NEW_YORK).timestamp() * 1000)


def time_to_expiry_years(now_ms: ArrayLike, expiry_ms: ArrayLike,
                         min_t_years: float = DEFAULT_MIN_T_YEARS) -> F64:
    """ACT/365 years from ``now_ms`` to ``expiry_ms``, floored at ``min_t_years``."""
    return np.maximum((_f(expiry_ms) - _f(now_ms)) / MS_PER_YEAR, min_t_years)


def _same_len(instance: OptionChain, attribute: attrs.Attribute[Any], value: Any) -> None:
    if len(value) != len(instance.strike):
        raise InputError("option chain", f"column {attribute.name} has {len(value)} rows, "
                         f"strike has {len(instance.strike)}")


def _nan_col(a: Any) -> F64:
    return np.ascontiguousarray(a, dtype=np.float64)


def _bool_col(a: Any) -> npt.NDArray[np.bool_]:
    return np.ascontiguousarray(a, dtype=bool)


def _int_col(a: Any) -> npt.NDArray[np.int64]:
    return np.ascontiguousarray(a, dtype=np.int64)


@attrs.frozen(eq=False)
class OptionChain:
    """An option chain snapshot as columns (one row per contract).

    ``strike`` (> 0, price units), ``is_call``, ``expiry_ms`` (settlement instant, epoch ms, see
    :func:`settlement_ms`), ``open_interest`` (contracts, >= 0), ``iv`` (annualised, NaN when
    unknown), ``bid``/``ask`` (NaN when unknown), ``symbols`` (option tickers, optional: needed
    only to match trades in :func:`flow_from_trades`).
    """

    strike: F64 = attrs.field(converter=_nan_col)
    is_call: npt.NDArray[np.bool_] = attrs.field(converter=_bool_col, validator=_same_len)
    expiry_ms: npt.NDArray[np.int64] = attrs.field(converter=_int_col, validator=_same_len)
    open_interest: F64 = attrs.field(converter=_nan_col, validator=_same_len)
    iv: F64 = attrs.field(converter=_nan_col, validator=_same_len)
    bid: F64 = attrs.field(converter=_nan_col, validator=_same_len)
    ask: F64 = attrs.field(converter=_nan_col, validator=_same_len)
    symbols: tuple[str, ...] = attrs.field(default=(), converter=tuple)

    def __attrs_post_init__(self) -> None:
        if not (np.isfinite(self.strike) & (self.strike > 0)).all():
            raise InputError("option chain", "strikes must be finite and > 0")
        oi = self.open_interest
        if not (np.isfinite(oi) & (oi >= 0)).all():
            raise InputError("option chain", "open interest must be finite and >= 0")
        if self.symbols and len(self.symbols) != len(self.strike):
            raise InputError("option chain", f"{len(self.symbols)} symbols for "
                             f"{len(self.strike)} rows")

    def __len__(self) -> int:
        return len(self.strike)


def flow_from_trades(chain: OptionChain,
                     trades: Iterable[tuple[str, float, int]]) -> tuple[F64, dict[str, int]]:
    """Signed customer volume per chain row from classified trades ``(symbol, size, side)``
    with side +1 buyer-initiated, −1 seller-initiated, 0 unclassified (counts nowhere).

    :returns: the per-row signed volume (contracts) and the number of trades per symbol that
        are not in the chain (reported, not silently dropped).
    :raises InputError: the chain has no symbols.
    """
    if not chain.symbols:
        raise InputError("option chain", "symbols are needed to match option trades")
    index = {sym: i for i, sym in enumerate(chain.symbols)}
    flow = np.zeros(len(chain), dtype=np.float64)
    unmatched: dict[str, int] = {}
    for symbol, size, side in trades:
        i = index.get(symbol)
        if i is None:
            unmatched[symbol] = unmatched.get(symbol, 0) + 1
            continue
        flow[i] += side * size
    return flow, unmatched


def compute_gamma_pressure(chain: OptionChain, spot: float, as_of_ms: int, *,
                           underlying: str = "SPX", rate: float = 0.0, dividend: float = 0.0,
                           flow: F64 | None = None, call_sign: int = 1, put_sign: int = -1,
                           flow_sign: int = -1, multiplier: float = 100.0,
                           min_t_years: float = DEFAULT_MIN_T_YEARS) -> GammaPressure:
    """Per-strike gamma exposure of ``chain`` at ``spot`` (see the module docstring).

    :param flow: signed customer volume per chain row since the open (e.g. from
        :func:`flow_from_trades`); None for the OI baseline alone.
    :raises InputError: ``spot`` not finite and > 0, or ``flow`` of the wrong length.
    """
    if not (math.isfinite(spot) and spot > 0):
        raise InputError("gamma pressure", f"spot must be finite and > 0, got {spot}")
    t = time_to_expiry_years(as_of_ms, chain.expiry_ms, min_t_years)
    iv = chain.iv.copy()
    need = ~(np.isfinite(iv) & (iv > 0))
    if need.any():
        bid, ask = chain.bid[need], chain.ask[need]
        mid = np.where(np.isfinite(bid) & np.isfinite(ask) & (ask > 0) & (bid >= 0),
                       0.5 * (bid + ask), np.nan)
        iv[need] = implied_vol(mid, spot, chain.strike[need], t[need], chain.is_call[need],
                               rate, dividend)
    usable = np.isfinite(iv) & (iv > 0)
    sigma = np.where(usable, iv, 1.0)
    unit = bs_gamma(spot, chain.strike, t, sigma, rate, dividend) * multiplier * spot * spot * 0.01
    unit = np.where(usable, unit, 0.0)
    sign = np.where(chain.is_call, float(call_sign), float(put_sign))
    oi_gex = sign * chain.open_interest * unit
    if flow is not None:
        flow = np.asarray(flow, dtype=np.float64)
        if flow.shape != chain.strike.shape:
            raise InputError("gamma pressure", f"flow has {flow.size} rows, chain {len(chain)}")
        flow_gex = float(flow_sign) * flow * unit
    else:
        flow_gex = np.zeros_like(unit)
    strikes, inverse = np.unique(chain.strike, return_inverse=True)
    n = len(strikes)
    call_by = np.bincount(inverse, weights=np.where(chain.is_call, oi_gex, 0.0), minlength=n)
    put_by = np.bincount(inverse, weights=np.where(chain.is_call, 0.0, oi_gex), minlength=n)
    flow_by = np.bincount(inverse, weights=flow_gex, minlength=n)
    rows = tuple(StrikeGamma(strike=float(k), call_gex=float(c), put_gex=float(p),
                             flow_gex=float(f), net_gex=float(c + p + f))
                 for k, c, p, f in zip(strikes, call_by, put_by, flow_by, strict=True))
    oi_total = float(oi_gex.sum())
    flow_total = float(flow_gex.sum())
    convention = f"calls:{call_sign:+d},puts:{put_sign:+d}"
    if flow is not None:
        convention += f",flow:{flow_sign:+d}"
    return GammaPressure(
        underlying=underlying, as_of_ms=as_of_ms, spot=float(spot),
        source="oi_baseline+flow_proxy" if flow is not None else "oi_baseline",
        sign_convention=convention, rate=float(rate), strikes=rows,
        total_gex=oi_total + flow_total, oi_gex=oi_total, flow_gex=flow_total,
        skipped_contracts=int((~usable).sum()))
