"""Fill models of the paper broker: at which price and size a quote fills a working order.

A quote is ``(bid, bid_size, ask, ask_size)``; a side is present when its price and size are
``> 0``, otherwise absent (Massive writes an absent side as ``0 × 0``: on 0DTE wings "no bid" is
the normal state for hours, ``spec/microbar.md`` revision 2026-12-06). A crossed quote (bid > ask)
never fills. Buys take the ask side, sells the bid side, so **a quote without a bid cannot fill a
sell** (the order keeps working) and one without an offer cannot fill a buy; the executable size
is the displayed size of that side (partial fills are bounded by it). Prices
are rounded to the tick (``tick`` dollars) away from the order's favour for ``touch_ticks``.
The price rule is core's :func:`spxcc_core.slippage.model.model_fill_price`, which
``spxcc slippage report`` also uses to predict the paper model's slippage.

Kinds:

- ``mid``: (bid + ask) / 2, needs both sides;
- ``touch``: ask for a buy, bid for a sell;
- ``touch_ticks``: touch worsened by ``ticks`` ticks (ask + k·tick for a buy, bid − k·tick for a
  sell, never below one tick).

Spread gate: with ``max_spread`` (dollars) and/or ``max_spread_pct`` (percent of mid) set, a
quote whose spread is wider refuses to fill (the order keeps working).
"""

from __future__ import annotations

import attrs

from spxcc_core.slippage.model import FillKind, model_fill_price

__all__ = ["FillKind", "FillModel", "QuoteState"]


@attrs.frozen
class QuoteState:
    """One symbol's quote in force. Units: prices in dollars, sizes in contracts."""

    ts_ns: int
    bid: float
    bid_size: float
    ask: float
    ask_size: float

    @property
    def two_sided(self) -> bool:
        """Both sides present (price and size > 0) and not crossed."""
        return (self.bid > 0 and self.bid_size > 0 and self.ask > 0 and self.ask_size > 0
                and self.bid <= self.ask)

    @property
    def mid(self) -> float | None:
        """(bid + ask) / 2 of a two-sided quote, else None."""
        return (self.bid + self.ask) / 2 if self.two_sided else None

    @property
    def has_bid(self) -> bool:
        """The bid side is present (price and size > 0)."""
        return self.bid > 0 and self.bid_size > 0

    @property
    def has_ask(self) -> bool:
        """The ask side is present (price and size > 0)."""
        return self.ask > 0 and self.ask_size > 0

    def mark(self, long: bool) -> float | None:
        """Mark price (dollars per share) of a long (``long``) or short position: the mid of a
        two-sided quote. On a one-sided quote, the side that closes the position: a long sells
        at the bid — with no bid it cannot be sold, so it is marked 0.0 —, a short buys back at
        the ask (None, no mark, when there is no offer). None on a crossed or empty quote."""
        if self.two_sided:
            return (self.bid + self.ask) / 2
        if self.has_bid and self.has_ask:  # crossed
            return None
        if long:
            if self.has_bid:
                return self.bid
            return 0.0 if self.has_ask else None
        return self.ask if self.has_ask else None


def _nonneg(instance: object, attribute: attrs.Attribute[float | None], value: float | None
            ) -> None:
    if value is not None and not value >= 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


@attrs.frozen
class FillModel:
    """How quotes fill orders (see the module docstring). ``latency_ns``: an order fills only
    on the quote in force at or after ``submit time + latency_ns``."""

    kind: FillKind = attrs.field(default="touch", validator=attrs.validators.in_(
        ("mid", "touch", "touch_ticks")))
    ticks: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    tick: float = attrs.field(default=0.05, validator=attrs.validators.gt(0))
    max_spread: float | None = attrs.field(default=None, validator=_nonneg)
    max_spread_pct: float | None = attrs.field(default=None, validator=_nonneg)
    latency_ns: int = attrs.field(default=0, validator=attrs.validators.ge(0))

    def refuses(self, q: QuoteState) -> str | None:
        """Why this quote cannot fill anything (gate reason), or None when it can."""
        if q.bid > 0 and q.ask > 0 and q.bid > q.ask:
            return "crossed quote"
        spread_gated = self.max_spread is not None or self.max_spread_pct is not None
        if self.kind == "mid" or spread_gated:
            if not q.two_sided:
                return "one-sided quote"
            spread = q.ask - q.bid
            if self.max_spread is not None and spread > self.max_spread + 1e-9:
                return f"spread {spread:.4g} > max {self.max_spread:g}"
            mid = (q.ask + q.bid) / 2
            if self.max_spread_pct is not None and spread / mid * 100 > self.max_spread_pct + 1e-9:
                return f"spread {spread / mid * 100:.4g}% > max {self.max_spread_pct:g}%"
        return None

    def price(self, buy: bool, q: QuoteState) -> float | None:
        """Executable price for a buy (``buy``) or a sell on quote ``q``; None when the side
        it needs is absent or the gate refuses."""
        if self.refuses(q) is not None:
            return None
        if buy and not q.has_ask:
            return None
        if not buy and not q.has_bid:  # a zero bid: nobody to sell to
            return None
        return model_fill_price(self.kind, buy, q.bid, q.ask, ticks=self.ticks, tick=self.tick)

    def size(self, buy: bool, q: QuoteState) -> float:
        """Displayed size available to a buy (ask size) or a sell (bid size), contracts."""
        return max(q.ask_size if buy else q.bid_size, 0.0)
