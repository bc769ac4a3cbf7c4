"""The paper fill model's price rule as a pure function, and the slippage it predicts.

The paper broker (``plugins/spxcc_paper/fill_model.py``) fills with this rule, and
``spxcc slippage report`` uses it to predict, for every measured fill, what the paper model
would have paid against the same arrival quote — core never imports the plugin.

Kinds (prices per share, a buy takes the ask side, a sell the bid side):

- ``mid``: ``(bid + ask) / 2``;
- ``touch``: the ask for a buy, the bid for a sell;
- ``touch_ticks``: the touch worsened by ``ticks × tick`` (a sell never below one ``tick``).

Prices are rounded to 4 decimals (no binary noise; option prices have at most 4).
"""

from __future__ import annotations

from typing import Final, Literal, get_args

from spxcc_core.contracts.slippage import SlippageRecord
from spxcc_core.slippage.ledger import MULTIPLIER, is_buy

__all__ = ["FILL_KINDS", "FillKind", "model_fill_price", "predicted_slippage_dollars"]

#: The paper fill model kinds.
FillKind = Literal["mid", "touch", "touch_ticks"]
FILL_KINDS: Final[tuple[str, ...]] = get_args(FillKind)


def model_fill_price(kind: FillKind, buy: bool, bid: float, ask: float, *, ticks: int = 0,
                     tick: float = 0.05) -> float:
    """The fill price of a buy (``buy``) or a sell under ``kind`` on a quote the model can fill
    (the side it needs is present; both sides for ``mid``)."""
    if kind == "mid":
        return round((bid + ask) / 2, 4)
    if kind == "touch":
        return ask if buy else bid
    k = ticks * tick
    return round(ask + k, 4) if buy else round(max(bid - k, tick), 4)


def predicted_slippage_dollars(record: SlippageRecord, kind: FillKind, *, ticks: int = 0,
                               tick: float = 0.05) -> float | None:
    """What the paper model would have paid against ``record``'s arrival quote, as slippage in
    dollars per contract (positive = cost); None when the model cannot fill that quote (a buy
    without an offer, a sell into a zero bid, ``mid`` on a one-sided quote)."""
    buy = is_buy(record.side)
    bid, ask = record.arrival_bid, record.arrival_ask
    if (buy and ask <= 0.0) or (not buy and bid <= 0.0) or (kind == "mid" and bid <= 0.0):
        return None
    price = model_fill_price(kind, buy, bid, ask, ticks=ticks, tick=tick)
    per_share = price - record.arrival_mid if buy else record.arrival_mid - price
    return round(per_share * MULTIPLIER, 9) + 0.0
