"""Buying-power-aware contract sizing for long option entries.

Contract (units: premiums in dollars per share of the option, i.e. quoted option prices;
money in account currency; the multiplier is 100)::

    contracts = floor(min(risk_budget / ((premium - stop_premium) * 100),
                          available_bp / (premium * 100 * (1 + buffer))))
    capped by max_contracts (when given)

Available buying power by account type (long options are paid in full):

- ``margin``: ``optionBuyingPower``;
- ``pdt``: the smaller of ``optionBuyingPower`` and ``dayTradeBuyingPower`` when the latter is
  present, else ``optionBuyingPower``;
- ``cash``: ``cashAvailable``.

A null (absent) buying-power value sizes to zero with a reason; a negative one counts as zero.
Arithmetic is exact (decimal representation of the inputs, rational division), so
``1000 / (2.0 * 100)`` is 5, never 4.999….

``limitedBy`` names the bound that produced the result: the smallest of the risk, buying-power
and max-contracts bounds, ties resolved in that order. ``reasons`` is empty when the result is
positive and lists every cause when it is zero.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from typing import Literal, Protocol

import msgspec

from spxcc_core.errors import InputError

__all__ = [
    "DEFAULT_BUFFER",
    "MULTIPLIER",
    "BuyingPowerSource",
    "SizingResult",
    "available_buying_power",
    "size_contracts",
]

#: Contract multiplier of SPX/SPXW options (dollars per point per contract).
MULTIPLIER = 100
#: Default safety buffer on the buying-power bound (5 %).
DEFAULT_BUFFER = 0.05

LimitedBy = Literal["risk", "buying_power", "max_contracts"]


class BuyingPowerSource(Protocol):
    """What sizing reads from a portfolio snapshot (``PortfolioSnapshot`` satisfies it)."""

    @property
    def account_type(self) -> str: ...
    @property
    def option_buying_power(self) -> float | None: ...
    @property
    def day_trade_buying_power(self) -> float | None: ...
    @property
    def cash_available(self) -> float | None: ...


class SizingResult(msgspec.Struct, kw_only=True, frozen=True, rename="camel"):
    """The sizing decision as printed by ``spxcc size``.

    ``contracts`` ≥ 0; ``limited_by`` ∈ ``risk`` | ``buying_power`` | ``max_contracts``;
    ``reasons`` explains a zero (empty when ``contracts`` > 0).
    """

    contracts: int
    limited_by: LimitedBy
    reasons: list[str] = msgspec.field(default_factory=list)


def _exact(value: float | int, name: str) -> Fraction:
    """The decimal value as written (``2.1`` is 21/10, not the binary float), as a Fraction."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(name, f"must be a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(name, f"must be finite, got {value!r}")
    return Fraction(Decimal(repr(value)) if isinstance(value, float) else Decimal(value))


def _money(x: Fraction) -> str:
    return f"{float(x):.2f}"


def available_buying_power(snapshot: BuyingPowerSource) -> tuple[float | None, str]:
    """The buying power long options may use, and the snapshot field(s) it came from.

    :returns: ``(value, source)``; value None when the relevant field is null.
    :raises InputError: an account type other than ``cash``, ``margin`` or ``pdt``.
    """
    kind = snapshot.account_type
    if kind == "margin":
        return snapshot.option_buying_power, "optionBuyingPower"
    if kind == "pdt":
        obp, dtbp = snapshot.option_buying_power, snapshot.day_trade_buying_power
        if dtbp is None:
            return obp, "optionBuyingPower"
        if obp is None:
            return None, "optionBuyingPower"
        return (min(obp, dtbp), "dayTradeBuyingPower" if dtbp < obp else "optionBuyingPower")
    if kind == "cash":
        return snapshot.cash_available, "cashAvailable"
    raise InputError("snapshot", f"accountType must be cash, margin or pdt, got {kind!r}")


def size_contracts(
    snapshot: BuyingPowerSource,
    *,
    premium: float,
    stop_premium: float,
    risk_budget: float,
    max_contracts: int | None = None,
    buffer: float = DEFAULT_BUFFER,
) -> SizingResult:
    """Size a long option entry against the risk budget and the snapshot's buying power.

    :param premium: entry premium per share (> 0, e.g. 3.20 → $320 per contract).
    :param stop_premium: premium at the stop (≥ 0); at or above ``premium`` sizes to zero.
    :param risk_budget: dollars at risk allowed for the whole position (≥ 0).
    :param max_contracts: hard cap (≥ 0), None for no cap.
    :param buffer: fraction added to the cost per contract for the buying-power bound, in [0, 1].
    :raises InputError: a parameter outside its range or an unknown account type.
    """
    p = _exact(premium, "--premium")
    s = _exact(stop_premium, "--stop-premium")
    budget = _exact(risk_budget, "--risk-budget")
    buf = _exact(buffer, "--buffer")
    if p <= 0:
        raise InputError("--premium", f"must be > 0, got {premium!r}")
    if s < 0:
        raise InputError("--stop-premium", f"must be >= 0, got {stop_premium!r}")
    if budget < 0:
        raise InputError("--risk-budget", f"must be >= 0, got {risk_budget!r}")
    if not 0 <= buf <= 1:
        raise InputError("--buffer", f"must be between 0 and 1, got {buffer!r}")
    if max_contracts is not None and (isinstance(max_contracts, bool)
                                      or not isinstance(max_contracts, int) or max_contracts < 0):
        raise InputError("--max-contracts", f"must be an integer >= 0, got {max_contracts!r}")

    reasons: list[str] = []
    # Risk bound.
    risk_per = (p - s) * MULTIPLIER
    if risk_per <= 0:
        risk_n = 0
        reasons.append(f"stop premium {float(s):g} >= premium {float(p):g}: no risk per contract "
                       "to size against")
    else:
        risk_n = math.floor(budget / risk_per)
        if risk_n == 0:
            reasons.append(f"risk budget {_money(budget)} < risk of one contract "
                           f"{_money(risk_per)}")
    # Buying-power bound.
    bp_value, source = available_buying_power(snapshot)
    cost_per = p * MULTIPLIER * (1 + buf)
    if bp_value is None:
        bp_n = 0
        reasons.append(f"buying power is null in the snapshot ({source}, accountType "
                       f"{snapshot.account_type})")
    else:
        bp = _exact(bp_value, f"snapshot {source}")
        if bp <= 0:
            bp_n = 0
            reasons.append(f"no buying power ({source} {_money(bp)})")
        else:
            bp_n = math.floor(bp / cost_per)
            if bp_n == 0:
                reasons.append(f"buying power {_money(bp)} ({source}) < cost of one contract "
                               f"with buffer {_money(cost_per)}")
    bounds: list[tuple[int, LimitedBy]] = [(risk_n, "risk"), (bp_n, "buying_power")]
    if max_contracts is not None:
        bounds.append((max_contracts, "max_contracts"))
        if max_contracts == 0:
            reasons.append("max contracts is 0")
    n, limited_by = min(bounds, key=lambda b: b[0])  # min keeps the first of equal bounds
    return SizingResult(contracts=n, limited_by=limited_by, reasons=reasons if n == 0 else [])
