"""The ``gamma`` context provider: per-strike GEX of the session's chain at the current spot.

For each bar of the chain's underlying (``chain.underlying``, e.g. ``I:SPX``) or of its proxy
(``proxy_symbol``, default ``SPY``) on the chain's trading day, the provider returns a
:class:`~spxcc_core.contracts.setup.GammaPressure` (``spxcc_core.gamma.compute_gamma_pressure``):

- **spot** — on the underlying's own bars, the bar's close. On proxy bars: the latest
  underlying index value stamped before the bar's end if it is at most ``index_max_age_s`` old
  (``SessionMarket.index_value``), else the proxy's close × ``proxy_ratio`` (SPY × 10 ≈ SPX; the
  real ratio drifts a few tenths of a percent from 10, so the index value is preferred);
- **time to expiry** — ACT/365 to each contract's settlement instant (16:00 New York for SPXW),
  floored at ``min_t_minutes``;
- **OI baseline** — the chain's open interest (previous close), dealers long calls / short puts
  by default (``call_sign``/``put_sign``);
- **flow proxy** — signed contracts since the RTH open per contract from the option microbars'
  ``deltaVolume`` that ended by the bar's end (``SessionMarket.flow_as_of``), customers against
  dealers by default (``flow_sign = −1``). ``source`` is ``oi_baseline+flow_proxy`` once any
  option bar has been counted, else ``oi_baseline``.

The signs are written into ``sign_convention``. The value is recomputed at most once per
``recompute_s`` seconds — on the first bar of each ``recompute_s`` slot of the epoch-aligned grid
(so the instants do not depend on where the data starts); between recomputes the previous value
stays in ``ctx.gamma``. ``as_of_ms`` is the end of the bar that triggered the recompute.

At the end of the symbol's day (``on_session_end``) the provider returns the gamma pressure as
of the RTH close (spot: index value at the close, else the last RTH proxy close × ratio; flow:
every option bar ending by the close) — what the replay report lists under ``sessionEnd``.

No chain (``market.chain`` None), another day, another symbol, or no price yet: None.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from spxcc_core.contracts.setup import GammaPressure
from spxcc_core.detect.base import ContextProvider
from spxcc_core.gamma import compute_gamma_pressure

if TYPE_CHECKING:
    from spxcc_core.chain import ChainSnapshot
    from spxcc_core.contracts.microbar import MicrobarV1
    from spxcc_core.detect.context import BarContext

__all__ = ["GammaParams", "GammaProvider"]

_MINUTES_PER_YEAR = 365.0 * 24 * 60
_pos = attrs.validators.gt(0.0)


def _sign(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if value not in (-1, 1):
        raise ValueError(f"{attribute.name!r} must be +1 or -1, got {value!r}")


@attrs.frozen(kw_only=True)
class GammaParams:
    """Parameters of the ``gamma`` provider.

    :ivar recompute_s: recompute at most once per this many seconds (> 0; default 60).
    :ivar proxy_symbol: the traded proxy of the index whose bars also carry gamma (``SPY``).
    :ivar proxy_ratio: index points per proxy price unit (> 0; default 10: SPX ≈ SPY × 10).
    :ivar index_max_age_s: an index value older than this (seconds, >= 0) is not used; default 5.
    :ivar call_sign: assumed dealer position in calls, +1 (long, default) or −1.
    :ivar put_sign: assumed dealer position in puts, −1 (short, default) or +1.
    :ivar flow_sign: dealer side of customer flow, −1 (against customers, default) or +1.
    :ivar rate: continuously compounded risk-free rate (default 0).
    :ivar dividend: continuous dividend yield (default 0).
    :ivar min_t_minutes: floor of the time to expiry, minutes (> 0; default 5).
    """

    recompute_s: float = attrs.field(default=60.0, validator=_pos)
    proxy_symbol: str = "SPY"
    proxy_ratio: float = attrs.field(default=10.0, validator=_pos)
    index_max_age_s: float = attrs.field(default=5.0, validator=attrs.validators.ge(0.0))
    call_sign: int = attrs.field(default=1, validator=_sign)
    put_sign: int = attrs.field(default=-1, validator=_sign)
    flow_sign: int = attrs.field(default=-1, validator=_sign)
    rate: float = 0.0
    dividend: float = 0.0
    min_t_minutes: float = attrs.field(default=5.0, validator=_pos)


_NONE, _UNDERLYING, _PROXY = 0, 1, 2


class GammaProvider(ContextProvider):
    """Gamma pressure of the session's option chain, on underlying and proxy bars."""

    name: ClassVar[str] = "gamma"
    version: ClassVar[int] = 1
    params_class: ClassVar[type[Any]] = GammaParams
    context_slot: ClassVar[str | None] = "gamma"  # its values also fill ctx.gamma

    def __init__(self, params: GammaParams, *, symbol: str) -> None:
        super().__init__(params, symbol=symbol)
        self.params: GammaParams = params
        self._every_ms = max(1, round(params.recompute_s * 1000.0))
        self._max_age_ms = round(params.index_max_age_s * 1000.0)
        self._snap: ChainSnapshot | None = None
        self._role = _NONE
        self._slot: int | None = None
        self._rth_close: float | None = None

    def _role_for(self, snap: ChainSnapshot) -> int:
        self._snap = snap
        if self.symbol == snap.underlying:
            return _UNDERLYING
        if self.symbol == self.params.proxy_symbol:
            return _PROXY
        return _NONE

    def on_bar(self, bar: MicrobarV1, ctx: BarContext) -> GammaPressure | None:
        market = self.market
        if market is None:
            return None
        snap = market.chain
        if snap is None:
            return None
        if snap is not self._snap:
            self._role = self._role_for(snap)
            self._slot = None
        if self._role == _NONE:
            return None
        close = bar.close
        if close is not None and ctx.in_rth:
            self._rth_close = close
        start = bar.start_ms
        slot = start // self._every_ms
        if slot == self._slot:
            return None
        day = market.day
        if day is None or not day.day_start_ms <= start < day.day_end_ms:
            return None
        price = close if close is not None else ctx.last_price
        if price is None:
            return None
        self._slot = slot
        return self.gamma_at(start + bar.interval_ms, price)

    def gamma_at(self, at_ms: int, price: float) -> GammaPressure | None:
        """Gamma pressure as of ``at_ms`` given this symbol's latest price ``price`` (see the
        module docstring for the spot rule); None without a market, a chain, or a role."""
        market = self.market
        snap = market.chain if market is not None else None
        if market is None or snap is None or self._role == _NONE:
            return None
        p = self.params
        spot = price
        if self._role == _PROXY:
            value = market.index_value(snap.underlying, at_ms, self._max_age_ms)
            spot = value if value is not None else price * p.proxy_ratio
        return compute_gamma_pressure(
            snap.chain, spot, at_ms, underlying=snap.underlying, rate=p.rate,
            dividend=p.dividend, flow=market.flow_as_of(at_ms), call_sign=p.call_sign,
            put_sign=p.put_sign, flow_sign=p.flow_sign,
            min_t_years=p.min_t_minutes / _MINUTES_PER_YEAR)

    def on_session_end(self, ctx: BarContext) -> GammaPressure | None:
        market = self.market
        if market is None or market.chain is None or self._role == _NONE:
            return None
        day = market.day
        if (day is None or day.close_ms is None or day.session_id != ctx.session_id
                or self._rth_close is None):
            return None
        return self.gamma_at(day.close_ms, self._rth_close)
