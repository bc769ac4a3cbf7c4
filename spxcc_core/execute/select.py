"""Contract selection: the SPXW 0DTE option a triggered setup trades.

Long setups buy calls, short setups buy puts. Among the contracts of that right, each is
checked in this order and rejected for the first criterion it fails (so every contract counts
once, and the counts add up to the contracts considered):

1. ``stale_quote``: its latest quote is older than ``max_quote_age_ms`` at the decision time
   (or it has no quote);
2. ``not_two_sided``: no bid or no offer (price or size 0: a zero bid is a real market
   state, nobody to sell to), or a crossed quote;
3. ``spread``: ask − bid above ``max_spread``;
4. ``premium``: mid outside ``[min_premium, max_premium]``;
5. ``no_volatility``: no Black–Scholes volatility reproduces the mid (outside the
   no-arbitrage bounds), so it has no delta.

The qualifying contract whose |delta| is nearest ``target_delta`` wins (ties: the lower mid,
then the symbol). Delta and gamma are Black–Scholes (:mod:`spxcc_core.gamma`) at the index
value, with the volatility implied by the mid and the time to the 16:00 New York settlement.
When nothing qualifies the result is a :class:`NoContract` with the counts per criterion.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs
import numpy as np

from spxcc_core.execute.policy import ExecutionPolicy
from spxcc_core.gamma import bs_delta, bs_gamma, implied_vol, time_to_expiry_years

__all__ = ["CRITERIA", "NoContract", "OptionQuote", "Selection", "select_contract"]

#: Rejection criteria, in the order they are checked.
CRITERIA: tuple[str, ...] = ("stale_quote", "not_two_sided", "spread", "premium",
                             "no_volatility")


@attrs.frozen(kw_only=True)
class OptionQuote:
    """The latest quote of one option contract.

    ``symbol`` the option ticker as the feed names it (``O:SPXW…``); ``strike`` in index
    points; ``settle_ms`` the settlement instant (epoch ms); ``bid``/``ask`` dollars (0: side
    absent); sizes in contracts; ``ts_ms`` the quote's time (epoch ms).
    """

    symbol: str
    strike: float
    is_call: bool
    settle_ms: int
    bid: float
    ask: float
    bid_size: float
    ask_size: float
    ts_ms: int

    @property
    def two_sided(self) -> bool:
        """Both sides present (price and size > 0) and not crossed."""
        return (self.bid > 0 and self.bid_size > 0 and self.ask > 0 and self.ask_size > 0
                and self.bid <= self.ask)

    @property
    def mid(self) -> float:
        """(bid + ask) / 2 (meaningful for a two-sided quote)."""
        return (self.bid + self.ask) / 2.0


@attrs.frozen(kw_only=True)
class Selection:
    """The chosen contract: its quote, delta (signed: calls > 0, puts < 0), gamma (per index
    point²), implied volatility (annualised) and how many contracts were considered."""

    quote: OptionQuote
    delta: float
    gamma: float
    iv: float
    considered: int


@attrs.frozen(kw_only=True)
class NoContract:
    """No contract qualified: ``rejected`` counts per criterion (only non-zero ones, in
    :data:`CRITERIA` order); ``considered`` the contracts of the right (0: none quoted)."""

    rejected: Mapping[str, int]
    considered: int


def _first_failure(q: OptionQuote, now_ms: int, policy: ExecutionPolicy) -> str | None:
    if now_ms - q.ts_ms > policy.max_quote_age_ms:
        return "stale_quote"
    if not q.two_sided:
        return "not_two_sided"
    if q.ask - q.bid > policy.max_spread + 1e-9:
        return "spread"
    if not policy.min_premium - 1e-9 <= q.mid <= policy.max_premium + 1e-9:
        return "premium"
    return None


def select_contract(quotes: Sequence[OptionQuote], *, call: bool, spot: float, now_ms: int,
                    policy: ExecutionPolicy, rate: float = 0.0) -> Selection | NoContract:
    """The contract to buy for a long (``call``) or short (put) setup at ``now_ms`` with the
    index at ``spot`` (module docstring)."""
    side = [q for q in quotes if q.is_call == call]
    counts = dict.fromkeys(CRITERIA, 0)
    passed: list[OptionQuote] = []
    for q in side:
        why = _first_failure(q, now_ms, policy)
        if why is None:
            passed.append(q)
        else:
            counts[why] += 1
    chosen: Selection | None = None
    if passed:
        strike = np.array([q.strike for q in passed])
        mid = np.array([q.mid for q in passed])
        t = time_to_expiry_years(now_ms, np.array([q.settle_ms for q in passed]))
        iv = implied_vol(mid, spot, strike, t, call, rate)
        ok = np.isfinite(iv)
        counts["no_volatility"] += int((~ok).sum())
        if ok.any():
            sigma = np.where(ok, iv, 1.0)
            delta = bs_delta(spot, strike, t, sigma, call, rate)
            gamma = bs_gamma(spot, strike, t, sigma, rate)
            best: tuple[float, float, str, int] | None = None
            for i in np.flatnonzero(ok).tolist():
                key = (round(abs(abs(float(delta[i])) - policy.target_delta), 12),
                       float(mid[i]), passed[i].symbol, i)
                if best is None or key < best:
                    best = key
            assert best is not None
            i = best[3]
            chosen = Selection(quote=passed[i], delta=float(delta[i]), gamma=float(gamma[i]),
                               iv=float(iv[i]), considered=len(side))
    if chosen is not None:
        return chosen
    return NoContract(rejected={k: n for k, n in counts.items() if n}, considered=len(side))
